/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: mjpeghttpsink, serves an MJPEG stream to HTTP viewers. */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define CR_TYPE_MJPEG_HTTP_SINK (cr_mjpeg_http_sink_get_type ())
G_DECLARE_FINAL_TYPE (CrMjpegHttpSink, cr_mjpeg_http_sink, CR, MJPEG_HTTP_SINK, GstBaseSink)

G_END_DECLS
