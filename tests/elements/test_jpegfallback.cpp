/* STUB: replaced by the real suite. */
#include <gtest/gtest.h>
#include <gst/gst.h>
TEST (jpegfallback, Exists)
{
  GstElement *e = gst_element_factory_make ("jpegfallback", nullptr);
  ASSERT_NE (e, nullptr);
  gst_object_unref (e);
}
