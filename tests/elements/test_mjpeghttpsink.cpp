/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mjpeghttpsink under GstHarness: real multipartmux output in, real HTTP viewers out; and its
 * multipart splitter alone. */
#include "crmultipartsplit.h"
#include "netclient.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <glib/gstdio.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include <poll.h>
#include <unistd.h>

namespace {

using crtest::Bytes;
using crtest::MjpegReader;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

class MjpegHttpSinkTest : public ::testing::Test
{
protected:
  void SetUp () override { start (""); }

  void start (const std::string & props)
  {
    sink.reset ();
    mux.reset (gst_harness_new_with_padnames ("multipartmux", "sink_0", "src"));
    gst_harness_set_src_caps_str (mux.get (), "image/jpeg,width=320,height=240,framerate=0/1");
    std::string desc = "mjpeghttpsink address=127.0.0.1 port=0 " + props;
    sink.reset (gst_harness_new_parse (desc.c_str ()));
    bus = gst_bus_new ();
    gst_element_set_bus (sink->element, bus);
    gst_harness_play (sink.get ());
    sink_element = gst_bin_get_by_name (GST_BIN (sink->element), "mjpeghttpsink0");
    if (!sink_element) {
      GstIterator *it = gst_bin_iterate_sinks (GST_BIN (sink->element));
      GValue v = G_VALUE_INIT;
      if (gst_iterator_next (it, &v) == GST_ITERATOR_OK)
        sink_element = GST_ELEMENT (g_value_dup_object (&v));
      g_value_unset (&v);
      gst_iterator_free (it);
    }
    ASSERT_TRUE (sink_element);
    g_object_get (sink_element, "bound-port", &port, nullptr);
    ASSERT_NE (port, 0u);
    caps_sent = false;
  }

  void TearDown () override
  {
    gst_clear_object (&sink_element);
    sink.reset ();
    mux.reset ();
    gst_clear_object (&bus);
  }

  /* Runs @frame through the real multipartmux and pushes its output buffers into the sink. */
  void push_frame (const Bytes & frame)
  {
    ASSERT_EQ (gst_harness_push (mux.get (), crtest::buffer_from (frame)), GST_FLOW_OK);
    if (!caps_sent) {
      g_autoptr (GstCaps) caps = gst_pad_get_current_caps (mux->sinkpad);
      gst_harness_set_src_caps (sink.get (), gst_caps_ref (caps));
      caps_sent = true;
    }
    while (GstBuffer *b = gst_harness_try_pull (mux.get ()))
      ASSERT_EQ (gst_harness_push (sink.get (), b), GST_FLOW_OK);
  }

  guint64 stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (sink_element, "stats", &s, nullptr);
    guint64 v = 0;
    guint u = 0;
    if (!gst_structure_get_uint64 (s, field, &v) && gst_structure_get_uint (s, field, &u))
      v = u;
    gst_structure_free (s);
    return v;
  }

  void wait_viewers (guint64 n)
  {
    for (int i = 0; i < 1000 && stat ("viewers") != n; i++)
      g_usleep (2000);
    ASSERT_EQ (stat ("viewers"), n);
  }

  Harness mux, sink;
  GstElement *sink_element = nullptr;
  GstBus *bus = nullptr;
  guint port = 0;
  bool caps_sent = false;
};

TEST_F (MjpegHttpSinkTest, ViewersGetEveryFrameByteIdenticalUnderTheMuxBoundary)
{
  auto frames = crtest::make_jpegs (10, { 320, 240 });
  MjpegReader a (port), b (port);
  ASSERT_EQ (a.status (), 200);
  EXPECT_EQ (a.boundary (), "ThisRandomString");
  EXPECT_NE (a.header ("content-type").find ("multipart/x-mixed-replace"), std::string::npos);
  wait_viewers (2);
  for (const auto & f : frames) {
    push_frame (f);
    Bytes got;
    ASSERT_TRUE (a.next_part (got));
    EXPECT_EQ (got, f);
    EXPECT_EQ (a.part_headers ().at ("content-type"), "image/jpeg");
    ASSERT_TRUE (b.next_part (got));
    EXPECT_EQ (got, f);
  }
  EXPECT_EQ (stat ("frames-in"), 10u);
  /* The server counts a part once its send has returned, which may be just after the viewer
   * read it. */
  crtest::wait_until ([&] { return stat ("parts-sent") >= 20u; }, 5000);
  EXPECT_EQ (stat ("parts-sent"), 20u);
}

/* Viewers that join while frames are published and fanned out (the server gives a new viewer the
 * latest frame at once, and that frame may still be on its way to the others): each frame
 * arrives exactly once, in order, never the one the viewer joined on a second time. */
TEST_F (MjpegHttpSinkTest, ViewersJoiningMidStreamGetEachFrameExactlyOnce)
{
  const int N = 64;
  auto frames = crtest::make_jpegs (N, { 64, 48 });
  std::map<Bytes, int> index;
  for (int i = 0; i < N; i++)
    index[frames[i]] = i;
  ASSERT_EQ (index.size (), frames.size ()) << "the test frames are not distinct";
  push_frame (frames[0]);
  std::atomic<bool> stop{ false };
  std::thread pusher ([&] {
    for (int i = 1; !stop; i = (i + 1) % N) {
      push_frame (frames[i]);
      g_usleep (1000);
    }
  });
  for (int v = 0; v < 40; v++) {
    MjpegReader viewer (port);
    ASSERT_EQ (viewer.status (), 200);
    std::vector<int> seen;
    Bytes got;
    while (seen.size () < 6 && viewer.next_part (got, 2000)) {
      auto it = index.find (got);
      ASSERT_NE (it, index.end ()) << "a part that is no frame, " << got.size () << " bytes";
      seen.push_back (it->second);
    }
    ASSERT_EQ (seen.size (), 6u) << "viewer " << v << " stalled";
    /* Frames go round: the next part is a later frame (a viewer may skip some), never the same. */
    for (gsize i = 1; i < seen.size (); i++) {
      int step = (seen[i] - seen[i - 1] + N) % N;
      EXPECT_TRUE (step > 0 && step < N / 2)
          << "viewer " << v << ": frame " << seen[i] << " after frame " << seen[i - 1]
          << (step == 0 ? " (arrived twice)" : "");
    }
  }
  stop = true;
  pusher.join ();
}

TEST_F (MjpegHttpSinkTest, CustomMuxBoundaryIsAnnounced)
{
  mux.reset (gst_harness_new_with_padnames ("multipartmux", "sink_0", "src"));
  g_object_set (mux->element, "boundary", "camrelayframe", nullptr);
  gst_harness_set_src_caps_str (mux.get (), "image/jpeg");
  auto frames = crtest::make_jpegs (1, { 160, 120 });
  push_frame (frames[0]);
  MjpegReader v (port);
  EXPECT_EQ (v.boundary (), "camrelayframe");
  Bytes got;
  ASSERT_TRUE (v.next_part (got));
  EXPECT_EQ (got, frames[0]);
}

TEST_F (MjpegHttpSinkTest, LateViewerGetsTheLatestFrameAtOnce)
{
  auto frames = crtest::make_jpegs (3, { 160, 120 });
  for (const auto & f : frames)
    push_frame (f);
  MjpegReader late (port);
  Bytes got;
  ASSERT_TRUE (late.next_part (got, 2000));
  EXPECT_EQ (got, frames[2]);
}

TEST_F (MjpegHttpSinkTest, PlainJpegInputWorksWithoutTheMux)
{
  start ("boundary=myboundary");
  gst_harness_set_src_caps_str (sink.get (), "image/jpeg");
  auto frames = crtest::make_jpegs (2, { 160, 120 });
  MjpegReader v (port);
  EXPECT_EQ (v.boundary (), "myboundary");
  wait_viewers (1);
  for (const auto & f : frames) {
    ASSERT_EQ (gst_harness_push (sink.get (), crtest::buffer_from (f)), GST_FLOW_OK);
    Bytes got;
    ASSERT_TRUE (v.next_part (got));
    EXPECT_EQ (got, f);
  }
}

TEST_F (MjpegHttpSinkTest, ViewerThatNeverReadsSlowsNothingAndSkipsWholeFrames)
{
  auto frames = crtest::make_jpegs (8, { 640, 480, 95 });
  MjpegReader stuck (port);
  MjpegReader fast (port);
  wait_viewers (2);
  std::vector<Bytes> sent;
  for (int i = 0; i < 160; i++) {
    sent.push_back (frames[i % frames.size ()]);
    /* A blocked render would hang the push and fail the test by timeout. */
    push_frame (sent.back ());
    Bytes got;
    ASSERT_TRUE (fast.next_part (got, 2000)) << i;
    ASSERT_EQ (got, sent.back ());
  }
  EXPECT_GT (stat ("parts-skipped"), 0u);
  /* Now the stuck one reads: whole frames only, and the newest one last. */
  Bytes got, last;
  while (stuck.next_part (got, 1000)) {
    EXPECT_TRUE (std::find (frames.begin (), frames.end (), got) != frames.end ())
        << "partial or foreign frame of " << got.size () << " bytes";
    last = got;
  }
  EXPECT_EQ (last, sent.back ());
}

TEST_F (MjpegHttpSinkTest, ContentLengthOnRequest)
{
  auto frames = crtest::make_jpegs (2, { 160, 120 });
  MjpegReader v (port, "/?content-length=1");
  wait_viewers (1);
  for (const auto & f : frames) {
    push_frame (f);
    Bytes got;
    ASSERT_TRUE (v.next_part (got));
    EXPECT_EQ (got, f);
    EXPECT_EQ (v.part_headers ().at ("content-length"), std::to_string (f.size ()));
  }
}

TEST_F (MjpegHttpSinkTest, EosEndsEveryResponse)
{
  auto frames = crtest::make_jpegs (1, { 160, 120 });
  MjpegReader v (port), cl (port, "/?content-length=1");
  wait_viewers (2);
  push_frame (frames[0]);
  Bytes got;
  ASSERT_TRUE (v.next_part (got));
  ASSERT_TRUE (cl.next_part (got));
  gst_harness_push_event (sink.get (), gst_event_new_eos ());
  while (v.next_part (got, 2000))
    EXPECT_TRUE (got.empty ());
  EXPECT_TRUE (v.ended ());
  EXPECT_TRUE (v.wait_closed ());
  EXPECT_FALSE (cl.next_part (got, 2000));
  EXPECT_TRUE (cl.ended ());
  EXPECT_TRUE (cl.wait_closed ());
}

/* A seek in an application that reuses the element: EOS, then a flush, then new frames. The sink
 * must serve again, as every GStreamer sink does after a flush. */
TEST_F (MjpegHttpSinkTest, FlushAfterEosServesNewFramesAgain)
{
  start ("snapshot-path=/snap.jpg");
  auto frames = crtest::make_jpegs (4, { 160, 120 });
  push_frame (frames[0]);
  push_frame (frames[1]);
  ASSERT_TRUE (gst_harness_push_event (sink.get (), gst_event_new_eos ()));
  ASSERT_TRUE (gst_harness_push_event (sink.get (), gst_event_new_flush_start ()));
  ASSERT_TRUE (gst_harness_push_event (sink.get (), gst_event_new_flush_stop (TRUE)));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  ASSERT_TRUE (gst_harness_push_event (sink.get (), gst_event_new_segment (&segment)));

  push_frame (frames[2]);
  MjpegReader v (port);
  ASSERT_EQ (v.status (), 200);
  Bytes got;
  ASSERT_TRUE (v.next_part (got, 2000));
  EXPECT_EQ (got, frames[2]) << "the viewer got a frame from before the flush";
  wait_viewers (1);
  push_frame (frames[3]);
  /* Each frame exactly once: the next part is the new frame, not frames[2] again. */
  ASSERT_TRUE (v.next_part (got, 2000)) << "frames after the flush are not served";
  EXPECT_EQ (got, frames[3]) << (got == frames[2] ? "frames[2] arrived twice" : "a foreign part");
  EXPECT_FALSE (v.ended ());

  auto snap = crtest::http_request (port, "GET", "/snap.jpg");
  EXPECT_EQ (snap.status, 200);
  EXPECT_EQ (snap.body, frames[3]);
}

TEST_F (MjpegHttpSinkTest, StoppingThePipelineEndsResponses)
{
  auto frames = crtest::make_jpegs (1, { 160, 120 });
  MjpegReader v (port, "/?content-length=1");
  wait_viewers (1);
  push_frame (frames[0]);
  Bytes got;
  ASSERT_TRUE (v.next_part (got));
  gst_element_set_state (sink->element, GST_STATE_NULL);
  EXPECT_FALSE (v.next_part (got, 2000));
  EXPECT_TRUE (v.ended ());
  EXPECT_TRUE (v.wait_closed ());
}

TEST_F (MjpegHttpSinkTest, SnapshotAndLimits)
{
  start ("snapshot-path=/snap.jpg max-viewers=1");
  auto frames = crtest::make_jpegs (2, { 160, 120 });
  EXPECT_EQ (crtest::http_request (port, "GET", "/snap.jpg").status, 503);
  push_frame (frames[0]);
  push_frame (frames[1]);
  auto snap = crtest::http_request (port, "GET", "/snap.jpg");
  EXPECT_EQ (snap.status, 200);
  EXPECT_EQ (snap.header ("content-type"), "image/jpeg");
  EXPECT_EQ (snap.body, frames[1]);

  MjpegReader first (port);
  wait_viewers (1);
  auto refused = crtest::http_request (port, "GET", "/");
  EXPECT_EQ (refused.status, 503);
  EXPECT_FALSE (refused.header ("retry-after").empty ());
  EXPECT_EQ (stat ("viewers-refused"), 1u);
}

TEST_F (MjpegHttpSinkTest, LatestFileIsWrittenWhole)
{
  g_autofree gchar *dir = g_dir_make_tmp ("camrelay-XXXXXX", nullptr);
  g_autofree gchar *path = g_build_filename (dir, "image.jpg", nullptr);
  start (std::string ("latest-file=") + path);
  auto frames = crtest::make_jpegs (5, { 160, 120 });
  for (const auto & f : frames)
    push_frame (f);
  Bytes on_disk;
  /* Up to 10 s: the writer's rename follows an fsync, slow on a busy disk. */
  for (int i = 0; i < 5000; i++) {
    gchar *data = nullptr;
    gsize len = 0;
    if (g_file_get_contents (path, &data, &len, nullptr)) {
      on_disk.assign (data, data + len);
      g_free (data);
      if (on_disk == frames.back ())
        break;
    }
    g_usleep (2000);
  }
  EXPECT_EQ (on_disk, frames.back ());
  sink.reset ();
  g_unlink (path);
  g_rmdir (dir);
}

/* GST_DEBUG output must say which sink could not write its file: a program runs several. */
TEST_F (MjpegHttpSinkTest, LatestFileWarningNamesTheSink)
{
  struct Seen
  {
    GMutex lock;
    GObject *object = nullptr;
    bool warned = false;
  } seen;
  g_mutex_init (&seen.lock);
  GstLogFunction record = [] (GstDebugCategory *category, GstDebugLevel level, const gchar *,
                              const gchar *, gint, GObject *object, GstDebugMessage *message,
                              gpointer data) {
    auto *s = static_cast<Seen *> (data);
    const gchar *text = gst_debug_message_get (message);
    if (level != GST_LEVEL_WARNING || !text || !strstr (text, "could not write"))
      return;
    g_mutex_lock (&s->lock);
    s->warned = true;
    s->object = object;
    g_mutex_unlock (&s->lock);
  };
  gst_debug_set_threshold_for_name ("mjpeghttpsink", GST_LEVEL_WARNING);
  gst_debug_add_log_function (record, &seen, nullptr);

  start ("latest-file=/nonexistent-camrelay-dir/image.jpg");
  push_frame (crtest::make_jpegs (1, { 160, 120 })[0]);
  bool warned = false;
  GObject *object = nullptr;
  for (int i = 0; i < 500 && !warned; i++) {
    g_usleep (2000);
    g_mutex_lock (&seen.lock);
    warned = seen.warned;
    object = seen.object;
    g_mutex_unlock (&seen.lock);
  }
  sink.reset ();
  gst_debug_remove_log_function_by_data (&seen);
  gst_debug_unset_threshold_for_name ("mjpeghttpsink");
  g_mutex_clear (&seen.lock);

  ASSERT_TRUE (warned) << "no warning about the file that cannot be written";
  EXPECT_EQ (object, G_OBJECT (sink_element)) << "the warning does not name its element";
}

TEST_F (MjpegHttpSinkTest, InputThatIsNotMuxOutputIsAnError)
{
  gst_harness_set_src_caps_str (sink.get (), "multipart/x-mixed-replace,boundary=abc");
  Bytes junk (10000, 'x');
  EXPECT_EQ (gst_harness_push (sink.get (), crtest::buffer_from (junk)), GST_FLOW_ERROR);
  g_autoptr (GstMessage) err = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  EXPECT_TRUE (err);
}

/* ---------------------------------------------------------------------------------------------- */
/* cr::MultipartSplitter, without an element                                                     */

using Split = cr::MultipartSplitter::Result;

GstBuffer *
text_buffer (const std::string & text)
{
  return crtest::buffer_from (Bytes (text.begin (), text.end ()));
}

std::string
text_of (GstBuffer *buf)
{
  Bytes b = crtest::bytes_of (buf);
  return std::string (b.begin (), b.end ());
}

TEST (MultipartSplitter, GivesBackMultipartmuxFramesWithoutACopy)
{
  Harness mux (gst_harness_new_with_padnames ("multipartmux", "sink_0", "src"));
  gst_harness_set_src_caps_str (mux.get (), "image/jpeg");
  cr::MultipartSplitter splitter;
  splitter.reset ("ThisRandomString");
  auto frames = crtest::make_jpegs (3, { 160, 120 });
  for (const auto & f : frames) {
    GstBuffer *in = crtest::buffer_from (f);
    GstMemory *mem = gst_memory_ref (gst_buffer_peek_memory (in, 0));
    ASSERT_EQ (gst_harness_push (mux.get (), in), GST_FLOW_OK);
    while (GstBuffer *b = gst_harness_try_pull (mux.get ()))
      splitter.push (b);
    GstBuffer *body = nullptr;
    ASSERT_EQ (splitter.next (&body), Split::PART);
    EXPECT_EQ (crtest::bytes_of (body), f);
    EXPECT_EQ (gst_buffer_peek_memory (body, 0), mem) << "the frame was copied";
    EXPECT_EQ (splitter.content_type (), "image/jpeg");
    gst_buffer_unref (body);
    gst_memory_unref (mem);
    EXPECT_EQ (splitter.next (&body), Split::NEED_DATA);
  }
}

TEST (MultipartSplitter, PartsCutAnywhereComeOutWhole)
{
  const std::string stream = "--b\r\nContent-Type: image/png\r\nContent-Length: 5\r\n\r\nhello\r\n"
                             "--b\r\ncontent-length: 3\r\nX-Other: 1\r\n\r\nabc\r\n";
  cr::MultipartSplitter splitter;
  splitter.reset ("b");
  std::vector<std::string> parts;
  std::vector<std::string> types;
  for (char c : stream) {
    splitter.push (text_buffer (std::string (1, c)));
    GstBuffer *body = nullptr;
    Split r;
    while ((r = splitter.next (&body)) == Split::PART) {
      parts.push_back (text_of (body));
      types.push_back (splitter.content_type ());
      gst_buffer_unref (body);
    }
    ASSERT_EQ (r, Split::NEED_DATA);
  }
  EXPECT_EQ (parts, (std::vector<std::string>{ "hello", "abc" }));
  /* A part without Content-Type keeps the one before. */
  EXPECT_EQ (types, (std::vector<std::string>{ "image/png", "image/png" }));
}

TEST (MultipartSplitter, RefusesWhatMultipartmuxDoesNotMake)
{
  const std::vector<std::string> bad = {
    "--other\r\nContent-Length: 3\r\n\r\nabc",    /* another boundary */
    "--b\r\nContent-Type: image/jpeg\r\n\r\nabc", /* no Content-Length */
    "--b\r\nContent-Length: 0\r\n\r\n",           /* an empty part */
    "--b\r\nContent-Length: many\r\n\r\nabc",
    std::string (5000, 'x'), /* no header block end in sight */
  };
  for (const std::string & text : bad) {
    cr::MultipartSplitter splitter;
    splitter.reset ("b");
    splitter.push (text_buffer (text));
    GstBuffer *body = nullptr;
    EXPECT_EQ (splitter.next (&body), Split::NOT_MULTIPART) << text.substr (0, 40);
    EXPECT_EQ (body, nullptr);
  }
  /* Too short to tell yet. */
  cr::MultipartSplitter splitter;
  splitter.reset ("b");
  splitter.push (text_buffer (std::string (100, 'x')));
  GstBuffer *body = nullptr;
  EXPECT_EQ (splitter.next (&body), Split::NEED_DATA);
}

TEST (MultipartSplitter, ClearDropsAPartialPart)
{
  cr::MultipartSplitter splitter;
  splitter.reset ("b");
  splitter.push (text_buffer ("--b\r\nContent-Length: 10\r\n\r\nhalf"));
  GstBuffer *body = nullptr;
  ASSERT_EQ (splitter.next (&body), Split::NEED_DATA);
  splitter.clear ();
  EXPECT_EQ (splitter.boundary (), "b");
  splitter.push (text_buffer ("--b\r\nContent-Length: 4\r\n\r\nnext\r\n"));
  ASSERT_EQ (splitter.next (&body), Split::PART);
  EXPECT_EQ (text_of (body), "next");
  gst_buffer_unref (body);
}

/* "Basic dTpw" is "u:p". */
TEST_F (MjpegHttpSinkTest, ViewerCredentialsAreRequiredWhenSet)
{
  start ("viewer-user=u viewer-password=p snapshot-path=/snap.jpg");
  auto frames = crtest::make_jpegs (1, { 160, 120 });
  push_frame (frames[0]);

  for (const char *path : { "/", "/snap.jpg" }) {
    auto open = crtest::http_get (port, path);
    EXPECT_EQ (open.status, 401) << path;
    EXPECT_NE (open.header ("www-authenticate").find ("Basic"), std::string::npos) << path;
    EXPECT_EQ (crtest::http_get (port, path, "Authorization: Basic dTp3cm9uZw==\r\n").status, 401)
        << path;
  }
  auto snap = crtest::http_get (port, "/snap.jpg", "Authorization: Basic dTpw\r\n");
  EXPECT_EQ (snap.status, 200);
  EXPECT_EQ (snap.body, frames[0]);
  MjpegReader viewer (port, "/", "Authorization: Basic dTpw\r\n");
  ASSERT_EQ (viewer.status (), 200);
  Bytes part;
  ASSERT_TRUE (viewer.next_part (part, 5000));
  EXPECT_EQ (part, frames[0]);
}

TEST_F (MjpegHttpSinkTest, OpenOnLoopbackPathsNeedNoCredentialsFromThisMachine)
{
  start ("viewer-user=u viewer-password=p snapshot-path=/snap.jpg open-on-loopback=/snap.jpg");
  auto frames = crtest::make_jpegs (1, { 160, 120 });
  push_frame (frames[0]);
  EXPECT_EQ (crtest::http_get (port, "/snap.jpg").status, 200);
  EXPECT_EQ (crtest::http_get (port, "/").status, 401);
}

TEST_F (MjpegHttpSinkTest, RequestTimeoutDisconnectsAClientThatSendsNothing)
{
  /* The default gives a silent client 10 s; this one gives it a fifth of a second, so the
   * connection must be over long before the default would end it. */
  start ("request-timeout=200000000");
  int fd = crtest::connect_loopback (port);
  ASSERT_GE (fd, 0);
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  bool closed = false;
  while (!closed && g_get_monotonic_time () < end) {
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll (&p, 1, 100) <= 0)
      continue;
    char buf[512];
    closed = read (fd, buf, sizeof buf) <= 0;
  }
  close (fd);
  EXPECT_TRUE (closed) << "a silent client is still connected after 5 s";
}

}  // namespace
