/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stilljpeg, the same JPEG picture for every frame that comes in. */
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_STILL_JPEG (cr_still_jpeg_get_type ())
G_DECLARE_FINAL_TYPE (CrStillJpeg, cr_still_jpeg, CR, STILL_JPEG, GstBaseTransform)

/* The "push-picture" action: the picture once, stamped @pts, from the calling thread (see the
 * element's description). Returns what downstream answered. */
GstFlowReturn cr_still_jpeg_push_picture (CrStillJpeg *self, GstClockTime pts);

G_END_DECLS
