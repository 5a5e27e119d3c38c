/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jpegmotion, driven by GstHarness with camera-like JPEGs (tests/common/motionscene.h): a noisy
 * VGA scene whose light drifts or switches, and a square crossing it.
 *
 * Frames that only test the analysis are pushed as fast as the element analyses them, stamped
 * 200 ms apart (a 5 fps camera); the timing tests (motion-start within a second, motion-end
 * after the hold) push at a camera's real pace. */
#include "motionscene.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <deque>
#include <vector>

namespace {

using Bytes = std::vector<guint8>;
using Props = std::vector<std::pair<const char *, std::string>>;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* Frames analysed one after the other: a 5 fps camera's as the default max-fps (2.5) takes them,
 * every other one. */
const GstClockTime FRAME_GAP = 400 * GST_MSECOND;

struct Event
{
  std::string name; /* "motion-start", "motion-end" */
  std::string camera;
  gint64 time_us = 0;
  double area = 0;
  gint64 seen_us = 0; /* monotonic, when the test read it */
};

/* A jpegmotion with the system clock and a bus to read its messages from. */
class Motion
{
public:
  explicit Motion (const Props & props)
  {
    GstElement *el = gst_element_factory_make ("jpegmotion", "motion0");
    EXPECT_NE (el, nullptr) << "jpegmotion is not in the plugin";
    for (const auto & [name, value] : props)
      gst_util_set_object_arg (G_OBJECT (el), name, value.c_str ());
    h_.reset (gst_harness_new_with_element (el, "sink", nullptr));
    gst_object_unref (el);
    gst_harness_use_systemclock (h_.get ());
    bus_ = gst_bus_new ();
    gst_element_set_bus (h_->element, bus_);
    gst_harness_set_src_caps_str (h_.get (), "image/jpeg,width=640,height=480,framerate=0/1");
    gst_harness_play (h_.get ());
    next_pts_ = running_now ();
  }
  ~Motion ()
  {
    h_.reset ();
    gst_object_unref (bus_);
  }

  GstClockTime running_now ()
  {
    g_autoptr (GstClock) clock = gst_element_get_clock (h_->element);
    return gst_clock_get_time (clock) - gst_element_get_base_time (h_->element);
  }

  /* Pushes @frame stamped @pts. */
  void push (const Bytes & frame, GstClockTime pts)
  {
    GstBuffer *buf = crtest::buffer_from (frame);
    GST_BUFFER_PTS (buf) = pts;
    ASSERT_EQ (gst_harness_push (h_.get (), buf), GST_FLOW_OK);
  }

  /* Pushes @frame as the next of a 5 fps camera and waits until it has been analysed. */
  void push_analysed (const Bytes & frame)
  {
    guint64 before = count ("analysed");
    push (frame, next_pts_);
    next_pts_ += FRAME_GAP;
    ASSERT_TRUE (crtest::wait_until ([&] { return count ("analysed") > before; }, 10000));
    collect ();
  }

  /* Pushes @frame now, stamped with its arrival (as wsjpegsrc does). */
  void push_live (const Bytes & frame) { push (frame, running_now ()); }

  /* Reads messages as they come for @ms. */
  void pause (int ms)
  {
    const gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
    for (gint64 left; (left = deadline - g_get_monotonic_time ()) > 0;) {
      if (GstMessage *m =
              gst_bus_timed_pop_filtered (bus_, left * GST_USECOND, GST_MESSAGE_ELEMENT))
        take (m);
    }
  }

  guint64 count (const char *field)
  {
    GstStructure *s = nullptr;
    guint64 v = 0;
    g_object_get (h_->element, "stats", &s, nullptr);
    if (s) {
      gst_structure_get_uint64 (s, field, &v);
      gst_structure_free (s);
    }
    return v;
  }

  bool motion ()
  {
    gboolean on = FALSE;
    g_object_get (h_->element, "motion", &on, nullptr);
    return on;
  }

  /* Reads every message waiting on the bus into events(). */
  void collect ()
  {
    while (GstMessage *m = gst_bus_pop_filtered (bus_, GST_MESSAGE_ELEMENT))
      take (m);
  }

  /* Waits up to @timeout_ms for an event named @name; nullptr if none came. */
  const Event *wait_for (const std::string & name, int timeout_ms)
  {
    const gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
    for (;;) {
      collect ();
      for (const Event & e : events_) {
        if (e.name == name)
          return &e;
      }
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return nullptr;
      GstMessage *m =
          gst_bus_timed_pop_filtered (bus_, MIN (left, 20000) * GST_USECOND, GST_MESSAGE_ELEMENT);
      if (m)
        take (m);
    }
  }

  const std::deque<Event> & events ()
  {
    collect ();
    return events_;
  }

  GstElement *element () { return h_->element; }

private:
  void take (GstMessage *m)
  {
    const GstStructure *s = gst_message_get_structure (m);
    Event e;
    e.name = gst_structure_get_name (s);
    const gchar *camera = gst_structure_get_string (s, "camera");
    e.camera = camera ? camera : "";
    gst_structure_get_int64 (s, "time", &e.time_us);
    gst_structure_get_double (s, "area", &e.area);
    e.seen_us = g_get_monotonic_time ();
    events_.push_back (e);
    gst_message_unref (m);
  }

  Harness h_;
  GstBus *bus_ = nullptr;
  GstClockTime next_pts_ = 0;
  /* A deque: wait_for () hands out pointers that later events must not move. */
  std::deque<Event> events_;
};

/* Frame @i of the still scene: its own grain every frame. */
crtest::SceneFrame
still (int i)
{
  crtest::SceneFrame f;
  f.seed = 1000 + i;
  return f;
}

std::string
names (const std::deque<Event> & events)
{
  std::string out;
  for (const Event & e : events)
    out += e.name + " (area " + std::to_string (e.area) + ") ";
  return out;
}

/* A still scene with heavy sensor grain while the light drifts slowly (two minutes of dusk at the
 * default rate: 20% darker and 40 levels down, then back) is no motion. */
TEST (JpegMotion, NoiseAndSlowLightDriftAreNoMotion)
{
  Motion m (Props{ { "camera", "garden" } });
  const int frames = 300; /* analysed: two minutes at 2.5 fps */
  for (int i = 0; i < frames; i++) {
    crtest::SceneFrame f = still (i);
    f.noise = 20;
    double phase = i < frames / 2 ? double (i) / (frames / 2) : double (frames - i) / (frames / 2);
    f.gain = 1.0 - 0.2 * phase;
    f.offset = -40 * phase;
    m.push_analysed (crtest::scene_jpeg (f));
  }
  EXPECT_EQ (m.count ("analysed"), guint64 (frames));
  EXPECT_TRUE (m.events ().empty ()) << names (m.events ());
  EXPECT_EQ (m.count ("events"), 0u);
  EXPECT_FALSE (m.motion ());
}

/* A square crossing the picture at a camera's pace (5 fps): motion-start within a second of its
 * first frame, with the camera's name and the area it covers; motion stays on while it moves,
 * and motion-end comes once the hold has passed after its last frame. */
TEST (JpegMotion, SquareCrossingStartsWithinASecondAndEndsAfterHold)
{
  const double hold_s = 1.5;
  /* Every frame analysed (max-fps 0), so the hold counts from the square's last frame itself; at
   * the default 2.5 a 5 fps camera's last square frame may be the skipped one, 200 ms earlier
   * (ASan: motion-end 1.20 s after it against a 1.25 s bound). */
  Motion m (Props{ { "camera", "porch" }, { "hold", std::to_string (gint64 (hold_s * 1e9)) },
      { "max-fps", "0" } });
  int seq = 0;
  for (int i = 0; i < 5; i++)
    m.push_analysed (crtest::scene_jpeg (still (seq++)));
  ASSERT_TRUE (m.events ().empty ()) << names (m.events ());

  /* 120 px square, 40 px a frame from left to right: 3 s across VGA. */
  gint64 first_us = 0, last_us = 0;
  for (int x = 0; x + 120 <= 640; x += 40) {
    crtest::SceneFrame f = still (seq++);
    f.square = 120;
    f.square_x = x;
    f.square_y = 200;
    m.push_live (crtest::scene_jpeg (f));
    last_us = g_get_monotonic_time ();
    if (!first_us)
      first_us = last_us;
    m.pause (200);
    if (x == 200) {
      /* On while it moves. */
      EXPECT_TRUE (m.motion ());
    }
  }
  const Event *start = m.wait_for ("motion-start", 5000);
  ASSERT_NE (start, nullptr) << "no motion-start: " << names (m.events ());
  EXPECT_LE (start->seen_us - first_us, 1000000) << "motion-start more than 1 s after the square";
  EXPECT_EQ (start->camera, "porch");
  /* 120x120 of 640x480 is 4.7% of the picture. */
  EXPECT_GT (start->area, 0.02);
  EXPECT_LT (start->area, 0.15);
  EXPECT_NEAR (start->time_us / 1e6, g_get_real_time () / 1e6, 10);

  /* Still again: motion-end after the hold, counted from the square's last frame. */
  for (int i = 0; i < 15; i++) {
    m.push_live (crtest::scene_jpeg (still (seq++)));
    m.pause (200);
    if (m.wait_for ("motion-end", 0))
      break;
  }
  const Event *end = m.wait_for ("motion-end", 10000);
  ASSERT_NE (end, nullptr) << names (m.events ());
  EXPECT_GE (end->seen_us - last_us, gint64 (hold_s * 1e6) - 250000) << "ended before the hold";
  EXPECT_LE (end->seen_us - last_us, gint64 (hold_s * 1e6) + 2000000)
      << "ended long after the hold";
  EXPECT_FALSE (m.motion ());
  EXPECT_EQ (m.count ("events"), 1u);
  EXPECT_EQ (m.events ().size (), 2u) << names (m.events ());
}

/* An ESP32-CAM's VGA at dusk: an OV2640's 4:2:2 JPEGs at a low quality, heavy grain, and its
 * auto-exposure stepping the picture 25% brighter or darker now and then. A minute of the still
 * scene (at the default rate) is no motion; a square crossing at the camera's 5 fps starts motion
 * within a second. */
TEST (JpegMotion, Esp32CamNoisyVgaStillIsNoMotionAndASquareIs)
{
  auto esp32 = [] (int seq) {
    crtest::SceneFrame f = still (seq);
    f.h_samp = 2;
    f.v_samp = 1;
    f.quality = 55;
    f.noise = 24;
    f.gain = (seq / 20) % 2 ? 1.25 : 1.0; /* an exposure step every 20 analysed frames */
    return f;
  };
  Motion m (Props{ { "camera", "esp32" } });
  int seq = 0;
  for (; seq < 100; seq++)
    m.push_analysed (crtest::scene_jpeg (esp32 (seq)));
  EXPECT_TRUE (m.events ().empty ()) << names (m.events ());
  RecordProperty ("light_changes", static_cast<int> (m.count ("light-changes")));

  gint64 first_us = 0;
  for (int x = 0; x + 120 <= 640; x += 40) {
    crtest::SceneFrame f = esp32 (seq++);
    f.square = 120;
    f.square_x = x;
    f.square_y = 200;
    m.push_live (crtest::scene_jpeg (f));
    if (!first_us)
      first_us = g_get_monotonic_time ();
    m.pause (200);
  }
  const Event *start = m.wait_for ("motion-start", 5000);
  ASSERT_NE (start, nullptr) << "no motion-start: " << names (m.events ());
  EXPECT_LE (start->seen_us - first_us, 1000000) << "motion-start more than 1 s after the square";
  EXPECT_EQ (m.count ("decode-errors"), 0u);
}

/* A camera that stops sending in the middle of motion: motion-end still comes after the hold. */
TEST (JpegMotion, MotionEndsAfterTheHoldWhenFramesStop)
{
  /* No rate cap: the live frame's stamp (now) may come sooner after the last analysed one's than
   * a camera's would on a slow machine, and must be analysed. */
  Motion m (Props{ { "hold", "500000000" }, { "max-fps", "0" } });
  for (int i = 0; i < 3; i++)
    m.push_analysed (crtest::scene_jpeg (still (i)));
  crtest::SceneFrame f = still (10);
  f.square = 160;
  f.square_x = 100;
  f.square_y = 100;
  m.push_live (crtest::scene_jpeg (f));
  const Event *start = m.wait_for ("motion-start", 5000);
  ASSERT_NE (start, nullptr);
  EXPECT_EQ (start->camera, "motion0") << "without camera=, the element's name";
  const Event *end = m.wait_for ("motion-end", 5000);
  ASSERT_NE (end, nullptr) << "no motion-end once frames stopped";
  EXPECT_GE (end->seen_us - start->seen_us, 400000);
}

/* A light switched on (the scene 60% brighter at once), left on, then off again: no motion, and
 * the scene is learnt again each time. */
TEST (JpegMotion, LightSwitchIsNoMotion)
{
  Motion m (Props{});
  int seq = 0;
  for (int i = 0; i < 10; i++)
    m.push_analysed (crtest::scene_jpeg (still (seq++)));
  for (int i = 0; i < 15; i++) {
    crtest::SceneFrame f = still (seq++);
    f.gain = 1.6;
    f.offset = 10;
    m.push_analysed (crtest::scene_jpeg (f));
  }
  for (int i = 0; i < 15; i++)
    m.push_analysed (crtest::scene_jpeg (still (seq++)));
  EXPECT_TRUE (m.events ().empty ()) << names (m.events ());
  EXPECT_GE (m.count ("light-changes"), 2u);

  /* And it still sees motion afterwards. */
  crtest::SceneFrame f = still (seq++);
  f.square = 120;
  f.square_x = 300;
  f.square_y = 100;
  m.push_analysed (crtest::scene_jpeg (f));
  EXPECT_NE (m.wait_for ("motion-start", 2000), nullptr);
}

/* Motion only inside the masked part (the right half, given in fractions and in pixels) is no
 * motion; the same square in the left half is. */
TEST (JpegMotion, MaskExcludesARegion)
{
  for (const char *mask : { "0.5,0,0.5,1", "320,0,320,480", "0,0,0.1,0.1; 320,0,320,480" }) {
    SCOPED_TRACE (mask);
    Motion m (Props{ { "mask", mask } });
    int seq = 0;
    for (int i = 0; i < 5; i++)
      m.push_analysed (crtest::scene_jpeg (still (seq++)));
    for (int x = 330; x + 120 <= 640; x += 40) {
      crtest::SceneFrame f = still (seq++);
      f.square = 120;
      f.square_x = x;
      f.square_y = 200;
      m.push_analysed (crtest::scene_jpeg (f));
    }
    EXPECT_TRUE (m.events ().empty ()) << names (m.events ());
    for (int x = 0; x + 120 <= 300; x += 40) {
      crtest::SceneFrame f = still (seq++);
      f.square = 120;
      f.square_x = x;
      f.square_y = 200;
      m.push_analysed (crtest::scene_jpeg (f));
    }
    EXPECT_NE (m.wait_for ("motion-start", 2000), nullptr) << "the left half is watched";
    g_autofree gchar *text = nullptr;
    g_object_get (m.element (), "mask", &text, nullptr);
    EXPECT_STREQ (text, mask) << "the mask reads back as it was set";
  }
}

/* A bad mask is refused: the old one stays (and a warning says why). */
TEST (JpegMotion, BadMaskIsRefused)
{
  GstElement *el = gst_element_factory_make ("jpegmotion", nullptr);
  ASSERT_NE (el, nullptr);
  g_object_set (el, "mask", "0,0,0.5,0.5", nullptr);
  g_object_set (el, "mask", "0,0,half,1", nullptr);
  gchar *mask = nullptr;
  g_object_get (el, "mask", &mask, nullptr);
  EXPECT_STREQ (mask, "0,0,0.5,0.5");
  g_free (mask);
  gst_object_unref (el);
}

/* A camera faster than max-fps: at most max-fps frames a second are analysed, by their
 * timestamps, and every push returns at once (the live path never waits for the analysis). */
TEST (JpegMotion, AnalysesAtMostMaxFps)
{
  Motion m (Props{ { "max-fps", "2" } });
  Bytes frame = crtest::scene_jpeg (still (1));
  const gint64 t0 = g_get_monotonic_time ();
  const GstClockTime t0_pts = m.running_now ();
  for (int i = 0; i < 50; i++) /* 5 s of a 10 fps camera */
    m.push (frame, t0_pts + i * 100 * GST_MSECOND);
  const gint64 pushing = g_get_monotonic_time () - t0;
  ASSERT_TRUE (
      crtest::wait_until ([&] { return m.count ("analysed") + m.count ("skipped") == 50; }, 10000))
      << m.count ("analysed") << " analysed, " << m.count ("skipped") << " skipped";
  EXPECT_LE (m.count ("analysed"), 10u);
  EXPECT_GE (m.count ("analysed"), 1u);
  EXPECT_EQ (m.count ("frames"), 50u);
  /* 50 pushes cost no decode each: far less than 50 decodes (~1 ms each even at 1/8). */
  EXPECT_LT (pushing, 2000000);
}

/* By default a 5 fps camera has every other frame analysed (max-fps 2.5: what keeps 100 cameras'
 * motion within 15% of a core, docs/PERFORMANCE.md), and motion is still seen within a second. */
TEST (JpegMotion, DefaultRateAnalysesEveryOtherFrameOfA5FpsCamera)
{
  Motion m (Props{});
  Bytes frame = crtest::scene_jpeg (still (1));
  const GstClockTime t0_pts = m.running_now ();
  for (guint64 i = 0; i < 20; i++) { /* 4 s of a 5 fps camera, each a little early or late */
    m.push (frame, t0_pts + i * 200 * GST_MSECOND + (i % 2 ? 15 : -15) * GST_MSECOND);
    /* Each one analysed or skipped before the next, so that none is replaced while waiting. */
    ASSERT_TRUE (
        crtest::wait_until ([&] { return m.count ("analysed") + m.count ("skipped") == i + 1; },
            10000));
  }
  EXPECT_EQ (m.count ("analysed"), 10u) << m.count ("skipped") << " skipped";
}

/* A frame that does not decode is counted and costs nothing else. */
TEST (JpegMotion, BrokenFrameIsCounted)
{
  Motion m (Props{});
  Bytes frame = crtest::scene_jpeg (still (1));
  Bytes cut (frame.begin (), frame.begin () + frame.size () / 3);
  m.push (cut, m.running_now ());
  ASSERT_TRUE (crtest::wait_until ([&] { return m.count ("decode-errors") == 1; }, 5000));
  m.push_analysed (frame);
  EXPECT_TRUE (m.events ().empty ());
}

}  // namespace
