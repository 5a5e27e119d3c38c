#include "testjpeg.h"

#include <gst/app/gstappsink.h>

#include <cstdio>
#include <cstdlib>

namespace crtest {

std::vector<std::vector<guint8>>
make_jpegs (int count, const JpegSpec & spec)
{
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc pattern=%s num-buffers=%d ! "
      "video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ! "
      "jpegenc quality=%d ! appsink name=out sync=false",
      spec.pattern.c_str (), count, spec.format.c_str (), spec.width,
      spec.height, spec.quality);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc, &error);
  if (!pipeline) {
    fprintf (stderr, "make_jpegs: %s: %s\n", desc, error->message);
    abort ();
  }
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  std::vector<std::vector<guint8>> frames;
  while (GstSample *sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) {
    frames.push_back (bytes_of (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if ((int) frames.size () != count) {
    fprintf (stderr, "make_jpegs: wanted %d frames, got %zu\n", count,
        frames.size ());
    abort ();
  }
  return frames;
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

}  // namespace crtest
