/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay end to end: the real binary on 127.0.0.1 with real cameras and viewers. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include "camrelay-config.h"

#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

using namespace crtest;

namespace {

/* Distinct frames of about 9 KB at VGA, as the firmware sends. */
const JpegSpec BALL{ 640, 480, 85, "ball" };

/* Every live part is a sent frame, byte for byte, in the order sent, ending with the last. */
void
expect_in_order (const std::vector<int> & seen, gsize sent)
{
  ASSERT_FALSE (seen.empty ()) << "no live frame arrived";
  for (gsize i = 1; i < seen.size (); i++)
    EXPECT_LT (seen[i - 1], seen[i]) << "frame " << seen[i] << " after " << seen[i - 1];
  EXPECT_EQ (seen.back (), static_cast<int> (sent) - 1) << "the last frame did not arrive";
  /* A viewer reading as fast as loopback allows misses few frames, if any. */
  EXPECT_GE (seen.size (), sent / 2) << "a fast viewer skipped most frames";
}

std::string
camera_state (const Relay & relay, const char *camera)
{
  Json j (relay.status_text ());
  return str_member (j.camera (camera), "state");
}

Bytes
cut (const Bytes & frame, gsize len)
{
  return Bytes (frame.begin (), frame.begin () + MIN (len, frame.size ()));
}

}  // namespace

/* ---------------------------------------------------------------------------------------------- */

/* A config without camera sections is the legacy server: the firmware connects to "/", greets,
 * sends frames back to back; viewers GET "/"; frames of 5000 bytes or less are ignored. */
TEST (Program, LegacyCameraOnRootPath)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("")) << relay.proc->output ();

  std::vector<Bytes> all = make_jpegs (23, BALL);
  std::vector<Bytes> frames (all.begin (), all.begin () + 20);
  std::vector<Bytes> more (all.begin () + 20, all.end ());
  MjpegReader viewer (relay.port, "/");
  ASSERT_EQ (viewer.status (), 200);
  EXPECT_EQ (viewer.header ("content-type"), "multipart/x-mixed-replace;boundary=ThisRandomString");

  WsClient cam (relay.port, "/");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (cam.send_text ("hello from ESP32 camera stream!"));
  Bytes small = make_solid_jpeg (0x336699, 160, 120);
  ASSERT_LE (small.size (), 5000u);
  ASSERT_TRUE (send_settled (relay, cam, "default", small));
  int others = 0;
  std::vector<int> seen;
  {
    /* The firmware's rate over a good Wi-Fi link. */
    Sender sender (cam, frames, 25, frames.size ());
    seen = read_until_last (viewer, frames, &others);
  }
  expect_in_order (seen, frames.size ());

  HttpResponse snap = http_get (relay.port, "/snapshot.jpg");
  EXPECT_EQ (snap.status, 200);
  EXPECT_EQ (snap.header ("content-type"), "image/jpeg");
  EXPECT_EQ (snap.header ("content-length"), std::to_string (snap.body.size ()));
  EXPECT_EQ (snap.body, frames.back ());

  EXPECT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    JsonObject *c = j.camera ("default");
    return c && int_member (c, "frames_received") == 21 && int_member (c, "frames_rejected") == 1 &&
        int_member (json_object_get_object_member (c, "rejected"), "too-small") == 1;
  })) << relay.status_text ();

  /* The FastAPI server's path works too; the newer camera takes over. */
  WsClient cam2 (relay.port, "/ws");
  ASSERT_EQ (cam2.status (), 101);
  EXPECT_EQ (cam.wait_close (nullptr, 5000), 1000);
  for (const auto & f : more)
    ASSERT_TRUE (send_settled (relay, cam2, "default", f));
  seen = read_until_last (viewer, more, &others);
  ASSERT_FALSE (seen.empty ());
  EXPECT_EQ (seen.back (), 2);
}

/* Two cameras on one port: one like the firmware (C++ client on "/"), one driven by the bundled
 * tools/fake-camera.py; each viewer gets its own camera's frames, byte for byte, in order. */
TEST (Program, TwoCamerasStayApart)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\ningest-paths = /\n[camera b]\n")) << relay.proc->output ();

  std::vector<Bytes> all = make_jpegs (39, BALL);
  std::vector<Bytes> a (all.begin (), all.begin () + 24);
  std::vector<Bytes> b (all.begin () + 24, all.end ());
  for (gsize i = 0; i < b.size (); i++) {
    g_autofree gchar *name = g_strdup_printf ("b/%03zu.jpg", i);
    relay.dir.write (name, b[i]);
  }

  MjpegReader va (relay.port, "/stream/a");
  MjpegReader vb (relay.port, "/stream/b");
  ASSERT_EQ (va.status (), 200);
  ASSERT_EQ (vb.status (), 200);

  Process fake ({ "/usr/bin/python3", source_path ("tools/fake-camera.py"), "--url",
      relay.url ("/ws/b", "ws"), "--dir", relay.dir.file ("b"), "--count", "15", "--fps", "15",
      "--linger", "60" });
  WsClient cam (relay.port, "/");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (cam.send_text ("hello from ESP32 camera stream!"));

  int others_a = 0, others_b = 0;
  std::vector<int> seen_a, seen_b;
  {
    Sender sender (cam, a, 25, a.size ());
    std::thread tb ([&] { seen_b = read_until_last (vb, b, &others_b, 30000); });
    seen_a = read_until_last (va, a, &others_a, 30000);
    tb.join ();
  }
  expect_in_order (seen_a, a.size ());
  expect_in_order (seen_b, b.size ());
  EXPECT_TRUE (fake.wait_for_output ("sent 15 frames", 10000)) << fake.output ();
  EXPECT_TRUE (wait_until ([&] { return camera_int (relay, "b", "frames_received") == 15; }))
      << relay.status_text () << fake.output ();
  EXPECT_EQ (camera_int (relay, "a", "frames_received"), 24);

  /* Still-image URLs of both. */
  EXPECT_EQ (http_get (relay.port, "/snapshot/a.jpg").body, a.back ());
  EXPECT_EQ (http_get (relay.port, "/snapshot/b.jpg").body, b.back ());

  /* The program's log: one start-up line with every URL, then connects, as info. */
  std::string log = relay.proc->output ();
  for (const char *url :
      { "/ws/b", "/stream/a", "/stream/b", "/snapshot/a.jpg", "/status", "/metrics", "/view" })
    EXPECT_NE (log.find (relay.url (url, strcmp (url, "/ws/b") == 0 ? "ws" : "http")),
        std::string::npos)
        << url << " not in\n"
        << log;
  EXPECT_NE (log.find ("camera a: " + cam.local_address () + " connected on /"), std::string::npos)
      << log;
  EXPECT_NE (log.find ("camera b: live (first-frame)"), std::string::npos) << log;
}

TEST (Program, StatusReportsEveryCameraFieldByField)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n[camera idle]\n")) << relay.proc->output ();

  std::vector<Bytes> frames = make_jpegs (10, BALL);
  Bytes small = make_solid_jpeg (0x102030, 160, 120);
  Bytes garbage (6000);
  for (auto & c : garbage)
    c = static_cast<guint8> (g_random_int ());
  garbage[0] = 0x00;
  Bytes truncated = cut (frames[5], frames[5].size () - 100);
  ASSERT_GT (truncated.size (), 5001u);

  MjpegReader v1 (relay.port, "/stream/a");
  MjpegReader v2 (relay.port, "/stream/a");
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (cam.send_text ("hello"));
  guint64 bytes = 0;
  for (const auto & f : { small, garbage, truncated, small }) {
    ASSERT_TRUE (send_settled (relay, cam, "a", f));
    bytes += f.size ();
  }
  for (const auto & f : frames) {
    ASSERT_TRUE (send_settled (relay, cam, "a", f));
    bytes += f.size ();
  }
  ASSERT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    JsonObject *c = j.camera ("a");
    return c && int_member (c, "frames_received") == 14 &&
        int_member (c, "frames_accepted") == 10 && int_member (c, "viewers") == 2 &&
        json_object_get_double_member (c, "frames_per_second") > 0 &&
        str_member (c, "state") == "live";
  })) << relay.status_text ();

  g_autoptr (GDateTime) asked = g_date_time_new_now_utc ();
  HttpResponse res = http_get (relay.port, "/status");
  EXPECT_EQ (res.status, 200);
  EXPECT_EQ (res.header ("content-type"), "application/json");
  Json j (res.text ());
  ASSERT_TRUE (j.ok ()) << res.text ();
  JsonObject *root = j.root ();
  EXPECT_EQ (str_member (root, "program"), "camrelay");
  EXPECT_EQ (str_member (root, "version"), CAMRELAY_VERSION);
  EXPECT_GT (json_object_get_double_member (root, "uptime_seconds"), 0);
  g_autoptr (GDateTime) started =
      g_date_time_new_from_iso8601 (str_member (root, "started").c_str (), nullptr);
  EXPECT_TRUE (started);
  EXPECT_EQ (json_array_get_length (json_object_get_array_member (root, "cameras")), 2u);

  JsonObject *c = j.camera ("a");
  ASSERT_TRUE (c);
  EXPECT_EQ (str_member (c, "state"), "live");
  g_autoptr (GDateTime) since =
      g_date_time_new_from_iso8601 (str_member (c, "since").c_str (), nullptr);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  ASSERT_TRUE (since);
  EXPECT_LE (g_date_time_compare (since, now), 0);
  EXPECT_GE (g_date_time_compare (since, started), 0);
  /* The time in state is the time since "since" when the answer was made (to its 3 decimals). */
  double in_state = json_object_get_double_member (c, "seconds_in_state");
  EXPECT_GE (in_state, g_date_time_difference (asked, since) / 1e6 - 0.001);
  EXPECT_LE (in_state, g_date_time_difference (now, since) / 1e6 + 0.001);
  EXPECT_TRUE (json_object_get_boolean_member (c, "connected"));
  EXPECT_EQ (str_member (c, "peer"), cam.local_address ());
  EXPECT_GT (json_object_get_double_member (c, "frames_per_second"), 0);
  EXPECT_EQ (int_member (c, "frames_received"), 14);
  EXPECT_EQ (int_member (c, "bytes_received"), static_cast<gint64> (bytes));
  EXPECT_EQ (int_member (c, "connections"), 1);
  EXPECT_EQ (int_member (c, "messages_refused"), 0);
  EXPECT_EQ (int_member (c, "frames_dropped"), 0);
  EXPECT_EQ (int_member (c, "frames_accepted"), 10);
  EXPECT_EQ (int_member (c, "frames_rejected"), 4);
  JsonObject *rejected = json_object_get_object_member (c, "rejected");
  EXPECT_EQ (int_member (rejected, "too-small"), 2);
  EXPECT_EQ (int_member (rejected, "not-jpeg"), 1);
  EXPECT_EQ (int_member (rejected, "truncated"), 1);
  EXPECT_EQ (int_member (rejected, "too-large"), 0);
  EXPECT_EQ (int_member (rejected, "malformed"), 0);
  EXPECT_EQ (int_member (rejected, "decode-failed"), 0);
  EXPECT_EQ (int_member (c, "viewers"), 2);
  EXPECT_EQ (int_member (c, "viewers_total"), 2);
  EXPECT_GT (int_member (c, "frames_sent"), 0);
  EXPECT_GT (int_member (c, "bytes_out"), 0);
  EXPECT_EQ (int_member (c, "snapshots"), 0);
  EXPECT_EQ (int_member (c, "switches"), 1);
  EXPECT_GT (json_object_get_double_member (c, "seconds_on_placeholder"), 0);
  EXPECT_EQ (int_member (c, "restarts"), 0);
  EXPECT_TRUE (json_object_get_null_member (c, "last_error"));
  JsonObject *paths = json_object_get_object_member (c, "paths");
  JsonArray *ingest = json_object_get_array_member (paths, "ingest");
  ASSERT_EQ (json_array_get_length (ingest), 1u);
  EXPECT_STREQ (json_array_get_string_element (ingest, 0), "/ws/a");
  EXPECT_EQ (str_member (paths, "stream"), "/stream/a");
  EXPECT_EQ (str_member (paths, "snapshot"), "/snapshot/a.jpg");
  JsonObject *urls = json_object_get_object_member (c, "urls");
  EXPECT_STREQ (json_array_get_string_element (json_object_get_array_member (urls, "ingest"), 0),
      relay.url ("/ws/a", "ws").c_str ());
  EXPECT_EQ (str_member (urls, "stream"), relay.url ("/stream/a"));
  EXPECT_EQ (str_member (urls, "snapshot"), relay.url ("/snapshot/a.jpg"));

  /* Rejections are logged, but not one line per frame: four rejections, one warning. */
  std::string log = relay.proc->output ();
  gsize first = log.find ("camera a: rejected a ");
  EXPECT_NE (first, std::string::npos) << log;
  EXPECT_EQ (log.find ("camera a: rejected a ", first + 1), std::string::npos) << log;
  /* On loopback only, no warning about cameras without a secret. */
  EXPECT_EQ (log.find ("no ingest secret"), std::string::npos) << log;

  JsonObject *idle = j.camera ("idle");
  ASSERT_TRUE (idle);
  EXPECT_EQ (str_member (idle, "state"), "placeholder");
  EXPECT_FALSE (json_object_get_boolean_member (idle, "connected"));
  EXPECT_EQ (str_member (idle, "peer"), "(null)");
  EXPECT_EQ (int_member (idle, "frames_received"), 0);
  EXPECT_EQ (int_member (idle, "viewers"), 0);

  /* The camera goes away: not connected any more, counters stay. */
  cam.close_and_hang_up ();
  EXPECT_TRUE (wait_until ([&] {
    Json k (relay.status_text ());
    JsonObject *a = k.camera ("a");
    return a && !json_object_get_boolean_member (a, "connected") &&
        str_member (a, "peer") == "(null)" && int_member (a, "frames_accepted") == 10;
  })) << relay.status_text ();
}

TEST (Program, MetricsPassPromtool)
{
  if (!installed ("promtool"))
    FAIL () << "promtool (Debian package prometheus) is not installed"
               " (tools/bootstrap --tests installs it)";
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n[camera b]\nmin-size = 0\n")) << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (5, BALL);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (send_settled (relay, cam, "a", make_solid_jpeg (0x112233, 160, 120)));
  for (const auto & f : frames)
    ASSERT_TRUE (send_settled (relay, cam, "a", f));
  MjpegReader viewer (relay.port, "/stream/b");
  ASSERT_TRUE (wait_until ([&] {
    return camera_int (relay, "a", "frames_accepted") == 5 &&
        camera_int (relay, "b", "viewers") == 1;
  }));

  HttpResponse res = http_get (relay.port, "/metrics");
  ASSERT_EQ (res.status, 200);
  EXPECT_EQ (res.header ("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  std::string file = relay.dir.write ("metrics.txt", res.body);
  RunResult check = run ({ "sh", "-c", "promtool check metrics < \"$0\"", file });
  EXPECT_EQ (check.code, 0) << check.output << "\n" << res.text ();
  EXPECT_EQ (check.output, "") << "promtool lint findings";

  std::string text = res.text ();
  for (const char *line : { "camrelay_build_info{version=\"" CAMRELAY_VERSION "\"} 1\n",
           "# TYPE camrelay_camera_accepted_frames_total counter\n",
           "camrelay_camera_accepted_frames_total{camera=\"a\"} 5\n",
           "camrelay_camera_accepted_frames_total{camera=\"b\"} 0\n",
           "camrelay_camera_rejected_frames_total{camera=\"a\",reason=\"too-small\"} 1\n",
           "camrelay_camera_rejected_frames_total{camera=\"a\",reason=\"not-jpeg\"} 0\n",
           "camrelay_camera_received_frames_total{camera=\"a\"} 6\n",
           "camrelay_camera_connected{camera=\"a\"} 1\n",
           "camrelay_camera_connected{camera=\"b\"} 0\n", "camrelay_camera_live{camera=\"a\"} 1\n",
           "camrelay_camera_live{camera=\"b\"} 0\n", "camrelay_camera_up{camera=\"b\"} 1\n",
           "# TYPE camrelay_viewers gauge\n", "camrelay_viewers{camera=\"b\"} 1\n",
           "camrelay_camera_pipeline_restarts_total{camera=\"a\"} 0\n" })
    EXPECT_NE (text.find (line), std::string::npos) << line << "not in\n" << text;
}

/* Frames real cameras send (issue 9): a Raspberry Pi's and an esp32-camera's padding after EOI,
 * a UVC webcam's frame without Huffman tables. Viewers get clean JPEGs (trimmed; with the
 * standard tables), and the counts show in /status and /metrics. */
TEST (Program, PaddedAndTablelessFramesReachViewersCleanAndCounted)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n")) << relay.proc->output ();
  std::vector<Bytes> f;
  for (guint32 seed = 1; seed <= 4; seed++) {
    LibjpegSpec spec;
    spec.width = 640;
    spec.height = 480;
    spec.seed = seed;
    f.push_back (encode_libjpeg (spec));
  }
  Bytes pi = f[0];
  pi.insert (pi.end (), { 0, 0, 0 });
  Bytes esp32 = f[1];
  esp32.insert (esp32.end (), f[3].begin () + f[3].size () / 2,
      f[3].begin () + f[3].size () / 2 + 500);
  const Bytes uvc = without_huffman_tables (f[2]);
  Bytes merged = f[0];
  merged.insert (merged.end (), f[1].begin (), f[1].end ());

  MjpegReader viewer (relay.port, "/stream/a");
  ASSERT_EQ (viewer.status (), 200);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);

  /* The webcam frame as viewers must get it: one DHT segment with the tables its encoder used
   * (libjpeg's defaults, the standard ones) right before the scan. */
  gsize sos = 2;
  while (sos + 1 < uvc.size () && !(uvc[sos] == 0xff && uvc[sos + 1] == 0xda))
    sos++;
  Bytes dht = { 0xff, 0xc4, 0, 0 };
  for (gsize at = 2; f[2][at + 1] != 0xda; at += 2 + ((f[2][at + 2] << 8) | f[2][at + 3])) {
    if (f[2][at + 1] == 0xc4)
      dht.insert (dht.end (), f[2].begin () + at + 4,
          f[2].begin () + at + 2 + ((f[2][at + 2] << 8) | f[2][at + 3]));
  }
  dht[2] = (dht.size () - 2) >> 8;
  dht[3] = (dht.size () - 2) & 0xff;
  Bytes uvc_fixed (uvc.begin (), uvc.begin () + sos);
  uvc_fixed.insert (uvc_fixed.end (), dht.begin (), dht.end ());
  uvc_fixed.insert (uvc_fixed.end (), uvc.begin () + sos, uvc.end ());

  /* Each frame, then the part it must become (placeholder parts before it are skipped). */
  std::vector<Bytes> parts;
  auto deliver = [&] (const Bytes & frame, const Bytes & want) {
    if (!send_settled (relay, cam, "a", frame))
      return false;
    Bytes part;
    for (int i = 0; i < 20 && viewer.next_part (part); i++) {
      parts.push_back (part);
      if (part == want)
        return true;
    }
    return false;
  };
  EXPECT_TRUE (deliver (pi, f[0])) << "the Raspberry Pi frame did not arrive trimmed";
  EXPECT_TRUE (deliver (esp32, f[1])) << "the esp32-camera frame did not arrive trimmed";
  ASSERT_TRUE (send_settled (relay, cam, "a", merged));
  EXPECT_TRUE (deliver (uvc, uvc_fixed)) << "the webcam frame did not arrive with tables";
  EXPECT_TRUE (deliver (f[3], f[3]));
  std::vector<guint8> got, want;
  int w = 0, h = 0;
  std::string error;
  ASSERT_TRUE (decode_libjpeg (uvc_fixed, got, &w, &h, &error)) << error;
  ASSERT_TRUE (decode_libjpeg (f[2], want, &w, &h, &error)) << error;
  EXPECT_TRUE (got == want) << "the webcam frame decodes to other pixels";
  for (const Bytes & part : parts) {
    EXPECT_NE (part, pi) << "padding reached a viewer";
    EXPECT_NE (part, esp32) << "padding reached a viewer";
    EXPECT_NE (part, uvc) << "a frame without tables reached a viewer";
    EXPECT_NE (part, merged) << "a merged frame reached a viewer";
  }

  Json j (relay.status_text ());
  JsonObject *c = j.camera ("a");
  ASSERT_TRUE (c) << relay.status_text ();
  EXPECT_EQ (int_member (c, "frames_accepted"), 4);
  EXPECT_EQ (int_member (c, "frames_trimmed"), 2);
  EXPECT_EQ (int_member (c, "frames_dht_inserted"), 1);
  EXPECT_EQ (int_member (c, "frames_rejected"), 1);
  JsonObject *rejected = json_object_get_object_member (c, "rejected");
  EXPECT_EQ (int_member (rejected, "merged"), 1);
  EXPECT_EQ (int_member (rejected, "malformed"), 0);
  EXPECT_FALSE (json_object_has_member (rejected, "trimmed")) << "not a rejection";
  EXPECT_FALSE (json_object_has_member (rejected, "dht-inserted")) << "not a rejection";

  HttpResponse res = http_get (relay.port, "/metrics");
  ASSERT_EQ (res.status, 200);
  std::string text = res.text ();
  for (const char *line : { "# TYPE camrelay_camera_trimmed_frames_total counter\n",
           "camrelay_camera_trimmed_frames_total{camera=\"a\"} 2\n",
           "# TYPE camrelay_camera_dht_inserted_frames_total counter\n",
           "camrelay_camera_dht_inserted_frames_total{camera=\"a\"} 1\n",
           "camrelay_camera_rejected_frames_total{camera=\"a\",reason=\"merged\"} 1\n",
           "camrelay_camera_accepted_frames_total{camera=\"a\"} 4\n" })
    EXPECT_NE (text.find (line), std::string::npos) << line << "not in\n" << text;
  EXPECT_EQ (text.find ("reason=\"trimmed\""), std::string::npos) << text;
  EXPECT_NE (text.find ("# HELP camrelay_camera_trimmed_frames_total "), std::string::npos);
  EXPECT_NE (text.find ("# HELP camrelay_camera_dht_inserted_frames_total "), std::string::npos);
  ASSERT_TRUE (installed ("promtool")) << "promtool (Debian package prometheus) is not installed "
                                          "(tools/bootstrap --tests installs it)";
  std::string file = relay.dir.write ("metrics.txt", res.body);
  RunResult check = run ({ "sh", "-c", "promtool check metrics < \"$0\"", file });
  EXPECT_EQ (check.code, 0) << check.output;
  EXPECT_EQ (check.output, "") << "promtool lint findings";
}

/* Readers nobody here wrote: ffmpeg and GStreamer's own souphttpsrc ! multipartdemux. */
TEST (Program, FfmpegAndGstreamerReadStreamAndSnapshot)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n")) << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (30, BALL);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  Sender sender (cam, frames, 15);
  ASSERT_TRUE (wait_until ([&] { return camera_state (relay, "a") == "live"; }));

  std::set<Bytes> sent (frames.begin (), frames.end ());
  auto count_sent = [&] (const std::string & dir, int *files) {
    int matches = 0;
    *files = 0;
    GDir *d = g_dir_open (dir.c_str (), 0, nullptr);
    while (const gchar *name = d ? g_dir_read_name (d) : nullptr) {
      (*files)++;
      matches += sent.count (read_file (dir + "/" + name));
    }
    if (d)
      g_dir_close (d);
    return matches;
  };

  EXPECT_TRUE (installed ("ffmpeg"))
      << "ffmpeg (Debian package ffmpeg) is not installed (tools/bootstrap --tests installs it)";
  { /* ffmpeg's own scope: the gst reader below reuses the names */
    std::string out = relay.dir.file ("ffmpeg");
    g_mkdir (out.c_str (), 0755);
    RunResult r = run ({ "ffmpeg", "-nostdin", "-v", "error", "-i", relay.url ("/stream/a"),
                           "-frames:v", "5", "-c", "copy", "-f", "image2", out + "/%02d.jpg" },
        60000);
    EXPECT_EQ (r.code, 0) << r.output;
    int files = 0;
    EXPECT_EQ (count_sent (out, &files), 5) << "ffmpeg's frames are not the camera's";
    EXPECT_EQ (files, 5);

    /* The snapshot, decoded by ffmpeg. */
    std::string png = relay.dir.file ("snapshot.png");
    RunResult s = run ({ "ffmpeg", "-nostdin", "-v", "error", "-i", relay.url ("/snapshot/a.jpg"),
                           "-frames:v", "1", png },
        60000);
    EXPECT_EQ (s.code, 0) << s.output;
    Bytes rgb;
    int w = 0, h = 0;
    EXPECT_TRUE (decode_rgb (png, rgb, &w, &h));
    EXPECT_EQ (w, 640);
    EXPECT_EQ (h, 480);
  }

  std::string out = relay.dir.file ("gst");
  g_mkdir (out.c_str (), 0755);
  RunResult g = run ({ "gst-launch-1.0", "-q", "souphttpsrc", "location=" + relay.url ("/stream/a"),
                         "!", "multipartdemux", "!", "image/jpeg", "!", "identity", "eos-after=5",
                         "!", "multifilesink", "location=" + out + "/%02d.jpg" },
      60000,
      /* Only GStreamer's own elements here: no plugin scan, so ours is never loaded into it. */
      { { "GST_REGISTRY_UPDATE", "no" } });
  EXPECT_EQ (g.code, 0) << g.output;
  int files = 0;
  EXPECT_EQ (count_sent (out, &files), files) << "GStreamer's frames are not the camera's";
  /* identity eos-after=5 ends the stream at the fifth buffer: four frames, every one written. */
  EXPECT_EQ (files, 4);

  HttpResponse head = http_get (relay.port, "/snapshot/a.jpg");
  EXPECT_EQ (head.status, 200);
  EXPECT_TRUE (sent.count (head.body));
  sender.stop ();
}

/* The camera stops sending: viewers see the placeholder after the timeout, and the camera's
 * frames again when it resumes; /status and the log say so. */
TEST (Program, PlaceholderAfterTimeoutAndBack)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\ntimeout = 0.5\nplaceholder-fps = 10\n"))
      << relay.proc->output ();
  Bytes placeholder = read_file (source_path ("placeholder.jpg"));
  std::vector<Bytes> frames = make_jpegs (6, BALL);
  std::vector<Bytes> first (frames.begin (), frames.begin () + 3);
  std::vector<Bytes> second (frames.begin () + 3, frames.end ());

  MjpegReader viewer (relay.port, "/stream/a");
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  int others = 0;
  for (const auto & f : first)
    ASSERT_TRUE (cam.send_binary (f));
  ASSERT_FALSE (read_until_last (viewer, first, &others).empty ());

  /* Nothing more from the camera: placeholder parts follow, none of them a camera frame. */
  Bytes part;
  int placeholder_parts = 0;
  while (placeholder_parts < 3 && viewer.next_part (part, 10000)) {
    ASSERT_EQ (std::find (frames.begin (), frames.end (), part), frames.end ());
    int w = 0, h = 0;
    ASSERT_TRUE (jpeg_dimensions (part, &w, &h));
    placeholder_parts++;
  }
  EXPECT_EQ (placeholder_parts, 3);
  EXPECT_TRUE (wait_until ([&] { return camera_state (relay, "a") == "placeholder"; }))
      << relay.status_text ();
  EXPECT_TRUE (relay.proc->wait_for_output ("camera a: showing the placeholder (timeout)"))
      << relay.proc->output ();

  for (const auto & f : second)
    ASSERT_TRUE (cam.send_binary (f));
  std::vector<int> seen = read_until_last (viewer, second, &others);
  ASSERT_FALSE (seen.empty ());
  EXPECT_EQ (seen.back (), 2);
  EXPECT_TRUE (wait_until ([&] { return camera_state (relay, "a") == "live"; }))
      << relay.status_text ();
  EXPECT_TRUE (relay.proc->wait_for_output ("camera a: live (resumed)")) << relay.proc->output ();
  /* first-frame, timeout, resumed: one switch each, no more. */
  EXPECT_EQ (camera_int (relay, "a", "switches"), 3) << relay.status_text ();
}

TEST (Program, LatestFileHoldsTheLatestFrame)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\nlatest-file = image.jpg\n")) << relay.proc->output ();
  std::string latest = relay.dir.file ("image.jpg");
  std::vector<Bytes> frames = make_jpegs (8, BALL);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  for (const auto & f : frames)
    ASSERT_TRUE (cam.send_binary (f));
  EXPECT_TRUE (wait_until ([&] { return read_file (latest) == frames.back (); }));
  /* Written by rename: no temporary file stays behind. */
  GDir *d = g_dir_open (relay.dir.path ().c_str (), 0, nullptr);
  while (const gchar *name = g_dir_read_name (d))
    EXPECT_FALSE (g_str_has_prefix (name, "image.jpg.")) << name;
  g_dir_close (d);
}

/* camrelay run under strace, counting the flushes to disk (fsync, fdatasync) of @file while
 * @frames go through camera a: an fsync per frame is what an SD card must not get by default. */
static int
latest_file_flushes (const std::string & section, const std::string & file, int frames)
{
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  std::string conf = dir.write ("camrelay.conf", "[server]\naddress = 127.0.0.1\n" + section);
  std::string trace = dir.file ("strace.txt");
  Process proc ({ "strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync", "-e", "signal=none",
                    "-o", trace, program_path (), "--config", conf, "--port", "0" },
      Env{ { "G_MESSAGES_DEBUG", "camrelay" } }, dir.path ());
  EXPECT_TRUE (proc.wait_for_output (" listening on ", 60000)) << proc.output ();
  std::string out = proc.output ();
  gsize p = out.find (" port ", out.find (" listening on "));
  if (p == std::string::npos)
    return -1;
  guint port = static_cast<guint> (g_ascii_strtoull (out.c_str () + p + 6, nullptr, 10));
  std::vector<Bytes> sent = make_jpegs (frames, BALL);
  WsClient cam (port, "/ws/a");
  EXPECT_EQ (cam.status (), 101);
  std::string latest = dir.file (file);
  /* One frame at a time, each on disk before the next: every frame is a write of its own. */
  for (const auto & f : sent) {
    EXPECT_TRUE (cam.send_binary (f));
    EXPECT_TRUE (wait_until ([&] { return read_file (latest) == f; })) << proc.output ();
  }
  /* SIGTERM to the process group: camrelay stops, strace writes out what it saw. */
  kill (-proc.pid (), SIGTERM);
  EXPECT_GE (proc.wait (20000), 0) << proc.output ();
  std::vector<guint8> text = read_file (trace);
  std::string lines (text.begin (), text.end ());
  int flushes = 0;
  for (gsize at = lines.find (file); at != std::string::npos; at = lines.find (file, at + 1))
    flushes++;
  return flushes;
}

/* latest-file at 10 fps on a Raspberry Pi's SD card: by default a frame is written to a temporary
 * file and renamed over the target (atomic for readers) without a flush to disk per frame;
 * latest-file-sync = true asks for that flush. */
TEST (Program, LatestFileIsNotFlushedToDiskPerFrameByDefault)
{
  ASSERT_TRUE (installed ("strace"));
  EXPECT_EQ (latest_file_flushes ("[camera a]\nlatest-file = image.jpg\n", "image.jpg", 10), 0);
  EXPECT_GE (latest_file_flushes ("[camera a]\nlatest-file = image.jpg\nlatest-file-sync = true\n",
                 "image.jpg", 10),
      9);
}

/* pipeline= runs as written, on the shared server and port. */
TEST (Program, CustomPipelineRunsOnTheSharedServer)
{
  Relay relay;
  ASSERT_TRUE (relay.start (
      "[camera plain]\n[camera turned]\npipeline = wsjpegsrc "
      "paths=/ws/turned ! jpegvalidate ! jpegfallback ! jpegdec ! videoflip "
      "video-direction=90r ! jpegenc ! multipartmux ! mjpeghttpsink path=/stream/turned "
      "snapshot-path=/turned.jpg\n"))
      << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (10, BALL);
  MjpegReader viewer (relay.port, "/stream/turned");
  ASSERT_EQ (viewer.status (), 200);
  WsClient cam (relay.port, "/ws/turned");
  ASSERT_EQ (cam.status (), 101);
  Sender sender (cam, frames, 20);
  /* Frames re-encoded after a quarter turn: 480 wide, 640 high. */
  bool turned = false;
  Bytes part;
  for (int i = 0; i < 40 && !turned && viewer.next_part (part, 10000); i++) {
    int w = 0, h = 0;
    turned = jpeg_dimensions (part, &w, &h) && w == 480 && h == 640;
  }
  EXPECT_TRUE (turned);
  EXPECT_TRUE (wait_until ([&] { return camera_state (relay, "turned") == "live"; }));
  Json j (relay.status_text ());
  JsonObject *paths = json_object_get_object_member (j.camera ("turned"), "paths");
  EXPECT_EQ (str_member (paths, "snapshot"), "/turned.jpg");
  EXPECT_EQ (http_get (relay.port, "/turned.jpg").status, 200);
  /* No h264relaysink in this pipeline: a WebRTC offer is told so, not met with a server error. */
  HttpResponse whep = http_request (relay.port, "POST", "/whep/turned",
      "Content-Type: application/sdp\r\nContent-Length: 0\r\n");
  EXPECT_EQ (whep.status, 503) << whep.text ();
  EXPECT_NE (whep.text ().find ("h264relaysink"), std::string::npos) << whep.text ();
}

/* A pipeline that cannot even start is logged with the failing element's own reason (taken from
 * the error it posted), not a bare "could not start", and retried. */
TEST (Program, PipelineThatCannotStartIsLoggedWithItsCause)
{
  Relay relay;
  ASSERT_TRUE (relay.start (
      "[camera x]\npipeline = filesrc location=" + relay.dir.path () + "/missing.jpg ! fakesink\n"))
      << relay.proc->output ();
  ASSERT_TRUE (relay.proc->wait_for_output ("restarting its pipeline in 1 s"))
      << relay.proc->output ();
  std::string out = relay.proc->output ();
  EXPECT_EQ (out.find ("the pipeline could not start"), std::string::npos) << out;
  EXPECT_NE (out.find ("GstFileSrc"), std::string::npos) << "filesrc's reason: " << out;
  EXPECT_NE (out.find ("missing.jpg"), std::string::npos) << out;
}

/* A camera whose pipeline fails is rebuilt with its cause logged; the other camera's viewer
 * keeps getting frames on the same connection all along. */
TEST (Program, FailingPipelineIsRebuiltOthersCarryOn)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera good]\n[camera bad]\npipeline = wsjpegsrc paths=/ws/bad ! "
                            "jpegdec ! video/x-raw,width=7 ! fakesink\n"))
      << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (20, BALL);
  MjpegReader viewer (relay.port, "/stream/good");
  WsClient good (relay.port, "/ws/good");
  ASSERT_EQ (good.status (), 101);
  Sender sender (good, frames, 20);

  int others = 0;
  ASSERT_FALSE (read_until_last (viewer, frames, &others).empty ());
  {
    /* Any frame into "bad" stops its pipeline: a decoded frame is never 7 pixels wide. */
    WsClient bad (relay.port, "/ws/bad");
    ASSERT_EQ (bad.status (), 101);
    ASSERT_TRUE (bad.send_binary (frames[0]));
    EXPECT_TRUE (relay.proc->wait_for_output ("camera bad: ")) << relay.proc->output ();
    EXPECT_TRUE (relay.proc->wait_for_output ("restarting its pipeline in 1 s"))
        << relay.proc->output ();
    EXPECT_NE (bad.wait_close (nullptr, 5000), -1);
  }
  EXPECT_TRUE (wait_until ([&] { return camera_int (relay, "bad", "restarts") >= 1; }));
  Json j (relay.status_text ());
  JsonObject *bad = j.camera ("bad");
  JsonObject *err = bad && json_object_has_member (bad, "last_error") &&
          !json_object_get_null_member (bad, "last_error")
      ? json_object_get_object_member (bad, "last_error")
      : nullptr;
  ASSERT_TRUE (err) << relay.status_text ();
  EXPECT_NE (str_member (err, "message").find ("not-negotiated"), std::string::npos)
      << str_member (err, "message");

  /* Rebuilt: it takes cameras again. */
  EXPECT_TRUE (relay.proc->wait_for_output ("camera bad: starting its pipeline again"));
  EXPECT_TRUE (wait_until ([&] { return camera_state (relay, "bad") != "restarting"; }));
  WsClient again (relay.port, "/ws/bad");
  EXPECT_EQ (again.status (), 101);

  /* Meanwhile the good camera's viewer, on its first connection, still gets live frames. */
  EXPECT_FALSE (read_until_last (viewer, frames, &others).empty ());
  EXPECT_FALSE (viewer.ended ());
  EXPECT_EQ (camera_int (relay, "good", "restarts"), 0);
}

/* SIGTERM (and SIGINT) while a camera sends back to back and viewers read: exit code 0 within a
 * second; the camera gets a WebSocket close, every viewer's response ends properly. */
class Stop : public ::testing::TestWithParam<int>
{};

TEST_P (Stop, UnderLoadExitsCleanlyWithinASecond)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n[camera b]\n")) << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (10, BALL);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  /* Viewers that read all the time, as browsers do; the last one on a slow link, so that it is
   * always in the middle of a frame when the signal comes. */
  std::vector<std::unique_ptr<MjpegReader>> viewers;
  for (int i = 0; i < 4; i++)
    viewers.push_back (
        std::make_unique<MjpegReader> (relay.port, i % 2 ? "/stream/b" : "/stream/a"));
  viewers.push_back (std::make_unique<MjpegReader> (relay.port, "/stream/a", "", 8192, 2));
  std::vector<int> parts (viewers.size (), 0);
  std::vector<std::thread> readers;
  for (gsize i = 0; i < viewers.size (); i++) {
    readers.emplace_back ([&, i] {
      Bytes part;
      while (viewers[i]->next_part (part, 20000))
        parts[i]++;
    });
  }
  Sender sender (cam, frames, 0);
  ASSERT_TRUE (wait_until ([&] { return camera_int (relay, "a", "frames_accepted") > 20; }));

  gint64 t0 = g_get_monotonic_time ();
  relay.proc->send_signal (GetParam ());
  int code = relay.proc->wait (10000);
  gint64 elapsed_ms = (g_get_monotonic_time () - t0) / 1000;
  EXPECT_EQ (code, 0) << relay.proc->output ();
  EXPECT_LT (elapsed_ms, 1000) << "camrelay took " << elapsed_ms << " ms to stop";
  sender.stop ();

  EXPECT_EQ (cam.wait_close (nullptr, 5000), 1001);
  for (auto & r : readers)
    r.join ();
  for (gsize i = 0; i < viewers.size (); i++) {
    EXPECT_GT (parts[i], 0);
    EXPECT_TRUE (viewers[i]->ended ()) << "viewer " << i << "'s response was cut, not ended";
    EXPECT_TRUE (viewers[i]->wait_closed (5000));
  }
  EXPECT_NE (relay.proc->output ().find ("stopping"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P (Program, Stop, ::testing::Values (SIGTERM, SIGINT));

/* --print-pipeline's line, pasted into a shell, does the same job as the program. */
TEST (Program, PrintedPipelineRunsUnderGstLaunch)
{
  TempDir dir;
  dir.write ("offline picture.jpg", read_file (source_path ("placeholder.jpg")));
  guint port = free_port ();
  std::string conf = dir.write ("one.conf",
      "[server]\naddress = 127.0.0.1\nport = " + std::to_string (port) +
          "\n[camera front]\nplaceholder = offline picture.jpg\n"
          "timeout = 2\n");
  RunResult print = run ({ program_path (), "--config", conf, "--print-pipeline" });
  ASSERT_EQ (print.code, 0) << print.output;
  std::string line = print.output.substr (0, print.output.find ('\n'));
  ASSERT_NE (line.find ("gst-launch-1.0 "), std::string::npos) << line;

  /* "env" runs the line as a shell would, and lets the shell hand over to gst-launch. */
  Process launch ({ "sh", "-c", "exec env " + line }, gst_child_env ());
  ASSERT_TRUE (wait_until ([&] {
    return http_get (port, "/snapshot/front.jpg", "", 1000).status == 200;
  })) << launch.output ();
  std::vector<Bytes> frames = make_jpegs (10, BALL);
  MjpegReader viewer (port, "/stream/front");
  ASSERT_EQ (viewer.status (), 200);
  WsClient cam (port, "/ws/front");
  ASSERT_EQ (cam.status (), 101);
  int others = 0;
  std::vector<int> seen;
  {
    Sender sender (cam, frames, 20, frames.size ());
    seen = read_until_last (viewer, frames, &others);
  }
  expect_in_order (seen, frames.size ());
  EXPECT_EQ (http_get (port, "/snapshot/front.jpg").body, frames.back ());
  launch.send_signal (SIGINT);
  EXPECT_EQ (launch.wait (10000), 0) << launch.output ();
}

/* [server] viewer credentials guard streams, snapshots and pages; /metrics may stay open to a
 * local scraper; a camera secret guards ingest. */
TEST (Program, CredentialsAndSecret)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("viewer-user = family\nviewer-password = s3cret\n"
                            "metrics-open-on-loopback = true\n[camera a]\nsecret = board-token\n"))
      << relay.proc->output ();
  g_autofree gchar *b64 = g_base64_encode (reinterpret_cast<const guchar *> ("family:s3cret"), 13);
  std::string auth = std::string ("Authorization: Basic ") + b64 + "\r\n";
  for (const char *path : { "/status", "/view", "/stream/a", "/snapshot/a.jpg" }) {
    HttpResponse r = http_get (relay.port, path);
    EXPECT_EQ (r.status, 401) << path;
    EXPECT_NE (r.header ("www-authenticate").find ("Basic"), std::string::npos) << path;
  }
  EXPECT_EQ (http_get (relay.port, "/status", auth).status, 200);
  EXPECT_EQ (http_get (relay.port, "/view", auth).status, 200);
  EXPECT_EQ (http_get (relay.port, "/metrics").status, 200);

  WsClient stranger (relay.port, "/ws/a");
  EXPECT_EQ (stranger.status (), 401);
  WsClient board (relay.port, "/ws/a?token=board-token");
  ASSERT_EQ (board.status (), 101);
  std::vector<Bytes> frames = make_jpegs (3, BALL);
  for (const auto & f : frames)
    ASSERT_TRUE (board.send_binary (f));
  EXPECT_TRUE (wait_until (
      [&] { return http_get (relay.port, "/snapshot/a.jpg", auth).body == frames.back (); }));
  /* The secret is never printed. */
  EXPECT_EQ (relay.proc->output ().find ("board-token"), std::string::npos);
}

/* ---------------------------------------------------------------------------------------------- */
/* Secrets: shown only where they must be to work (--print-pipeline); masked in --check, the log
 * (camrelay's own lines and GStreamer's), errors, /status (a refused reload's message included),
 * /metrics and /view. */

namespace {

/* Every kind of credential a config holds: URL userinfo, credential-looking query values, the
 * viewer password, a camera's ingest secret. */
const char *const SECRETS[] = { "UiUser7", "UiPass7", "QsUser7", "QsPwd7", "QsToken7", "QsKey7",
  "ViewPw7", "IngestSecret7", "BadPass8", "BadPwd8" };

const char *const SECRET_CONFIG = "viewer-user = viewer\n"
                                  "viewer-password = ViewPw7\n"
                                  "[camera userinfo]\n"
                                  "source = http://UiUser7:UiPass7@127.0.0.1:9/mjpeg?user=QsUser7&"
                                  "pwd=QsPwd7&res=vga\n"
                                  "[camera token]\n"
                                  "source = http://127.0.0.1:9/snap.jpg?token=QsToken7\n"
                                  "[camera key]\n"
                                  "source = rtsp://127.0.0.1:9/live?key=QsKey7\n"
                                  "[camera pushed]\n"
                                  "secret = IngestSecret7\n";

/* The secrets found in @text, or "" if none is. */
std::string
secrets_in (const std::string & text)
{
  std::string found;
  for (const char *s : SECRETS) {
    if (text.find (s) != std::string::npos)
      found += std::string (found.empty () ? "" : ", ") + s;
  }
  return found;
}

std::string
viewer_auth ()
{
  g_autofree gchar *b64 = g_base64_encode (reinterpret_cast<const guchar *> ("viewer:ViewPw7"), 14);
  return std::string ("Authorization: Basic ") + b64 + "\r\n";
}

}  // namespace

TEST (Secrets, CheckOutputIsMaskedAndPrintedPipelinesCarryThem)
{
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  std::string conf = dir.write ("camrelay.conf", std::string ("[server]\n") + SECRET_CONFIG);
  RunResult check = run ({ program_path (), "--config", conf, "--check" }, 60000, {}, dir.path ());
  EXPECT_EQ (check.code, 0) << check.output;
  EXPECT_NE (check.output.find ("configuration OK"), std::string::npos) << check.output;
  EXPECT_EQ (secrets_in (check.output), "") << check.output;
  /* Still a useful check: the masked URLs and pipelines are there. */
  EXPECT_NE (check.output.find ("http://127.0.0.1:9/mjpeg?user=***&pwd=***&res=vga"),
      std::string::npos)
      << check.output;

  RunResult print =
      run ({ program_path (), "--config", conf, "--print-pipeline" }, 60000, {}, dir.path ());
  EXPECT_EQ (print.code, 0) << print.output;
  for (const char *s : { "UiUser7:UiPass7@", "pwd=QsPwd7", "token=QsToken7", "key=QsKey7",
           "ViewPw7", "IngestSecret7" })
    EXPECT_NE (print.output.find (s), std::string::npos) << s << " missing in\n" << print.output;
}

/* A printed line runs as it is, its secret included: the camera must present it. */
TEST (Secrets, PrintedPipelineRunsWithItsSecret)
{
  ASSERT_TRUE (installed ("gst-launch-1.0"));
  /* A free port for the printed line to listen on. */
  guint port = 0;
  {
    g_autoptr (GSocket) s =
        g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
    ASSERT_TRUE (g_socket_bind (s, any, TRUE, nullptr));
    g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, nullptr);
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  }
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  std::string conf = dir.write ("camrelay.conf",
      "[server]\naddress = 127.0.0.1\nport = " + std::to_string (port) +
          "\nviewer-user = viewer\nviewer-password = ViewPw7\n[camera pushed]\nsecret = "
          "IngestSecret7\n");
  RunResult print =
      run ({ program_path (), "--config", conf, "--print-pipeline" }, 60000, {}, dir.path ());
  ASSERT_EQ (print.code, 0) << print.output;
  std::string line = print.output.substr (0, print.output.find ('\n'));
  Env env = gst_child_env ();
  Process launch ({ "sh", "-c", line }, env, dir.path ());
  /* The ingest's server answers (404) before the sink has added the stream's routes. */
  ASSERT_TRUE (wait_until ([&] { return http_get (port, "/stream/pushed").status == 401; }, 20000))
      << launch.output ();
  EXPECT_EQ (http_get (port, "/snapshot/pushed.jpg").status, 401);
  /* 503 until the placeholder's first frame is through. */
  EXPECT_TRUE (wait_until ([&] {
    return http_get (port, "/snapshot/pushed.jpg", viewer_auth ()).status == 200;
  })) << launch.output ();
  WsClient wrong (port, "/ws/pushed?token=nope");
  EXPECT_EQ (wrong.status (), 401);
  WsClient right (port, "/ws/pushed?token=IngestSecret7");
  EXPECT_EQ (right.status (), 101);
}

TEST (Secrets, LogsPagesAndARefusedReloadAreMasked)
{
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  std::string header = "[server]\naddress = 127.0.0.1\n";
  std::string conf = dir.write ("camrelay.conf", header + SECRET_CONFIG);
  /* Everything GStreamer says at INFO and camrelay's own info and debug lines. */
  Camrelay proc ({ "--config", conf, "--port", "0" }, Env{ { "GST_DEBUG", "*:4" } }, dir.path ());
  ASSERT_TRUE (proc.started (60000)) << secrets_in (proc.output ());
  guint port = proc.port ();
  std::string auth = viewer_auth ();

  /* The pulled cameras fail (nothing listens on port 9) and say why; the pushed one connects. */
  auto status = [&] { return http_get (port, "/status", auth).text (); };
  EXPECT_TRUE (wait_until ([&] {
    Json j (status ());
    return str_member (j.camera ("userinfo"), "source_state") == "retrying" &&
        str_member (j.camera ("token"), "source_state") == "retrying";
  })) << status ();
  WsClient cam (port, "/ws/pushed?token=IngestSecret7");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (cam.send_binary (make_jpegs (1, BALL)[0]));

  std::string pages = status () + http_get (port, "/metrics", auth).text () +
      http_get (port, "/view", auth).text ();
  EXPECT_NE (pages.find ("http://127.0.0.1:9/mjpeg?user=***&pwd=***&res=vga"), std::string::npos)
      << pages;
  EXPECT_EQ (secrets_in (pages), "") << pages;

  /* A reload refused for a bad source URL: its message is in the open /status. */
  dir.write ("camrelay.conf",
      header + SECRET_CONFIG +
          "[camera bad]\nsource = http://user:BadPass8@cam:99999/?pwd=BadPwd8\n");
  proc.send_signal (SIGHUP);
  EXPECT_TRUE (wait_until ([&] {
    Json j (status ());
    return int_member (json_object_get_object_member (j.root (), "reloads"), "refused") == 1;
  })) << status ();
  std::string after = status ();
  EXPECT_NE (after.find ("[camera bad] source"), std::string::npos) << after;
  EXPECT_EQ (secrets_in (after), "") << after;

  EXPECT_EQ (proc.stop (SIGTERM, 20000), 0);
  std::string log = proc.output ();
  EXPECT_NE (log.find ("reload refused"), std::string::npos);
  std::string found = secrets_in (log);
  EXPECT_EQ (found, "");
  /* The lines that hold them, not the whole log. */
  if (!found.empty ()) {
    std::istringstream lines (log);
    std::string l;
    int shown = 0;
    while (std::getline (lines, l) && shown < 40) {
      if (!secrets_in (l).empty ()) {
        ADD_FAILURE () << l;
        shown++;
      }
    }
  }
}
