/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: relay JPEG frames from WebSocket cameras to MJPEG viewers.
 *
 * One plugin, eleven elements:
 *   wsjpegsrc ! jpegvalidate ! jpegfallback placeholder=placeholder.jpg ! multipartmux !
 * mjpeghttpsink
 *   ... ! jpegenc ! wsjpegsink location=ws://relay:3001/ws/NAME
 *   pulljpegsrc location=http://camera/stream ! jpegvalidate ! ...
 *   ... ! jpegvalidate ! tee ! queue leaky=downstream ! jpegrecordsink location=recordings/NAME
 *   ... ! jpegfallback ! tee name=t ! queue ! multipartmux ! mjpeghttpsink t. ! h264relaysink
 *   ... ! jpegvalidate ! tee ! jpegmotion camera=NAME
 *   stillframesrc ! imagefreeze is-live=true ! stilljpeg location=placeholder.jpg ! ...
 *     (jpegfallback's placeholder branch)
 */
#include "gstcamrelayelements.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = FALSE;

  ok |= GST_ELEMENT_REGISTER (wsjpegsrc, plugin);
  ok |= GST_ELEMENT_REGISTER (jpegvalidate, plugin);
  ok |= GST_ELEMENT_REGISTER (jpegfallback, plugin);
  ok |= GST_ELEMENT_REGISTER (mjpeghttpsink, plugin);
  ok |= GST_ELEMENT_REGISTER (wsjpegsink, plugin);
  ok |= GST_ELEMENT_REGISTER (pulljpegsrc, plugin);
  ok |= GST_ELEMENT_REGISTER (jpegrecordsink, plugin);
  ok |= GST_ELEMENT_REGISTER (h264relaysink, plugin);
  ok |= GST_ELEMENT_REGISTER (jpegmotion, plugin);
  ok |= GST_ELEMENT_REGISTER (stillframesrc, plugin);
  ok |= GST_ELEMENT_REGISTER (stilljpeg, plugin);

  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, camrelay,
    "Relay JPEG frames from WebSocket cameras to MJPEG (multipart/x-mixed-replace) viewers",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
