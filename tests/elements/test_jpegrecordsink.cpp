/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jpegrecordsink, driven by GstHarness, read back with Debian's ffprobe and ffmpeg.
 *
 * The element turns a buffer's running time into wall-clock time against the pipeline clock, so
 * the tests push frames stamped as having arrived in the past (PTS = running time now - age):
 * a minute of a camera's life (10 fps, a 20 s pause, 2 fps) is recorded in a moment, and every
 * frame's expected wall-clock time is known to the microsecond. */
#include "crrecordlayout.h"
#include "recordprobe.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <glib/gstdio.h>
#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

namespace {

using Bytes = std::vector<guint8>;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* A jpegrecordsink with the system clock, a bus to read its messages from, and frames to push. */
class Recorder
{
public:
  /* @props: property names and values, as gst-launch would set them. */
  explicit Recorder (const std::vector<std::pair<const char *, std::string>> & props)
  {
    GstElement *sink = gst_element_factory_make ("jpegrecordsink", nullptr);
    for (const auto & [name, value] : props)
      gst_util_set_object_arg (G_OBJECT (sink), name, value.c_str ());
    h_.reset (gst_harness_new_with_element (sink, "sink", nullptr));
    gst_object_unref (sink);
    gst_harness_use_systemclock (h_.get ());
    /* Element messages go to a queue of the test's own, straight from the posting thread: the
     * writer thread posts while the test reads, and a GstBus popped with a zero timeout meanwhile
     * hung in ppoll under ASan (GStreamer 1.22). */
    messages_ = g_async_queue_new_full (reinterpret_cast<GDestroyNotify> (gst_message_unref));
    bus_ = gst_bus_new ();
    gst_bus_set_sync_handler (
        bus_,
        [] (GstBus *, GstMessage *m, gpointer queue) {
          if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT)
            g_async_queue_push (static_cast<GAsyncQueue *> (queue), gst_message_ref (m));
          return GST_BUS_DROP;
        },
        messages_, nullptr);
    gst_element_set_bus (h_->element, bus_);
    gst_harness_set_src_caps_str (h_.get (), "image/jpeg,width=320,height=240,framerate=0/1");
    gst_harness_play (h_.get ());
  }
  ~Recorder ()
  {
    h_.reset ();
    gst_object_unref (bus_);
    g_async_queue_unref (messages_);
  }

  /* Pushes @frame as having arrived @age_us ago; returns the wall-clock time (Unix µs) it
   * arrived at. */
  /* The pipeline's running time now. */
  GstClockTime running_now ()
  {
    g_autoptr (GstClock) clock = gst_element_get_clock (h_->element);
    return gst_clock_get_time (clock) - gst_element_get_base_time (h_->element);
  }

  gint64 push (const Bytes & frame, gint64 age_us)
  {
    GstClockTime running = running_now ();
    gint64 wall = g_get_real_time () - age_us;
    GstBuffer *buf = crtest::buffer_from (frame);
    GST_BUFFER_PTS (buf) = running - static_cast<GstClockTime> (age_us) * GST_USECOND;
    EXPECT_EQ (gst_harness_push (h_.get (), buf), GST_FLOW_OK);
    return wall;
  }

  GstFlowReturn push_buffer (GstBuffer *buf) { return gst_harness_push (h_.get (), buf); }

  /* A property, as an application sets it while the pipeline plays. */
  void set (const char *name, const char *value)
  {
    gst_util_set_object_arg (G_OBJECT (h_->element), name, value);
  }

  /* Closes the open file, as a pipeline that stops does. */
  void stop () { h_.reset (); }

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

  std::string stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (h_->element, "stats", &s, nullptr);
    const gchar *v = s ? gst_structure_get_string (s, field) : nullptr;
    std::string out = v ? v : "";
    if (s)
      gst_structure_free (s);
    return out;
  }

  /* The "state" of the next jpegrecordsink-state message, "" if none came within @timeout_ms
   * (frames are written by a thread of their own, a moment after they were pushed). */
  std::string next_state (std::string *reason = nullptr, int timeout_ms = 0)
  {
    const gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
    for (;;) {
      gint64 left = MAX (0, deadline - g_get_monotonic_time ());
      auto *m = static_cast<GstMessage *> (g_async_queue_timeout_pop (messages_, left));
      if (!m)
        return "";
      const GstStructure *s = gst_message_get_structure (m);
      std::string state;
      if (gst_structure_has_name (s, "jpegrecordsink-state")) {
        state = gst_structure_get_string (s, "state");
        if (reason)
          *reason = gst_structure_get_string (s, "reason");
      }
      gst_message_unref (m);
      if (!state.empty ())
        return state;
    }
  }

private:
  Harness h_;
  GstBus *bus_ = nullptr;
  GAsyncQueue *messages_ = nullptr;
};

std::vector<Bytes>
frames ()
{
  crtest::JpegSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.pattern = "ball";
  static std::vector<Bytes> made = crtest::make_jpegs (8, spec);
  return made;
}

/* A camera at 10 fps for 5 s, silent for 20 s, then at 2 fps for 30 s, in 10 s segments: every
 * frame is in the files once, byte for byte, at its arrival time (the file name plus its
 * timestamp), the pause is a gap, and each file is named and bounded as the contract says. */
TEST (JpegRecordSink, VariableRateAndPauseKeepTheirRealTiming)
{
  crtest::TempDir dir;
  std::string location = dir.file ("cam");
  std::vector<double> schedule; /* seconds after the first frame */
  for (int i = 0; i < 50; i++)
    schedule.push_back (i * 0.1);
  for (int i = 0; i < 60; i++)
    schedule.push_back (25.0 + i * 0.5);
  const double end = schedule.back () + 0.5;
  std::vector<gint64> arrived;
  std::vector<Bytes> sent;
  {
    Recorder rec ({ { "location", location }, { "segment", "10000000000" } });
    for (gsize i = 0; i < schedule.size (); i++) {
      sent.push_back (frames ()[i % frames ().size ()]);
      arrived.push_back (rec.push (sent.back (), std::llround ((end - schedule[i]) * 1e6)));
      /* A camera sends at its pace: never more waiting for the writer than it takes. */
      if (i % 20 == 19) {
        ASSERT_TRUE (crtest::wait_until ([&] { return rec.count ("frames") == i + 1; }, 5000));
      }
    }
    EXPECT_TRUE (crtest::wait_until ([&] { return rec.stat ("state") == "recording"; }, 5000));
  }

  std::string error;
  auto segments = crtest::probe_segments (location, &error);
  ASSERT_TRUE (error.empty ()) << error;
  ASSERT_GE (segments.size (), 5u); /* 55 s in 10 s windows, one of them all pause */
  gsize k = 0;
  for (const auto & seg : segments) {
    EXPECT_EQ (crtest::decode_errors (seg.path), "") << seg.path;
    ASSERT_FALSE (seg.packets.empty ()) << seg.path;
    /* Named by its first frame's second; ends at the next multiple of 10 s. */
    EXPECT_EQ (seg.start, arrived[k] / G_USEC_PER_SEC) << seg.path;
    EXPECT_LT (seg.wall (seg.packets.size () - 1), (seg.start / 10 + 1) * 10.0) << seg.path;
    /* The duration is the real span of the file, not a frame count over a frame rate. */
    double span = seg.packets.back ().pts;
    EXPECT_NEAR (seg.duration, span, 0.002) << seg.path;
    for (gsize i = 0; i < seg.packets.size (); i++, k++) {
      ASSERT_LT (k, sent.size ());
      EXPECT_NEAR (seg.wall (i), arrived[k] / 1e6, 0.002) << seg.path << " packet " << i;
      EXPECT_EQ (seg.packets[i].size, static_cast<gint64> (sent[k].size ()));
    }
  }
  EXPECT_EQ (k, sent.size ()) << "every frame recorded once";

  /* The pause is a gap of 20 s between two packets, not repeated frames: the gap between their
   * arrivals, which is 20.1 s plus the time the test took from one push to the next (milliseconds
   * on a loaded machine under ASan). */
  std::vector<double> walls;
  for (const auto & seg : segments) {
    for (gsize i = 0; i < seg.packets.size (); i++)
      walls.push_back (seg.wall (i));
  }
  ASSERT_EQ (walls.size (), sent.size ());
  EXPECT_NEAR (walls[50] - walls[49], (arrived[50] - arrived[49]) / 1e6, 0.003);
  EXPECT_NEAR (walls[50] - walls[49], 20.1, 0.5);

  EXPECT_EQ (crtest::first_packet (segments[0].path), sent[0]) << "the first packet is the frame";
}

/* interval = 10: the first frame of each 10 s of wall-clock time, and no other, in a file of the
 * day. */
TEST (JpegRecordSink, TimelapseKeepsTheFirstFrameOfEachInterval)
{
  crtest::TempDir dir;
  std::string location = dir.file ("timelapse");
  std::vector<gint64> arrived, kept;
  {
    Recorder rec ({ { "location", location }, { "segment", "86400000000000" },
        { "interval", "10000000000" } });
    for (int i = 0; i < 45; i++)
      arrived.push_back (rec.push (frames ()[i % 8], (45 - i) * G_USEC_PER_SEC + 300000));
  }
  gint64 slot = -1;
  for (gint64 a : arrived) {
    if (a / (10 * G_USEC_PER_SEC) != slot) {
      slot = a / (10 * G_USEC_PER_SEC);
      kept.push_back (a);
    }
  }
  std::string error;
  auto segments = crtest::probe_segments (location, &error);
  ASSERT_TRUE (error.empty ()) << error;
  std::vector<double> walls;
  for (const auto & seg : segments) {
    for (gsize i = 0; i < seg.packets.size (); i++)
      walls.push_back (seg.wall (i));
  }
  ASSERT_EQ (walls.size (), kept.size ());
  for (gsize i = 0; i < kept.size (); i++)
    EXPECT_NEAR (walls[i], kept[i] / 1e6, 0.002);
}

/* A folder it cannot write pauses recording with the reason, posted once; frames are dropped and
 * the element keeps going; once the folder can be written it records again by itself. */
TEST (JpegRecordSink, WriteErrorPausesWithReasonAndRecoversByItself)
{
  crtest::TempDir dir;
  std::string blocker = dir.write ("cam", std::string ("not a folder"));
  Recorder rec ({ { "location", blocker } });
  rec.push (frames ()[0], 0);
  rec.push (frames ()[1], 0);
  std::string reason;
  EXPECT_EQ (rec.next_state (&reason, 5000), "paused");
  EXPECT_NE (reason.find ("cannot write"), std::string::npos) << reason;
  EXPECT_TRUE (crtest::wait_until ([&] { return rec.count ("skipped") == 2; }, 5000))
      << "both frames dealt with";
  EXPECT_EQ (rec.next_state (), "") << "one message per change of cause";
  EXPECT_EQ (rec.stat ("state"), "paused");
  EXPECT_EQ (rec.stat ("reason"), reason);

  ASSERT_EQ (g_unlink (blocker.c_str ()), 0);
  /* Tries again once a second. */
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (rec.stat ("state") != "recording" && g_get_monotonic_time () < deadline) {
    rec.push (frames ()[2], 0);
    g_usleep (50000);
  }
  EXPECT_EQ (rec.stat ("state"), "recording");
  EXPECT_EQ (rec.next_state (nullptr, 5000), "recording");
  EXPECT_EQ (rec.stat ("reason"), "");
}

/* A write that keeps failing for the same cause is said once, not once a try: each try is for
 * the segment of another second (another file name), which is no new cause. */
TEST (JpegRecordSink, LastingWriteErrorIsSaidOnce)
{
  crtest::TempDir dir;
  std::string blocker = dir.write ("cam", std::string ("not a folder"));
  Recorder rec ({ { "location", blocker } });
  rec.push (frames ()[0], 0);
  EXPECT_EQ (rec.next_state (nullptr, 5000), "paused");
  /* Three tries, a second apart, each for a segment of its own second. */
  gint64 end = g_get_monotonic_time () + 3200 * 1000;
  while (g_get_monotonic_time () < end) {
    rec.push (frames ()[1], 0);
    g_usleep (100000);
  }
  EXPECT_TRUE (crtest::wait_until ([&] { return rec.count ("errors") >= 3; }, 5000))
      << "tried again once a second: " << rec.count ("errors");
  EXPECT_EQ (rec.next_state (), "") << "one message while the cause stays the same";
  EXPECT_EQ (rec.stat ("state"), "paused");
}

/* Context switches so far of this process's thread called @name; -1 if there is none. */
gint64
thread_switches (const char *name)
{
  g_autoptr (GDir) tasks = g_dir_open ("/proc/self/task", 0, nullptr);
  while (const gchar *tid = tasks ? g_dir_read_name (tasks) : nullptr) {
    std::string base = std::string ("/proc/self/task/") + tid;
    g_autofree gchar *comm = nullptr;
    if (!g_file_get_contents ((base + "/comm").c_str (), &comm, nullptr, nullptr) ||
        g_strcmp0 (g_strstrip (comm), name) != 0)
      continue;
    g_autofree gchar *status = nullptr;
    if (!g_file_get_contents ((base + "/status").c_str (), &status, nullptr, nullptr))
      return -1;
    gint64 total = 0;
    g_auto (GStrv) lines = g_strsplit (status, "\n", -1);
    for (gchar **l = lines; *l; l++) {
      if (strstr (*l, "ctxt_switches:"))
        total += g_ascii_strtoll (strchr (*l, ':') + 1, nullptr, 10);
    }
    return total;
  }
  return -1;
}

/* A recorder whose camera is quiet costs nothing: the writer thread sleeps until a frame comes
 * instead of waking ten times a second (a thousand cameras with a time-lapse spend most of their
 * time like this), and still writes the next frame within its period. */
TEST (JpegRecordSink, QuietRecorderWakesNoThread)
{
  crtest::TempDir dir;
  Recorder rec ({ { "location", dir.file ("cam") } });
  rec.push (frames ()[0], 0);
  ASSERT_TRUE (crtest::wait_until ([&] { return rec.count ("frames") == 1; }, 5000));
  gint64 before = thread_switches ("cr-record-spool");
  ASSERT_GE (before, 0) << "the writer thread is named cr-record-spool";
  g_usleep (G_USEC_PER_SEC);
  EXPECT_LE (thread_switches ("cr-record-spool") - before, 1) << "it woke while nothing came";
  gint64 pushed = g_get_monotonic_time ();
  rec.push (frames ()[1], 0);
  ASSERT_TRUE (crtest::wait_until ([&] { return rec.count ("frames") == 2; }, 5000));
  /* Its period, with room for a loaded machine. */
  EXPECT_LT (g_get_monotonic_time () - pushed, 2 * G_USEC_PER_SEC);
}

/* A file of the same second (a restart within it) is never overwritten: recording goes on from
 * the next second, in a file of its own. */
TEST (JpegRecordSink, ExistingFileIsNeverOverwritten)
{
  crtest::TempDir dir;
  std::string location = dir.file ("cam");
  gint64 now = g_get_real_time ();
  gint64 second = now / G_USEC_PER_SEC - 5;
  std::string taken = location + "/" + cr::record::segment_relpath (second);
  ASSERT_EQ (g_mkdir_with_parents (location.c_str (), 0755), 0);
  dir.write ("cam/" + cr::record::segment_relpath (second), std::string ("precious"));
  {
    Recorder rec ({ { "location", location } });
    rec.push (frames ()[0], now - (second * G_USEC_PER_SEC + 500000));
    rec.push (frames ()[1], now - ((second + 1) * G_USEC_PER_SEC + 200000));
  }
  gchar *text = nullptr;
  ASSERT_TRUE (g_file_get_contents (taken.c_str (), &text, nullptr, nullptr));
  EXPECT_STREQ (text, "precious");
  g_free (text);
  std::string error;
  auto segments = crtest::probe_segments (location, &error);
  ASSERT_EQ (segments.size (), 2u);
  EXPECT_EQ (segments[1].start, second + 1);
  ASSERT_EQ (segments[1].packets.size (), 1u);
  EXPECT_EQ (crtest::first_packet (segments[1].path), frames ()[1]);
}

}  // namespace

namespace {

/* Frames a camera's socket delivered together carry the same arrival time: they are recorded in
 * order, 1 ms apart, and the file plays without complaint (equal timestamps do not). */
TEST (JpegRecordSink, FramesStampedTogetherStayInOrder)
{
  crtest::TempDir dir;
  std::string location = dir.file ("cam");
  {
    Recorder rec ({ { "location", location } });
    /* 10 fps, a second ago, but frames 5 to 7 read together: one arrival time for the three. */
    const GstClockTime start = rec.running_now () - GST_SECOND;
    for (int i = 0; i < 10; i++) {
      GstBuffer *buf = crtest::buffer_from (frames ()[i % 8]);
      GST_BUFFER_PTS (buf) = start + (i >= 5 && i <= 7 ? 5 : i) * GST_SECOND / 10;
      ASSERT_EQ (rec.push_buffer (buf), GST_FLOW_OK);
    }
  }
  std::string error;
  auto segments = crtest::probe_segments (location, &error);
  ASSERT_TRUE (error.empty ()) << error;
  std::vector<double> pts;
  for (const auto & seg : segments) {
    EXPECT_EQ (crtest::decode_errors (seg.path), "") << seg.path;
    for (gsize i = 0; i < seg.packets.size (); i++)
      pts.push_back (seg.wall (i));
  }
  ASSERT_EQ (pts.size (), 10u);
  EXPECT_NEAR (pts[6] - pts[5], 0.001, 1e-6);
  EXPECT_NEAR (pts[7] - pts[6], 0.001, 1e-6);
}

/* gated (record = motion): a camera at 10 fps, closed for 3 s, open for 1 s (motion), closed
 * again for 3 s, with a 1 s pre-roll and a 1 s post-roll: the files hold the second before the
 * opening, the open second and the second after the closing, each frame at its arrival time and
 * byte for byte; nothing from before the pre-roll or after the post-roll. */
TEST (JpegRecordSink, GatedKeepsPreRollAndPostRollAroundAnEvent)
{
  crtest::TempDir dir;
  std::string location = dir.file ("cam");
  std::vector<gint64> arrived;
  gint64 opened = 0, closed = 0;
  {
    Recorder rec ({ { "location", location }, { "gated", "true" }, { "pre-roll", "1000000000" },
        { "post-roll", "1000000000" } });
    const gint64 start = g_get_monotonic_time ();
    for (int i = 0; i < 70; i++) {
      const gint64 due = start + i * 100000;
      if (due > g_get_monotonic_time ())
        g_usleep (due - g_get_monotonic_time ());
      if (i == 30) {
        opened = g_get_real_time ();
        rec.set ("open", "true");
      }
      if (i == 40) {
        closed = g_get_real_time ();
        rec.set ("open", "false");
      }
      arrived.push_back (rec.push (frames ()[i % frames ().size ()], 0));
    }
    EXPECT_TRUE (crtest::wait_until ([&] { return rec.count ("frames") >= 25; }, 5000));
  }
  std::string error;
  auto segments = crtest::probe_segments (location, &error);
  ASSERT_TRUE (error.empty ()) << error;
  std::vector<double> walls;
  for (const auto & seg : segments) {
    for (gsize i = 0; i < seg.packets.size (); i++)
      walls.push_back (seg.wall (i));
  }
  ASSERT_FALSE (walls.empty ());
  /* Every frame recorded is one that arrived within [opened - 1 s, closed + 1 s]: the pre-roll is
   * the second before the newest frame held when it opened (on a loaded machine that frame may
   * have arrived a while before the test opened it). */
  gint64 last_held = opened;
  for (gint64 a : arrived) {
    if (a < opened)
      last_held = a;
  }
  for (double w : walls) {
    EXPECT_GE (w, last_held / 1e6 - 1.0 - 0.01);
    EXPECT_LE (w, closed / 1e6 + 1.0 + 0.01);
  }
  /* And every frame that arrived well within it is there (10 pre-roll, 10 open, 10 post-roll;
   * a frame at either edge may fall either way on a loaded machine). */
  int expected = 0;
  for (gint64 a : arrived)
    expected += a >= opened - 900000 && a <= closed + 900000;
  EXPECT_GE (static_cast<int> (walls.size ()), expected);
  EXPECT_LE (walls.size (), 32u);
  EXPECT_GE (walls.size (), 26u);
  for (gsize i = 1; i < walls.size (); i++)
    EXPECT_GT (walls[i], walls[i - 1]) << "in arrival order";
}

}  // namespace
