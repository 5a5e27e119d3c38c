/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stilljpeg, the same JPEG picture for every frame that comes in. */
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_STILL_JPEG (cr_still_jpeg_get_type ())
G_DECLARE_FINAL_TYPE (CrStillJpeg, cr_still_jpeg, CR, STILL_JPEG, GstBaseTransform)

/* Sets the picture output for every incoming frame: @data (@size bytes, a whole JPEG of @width x
 * @height) stays alive as long as @owner, which is referenced; output at @fps frames per second.
 * Call before the element starts (READY or below). */
void cr_still_jpeg_set_picture (CrStillJpeg *self, GstBuffer *owner, const guint8 *data, gsize size,
    guint width, guint height, guint fps);

/* The caps the picture goes out with (transfer full), or nullptr before a picture is set. */
GstCaps *cr_still_jpeg_get_caps (CrStillJpeg *self);

/* An output frame over the picture's bytes, without timestamps (transfer full), or nullptr before
 * a picture is set. */
GstBuffer *cr_still_jpeg_make_frame (CrStillJpeg *self);

G_END_DECLS
