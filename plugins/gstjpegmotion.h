/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegmotion, motion detection on JPEG frames, posted as element messages. */
#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define CR_TYPE_JPEG_MOTION (cr_jpeg_motion_get_type ())
G_DECLARE_FINAL_TYPE (CrJpegMotion, cr_jpeg_motion, CR, JPEG_MOTION, GstBaseSink)

G_END_DECLS
