/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* h264relaysink, driven by GstHarness: JPEG frames in, H.264 access units out to consumers
 * subscribed through crh264feed.h, decoded back with GStreamer's avdec_h264 (gstreamer1.0-libav)
 * to check the picture. */
#include "crh264feed.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace {

using Bytes = std::vector<guint8>;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* The NAL unit types of an Annex B access unit, in order. */
std::vector<int>
nal_types (GstBuffer *au)
{
  std::vector<int> types;
  GstMapInfo map;
  if (!gst_buffer_map (au, &map, GST_MAP_READ))
    return types;
  for (gsize i = 0; i + 3 < map.size; i++) {
    if (map.data[i] == 0 && map.data[i + 1] == 0 && map.data[i + 2] == 1) {
      types.push_back (map.data[i + 3] & 0x1f);
      i += 3;
    }
  }
  gst_buffer_unmap (au, &map);
  return types;
}

bool
has_nal (GstBuffer *au, int type)
{
  auto t = nal_types (au);
  return std::find (t.begin (), t.end (), type) != t.end ();
}

/* One consumer: keeps every access unit it is given (references, as a real one would). */
struct Collector
{
  std::mutex lock;
  std::vector<GstBuffer *> units;
  GstCaps *caps = nullptr;
  std::atomic<int> destroyed{ 0 };
  GstElement *sink = nullptr;
  guint id = 0;

  /* Still subscribed (a failed assertion left early): unsubscribe, and wait out a delivery in
   * flight, so that no callback runs on a freed collector. */
  ~Collector ()
  {
    if (id) {
      cr_h264_feed_unsubscribe (sink, id);
      crtest::wait_until ([&] { return destroyed > 0; }, 10000);
    }
    for (GstBuffer *b : units)
      gst_buffer_unref (b);
    gst_clear_caps (&caps);
  }
  static void on_au (GstBuffer *au, GstCaps *caps, gpointer user)
  {
    auto *self = static_cast<Collector *> (user);
    std::lock_guard<std::mutex> guard (self->lock);
    self->units.push_back (gst_buffer_ref (au));
    gst_caps_replace (&self->caps, caps);
  }
  static void on_destroy (gpointer user) { static_cast<Collector *> (user)->destroyed++; }
  size_t count ()
  {
    std::lock_guard<std::mutex> guard (lock);
    return units.size ();
  }
  GstBuffer *unit (size_t i)
  {
    std::lock_guard<std::mutex> guard (lock);
    return units.at (i);
  }
  guint subscribe (GstElement *element, const char *kind = "test")
  {
    sink = element;
    id = cr_h264_feed_subscribe (sink, kind, on_au, this, on_destroy);
    return id;
  }
  void unsubscribe ()
  {
    cr_h264_feed_unsubscribe (sink, id);
    id = 0;
  }
};

class H264RelaySinkTest : public ::testing::Test
{
protected:
  /* Frames are pushed as fast as the encoder takes them: no max-fps, except where it is tested. */
  void SetUp () override { start ({ { "max-fps", "0" } }); }

  void start (const std::vector<std::pair<const char *, const char *>> & props)
  {
    h_.reset ();
    GstElement *sink = gst_element_factory_make ("h264relaysink", nullptr);
    ASSERT_NE (sink, nullptr);
    for (const auto & [name, value] : props)
      gst_util_set_object_arg (G_OBJECT (sink), name, value);
    h_.reset (gst_harness_new_with_element (sink, "sink", nullptr));
    gst_object_unref (sink);
    gst_harness_use_systemclock (h_.get ());
    gst_harness_set_src_caps_str (h_.get (),
        "image/jpeg,parsed=true,width=320,height=240,framerate=0/1");
    gst_harness_play (h_.get ());
  }

  GstElement *sink () { return h_->element; }

  void push (const Bytes & jpeg)
  {
    ASSERT_EQ (gst_harness_push (h_.get (), crtest::buffer_from (jpeg)), GST_FLOW_OK);
  }

  guint64 stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (sink (), "stats", &s, nullptr);
    guint64 v = 0;
    if (!gst_structure_get_uint64 (s, field, &v)) {
      guint u = 0;
      gboolean b = FALSE;
      if (gst_structure_get_uint (s, field, &u))
        v = u;
      else if (gst_structure_get_boolean (s, field, &b))
        v = b;
      else
        ADD_FAILURE () << "no stats field " << field;
    }
    gst_structure_free (s);
    return v;
  }

  Harness h_;
};

std::vector<Bytes>
frames (int n)
{
  crtest::JpegSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.pattern = "ball";
  return crtest::make_jpegs (n, spec);
}

/* Decodes Annex B access units with avdec_h264; returns the frames as packed RGB. */
std::vector<Bytes>
decode_h264 (const std::vector<GstBuffer *> & units, int *width, int *height)
{
  std::vector<Bytes> pictures;
  g_autoptr (GError) err = nullptr;
  GstElement *pipeline =
      gst_parse_launch ("appsrc name=src format=time "
                        "caps=video/x-h264,stream-format=byte-stream,alignment=au ! "
                        "h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB ! "
                        "appsink name=out sync=false",
          &err);
  EXPECT_NE (pipeline, nullptr) << (err ? err->message : "");
  if (!pipeline)
    return pictures;
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (GstBuffer *au : units)
    gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_ref (au));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  while (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (out), 10 * GST_SECOND)) {
    GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
    gst_structure_get_int (s, "width", width);
    gst_structure_get_int (s, "height", height);
    GstMapInfo map;
    GstBuffer *buf = gst_sample_get_buffer (sample);
    gst_buffer_map (buf, &map, GST_MAP_READ);
    pictures.emplace_back (map.data, map.data + map.size);
    gst_buffer_unmap (buf, &map);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return pictures;
}

TEST_F (H264RelaySinkTest, NoConsumerNothingIsDecoded)
{
  for (const Bytes & f : frames (10))
    push (f);
  EXPECT_EQ (stat ("frames-in"), 10u);
  EXPECT_EQ (stat ("frames-decoded"), 0u);
  EXPECT_EQ (stat ("frames-encoded"), 0u);
  EXPECT_EQ (stat ("encoder-running"), 0u);
  EXPECT_EQ (stat ("encoder-starts"), 0u);
}

TEST_F (H264RelaySinkTest, FirstConsumerGetsKeyFrameWithSpsPpsFromTheNewestFrame)
{
  /* Frames came while nobody watched; the camera then sends nothing more. */
  for (const Bytes & f : frames (3))
    push (f);
  Collector c;
  ASSERT_NE (c.subscribe (sink ()), 0u);
  ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= 1; }, 10000))
      << "no access unit without a new frame";
  GstBuffer *first = c.unit (0);
  EXPECT_FALSE (GST_BUFFER_FLAG_IS_SET (first, GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE (has_nal (first, 7)) << "no SPS";
  EXPECT_TRUE (has_nal (first, 8)) << "no PPS";
  EXPECT_TRUE (has_nal (first, 5)) << "no IDR slice";
  EXPECT_EQ (stat ("frames-decoded"), 1u);
  EXPECT_EQ (stat ("encoder-running"), 1u);

  const GstStructure *s = gst_caps_get_structure (c.caps, 0);
  EXPECT_STREQ (gst_structure_get_name (s), "video/x-h264");
  EXPECT_STREQ (gst_structure_get_string (s, "profile"), "constrained-baseline");
  EXPECT_STREQ (gst_structure_get_string (s, "stream-format"), "byte-stream");
  int w = 0, h = 0;
  gst_structure_get_int (s, "width", &w);
  gst_structure_get_int (s, "height", &h);
  EXPECT_EQ (w, 320);
  EXPECT_EQ (h, 240);
  c.unsubscribe ();
}

TEST_F (H264RelaySinkTest, FirstConsumerBeforeAnyFrameGetsKeyFrameFromTheFirstFrame)
{
  Collector c;
  c.subscribe (sink ());
  auto f = frames (1);
  push (f[0]);
  ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= 1; }, 10000));
  EXPECT_FALSE (GST_BUFFER_FLAG_IS_SET (c.unit (0), GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE (has_nal (c.unit (0), 7));
  EXPECT_TRUE (has_nal (c.unit (0), 8));
  c.unsubscribe ();
}

TEST_F (H264RelaySinkTest, PictureDecodesToTheCameraPicture)
{
  Collector c;
  c.subscribe (sink ());
  Bytes red = crtest::make_solid_jpeg (0xff0000, 320, 240);
  Bytes blue = crtest::make_solid_jpeg (0x0000ff, 320, 240);
  for (int i = 0; i < 3; i++) {
    push (red);
    ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= static_cast<size_t> (i + 1); }));
  }
  for (int i = 0; i < 3; i++) {
    push (blue);
    ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= static_cast<size_t> (i + 4); }));
  }
  c.unsubscribe ();
  int w = 0, h = 0;
  std::vector<Bytes> pictures;
  {
    std::lock_guard<std::mutex> guard (c.lock);
    pictures = decode_h264 (c.units, &w, &h);
  }
  ASSERT_EQ (pictures.size (), 6u);
  EXPECT_EQ (w, 320);
  EXPECT_EQ (h, 240);
  auto centre = [&] (const Bytes & rgb) {
    size_t at = (static_cast<size_t> (h / 2) * w + w / 2) * 3;
    return std::vector<int>{ rgb[at], rgb[at + 1], rgb[at + 2] };
  };
  auto r = centre (pictures[2]);
  EXPECT_GT (r[0], 200);
  EXPECT_LT (r[2], 60);
  auto b = centre (pictures[5]);
  EXPECT_LT (b[0], 60);
  EXPECT_GT (b[2], 200);
}

TEST_F (H264RelaySinkTest, TwoConsumersShareOneEncoderAndTheSameBuffers)
{
  auto f = frames (12);
  Collector a, b;
  a.subscribe (sink (), "rtsp");
  for (int i = 0; i < 5; i++) {
    push (f[i]);
    ASSERT_TRUE (crtest::wait_until ([&] { return a.count () >= static_cast<size_t> (i + 1); }));
  }
  b.subscribe (sink (), "webrtc");
  /* b's key frame comes from the newest frame, at once, without waiting for the camera. */
  ASSERT_TRUE (crtest::wait_until ([&] { return b.count () >= 1; }, 10000));
  GstBuffer *bfirst = b.unit (0);
  EXPECT_FALSE (GST_BUFFER_FLAG_IS_SET (bfirst, GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE (has_nal (bfirst, 7));
  EXPECT_TRUE (has_nal (bfirst, 8));
  size_t b_before = b.count ();
  for (int i = 5; i < 12; i++) {
    size_t before = a.count ();
    push (f[i]);
    ASSERT_TRUE (crtest::wait_until ([&] { return a.count () > before; }));
  }
  EXPECT_EQ (b.count (), b_before + 7);
  /* Zero copy: the units b got are the very buffers a got. */
  {
    std::lock_guard<std::mutex> ga (a.lock), gb (b.lock);
    std::set<GstBuffer *> seen (a.units.begin (), a.units.end ());
    for (GstBuffer *u : b.units)
      EXPECT_TRUE (seen.count (u)) << "b got a buffer a did not";
  }
  EXPECT_EQ (stat ("encoder-starts"), 1u);
  EXPECT_EQ (stat ("consumers"), 2u);
  EXPECT_EQ (stat ("consumers-rtsp"), 1u);
  EXPECT_EQ (stat ("consumers-webrtc"), 1u);
  EXPECT_GT (stat ("bytes-out-webrtc"), 0u);
  EXPECT_GT (stat ("bytes-out-rtsp"), stat ("bytes-out-webrtc"));
  EXPECT_GT (stat ("encode-time"), 0u);
  a.unsubscribe ();
  b.unsubscribe ();
  EXPECT_EQ (a.destroyed, 1);
  EXPECT_EQ (b.destroyed, 1);
}

TEST_F (H264RelaySinkTest, EncoderStopsLingerAfterTheLastConsumerLeaves)
{
  start ({ { "max-fps", "0" }, { "linger", "400000000" } });
  auto f = frames (2);
  Collector a, b;
  a.subscribe (sink ());
  push (f[0]);
  ASSERT_TRUE (crtest::wait_until ([&] { return a.count () >= 1; }));
  a.unsubscribe ();
  gint64 left = g_get_monotonic_time ();
  EXPECT_EQ (stat ("encoder-running"), 1u) << "stopped before the linger";
  ASSERT_TRUE (crtest::wait_until ([&] { return stat ("encoder-running") == 0; }, 10000));
  EXPECT_GE (g_get_monotonic_time () - left, 350000) << "stopped before the linger";
  /* Frames while nobody watches are not decoded. */
  guint64 decoded = stat ("frames-decoded");
  push (f[1]);
  EXPECT_EQ (stat ("frames-decoded"), decoded);

  /* The next consumer starts a new encoder; one that comes within the linger keeps it. */
  b.subscribe (sink ());
  ASSERT_TRUE (crtest::wait_until ([&] { return b.count () >= 1; }));
  EXPECT_EQ (stat ("encoder-starts"), 2u);
  b.unsubscribe ();
  Collector c;
  c.subscribe (sink ());
  EXPECT_EQ (stat ("encoder-running"), 1u);
  g_usleep (600000); /* past the linger: a consumer came back, so it must still run */
  EXPECT_EQ (stat ("encoder-running"), 1u);
  EXPECT_EQ (stat ("encoder-starts"), 2u);
  c.unsubscribe ();
}

TEST_F (H264RelaySinkTest, ConsumerMayUnsubscribeFromItsCallback)
{
  struct Once
  {
    GstElement *sink;
    std::atomic<guint> id{ 0 };
    std::atomic<int> calls{ 0 };
    std::atomic<int> destroyed{ 0 };
  } once{ sink () };
  once.id = cr_h264_feed_subscribe (
      sink (), "test",
      [] (GstBuffer *, GstCaps *, gpointer user) {
        auto *o = static_cast<Once *> (user);
        o->calls++;
        cr_h264_feed_unsubscribe (o->sink, o->id);
      },
      &once, [] (gpointer user) { static_cast<Once *> (user)->destroyed++; });
  auto f = frames (3);
  for (const Bytes & b : f)
    push (b);
  ASSERT_TRUE (crtest::wait_until ([&] { return once.destroyed == 1; }));
  EXPECT_EQ (once.calls, 1);
  EXPECT_EQ (stat ("consumers"), 0u);
}

TEST_F (H264RelaySinkTest, FramesOverMaxFpsAreDroppedBeforeDecoding)
{
  start ({ { "max-fps", "2" } });
  Collector c;
  c.subscribe (sink ());
  for (const Bytes & f : frames (10))
    push (f); /* all at once: far faster than 2 fps */
  ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= 1; }));
  g_usleep (200000);
  EXPECT_EQ (stat ("frames-in"), 10u);
  EXPECT_GE (stat ("frames-skipped"), 8u);
  EXPECT_LE (stat ("frames-decoded"), 2u);
  c.unsubscribe ();
}

TEST_F (H264RelaySinkTest, RequestedKeyFrameComesWithTheNextFrame)
{
  Collector c;
  c.subscribe (sink ());
  auto f = frames (8);
  for (int i = 0; i < 4; i++) {
    push (f[i]);
    ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= static_cast<size_t> (i + 1); }));
  }
  EXPECT_TRUE (GST_BUFFER_FLAG_IS_SET (c.unit (3), GST_BUFFER_FLAG_DELTA_UNIT));
  cr_h264_feed_request_keyframe (sink ());
  push (f[4]);
  ASSERT_TRUE (crtest::wait_until ([&] { return c.count () >= 5; }));
  EXPECT_FALSE (GST_BUFFER_FLAG_IS_SET (c.unit (4), GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE (has_nal (c.unit (4), 7));
  c.unsubscribe ();
}

}  // namespace
