/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the ready-time source (see crreadysource.h). */
#include "crreadysource.h"

namespace cr {

GSource *
ready_source_new (GSourceFunc callback, gpointer data, const char *name)
{
  static GSourceFuncs funcs = {
    nullptr,
    nullptr,
    [] (GSource *source, GSourceFunc cb, gpointer user_data) -> gboolean {
      g_source_set_ready_time (source, -1);
      return cb (user_data);
    },
    nullptr,
    nullptr,
    nullptr,
  };
  GSource *source = g_source_new (&funcs, sizeof (GSource));
  g_source_set_callback (source, callback, data, nullptr);
  g_source_set_name (source, name);
  return source;
}

}  // namespace cr
