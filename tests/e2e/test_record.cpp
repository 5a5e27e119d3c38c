/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recording against the real program: a real camera over WebSocket, the files read back with
 * Debian's ffprobe and ffmpeg, a real kill -9, retention on a real folder, and a small tmpfs
 * that fills up. */
#include "e2e.h"
#include "recordprobe.h"
#include "motionscene.h"
#include "testjpeg.h"
#include "wait.h"

#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace crtest;

namespace {

std::vector<Bytes>
frames (int n = 40)
{
  JpegSpec spec;
  spec.pattern = "ball"; /* ~9 KB at VGA, each frame distinct */
  static std::vector<Bytes> made = make_jpegs (40, spec);
  return std::vector<Bytes> (made.begin (), made.begin () + std::min<int> (n, made.size ()));
}

/* The camera's "recording" object in /status (or its "timelapse" object). */
gint64
recording_int (const Relay & relay, const char *camera, const char *field)
{
  Json j (relay.status_text ());
  JsonObject *c = j.camera (camera);
  if (!c || !json_object_has_member (c, "recording"))
    return -1;
  return int_member (json_object_get_object_member (c, "recording"), field);
}

std::string
recording_str (const Relay & relay, const char *camera, const char *field)
{
  Json j (relay.status_text ());
  JsonObject *c = j.camera (camera);
  if (!c || !json_object_has_member (c, "recording"))
    return "";
  return str_member (json_object_get_object_member (c, "recording"), field);
}

/* "recordings" → "deleted_segments" → @reason in /status: segments retention deleted. */
gint64
deleted_segments (const Relay & relay, const char *reason)
{
  Json j (relay.status_text ());
  JsonObject *r = j.root () ? json_object_get_object_member (j.root (), "recordings") : nullptr;
  if (!r || !json_object_has_member (r, "deleted_segments"))
    return -1;
  return int_member (json_object_get_object_member (r, "deleted_segments"), reason);
}

/* Reads the stream until stopped, counting parts: a viewer, so that the placeholder is made. */
class Viewer
{
public:
  Viewer (guint port, const std::string & path)
    : reader_ (port, path), thread_ ([this] {
        Bytes part;
        while (!stop_ && reader_.next_part (part, 2000))
          parts_++;
      })
  {}
  ~Viewer ()
  {
    stop_ = true;
    thread_.join ();
  }
  int parts () const { return parts_; }

private:
  MjpegReader reader_;
  std::atomic<bool> stop_{ false };
  std::atomic<int> parts_{ 0 };
  std::thread thread_;
};

/* Sends @frame and notes when (Unix µs, just before the send). */
void
send_at (WsClient & cam, const Bytes & frame, std::vector<gint64> & sent_us)
{
  sent_us.push_back (g_get_real_time ());
  ASSERT_TRUE (cam.send_binary (frame));
}

/* Waits until @deadline_us (monotonic). */
void
sleep_until (gint64 deadline_us)
{
  gint64 now = g_get_monotonic_time ();
  if (deadline_us > now)
    g_usleep (deadline_us - now);
}

std::vector<double>
all_walls (const std::vector<ProbedSegment> & segments)
{
  std::vector<double> walls;
  for (const auto & seg : segments) {
    for (gsize i = 0; i < seg.packets.size (); i++)
      walls.push_back (seg.wall (i));
  }
  return walls;
}

guint64
bytes_in (const std::vector<ProbedSegment> & segments)
{
  guint64 total = 0;
  for (const auto & s : segments) {
    GStatBuf st;
    if (g_stat (s.path.c_str (), &st) == 0)
      total += st.st_size;
  }
  return total;
}

}  // namespace

/* A camera at 10 fps, silent long enough for the placeholder (a viewer watches it), then at
 * 2 fps: the recording holds exactly the camera's frames, byte for byte, each at its arrival
 * time (within 20 ms of when the test sent it), the silence as a gap, and each segment's
 * duration is its wall-clock span. */
TEST (Record, CameraTimingIsKeptAndThePlaceholderIsNeverRecorded)
{
  Relay relay;
  ASSERT_TRUE (
      relay.start ("[recordings]\nsegment = 3\n[camera cam]\nrecord = true\ntimeout = 1\n"))
      << relay.proc->output ();
  Viewer viewer (relay.port, "/stream/cam");
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  std::vector<Bytes> sent = frames (40);
  std::vector<gint64> sent_us;
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < 30; i++) {
    sleep_until (t0 + i * 100000);
    send_at (cam, sent[i], sent_us);
  }
  /* 4 s of silence: the placeholder after 1 s. */
  t0 = g_get_monotonic_time () + 4 * G_USEC_PER_SEC;
  for (int i = 30; i < 40; i++) {
    sleep_until (t0 + (i - 30) * 500000);
    send_at (cam, sent[i], sent_us);
  }
  ASSERT_TRUE (wait_until ([&] { return recording_int (relay, "cam", "frames_written") >= 40; }))
      << relay.status_text ();
  EXPECT_GE (camera_int (relay, "cam", "switches"), 2) << "the placeholder was shown";
  ASSERT_EQ (relay.proc->stop (SIGTERM), 0) << relay.proc->output ();

  std::string error;
  auto segments = probe_segments (relay.dir.file ("recordings/cam"), &error);
  ASSERT_TRUE (error.empty ()) << error;
  std::vector<double> walls = all_walls (segments);
  ASSERT_EQ (walls.size (), sent.size ()) << "the camera's frames, no placeholder, no repeats";
  gsize k = 0;
  for (const auto & seg : segments) {
    EXPECT_EQ (decode_errors (seg.path), "") << seg.path;
    for (gsize i = 0; i < seg.packets.size (); i++, k++) {
      EXPECT_NEAR (seg.wall (i), sent_us[k] / 1e6, 0.020) << "frame " << k;
      EXPECT_EQ (seg.packets[i].size, static_cast<gint64> (sent[k].size ())) << "frame " << k;
    }
    /* The file spans from its name to its last frame's arrival. */
    double span = sent_us[k - 1] / 1e6 - seg.start;
    EXPECT_NEAR (seg.duration, span, std::max (0.01 * span, 0.020)) << seg.path;
  }
  EXPECT_NEAR (walls[30] - walls[29], (sent_us[30] - sent_us[29]) / 1e6, 0.020)
      << "the silence is a gap";
  EXPECT_GT (walls[30] - walls[29], 3.9);
  EXPECT_EQ (first_packet (segments[0].path), sent[0]) << "the camera's bytes, unchanged";
}

/* kill -9 in the middle of a segment: every file plays cleanly, the open one up to at most 2 s
 * before the kill; a restart records into new segments and the old ones stay. */
TEST (Record, KillNineLeavesPlayableSegmentsAndARestartContinues)
{
  Relay relay;
  const std::string config = "[recordings]\nsegment = 2\n[camera cam]\nrecord = true\n";
  ASSERT_TRUE (relay.start (config)) << relay.proc->output ();
  gint64 killed_us;
  {
    WsClient cam (relay.port, "/ws/cam");
    ASSERT_EQ (cam.status (), 101);
    Sender sender (cam, frames (), 10);
    ASSERT_TRUE (wait_until ([&] { return recording_int (relay, "cam", "frames_written") >= 45; }))
        << relay.status_text ();
    /* Half-way through a segment, so the open file has frames to lose. */
    wait_until ([] { return g_get_real_time () % (2 * G_USEC_PER_SEC) > G_USEC_PER_SEC; }, 3000);
    killed_us = g_get_real_time ();
    relay.proc->send_signal (SIGKILL);
    ASSERT_EQ (relay.proc->wait (5000), 128 + SIGKILL);
    sender.stop ();
  }
  std::string error;
  auto before = probe_segments (relay.dir.file ("recordings/cam"), &error);
  ASSERT_TRUE (error.empty ()) << error;
  ASSERT_GE (before.size (), 2u);
  for (gsize i = 0; i < before.size (); i++) {
    EXPECT_EQ (decode_errors (before[i].path), "") << before[i].path;
    EXPECT_FALSE (before[i].packets.empty ()) << before[i].path;
    if (i + 1 < before.size ()) {
      EXPECT_GT (before[i].duration, 0)
          << "a finished segment has its duration: " << before[i].path;
    }
  }
  const ProbedSegment & open = before.back ();
  ASSERT_FALSE (open.packets.empty ());
  EXPECT_GE (open.wall (open.packets.size () - 1), killed_us / 1e6 - 2.0)
      << "the open segment plays up to at most 2 s before the kill";

  ASSERT_TRUE (relay.start (config)) << relay.proc->output ();
  {
    WsClient cam (relay.port, "/ws/cam");
    ASSERT_EQ (cam.status (), 101);
    Sender sender (cam, frames (), 10);
    ASSERT_TRUE (wait_until ([&] { return recording_int (relay, "cam", "frames_written") >= 10; }))
        << relay.status_text ();
  }
  ASSERT_EQ (relay.proc->stop (SIGTERM), 0);
  auto after = probe_segments (relay.dir.file ("recordings/cam"), &error);
  ASSERT_GT (after.size (), before.size ());
  for (gsize i = 0; i < before.size (); i++) {
    EXPECT_EQ (after[i].path, before[i].path) << "the old segments stay";
    EXPECT_EQ (after[i].packets.size (), before[i].packets.size ());
  }
  EXPECT_GT (after.back ().start, killed_us / G_USEC_PER_SEC - 1);
  EXPECT_EQ (decode_errors (after.back ().path), "");

  /* Started again: /recordings lists the segments of both runs. */
  ASSERT_TRUE (relay.start (config)) << relay.proc->output ();
  Json list (http_get (relay.port, "/recordings/cam").text ());
  ASSERT_TRUE (list.ok ());
  JsonArray *listed = json_object_get_array_member (list.root (), "segments");
  ASSERT_EQ (json_array_get_length (listed), after.size ());
  for (gsize i = 0; i < after.size (); i++)
    EXPECT_EQ (relay.dir.file ("recordings") +
            str_member (json_array_get_object_element (listed, i), "url")
                .substr (strlen ("/recordings")),
        after[i].path);
}

/* A camera's own keep = 3s with 1 s segments: its old segments go, oldest first, the recent ones
 * stay; another camera keeps the [recordings] keep of an hour and loses nothing. */
TEST (Record, RetentionDeletesSegmentsOlderThanKeep)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[recordings]\nsegment = 1\nkeep = 1h\n[camera cam]\nrecord = true\n"
                            "keep = 3s\n[camera other]\nrecord = true\n"))
      << relay.proc->output ();
  WsClient cam (relay.port, "/ws/cam"), other_cam (relay.port, "/ws/other");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_EQ (other_cam.status (), 101);
  Sender sender (cam, frames (), 5), other_sender (other_cam, frames (), 5);
  ASSERT_TRUE (wait_until ([&] { return recording_int (relay, "other", "frames_written") > 0; }))
      << relay.status_text ();
  gint64 other_first = g_get_real_time () / G_USEC_PER_SEC;
  ASSERT_TRUE (wait_until ([&] { return deleted_segments (relay, "keep") >= 3; }, 20000))
      << relay.status_text ();
  std::string error;
  auto segments = probe_segments (relay.dir.file ("recordings/cam"), &error);
  ASSERT_FALSE (segments.empty ());
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  /* keep, plus a segment, plus a pass (every second) and a second of rounding. */
  for (const auto & s : segments)
    EXPECT_GE (s.start, now - 3 - 3) << s.path << " should have been deleted";
  auto others = probe_segments (relay.dir.file ("recordings/other"), &error);
  ASSERT_FALSE (others.empty ());
  EXPECT_LE (others.front ().start, other_first) << "the other camera's first segment stays";
  EXPECT_GE (static_cast<gint64> (others.size ()), now - other_first) << "and every one after it";
  EXPECT_GE (recording_int (relay, "cam", "segments_on_disk"), 1);
  EXPECT_GT (recording_int (relay, "cam", "bytes_on_disk"), 0);
  EXPECT_EQ (recording_str (relay, "cam", "state"), "recording");
  /* The oldest recording /status names is one that is still there. */
  gint64 oldest_start = segments.front ().start;
  ASSERT_TRUE (wait_until ([&] {
    std::string oldest = recording_str (relay, "cam", "oldest");
    g_autoptr (GDateTime) t = g_date_time_new_from_iso8601 (oldest.c_str (), nullptr);
    return t && g_date_time_to_unix (t) >= oldest_start - 1;
  })) << relay.status_text ();
  Json j (relay.status_text ());
  JsonObject *r = json_object_get_object_member (j.root (), "recordings");
  EXPECT_GT (int_member (r, "disk_free_bytes"), 0);
  EXPECT_EQ (str_member (r, "dir"), relay.dir.file ("recordings"));
}

/* A camera with a time-lapse and no full recording: one frame a second in the time-lapse folder,
 * nothing else, and /status says which is which. */
TEST (Record, TimelapseWithoutRecordingEverything)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera cam]\ntimelapse-interval = 1\n")) << relay.proc->output ();
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  gint64 t0 = g_get_real_time ();
  {
    Sender sender (cam, frames (), 10, 35);
    ASSERT_TRUE (wait_until ([&] { return sender.sent () == 35; }, 10000));
  }
  gint64 t1 = g_get_real_time ();
  ASSERT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    JsonObject *rec = json_object_get_object_member (j.camera ("cam"), "recording");
    return int_member (json_object_get_object_member (rec, "timelapse"), "frames_written") >= 3;
  })) << relay.status_text ();
  EXPECT_EQ (recording_str (relay, "cam", "state"), "off");
  EXPECT_EQ (recording_int (relay, "cam", "frames_written"), 0);
  ASSERT_EQ (relay.proc->stop (SIGTERM), 0);
  std::string error;
  EXPECT_TRUE (probe_segments (relay.dir.file ("recordings/cam"), &error).empty ())
      << "no full recording";
  auto timelapse = probe_segments (relay.dir.file ("recordings/cam/timelapse"), &error);
  std::vector<double> walls = all_walls (timelapse);
  /* One frame in each wall-clock second the camera sent in: 3.5 s of frames. */
  gint64 seconds = t1 / G_USEC_PER_SEC - t0 / G_USEC_PER_SEC + 1;
  EXPECT_GE (static_cast<gint64> (walls.size ()), seconds - 1);
  EXPECT_LE (static_cast<gint64> (walls.size ()), seconds);
  for (gsize i = 1; i < walls.size (); i++)
    EXPECT_NE (std::floor (walls[i]), std::floor (walls[i - 1])) << "one frame per second";
}

/* max-disk = 200K: the total stays under the limit (give or take what one pass sees grow), and
 * what goes is the oldest: the segments left are the newest, without holes. */
TEST (Record, RetentionKeepsTheTotalUnderMaxDiskOldestFirst)
{
  Relay relay;
  ASSERT_TRUE (
      relay.start ("[recordings]\nsegment = 1\nmax-disk = 200K\n[camera cam]\nrecord = true\n"))
      << relay.proc->output ();
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  Sender sender (cam, frames (), 10);
  ASSERT_TRUE (wait_until ([&] { return deleted_segments (relay, "max_disk") >= 3; }, 30000))
      << relay.status_text ();
  std::string error;
  auto segments = probe_segments (relay.dir.file ("recordings/cam"), &error);
  ASSERT_GE (segments.size (), 2u);
  /* At 10 fps of ~9 KB a second of recording is ~90 KB; a pass runs every second. */
  EXPECT_LE (bytes_in (segments), 200u * 1024 + 2 * 100 * 1024);
  for (gsize i = 1; i < segments.size (); i++)
    EXPECT_EQ (segments[i].start, segments[i - 1].start + 1) << "oldest first, no holes";
  EXPECT_GE (segments.back ().start, g_get_real_time () / G_USEC_PER_SEC - 2);
}

namespace {

/* A tmpfs of @size mounted on a fresh folder, unmounted when it goes. */
class SmallDisk
{
public:
  SmallDisk (const std::string & path, const char *size) : path_ (path)
  {
    g_mkdir_with_parents (path.c_str (), 0755);
    RunResult r =
        run ({ "mount", "-t", "tmpfs", "-o", std::string ("size=") + size, "tmpfs", path });
    mounted_ = r.code == 0;
    error_ = r.output;
  }
  ~SmallDisk ()
  {
    if (mounted_)
      run ({ "umount", "-l", path_ });
  }
  bool mounted () const { return mounted_; }
  const std::string & error () const { return error_; }

private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace

/* A full disk: recording pauses with one log line and a reason in /status and /metrics, the
 * viewers' stream goes on, and recording resumes by itself once there is room again. */
TEST (Record, FullDiskPausesRecordingNotTheStreamAndResumes)
{
  TempDir holder;
  Relay relay;
  SmallDisk disk (relay.dir.file ("recordings"), "2m");
  ASSERT_TRUE (disk.mounted ()) << "mount -t tmpfs needs root: " << disk.error ();
  /* Most of the room taken by something else. */
  std::string filler = relay.dir.write ("recordings/filler", std::string (1700 * 1024, 'x'));
  ASSERT_TRUE (relay.start ("[camera cam]\nrecord = true\n")) << relay.proc->output ();
  Viewer viewer (relay.port, "/stream/cam");
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  Sender sender (cam, frames (), 10);

  ASSERT_TRUE (
      wait_until ([&] { return recording_str (relay, "cam", "state") == "paused"; }, 30000))
      << relay.status_text ();
  std::string reason = recording_str (relay, "cam", "reason");
  EXPECT_NE (reason.find ("disk full"), std::string::npos) << reason;
  {
    Json j (relay.status_text ());
    JsonObject *rec = json_object_get_object_member (j.camera ("cam"), "recording");
    ASSERT_FALSE (json_object_get_null_member (rec, "last_error")) << relay.status_text ();
    JsonObject *err = json_object_get_object_member (rec, "last_error");
    EXPECT_NE (str_member (err, "message").find ("disk full: no space left for "),
        std::string::npos)
        << relay.status_text ();
    EXPECT_FALSE (str_member (err, "at").empty ());
  }
  std::string metrics = http_get (relay.port, "/metrics").text ();
  EXPECT_NE (metrics.find ("camrelay_camera_recording_state{camera=\"cam\",kind=\"record\","
                           "state=\"paused\",reason=\"disk full"),
      std::string::npos)
      << metrics;

  /* The viewers do not notice. */
  int parts = viewer.parts ();
  ASSERT_TRUE (wait_until ([&] { return viewer.parts () >= parts + 10; }, 10000));
  EXPECT_EQ (camera_int (relay, "cam", "restarts"), 0);
  /* Paused for a while, logged once. */
  g_usleep (2 * G_USEC_PER_SEC);
  std::string out = relay.proc->output ();
  gsize lines = 0;
  for (gsize at = out.find ("paused: disk full"); at != std::string::npos;
       at = out.find ("paused: disk full", at + 1))
    lines++;
  EXPECT_EQ (lines, 1u) << out;
  EXPECT_EQ (recording_str (relay, "cam", "state"), "paused");

  gint64 written = recording_int (relay, "cam", "frames_written");
  ASSERT_EQ (g_unlink (filler.c_str ()), 0);
  ASSERT_TRUE (
      wait_until ([&] { return recording_str (relay, "cam", "state") == "recording"; }, 10000))
      << relay.status_text ();
  ASSERT_TRUE (
      wait_until ([&] { return recording_int (relay, "cam", "frames_written") >= written + 10; },
          10000));
  EXPECT_EQ (recording_str (relay, "cam", "reason"), "(null)");

  ASSERT_EQ (relay.proc->stop (SIGTERM), 0);
  std::string error;
  for (const auto & seg : probe_segments (relay.dir.file ("recordings/cam"), &error))
    EXPECT_EQ (decode_errors (seg.path), "") << seg.path;
  EXPECT_TRUE (error.empty ()) << error;
}

/* --print-pipeline shows the recording branches, their times in nanoseconds (the config's are
 * seconds), and the printed line records under gst-launch-1.0 as the program does: every frame,
 * and the time-lapse. */
TEST (Record, PrintedPipelineRecordsUnderGstLaunch)
{
  TempDir dir;
  guint port = free_port ();
  std::string conf = dir.write ("camrelay.conf",
      "[server]\naddress = 127.0.0.1\nport = " + std::to_string (port) +
          "\n[recordings]\ndir = rec\nsegment = 30\n[camera cam]\nrecord = true\n"
          "timelapse-interval = 1\n");
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  RunResult printed =
      run ({ program_path (), "--config", conf, "--print-pipeline" }, 30000, {}, dir.path ());
  ASSERT_EQ (printed.code, 0) << printed.output;
  std::string line = printed.output.substr (0, printed.output.find ('\n'));
  EXPECT_NE (line.find ("tee name=rec"), std::string::npos) << line;
  EXPECT_NE (line.find ("rec. ! jpegrecordsink name=record location=" + dir.file ("rec/cam")),
      std::string::npos)
      << line;
  EXPECT_NE (line.find ("jpegrecordsink name=timelapse"), std::string::npos) << line;
  EXPECT_NE (line.find (" segment=30000000000"), std::string::npos) << line;
  EXPECT_NE (line.find (" segment=86400000000000 interval=1000000000"), std::string::npos) << line;

  Process launch ({ "sh", "-c", "exec env " + line }, gst_child_env (), dir.path ());
  ASSERT_TRUE (launch.wait_for_output ("Setting pipeline to PLAYING", 10000)) << launch.output ();
  std::vector<Bytes> sent = frames (10);
  {
    WsClient cam (port, "/ws/cam");
    ASSERT_EQ (cam.status (), 101) << launch.output ();
    Sender sender (cam, sent, 10, 10);
    ASSERT_TRUE (wait_until ([&] { return sender.sent () == 10; }, 10000));
    g_usleep (500000);
  }
  EXPECT_EQ (launch.stop (SIGINT, 10000), 0) << launch.output ();
  std::string error;
  auto segments = probe_segments (dir.file ("rec/cam"), &error);
  ASSERT_TRUE (error.empty ()) << error;
  EXPECT_EQ (all_walls (segments).size (), sent.size ());
  ASSERT_FALSE (segments.empty ());
  EXPECT_EQ (first_packet (segments[0].path), sent[0]);
  auto timelapse = probe_segments (dir.file ("rec/cam/timelapse"), &error);
  EXPECT_GE (all_walls (timelapse).size (), 1u);
  EXPECT_LE (all_walls (timelapse).size (), 3u) << "one frame a second out of ~1 s of frames";
}

/* A bad value names the file, the section and the key, and exits 2. */
TEST (Record, BadRecordingKeysAreRefusedByName)
{
  TempDir dir;
  struct Case
  {
    std::string text, needle;
  } cases[] = {
    { "[recordings]\nkeep = 7 days\n", "[recordings] keep" },
    { "[recordings]\nmax-disk = lots\n", "[recordings] max-disk" },
    { "[recordings]\nsegment = 0\n", "[recordings] segment" },
    { "[recordings]\nfolder = x\n", "[recordings] folder" },
    { "[camera cam]\nrecord = maybe\n", "record" },
    { "[camera cam]\nkeep = -1\n", "keep" },
  };
  for (const auto & c : cases) {
    std::string conf = dir.write ("bad.conf", c.text);
    RunResult r = run ({ program_path (), "--config", conf, "--check" });
    EXPECT_EQ (r.code, 2) << c.text << r.output;
    EXPECT_NE (r.output.find (c.needle), std::string::npos) << c.text << r.output;
  }
}

/* SIGHUP turns recording on for a camera and changes retention: the camera restarts recording,
 * the retention thread takes the new keep. */
TEST (Record, ReloadTurnsRecordingOnAndChangesRetention)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera cam]\n")) << relay.proc->output ();
  EXPECT_EQ (recording_str (relay, "cam", "state"), "off");
  relay.dir.write ("camrelay.conf",
      "[server]\naddress = 127.0.0.1\n[recordings]\nkeep = "
      "2h\n[camera cam]\nrecord = true\n");
  relay.proc->send_signal (SIGHUP);
  ASSERT_TRUE (relay.proc->wait_for_output ("1 changed", 10000)) << relay.proc->output ();
  ASSERT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    JsonObject *r = json_object_get_object_member (j.root (), "recordings");
    return int_member (r, "keep_seconds") == 7200;
  })) << relay.status_text ();
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  Sender sender (cam, frames (), 10, 10);
  ASSERT_TRUE (wait_until ([&] { return recording_int (relay, "cam", "frames_written") == 10; }))
      << relay.status_text ();
  EXPECT_EQ (recording_str (relay, "cam", "state"), "recording");
}

/* record = motion through the whole program: a camera that sees a still scene, then a square
 * crossing it, then the still scene again records only around the motion: from pre-roll before
 * the square to post-roll after motion-end (the hold after its last frame), every frame of that
 * span and none of the still minutes before or after; /recordings lists just those segments, and
 * they play. */
TEST (Record, MotionRecordsOnlyAroundMotionWithPreAndPostRoll)
{
  Relay relay;
  const double pre_roll = 2, post_roll = 1, hold = 1;
  ASSERT_TRUE (relay.start ("[recordings]\nsegment = 2\n[camera porch]\nrecord = motion\n"
                            "pre-roll = 2\npost-roll = 1\nmotion-hold = 1\n"))
      << relay.proc->output ();
  WsClient cam (relay.port, "/ws/porch");
  ASSERT_EQ (cam.status (), 101);

  /* 4 s still, 2.8 s of the square crossing (40 px a frame), 6 s still; 5 fps. */
  std::vector<Bytes> sent;
  int seed = 1;
  auto still = [&] {
    SceneFrame f;
    f.seed = seed++;
    return scene_jpeg (f);
  };
  for (int i = 0; i < 20; i++)
    sent.push_back (still ());
  const gsize first_square = sent.size ();
  for (int x = 0; x + 120 <= 640; x += 40) {
    SceneFrame f;
    f.seed = seed++;
    f.square = 120;
    f.square_x = x;
    f.square_y = 200;
    sent.push_back (scene_jpeg (f));
  }
  const gsize last_square = sent.size () - 1;
  for (int i = 0; i < 30; i++)
    sent.push_back (still ());
  std::vector<gint64> sent_us;
  const gint64 t0 = g_get_monotonic_time ();
  for (gsize i = 0; i < sent.size (); i++) {
    sleep_until (t0 + static_cast<gint64> (i) * 200000);
    send_at (cam, sent[i], sent_us);
  }
  ASSERT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    JsonObject *m = json_object_get_object_member (j.camera ("porch"), "motion");
    return m && !json_object_get_boolean_member (m, "active") && int_member (m, "events") >= 1;
  })) << relay.status_text ();
  EXPECT_EQ (camera_int (relay, "porch", "frames_accepted"), static_cast<gint64> (sent.size ()));
  Json listing (http_get (relay.port, "/recordings/porch").text ());
  ASSERT_TRUE (listing.ok ());
  JsonArray *listed = json_object_get_array_member (listing.root (), "segments");
  ASSERT_NE (listed, nullptr);
  ASSERT_EQ (relay.proc->stop (SIGTERM), 0) << relay.proc->output ();

  std::string error;
  auto segments = probe_segments (relay.dir.file ("recordings/porch"), &error);
  ASSERT_TRUE (error.empty ()) << error;
  ASSERT_FALSE (segments.empty ()) << "nothing recorded around the motion";
  EXPECT_EQ (json_array_get_length (listed), segments.size ())
      << "/recordings lists the segments on disk";
  std::vector<double> walls = all_walls (segments);
  for (const auto & seg : segments) {
    EXPECT_EQ (decode_errors (seg.path), "") << seg.path;
    EXPECT_GT (seg.duration, 0) << seg.path;
  }

  /* The span recorded: pre-roll before the square and not the still seconds before it, post-roll
   * after motion-end, which comes the hold after the square's last frame. Motion is seen on an
   * analysed frame (every other one at the default 2.5 a second), so both ends may move by a
   * frame or two: the pre-roll counts back from the frame motion started on. */
  const double square_at = sent_us[first_square] / 1e6;
  const double square_left = sent_us[last_square] / 1e6;
  const double first = walls.front (), last = walls.back ();
  RecordProperty ("recorded_before_square_ms", static_cast<int> ((square_at - first) * 1000));
  RecordProperty ("recorded_after_square_ms", static_cast<int> ((last - square_left) * 1000));
  EXPECT_LE (first, square_at - pre_roll + 0.6) << "the pre-roll is recorded";
  EXPECT_GE (first, square_at - pre_roll - 0.6) << "still frames long before motion recorded";
  EXPECT_GE (last, square_left + hold + post_roll - 0.8) << "the post-roll is recorded";
  EXPECT_LE (last, square_left + hold + post_roll + 1.5) << "still frames long after recorded";
  EXPECT_LT (last, sent_us.back () / 1e6 - 1) << "the still scene after the motion recorded";

  /* Every frame of that span, each once, the square's among them. */
  gsize in_span = 0;
  for (gint64 us : sent_us) {
    if (us / 1e6 >= first - 0.02 && us / 1e6 <= last + 0.02)
      in_span++;
  }
  EXPECT_EQ (walls.size (), in_span) << "a frame of the span missing or repeated";
  EXPECT_GE (walls.size (), last_square - first_square + 1 + 7 + 6); /* 1.4 s + 1.2 s more */
  EXPECT_LT (walls.size (), sent.size () - 20);
}
