/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: h264relaysink, a camera's JPEG frames as H.264, encoded once and only while watched. */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define CR_TYPE_H264_RELAY_SINK (cr_h264_relay_sink_get_type ())
G_DECLARE_FINAL_TYPE (CrH264RelaySink, cr_h264_relay_sink, CR, H264_RELAY_SINK, GstBaseSink)

G_END_DECLS
