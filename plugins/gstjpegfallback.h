/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegfallback, a live JPEG stream with a placeholder picture for when it stalls. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define CR_TYPE_JPEG_FALLBACK (cr_jpeg_fallback_get_type ())
G_DECLARE_FINAL_TYPE (CrJpegFallback, cr_jpeg_fallback, CR, JPEG_FALLBACK, GstBin)

/**
 * CrJpegFallbackActive:
 * @CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER: the placeholder picture is being output
 * @CR_JPEG_FALLBACK_ACTIVE_LIVE: live frames are being passed through
 *
 * Which input jpegfallback currently outputs (its `active` property).
 */
typedef enum
{
  CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER = 0,
  CR_JPEG_FALLBACK_ACTIVE_LIVE = 1,
} CrJpegFallbackActive;

#define CR_TYPE_JPEG_FALLBACK_ACTIVE (cr_jpeg_fallback_active_get_type ())
GType cr_jpeg_fallback_active_get_type (void);

G_END_DECLS
