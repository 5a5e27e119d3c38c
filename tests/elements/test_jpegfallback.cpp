/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jpegfallback: live frames pass untouched, a placeholder covers start-up and stalls.
 *
 * Everything runs on GstTestClock. Two kinds of clock waits are pending at any time:
 * imagefreeze's synchronous wait for its next placeholder tick (always), and
 * jpegfallback's asynchronous timeout wait (while live frames are output).
 * advance_to() releases them in time order, and after each one waits until both are
 * registered again, which also means imagefreeze has finished pushing its tick. */
#include <gtest/gtest.h>

#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "testjpeg.h"

namespace {

using Bytes = std::vector<guint8>;

constexpr GstClockTime kTimeout = 5 * GST_SECOND;
constexpr GstClockTime kMs = GST_MSECOND;
/* Upper bound on waiting for imagefreeze to come back to the clock; only reached
 * when a test fails (a thread is stuck), never part of the timing under test. */
constexpr guint kStuckMs = 10000;

constexpr int kPlaceholderWidth = 320;
constexpr int kLiveWidth = 640;

struct Media
{
  std::string dir;
  std::string placeholder; /* path of a 320x240 SMPTE-bars JPEG */
  std::vector<guint8> placeholder_bytes;
  std::vector<std::vector<guint8>> live; /* 640x480 snow frames */
};

Media *media = nullptr;

std::string
write_file (const std::string & name, const guint8 *data, gsize size)
{
  std::string path = media->dir + G_DIR_SEPARATOR_S + name;
  g_autoptr (GError) error = nullptr;
  if (!g_file_set_contents (path.c_str (), (const gchar *) data, size, &error))
    ADD_FAILURE () << error->message;
  return path;
}

std::string
write_file (const std::string & name, const std::vector<guint8> & bytes)
{
  return write_file (name, bytes.data (), bytes.size ());
}

/* Width from the first SOFn segment, or -1: tells placeholder from live frames. */
int
jpeg_width (GstBuffer *buf)
{
  std::vector<guint8> b = crtest::bytes_of (buf);
  size_t i = 2;
  while (i + 9 < b.size ()) {
    if (b[i] != 0xFF)
      return -1;
    guint8 marker = b[i + 1];
    size_t len = (b[i + 2] << 8) | b[i + 3];
    bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof)
      return (b[i + 7] << 8) | b[i + 8];
    i += 2 + len;
  }
  return -1;
}

std::string
nick_of_active (GstElement *element)
{
  gint value = 0;
  g_object_get (element, "active", &value, nullptr);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (element), "active");
  GEnumValue *ev = g_enum_get_value (G_PARAM_SPEC_ENUM (pspec)->enum_class, value);
  return ev ? ev->value_nick : "?";
}

guint64
stat (GstElement *element, const char *field)
{
  GstStructure *s = nullptr;
  g_object_get (element, "stats", &s, nullptr);
  guint64 v = G_MAXUINT64;
  EXPECT_TRUE (gst_structure_get_uint64 (s, field, &v)) << field;
  gst_structure_free (s);
  return v;
}

struct Switch
{
  std::string active, reason;
  guint64 running_time = 0, switches = 0;
};

class JpegFallback : public ::testing::Test
{
protected:
  static void SetUpTestSuite ()
  {
    media = new Media ();
    g_autofree gchar *dir = g_dir_make_tmp ("jpegfallback-XXXXXX", nullptr);
    media->dir = dir;
    crtest::JpegSpec ph;
    ph.width = kPlaceholderWidth;
    ph.height = 240;
    ph.pattern = "smpte";
    media->placeholder_bytes = crtest::make_jpegs (1, ph)[0];
    media->placeholder = write_file ("placeholder.jpg", media->placeholder_bytes);
    crtest::JpegSpec live;
    live.width = kLiveWidth;
    live.height = 480;
    media->live = crtest::make_jpegs (4, live);
  }

  static void TearDownTestSuite ()
  {
    g_autoptr (GDir) dir = g_dir_open (media->dir.c_str (), 0, nullptr);
    while (const gchar *name = dir ? g_dir_read_name (dir) : nullptr) {
      std::string path = media->dir + G_DIR_SEPARATOR_S + name;
      g_unlink (path.c_str ());
    }
    g_rmdir (media->dir.c_str ());
    delete media;
    media = nullptr;
  }

  void TearDown () override
  {
    if (h)
      gst_harness_teardown (h);
    if (clock)
      gst_object_unref (clock);
    if (bus)
      gst_object_unref (bus);
  }

  void start (guint fps = 1, const std::string & placeholder = "",
      const std::function<void (GstElement *)> & before_play = nullptr)
  {
    GstElement *e = gst_element_factory_make ("jpegfallback", nullptr);
    ASSERT_NE (e, nullptr);
    if (before_play)
      before_play (e);
    g_object_set (e, "placeholder",
        placeholder.empty () ? media->placeholder.c_str () : placeholder.c_str (),
        "placeholder-fps", fps, "timeout", kTimeout, nullptr);
    g_signal_connect (e, "notify::active",
        G_CALLBACK (+[] (GObject *, GParamSpec *, gpointer data) { ++*static_cast<int *> (data); }),
        &active_notifies);
    bus = gst_bus_new ();
    gst_element_set_bus (e, bus);
    /* Attaches the harness's GstTestClock (base time 0) and goes to PLAYING. */
    h = gst_harness_new_with_element (e, "sink", "src");
    gst_object_unref (e);
    clock = gst_harness_get_testclock (h);
    gst_harness_set_src_caps_str (h,
        "image/jpeg, parsed=(boolean)true, "
        "width=(int)640, height=(int)480, framerate=(fraction)0/1");
  }

  std::string active () { return nick_of_active (h->element); }

  /* Whether the element's imagefreeze runs (repeats the placeholder): PLAYING. Stopped means back
   * in READY (or NULL), its streaming thread joined: not merely out of PLAYING. */
  GstState freeze_state ()
  {
    g_autoptr (GstElement) freeze =
        gst_bin_get_by_name (GST_BIN (h->element), "placeholder-freeze");
    GstState state = GST_STATE_NULL;
    gst_element_get_state (freeze, &state, nullptr, 0);
    return state;
  }
  bool is_repeating (bool want)
  {
    GstState s = freeze_state ();
    return want ? s == GST_STATE_PLAYING : s <= GST_STATE_READY;
  }
  bool repeating () { return is_repeating (true); }

  /* Waits (a bounded time) until imagefreeze runs or is stopped. */
  bool wait_until_repeating (bool want)
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    while (!is_repeating (want) && g_get_monotonic_time () < deadline)
      g_usleep (1000);
    return is_repeating (want);
  }

  /* Waits until imagefreeze runs exactly while the placeholder shows (it is started and stopped
   * by a pooled thread): then the clock waits pending are the element's and imagefreeze's. */
  void settle ()
  {
    bool want = active () != "live";
    ASSERT_TRUE (wait_until_repeating (want))
        << "imagefreeze did not " << (want ? "start" : "stop");
  }

  /* imagefreeze started again: its first wait (already due) is let go. */
  void release_first_tick ()
  {
    ASSERT_TRUE (wait_until_repeating (true)) << "imagefreeze did not start";
    GList *pending = nullptr;
    ASSERT_TRUE (gst_test_clock_timed_wait_for_multiple_pending_ids (clock, 1, kStuckMs, &pending))
        << "imagefreeze does not wait for its first tick";
    auto id = static_cast<GstClockID> (pending->data);
    ASSERT_LE (gst_clock_id_get_time (id), now ()) << "the first tick is not due at once";
    gst_test_clock_process_id (clock, gst_clock_id_ref (id));
    g_list_free_full (pending, (GDestroyNotify) gst_clock_id_unref);
  }

  /* Releases every clock wait up to @target in time order, then sets the clock
   * to @target. */
  void advance_to (GstClockTime target)
  {
    for (int processed = 0;; processed++) {
      ASSERT_LT (processed, 10000) << "clock waits re-armed without end";
      /* Live: the timeout's; on the placeholder: imagefreeze's. */
      ASSERT_NO_FATAL_FAILURE (settle ());
      guint expected = 1;
      GList *pending = nullptr;
      gst_test_clock_timed_wait_for_multiple_pending_ids (clock, expected, kStuckMs, &pending);
      ASSERT_GE (g_list_length (pending), expected)
          << "a clock wait did not come back: imagefreeze stuck?";
      GstClockID next = static_cast<GstClockID> (pending->data);
      GstClockTime t = gst_clock_id_get_time (next);
      if (t > target) {
        g_list_free_full (pending, (GDestroyNotify) gst_clock_id_unref);
        break;
      }
      if (t > gst_clock_get_time (GST_CLOCK (clock)))
        gst_test_clock_set_time (clock, t);
      gst_test_clock_process_id (clock, gst_clock_id_ref (next));
      g_list_free_full (pending, (GDestroyNotify) gst_clock_id_unref);
    }
    if (target > gst_clock_get_time (GST_CLOCK (clock)))
      gst_test_clock_set_time (clock, target);
  }

  /* Times of the pending clock waits, earliest first. */
  std::vector<GstClockTime> pending_times ()
  {
    settle ();
    guint expected = 1;
    GList *pending = nullptr;
    gst_test_clock_timed_wait_for_multiple_pending_ids (clock, expected, kStuckMs, &pending);
    std::vector<GstClockTime> times;
    for (GList *l = pending; l; l = l->next)
      times.push_back (gst_clock_id_get_time (static_cast<GstClockID> (l->data)));
    g_list_free_full (pending, (GDestroyNotify) gst_clock_id_unref);
    return times;
  }

  GstClockTime now () { return gst_clock_get_time (GST_CLOCK (clock)); }

  /* Pushes live frame @i stamped with the current time. */
  GstFlowReturn push_live (size_t i)
  {
    GstBuffer *buf = crtest::buffer_from (media->live[i % media->live.size ()]);
    GST_BUFFER_PTS (buf) = now ();
    return gst_harness_push (h, buf);
  }

  /* Waits (a bounded time) for the placeholder that goes out at the start without the clock (a
   * pooled thread sends it), and checks it: the placeholder at running time 0. */
  void pull_first_placeholder ()
  {
    GstBuffer *first = nullptr;
    gint64 deadline = g_get_monotonic_time () + kStuckMs * 1000;
    while (!(first = gst_harness_try_pull (h)) && g_get_monotonic_time () < deadline)
      g_usleep (1000);
    ASSERT_NE (first, nullptr) << "no placeholder at the start";
    EXPECT_EQ (jpeg_width (first), kPlaceholderWidth);
    EXPECT_EQ (GST_BUFFER_PTS (first), 0u);
    gst_buffer_unref (first);
  }

  /* Pulls every buffer already output and checks they are all placeholder
   * frames; returns their PTS. */
  std::vector<GstClockTime> pull_placeholders ()
  {
    std::vector<GstClockTime> pts;
    while (GstBuffer *buf = gst_harness_try_pull (h)) {
      EXPECT_EQ (jpeg_width (buf), kPlaceholderWidth);
      pts.push_back (GST_BUFFER_PTS (buf));
      gst_buffer_unref (buf);
    }
    return pts;
  }

  /* The next "jpegfallback-switched" message, if one was posted. */
  bool next_switch (Switch *out)
  {
    while (GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) {
      const GstStructure *s = gst_message_get_structure (m);
      if (gst_structure_has_name (s, "jpegfallback-switched")) {
        out->active = gst_structure_get_string (s, "active");
        out->reason = gst_structure_get_string (s, "reason");
        EXPECT_TRUE (gst_structure_get_uint64 (s, "running-time", &out->running_time));
        EXPECT_TRUE (gst_structure_get_uint64 (s, "switches", &out->switches));
        gst_message_unref (m);
        return true;
      }
      gst_message_unref (m);
    }
    return false;
  }

  void expect_switch (const char *active, const char *reason, GstClockTime running_time,
      guint64 switches)
  {
    Switch sw;
    ASSERT_TRUE (next_switch (&sw)) << "no switch to " << active;
    EXPECT_EQ (sw.active, active);
    EXPECT_EQ (sw.reason, reason);
    EXPECT_EQ (sw.running_time, running_time);
    EXPECT_EQ (sw.switches, switches);
  }

  GstHarness *h = nullptr;
  GstTestClock *clock = nullptr;
  GstBus *bus = nullptr;
  int active_notifies = 0;
};

TEST_F (JpegFallback, PlaceholderFramesComeOutBeforeAnyLiveFrame)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (2 * GST_SECOND));

  std::vector<GstClockTime> pts = pull_placeholders ();
  EXPECT_EQ (pts, (std::vector<GstClockTime>{ 0, GST_SECOND, 2 * GST_SECOND }));
  EXPECT_EQ (active (), "placeholder");
  Switch sw;
  EXPECT_FALSE (next_switch (&sw)) << "start-up is not a switch";
}

TEST_F (JpegFallback, FirstLiveFrameComesOutUntouchedAndAtOnce)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);

  for (size_t i = 0; i < 4; i++) {
    GstBuffer *in = crtest::buffer_from (media->live[i]);
    GST_BUFFER_PTS (in) = now ();
    GstMemory *mem = gst_memory_ref (gst_buffer_peek_memory (in, 0));
    ASSERT_EQ (gst_harness_push (h, in), GST_FLOW_OK);

    /* No clock advanced, no other thread involved: out during the push. */
    GstBuffer *out = gst_harness_try_pull (h);
    ASSERT_NE (out, nullptr) << "live frame " << i << " was held back";
    EXPECT_EQ (gst_buffer_n_memory (out), 1u);
    EXPECT_EQ (gst_buffer_peek_memory (out, 0), mem) << "live frame copied";
    EXPECT_EQ (crtest::bytes_of (out), media->live[i]);
    gst_buffer_unref (out);
    gst_memory_unref (mem);

    if (i == 0)
      expect_switch ("live", "first-frame", 500 * kMs, 1);
    ASSERT_NO_FATAL_FAILURE (advance_to (now () + 100 * kMs));
  }
  EXPECT_EQ (active (), "live");
  EXPECT_EQ (active_notifies, 1);

  /* Placeholder ticks at 1 s, 2 s and 3 s stay inside while live. */
  ASSERT_NO_FATAL_FAILURE (advance_to (3 * GST_SECOND));
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 0u);
  Switch sw;
  EXPECT_FALSE (next_switch (&sw));
}

TEST_F (JpegFallback, EndOfLiveStreamEndsTheOutputEvenOnThePlaceholder)
{
  /* gst-launch-1.0 -e and applications stop by sending EOS; it must come out, or they wait
   * forever while the placeholder shows. */
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (active (), "placeholder");
  ASSERT_TRUE (gst_harness_push_event (h, gst_event_new_eos ()));
  bool got_eos = false;
  while (GstEvent *ev = gst_harness_try_pull_event (h)) {
    got_eos |= GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  EXPECT_TRUE (got_eos);
}

TEST_F (JpegFallback, EndOfStreamOnThePlaceholderIsASwitchToLive)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_TRUE (gst_harness_push_event (h, gst_event_new_eos ()));
  /* The selector now outputs the live input (its EOS): the state, the stats and the
   * notifications must say so. */
  EXPECT_EQ (active (), "live");
  expect_switch ("live", "end-of-stream", 500 * kMs, 1);
  EXPECT_EQ (active_notifies, 1);
  EXPECT_EQ (stat (h->element, "switches"), 1u);
  EXPECT_EQ (stat (h->element, "time-on-placeholder"), 500 * kMs);
}

TEST_F (JpegFallback, NoTimeoutSwitchAfterTheEndOfTheLiveStream)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  expect_switch ("live", "first-frame", 500 * kMs, 1);
  ASSERT_EQ (pending_times ().back (), 500 * kMs + kTimeout);
  ASSERT_TRUE (gst_harness_push_event (h, gst_event_new_eos ()));

  /* The stream has ended: its timeout wait is gone, so nothing can switch the
   * selector back to the placeholder behind the EOS. */
  GList *pending = nullptr;
  gst_test_clock_timed_wait_for_multiple_pending_ids (clock, 1, 1000, &pending);
  for (GList *l = pending; l; l = l->next)
    EXPECT_NE (gst_clock_id_get_time (static_cast<GstClockID> (l->data)), 500 * kMs + kTimeout)
        << "the timeout wait outlived the stream";
  g_list_free_full (pending, (GDestroyNotify) gst_clock_id_unref);
  EXPECT_EQ (active (), "live");
  Switch sw;
  EXPECT_FALSE (next_switch (&sw));
}

TEST_F (JpegFallback, NoLiveFrameForTimeoutSwitchesToPlaceholderThenResumes)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_try_pull (h));
  expect_switch ("live", "first-frame", 500 * kMs, 1);

  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs + kTimeout - 1));
  EXPECT_EQ (active (), "live");
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 0u);

  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs + kTimeout));
  EXPECT_EQ (active (), "placeholder");
  expect_switch ("placeholder", "timeout", 500 * kMs + kTimeout, 2);

  /* At the switch, then imagefreeze's ticks. */
  ASSERT_NO_FATAL_FAILURE (advance_to (7200 * kMs));
  EXPECT_EQ (pull_placeholders (),
      (std::vector<GstClockTime>{ 500 * kMs + kTimeout, 6 * GST_SECOND, 7 * GST_SECOND }));

  GstBuffer *in = crtest::buffer_from (media->live[1]);
  GstMemory *mem = gst_memory_ref (gst_buffer_peek_memory (in, 0));
  ASSERT_EQ (gst_harness_push (h, in), GST_FLOW_OK);
  GstBuffer *out = gst_harness_try_pull (h);
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (gst_buffer_peek_memory (out, 0), mem);
  gst_buffer_unref (out);
  gst_memory_unref (mem);
  EXPECT_EQ (active (), "live");
  expect_switch ("live", "resumed", 7200 * kMs, 3);
  EXPECT_EQ (active_notifies, 3);
}

TEST_F (JpegFallback, FramesJustBeforeTheDeadlineKeepItLive)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  EXPECT_EQ (pending_times ().back (), 500 * kMs + kTimeout);
  ASSERT_NO_FATAL_FAILURE (advance_to (5400 * kMs));

  /* A burst like a fast camera's: still one pending timeout wait. */
  for (int i = 0; i < 1000; i++)
    ASSERT_EQ (push_live (i), GST_FLOW_OK);
  EXPECT_EQ (pending_times (), (std::vector<GstClockTime>{ 500 * kMs + kTimeout }))
      << "exactly one timeout wait (imagefreeze is stopped while live)";

  /* The first deadline passes: the wait re-arms at 5.4 s + timeout. */
  ASSERT_NO_FATAL_FAILURE (advance_to (5500 * kMs));
  EXPECT_EQ (active (), "live");
  EXPECT_EQ (pending_times ().back (), 5400 * kMs + kTimeout);
  ASSERT_NO_FATAL_FAILURE (advance_to (5400 * kMs + kTimeout - 1));
  EXPECT_EQ (active (), "live");
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 1001u) << "live frames only";

  ASSERT_NO_FATAL_FAILURE (advance_to (5400 * kMs + kTimeout));
  EXPECT_EQ (active (), "placeholder");
  expect_switch ("live", "first-frame", 500 * kMs, 1);
  expect_switch ("placeholder", "timeout", 5400 * kMs + kTimeout, 2);
}

/* Holds buffers at a pad until released; tells when one is held. */
struct Gate
{
  GMutex lock;
  GCond cond;
  bool holding = false;

  Gate ()
  {
    g_mutex_init (&lock);
    g_cond_init (&cond);
  }
  ~Gate ()
  {
    g_mutex_clear (&lock);
    g_cond_clear (&cond);
  }

  static GstPadProbeReturn on_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
  {
    auto *gate = static_cast<Gate *> (data);
    g_mutex_lock (&gate->lock);
    gate->holding = true;
    g_cond_signal (&gate->cond);
    g_mutex_unlock (&gate->lock);
    return GST_PAD_PROBE_OK;
  }

  bool wait_holding ()
  {
    gint64 until = g_get_monotonic_time () + kStuckMs * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock (&lock);
    while (!holding && g_cond_wait_until (&cond, &lock, until)) {
    }
    bool ok = holding;
    g_mutex_unlock (&lock);
    return ok;
  }
};

/* A placeholder frame already encoded when live frames take over reaches the
 * selector's now inactive pad. It must be dropped at once, not held until the
 * live stream's timestamps pass its own (input-selector's sync-streams), which
 * would stall the placeholder branch. */
TEST_F (JpegFallback, PlaceholderFrameCaughtInASwitchIsDroppedAtOnce)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);

  g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (h->element), "placeholder-freeze");
  ASSERT_NE (enc, nullptr);
  g_autoptr (GstPad) enc_src = gst_element_get_static_pad (enc, "src");
  Gate gate;
  gulong probe = gst_pad_add_probe (enc_src,
      (GstPadProbeType) (GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER), Gate::on_buffer,
      &gate, nullptr);

  /* Release the 1 s tick; it stops between imagefreeze and selector. */
  GstClockID tick = nullptr;
  gst_test_clock_wait_for_next_pending_id (clock, &tick);
  ASSERT_EQ (gst_clock_id_get_time (tick), GST_SECOND);
  gst_test_clock_set_time (clock, GST_SECOND);
  gst_test_clock_process_id (clock, tick);
  ASSERT_TRUE (gate.wait_holding ());

  /* Live frames take over; their capture times lag their arrival. */
  GstBuffer *in = crtest::buffer_from (media->live[0]);
  GST_BUFFER_PTS (in) = 900 * kMs;
  ASSERT_EQ (gst_harness_push (h, in), GST_FLOW_OK);
  EXPECT_EQ (active (), "live");

  gst_pad_remove_probe (enc_src, probe);
  /* imagefreeze comes back to the clock for its 2 s tick only once the held
   * frame has left the selector. */
  ASSERT_NO_FATAL_FAILURE (advance_to (2500 * kMs));
  GstBuffer *out = gst_harness_try_pull (h);
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (jpeg_width (out), kLiveWidth);
  gst_buffer_unref (out);
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 0u) << "held frame was output";
}

TEST_F (JpegFallback, StatsCountFramesSwitchesAndTimeOnPlaceholder)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  for (int i = 0; i < 4; i++)
    ASSERT_EQ (push_live (i), GST_FLOW_OK);

  ASSERT_NO_FATAL_FAILURE (advance_to (3 * GST_SECOND));
  EXPECT_EQ (stat (h->element, "switches"), 1u);
  EXPECT_EQ (stat (h->element, "live-frames"), 4u);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 1u);
  EXPECT_EQ (stat (h->element, "time-on-placeholder"), 500 * kMs);

  ASSERT_NO_FATAL_FAILURE (advance_to (7 * GST_SECOND));
  EXPECT_EQ (stat (h->element, "switches"), 2u);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 4u) << "0 s, 5.5 s (the switch), 6 s, 7 s";
  /* 0-0.5 s, then 5.5 s until now, the current stretch included. */
  EXPECT_EQ (stat (h->element, "time-on-placeholder"), 2 * GST_SECOND);

  GstStructure *s = nullptr;
  g_object_get (h->element, "stats", &s, nullptr);
  EXPECT_TRUE (gst_structure_has_name (s, "jpegfallback-stats"));
  EXPECT_STREQ (gst_structure_get_string (s, "active"), "placeholder");
  gst_structure_free (s);
}

TEST_F (JpegFallback, PlaceholderFpsIsHonoured)
{
  ASSERT_NO_FATAL_FAILURE (start (5));
  ASSERT_NO_FATAL_FAILURE (advance_to (2 * GST_SECOND));

  std::vector<GstClockTime> pts = pull_placeholders ();
  ASSERT_EQ (pts.size (), 11u) << "0 s to 2 s at 5 frames a second";
  for (size_t i = 0; i < pts.size (); i++)
    EXPECT_EQ (pts[i], i * 200 * kMs);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 11u);
}

/* Checks every buffer leaving a pad against the caps that pad announced. */
struct CapsCheck
{
  std::string pad;
  int buffers = 0;
  std::vector<std::string> mismatches;
};

GstPadProbeReturn
check_buffer_against_caps (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto *check = static_cast<CapsCheck *> (data);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  check->buffers++;
  g_autofree gchar *caps_text = caps ? gst_caps_to_string (caps) : g_strdup ("no caps");
  std::string where = check->pad + " (" + caps_text + "): ";
  const GstStructure *s = caps ? gst_caps_get_structure (caps, 0) : nullptr;
  if (s && gst_structure_has_name (s, "video/x-raw")) {
    GstVideoInfo vinfo;
    if (!gst_video_info_from_caps (&vinfo, caps))
      check->mismatches.push_back (where + "raw caps that describe no frame");
    else if (gst_buffer_get_size (buf) != GST_VIDEO_INFO_SIZE (&vinfo))
      check->mismatches.push_back (where + std::to_string (gst_buffer_get_size (buf)) +
          " bytes, not a raw frame of " + std::to_string (GST_VIDEO_INFO_SIZE (&vinfo)));
  } else if (s && gst_structure_has_name (s, "image/jpeg")) {
    gint width = 0;
    gst_structure_get_int (s, "width", &width);
    if (jpeg_width (buf) != width)
      check->mismatches.push_back (where + "a JPEG " + std::to_string (jpeg_width (buf)) +
          " wide, caps say " + std::to_string (width));
  } else {
    check->mismatches.push_back (where + "unexpected caps");
  }
  return GST_PAD_PROBE_OK;
}

/* What the placeholder path carries is what its caps say, at every pad inside the element, and
 * every pad feeding one belongs to an element of the bin; downstream gets the placeholder's own
 * JPEG caps (size and placeholder-fps) in its caps event. */
TEST_F (JpegFallback, PlaceholderPathCapsSayWhatFlows)
{
  ASSERT_NO_FATAL_FAILURE (start (5));
  std::vector<std::unique_ptr<CapsCheck>> checks;
  /* Removed before the checks go away (imagefreeze keeps ticking), also when an assertion fails. */
  struct Probes
  {
    std::vector<std::pair<GstPad *, gulong>> ids;
    ~Probes ()
    {
      for (auto & [pad, id] : ids) {
        gst_pad_remove_probe (pad, id);
        gst_object_unref (pad);
      }
    }
  } probes;
  g_autoptr (GstElement) freeze = gst_bin_get_by_name (GST_BIN (h->element), "placeholder-freeze");
  ASSERT_NE (freeze, nullptr);
  g_autoptr (GstPad) freeze_sink = gst_element_get_static_pad (freeze, "sink");
  g_autoptr (GstPad) feeder = gst_pad_get_peer (freeze_sink);
  ASSERT_NE (feeder, nullptr);
  g_autoptr (GstElement) feeder_owner = gst_pad_get_parent_element (feeder);
  ASSERT_NE (feeder_owner, nullptr) << "imagefreeze is fed from a pad of no element";
  EXPECT_EQ (GST_OBJECT_PARENT (feeder_owner), GST_OBJECT (h->element));

  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (h->element));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *child = GST_ELEMENT (g_value_get_object (&item));
    GstIterator *pads = gst_element_iterate_src_pads (child);
    GValue pad_item = G_VALUE_INIT;
    while (gst_iterator_next (pads, &pad_item) == GST_ITERATOR_OK) {
      GstPad *pad = GST_PAD (g_value_get_object (&pad_item));
      auto check = std::make_unique<CapsCheck> ();
      check->pad = std::string (GST_OBJECT_NAME (child)) + ":" + GST_OBJECT_NAME (pad);
      probes.ids.emplace_back (GST_PAD (gst_object_ref (pad)),
          gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, check_buffer_against_caps,
              check.get (), nullptr));
      checks.push_back (std::move (check));
      g_value_reset (&pad_item);
    }
    g_value_unset (&pad_item);
    gst_iterator_free (pads);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);

  ASSERT_NO_FATAL_FAILURE (advance_to (GST_SECOND));
  EXPECT_EQ (pull_placeholders ().size (), 6u);
  int checked = 0;
  for (const auto & check : checks) {
    checked += check->buffers;
    for (const std::string & m : check->mismatches)
      ADD_FAILURE () << m;
  }
  EXPECT_GT (checked, 0);

  g_autoptr (GstCaps) out = gst_pad_get_current_caps (h->sinkpad);
  ASSERT_NE (out, nullptr);
  g_autoptr (GstCaps) want =
      gst_caps_from_string ("image/jpeg, width=(int)320, height=(int)240, framerate=(fraction)5/1");
  EXPECT_TRUE (gst_caps_is_subset (out, want)) << gst_caps_to_string (out);
  EXPECT_TRUE (gst_caps_is_fixed (out));
}

TEST_F (JpegFallback, ShorterTimeoutAppliesToThePendingDeadline)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  g_object_set (h->element, "timeout", GST_SECOND, nullptr);

  ASSERT_NO_FATAL_FAILURE (advance_to (1500 * kMs));
  EXPECT_EQ (active (), "placeholder");
  expect_switch ("live", "first-frame", 500 * kMs, 1);
  expect_switch ("placeholder", "timeout", 1500 * kMs, 2);
}

TEST_F (JpegFallback, StoppingCancelsTheTimeoutWait)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  ASSERT_EQ (pending_times ().size (), 1u) << "the timeout's (imagefreeze is stopped while live)";

  ASSERT_EQ (gst_element_set_state (h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  EXPECT_EQ (gst_test_clock_peek_id_count (clock), 0u);
}

TEST_F (JpegFallback, DeletingThePlaceholderFileWhileRunningIsHarmless)
{
  std::string path = write_file ("doomed.jpg", media->placeholder_bytes);
  ASSERT_NO_FATAL_FAILURE (start (1, path));
  ASSERT_NO_FATAL_FAILURE (advance_to (GST_SECOND));
  EXPECT_EQ (pull_placeholders ().size (), 2u);

  ASSERT_EQ (g_unlink (path.c_str ()), 0);
  ASSERT_NO_FATAL_FAILURE (advance_to (3 * GST_SECOND));
  EXPECT_EQ (pull_placeholders ().size (), 2u);
  ASSERT_NO_FATAL_FAILURE (advance_to (3500 * kMs));
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  ASSERT_NO_FATAL_FAILURE (advance_to (9 * GST_SECOND));
  EXPECT_EQ (active (), "placeholder") << "timed out at 8.5 s";
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 3u) << "live frame, 8.5 s switch, 9 s tick";
}

static GstEvent *
viewers_event (guint viewers)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new ("camrelay-viewers", "viewers", G_TYPE_UINT, viewers, nullptr));
}

/* A thousand cameras nobody watches must cost nothing: once the placeholder is out (the sink
 * keeps it for the next viewer), imagefreeze stops, and with it its streaming thread. */
TEST_F (JpegFallback, NobodyWatchingStopsThePlaceholderRepeatsUntilAViewerComes)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (0)));

  ASSERT_TRUE (wait_until_repeating (false)) << "imagefreeze still runs for nobody";
  EXPECT_EQ (gst_test_clock_peek_id_count (clock), 0u) << "nothing waits on the clock";
  gst_test_clock_set_time (clock, 20 * GST_SECOND);
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 0u);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 1u);

  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (1)));
  ASSERT_NO_FATAL_FAILURE (release_first_tick ());
  GstBuffer *out = gst_harness_pull (h);
  ASSERT_NE (out, nullptr) << "the placeholder goes out when a viewer comes";
  EXPECT_EQ (jpeg_width (out), kPlaceholderWidth);
  gst_buffer_unref (out);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 2u);
  /* Repeats go on: imagefreeze is back on the clock. */
  EXPECT_TRUE (gst_test_clock_timed_wait_for_multiple_pending_ids (clock, 1, kStuckMs, nullptr));
}

static GstEvent *
viewers_event_from (const char *sender, guint viewers)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new ("camrelay-viewers", "viewers", G_TYPE_UINT, viewers, "sender",
          G_TYPE_STRING, sender, nullptr));
}

/* Two sinks behind a tee (mjpeghttpsink and h264relaysink) each say how many watch: an H.264
 * viewer keeps the placeholder repeating after the MJPEG sink said nobody watches there. */
/* Says "camrelay-viewers" upstream from the element's output, at its first frame, as
 * mjpeghttpsink does when it renders its first frame. */
GstPadProbeReturn
tell_nobody_watches_at_first_frame (GstPad *pad, GstPadProbeInfo *info, gpointer)
{
  gst_pad_send_event (pad, viewers_event (0));
  return GST_PAD_PROBE_REMOVE;
}

/* A camera nobody watches from its start never starts imagefreeze (nor its thread): the placeholder
 * goes out once for the sink to keep, and repeats only once a viewer comes. */
TEST_F (JpegFallback, NobodyWatchingFromTheStartStartsNoPlaceholderThread)
{
  ASSERT_NO_FATAL_FAILURE (start (1, "", [] (GstElement *e) {
    g_autoptr (GstPad) src = gst_element_get_static_pad (e, "src");
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, tell_nobody_watches_at_first_frame, nullptr,
        nullptr);
  }));
  /* Goes out at once, without the clock. */
  ASSERT_NO_FATAL_FAILURE (pull_first_placeholder ());
  gst_test_clock_set_time (clock, 3 * GST_SECOND);
  g_usleep (100 * 1000);
  EXPECT_EQ (pull_placeholders ().size (), 0u) << "repeated for nobody";

  g_autoptr (GstElement) freeze = gst_bin_get_by_name (GST_BIN (h->element), "placeholder-freeze");
  g_autoptr (GstPad) freeze_src = gst_element_get_static_pad (freeze, "src");
  EXPECT_EQ (gst_pad_get_task_state (freeze_src), GST_TASK_STOPPED);
  while (GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_STATE_CHANGED)) {
    GstState state = GST_STATE_NULL;
    gst_message_parse_state_changed (m, nullptr, &state, nullptr);
    EXPECT_FALSE (GST_MESSAGE_SRC (m) == GST_OBJECT (freeze) && state == GST_STATE_PLAYING)
        << "imagefreeze started before anybody watched";
    gst_message_unref (m);
  }

  /* A viewer comes: the repeats begin. */
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (1)));
  ASSERT_NO_FATAL_FAILURE (advance_to (5 * GST_SECOND));
  EXPECT_FALSE (pull_placeholders ().empty ());
}

/* Counts the buffers leaving a pad. */
GstPadProbeReturn
count_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
{
  g_atomic_int_inc (static_cast<gint *> (data));
  return GST_PAD_PROBE_OK;
}

/* The placeholder that goes out once without imagefreeze (a camera nobody watches) leaves through
 * the placeholder branch's own element, stilljpeg, whose src pad feeds the selector: nothing is
 * chained into the selector's pad from outside the branch. */
TEST_F (JpegFallback, PlaceholderWithoutRepeatsLeavesThroughStillJpeg)
{
  gint through_picture = 0, into_selector = 0;
  ASSERT_NO_FATAL_FAILURE (start (1, "", [&] (GstElement *e) {
    g_autoptr (GstElement) picture = gst_bin_get_by_name (GST_BIN (e), "placeholder-picture");
    ASSERT_NE (picture, nullptr);
    g_autoptr (GstPad) picture_src = gst_element_get_static_pad (picture, "src");
    g_autoptr (GstPad) selector_sink = gst_pad_get_peer (picture_src);
    ASSERT_NE (selector_sink, nullptr);
    gst_pad_add_probe (picture_src, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &through_picture,
        nullptr);
    gst_pad_add_probe (selector_sink, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &into_selector,
        nullptr);
    g_autoptr (GstPad) src = gst_element_get_static_pad (e, "src");
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, tell_nobody_watches_at_first_frame, nullptr,
        nullptr);
  }));
  ASSERT_NO_FATAL_FAILURE (pull_first_placeholder ());
  EXPECT_TRUE (is_repeating (false)) << "imagefreeze ran for nobody";
  EXPECT_EQ (g_atomic_int_get (&into_selector), 1);
  EXPECT_EQ (g_atomic_int_get (&through_picture), g_atomic_int_get (&into_selector))
      << "a placeholder frame reached the selector around stilljpeg";
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 1u);
}

/* What happens to imagefreeze's ticks is stilljpeg's documented drop property, set by the element
 * as the placeholder shows or not: refused while live frames are output, passed while the
 * placeholder repeats, refused again while nobody watches. */
TEST_F (JpegFallback, StillJpegDropsTheTicksWhileNoRepeatIsWanted)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  g_autoptr (GstElement) picture =
      gst_bin_get_by_name (GST_BIN (h->element), "placeholder-picture");
  ASSERT_NE (picture, nullptr);
  ASSERT_NE (g_object_class_find_property (G_OBJECT_GET_CLASS (picture), "drop"), nullptr)
      << "stilljpeg has no drop property";
  auto dropping = [&] {
    gboolean drop = FALSE;
    g_object_get (picture, "drop", &drop, nullptr);
    return drop == TRUE;
  };
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_FALSE (dropping ()) << "placeholder repeats";
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  EXPECT_TRUE (dropping ()) << "ticks pass while live";
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs + kTimeout + 100 * kMs));
  EXPECT_EQ (active (), "placeholder");
  EXPECT_FALSE (dropping ()) << "placeholder does not repeat after the timeout";
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (0)));
  EXPECT_TRUE (dropping ()) << "ticks pass for nobody";
  ASSERT_TRUE (wait_until_repeating (false));
}

TEST_F (JpegFallback, ViewersOfSeveralSendersAddUp)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event_from ("h264", 1)));
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (0)));

  GstClockID tick = nullptr;
  gst_test_clock_wait_for_next_pending_id (clock, &tick);
  gst_test_clock_set_time (clock, GST_SECOND);
  gst_test_clock_process_id (clock, tick);
  GstBuffer *out = gst_harness_pull (h);
  ASSERT_NE (out, nullptr) << "the 1 s tick goes out: the H.264 viewer watches";
  gst_buffer_unref (out);

  /* The H.264 viewer leaves too: now the repeats stop. */
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event_from ("h264", 0)));
  ASSERT_TRUE (wait_until_repeating (false)) << "imagefreeze still runs for nobody";
  gst_test_clock_set_time (clock, 20 * GST_SECOND);
  EXPECT_EQ (gst_harness_buffers_in_queue (h), 0u);
  EXPECT_EQ (stat (h->element, "placeholder-frames"), 2u);

  /* It comes back: the repeats resume. */
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event_from ("h264", 1)));
  ASSERT_NO_FATAL_FAILURE (release_first_tick ());
  out = gst_harness_pull (h);
  ASSERT_NE (out, nullptr) << "the placeholder goes out when the H.264 viewer is back";
  gst_buffer_unref (out);
}

TEST_F (JpegFallback, StoppingWhileNobodyWatchesDoesNotHang)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (0)));
  ASSERT_TRUE (wait_until_repeating (false));
  ASSERT_EQ (gst_element_set_state (h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
}

/* FLUSH_START then FLUSH_STOP upstream into the element's src pad, as a downstream element that
 * flushes sends them, from another thread. */
static std::future<bool>
flush_from_downstream (GstHarness *h)
{
  return std::async (std::launch::async, [h] {
    return gst_harness_push_upstream_event (h, gst_event_new_flush_start ()) &&
        gst_harness_push_upstream_event (h, gst_event_new_flush_stop (TRUE));
  });
}

/* A flush while nobody watches (downstream flushing, a flushing seek handled below) returns at
 * once: no streaming thread of the element is in the way. The next viewer gets the placeholder. */
TEST_F (JpegFallback, FlushWhileNobodyWatchesReturnsAtOnce)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  ASSERT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (0)));
  ASSERT_TRUE (wait_until_repeating (false));

  auto flushed = flush_from_downstream (h);
  ASSERT_EQ (flushed.wait_for (std::chrono::seconds (5)), std::future_status::ready)
      << "the flush hung";
  ASSERT_TRUE (flushed.get ());

  gst_test_clock_set_time (clock, 3 * GST_SECOND);
  ASSERT_TRUE (gst_harness_push_upstream_event (h, viewers_event (1)));
  ASSERT_NO_FATAL_FAILURE (release_first_tick ());
  GstBuffer *out = gst_harness_pull (h);
  ASSERT_NE (out, nullptr) << "no placeholder for a viewer after the flush";
  EXPECT_EQ (jpeg_width (out), kPlaceholderWidth);
  gst_buffer_unref (out);
}

/* imagefreeze forgets its picture on a flush: a flush while live frames show must not leave the
 * camera without a placeholder when it stalls afterwards. */
TEST_F (JpegFallback, FlushWhileLiveStillShowsThePlaceholderAfterTheTimeout)
{
  ASSERT_NO_FATAL_FAILURE (start ());
  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs));
  EXPECT_EQ (pull_placeholders ().size (), 1u);
  ASSERT_EQ (push_live (0), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_try_pull (h));
  ASSERT_EQ (active (), "live");
  ASSERT_TRUE (wait_until_repeating (false)) << "imagefreeze runs while live";

  auto flushed = flush_from_downstream (h);
  ASSERT_EQ (flushed.wait_for (std::chrono::seconds (5)), std::future_status::ready)
      << "the flush hung";
  ASSERT_TRUE (flushed.get ());

  ASSERT_NO_FATAL_FAILURE (advance_to (500 * kMs + kTimeout + 1200 * kMs));
  EXPECT_EQ (active (), "placeholder");
  EXPECT_FALSE (pull_placeholders ().empty ()) << "the placeholder is gone after the flush";
}

/* Cameras sharing a placeholder file share its bytes: read and checked once. */
TEST_F (JpegFallback, ElementsShowingTheSameFileShareItsBytes)
{
  auto first_placeholder = [] (GstHarness *harness, GstTestClock *tc) {
    GstClockID id = nullptr;
    gst_test_clock_wait_for_next_pending_id (tc, &id);
    gst_test_clock_process_id (tc, id);
    return gst_harness_pull (harness);
  };
  ASSERT_NO_FATAL_FAILURE (start ());
  GstBuffer *a = first_placeholder (h, clock);
  ASSERT_NE (a, nullptr);

  GstElement *e = gst_element_factory_make ("jpegfallback", nullptr);
  g_object_set (e, "placeholder", media->placeholder.c_str (), nullptr);
  GstHarness *h2 = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  g_autoptr (GstTestClock) clock2 = gst_harness_get_testclock (h2);
  GstBuffer *b = first_placeholder (h2, clock2);
  ASSERT_NE (b, nullptr);

  GstMapInfo ma, mb;
  ASSERT_TRUE (gst_buffer_map (a, &ma, GST_MAP_READ));
  ASSERT_TRUE (gst_buffer_map (b, &mb, GST_MAP_READ));
  EXPECT_EQ (ma.data, mb.data) << "one copy of the picture for both";
  EXPECT_EQ (ma.size, media->placeholder_bytes.size ());
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_harness_teardown (h2);
}

/* A sink keeps its latest frame mapped, and a thousand cameras may show the same file: a
 * GstMemory counts at most 255 maps at once, so the ticks must not all share one. */
TEST_F (JpegFallback, HundredsOfPlaceholderFramesMappedAtOnce)
{
  ASSERT_NO_FATAL_FAILURE (start (30));
  ASSERT_NO_FATAL_FAILURE (advance_to (10 * GST_SECOND));
  std::vector<GstBuffer *> frames;
  while (GstBuffer *b = gst_harness_try_pull (h))
    frames.push_back (b);
  ASSERT_GE (frames.size (), 300u);
  std::vector<GstMapInfo> maps (frames.size ());
  for (size_t i = 0; i < frames.size (); i++)
    ASSERT_TRUE (gst_buffer_map (frames[i], &maps[i], GST_MAP_READ)) << "frame " << i;
  for (size_t i = 0; i < frames.size (); i++) {
    EXPECT_EQ (maps[i].size, media->placeholder_bytes.size ());
    gst_buffer_unmap (frames[i], &maps[i]);
    gst_buffer_unref (frames[i]);
  }
}

/* Start-up failures: the element in a pipeline, as an application would see it. */
class JpegFallbackStartup : public JpegFallback
{
protected:
  /* Returns the error message text of a failed start, or "" if it started. */
  std::string start_with (const std::string & placeholder, GQuark *domain, gint *code)
  {
    g_autoptr (GstElement) pipeline = gst_pipeline_new (nullptr);
    GstElement *e = gst_element_factory_make ("jpegfallback", nullptr);
    EXPECT_NE (e, nullptr);
    g_object_set (e, "placeholder", placeholder.c_str (), nullptr);
    gst_bin_add (GST_BIN (pipeline), e);

    GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PAUSED);
    std::string text;
    g_autoptr (GstBus) pbus = gst_element_get_bus (pipeline);
    if (GstMessage *m = gst_bus_pop_filtered (pbus, GST_MESSAGE_ERROR)) {
      g_autoptr (GError) error = nullptr;
      gst_message_parse_error (m, &error, nullptr);
      EXPECT_EQ (GST_MESSAGE_SRC (m), GST_OBJECT (e));
      *domain = error->domain;
      *code = error->code;
      text = error->message;
      gst_message_unref (m);
    }
    EXPECT_EQ (ret == GST_STATE_CHANGE_FAILURE, !text.empty ());
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return text;
  }
};

TEST_F (JpegFallbackStartup, MissingPlaceholderFailsNamingThePath)
{
  std::string path = media->dir + "/no-such-placeholder.jpg";
  GQuark domain = 0;
  gint code = 0;
  std::string text = start_with (path, &domain, &code);
  ASSERT_FALSE (text.empty ()) << "started without a placeholder";
  EXPECT_NE (text.find (path), std::string::npos) << text;
  EXPECT_EQ (domain, GST_RESOURCE_ERROR);
  EXPECT_EQ (code, GST_RESOURCE_ERROR_NOT_FOUND);
}

/* A placeholder is refused with the reason jpegvalidate would name for a frame. */
TEST_F (JpegFallbackStartup, BrokenPlaceholderIsRefusedWithTheReason)
{
  const Bytes & good = media->placeholder_bytes;
  const char text_file[] = "this is a text file, not a picture\n";
  /* SOF claims more bytes than the file has. */
  Bytes truncated (good.begin (), good.begin () + good.size () / 2);
  /* Structurally whole, but the scan stops a quarter of the way in: only a decode
   * can tell. */
  gsize sos = 2;
  while (sos + 4 < good.size () && !(good[sos] == 0xFF && good[sos + 1] == 0xDA))
    sos += 2 + ((good[sos + 2] << 8) | good[sos + 3]);
  ASSERT_LT (sos + 4, good.size ());
  gsize scan = sos + 2 + ((good[sos + 2] << 8) | good[sos + 3]);
  Bytes short_scan (good.begin (), good.begin () + scan + (good.size () - scan) / 4);
  while (short_scan.back () == 0xFF)
    short_scan.pop_back ();
  short_scan.push_back (0xFF);
  short_scan.push_back (0xD9);
  /* Padding after EOI is tolerated as it is for camera frames; a second image is not. */
  Bytes padded (good);
  padded.insert (padded.end (), { '\r', '\n', 0, 0, 'x' });
  Bytes merged (good);
  merged.insert (merged.end (), good.begin (), good.end ());

  const std::vector<std::pair<std::string, std::string>> cases = {
    { write_file ("text.jpg", (const guint8 *) text_file, sizeof (text_file) - 1), "not-jpeg" },
    { write_file ("half.jpg", truncated), "truncated" },
    { write_file ("short-scan.jpg", short_scan), "decode-failed" },
    { write_file ("merged.jpg", merged), "merged" },
    { write_file ("padded.jpg", padded), "" },
  };
  for (const auto & [path, reason] : cases) {
    GQuark domain = 0;
    gint code = 0;
    std::string text = start_with (path, &domain, &code);
    if (reason.empty ()) {
      EXPECT_EQ (text, "") << path;
      continue;
    }
    ASSERT_FALSE (text.empty ()) << "started with " << path;
    EXPECT_NE (text.find (path), std::string::npos) << text;
    EXPECT_NE (text.find ("(" + reason + ")"), std::string::npos) << text;
    EXPECT_EQ (domain, GST_RESOURCE_ERROR) << text;
  }
}

TEST_F (JpegFallbackStartup, NonJpegPlaceholderFailsNamingThePath)
{
  const char text_file[] = "this is a text file, not a picture\n";
  std::vector<guint8> truncated (media->placeholder_bytes.begin (),
      media->placeholder_bytes.begin () + media->placeholder_bytes.size () / 2);
  std::vector<guint8> no_headers = { 0xFF, 0xD8, 0x12, 0x34, 0x56, 0xFF, 0xD9 };
  const std::vector<std::string> paths = {
    write_file ("text.jpg", (const guint8 *) text_file, sizeof (text_file) - 1),
    write_file ("truncated.jpg", truncated), write_file ("no-headers.jpg", no_headers),
    write_file ("empty.jpg", nullptr, 0), media->dir, /* a directory */
  };
  for (const std::string & path : paths) {
    GQuark domain = 0;
    gint code = 0;
    std::string text = start_with (path, &domain, &code);
    ASSERT_FALSE (text.empty ()) << "started with " << path;
    EXPECT_NE (text.find (path), std::string::npos) << text;
    EXPECT_EQ (domain, GST_RESOURCE_ERROR) << text;
  }
}

/* Stands in for imagefreeze, taking nothing the placeholder branch gives it: the
 * placeholder branch cannot be linked. */
struct UnlinkableDec
{
  GstElement parent;
};

struct UnlinkableDecClass
{
  GstElementClass parent_class;
};

G_DEFINE_TYPE (UnlinkableDec, unlinkable_dec, GST_TYPE_ELEMENT);

GstStaticPadTemplate unlinkable_sink =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("audio/x-raw"));
GstStaticPadTemplate unlinkable_src =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("audio/x-raw"));

void
unlinkable_dec_class_init (UnlinkableDecClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  gst_element_class_add_static_pad_template (element_class, &unlinkable_sink);
  gst_element_class_add_static_pad_template (element_class, &unlinkable_src);
  gst_element_class_set_static_metadata (element_class, "unlinkable", "Codec", "test stand-in",
      "camrelay");
}

void
unlinkable_dec_init (UnlinkableDec *self)
{
  GstPad *sink = gst_pad_new_from_static_template (&unlinkable_sink, "sink");
  /* Half-linked, the file's bytes would arrive here: take them quietly. */
  gst_pad_set_chain_function (
      sink, +[] (GstPad *, GstObject *, GstBuffer *b) {
        gst_buffer_unref (b);
        return GST_FLOW_OK;
      });
  gst_element_add_pad (GST_ELEMENT (self), sink);
  gst_element_add_pad (GST_ELEMENT (self),
      gst_pad_new_from_static_template (&unlinkable_src, "src"));
}

/* Replaces the registry's factory @name with @type while alive. */
class ReplacedFactory
{
public:
  ReplacedFactory (const char *name, GType type)
  {
    /* Loaded first, so that its plugin cannot register it again over ours. */
    g_autoptr (GstElementFactory) found = gst_element_factory_find (name);
    if (found)
      original_ = GST_PLUGIN_FEATURE (gst_plugin_feature_load (GST_PLUGIN_FEATURE (found)));
    gst_element_register (nullptr, name, GST_RANK_NONE, type);
  }
  ~ReplacedFactory ()
  {
    if (!original_)
      return;
    gst_registry_add_feature (gst_registry_get (), original_);
    gst_object_unref (original_);
  }

private:
  GstPluginFeature *original_ = nullptr;
};

TEST_F (JpegFallbackStartup, ChildrenThatDoNotLinkFailTheStart)
{
  GQuark domain = 0;
  gint code = 0;
  std::string text;
  {
    ReplacedFactory fake ("imagefreeze", unlinkable_dec_get_type ());
    text = start_with (media->placeholder, &domain, &code);
  }
  ASSERT_FALSE (text.empty ()) << "started half-linked";
  EXPECT_NE (text.find ("link"), std::string::npos) << text;
  EXPECT_EQ (domain, GST_CORE_ERROR) << text;

  /* The real imagefreeze is back for everybody else. */
  EXPECT_EQ (start_with (media->placeholder, &domain, &code), "");
}

TEST_F (JpegFallbackStartup, GoodPlaceholderStarts)
{
  GQuark domain = 0;
  gint code = 0;
  EXPECT_EQ (start_with (media->placeholder, &domain, &code), "");
}

}  // namespace
