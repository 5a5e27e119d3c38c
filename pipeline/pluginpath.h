/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: where a printed gst-launch-1.0 line must look for the camrelay plugin. */
#pragma once

#include <string>

namespace camrelay {

/* The GST_PLUGIN_PATH a gst-launch-1.0 line needs to find the elements this process found, or ""
 * when GStreamer finds them by itself (the plugin is installed beside GStreamer's own). */
std::string plugin_path_for_command ();

}  // namespace camrelay
