/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GoogleTest main for camrelay suites: GStreamer is initialised once, before any test. */
#include <gst/gst.h>
#include <gtest/gtest.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

int
main (int argc, char **argv)
{
#if defined(__SANITIZE_ADDRESS__)
  /* gst_init may scan every installed plugin in this process; third-party plugins keep
   * allocations for the life of the process. Only leaks of camrelay's own making should count. */
  __lsan_disable ();
#endif
  gst_init (&argc, &argv);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_enable ();
#endif
  ::testing::InitGoogleTest (&argc, argv);
  return RUN_ALL_TESTS ();
}
