/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pulljpegsrc's reasons for a hostile HTTP camera, through GstHarness (and so under the sanitizers
 * too): the look at a camera that gave no answer says what it answered instead, a reset in the
 * middle of a frame is no Range request, and a camera that flaps backs off and posts each cause
 * once. The cameras are cases of tests/e2e/pull/hostile_source.py; e2e-hostile-sources runs all
 * of them against the program. */
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <json-glib/json-glib.h>

#include <memory>
#include <string>
#include <vector>

using namespace crtest;

namespace {

/* hostile_source.py on a free port. */
struct Server
{
  TempDir dir;
  guint port = 0;
  std::unique_ptr<Process> proc;

  bool start ()
  {
    std::vector<Bytes> frames = make_jpegs (3);
    for (gsize i = 0; i < frames.size (); i++)
      dir.write ("frames/" + std::to_string (10 + i) + ".jpg", frames[i]);
    port = free_port ();
    proc = std::make_unique<Process> (std::vector<std::string>{ "/usr/bin/python3",
        source_path ("tests/e2e/pull/hostile_source.py"), std::to_string (port),
        dir.file ("frames"), "--closed-port", std::to_string (free_port ()) });
    return proc->wait_for_output ("listening");
  }
  std::string url (const std::string & name, const char *scheme = "http") const
  {
    return std::string (scheme) + "://127.0.0.1:" + std::to_string (port) + "/case/" + name;
  }
  /* A counter of case @name in the server's /stats; 0 if it has none. */
  gint64 stat (const std::string & name, const char *what) const
  {
    HttpResponse r = http_get (port, "/stats");
    g_autoptr (JsonParser) parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, r.text ().c_str (), -1, nullptr))
      return 0;
    JsonObject *root = json_node_get_object (json_parser_get_root (parser));
    if (!root || !json_object_has_member (root, name.c_str ()))
      return 0;
    JsonObject *o = json_object_get_object_member (root, name.c_str ());
    return json_object_has_member (o, what) ? json_object_get_int_member (o, what) : 0;
  }
};

struct Harness
{
  GstHarness *h = nullptr;
  GstBus *bus = nullptr;

  explicit Harness (const std::string & location)
  {
    h = gst_harness_new ("pulljpegsrc");
    g_object_set (h->element, "location", location.c_str (), nullptr);
    bus = gst_bus_new ();
    gst_element_set_bus (h->element, bus);
  }
  ~Harness ()
  {
    gst_harness_teardown (h);
    gst_object_unref (bus);
  }
  Harness (const Harness &) = delete;
  Harness & operator= (const Harness &) = delete;

  std::string stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (h->element, "stats", &s, nullptr);
    std::string out;
    if (const GValue *v = s ? gst_structure_get_value (s, field) : nullptr) {
      g_autofree gchar *text =
          G_VALUE_HOLDS_STRING (v) ? g_value_dup_string (v) : gst_value_serialize (v);
      out = text ? text : "";
    }
    if (s)
      gst_structure_free (s);
    return out;
  }
  gint64 reconnects () { return g_ascii_strtoll (stat ("reconnects").c_str (), nullptr, 10); }

  /* The "retrying" reasons posted so far, in order. */
  std::vector<std::string> retries ()
  {
    while (GstMessage *m = gst_bus_pop (bus)) {
      const GstStructure *s = gst_message_get_structure (m);
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT &&
          gst_structure_has_name (s, "pulljpegsrc-state") &&
          g_strcmp0 (gst_structure_get_string (s, "state"), "retrying") == 0)
        posted.push_back (gst_structure_get_string (s, "reason"));
      gst_message_unref (m);
    }
    return posted;
  }
  std::vector<std::string> posted;
};

/* The reason pulljpegsrc gives for @location once it has been tried @tries times. */
std::string
reason_for (const std::string & location, int tries = 1)
{
  Harness h (location);
  gst_harness_play (h.h);
  if (!wait_until ([&] { return h.reconnects () >= tries; }, 30000))
    return "(not tried " + std::to_string (tries) + " times)";
  return h.stat ("last-error");
}

}  // namespace

/* souphttpsrc says "Internal data stream error" for all of these; the look at the camera says
 * what it answered instead. */
TEST (PullReason, AnswersThatAreNotHttpAreNamed)
{
  Server server;
  ASSERT_TRUE (server.start ());
  const std::vector<std::pair<std::string, std::string>> cases = {
    { server.url ("garbage-status"), "the camera's answer is not HTTP" },
    { server.url ("http09"), "the camera's answer is not HTTP" },
    { server.url ("endless-headers"), "the camera's answer headers are larger than 64 KiB" },
    { server.url ("hang-up"), "the camera closed the connection without answering" },
    { server.url ("good", "https"), "the camera speaks plain HTTP on an https:// URL" },
    { server.url ("redirect-closed"), ": cannot connect to the camera (" },
    { "http://127.0.0.1:" + std::to_string (free_port ()) + "/", "cannot connect to the camera (" },
  };
  for (const auto & [url, want] : cases) {
    std::string got = reason_for (url);
    EXPECT_NE (got.find (want), std::string::npos) << url << ": " << got;
    EXPECT_EQ (got.find ("refused, unreachable or timed out"), std::string::npos) << url;
  }
}

/* A reset in the middle of a frame: souphttpsrc's resume asks for no byte range, and the reason
 * says what happened (it was "Server does not accept Range HTTP header"). */
TEST (PullReason, ResetMidFrameIsNoRangeRequest)
{
  Server server;
  ASSERT_TRUE (server.start ());
  std::string got = reason_for (server.url ("reset-mid-frame"), 2);
  EXPECT_EQ (got, "the camera closed the connection in the middle of a frame");
  EXPECT_GE (server.stat ("reset-mid-frame", "connections"), 2);
  EXPECT_EQ (server.stat ("reset-mid-frame", "range_requests"), 0);
}

/* Zero-length parts and a gzip answer: named, where they sat on "connecting" or showed as a lost
 * connection. */
TEST (PullReason, EmptyPartsAndCompressedAnswersAreNamed)
{
  Server server;
  ASSERT_TRUE (server.start ());
  Harness empty (server.url ("empty-parts"));
  g_object_set (empty.h->element, "io-timeout", static_cast<GstClockTime> (2 * GST_SECOND),
      nullptr);
  gst_harness_play (empty.h);
  EXPECT_EQ (reason_for (server.url ("gzip-bomb")),
      "the camera compresses its answer (Content-Encoding: gzip) though camrelay asked for none; "
      "no camera does that");
  ASSERT_TRUE (wait_until ([&] { return empty.reconnects () >= 1; }, 20000));
  EXPECT_EQ (empty.stat ("last-error"),
      "the camera sends multipart parts with no data (Content-Length: 0)");
}

/* A camera that gives a few frames, then a 503, in turn: each cause is posted once, and the tries
 * back off (they came every second before). */
TEST (PullReason, FlappingCameraBacksOffAndPostsEachCauseOnce)
{
  Server server;
  ASSERT_TRUE (server.start ());
  Harness h (server.url ("flapping"));
  gst_harness_play (h.h);
  g_usleep (12 * G_USEC_PER_SEC);
  gint64 tries = h.reconnects ();
  std::vector<std::string> posted = h.retries ();
  /* 1 + 2 + 4 s of backoff and the tries themselves: 4 or 5 tries in 12 s, not 12. */
  EXPECT_GE (tries, 3);
  EXPECT_LE (tries, 6);
  EXPECT_LE (posted.size (), 2u) << "a line per try";
  for (gsize i = 0; i < posted.size (); i++)
    for (gsize j = i + 1; j < posted.size (); j++)
      EXPECT_NE (posted[i], posted[j]) << "posted twice";
}

/* A camera that streams for two seconds and then ends its answer, on every try (an edge's origin
 * replaced behind HAProxy, one after another): each try streamed longer than the wait before it,
 * so the next one comes after 1 s every time, not after 2, 4, 8 s as for a camera that flaps. */
TEST (PullReason, SourceThatStreamsLongerThanItWaitedIsRetriedAfterOneSecond)
{
  Server server;
  ASSERT_TRUE (server.start ());
  Harness h (server.url ("moving"));
  gst_harness_play (h.h);
  /* Its frames come 0.2 s apart: a longer gap is the wait between two tries. */
  std::vector<double> gaps;
  gint64 last = 0;
  const gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (gaps.size () < 3 && g_get_monotonic_time () < deadline) {
    GstBuffer *frame = gst_harness_try_pull (h.h);
    if (!frame) {
      g_usleep (10000);
      continue;
    }
    gint64 now = g_get_monotonic_time ();
    if (last && now - last > G_USEC_PER_SEC / 2)
      gaps.push_back ((now - last) / 1e6);
    last = now;
    gst_buffer_unref (frame);
  }
  ASSERT_EQ (gaps.size (), 3u) << "not tried four times in 30 s";
  for (double gap : gaps)
    EXPECT_LT (gap, 3.0) << "seconds without a frame between two tries; all: " << gaps[0] << ", "
                         << gaps[1] << ", " << gaps[2];
}
