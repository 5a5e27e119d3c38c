/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a GSource that fires once each time its ready time is set (0 = now), the cheapest way
 * for any thread to wake a context or for one thread to arm a timer again and again, with no
 * allocation per wake-up. */
#pragma once

#include <glib.h>

namespace cr {

/* A new source (not attached) that calls @callback with @data once per g_source_set_ready_time();
 * the ready time is cleared before the call, so the callback may set it again. */
GSource *ready_source_new (GSourceFunc callback, gpointer data, const char *name);

}  // namespace cr
