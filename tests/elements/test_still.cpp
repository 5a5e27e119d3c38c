/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stillframesrc and stilljpeg, jpegfallback's placeholder branch, as elements of their own: under
 * GstHarness, and written out in a real gst-launch-1.0 line. */
#include <gtest/gtest.h>

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "subprocess.h"
#include "testjpeg.h"

namespace {

constexpr int kWidth = 320, kHeight = 240;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

class Still : public ::testing::Test
{
protected:
  void SetUp () override
  {
    crtest::JpegSpec spec;
    spec.width = kWidth;
    spec.height = kHeight;
    spec.pattern = "smpte";
    picture = crtest::make_jpegs (1, spec)[0];
    path = dir.file ("placeholder.jpg");
    ASSERT_TRUE (g_file_set_contents (path.c_str (), (const gchar *) picture.data (),
        picture.size (), nullptr));
  }

  /* stilljpeg showing the picture at @fps, fed 1x1 GRAY8 ticks as stillframesrc sends them. */
  Harness still_jpeg (int fps)
  {
    Harness h = still_jpeg_without_input (fps);
    std::string caps = "video/x-raw, format=GRAY8, width=1, height=1, framerate=(fraction)" +
        std::to_string (fps) + "/1";
    gst_harness_set_src_caps_str (h.get (), caps.c_str ());
    return h;
  }

  /* stilljpeg showing the picture, with no input stream yet. */
  Harness still_jpeg_without_input (int fps = 1)
  {
    GstElement *e = gst_element_factory_make ("stilljpeg", nullptr);
    EXPECT_NE (e, nullptr) << "stilljpeg is not registered";
    if (!e)
      return nullptr;
    g_object_set (e, "location", path.c_str (), "framerate", fps, 1, nullptr);
    Harness h (gst_harness_new_with_element (e, "sink", "src"));
    gst_object_unref (e);
    return h;
  }

  static GstBuffer *tick (GstClockTime pts)
  {
    GstBuffer *b = gst_buffer_new_allocate (nullptr, 4, nullptr);
    GST_BUFFER_PTS (b) = pts;
    return b;
  }

  static GstFlowReturn push_picture (GstElement *still, GstClockTime pts)
  {
    GstFlowReturn ret = GST_FLOW_ERROR;
    g_signal_emit_by_name (still, "push-picture", (guint64) pts, &ret);
    return ret;
  }

  crtest::TempDir dir;
  std::vector<guint8> picture;
  std::string path;
};

/* Its caps say what flows: one GRAY8 pixel, a still (framerate 0/1); the buffer is that frame. */
TEST_F (Still, StillFrameSrcSendsOneGray8PixelWhenPlayingAndAgainAfterAFlush)
{
  ASSERT_NE (gst_element_factory_find ("stillframesrc"), nullptr)
      << "stillframesrc is not registered";
  Harness h (gst_harness_new ("stillframesrc"));
  ASSERT_TRUE (h);
  /* The harness leaves sources stopped: this is the start. */
  gst_harness_play (h.get ());
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  ASSERT_NE (caps, nullptr);
  g_autoptr (GstCaps) want = gst_caps_from_string (
      "video/x-raw, format=GRAY8, width=(int)1, height=(int)1, framerate=(fraction)0/1");
  EXPECT_TRUE (gst_caps_is_equal (caps, want)) << gst_caps_to_string (caps);
  GstVideoInfo info;
  ASSERT_TRUE (gst_video_info_from_caps (&info, caps));

  GstBuffer *frame = gst_harness_try_pull (h.get ());
  ASSERT_NE (frame, nullptr) << "no frame when it started playing";
  EXPECT_EQ (gst_buffer_get_size (frame), GST_VIDEO_INFO_SIZE (&info));
  gst_buffer_unref (frame);
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr) << "more than one frame";

  /* Downstream flushed and forgot it (imagefreeze does): it comes again. */
  ASSERT_TRUE (gst_harness_push_upstream_event (h.get (), gst_event_new_flush_start ()));
  ASSERT_TRUE (gst_harness_push_upstream_event (h.get (), gst_event_new_flush_stop (TRUE)));
  frame = gst_harness_try_pull (h.get ());
  ASSERT_NE (frame, nullptr) << "no frame after a flush";
  gst_buffer_unref (frame);
}

/* Each tick becomes the picture itself, stamped like the tick, and the caps are the picture's own
 * size at the configured rate. */
TEST_F (Still, StillJpegOutputsThePictureWithItsSizeInTheCaps)
{
  ASSERT_NE (gst_element_factory_find ("stilljpeg"), nullptr) << "stilljpeg is not registered";
  Harness h = still_jpeg (5);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ (gst_harness_push (h.get (), tick (i * 200 * GST_MSECOND)), GST_FLOW_OK);

  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  ASSERT_NE (caps, nullptr);
  g_autoptr (GstCaps) want =
      gst_caps_from_string ("image/jpeg, parsed=(boolean)true, width=(int)320, height=(int)240, "
                            "framerate=(fraction)5/1");
  EXPECT_TRUE (gst_caps_is_equal (caps, want)) << gst_caps_to_string (caps);
  for (int i = 0; i < 3; i++) {
    GstBuffer *out = gst_harness_pull (h.get ());
    ASSERT_NE (out, nullptr);
    EXPECT_EQ (GST_BUFFER_PTS (out), i * 200 * GST_MSECOND);
    EXPECT_EQ (crtest::bytes_of (out), picture);
    int w = 0, hh = 0;
    ASSERT_TRUE (crtest::jpeg_dimensions (crtest::bytes_of (out), &w, &hh));
    EXPECT_EQ (w, kWidth);
    EXPECT_EQ (hh, kHeight);
    gst_buffer_unref (out);
  }
  guint64 frames = 0;
  g_object_get (h->element, "frames-out", &frames, nullptr);
  EXPECT_EQ (frames, 3u);
}

/* drop: nothing goes out, and the tick is refused with FLUSHING, which pauses a repeating
 * element's loop (imagefreeze) instead of keeping it ticking for nobody. */
TEST_F (Still, DropRefusesTicksButPushPictureStillWorks)
{
  Harness h = still_jpeg (1);
  ASSERT_EQ (gst_harness_push (h.get (), tick (0)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h.get ()));

  g_object_set (h->element, "drop", TRUE, nullptr);
  EXPECT_EQ (gst_harness_push (h.get (), tick (GST_SECOND)), GST_FLOW_FLUSHING);
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr);

  EXPECT_EQ (push_picture (h->element, 1500 * GST_MSECOND), GST_FLOW_OK);
  GstBuffer *out = gst_harness_try_pull (h.get ());
  ASSERT_NE (out, nullptr) << "push-picture sent nothing";
  EXPECT_EQ (GST_BUFFER_PTS (out), 1500 * GST_MSECOND);
  gst_buffer_unref (out);

  g_object_set (h->element, "drop", FALSE, nullptr);
  EXPECT_EQ (gst_harness_push (h.get (), tick (2 * GST_SECOND)), GST_FLOW_OK);
  out = gst_harness_try_pull (h.get ());
  ASSERT_NE (out, nullptr);
  gst_buffer_unref (out);
}

/* push-picture before any tick begins the stream itself (stream-start, the picture's caps, a TIME
 * segment), and ticks stamped no later than that picture repeat it: dropped. */
TEST_F (Still, PushPictureBeginsTheStreamAndEarlierTicksAreDropped)
{
  /* No input stream yet: nothing upstream has begun one. */
  Harness h = still_jpeg_without_input ();
  ASSERT_EQ (push_picture (h->element, 2 * GST_SECOND), GST_FLOW_OK);
  std::vector<GstEventType> events;
  while (GstEvent *e = gst_harness_try_pull_event (h.get ())) {
    events.push_back (GST_EVENT_TYPE (e));
    gst_event_unref (e);
  }
  EXPECT_EQ (events,
      (std::vector<GstEventType>{ GST_EVENT_STREAM_START, GST_EVENT_CAPS, GST_EVENT_SEGMENT }));
  GstBuffer *out = gst_harness_pull (h.get ());
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (GST_BUFFER_PTS (out), 2 * GST_SECOND);
  EXPECT_EQ (crtest::bytes_of (out), picture);
  gst_buffer_unref (out);

  gst_harness_set_src_caps_str (h.get (),
      "video/x-raw, format=GRAY8, width=1, height=1, framerate=(fraction)1/1");
  ASSERT_EQ (gst_harness_push (h.get (), tick (GST_SECOND)), GST_FLOW_OK);
  ASSERT_EQ (gst_harness_push (h.get (), tick (2 * GST_SECOND)), GST_FLOW_OK);
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr) << "a tick repeated the picture";
  ASSERT_EQ (gst_harness_push (h.get (), tick (3 * GST_SECOND)), GST_FLOW_OK);
  out = gst_harness_try_pull (h.get ());
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (GST_BUFFER_PTS (out), 3 * GST_SECOND);
  gst_buffer_unref (out);
}

/* push-picture from another thread while a tick is on its way out (held downstream) waits for
 * that tick: it takes the sink pad's stream lock as a tick's chain call does, so the two never
 * interleave and leave in the order they came. */
TEST_F (Still, PushPictureWaitsForATickOnItsWayOut)
{
  Harness h = still_jpeg (1);
  g_autoptr (GstPad) src = gst_element_get_static_pad (h->element, "src");
  struct Held
  {
    std::mutex lock;
    std::condition_variable cond;
    bool holding = false, release = false;
  } held;
  gulong probe = gst_pad_add_probe (
      src, GST_PAD_PROBE_TYPE_BUFFER,
      [] (GstPad *, GstPadProbeInfo *info, gpointer data) {
        /* Only the tick is held; anything else passes. */
        if (GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info)) != GST_SECOND)
          return GST_PAD_PROBE_OK;
        auto *held = static_cast<Held *> (data);
        std::unique_lock<std::mutex> guard (held->lock);
        held->holding = true;
        held->cond.notify_all ();
        held->cond.wait (guard, [held] { return held->release; });
        return GST_PAD_PROBE_REMOVE;
      },
      &held, nullptr);
  ASSERT_NE (probe, 0u);

  auto tick_pushed = std::async (std::launch::async,
      [&] { return gst_harness_push (h.get (), tick (GST_SECOND)); });
  {
    std::unique_lock<std::mutex> guard (held.lock);
    ASSERT_TRUE (held.cond.wait_for (guard, std::chrono::seconds (10), [&] {
      return held.holding;
    })) << "the tick never reached stilljpeg's src pad";
  }
  auto picture_pushed =
      std::async (std::launch::async, [&] { return push_picture (h->element, 2 * GST_SECOND); });
  EXPECT_EQ (picture_pushed.wait_for (std::chrono::milliseconds (200)), std::future_status::timeout)
      << "push-picture went out while a tick was on its way";
  {
    std::lock_guard<std::mutex> guard (held.lock);
    held.release = true;
    held.cond.notify_all ();
  }
  EXPECT_EQ (tick_pushed.get (), GST_FLOW_OK);
  EXPECT_EQ (picture_pushed.get (), GST_FLOW_OK);
  std::vector<GstClockTime> order;
  while (GstBuffer *b = gst_harness_try_pull (h.get ())) {
    order.push_back (GST_BUFFER_PTS (b));
    gst_buffer_unref (b);
  }
  EXPECT_EQ (order, (std::vector<GstClockTime>{ GST_SECOND, 2 * GST_SECOND }));
}

TEST_F (Still, StillJpegWithoutAUsableFileFailsNamingIt)
{
  std::string missing = dir.file ("nothing-here.jpg");
  g_autoptr (GstElement) pipeline =
      gst_parse_launch (("stillframesrc ! imagefreeze is-live=true ! stilljpeg location=\"" +
                            missing + "\" ! fakesink")
                            .c_str (),
          nullptr);
  ASSERT_NE (pipeline, nullptr);
  EXPECT_EQ (gst_element_set_state (pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  ASSERT_NE (m, nullptr);
  g_autoptr (GError) error = nullptr;
  gst_message_parse_error (m, &error, nullptr);
  EXPECT_NE (std::string (error->message).find (missing), std::string::npos) << error->message;
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

/* jpegfallback's placeholder branch written out as a gst-launch-1.0 line: five pictures at 10 fps,
 * each the file's bytes, and gst-inspect-1.0 lists both elements. */
TEST_F (Still, GstLaunchLineWritesThePlaceholderBranchOut)
{
  crtest::RunResult inspect =
      crtest::run ({ "gst-inspect-1.0", "camrelay" }, 60000, crtest::gst_child_env ());
  ASSERT_EQ (inspect.code, 0) << inspect.output;
  EXPECT_NE (inspect.output.find ("stillframesrc"), std::string::npos) << inspect.output;
  EXPECT_NE (inspect.output.find ("stilljpeg"), std::string::npos) << inspect.output;

  std::string out = dir.file ("out.mjpeg");
  crtest::RunResult r =
      crtest::run ({ "gst-launch-1.0", "-q", "stillframesrc", "!", "imagefreeze", "is-live=true",
                       "num-buffers=5", "!", "stilljpeg", "location=" + path, "framerate=10/1", "!",
                       "multipartmux", "boundary=frame", "!", "filesink", "location=" + out },
          60000, crtest::gst_child_env ());
  ASSERT_EQ (r.code, 0) << r.output;
  gchar *contents = nullptr;
  gsize length = 0;
  ASSERT_TRUE (g_file_get_contents (out.c_str (), &contents, &length, nullptr));
  std::string text (contents, length);
  g_free (contents);
  std::string jpeg (picture.begin (), picture.end ());
  int parts = 0;
  for (size_t at = text.find (jpeg); at != std::string::npos; at = text.find (jpeg, at + 1))
    parts++;
  EXPECT_EQ (parts, 5) << "parts holding the picture's bytes";
}

}  // namespace
