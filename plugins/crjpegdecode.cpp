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

/* Nothing with a destructor may live in this function, nor in @setup and @read: longjmp skips
 * them. */
template<typename Setup, typename Read>
bool
JpegDecoder::run (const guint8 *data, gsize size, char *detail, gsize detail_size, Setup setup,
    Read read)
{
  if (setjmp (err_.escape)) {
    if (created_)
      jpeg_abort_decompress (&cinfo_);
    g_strlcpy (detail, err_.message, detail_size);
    return false;
  }
  create ();
  jpeg_mem_src (&cinfo_, data, size);
  jpeg_read_header (&cinfo_, TRUE);
  setup (cinfo_);
  /* Speed over fidelity (no smoothing, the fast integer DCT): the entropy decoder, where
   * corruption shows, runs in full either way. */
  cinfo_.dct_method = JDCT_IFAST;
  cinfo_.do_fancy_upsampling = FALSE;
  cinfo_.do_block_smoothing = FALSE;
  jpeg_start_decompress (&cinfo_);
  read (cinfo_);
  /* Reads up to EOI, which reports data left over after the last scan. */
  jpeg_finish_decompress (&cinfo_);
  return true;
}

bool
JpegDecoder::decode (const guint8 *data, gsize size, char *detail, gsize detail_size)
{
  return run (
      data, size, detail, detail_size,
      [] (jpeg_decompress_struct & c) {
        /* Only errors matter, not pixels: no colour conversion. */
        c.out_color_space = c.jpeg_color_space;
      },
      [] (jpeg_decompress_struct & c) {
        /* One scratch row from libjpeg's per-image pool, freed when the image is finished or
         * aborted. */
        JSAMPARRAY row = c.mem->alloc_sarray (reinterpret_cast<j_common_ptr> (&c), JPOOL_IMAGE,
            c.output_width * c.output_components, 1);
        while (c.output_scanline < c.output_height)
          jpeg_read_scanlines (&c, row, 1);
      });
}

bool
JpegDecoder::decode_gray_eighth (const guint8 *data, gsize size, std::vector<guint8> & pixels,
    guint *width, guint *height, guint *full_width, guint *full_height, char *detail,
    gsize detail_size)
{
  /* @pixels is the caller's: it outlives a longjmp. */
  return run (
      data, size, detail, detail_size,
      [] (jpeg_decompress_struct & c) {
        c.scale_num = 1;
        c.scale_denom = 8;
        c.out_color_space = JCS_GRAYSCALE;
      },
      [&] (jpeg_decompress_struct & c) {
        *width = c.output_width;
        *height = c.output_height;
        *full_width = c.image_width;
        *full_height = c.image_height;
        pixels.resize (static_cast<gsize> (*width) * *height);
        while (c.output_scanline < c.output_height) {
          JSAMPROW row = pixels.data () + static_cast<gsize> (c.output_scanline) * *width;
          jpeg_read_scanlines (&c, &row, 1);
        }
      });
}

}  // namespace cr
