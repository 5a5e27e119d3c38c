/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: pulljpegsrc, JPEG frames pulled from a camera's URL (HTTP MJPEG or snapshot, RTSP,
 * V4L2), reconnecting by itself. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_PULL_JPEG_SRC (cr_pull_jpeg_src_get_type ())
G_DECLARE_FINAL_TYPE (CrPullJpegSrc, cr_pull_jpeg_src, CR, PULL_JPEG_SRC, GstBin)

G_END_DECLS
