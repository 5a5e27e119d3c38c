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
 * - camrelay's RSS grew by at most 32 MB (48 MB for a moment), whatever the sources sent;
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
/* Seconds into the run after which memory is measured: every case has been tried by then. */
const int WARMUP_S = 8;
/* The healthy pushed camera's rate. */
const double PUSH_FPS = 10;
/* kB camrelay's RSS may grow by over the run, whatever the sources send. */
const gint64 RSS_BOUND_KB = 32 * 1024;
/* kB it may rise by for a moment: a part is cut at max-frame-size (16 MiB), and multipartdemux
 * holds a contiguous copy of what it searches besides the buffers themselves. */
const gint64 PEAK_BOUND_KB = 48 * 1024;
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

/* Cases that send tens of MB: each runs in a camrelay of its own. */
const std::set<std::string> HEAVY = { "endless-part", "endless-part-headers", "frame-20mb" };

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

/* One camrelay process of the run and what it showed. */
struct Group
{
  std::vector<const Case *> cases;
  std::string good; /* its healthy pulled camera, counted apart by the server */
  Relay relay;
  /* kB: before the server was up; after the first tries of every case (GStreamer's typefinders
   * and plugins loaded once, as any first camera does); the highest after that; at the end. */
  gint64 rss_cold = -1, rss_before = -1, rss_after = -1, rss_peak = -1;
  gsize log_start = 0;
  std::string status;
  std::string log; /* from the moment the server started */
  std::string full_log;
  std::map<std::string, gint64> tries_before;
  bool alive = false;
};

/* The whole scenario, run once for all the tests of the suite. */
struct Outcome
{
  bool ok = false;
  std::string failure;
  std::string stats;
  std::vector<std::unique_ptr<Group>> groups;
  std::map<std::string, Group *> group_of; /* by camera */
  std::map<std::string, Seen> seen;        /* by camera */
  std::map<std::string, gint64> good_before;
  std::vector<int> pushed_seen;
  int pushed_sent = 0, pushed_others = 0;
};

Outcome *the_run = nullptr;

gint64
server_counter (const std::string & stats, const std::string & name, const char *what)
{
  Json j (stats);
  JsonObject *o = j.ok () && json_object_has_member (j.root (), name.c_str ())
      ? json_object_get_object_member (j.root (), name.c_str ())
      : nullptr;
  return o ? int_member (o, what) : 0;
}

/* The heavy cases (tens of MB each) run in a camrelay of their own, so that each one's memory is
 * measured alone; the others share one. */
std::vector<std::unique_ptr<Group>>
plan_groups ()
{
  std::vector<std::unique_ptr<Group>> groups;
  groups.push_back (std::make_unique<Group> ());
  groups[0]->good = "good";
  for (const Case & c : CASES) {
    if (!HEAVY.count (c.name)) {
      groups[0]->cases.push_back (&c);
      continue;
    }
    groups.push_back (std::make_unique<Group> ());
    groups.back ()->cases.push_back (&c);
    groups.back ()->good = "good-" + std::to_string (groups.size ());
  }
  return groups;
}

std::string
group_config (const Group & g, guint port, guint closed)
{
  std::string base = "http://127.0.0.1:" + std::to_string (port);
  std::string config =
      "[camera idle]\n[camera " + g.good + "]\nsource = " + base + "/case/good?as=" + g.good + "\n";
  if (g.good == "good")
    config += "[camera pushed]\n";
  for (const Case *c : g.cases) {
    std::string url = base + "/case/" + c->name;
    if (c->url && std::string (c->url) == "https")
      url = "https://127.0.0.1:" + std::to_string (port) + "/case/good?as=tls";
    else if (c->url && std::string (c->url) == "closed")
      url = "http://127.0.0.1:" + std::to_string (closed) + "/stream";
    config += "[camera " + camera_of (*c) + "]\nsource = " + url + "\n";
  }
  return config;
}

Outcome *
run_scenario ()
{
  auto *r = new Outcome ();
  TempDir dir;
  std::vector<Bytes> frames = make_jpegs (10, BALL);
  for (gsize i = 0; i < frames.size (); i++)
    dir.write ("frames/" + std::to_string (10 + i) + ".jpg", frames[i]);
  std::set<Bytes> frame_set (frames.begin (), frames.end ());
  /* Held for the whole run: a port merely free a moment ago was at times handed to one of the
   * camrelays started next, which answered the "closed" camera's pulls with 404. */
  static ClosedPort closed_port;
  guint port = free_port (), closed = closed_port.port ();

  r->groups = plan_groups ();
  for (auto & g : r->groups) {
    if (!g->relay.start (group_config (*g, port, closed))) {
      r->failure = "camrelay did not start: " + g->relay.proc->output ();
      return r;
    }
    r->group_of[g->good] = g.get ();
    for (const Case *c : g->cases)
      r->group_of[camera_of (*c)] = g.get ();
  }
  Group & main = *r->groups[0];
  /* Before the server is up every pulled camera fails to connect: the pipelines exist, nothing
   * has been received yet. That is the baseline. */
  for (auto & g : r->groups) {
    if (!wait_until (
            [&] { return camera_int (g->relay, g->good.c_str (), "source_reconnects") >= 1; },
            20000)) {
      r->failure = "the pulled cameras did not start: " + g->relay.status_text ();
      return r;
    }
  }
  Bytes placeholder = http_get (main.relay.port, "/snapshot/idle.jpg").body;
  std::vector<Bytes> pushed = make_jpegs (static_cast<int> (PUSH_FPS * (RUN_S - 4)), BALL);
  for (auto & g : r->groups) {
    g->rss_cold = rss_kb (g->relay.proc->pid ());
    Json j (g->relay.status_text ());
    for (const Case *c : g->cases)
      g->tries_before[camera_of (*c)] = int_member (j.camera (camera_of (*c)), "source_reconnects");
    g->log_start = g->relay.proc->output ().size ();
  }

  Process server ({ PYTHON, source_path ("tests/e2e/pull/hostile_source.py"), std::to_string (port),
      dir.file ("frames"), "--closed-port", std::to_string (closed) });
  if (!server.wait_for_output ("listening", 20000)) {
    r->failure = "hostile_source.py did not start: " + server.output ();
    return r;
  }
  gint64 until = g_get_monotonic_time () + RUN_S * G_USEC_PER_SEC;

  /* The healthy pushed camera: distinct frames at its rate, watched from the first. */
  WsClient cam (main.relay.port, "/ws/pushed");
  MjpegReader pushed_viewer (main.relay.port, "/stream/pushed");
  if (cam.status () != 101 || pushed_viewer.status () != 200) {
    r->failure = "the pushed camera or its viewer was refused";
    return r;
  }
  std::thread pushed_reader ([&] {
    r->pushed_seen = read_until_last (pushed_viewer, pushed, &r->pushed_others, RUN_S * 1000);
  });
  Sender sender (cam, pushed, PUSH_FPS, static_cast<int> (pushed.size ()));

  /* A viewer per pulled camera for the whole run. */
  std::vector<std::pair<std::string, guint>> names;
  for (auto & g : r->groups) {
    names.emplace_back (g->good, g->relay.port);
    for (const Case *c : g->cases)
      names.emplace_back (camera_of (*c), g->relay.port);
  }
  std::vector<std::unique_ptr<MjpegReader>> viewers;
  for (const auto & [name, relay_port] : names) {
    viewers.push_back (std::make_unique<MjpegReader> (relay_port, "/stream/" + name));
    r->seen[name] = Seen ();
  }
  std::vector<std::thread> readers;
  for (gsize i = 0; i < names.size (); i++) {
    readers.emplace_back (
        [&, i] { watch (*viewers[i], frame_set, placeholder, until, r->seen[names[i].first]); });
  }
  /* RSS sampled through the run: the peak matters as much as the end. */
  gint64 warm = until - (RUN_S - WARMUP_S) * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < until) {
    for (auto & g : r->groups) {
      if (g_get_monotonic_time () < warm)
        continue;
      gint64 now = rss_kb (g->relay.proc->pid ());
      if (g->rss_before < 0)
        g->rss_before = now;
      g->rss_peak = MAX (g->rss_peak, now);
    }
    if (r->good_before.empty ()) {
      std::string stats = http_get (port, "/stats").text ();
      for (auto & g : r->groups)
        r->good_before[g->good] = server_counter (stats, g->good, "frames");
    }
    g_usleep (250000);
  }
  r->stats = http_get (port, "/stats").text ();
  for (auto & t : readers)
    t.join ();
  pushed_reader.join ();
  r->pushed_sent = sender.sent ();
  sender.stop ();

  for (auto & g : r->groups) {
    g->rss_after = rss_kb (g->relay.proc->pid ());
    g->status = g->relay.status_text ();
    g->alive = g->relay.proc->running ();
    g->full_log = g->relay.proc->output ();
    g->log = g->full_log.substr (g->log_start);
  }
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
  const Group & group (const std::string & camera) const
  {
    return *outcome ().group_of.at (camera);
  }

  std::string field (const std::string & camera, const char *name) const
  {
    Json j (group (camera).status);
    return str_member (j.camera (camera), name);
  }
  gint64 number (const std::string & camera, const char *name) const
  {
    Json j (group (camera).status);
    return int_member (j.camera (camera), name);
  }
  gint64 rejected (const std::string & camera, const char *reason) const
  {
    Json j (group (camera).status);
    JsonObject *cam = j.camera (camera);
    JsonObject *rej = cam && json_object_has_member (cam, "rejected")
        ? json_object_get_object_member (cam, "rejected")
        : nullptr;
    return int_member (rej, reason);
  }
  gint64 server_stat (const std::string & name, const char *what) const
  {
    return server_counter (outcome ().stats, name, what);
  }
  /* "failed" lines of @camera's source since the server started (or in the whole log). */
  int failed_lines (const std::string & camera, bool whole = false) const
  {
    const Group & g = group (camera);
    return count_lines (whole ? g.full_log : g.log,
        { "camera " + camera + ": source ", " failed: " });
  }
  gint64 tries (const std::string & camera) const
  {
    return number (camera, "source_reconnects") - group (camera).tries_before.at (camera);
  }
};

}  // namespace

TEST_F (HostileSources, CamrelayStaysUpAndHealthyCamerasGetEveryFrame)
{
  for (const auto & g : outcome ().groups) {
    EXPECT_TRUE (g->alive) << g->full_log;
    Json j (g->status);
    EXPECT_TRUE (j.ok ()) << "/status did not answer at the end";

    /* Each healthy pulled camera: every frame the server sent it (one may straddle each end),
     * and no failure once the server was up. */
    const Seen & good = outcome ().seen.at (g->good);
    gint64 sent = server_stat (g->good, "frames") - outcome ().good_before.at (g->good);
    EXPECT_GT (sent, RUN_S * 3) << g->good << ": the server sent too few frames to judge";
    EXPECT_GE (good.live, sent - 3) << g->good << ": its viewer missed frames";
    EXPECT_EQ (good.foreign, 0) << g->good;
    EXPECT_EQ (failed_lines (g->good), 0) << g->good << " failed:\n" << g->log;
  }

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
  EXPECT_EQ (number ("good", "frames_dropped"), 0);
  Json j (outcome ().groups[0]->status);
  EXPECT_EQ (int_member (j.camera ("pushed"), "frames_dropped"), 0);
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
  for (const auto & g : outcome ().groups) {
    std::string what = g->cases.size () == 1 ? g->cases[0]->name : "the shared camrelay";
    gint64 growth = g->rss_after - g->rss_before;
    gint64 peak = g->rss_peak - g->rss_before;
    printf ("[ measure  ] %s (%zu hostile cameras): RSS %" G_GINT64_FORMAT
            " kB before the server, %" G_GINT64_FORMAT
            " kB after %d s, then peak +%" G_GINT64_FORMAT " kB, end +%" G_GINT64_FORMAT " kB\n",
        what.c_str (), g->cases.size (), g->rss_cold, g->rss_before, WARMUP_S, peak, growth);
    EXPECT_LE (growth, RSS_BOUND_KB) << what << " grew by " << growth << " kB";
    EXPECT_LE (peak, PEAK_BOUND_KB) << what << ": the peak was " << peak << " kB above the start";
  }
}

TEST_F (HostileSources, BackoffAndOneLogLinePerCause)
{
  for (const Case & c : CASES) {
    std::string camera = camera_of (c);
    int failed = failed_lines (camera);
    int lines = count_lines (group (camera).log, { "camera " + camera + ": source " });
    if (c.expect == Expect::Reason) {
      EXPECT_GE (failed_lines (camera, true), 1) << c.name << ": its failure was never logged";
      EXPECT_GE (tries (camera), 1) << c.name;
    }
    EXPECT_LE (failed, c.max_lines) << c.name << " logged a line per try:\n" << group (camera).log;
    EXPECT_LE (lines, c.max_lines + 3) << c.name;
    EXPECT_LE (tries (camera), MAX_TRIES) << c.name << ": tried without backoff";
    /* A try is one request (two for a look at a camera that did not answer, or a resumed
     * response); a redirect loop is followed 20 times a try. */
    gint64 connections = server_stat (c.name, "connections");
    gint64 limit =
        std::string (c.name) == "redirect-loop" ? 21 * (MAX_TRIES + 2) : 2 * (MAX_TRIES + 2);
    EXPECT_LE (connections, limit) << c.name;
  }
}

TEST_F (HostileSources, StatusNamesAReasonAUserCanActOn)
{
  for (const Case & c : CASES) {
    std::string camera = camera_of (c);
    std::string error = field (camera, "source_error");
    std::string state = field (camera, "source_state");
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
      EXPECT_GT (rejected (camera, c.reason), 0) << c.name << ": " << group (camera).status;
      EXPECT_EQ (field (camera, "state"), "placeholder") << c.name;
    } else {
      EXPECT_EQ (state, "streaming") << c.name << ": " << error;
      EXPECT_EQ (field (camera, "state"), "live") << c.name;
    }
    if (g_getenv ("CAMRELAY_TEST_VERBOSE"))
      printf ("[ reason   ] %-22s %-10s %" G_GINT64_FORMAT " tries, %d lines: %s\n", c.name,
          state.c_str (), tries (camera), failed_lines (camera), error.c_str ());
  }
}

TEST_F (HostileSources, NoLiveStreamIsAskedForAByteRange)
{
  for (const Case & c : CASES)
    EXPECT_EQ (server_stat (c.name, "range_requests"), 0) << c.name;
  EXPECT_GT (server_stat ("reset-mid-frame", "connections"), 1) << "the reset case was not retried";
}
