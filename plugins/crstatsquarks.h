/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The name and field names of an element's "stats" structure as quarks, interned once.
 *
 * An application polling "stats" of thousands of elements (camrelay's /status and /metrics read
 * five per camera) made gst_structure_new() intern every field name again on each read: a hash of
 * the string and a lookup under GLib's quark lock per field, about a third of the read. Built with
 * gst_structure_new_id() and these quarks instead, the structure is the same, field for field and
 * in the same order.
 *
 *   enum { CONNECTIONS, PEER, N_FIELDS };
 *   static const cr::StatsQuarks<N_FIELDS> q ("wsjpegsrc-stats", { "connections", "peer" });
 *   return gst_structure_new_id (q.name, q[CONNECTIONS], G_TYPE_UINT64, n, q[PEER], G_TYPE_STRING,
 *       peer, nullptr);
 *
 * A function-local static: made on the first read, thread-safe (C++ static initialisation). */
#pragma once

#include <glib.h>

#include <array>

namespace cr {

template<gsize N> struct StatsQuarks
{
  StatsQuarks (const char *structure, const std::array<const char *, N> & fields)
    : name (g_quark_from_static_string (structure))
  {
    for (gsize i = 0; i < N; i++)
      field[i] = g_quark_from_static_string (fields[i]);
  }
  GQuark operator[] (gsize i) const { return field[i]; }

  GQuark name;
  std::array<GQuark, N> field{};
};

}  // namespace cr
