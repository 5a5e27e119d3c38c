/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
std::vector<guint8> bytes_of (GstBuffer *buf);

/* Width and height from the frame's SOF segment; false if there is none. */
bool jpeg_dimensions (const std::vector<guint8> & jpeg, int *width, int *height);

/* Decodes a PNG or JPEG file to packed RGB (no row padding). */
bool decode_rgb (const std::string & path, std::vector<guint8> & rgb, int *width, int *height);

/* A picture encoded with libjpeg directly, for what jpegenc cannot be told to write. */
struct LibjpegSpec
{
  int width = 320;
  int height = 240;
  int quality = 85;
  /* 1 (grey) or 3 (YCbCr). */
  int components = 3;
  /* Luma sampling factors: 2x2 is 4:2:0, 2x1 4:2:2, 1x1 4:4:4. */
  int h_samp = 2;
  int v_samp = 2;
  bool progressive = false;
  /* MCUs between restart markers; 0 = none. */
  unsigned restart_interval = 0;
  /* JFIF APP0, which libjpeg writes by default; cameras with EXIF often have none. */
  bool jfif = true;
  /* Huffman tables computed for the picture instead of the standard ones of Annex K. */
  bool optimize = false;
  /* An APP1 "Exif" segment (a TIFF header with an Orientation tag) after SOI/APP0. */
  bool exif = false;
  /* An ICC profile of this many bytes, which libjpeg splits into APP2 segments of at most
   * 65519 bytes of profile each; 0 = none. */
  gsize icc_size = 0;
  /* The picture: a gradient with noise from this seed (more noise, bigger frames). */
  guint32 seed = 1;
  int noise = 40;
};

std::vector<guint8> encode_libjpeg (const LibjpegSpec & spec);

/* @pixels (packed, @spec.components bytes per pixel, @spec.width x @spec.height) as a JPEG with
 * @spec's settings; its picture fields are not used. */
std::vector<guint8> encode_pixels (const LibjpegSpec & spec, const std::vector<guint8> & pixels);

/* Decodes @jpeg with libjpeg to packed RGB (grey: one byte per pixel); false, with libjpeg's
 * message in @error, on an error or a corrupt-data warning. */
bool decode_libjpeg (const std::vector<guint8> & jpeg, std::vector<guint8> & pixels, int *width,
    int *height, std::string *error = nullptr);

/* @jpeg without any of its DHT segments: what UVC webcams send, relying on the standard tables. */
std::vector<guint8> without_huffman_tables (const std::vector<guint8> & jpeg);

}  // namespace crtest
