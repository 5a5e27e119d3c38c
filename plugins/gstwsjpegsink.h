/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: wsjpegsink, JPEG frames pushed to a WebSocket server as a camera does. */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define CR_TYPE_WS_JPEG_SINK (cr_ws_jpeg_sink_get_type ())
G_DECLARE_FINAL_TYPE (CrWsJpegSink, cr_ws_jpeg_sink, CR, WS_JPEG_SINK, GstBaseSink)

G_END_DECLS
