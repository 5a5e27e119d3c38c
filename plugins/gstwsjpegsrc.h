/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: wsjpegsrc, JPEG frames from WebSocket cameras. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_WS_JPEG_SRC (cr_ws_jpeg_src_get_type ())
G_DECLARE_FINAL_TYPE (CrWsJpegSrc, cr_ws_jpeg_src, CR, WS_JPEG_SRC, GstBin)

G_END_DECLS
