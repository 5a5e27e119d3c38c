/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegvalidate, drops every buffer that is not one complete JPEG. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_JPEG_VALIDATE (cr_jpeg_validate_get_type ())
G_DECLARE_FINAL_TYPE (CrJpegValidate, cr_jpeg_validate, CR, JPEG_VALIDATE, GstBin)

G_END_DECLS
