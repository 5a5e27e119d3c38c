/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Broken and hostile PULLED cameras against the real camrelay program (issue 15). One camrelay
 * process pulls every case of tests/e2e/pull/hostile_source.py at once (endless headers, garbage,
 * HTTP/0.9, bad boundaries, parts that never end, lying lengths, gzip bombs, redirect loops, 401s,
 * slowloris, resets mid-frame, floods, 20 MB frames, 1 GB snapshots, plain HTTP on https://...),
 * each as its own camera with its own viewer, next to a healthy pushed camera and a healthy pulled
 * one. The run lasts a bounded time, then each property is checked over every case:
 *
 * - camrelay is alive and the healthy cameras' viewers got every frame at their rate;
 * - a hostile camera's viewer got only whole valid JPEGs that the camera sent, or the placeholder;
 * - camrelay's RSS grew by at most 32 MB, whatever the sources sent;
 * - each camera was tried with backoff and logged one line per change of cause;
 * - /status names a reason a user can act on; no live stream was asked for a byte range.
 *
 * The measured figures are printed (CAMRELAY_TEST_VERBOSE=1 shows them with the reasons) and are
 * the table in docs/RELIABILITY.md, "Hostile sources". */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

using namespace crtest;

namespace {

const char *const PYTHON = "/usr/bin/python3";
const JpegSpec BALL{ 640, 480, 85, "ball" };

/* Seconds the hostile cameras run once the server is up: long enough for the cases that only
 * fail after io-timeout (10 s) to fail, be looked at and be tried again. */
const int RUN_S = 32;
/* The healthy pushed camera's rate. */
const double PUSH_FPS = 10;
/* Bytes camrelay's RSS may grow by over the run, whatever the sources send. */
const gint64 RSS_BOUND_KB = 32 * 1024;
/* Tries of one camera within the run: backoff 1, 2, 4, 8, 16 s allows 6; without it (a try a
 * second) there would be 30. */
const gint64 MAX_TRIES = 8;

enum class Expect
{
  Reason,   /* the source fails, and source_error says why */
  Rejected, /* the frames arrive and jpegvalidate rejects them, counted by reason */
  Live,     /* camrelay copes: the camera is live */
};

struct Case
{
  const char *name; /* the hostile server's /case/NAME; also the camera's name */
  Expect expect;
  const char *reason;        /* a part of source_error, or the rejected reason */
  int max_lines = 1;         /* "failed" log lines: one per change of cause */
  const char *url = nullptr; /* instead of the server's /case/NAME */
};

/* Every case (hostile_source.py says what each does). */
const std::vector<Case> CASES = {
  { "endless-headers", Expect::Reason, "answer headers are larger than 64 KiB" },
  { "huge-header", Expect::Reason, "answer headers are larger than 64 KiB" },
  { "garbage-status", Expect::Reason, "answer is not HTTP" },
  { "binary-garbage", Expect::Reason, "answer is not HTTP" },
  { "http09", Expect::Reason, "answer is not HTTP" },
  { "no-boundary", Expect::Live, "" },
  { "absurd-boundary", Expect::Reason, "boundary is 8,000 characters long" },
  { "wrong-boundary", Expect::Live, "" },
  { "empty-parts", Expect::Reason, "multipart parts with no data" },
  { "empty-parts-no-length", Expect::Rejected, "too-small" },
  { "endless-part", Expect::Reason, "without a complete frame" },
  { "endless-part-headers", Expect::Reason, "without a complete frame" },
  { "short-length", Expect::Reason, "", 3 },
  { "long-length", Expect::Reason, "", 3 },
  { "absurd-length", Expect::Reason, "", 3 },
  { "bogus-chunks", Expect::Reason, "the camera ended the stream" },
  { "huge-chunk", Expect::Reason, "its answer ended before any data" },
  { "gzip-bomb", Expect::Reason, "compresses its answer (Content-Encoding: gzip)" },
  { "gzip-snapshot", Expect::Reason, "compresses its answer (Content-Encoding: gzip)" },
  { "redirect-loop", Expect::Reason, "redirects again and again" },
  { "redirect-ftp", Expect::Reason, "to ftp://127.0.0.1/stream" },
  { "redirect-file", Expect::Reason, "to file:///etc/passwd" },
  { "redirect-closed", Expect::Reason, "/stream: cannot connect to the camera" },
  { "auth-loop", Expect::Reason, "asks for a login (HTTP 401" },
  { "flapping", Expect::Reason, "", 2 },
  { "server-error", Expect::Reason, "HTTP 500 Internal Server Error" },
  { "slowloris", Expect::Reason, "bytes arrived without a complete frame" },
  { "slow-headers", Expect::Reason, "answers too slowly" },
  { "silent", Expect::Reason, "accepts connections but does not answer" },
  { "silent-after-headers", Expect::Reason, "it answered, then sent nothing" },
  { "hang-up", Expect::Reason, "closed the connection without answering" },
  { "empty-answer", Expect::Reason, "its answer ended before any data" },
  { "reset-mid-frame", Expect::Reason, "closed the connection in the middle of a frame" },
  { "flood", Expect::Live, "" },
  { "frame-20mb", Expect::Reason, "without a complete frame" },
  { "huge-sof", Expect::Rejected, "malformed" },
  { "truncated", Expect::Rejected, "too-small" },
  { "not-jpeg", Expect::Rejected, "not-jpeg" },
  { "html", Expect::Reason, "text/html" },
  { "text", Expect::Reason, "text/plain" },
  { "snapshot-1gb", Expect::Reason, "larger than" },
  { "snapshot-60s", Expect::Reason, "the snapshot was still arriving" },
  { "https-to-http", Expect::Reason, "plain HTTP on an https:// URL", 1, "https" },
  { "closed-port", Expect::Reason, "cannot connect to the camera (", 1, "closed" },
};

/* Cases that give a few good frames before each failure: when the run ends they may be
 * streaming again; their reason is the last failure's. */
const std::set<std::string> FLAPPING = { "flapping", "reset-mid-frame", "absurd-length",
  "short-length", "long-length", "bogus-chunks" };

/* camrelay names cameras with letters, digits, '-' and '_'. */
std::string
camera_of (const Case & c)
{
  return c.name;
}

gint64
rss_kb (int pid)
{
  std::ifstream f ("/proc/" + std::to_string (pid) + "/status");
  std::string line;
  while (std::getline (f, line)) {
    if (line.rfind ("VmRSS:", 0) == 0)
      return g_ascii_strtoll (line.c_str () + 6, nullptr, 10);
  }
  return -1;
}

/* Lines of @log that contain every one of @needles. */
int
count_lines (const std::string & log, std::initializer_list<std::string> needles)
{
  int n = 0;
  std::istringstream in (log);
  std::string line;
  while (std::getline (in, line)) {
    bool all = true;
    for (const auto & needle : needles)
      all = all && line.find (needle) != std::string::npos;
    n += all;
  }
  return n;
}

/* What one viewer saw. */
struct Seen
{
  int parts = 0;
  int live = 0; /* parts that are frames the camera sent */
  int placeholders = 0;
  int foreign = 0; /* anything else: must never happen */
  bool ended = false;
};

/* Reads @viewer until @until; each part must be one of @frames or the placeholder. */
void
watch (MjpegReader & viewer, const std::set<Bytes> & frames, const Bytes & placeholder,
    gint64 until, Seen & seen)
{
  Bytes part;
  while (g_get_monotonic_time () < until) {
    int left = static_cast<int> ((until - g_get_monotonic_time ()) / 1000);
    if (!viewer.next_part (part, MAX (left, 1))) {
      /* Not the end of the run's time (the wait rounds to milliseconds). */
      seen.ended = viewer.ended () || g_get_monotonic_time () < until - 500000;
      break;
    }
    seen.parts++;
    if (frames.count (part))
      seen.live++;
    else if (part == placeholder)
      seen.placeholders++;
    else
      seen.foreign++;
  }
}

/* The whole scenario, run once for all the tests of the suite. */
struct Outcome
{
  bool ok = false;
  std::string failure;
  std::string status;
  std::string stats;
  std::string log; /* from the moment the server started */
  std::string full_log;
  std::map<std::string, gint64> tries_before;
  gint64 rss_before = -1, rss_after = -1, rss_peak = -1;
  bool alive = false;
  std::map<std::string, Seen> seen;
  std::vector<int> pushed_seen;
  int pushed_sent = 0, pushed_others = 0;
  gint64 good_sent = 0;
};

Outcome *the_run = nullptr;

Outcome *
run_scenario ()
{
  auto *r = new Outcome ();
  TempDir dir;
  std::vector<Bytes> frames = make_jpegs (10, BALL);
  for (gsize i = 0; i < frames.size (); i++)
    dir.write ("frames/" + std::to_string (10 + i) + ".jpg", frames[i]);
  std::set<Bytes> frame_set (frames.begin (), frames.end ());
  guint port = free_port (), closed = free_port ();
  std::string base = "http://127.0.0.1:" + std::to_string (port);

  std::string config =
      "[camera idle]\n[camera pushed]\n[camera good]\nsource = " + base + "/case/good\n";
  for (const Case & c : CASES) {
    std::string url = base + "/case/" + c.name;
    if (c.url && std::string (c.url) == "https")
      url = "https://127.0.0.1:" + std::to_string (port) + "/case/good";
    else if (c.url && std::string (c.url) == "closed")
      url = "http://127.0.0.1:" + std::to_string (closed) + "/stream";
    config += "[camera " + camera_of (c) + "]\nsource = " + url + "\n";
  }
  Relay relay;
  if (!relay.start (config)) {
    r->failure = "camrelay did not start: " + relay.proc->output ();
    return r;
  }
  /* Before the server is up every pulled camera fails to connect: the pipelines exist, nothing
   * has been received yet. That is the baseline. */
  if (!wait_until ([&] { return camera_int (relay, "good", "source_reconnects") >= 1; }, 20000)) {
    r->failure = "the pulled cameras did not start: " + relay.status_text ();
    return r;
  }
  Bytes placeholder = http_get (relay.port, "/snapshot/idle.jpg").body;
  std::vector<Bytes> pushed = make_jpegs (static_cast<int> (PUSH_FPS * (RUN_S - 4)), BALL);
  r->rss_before = rss_kb (relay.proc->pid ());
  {
    Json j (relay.status_text ());
    for (const Case & c : CASES)
      r->tries_before[camera_of (c)] = int_member (j.camera (camera_of (c)), "source_reconnects");
  }
  gsize log_start = relay.proc->output ().size ();

  Process server ({ PYTHON, source_path ("tests/e2e/pull/hostile_source.py"), std::to_string (port),
      dir.file ("frames"), "--closed-port", std::to_string (closed) });
  if (!server.wait_for_output ("listening", 20000)) {
    r->failure = "hostile_source.py did not start: " + server.output ();
    return r;
  }
  gint64 until = g_get_monotonic_time () + RUN_S * G_USEC_PER_SEC;

  /* The healthy pushed camera: distinct frames at its rate, watched from the first. */
  WsClient cam (relay.port, "/ws/pushed");
  MjpegReader pushed_viewer (relay.port, "/stream/pushed");
  if (cam.status () != 101 || pushed_viewer.status () != 200) {
    r->failure = "the pushed camera or its viewer was refused";
    return r;
  }
  std::thread pushed_reader ([&] {
    r->pushed_seen = read_until_last (pushed_viewer, pushed, &r->pushed_others, RUN_S * 1000);
  });
  Sender sender (cam, pushed, PUSH_FPS, static_cast<int> (pushed.size ()));

  /* A viewer per pulled camera for the whole run. */
  std::vector<std::string> names{ "good" };
  for (const Case & c : CASES)
    names.push_back (camera_of (c));
  std::vector<std::unique_ptr<MjpegReader>> viewers;
  for (const auto & name : names)
    viewers.push_back (std::make_unique<MjpegReader> (relay.port, "/stream/" + name));
  for (const auto & name : names)
    r->seen[name] = Seen ();
  gint64 good_before = -1;
  std::vector<std::thread> readers;
  for (gsize i = 0; i < names.size (); i++) {
    readers.emplace_back (
        [&, i] { watch (*viewers[i], frame_set, placeholder, until, r->seen[names[i]]); });
  }
  /* RSS sampled through the run: the peak matters as much as the end. */
  while (g_get_monotonic_time () < until) {
    r->rss_peak = MAX (r->rss_peak, rss_kb (relay.proc->pid ()));
    if (good_before < 0) {
      Json j (http_get (port, "/stats").text ());
      JsonObject *good = j.ok () && json_object_has_member (j.root (), "good")
          ? json_object_get_object_member (j.root (), "good")
          : nullptr;
      if (good)
        good_before = int_member (good, "frames");
    }
    g_usleep (250000);
  }
  std::string stats_at_end = http_get (port, "/stats").text ();
  for (auto & t : readers)
    t.join ();
  pushed_reader.join ();
  r->pushed_sent = sender.sent ();
  sender.stop ();

  r->rss_after = rss_kb (relay.proc->pid ());
  r->status = relay.status_text ();
  r->stats = stats_at_end;
  r->alive = relay.proc->running ();
  {
    Json j (r->stats);
    JsonObject *good = j.ok () && json_object_has_member (j.root (), "good")
        ? json_object_get_object_member (j.root (), "good")
        : nullptr;
    r->good_sent = good ? int_member (good, "frames") - MAX (good_before, 0) : -1;
  }
  r->full_log = relay.proc->output ();
  r->log = r->full_log.substr (log_start);
  r->ok = true;
  return r;
}

class HostileSources : public ::testing::Test
{
protected:
  static void SetUpTestSuite ()
  {
    if (!the_run)
      the_run = run_scenario ();
  }
  void SetUp () override { ASSERT_TRUE (the_run->ok) << the_run->failure; }

  const Outcome & outcome () const { return *the_run; }

  std::string field (const Case & c, const char *name) const
  {
    Json j (outcome ().status);
    return str_member (j.camera (camera_of (c)), name);
  }
  gint64 number (const std::string & camera, const char *name) const
  {
    Json j (outcome ().status);
    return int_member (j.camera (camera), name);
  }
  gint64 rejected (const Case & c, const char *reason) const
  {
    Json j (outcome ().status);
    JsonObject *cam = j.camera (camera_of (c));
    JsonObject *rej = cam && json_object_has_member (cam, "rejected")
        ? json_object_get_object_member (cam, "rejected")
        : nullptr;
    return int_member (rej, reason);
  }
  gint64 server_stat (const char *name, const char *what) const
  {
    Json j (outcome ().stats);
    JsonObject *o = j.ok () && json_object_has_member (j.root (), name)
        ? json_object_get_object_member (j.root (), name)
        : nullptr;
    return o ? int_member (o, what) : 0;
  }
};

}  // namespace

TEST_F (HostileSources, CamrelayStaysUpAndHealthyCamerasGetEveryFrame)
{
  EXPECT_TRUE (outcome ().alive) << outcome ().log;
  Json j (outcome ().status);
  EXPECT_TRUE (j.ok ()) << "/status did not answer at the end";

  /* The pushed camera: every frame it sent, in order, at its rate. */
  ASSERT_GT (outcome ().pushed_sent, 0);
  EXPECT_EQ (static_cast<int> (outcome ().pushed_seen.size ()), outcome ().pushed_sent)
      << "the pushed camera's viewer missed frames";
  for (gsize i = 0; i < outcome ().pushed_seen.size (); i++) {
    if (outcome ().pushed_seen[i] != static_cast<int> (i)) {
      ADD_FAILURE () << "pushed frame " << i << " arrived as " << outcome ().pushed_seen[i];
      break;
    }
  }
  EXPECT_EQ (number ("pushed", "frames_dropped"), 0);

  /* The healthy pulled camera: every frame the server sent (one may straddle each end). */
  const Seen & good = outcome ().seen.at ("good");
  EXPECT_GT (outcome ().good_sent, RUN_S * 3) << "the server sent too few frames to judge";
  EXPECT_GE (good.live, outcome ().good_sent - 3)
      << "the good pulled camera's viewer missed frames";
  EXPECT_EQ (good.foreign, 0);
  EXPECT_LE (number ("good", "source_reconnects"), 2) << "only the tries before the server";
}

TEST_F (HostileSources, ViewersGetOnlyWholeFramesOrThePlaceholder)
{
  for (const Case & c : CASES) {
    const Seen & s = outcome ().seen.at (camera_of (c));
    EXPECT_EQ (s.foreign, 0) << c.name << ": a part that is neither a frame the camera sent nor "
                             << "the placeholder reached its viewer";
    EXPECT_FALSE (s.ended) << c.name << ": the viewer's response ended";
    EXPECT_GE (s.parts, RUN_S / 2) << c.name << ": the viewer stalled";
    if (c.expect != Expect::Live)
      continue;
    EXPECT_GT (s.live, RUN_S) << c.name << ": camrelay copes with this one; its frames must show";
  }
}

TEST_F (HostileSources, MemoryStaysBounded)
{
  gint64 growth = outcome ().rss_after - outcome ().rss_before;
  gint64 peak = outcome ().rss_peak - outcome ().rss_before;
  printf ("[ measure  ] RSS before %" G_GINT64_FORMAT " kB, peak +%" G_GINT64_FORMAT
          " kB, end +%" G_GINT64_FORMAT " kB\n",
      outcome ().rss_before, peak, growth);
  EXPECT_LE (growth, RSS_BOUND_KB) << "camrelay grew by " << growth << " kB";
  EXPECT_LE (peak, RSS_BOUND_KB) << "camrelay's peak was " << peak << " kB above the start";
}

TEST_F (HostileSources, BackoffAndOneLogLinePerCause)
{
  for (const Case & c : CASES) {
    std::string camera = "camera " + camera_of (c) + ": source ";
    int failed = count_lines (outcome ().log, { camera, " failed: " });
    int lines = count_lines (outcome ().log, { camera });
    gint64 tries =
        number (camera_of (c), "source_reconnects") - outcome ().tries_before.at (camera_of (c));
    if (c.expect == Expect::Reason) {
      EXPECT_GE (count_lines (outcome ().full_log, { camera, " failed: " }), 1)
          << c.name << ": its failure was never logged";
      EXPECT_GE (tries, 1) << c.name;
    }
    EXPECT_LE (failed, c.max_lines) << c.name << " logged a line per try:\n" << outcome ().log;
    EXPECT_LE (lines, c.max_lines + 3) << c.name;
    EXPECT_LE (tries, MAX_TRIES) << c.name << ": tried without backoff";
    /* A try is one request (two for a look at a camera that did not answer, or a resumed
     * response); a redirect loop is followed 20 times a try. */
    gint64 connections = server_stat (c.name, "connections");
    gint64 limit =
        std::string (c.name) == "redirect-loop" ? 21 * (MAX_TRIES + 1) : 2 * (MAX_TRIES + 1);
    EXPECT_LE (connections, limit) << c.name;
  }
}

TEST_F (HostileSources, StatusNamesAReasonAUserCanActOn)
{
  for (const Case & c : CASES) {
    std::string error = field (c, "source_error");
    std::string state = field (c, "source_state");
    if (c.expect == Expect::Reason) {
      if (FLAPPING.count (c.name))
        EXPECT_TRUE (state == "retrying" || state == "streaming") << c.name << ": " << state;
      else
        EXPECT_EQ (state, "retrying") << c.name << ": " << error;
      EXPECT_NE (error, "(null)") << c.name;
      EXPECT_NE (error.find (c.reason), std::string::npos)
          << c.name << ": /status says \"" << error << "\", want \"" << c.reason << "\"";
      /* What libsoup and GStreamer say when nobody translates them. */
      for (const char *vague : { "Internal data stream error", "Server does not accept Range",
               "refused, unreachable or timed out", "Could not determine type" })
        EXPECT_EQ (error.find (vague), std::string::npos) << c.name << ": " << error;
    } else if (c.expect == Expect::Rejected) {
      EXPECT_GT (rejected (c, c.reason), 0) << c.name << ": " << outcome ().status;
      EXPECT_EQ (field (c, "state"), "placeholder") << c.name;
    } else {
      EXPECT_EQ (state, "streaming") << c.name << ": " << error;
      EXPECT_EQ (field (c, "state"), "live") << c.name;
    }
    if (g_getenv ("CAMRELAY_TEST_VERBOSE"))
      printf ("[ reason   ] %-22s %-10s %" G_GINT64_FORMAT " tries, %d lines: %s\n", c.name,
          state.c_str (),
          number (camera_of (c), "source_reconnects") - outcome ().tries_before.at (camera_of (c)),
          count_lines (outcome ().log, { "camera " + camera_of (c) + ": source ", " failed: " }),
          error.c_str ());
  }
}

TEST_F (HostileSources, NoLiveStreamIsAskedForAByteRange)
{
  for (const Case & c : CASES)
    EXPECT_EQ (server_stat (c.name, "range_requests"), 0) << c.name;
  EXPECT_GT (server_stat ("reset-mid-frame", "connections"), 1) << "the reset case was not retried";
}
