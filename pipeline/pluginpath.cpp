/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the GST_PLUGIN_PATH a printed gst-launch-1.0 line needs, from where this
 * process's GStreamer registry found the camrelay plugin. */
#include "pluginpath.h"

#include "abspath.h"
#include "elementfields.h"

#include <gst/gst.h>

namespace camrelay {

static std::string
plugin_dir_of (const char *feature)
{
  g_autoptr (GstPluginFeature) f = gst_registry_lookup_feature (gst_registry_get (), feature);
  if (!f)
    return "";
  g_autoptr (GstPlugin) plugin = gst_plugin_feature_get_plugin (f);
  if (!plugin || !gst_plugin_get_filename (plugin))
    return "";
  g_autofree gchar *dir = g_path_get_dirname (gst_plugin_get_filename (plugin));
  return dir;
}

/* gst-launch-1.0 in a fresh shell finds GStreamer's own plugins, and ours only if it lives beside
 * them or GST_PLUGIN_PATH says where. */
std::string
plugin_path_for_command ()
{
  std::string ours = plugin_dir_of (elements::WSJPEGSRC);
  if (ours.empty () || ours == plugin_dir_of ("fakesink"))
    return "";
  const char *env = g_getenv ("GST_PLUGIN_PATH");
  if (env) {
    g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
    for (gchar **d = dirs; *d; d++) {
      if (**d && absolute_path (*d) == ours)
        return env;
    }
  }
  return ours;
}

}  // namespace camrelay
