/* Real pictures for tests: JPEGs encoded by GStreamer's own jpegenc, and decoding for checks. */
#pragma once

#include <gst/gst.h>

#include <string>
#include <vector>

namespace crtest {

struct JpegSpec
{
  int width = 640;
  int height = 480;
  int quality = 85;
  /* videotestsrc pattern nick: "snow" makes every frame distinct and large; "ball" makes distinct
   * frames of about 9 KB at VGA (above the legacy 5000-byte minimum); "solid-color" paints
   * @colour all over. */
  std::string pattern = "snow";
  /* jpegenc input format: I420 gives 4:2:0, Y42B 4:2:2, Y444 4:4:4, GRAY8 greyscale. */
  std::string format = "I420";
  /* 0xRRGGBB: videotestsrc's foreground-color (its default is white). */
  guint32 colour = 0xffffff;
};

/* Encodes @count frames; aborts the test binary if the pipeline fails. */
std::vector<std::vector<guint8>> make_jpegs (int count, const JpegSpec & spec = {});

/* One JPEG of a single colour (0xRRGGBB) at quality 90. Small: below the default min-size. */
std::vector<guint8> make_solid_jpeg (guint32 rgb, int width = 640, int height = 480);

/* One frame as a GstBuffer holding a copy of @bytes. */
GstBuffer *buffer_from (const std::vector<guint8> & bytes);

/* The bytes of @buf, for comparisons. */
std::vector<guint8> bytes_of (GstBuffer * buf);

/* Width and height from the frame's SOF segment; false if there is none. */
bool jpeg_dimensions (const std::vector<guint8> & jpeg, int *width, int *height);

/* Decodes a PNG or JPEG file to packed RGB (no row padding). */
bool decode_rgb (const std::string & path, std::vector<guint8> & rgb, int *width, int *height);

}  // namespace crtest
