/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end: recordings over HTTP (/recordings/NAME...), read by real clients (curl, ffprobe,
 * ffmpeg, MJPEG readers) from the real program. Most recordings are written beforehand with the
 * recording element's own writer (plugins/crmkvwriter), so that their times (gaps, a day of a
 * frame a minute) need no waiting; one is made by the program itself from a WebSocket camera. */
#include "crmkvwriter.h"
#include "crrecordlayout.h"
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <csignal>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace crtest;

const gint64 START = 1796565780; /* 2026-12-06T14:03:00Z */
const char CONFIG[] = "[recordings]\ndir = rec\n[camera cam]\n";

std::vector<Bytes>
distinct_frames (int count)
{
  JpegSpec spec;
  spec.pattern = "ball";
  return make_jpegs (count, spec);
}

/* A segment of @camera starting at @start_s, each frame at @ts_ms after it; returns its path. */
std::string
write_segment (const Relay & relay, gint64 start_s, const std::vector<Bytes> & frames,
    const std::vector<guint64> & ts_ms, bool timelapse = false)
{
  std::string folder = relay.dir.path () + "/rec/cam" + (timelapse ? "/timelapse" : "");
  std::string path = folder + "/" + cr::record::segment_relpath (start_s);
  g_autofree gchar *parent = g_path_get_dirname (path.c_str ());
  g_mkdir_with_parents (parent, 0755);
  cr::record::MkvWriter w;
  EXPECT_EQ (w.open (path, start_s, 320, 240), 0) << path;
  for (gsize i = 0; i < frames.size (); i++)
    EXPECT_EQ (w.write_frame (ts_ms[i], frames[i].data (), frames[i].size ()), 0);
  EXPECT_EQ (w.finish (), 0);
  return path;
}

std::vector<guint64>
every_ms (int count, guint64 step, guint64 first = 250)
{
  std::vector<guint64> ts;
  for (int i = 0; i < count; i++)
    ts.push_back (first + i * step);
  return ts;
}

std::string
iso (gint64 unix_us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (unix_us / G_USEC_PER_SEC);
  g_autofree gchar *s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  char frac[16];
  g_snprintf (frac, sizeof (frac), ".%06dZ", static_cast<int> (unix_us % G_USEC_PER_SEC));
  return std::string (s) + frac;
}

std::string
text_of (const Bytes & b)
{
  return std::string (b.begin (), b.end ());
}

/* ---------------------------------------------------------------------------------------------- */

TEST (Recordings, SegmentsAreListedAndServedWithRangesToRealClients)
{
  Relay relay;
  ASSERT_TRUE (relay.start (CONFIG));
  auto frames = distinct_frames (30);
  std::vector<Bytes> first (frames.begin (), frames.begin () + 20),
      second (frames.begin () + 20, frames.end ());
  std::string a = write_segment (relay, START, first, every_ms (20, 200));
  write_segment (relay, START + 120, second, every_ms (10, 500, 0));

  auto list = http_get (relay.port, "/recordings/cam");
  ASSERT_EQ (list.status, 200);
  EXPECT_EQ (list.header ("content-type"), "application/json");
  Json json (list.text ());
  ASSERT_TRUE (json.ok ()) << list.text ();
  JsonArray *segs = json_object_get_array_member (json.root (), "segments");
  ASSERT_EQ (json_array_get_length (segs), 2u) << list.text ();
  JsonObject *s0 = json_array_get_object_element (segs, 0);
  EXPECT_EQ (str_member (s0, "start"), "2026-12-06T14:03:00.250+00:00");
  EXPECT_EQ (str_member (s0, "end"), "2026-12-06T14:03:04.050+00:00");
  EXPECT_EQ (int_member (s0, "frames"), 20);
  EXPECT_EQ (int_member (s0, "bytes"), static_cast<gint64> (read_file (a).size ()));
  EXPECT_EQ (str_member (s0, "url"), "/recordings/cam/2026-12-06/14-03-00.mkv");
  EXPECT_EQ (str_member (json_array_get_object_element (segs, 1), "start"),
      "2026-12-06T14:05:00.000+00:00");
  EXPECT_TRUE (json_object_get_null_member (json.root (), "timelapse"));

  std::string url = relay.url (str_member (s0, "url"));
  /* ffprobe reads the file over HTTP and finds every frame. */
  auto probe = run ({ "ffprobe", "-v", "error", "-count_frames", "-show_entries",
      "stream=codec_name,nb_read_frames", "-of", "csv=p=0", url });
  EXPECT_EQ (probe.code, 0) << probe.output;
  EXPECT_EQ (probe.output, "mjpeg,20\n");
  /* ffmpeg seeks into it (a Range request) and decodes the frame there. */
  TempDir out;
  auto seek = run ({ "ffmpeg", "-v", "error", "-ss", "2.5", "-i", url, "-frames:v", "1", "-y",
      out.file ("f.jpg") });
  EXPECT_EQ (seek.code, 0) << seek.output;
  EXPECT_GT (read_file (out.file ("f.jpg")).size (), 1000u);

  /* A range is the file's bytes, announced as such; past the end is 416. */
  Bytes file = read_file (a);
  auto part =
      run ({ "curl", "-s", "-D", out.file ("h"), "-r", "1000-1999", "-o", out.file ("p"), url });
  EXPECT_EQ (part.code, 0);
  EXPECT_EQ (read_file (out.file ("p")), Bytes (file.begin () + 1000, file.begin () + 2000));
  std::string headers = text_of (read_file (out.file ("h")));
  EXPECT_NE (headers.find ("206 Partial Content"), std::string::npos) << headers;
  EXPECT_NE (headers.find ("Content-Range: bytes 1000-1999/" + std::to_string (file.size ())),
      std::string::npos)
      << headers;
  EXPECT_NE (headers.find ("Content-Type: video/x-matroska"), std::string::npos) << headers;
  auto tail = http_get (relay.port, str_member (s0, "url"), "Range: bytes=-100\r\n");
  EXPECT_EQ (tail.status, 206);
  EXPECT_EQ (tail.body, Bytes (file.end () - 100, file.end ()));
  auto whole = http_get (relay.port, str_member (s0, "url"));
  EXPECT_EQ (whole.status, 200);
  EXPECT_EQ (whole.header ("accept-ranges"), "bytes");
  EXPECT_EQ (whole.body, file);
  auto past = http_get (relay.port, str_member (s0, "url"),
      "Range: bytes=" + std::to_string (file.size ()) + "-\r\n");
  EXPECT_EQ (past.status, 416);
  EXPECT_EQ (past.header ("content-range"), "bytes */" + std::to_string (file.size ()));
}

TEST (Recordings, FrameAtAMomentIsTheRecordedBytes)
{
  Relay relay;
  ASSERT_TRUE (relay.start (CONFIG));
  auto frames = distinct_frames (10);
  write_segment (relay, START, frames, every_ms (10, 200)); /* 14:03:00.250 … 14:03:02.050 */

  /* 14:03:01.100 lies between the frames at .050 and .250: the one before. */
  auto r = http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:01.100Z");
  ASSERT_EQ (r.status, 200) << r.text ();
  EXPECT_EQ (r.header ("content-type"), "image/jpeg");
  EXPECT_EQ (r.body, frames[4]);
  /* The same moment with an offset, its "+" unescaped as browsers and curl leave it. */
  r = http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T15:03:01.100+01:00");
  EXPECT_EQ (r.body, frames[4]);
  r = http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:00.250Z");
  EXPECT_EQ (r.body, frames[0]);
  /* Before the first frame, and long after the last: nothing recorded there. */
  EXPECT_EQ (http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:00.100Z").status,
      404);
  EXPECT_EQ (http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:30Z").status, 404);

  /* The next segment begins less than a second after this one's last frame (a camera at 2 fps
   * across a segment boundary): a moment after its first frame is that frame, not the last
   * frame of the segment before. */
  auto next = distinct_frames (12);
  write_segment (relay, START + 3, { next[10], next[11] }, { 0, 200 }); /* 14:03:03.000, .200 */
  r = http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:03.020Z");
  ASSERT_EQ (r.status, 200) << r.text ();
  EXPECT_EQ (r.body, next[10]) << "the later segment's first frame";
  r = http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:02.900Z");
  EXPECT_EQ (r.body, frames[9]) << "before it, the earlier segment's last";
}

/* The program records a camera, and frame.jpg gives back exactly what the camera sent then. */
TEST (Recordings, TheProgramsOwnRecordingGivesBackTheCamerasFrames)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[recordings]\ndir = rec\n[camera cam]\nrecord = true\n"));
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  auto frames = distinct_frames (6);
  std::vector<gint64> sent;
  for (const auto & f : frames) {
    sent.push_back (g_get_real_time ());
    ASSERT_TRUE (send_settled (relay, cam, "cam", f));
    g_usleep (400 * 1000);
  }
  for (int i = 0; i < 5; i++) {
    gint64 t = (sent[i] + sent[i + 1]) / 2;
    auto r = http_get (relay.port, "/recordings/cam/frame.jpg?t=" + iso (t));
    ASSERT_EQ (r.status, 200) << "frame " << i << ": " << r.text ();
    EXPECT_EQ (r.body, frames[i]) << "frame " << i;
  }
  Json json (http_get (relay.port, "/recordings/cam").text ());
  ASSERT_TRUE (json.ok ());
  JsonArray *segs = json_object_get_array_member (json.root (), "segments");
  ASSERT_GE (json_array_get_length (segs), 1u);
  gint64 total = 0;
  for (guint i = 0; i < json_array_get_length (segs); i++)
    total += int_member (json_array_get_object_element (segs, i), "frames");
  EXPECT_EQ (total, 6);

  /* The segment still being written is served as it is now, and plays to its last frame. */
  JsonObject *open = json_array_get_object_element (segs, json_array_get_length (segs) - 1);
  auto probe = run ({ "ffprobe", "-v", "error", "-count_frames", "-show_entries",
      "stream=nb_read_frames", "-of", "csv=p=0", relay.url (str_member (open, "url")) });
  EXPECT_EQ (probe.output, std::to_string (int_member (open, "frames")) + "\n") << probe.output;
}

/* speed=4: each frame at a quarter of its recorded interval, X-Timestamp the recorded time, and
 * a minute without frames skipped instead of waited out for 15 s. */
TEST (Recordings, PlayAtSpeedFourKeepsThePaceAndSkipsAGap)
{
  Relay relay;
  ASSERT_TRUE (relay.start (CONFIG));
  auto frames = distinct_frames (16);
  std::vector<Bytes> a (frames.begin (), frames.begin () + 8),
      b (frames.begin () + 8, frames.end ());
  write_segment (relay, START, a, every_ms (8, 1000, 0));
  write_segment (relay, START + 60, b, every_ms (8, 1000, 0));

  MjpegReader viewer (relay.port, "/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=4");
  ASSERT_EQ (viewer.status (), 200);
  EXPECT_EQ (viewer.header ("content-type").rfind ("multipart/x-mixed-replace", 0), 0u);
  std::vector<gint64> arrived;
  for (int i = 0; i < 16; i++) {
    Bytes body;
    ASSERT_TRUE (viewer.next_part (body, 10000)) << "part " << i;
    arrived.push_back (g_get_monotonic_time ());
    EXPECT_EQ (body, frames[i]) << "part " << i;
    gint64 rec_s = START + (i < 8 ? i : 60 + (i - 8));
    EXPECT_EQ (viewer.part_headers ().at ("x-timestamp"), std::to_string (rec_s) + ".000000")
        << "part " << i;
  }
  /* 7 intervals of 1 s at 4x: 1.75 s (all at once would be ~0 s, 1x 7 s). The bounds leave a
   * loaded machine room: the first part may be read late, the last may go out late. */
  double first_run = (arrived[7] - arrived[0]) / 1e6;
  double second_run = (arrived[15] - arrived[8]) / 1e6;
  EXPECT_GE (first_run, 1.4);
  EXPECT_LE (first_run, 3.5);
  EXPECT_GE (second_run, 1.4);
  EXPECT_LE (second_run, 3.5);
  /* The 53 s gap would be 13 s at 4x. */
  EXPECT_LT ((arrived[8] - arrived[7]) / 1e6, 1.5);
  /* Then the recording ends and so does the response. */
  Bytes more;
  EXPECT_FALSE (viewer.next_part (more, 15000));
  EXPECT_TRUE (viewer.ended ());
}

/* How many of camrelay's open files are @path (the player keeps its segment open). */
int
open_count (const Relay & relay, const std::string & path)
{
  int n = 0;
  std::string fds = "/proc/" + std::to_string (relay.proc->pid ()) + "/fd";
  g_autoptr (GDir) d = g_dir_open (fds.c_str (), 0, nullptr);
  if (!d)
    return -1;
  while (const char *name = g_dir_read_name (d)) {
    g_autofree gchar *target = g_file_read_link ((fds + "/" + name).c_str (), nullptr);
    if (target && path == target)
      n++;
  }
  return n;
}

/* A browser gets the early-header layout, as on live streams; and a player whose client went
 * away stops (its file closed) instead of playing on to nobody. */
TEST (Recordings, PlayFollowsTheLiveLayoutRulesAndStopsWhenTheClientGoes)
{
  Relay relay;
  ASSERT_TRUE (relay.start (CONFIG));
  auto frames = distinct_frames (30);
  std::string seg = write_segment (relay, START, frames, every_ms (30, 1000, 0));

  int fd = connect_loopback (relay.port);
  ASSERT_GE (fd, 0);
  std::string req = "GET /recordings/cam/play?from=2026-12-06T14:03:00Z HTTP/1.1\r\nHost: x\r\n"
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.0\r\n"
                    "Sec-Fetch-Dest: image\r\n\r\n";
  ASSERT_EQ (write (fd, req.data (), req.size ()), static_cast<ssize_t> (req.size ()));
  std::string got;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  /* The first frame, then at once the next part's header block. */
  std::string first (frames[0].begin (), frames[0].end ());
  while (g_get_monotonic_time () < deadline &&
      got.find (first + "\r\n--camrelayplayback\r\nContent-Type: image/jpeg\r\n\r\n") ==
          std::string::npos) {
    char buf[65536];
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll (&p, 1, 200) > 0) {
      ssize_t n = read (fd, buf, sizeof (buf));
      if (n <= 0)
        break;
      got.append (buf, n);
    }
  }
  EXPECT_NE (got.find (first + "\r\n--camrelayplayback\r\nContent-Type: image/jpeg\r\n\r\n"),
      std::string::npos);
  EXPECT_EQ (got.find ("Content-Length: " + std::to_string (frames[0].size ())), std::string::npos);
  EXPECT_EQ (open_count (relay, seg), 1);

  close (fd);
  EXPECT_TRUE (wait_until ([&] { return open_count (relay, seg) == 0; }, 5000))
      << "the player still holds the segment after its client left";
}

/* Made once, in H.264 a browser plays, logging its progress as it goes (a line every 5 s; every
 * millisecond here, so that a job of a second shows it), then served from the cache. */
TEST (Recordings, TimelapseIsH264MadeOnceAndServedFromTheCache)
{
  Relay relay;
  g_setenv ("CAMRELAY_TIMELAPSE_PROGRESS_MS", "1", TRUE);
  bool started = relay.start (CONFIG);
  g_unsetenv ("CAMRELAY_TIMELAPSE_PROGRESS_MS");
  ASSERT_TRUE (started);
  /* The time-lapse recording: a frame a minute for 40 minutes. */
  auto frames = distinct_frames (40);
  write_segment (relay, START, frames, every_ms (40, 60000, 0), true);
  /* A recording of every frame beside it, over another span: thinned when asked for there. */
  auto all = distinct_frames (30);
  write_segment (relay, START + 7200, all, every_ms (30, 500, 0));

  Json json (http_get (relay.port, "/recordings/cam").text ());
  JsonObject *tl = json_object_get_object_member (json.root (), "timelapse");
  ASSERT_TRUE (tl);
  EXPECT_EQ (str_member (tl, "first"), "2026-12-06T14:03:00.000+00:00");
  EXPECT_EQ (str_member (tl, "last"), "2026-12-06T14:42:00.000+00:00");
  EXPECT_EQ (int_member (tl, "count"), 40);

  const std::string path =
      "/recordings/cam/timelapse.mp4?from=2026-12-06T14:00:00Z&to=2026-12-06T15:00:00Z&fps=20";
  auto first = http_get (relay.port, path, "", 60000);
  ASSERT_EQ (first.status, 200) << first.text ();
  EXPECT_EQ (first.header ("content-type"), "video/mp4");
  TempDir out;
  std::string mp4 = out.write ("t.mp4", first.body);
  auto probe = run ({ "ffprobe", "-v", "error", "-count_frames", "-show_entries",
      "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate", "-of", "csv=p=0", mp4 });
  EXPECT_EQ (probe.output, "h264,yuv420p,20/1,40\n") << probe.output;

  auto second = http_get (relay.port, path);
  EXPECT_EQ (second.status, 200);
  EXPECT_EQ (second.body, first.body);
  /* Made once: one line in the log for the one job. */
  std::string log = relay.proc->output ();
  gsize jobs = 0;
  for (gsize at = log.find (" frames in "); at != std::string::npos;
       at = log.find (" frames in ", at + 1))
    jobs++;
  EXPECT_EQ (jobs, 1u) << log;
  EXPECT_NE (log.find ("time-lapse of cam"), std::string::npos) << log;
  EXPECT_NE (log.find (" of 40 frames encoded"), std::string::npos) << "progress lines: " << log;

  /* No time-lapse frames in that hour: the recording, one frame every 5 s (of 15 s). */
  auto thinned = http_get (relay.port,
      "/recordings/cam/timelapse.mp4?from=2026-12-06T16:00:00Z&to=2026-12-06T17:00:00Z&every=5", "",
      60000);
  ASSERT_EQ (thinned.status, 200) << thinned.text ();
  std::string t2 = out.write ("t2.mp4", thinned.body);
  probe = run ({ "ffprobe", "-v", "error", "-count_frames", "-show_entries",
      "stream=codec_name,nb_read_frames", "-of", "csv=p=0", t2 });
  EXPECT_EQ (probe.output, "h264,3\n") << probe.output;
}

/* @field of /status's "recordings" object. */
gint64
recordings_int (const Relay & relay, const char *field)
{
  Json j (relay.status_text ());
  JsonObject *r = j.root () ? json_object_get_object_member (j.root (), "recordings") : nullptr;
  return r && json_object_has_member (r, field) ? int_member (r, field) : -1;
}

guint64
size_of (const std::string & path)
{
  struct stat st;
  return stat (path.c_str (), &st) == 0 ? static_cast<guint64> (st.st_size) : 0;
}

/* The time-lapse MP4 cache counts in max-disk: over it, the oldest go first, a cached MP4 being
 * as old as the moment it was made, so recordings older than it go before it, and it goes before
 * newer ones. */
TEST (Recordings, CachedTimelapsesCountInMaxDiskAndGoOldestFirst)
{
  Relay relay;
  const std::string head = "[recordings]\ndir = rec\nsegment = 1\nmax-disk = ";
  const std::string cams = "\n[camera cam]\ntimelapse-interval = 60\n";
  ASSERT_TRUE (relay.start (head + "1G" + cams)) << relay.proc->output ();
  const gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const gint64 hour_ago = now - now % 60 - 3600;
  auto frames = distinct_frames (20);
  std::string timelapse =
      write_segment (relay, hour_ago - 3600, frames, every_ms (20, 60000, 0), true);
  std::string older = write_segment (relay, hour_ago - 1800, frames, every_ms (20, 100));
  std::string old = write_segment (relay, hour_ago, frames, every_ms (20, 100));
  std::string newest = write_segment (relay, now - now % 60 - 60, frames, every_ms (20, 100));

  auto mp4 = http_get (relay.port,
      "/recordings/cam/timelapse.mp4?from=" + iso ((hour_ago - 3600) * G_USEC_PER_SEC) +
          "&to=" + iso (hour_ago * G_USEC_PER_SEC),
      "", 60000);
  ASSERT_EQ (mp4.status, 200) << mp4.text ();
  std::string cache = relay.dir.path () + "/rec/.cache/timelapse";
  g_autoptr (GDir) d = g_dir_open (cache.c_str (), 0, nullptr);
  ASSERT_TRUE (d);
  std::string cached = cache + "/" + g_dir_read_name (d);
  ASSERT_EQ (size_of (cached), mp4.body.size ()) << cached;
  const guint64 recorded = size_of (timelapse) + size_of (older) + size_of (old) + size_of (newest);
  ASSERT_TRUE (wait_until ([&] {
    return recordings_int (relay, "cache_bytes") == static_cast<gint64> (mp4.body.size ()) &&
        recordings_int (relay, "bytes_on_disk") ==
        static_cast<gint64> (recorded + mp4.body.size ());
  })) << relay.status_text ();

  /* One byte too many: the oldest recording goes, the cache (made now) stays. */
  auto reload = [&] (guint64 max_disk) {
    relay.dir.write ("camrelay.conf",
        "[server]\naddress = 127.0.0.1\n" + head + std::to_string (max_disk) + cams);
    relay.proc->send_signal (SIGHUP);
    return wait_until (
        [&] { return recordings_int (relay, "max_disk_bytes") == static_cast<gint64> (max_disk); });
  };
  ASSERT_TRUE (reload (recorded + mp4.body.size () - 1)) << relay.status_text ();
  ASSERT_TRUE (wait_until ([&] { return !g_file_test (older.c_str (), G_FILE_TEST_EXISTS); }))
      << "the oldest recording should go: " << relay.status_text ();
  EXPECT_TRUE (g_file_test (old.c_str (), G_FILE_TEST_EXISTS));
  EXPECT_TRUE (g_file_test (cached.c_str (), G_FILE_TEST_EXISTS)) << "newer than what went";

  /* Room for the newest recording, the time-lapse and half the cache: the recording older than
   * the cache goes, then the cache. */
  ASSERT_TRUE (reload (size_of (timelapse) + size_of (newest) + mp4.body.size () / 2))
      << relay.status_text ();
  ASSERT_TRUE (wait_until ([&] { return !g_file_test (cached.c_str (), G_FILE_TEST_EXISTS); }))
      << "the cache should go: " << relay.status_text ();
  EXPECT_FALSE (g_file_test (old.c_str (), G_FILE_TEST_EXISTS)) << "older than the cache";
  EXPECT_TRUE (g_file_test (newest.c_str (), G_FILE_TEST_EXISTS));
  EXPECT_TRUE (g_file_test (timelapse.c_str (), G_FILE_TEST_EXISTS));
  ASSERT_TRUE (wait_until ([&] { return recordings_int (relay, "cache_bytes") == 0; }))
      << relay.status_text ();
  EXPECT_EQ (recordings_int (relay, "deleted_cached_timelapses"), 1);
  EXPECT_NE (http_get (relay.port, "/metrics").text ().find ("camrelay_recordings_cache_bytes 0\n"),
      std::string::npos);
  /* Asked for again, it is made again. */
  auto again = http_get (relay.port,
      "/recordings/cam/timelapse.mp4?from=" + iso ((hour_ago - 3600) * G_USEC_PER_SEC) +
          "&to=" + iso (hour_ago * G_USEC_PER_SEC),
      "", 60000);
  EXPECT_EQ (again.status, 200);
  EXPECT_TRUE (g_file_test (cached.c_str (), G_FILE_TEST_IS_REGULAR));
}

TEST (Recordings, HostileRequestsGetClearAnswersAndNeverAFileOutside)
{
  Relay relay;
  ASSERT_TRUE (relay.start (CONFIG));
  write_segment (relay, START, distinct_frames (3), every_ms (3, 200));
  relay.dir.write ("rec/secret.mkv", std::string ("outside any camera"));
  relay.dir.write ("rec/cam/2026-12-06/14-03-00.mkv.bak", std::string ("not a segment"));
  struct Case
  {
    const char *path;
    int status;
  } cases[] = {
    { "/recordings/nobody", 404 },
    { "/recordings/", 400 },
    { "/recordings/..", 404 }, /* libsoup resolves dot segments: "/" */
    { "/recordings/%2e%2e", 404 },
    { "/recordings/cam%2F..%2F..", 400 },
    { "/recordings/cam/../secret.mkv", 404 },
    { "/recordings/cam/../../camrelay.conf", 404 },
    { "/recordings/cam/2026-12-06/../../../camrelay.conf", 404 },
    { "/recordings/cam/2026-12-06/14-03-00.mkv.bak", 404 },
    { "/recordings/cam/2026-12-06/14-3-0.mkv", 404 },
    { "/recordings/cam/2026-12-06/14-03-01.mkv", 404 },
    { "/recordings/cam/frame.jpg", 400 },
    { "/recordings/cam/frame.jpg?t=yesterday", 400 },
    { "/recordings/cam/frame.jpg?t=2026-13-45T99:00:00Z", 400 },
    { "/recordings/cam/frame.jpg?t=2030-01-01T00:00:00Z", 404 },
    { "/recordings/cam/play", 400 },
    { "/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=0", 400 },
    { "/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=65", 400 },
    { "/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=fast", 400 },
    { "/recordings/cam/play?from=2030-01-01T00:00:00Z", 404 },
    { "/recordings/cam/timelapse.mp4?from=nope", 400 },
    { "/recordings/cam/timelapse.mp4?fps=0", 400 },
    { "/recordings/cam/timelapse.mp4?fps=2.5", 400 },
    { "/recordings/cam/timelapse.mp4?from=2026-12-07T00:00:00Z&to=2026-12-06T00:00:00Z", 400 },
    { "/recordings/cam/timelapse.mp4?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z", 404 },
  };
  for (const auto & c : cases) {
    auto r = http_get (relay.port, c.path);
    EXPECT_EQ (r.status, c.status) << c.path << ": " << r.text ();
    EXPECT_EQ (r.text ().find ("outside any camera"), std::string::npos) << c.path;
    EXPECT_EQ (r.text ().find ("[server]"), std::string::npos) << c.path;
  }
  EXPECT_EQ (http_request (relay.port, "POST", "/recordings/cam").status, 405);
  /* The speed's range, 0.25 to 64: just outside is refused, its ends play. */
  for (const char *speed : { "0.24", "64.5" }) {
    auto r = http_get (relay.port,
        std::string ("/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=") + speed);
    EXPECT_EQ (r.status, 400) << speed;
    EXPECT_NE (r.text ().find ("0.25 to 64"), std::string::npos) << r.text ();
  }
  for (const char *speed : { "0.25", "64" }) {
    MjpegReader viewer (relay.port,
        std::string ("/recordings/cam/play?from=2026-12-06T14:03:00Z&speed=") + speed);
    EXPECT_EQ (viewer.status (), 200) << speed;
    Bytes part;
    EXPECT_TRUE (viewer.next_part (part, 10000)) << speed;
  }
}

/* Like every page: behind the viewer credentials. */
TEST (Recordings, NeedTheViewerCredentials)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("viewer-user = me\nviewer-password = pw\n" + std::string (CONFIG)));
  write_segment (relay, START, distinct_frames (2), every_ms (2, 200));
  EXPECT_EQ (http_get (relay.port, "/recordings/cam").status, 401);
  EXPECT_EQ (http_get (relay.port, "/recordings/cam/2026-12-06/14-03-00.mkv").status, 401);
  EXPECT_EQ (http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:00.3Z").status,
      401);
  const std::string auth = "Authorization: Basic bWU6cHc=\r\n"; /* me:pw */
  EXPECT_EQ (http_get (relay.port, "/recordings/cam", auth).status, 200);
  EXPECT_EQ (http_get (relay.port, "/recordings/cam/frame.jpg?t=2026-12-06T14:03:00.3Z", auth)
                 .status,
      200);
}

}  // namespace
