/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testjpeg.h"

#include <gst/app/gstappsink.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>

namespace crtest {

namespace {

/* Runs @desc (ending in "appsink name=out") until end of stream, @max buffers or a 20-second
 * silence; returns the buffers' bytes and the caps of the first. */
std::vector<std::vector<guint8>>
pull_all (const std::string & desc, guint max, GstCaps **caps = nullptr)
{
  std::vector<std::vector<guint8>> out;
  g_autoptr (GError) error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc.c_str (), &error);
  if (!pipeline) {
    fprintf (stderr, "%s: %s\n", desc.c_str (), error->message);
    return out;
  }
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (out.size () < max) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 20 * GST_SECOND);
    if (!sample)
      break;
    out.push_back (bytes_of (gst_sample_get_buffer (sample)));
    if (caps && !*caps)
      *caps = gst_caps_ref (gst_sample_get_caps (sample));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return out;
}

}  // namespace

std::vector<std::vector<guint8>>
make_jpegs (int count, const JpegSpec & spec)
{
  g_autofree gchar *desc =
      g_strdup_printf ("videotestsrc pattern=%s foreground-color=0x%08x num-buffers=%d ! "
                       "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ! "
                       "jpegenc quality=%d ! appsink name=out sync=false",
          spec.pattern.c_str (), 0xff000000u | spec.colour, count, spec.format.c_str (), spec.width,
          spec.height, spec.quality);
  auto frames = pull_all (desc, count);
  if ((int) frames.size () != count) {
    fprintf (stderr, "make_jpegs: %s: wanted %d frames, got %zu\n", desc, count, frames.size ());
    abort ();
  }
  return frames;
}

std::vector<guint8>
make_solid_jpeg (guint32 rgb, int width, int height)
{
  JpegSpec spec;
  spec.width = width;
  spec.height = height;
  spec.quality = 90;
  spec.pattern = "solid-color";
  spec.colour = rgb;
  return make_jpegs (1, spec)[0];
}

GstBuffer *
buffer_from (const std::vector<guint8> & bytes)
{
  return gst_buffer_new_memdup (bytes.data (), bytes.size ());
}

std::vector<guint8>
bytes_of (GstBuffer *buf)
{
  std::vector<guint8> out (gst_buffer_get_size (buf));
  gst_buffer_extract (buf, 0, out.data (), out.size ());
  return out;
}

bool
jpeg_dimensions (const std::vector<guint8> & j, int *width, int *height)
{
  if (j.size () < 4 || j[0] != 0xff || j[1] != 0xd8)
    return false;
  gsize pos = 2;
  while (pos + 4 <= j.size ()) {
    if (j[pos] != 0xff)
      return false;
    guint8 marker = j[pos + 1];
    gsize len = (j[pos + 2] << 8) | j[pos + 3];
    bool sof =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (sof && pos + 9 <= j.size ()) {
      *height = (j[pos + 5] << 8) | j[pos + 6];
      *width = (j[pos + 7] << 8) | j[pos + 8];
      return true;
    }
    pos += 2 + len;
  }
  return false;
}

bool
decode_rgb (const std::string & path, std::vector<guint8> & rgb, int *width, int *height)
{
  g_autofree gchar *quoted = g_strescape (path.c_str (), nullptr);
  std::string desc = std::string ("filesrc location=\"") + quoted +
      "\" ! decodebin ! "
      "videoconvert ! video/x-raw,format=RGB ! appsink name=out sync=false";
  GstCaps *caps = nullptr;
  auto raw = pull_all (desc, 1, &caps);
  if (raw.empty () || !caps)
    return false;
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "width", width);
  gst_structure_get_int (s, "height", height);
  gst_caps_unref (caps);
  gsize stride = GST_ROUND_UP_4 (*width * 3);
  if (raw[0].size () < stride * *height)
    return false;
  rgb.clear ();
  for (int y = 0; y < *height; y++)
    rgb.insert (rgb.end (), raw[0].begin () + y * stride,
        raw[0].begin () + y * stride + *width * 3);
  return true;
}

namespace {

struct ErrorTrap
{
  jpeg_error_mgr pub;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
};

void
trap_error (j_common_ptr cinfo)
{
  auto *trap = reinterpret_cast<ErrorTrap *> (cinfo->err);
  cinfo->err->format_message (cinfo, trap->message);
  longjmp (trap->escape, 1);
}

/* Warnings (level -1) are corrupt data: a test decode must not pass them. */
void
trap_warning (j_common_ptr cinfo, int level)
{
  if (level < 0)
    trap_error (cinfo);
}

void
quiet (j_common_ptr)
{}

/* Writes @pixels (packed, @components per pixel) as a JPEG; false on a libjpeg error. Nothing
 * with a destructor lives here: longjmp would skip it. */
bool
compress (const LibjpegSpec & spec, const guint8 *pixels, const guint8 *icc, unsigned char **out,
    unsigned long *out_size)
{
  jpeg_compress_struct cinfo;
  ErrorTrap trap;
  JSAMPROW row;

  cinfo.err = jpeg_std_error (&trap.pub);
  trap.pub.error_exit = trap_error;
  trap.pub.output_message = quiet;
  if (setjmp (trap.escape)) {
    fprintf (stderr, "encode_libjpeg: %s\n", trap.message);
    jpeg_destroy_compress (&cinfo);
    return false;
  }
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, out, out_size);
  cinfo.image_width = spec.width;
  cinfo.image_height = spec.height;
  cinfo.input_components = spec.components;
  cinfo.in_color_space = spec.components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, spec.quality, TRUE);
  cinfo.comp_info[0].h_samp_factor = spec.h_samp;
  cinfo.comp_info[0].v_samp_factor = spec.v_samp;
  cinfo.optimize_coding = spec.optimize;
  cinfo.restart_interval = spec.restart_interval;
  cinfo.write_JFIF_header = spec.jfif;
  if (spec.progressive)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  if (spec.exif) {
    /* "Exif\0\0", a little-endian TIFF header, one IFD: Orientation = 1 (top left). */
    static const JOCTET exif[] = {
      'E',
      'x',
      'i',
      'f',
      0,
      0,
      'I',
      'I',
      0x2a,
      0,
      8,
      0,
      0,
      0,
      1,
      0,
      0x12,
      0x01,
      3,
      0,
      1,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    };
    jpeg_write_marker (&cinfo, JPEG_APP0 + 1, exif, sizeof (exif));
  }
  if (spec.icc_size)
    jpeg_write_icc_profile (&cinfo, icc, spec.icc_size);
  while (cinfo.next_scanline < cinfo.image_height) {
    row = const_cast<guint8 *> (pixels) + cinfo.next_scanline * spec.width * spec.components;
    jpeg_write_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  return true;
}

bool
decompress (const std::vector<guint8> & jpeg, guint8 **pixels, int *width, int *height,
    int *components, char *error, gsize error_size)
{
  jpeg_decompress_struct cinfo;
  ErrorTrap trap;
  JSAMPROW row;

  *pixels = nullptr;
  cinfo.err = jpeg_std_error (&trap.pub);
  trap.pub.error_exit = trap_error;
  trap.pub.emit_message = trap_warning;
  trap.pub.output_message = quiet;
  if (setjmp (trap.escape)) {
    g_strlcpy (error, trap.message, error_size);
    jpeg_destroy_decompress (&cinfo);
    g_clear_pointer (pixels, g_free);
    return false;
  }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, jpeg.data (), jpeg.size ());
  jpeg_read_header (&cinfo, TRUE);
  if (cinfo.num_components == 3)
    cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress (&cinfo);
  *width = cinfo.output_width;
  *height = cinfo.output_height;
  *components = cinfo.output_components;
  const gsize stride = gsize (cinfo.output_width) * cinfo.output_components;
  *pixels = static_cast<guint8 *> (g_malloc (stride * cinfo.output_height));
  while (cinfo.output_scanline < cinfo.output_height) {
    row = *pixels + cinfo.output_scanline * stride;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  return true;
}

}  // namespace

std::vector<guint8>
encode_pixels (const LibjpegSpec & spec, const std::vector<guint8> & pixels)
{
  unsigned char *out = nullptr;
  unsigned long size = 0;
  if (!compress (spec, pixels.data (), nullptr, &out, &size))
    abort ();
  std::vector<guint8> jpeg (out, out + size);
  free (out);
  return jpeg;
}

std::vector<guint8>
encode_libjpeg (const LibjpegSpec & spec)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (spec.seed);
  std::vector<guint8> pixels (gsize (spec.width) * spec.height * spec.components);
  for (int y = 0; y < spec.height; y++) {
    for (int x = 0; x < spec.width; x++) {
      for (int c = 0; c < spec.components; c++) {
        int v =
            (x * 255 / MAX (spec.width - 1, 1) + y * (c + 1) * 97 / MAX (spec.height, 1) + c * 60) %
            256;
        if (spec.noise)
          v += g_rand_int_range (rand, -spec.noise, spec.noise + 1);
        pixels[(gsize (y) * spec.width + x) * spec.components + c] = CLAMP (v, 0, 255);
      }
    }
  }
  std::vector<guint8> icc (spec.icc_size);
  for (auto & b : icc)
    b = g_rand_int_range (rand, 0, 256);

  unsigned char *out = nullptr;
  unsigned long size = 0;
  if (!compress (spec, pixels.data (), icc.data (), &out, &size))
    abort ();
  std::vector<guint8> jpeg (out, out + size);
  free (out);
  return jpeg;
}

bool
decode_libjpeg (const std::vector<guint8> & jpeg, std::vector<guint8> & pixels, int *width,
    int *height, std::string *error)
{
  guint8 *data = nullptr;
  int components = 0;
  char message[JMSG_LENGTH_MAX] = "";
  if (!decompress (jpeg, &data, width, height, &components, message, sizeof (message))) {
    if (error)
      *error = message;
    return false;
  }
  pixels.assign (data, data + gsize (*width) * *height * components);
  g_free (data);
  return true;
}

std::vector<guint8>
without_huffman_tables (const std::vector<guint8> & j)
{
  std::vector<guint8> out (j.begin (), j.begin () + 2);
  gsize pos = 2;
  while (pos + 4 <= j.size () && j[pos] == 0xff && j[pos + 1] != 0xda) {
    const gsize len = (j[pos + 2] << 8) | j[pos + 3];
    if (j[pos + 1] != 0xc4)
      out.insert (out.end (), j.begin () + pos, j.begin () + pos + 2 + len);
    pos += 2 + len;
  }
  out.insert (out.end (), j.begin () + pos, j.end ());
  return out;
}

}  // namespace crtest
