/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stillframesrc, one tiny raw still frame, sent when the element starts playing. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_STILL_FRAME_SRC (cr_still_frame_src_get_type ())
G_DECLARE_FINAL_TYPE (CrStillFrameSrc, cr_still_frame_src, CR, STILL_FRAME_SRC, GstElement)

G_END_DECLS
