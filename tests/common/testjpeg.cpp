#include "testjpeg.h"

#include <gst/app/gstappsink.h>

#include <cstdio>
#include <cstdlib>

namespace crtest {

namespace {

/* Runs @desc (ending in "appsink name=out") until end of stream, @max buffers or a 20-second
 * silence; returns the buffers' bytes and the caps of the first. */
std::vector<std::vector<guint8>>
pull_all (const std::string & desc, guint max, GstCaps ** caps = nullptr)
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
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc pattern=%s foreground-color=0x%08x num-buffers=%d ! "
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ! "
      "jpegenc quality=%d ! appsink name=out sync=false",
      spec.pattern.c_str (), 0xff000000u | spec.colour, count, spec.format.c_str (),
      spec.width, spec.height, spec.quality);
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
bytes_of (GstBuffer * buf)
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
    bool sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 &&
        marker != 0xcc;
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
  std::string desc = std::string ("filesrc location=\"") + quoted + "\" ! decodebin ! "
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
    rgb.insert (rgb.end (), raw[0].begin () + y * stride, raw[0].begin () + y * stride +
        *width * 3);
  return true;
}

}  // namespace crtest
