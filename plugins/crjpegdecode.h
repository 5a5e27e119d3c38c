/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: decodes one JPEG image in memory with libjpeg, to tell whether it decodes cleanly.
 *
 * libjpeg reports an error by calling a function that must not return; this module is the one
 * place in camrelay that catches it (setjmp/longjmp), and it treats the corrupt-data warnings
 * libjpeg patches over as errors too, since a viewer would see the patched-up picture. Used by
 * jpegvalidate's decode-check for every frame, by jpegfallback for its placeholder file and by
 * jpegmotion (at 1/8 scale).
 */
#pragma once

#include <glib.h>

#include <csetjmp>
#include <cstdio>
#include <vector>

#include <jpeglib.h>

namespace cr {

/* One decompressor, kept and reused across images. Not thread-safe: one thread at a time. */
class JpegDecoder
{
public:
  JpegDecoder () = default;
  JpegDecoder (const JpegDecoder &) = delete;
  JpegDecoder & operator= (const JpegDecoder &) = delete;
  ~JpegDecoder ();

  /* Decodes all of @data (the pixels are thrown away). On failure, writes libjpeg's message to
   * @detail. */
  bool decode (const guint8 *data, gsize size, char *detail, gsize detail_size);

  /* Decodes @data at 1/8 scale to greyscale (libjpeg's DCT scaling: the inverse DCT keeps only
   * each block's average, no colour conversion, no upsampling), a 640x480 frame to 80x60 at a
   * fraction of a full decode's cost (motion detection). @pixels gets @width x @height bytes, no
   * row padding; @full_width, @full_height get the picture's own size. */
  bool decode_gray_eighth (const guint8 *data, gsize size, std::vector<guint8> & pixels,
      guint *width, guint *height, guint *full_width, guint *full_height, char *detail,
      gsize detail_size);

private:
  struct ErrorManager
  {
    jpeg_error_mgr pub;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
  };

  static void error_exit (j_common_ptr cinfo);
  static void emit_message (j_common_ptr cinfo, int msg_level);
  static void output_message (j_common_ptr) {}
  static bool is_corrupt_data_warning (int msg_code);

  void create ();
  /* One decode, libjpeg's errors caught: @setup (jpeg_decompress_struct &) chooses the output
   * once the header is read, @read takes the scanlines once decompression has started. */
  template<typename Setup, typename Read>
  bool run (const guint8 *data, gsize size, char *detail, gsize detail_size, Setup setup,
      Read read);

  jpeg_decompress_struct cinfo_{};
  ErrorManager err_{};
  bool created_ = false;
};

}  // namespace cr
