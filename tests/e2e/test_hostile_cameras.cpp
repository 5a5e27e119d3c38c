/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Misbehaving cameras against the real camrelay program (issue 5). While a good camera and a viewer
 * run on camera A, camera B gets everything a broken or hostile camera can send. A must not notice;
 * B's viewer gets only B's valid frames or the placeholder; every case is counted with its reason
 * in /status and /metrics; and the server is still up at the end. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

using namespace crtest;

namespace {

/* Camera B's limits (bytes), small enough to reach in a test. */
const gsize B_MIN_SIZE = 5001;
const gsize B_MAX_SIZE = 300000;
const gsize B_MAX_MESSAGE = 1048576;

const char *const CONFIG = "[camera a]\n"
                           "[camera b]\n"
                           "secret = b-secret\n"
                           "max-size = 300000\n"
                           "max-message-size = 1048576\n"
                           "decode-check = true\n";
/* How B's firmware authenticates (it cannot set headers). */
const char *const B_INGEST = "/ws/b?token=b-secret";

const JpegSpec BALL{ 640, 480, 85, "ball" };

/* Every counter of B that /status reports, by its /status name, with its /metrics family. */
const std::pair<const char *, const char *> COUNTERS[] = {
  { "connections", "camrelay_camera_connections_total" },
  { "frames_received", "camrelay_camera_received_frames_total" },
  { "bytes_received", "camrelay_camera_received_bytes_total" },
  { "messages_refused", "camrelay_camera_refused_messages_total" },
  { "protocol_errors", "camrelay_camera_protocol_errors_total" },
  { "invalid_utf8", "camrelay_camera_invalid_utf8_total" },
  { "connections_lost", "camrelay_camera_connections_lost_total" },
  { "unauthorized", "camrelay_camera_unauthorized_total" },
  { "takeovers", "camrelay_camera_takeovers_total" },
  { "text_messages", "camrelay_camera_text_messages_total" },
  { "pings", "camrelay_camera_pings_total" },
  { "frames_dropped", "camrelay_camera_dropped_frames_total" },
  { "frames_accepted", "camrelay_camera_accepted_frames_total" },
};
const char *const REASONS[] = {
  "too-small",
  "too-large",
  "not-jpeg",
  "truncated",
  "malformed",
  "merged",
  "decode-failed",
};

/* What B's counters must read after what the test has sent so far. */
struct Tally
{
  std::map<std::string, gint64> counters;
  std::map<std::string, gint64> rejected;

  Tally ()
  {
    for (const auto & [name, metric] : COUNTERS)
      counters[name] = 0;
    for (const char *r : REASONS)
      rejected[r] = 0;
  }

  /* A whole binary message that reached jpegvalidate: "accepted" or the reason it is rejected. */
  void message (const Bytes & m, const std::string & outcome)
  {
    counters["frames_received"]++;
    counters["bytes_received"] += m.size ();
    if (outcome == "accepted")
      counters["frames_accepted"]++;
    else
      rejected.at (outcome)++;
  }

  gint64 rejected_total () const
  {
    gint64 n = 0;
    for (const auto & [reason, count] : rejected)
      n += count;
    return n;
  }
};

/* Differences between @t and camera @name in /status; empty when they agree. */
std::string
status_mismatch (const Relay & relay, const char *name, const Tally & t)
{
  Json j (relay.status_text ());
  JsonObject *c = j.camera (name);
  if (!c)
    return "no camera " + std::string (name) + " in /status";
  std::string out;
  auto check = [&] (const std::string & what, gint64 got, gint64 want) {
    if (got != want)
      out += " " + what + "=" + std::to_string (got) + " (want " + std::to_string (want) + ")";
  };
  for (const auto & [field, want] : t.counters)
    check (field, int_member (c, field.c_str ()), want);
  check ("frames_rejected", int_member (c, "frames_rejected"), t.rejected_total ());
  JsonObject *rejected = json_object_has_member (c, "rejected")
      ? json_object_get_object_member (c, "rejected")
      : nullptr;
  for (const auto & [reason, want] : t.rejected)
    check ("rejected." + reason, int_member (rejected, reason.c_str ()), want);
  return out;
}

/* The samples of /metrics that carry camera="@camera": "family" or "family{reason}" -> value. */
std::map<std::string, double>
metric_samples (const std::string & text, const std::string & camera)
{
  std::map<std::string, double> out;
  const std::string label = "camera=\"" + camera + "\"";
  std::istringstream lines (text);
  std::string line;
  while (std::getline (lines, line)) {
    gsize brace = line.find ('{'), close = line.find ('}'), space = line.rfind (' ');
    if (line.empty () || line[0] == '#' || brace == std::string::npos ||
        close == std::string::npos || space == std::string::npos || space < close)
      continue;
    std::string labels = line.substr (brace + 1, close - brace - 1);
    if (labels.find (label) == std::string::npos)
      continue;
    std::string key = line.substr (0, brace);
    gsize reason = labels.find ("reason=\"");
    if (reason != std::string::npos)
      key += "{" + labels.substr (reason + 8, labels.find ('"', reason + 8) - reason - 8) + "}";
    out[key] = g_ascii_strtod (line.c_str () + space + 1, nullptr);
  }
  return out;
}

/* Collects every part of one viewer from its own thread. */
class PartLog
{
public:
  PartLog (guint port, const std::string & path)
    : reader_ (port, path), thread_ ([this] { run (); })
  {}
  ~PartLog () { stop (); }
  PartLog (const PartLog &) = delete;
  PartLog & operator= (const PartLog &) = delete;

  int status () const { return reader_.status (); }
  void stop ()
  {
    stop_ = true;
    if (thread_.joinable ())
      thread_.join ();
  }
  /* True if the response stopped being a stream of parts (ended, cut, or not multipart). */
  bool broken () const { return broken_; }
  std::vector<Bytes> parts () const
  {
    std::lock_guard<std::mutex> lock (mutex_);
    return parts_;
  }
  gsize count () const
  {
    std::lock_guard<std::mutex> lock (mutex_);
    return parts_.size ();
  }
  bool has (const Bytes & part) const
  {
    std::lock_guard<std::mutex> lock (mutex_);
    return std::find (parts_.begin (), parts_.end (), part) != parts_.end ();
  }
  bool wait_for (const Bytes & part, int timeout_ms = 10000) const
  {
    return wait_until ([&] { return has (part); }, timeout_ms);
  }

private:
  void run ()
  {
    Bytes part;
    while (!stop_) {
      gint64 asked = g_get_monotonic_time ();
      if (reader_.next_part (part, 200)) {
        std::lock_guard<std::mutex> lock (mutex_);
        parts_.push_back (part);
      } else if (g_get_monotonic_time () - asked < 150 * 1000) {
        /* Not a timeout: the reader gave up on the response. */
        broken_ = true;
        return;
      }
    }
  }

  MjpegReader reader_;
  mutable std::mutex mutex_;
  std::vector<Bytes> parts_;
  std::atomic<bool> stop_{ false };
  std::atomic<bool> broken_{ false };
  std::thread thread_;
};

/* Offset of the first marker segment @marker before the scan data; 0 if there is none. */
gsize
segment_at (const Bytes & j, guint8 marker)
{
  gsize pos = 2;
  while (pos + 4 <= j.size () && j[pos] == 0xff && j[pos + 1] != 0xda) {
    if (j[pos + 1] == marker)
      return pos;
    pos += 2 + ((j[pos + 2] << 8) | j[pos + 3]);
  }
  return marker == 0xda && pos + 4 <= j.size () ? pos : 0;
}

Bytes
with_be16 (Bytes j, gsize at, guint value)
{
  j[at] = value >> 8;
  j[at + 1] = value & 0xff;
  return j;
}

/* @frame with a comment segment naming it, so that every frame A sends is distinct. */
Bytes
numbered (const Bytes & frame, int n)
{
  g_autofree gchar *text = g_strdup_printf ("camrelay test frame A %06d", n);
  gsize len = strlen (text) + 2;
  Bytes out (frame.begin (), frame.begin () + 2);
  out.insert (out.end (),
      { 0xff, 0xfe, static_cast<guint8> (len >> 8), static_cast<guint8> (len & 0xff) });
  out.insert (out.end (), text, text + len - 2);
  out.insert (out.end (), frame.begin () + 2, frame.end ());
  return out;
}

Bytes
random_bytes (GRand *rand, gsize size)
{
  Bytes b (size);
  for (auto & c : b)
    c = static_cast<guint8> (g_rand_int (rand));
  if (size > 0 && b[0] == 0xff)
    b[0] = 0;
  return b;
}

Bytes
padded (const std::string & signature, gsize size)
{
  Bytes b (signature.begin (), signature.end ());
  b.resize (size, 0x5a);
  return b;
}

class HostileCameras : public ::testing::Test
{
protected:
  void SetUp () override
  {
    rand_ = g_rand_new_with_seed (5);
    ASSERT_TRUE (relay_.start (CONFIG)) << relay_.proc->output ();
    placeholder_file_ = read_file (source_path ("placeholder.jpg"));
    ASSERT_FALSE (placeholder_file_.empty ());
  }

  void TearDown () override { g_rand_free (rand_); }

  std::unique_ptr<WsClient> connect_b ()
  {
    auto cam = std::make_unique<WsClient> (relay_.port, B_INGEST);
    EXPECT_EQ (cam->status (), 101);
    b_.counters["connections"]++;
    return cam;
  }

  /* Sends @m on @cam and waits until B's pipeline has dealt with it (so that none is dropped
   * from wsjpegsrc's short queue and the counts stay exact). */
  void send_b (WsClient & cam, const Bytes & m, const std::string & outcome)
  {
    ASSERT_TRUE (send_settled (relay_, cam, "b", m)) << outcome << ", " << m.size () << " bytes";
    b_.message (m, outcome);
    if (outcome == "accepted")
      b_valid_.push_back (m);
  }

  /* B's counters agree with what was sent so far. After a first disagreement the tally is off
   * for good: later steps are not checked (the final check still reports). */
  void expect_counted (const std::string & step)
  {
    if (counts_off_)
      return;
    std::string mismatch;
    counts_off_ = !wait_until (
        [&] {
          mismatch = status_mismatch (relay_, "b", b_);
          return mismatch.empty ();
        },
        10000);
    EXPECT_FALSE (counts_off_) << "after " << step << ":" << mismatch;
  }

  /* A valid frame for B reaches B's viewer, byte for byte. */
  void expect_delivered (const PartLog & viewer, const Bytes & frame, const std::string & what)
  {
    EXPECT_TRUE (viewer.wait_for (frame)) << what << " did not reach B's viewer";
  }

  Relay relay_;
  GRand *rand_ = nullptr;
  Bytes placeholder_file_;
  Tally b_;
  std::vector<Bytes> b_valid_; /* in the order sent */
  bool counts_off_ = false;
};

}  // namespace

TEST_F (HostileCameras, EveryCaseIsCountedAndNothingElseNotices)
{
  /* ---- Camera A: a good camera at 10 fps and a viewer, all along. ---- */
  std::vector<Bytes> base = make_jpegs (30, BALL);
  std::vector<Bytes> a_frames;
  for (int i = 0; i < 3000; i++)
    a_frames.push_back (numbered (base[i % base.size ()], i));
  PartLog va (relay_.port, "/stream/a");
  PartLog vb (relay_.port, "/stream/b");
  ASSERT_EQ (va.status (), 200);
  ASSERT_EQ (vb.status (), 200);
  /* Viewers attach just after their headers: wait, so that A's first frame is not missed. */
  ASSERT_TRUE (wait_until ([&] {
    return camera_int (relay_, "a", "viewers") == 1 && camera_int (relay_, "b", "viewers") == 1;
  })) << relay_.status_text ();
  /* Until their cameras send, both show the placeholder (re-encoded by jpegfallback, so not the
   * file's bytes): its first part tells each viewer's placeholder. */
  ASSERT_TRUE (wait_until ([&] { return va.count () > 0 && vb.count () > 0; }));
  const Bytes placeholder_a = va.parts ()[0], placeholder_b = vb.parts ()[0];
  int fw = 0, fh = 0;
  ASSERT_TRUE (jpeg_dimensions (placeholder_file_, &fw, &fh));
  for (const Bytes *p : { &placeholder_a, &placeholder_b }) {
    int w = 0, h = 0;
    ASSERT_TRUE (jpeg_dimensions (*p, &w, &h));
    EXPECT_EQ (w, fw);
    EXPECT_EQ (h, fh);
  }
  WsClient cam_a (relay_.port, "/ws/a");
  ASSERT_EQ (cam_a.status (), 101);
  Sender sender_a (cam_a, a_frames, 10);

  /* ---- B's frames ---- */
  std::vector<Bytes> good = make_jpegs (20, BALL);
  JpegSpec snow_spec{ 320, 240, 85, "snow" };
  Bytes snow = make_jpegs (1, snow_spec)[0];
  for (const Bytes *f : { &good[0], &snow })
    ASSERT_TRUE (f->size () >= B_MIN_SIZE && f->size () <= B_MAX_SIZE) << f->size ();

  auto cam = connect_b ();
  ASSERT_TRUE (cam->send_text ("hello from ESP32 camera stream!"));
  b_.counters["text_messages"]++;
  send_b (*cam, good[0], "accepted");
  expect_delivered (vb, good[0], "the first valid frame");
  expect_counted ("a valid frame");

  /* Random bytes and empty messages. */
  send_b (*cam, random_bytes (rand_, 20000), "not-jpeg");
  send_b (*cam, random_bytes (rand_, 200000), "not-jpeg");
  send_b (*cam, random_bytes (rand_, 100), "too-small");
  for (int i = 0; i < 3; i++)
    send_b (*cam, Bytes (), "too-small");
  expect_counted ("random bytes and empty messages");

  /* A JPEG cut at many lengths: below the minimum size too small, above it truncated. */
  const Bytes & whole = good[1];
  std::vector<gsize> lengths = { 1, 2, 3, 4, 100, 2000, B_MIN_SIZE - 1, B_MIN_SIZE, B_MIN_SIZE + 1,
    whole.size () - 2, whole.size () - 1 };
  gsize step = MAX ((whole.size () - B_MIN_SIZE) / 40, 1);
  for (gsize len = B_MIN_SIZE + 97; len < whole.size () - 2; len += step)
    lengths.push_back (len);
  for (gsize len : lengths) {
    Bytes part (whole.begin (), whole.begin () + len);
    ASSERT_FALSE (len >= 2 && part[len - 2] == 0xff && part[len - 1] == 0xd9) << len;
    send_b (*cam, part, len < B_MIN_SIZE ? "too-small" : "truncated");
  }
  expect_counted ("cut JPEGs");

  /* Corrupt segment lengths and absurd dimensions in otherwise whole frames. */
  gsize dqt = segment_at (good[2], 0xdb), sof = segment_at (good[2], 0xc0);
  ASSERT_NE (dqt, 0u);
  ASSERT_NE (sof, 0u);
  send_b (*cam, with_be16 (good[2], dqt + 2, 0xffff), "malformed");
  send_b (*cam, with_be16 (good[3], dqt + 2, 1), "malformed");
  send_b (*cam, with_be16 (with_be16 (good[4], sof + 5, 65535), sof + 7, 65535), "malformed");
  send_b (*cam, with_be16 (good[5], sof + 7, 0), "malformed");
  expect_counted ("corrupt segments and dimensions");

  /* Other formats. */
  send_b (*cam, padded ("\x89PNG\r\n\x1a\n", 8000), "not-jpeg");
  send_b (*cam, padded ("GIF89a", 8000), "not-jpeg");
  expect_counted ("PNG and GIF");

  /* Valid JPEGs of other sizes and subsamplings pass, byte for byte. */
  const JpegSpec others[] = {
    { 320, 240, 85, "snow", "I420" },
    { 1280, 720, 85, "ball", "Y42B" },
    { 800, 600, 85, "ball", "Y444" },
    { 640, 480, 90, "snow", "GRAY8" },
    { 176, 144, 95, "snow", "Y444" },
  };
  for (const auto & spec : others) {
    Bytes f = make_jpegs (1, spec)[0];
    std::string what =
        std::to_string (spec.width) + "x" + std::to_string (spec.height) + " " + spec.format;
    ASSERT_TRUE (f.size () >= B_MIN_SIZE && f.size () <= B_MAX_SIZE) << what << ": " << f.size ();
    send_b (*cam, f, "accepted");
    expect_delivered (vb, f, what);
  }
  expect_counted ("other sizes and subsamplings");

  /* Over max-size but within max-message-size: received whole, then refused by jpegvalidate. */
  Bytes big = good[6];
  big.resize (B_MAX_SIZE + 100000, 0);
  send_b (*cam, big, "too-large");
  /* A structurally sound frame whose scan data ends early: only decoding finds out. */
  gsize sos = segment_at (snow, 0xda);
  ASSERT_NE (sos, 0u);
  gsize data_start = sos + 2 + ((snow[sos + 2] << 8) | snow[sos + 3]);
  Bytes early (snow.begin (), snow.begin () + data_start + (snow.size () - data_start) / 2);
  while (early.back () == 0xff)
    early.pop_back ();
  early.insert (early.end (), { 0xff, 0xd9 });
  ASSERT_GE (early.size (), B_MIN_SIZE);
  send_b (*cam, early, "decode-failed");
  expect_counted ("too large and undecodable");

  /* A text flood and a ping flood cost nothing but their counts: frames still pass after. */
  for (int i = 0; i < 1000; i++)
    ASSERT_TRUE (cam->send_text ("hello from ESP32 camera stream!"));
  b_.counters["text_messages"] += 1000;
  send_b (*cam, good[7], "accepted");
  expect_delivered (vb, good[7], "a frame after a text flood");
  Bytes ping = { 'p', 'i', 'n', 'g' };
  for (int i = 0; i < 1000; i++)
    ASSERT_TRUE (cam->send_frame (9, ping.data (), ping.size ()));
  b_.counters["pings"] += 1000;
  send_b (*cam, good[8], "accepted");
  expect_delivered (vb, good[8], "a frame after a ping flood");
  expect_counted ("text and ping floods");
  cam->close_and_hang_up ();
  cam.reset ();

  /* A message over max-message-size is refused from its header, long before it is all sent. */
  {
    auto over = connect_b ();
    Bytes huge (2 * B_MAX_MESSAGE, 0x42);
    Bytes frame = ws_client_frame (2, huge.data (), huge.size ());
    ASSERT_TRUE (over->send_raw (frame.data (), 65536));
    EXPECT_EQ (over->wait_close (nullptr, 5000), 1009);
    b_.counters["messages_refused"]++;
  }
  expect_counted ("an oversized message");
  /* Text has a fixed limit of its own (64 KiB), counted the same way. */
  {
    auto chatty = connect_b ();
    chatty->send_text (std::string (70000, 'x'));
    EXPECT_EQ (chatty->wait_close (nullptr, 5000), 1009);
    b_.counters["messages_refused"]++;
  }
  expect_counted ("an oversized text message");

  /* Frames that break RFC 6455, each on a connection of its own. */
  struct Violation
  {
    const char *name;
    Bytes bytes;
    int code;
  };
  guint8 bad_utf8[] = { 'o', 'k', 0xc3, 0x28 };
  Bytes long_ping (126, 'x');
  const Violation violations[] = {
    { "unmasked frame", ws_client_frame (2, good[9].data (), good[9].size (), true, false), 1002 },
    { "reserved opcode", ws_client_frame (3, good[9].data (), good[9].size ()), 1002 },
    { "reserved bits", ws_client_frame (2, good[9].data (), good[9].size (), true, true, 4), 1002 },
    { "ping over 125 bytes", ws_client_frame (9, long_ping.data (), long_ping.size ()), 1002 },
    { "bad UTF-8 in text", ws_client_frame (1, bad_utf8, sizeof (bad_utf8)), 1007 },
  };
  for (const auto & v : violations) {
    auto bad = connect_b ();
    ASSERT_TRUE (bad->send_raw (v.bytes));
    EXPECT_EQ (bad->wait_close (nullptr, 5000), v.code) << v.name;
    b_.counters[v.code == 1007 ? "invalid_utf8" : "protocol_errors"]++;
    expect_counted (v.name);
  }

  /* A camera that stops in the middle of a message: nothing of it is delivered. */
  {
    auto quitter = connect_b ();
    Bytes frame = ws_client_frame (2, good[10].data (), good[10].size ());
    ASSERT_TRUE (quitter->send_raw (frame.data (), frame.size () / 2));
    std::string peer = quitter->local_address ();
    quitter.reset ();
    EXPECT_TRUE (relay_.proc->wait_for_output ("camera b: " + peer + " disconnected (1006"))
        << relay_.proc->output ();
  }
  b_.counters["connections_lost"]++;
  expect_counted ("a camera that stopped mid-message");

  /* Two cameras fighting over B's path: each newer one takes over, the older is told why, and
   * what the older sends after that is not delivered. */
  auto holder = connect_b ();
  send_b (*holder, good[11], "accepted");
  for (int round = 0; round < 5; round++) {
    auto rival = connect_b ();
    b_.counters["takeovers"]++;
    std::string reason;
    EXPECT_EQ (holder->wait_close (&reason, 5000), 1000) << "round " << round;
    EXPECT_NE (reason.find ("replaced by a newer connection"), std::string::npos) << reason;
    holder->send_binary (good[18]);
    const Bytes & next = good[12 + round];
    send_b (*rival, next, "accepted");
    expect_delivered (vb, next, "the winner's frame in round " + std::to_string (round));
    holder = std::move (rival);
  }
  expect_counted ("two cameras fighting");
  holder->close_and_hang_up ();
  holder.reset ();

  /* A camera without the secret is refused before anything is read. */
  EXPECT_EQ (WsClient (relay_.port, "/ws/b").status (), 401);
  b_.counters["unauthorized"]++;
  expect_counted ("a camera without the secret");

  /* B still takes a well-behaved camera. */
  {
    auto last = connect_b ();
    send_b (*last, good[19], "accepted");
    expect_delivered (vb, good[19], "the last camera's frame");
    last->close_and_hang_up ();
  }
  expect_counted ("a last good camera");

  /* ---- A never noticed: every frame, in order, no placeholder once live. ---- */
  sender_a.stop ();
  ASSERT_FALSE (sender_a.failed ());
  int sent_a = sender_a.sent ();
  ASSERT_GT (sent_a, 0);
  ASSERT_LT (sent_a, static_cast<int> (a_frames.size ())) << "A's frames went round";
  EXPECT_TRUE (va.wait_for (a_frames[sent_a - 1])) << "A's last frame did not arrive";
  va.stop ();
  vb.stop ();
  EXPECT_FALSE (va.broken ());
  EXPECT_FALSE (vb.broken ());

  std::vector<Bytes> parts_a = va.parts ();
  gsize first_live = 0;
  while (first_live < parts_a.size () && parts_a[first_live] == placeholder_a)
    first_live++;
  std::vector<Bytes> live_a (parts_a.begin () + first_live, parts_a.end ());
  ASSERT_EQ (live_a.size (), static_cast<gsize> (sent_a))
      << first_live << " placeholder parts, then " << live_a.size () << " for " << sent_a
      << " frames sent";
  for (int i = 0; i < sent_a; i++) {
    ASSERT_TRUE (live_a[i] == a_frames[i])
        << "A's viewer: part " << i << " is not A's frame " << i
        << (live_a[i] == placeholder_a ? " but the placeholder" : "");
  }

  /* ---- B's viewer: only B's valid frames, in order, or the placeholder. ---- */
  std::vector<Bytes> parts_b = vb.parts ();
  gsize next_valid = 0;
  for (gsize i = 0; i < parts_b.size (); i++) {
    if (parts_b[i] == placeholder_b)
      continue;
    auto it = std::find (b_valid_.begin () + next_valid, b_valid_.end (), parts_b[i]);
    ASSERT_NE (it, b_valid_.end ())
        << "B's viewer: part " << i << " (" << parts_b[i].size ()
        << " bytes) is neither a valid frame sent after the last one seen nor the placeholder";
    next_valid = it - b_valid_.begin () + 1;
  }
  EXPECT_EQ (next_valid, b_valid_.size ());

  /* ---- The counts, as /status and /metrics report them. ---- */
  EXPECT_EQ (status_mismatch (relay_, "b", b_), "");
  Tally a;
  a.counters["connections"] = 1;
  a.counters["frames_received"] = a.counters["frames_accepted"] = sent_a;
  a.counters["bytes_received"] = 0;
  for (int i = 0; i < sent_a; i++)
    a.counters["bytes_received"] += a_frames[i].size ();
  EXPECT_EQ (status_mismatch (relay_, "a", a), "") << "camera A";

  HttpResponse metrics = http_get (relay_.port, "/metrics");
  ASSERT_EQ (metrics.status, 200);
  std::map<std::string, double> samples = metric_samples (metrics.text (), "b");
  for (const auto & [field, family] : COUNTERS) {
    ASSERT_TRUE (samples.count (family)) << family << " has no sample for camera b in\n"
                                         << metrics.text ();
    EXPECT_EQ (samples[family], b_.counters[field]) << family;
  }
  for (const auto & [reason, count] : b_.rejected) {
    std::string key = "camrelay_camera_rejected_frames_total{" + reason + "}";
    ASSERT_TRUE (samples.count (key)) << key << " missing in\n" << metrics.text ();
    EXPECT_EQ (samples[key], count) << key;
  }

  /* ---- The server is still up and serving. ---- */
  EXPECT_LT (relay_.proc->wait (0), 0) << "camrelay exited:\n" << relay_.proc->output ();
  EXPECT_EQ (http_get (relay_.port, "/status").status, 200);
  MjpegReader again (relay_.port, "/stream/a");
  EXPECT_EQ (again.status (), 200);
  Bytes part;
  EXPECT_TRUE (again.next_part (part));
}
