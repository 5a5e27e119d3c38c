/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: decodes one JPEG image in memory with libjpeg (see crjpegdecode.h). */
#include "crjpegdecode.h"

#include <jerror.h>

/* Caps what libjpeg may allocate for one decode: a progressive image keeps all its coefficients,
 * 2 bytes per sample (8192x8192 4:2:0 needs 192 MiB). Beyond it the decode fails ("Backing store
 * not supported"). */
#define DECODE_MAX_MEMORY (256 * 1024 * 1024)

namespace cr {

JpegDecoder::~JpegDecoder ()
{
  if (created_)
    jpeg_destroy_decompress (&cinfo_);
}

void
JpegDecoder::error_exit (j_common_ptr cinfo)
{
  auto *err = reinterpret_cast<ErrorManager *> (cinfo->err);

  cinfo->err->format_message (cinfo, err->message);
  longjmp (err->escape, 1);
}

bool
JpegDecoder::is_corrupt_data_warning (int msg_code)
{
  /* Not JWRN_JFIF_MAJOR, JWRN_ADOBE_XFORM, JWRN_BOGUS_ICC: metadata oddities
   * that do not change the picture. */
  switch (msg_code) {
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
      return true;
    default:
      return false;
  }
}

/* Level -1 is a warning: libjpeg's way to say "corrupt data, I patched it
 * up". A viewer would show the patched-up picture, so stop right there. */
void
JpegDecoder::emit_message (j_common_ptr cinfo, int msg_level)
{
  if (msg_level < 0 && is_corrupt_data_warning (cinfo->err->msg_code))
    error_exit (cinfo);
}

void
JpegDecoder::create ()
{
  if (created_)
    return;
  cinfo_.err = jpeg_std_error (&err_.pub);
  err_.pub.error_exit = error_exit;
  err_.pub.emit_message = emit_message;
  err_.pub.output_message = output_message;
  jpeg_create_decompress (&cinfo_);
  cinfo_.mem->max_memory_to_use = DECODE_MAX_MEMORY;
  created_ = true;
}

bool
JpegDecoder::decode (const guint8 *data, gsize size, char *detail, gsize detail_size)
{
  /* Nothing with a destructor may live in this function: longjmp skips
   * them. */
  if (setjmp (err_.escape)) {
    if (created_)
      jpeg_abort_decompress (&cinfo_);
    g_strlcpy (detail, err_.message, detail_size);
    return false;
  }

  create ();
  jpeg_mem_src (&cinfo_, data, size);
  jpeg_read_header (&cinfo_, TRUE);
  /* Only errors matter, not pixels: skip colour conversion and smoothing.
   * The entropy decoder, where corruption shows, runs in full either way. */
  cinfo_.out_color_space = cinfo_.jpeg_color_space;
  cinfo_.dct_method = JDCT_IFAST;
  cinfo_.do_fancy_upsampling = FALSE;
  cinfo_.do_block_smoothing = FALSE;
  jpeg_start_decompress (&cinfo_);

  /* One scratch row from libjpeg's per-image pool, freed when the image is
   * finished or aborted. */
  JSAMPARRAY row = cinfo_.mem->alloc_sarray (reinterpret_cast<j_common_ptr> (&cinfo_), JPOOL_IMAGE,
      cinfo_.output_width * cinfo_.output_components, 1);
  while (cinfo_.output_scanline < cinfo_.output_height)
    jpeg_read_scanlines (&cinfo_, row, 1);
  /* Reads up to EOI, which reports data left over after the last scan. */
  jpeg_finish_decompress (&cinfo_);
  return true;
}

bool
JpegDecoder::decode_gray_eighth (const guint8 *data, gsize size, std::vector<guint8> & pixels,
    guint *width, guint *height, guint *full_width, guint *full_height, char *detail,
    gsize detail_size)
{
  /* Nothing with a destructor may live in this function: longjmp skips them. @pixels is the
   * caller's. */
  if (setjmp (err_.escape)) {
    if (created_)
      jpeg_abort_decompress (&cinfo_);
    g_strlcpy (detail, err_.message, detail_size);
    return false;
  }
  create ();
  jpeg_mem_src (&cinfo_, data, size);
  jpeg_read_header (&cinfo_, TRUE);
  cinfo_.scale_num = 1;
  cinfo_.scale_denom = 8;
  cinfo_.out_color_space = JCS_GRAYSCALE;
  cinfo_.dct_method = JDCT_IFAST;
  cinfo_.do_fancy_upsampling = FALSE;
  cinfo_.do_block_smoothing = FALSE;
  jpeg_start_decompress (&cinfo_);
  *width = cinfo_.output_width;
  *height = cinfo_.output_height;
  *full_width = cinfo_.image_width;
  *full_height = cinfo_.image_height;
  pixels.resize (static_cast<gsize> (*width) * *height);
  while (cinfo_.output_scanline < cinfo_.output_height) {
    JSAMPROW row = pixels.data () + static_cast<gsize> (cinfo_.output_scanline) * *width;
    jpeg_read_scanlines (&cinfo_, &row, 1);
  }
  jpeg_finish_decompress (&cinfo_);
  return true;
}

}  // namespace cr
