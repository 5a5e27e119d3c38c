/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounded waits for tests: poll a condition until it holds or a deadline passes. */
#pragma once

#include <glib.h>

namespace crtest {

/* Polls @done every 20 ms until it holds (true) or @timeout_ms pass (false). */
template<typename F>
bool
wait_until (F done, int timeout_ms = 15000)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  while (!done ()) {
    if (g_get_monotonic_time () >= deadline)
      return false;
    g_usleep (20000);
  }
  return true;
}

/* Runs @context (a client's private main context) until @done holds (true) or @timeout_ms pass
 * (false). */
template<typename F>
bool
iterate_until (GMainContext *context, F done, int timeout_ms = 5000)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  while (!done ()) {
    if (g_get_monotonic_time () > deadline)
      return false;
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (500);
  }
  return true;
}

}  // namespace crtest
