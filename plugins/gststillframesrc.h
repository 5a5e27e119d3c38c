/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stillframesrc, one tiny raw still frame pushed downstream when asked. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_STILL_FRAME_SRC (cr_still_frame_src_get_type ())
G_DECLARE_FINAL_TYPE (CrStillFrameSrc, cr_still_frame_src, CR, STILL_FRAME_SRC, GstElement)

/* Pushes a new stream (stream-start, caps, segment) holding one 1x1 GRAY8 frame, from the calling
 * thread. Returns what downstream answered. */
GstFlowReturn cr_still_frame_src_push (CrStillFrameSrc *self);

G_END_DECLS
