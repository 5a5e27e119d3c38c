/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* H.264 over RTSP against the real program, read by the clients people use: ffprobe and ffmpeg
 * (Frigate's `ffmpeg -rtsp_transport tcp -i ...`) and PyAV (Home Assistant's stream component).
 * Not VLC: Debian's VLC has no live555, and its satip module, the only one that takes rtsp://,
 * speaks SAT>IP (SETUP without DESCRIBE, PLAY on /stream=N), not RTSP. The camera sends a solid
 * colour at 10 fps, so every client's picture can be checked. A test fails where its client is not
 * installed (never skips); tools/bootstrap --tests installs every one. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>

using namespace crtest;

namespace {

const guint32 MAGENTA = 0xC82896;
const char *const PYTHON = "/usr/bin/python3";

/* One decoded frame as pyav_read.py prints it. */
struct Seen
{
  int width = 0, height = 0;
  int rgb[3] = { 0, 0, 0 };
  double seconds = 0;
};

std::vector<Seen>
parse_frames (const std::string & output)
{
  std::vector<Seen> frames;
  std::istringstream lines (output);
  std::string line;
  while (std::getline (lines, line)) {
    Seen s;
    int index;
    if (sscanf (line.c_str (), "frame %d %d %d %d %d %d %lf", &index, &s.width, &s.height,
            &s.rgb[0], &s.rgb[1], &s.rgb[2], &s.seconds) == 7)
      frames.push_back (s);
  }
  return frames;
}

bool
near_colour (const int rgb[3], guint32 colour, int tolerance = 24)
{
  int want[3] = { static_cast<int> ((colour >> 16) & 0xff), static_cast<int> ((colour >> 8) & 0xff),
    static_cast<int> (colour & 0xff) };
  for (int i = 0; i < 3; i++) {
    if (std::abs (rgb[i] - want[i]) > tolerance)
      return false;
  }
  return true;
}

/* The mean colour of the middle of the placeholder picture, as pyav_read.py measures it. */
guint32
placeholder_colour ()
{
  Bytes rgb;
  int w = 0, h = 0;
  if (!decode_rgb (source_path ("placeholder.jpg"), rgb, &w, &h))
    return 0;
  double sum[3] = { 0, 0, 0 };
  gsize n = 0;
  for (int y = h / 4; y < 3 * h / 4; y++) {
    for (int x = w / 4; x < 3 * w / 4; x++) {
      for (int c = 0; c < 3; c++)
        sum[c] += rgb[(static_cast<gsize> (y) * w + x) * 3 + c];
      n++;
    }
  }
  return (static_cast<guint32> (sum[0] / n) << 16) | (static_cast<guint32> (sum[1] / n) << 8) |
      static_cast<guint32> (sum[2] / n);
}

/* The value of "KEY=" on a line of ffprobe's default output, or "". */
std::string
probe_value (const std::string & output, const std::string & key)
{
  std::istringstream lines (output);
  std::string line;
  while (std::getline (lines, line)) {
    if (line.rfind (key + "=", 0) == 0)
      return line.substr (key.size () + 1);
  }
  return "";
}

class RtspTest : public ::testing::Test
{
protected:
  /* @server: more [server] keys. timeout = 2: the placeholder follows a pause quickly. */
  void start_relay (const std::string & server = "", const std::string & auth = "")
  {
    rtsp_port_ = free_port ();
    ASSERT_TRUE (relay_.start ("rtsp-port = " + std::to_string (rtsp_port_) + "\n" + server +
        "[camera cam]\nmin-size = 0\ntimeout = 2\n"))
        << (relay_.proc ? relay_.proc->output () : "");
    camera_ = std::make_unique<WsClient> (relay_.port, "/ws/cam");
    ASSERT_EQ (camera_->status (), 101);
    show (MAGENTA);
    ASSERT_TRUE (wait_until (
        [this, &auth] {
          Json j (http_get (relay_.port, "/status", auth).text ());
          return str_member (j.camera ("cam"), "state") == "live";
        },
        10000));
  }

  /* The camera sends @colour at 10 fps from now on. */
  void show (guint32 colour)
  {
    sender_.reset ();
    sender_ =
        std::make_unique<Sender> (*camera_, std::vector<Bytes>{ make_solid_jpeg (colour) }, 10);
  }

  /* The camera stays connected and sends nothing. */
  void pause () { sender_.reset (); }

  std::string url (const std::string & userinfo = "") const
  {
    return "rtsp://" + (userinfo.empty () ? "" : userinfo + "@") +
        "127.0.0.1:" + std::to_string (rtsp_port_) + "/cam";
  }

  /* A field of the camera's "h264" in /status; -1 if missing. */
  gint64 h264 (const char *field, const char *inner = nullptr, const std::string & auth = "")
  {
    Json j (http_get (relay_.port, "/status", auth).text ());
    JsonObject *cam = j.camera ("cam");
    if (!cam || !json_object_has_member (cam, "h264") || json_object_get_null_member (cam, "h264"))
      return -1;
    JsonObject *h = json_object_get_object_member (cam, "h264");
    if (inner) {
      if (!json_object_has_member (h, field))
        return -1;
      h = json_object_get_object_member (h, field);
      field = inner;
    }
    if (!json_object_has_member (h, field))
      return -1;
    JsonNode *n = json_object_get_member (h, field);
    if (json_node_get_value_type (n) == G_TYPE_BOOLEAN)
      return json_node_get_boolean (n);
    return json_node_get_int (n);
  }

  guint rtsp_port_ = 0;
  Relay relay_;
  std::unique_ptr<WsClient> camera_;
  std::unique_ptr<Sender> sender_;
};

void
require (const char *program, const char *packages)
{
  if (!installed (program))
    FAIL () << program << " (Debian " << packages << ") is not installed"
            << " (tools/bootstrap --tests installs it)";
}

TEST_F (RtspTest, FfprobeSeesH264AtTheCameraSizeAndRate)
{
  require ("ffprobe", "ffmpeg");
  start_relay ();
  RunResult r = run ({ "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                         "stream=codec_name,profile,width,height,r_frame_rate,pix_fmt", "-of",
                         "default=noprint_wrappers=1", url () },
      30000);
  ASSERT_EQ (r.code, 0) << r.output;
  EXPECT_EQ (probe_value (r.output, "codec_name"), "h264") << r.output;
  EXPECT_EQ (probe_value (r.output, "profile"), "Constrained Baseline") << r.output;
  EXPECT_EQ (probe_value (r.output, "width"), "640") << r.output;
  EXPECT_EQ (probe_value (r.output, "height"), "480") << r.output;
  EXPECT_EQ (probe_value (r.output, "pix_fmt"), "yuv420p") << r.output;
  EXPECT_EQ (probe_value (r.output, "r_frame_rate"), "10/1") << r.output;
}

/* Frigate's way (`ffmpeg -rtsp_transport tcp -i ...`) and the UDP default: ten seconds of
 * stream, every frame there, not one error. The packets are hashed as they come (-c copy):
 * decoding them into ffmpeg's constant-rate output would make it complain about the camera's own
 * timing jitter (two frames within one 1/10 s tick), which is the camera's, not an error of the
 * stream; PyAV decodes below. */
class RtspTransportTest : public RtspTest, public ::testing::WithParamInterface<const char *>
{};

TEST_P (RtspTransportTest, FfmpegReadsTenSecondsWithoutErrors)
{
  require ("ffmpeg", "ffmpeg");
  start_relay ();
  RunResult r = run ({ "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", GetParam (), "-i",
                         url (), "-t", "10", "-c", "copy", "-f", "framemd5", "-" },
      60000);
  ASSERT_EQ (r.code, 0) << r.output;
  int frames = 0;
  std::istringstream lines (r.output);
  std::string line;
  while (std::getline (lines, line)) {
    if (line.empty () || line[0] == '#')
      continue;
    if (line[0] >= '0' && line[0] <= '9') {
      frames++;
      continue;
    }
    ADD_FAILURE () << "ffmpeg said: " << line;
  }
  /* 10 s at 10 fps. */
  EXPECT_GE (frames, 95) << r.output;
  EXPECT_LE (frames, 102) << r.output;
}

INSTANTIATE_TEST_SUITE_P (Transports, RtspTransportTest, ::testing::Values ("tcp", "udp"));

TEST_F (RtspTest, PyAvDecodesTheCameraPicture)
{
  if (run ({ PYTHON, "-c", "import av, numpy" }, 30000).code != 0)
    FAIL () << "PyAV for Debian's Python (python3-av) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ();
  RunResult r =
      run ({ PYTHON, source_path ("tests/e2e/clients/pyav_read.py"), url (), "tcp", "30", "60" },
          60000);
  ASSERT_EQ (r.code, 0) << r.output;
  std::vector<Seen> frames = parse_frames (r.output);
  ASSERT_EQ (frames.size (), 60u) << r.output;
  for (const Seen & s : frames) {
    EXPECT_EQ (s.width, 640);
    EXPECT_EQ (s.height, 480);
    EXPECT_TRUE (near_colour (s.rgb, MAGENTA))
        << s.rgb[0] << " " << s.rgb[1] << " " << s.rgb[2] << "\n"
        << r.output;
  }
  /* Once libavformat's probing (about three seconds of stream, handed over at once) is past,
   * frames come at the camera's rate: the last 20 span 19 intervals of 0.1 s. */
  double span = frames[59].seconds - frames[40].seconds;
  EXPECT_GT (span, 1.4) << r.output;
  EXPECT_LT (span, 2.6) << r.output;
}

TEST_F (RtspTest, ViewerCredentialsAreAskedAndAWrongPasswordIsRefused)
{
  require ("ffprobe", "ffmpeg");
  std::string auth = "Authorization: Basic " + std::string ("dmlld2VyOnMzY3JldA==") + "\r\n";
  start_relay ("viewer-user = viewer\nviewer-password = s3cret\n", auth);
  for (const std::string userinfo : { "", "viewer:wrong", "other:s3cret" }) {
    RunResult r =
        run ({ "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                 "stream=codec_name", "-of", "default=noprint_wrappers=1", url (userinfo) },
            30000);
    EXPECT_NE (r.code, 0) << userinfo << ": " << r.output;
    EXPECT_NE (r.output.find ("401"), std::string::npos) << userinfo << ": " << r.output;
    EXPECT_EQ (probe_value (r.output, "codec_name"), "") << userinfo << ": " << r.output;
  }
  RunResult ok =
      run ({ "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
               "stream=codec_name", "-of", "default=noprint_wrappers=1", url ("viewer:s3cret") },
          30000);
  ASSERT_EQ (ok.code, 0) << ok.output;
  EXPECT_EQ (probe_value (ok.output, "codec_name"), "h264") << ok.output;
}

/* The camera stops: RTSP viewers see the placeholder, repeated at placeholder-fps as MJPEG viewers
 * get it (a stream that stalls looks dead to ffmpeg and Frigate), though nobody watches the MJPEG
 * stream: an MJPEG viewer came and went (mjpeghttpsink then tells jpegfallback "nobody watches"),
 * and the RTSP viewer must still count. */
TEST_F (RtspTest, PlaceholderAppearsAndRepeatsWhenTheCameraStops)
{
  if (run ({ PYTHON, "-c", "import av, numpy" }, 30000).code != 0)
    FAIL () << "PyAV for Debian's Python (python3-av) is not installed";
  const guint32 offline = placeholder_colour ();
  const int offline_rgb[3] = { int (offline >> 16), int ((offline >> 8) & 0xff),
    int (offline & 0xff) };
  ASSERT_FALSE (near_colour (offline_rgb, MAGENTA));
  start_relay ();
  Process reader ({ PYTHON, source_path ("tests/e2e/clients/pyav_read.py"), url (), "tcp", "40" });
  ASSERT_TRUE (wait_until ([&] { return parse_frames (reader.output ()).size () >= 10; }, 30000))
      << reader.output ();
  EXPECT_TRUE (near_colour (parse_frames (reader.output ()).back ().rgb, MAGENTA))
      << reader.output ();
  {
    MjpegReader mjpeg (relay_.port, "/stream/cam");
    Bytes part;
    ASSERT_TRUE (mjpeg.next_part (part));
  }
  ASSERT_TRUE (wait_until ([&] { return camera_int (relay_, "cam", "viewers") == 0; }, 10000));
  pause ();
  auto placeholders = [&] {
    int n = 0;
    for (const Seen & f : parse_frames (reader.output ()))
      n += near_colour (f.rgb, offline);
    return n;
  };
  EXPECT_TRUE (wait_until ([&] { return placeholders () >= 1; }, 20000)) << reader.output ();
  /* placeholder-fps is 1: four more within six seconds. */
  EXPECT_TRUE (wait_until ([&] { return placeholders () >= 5; }, 6000))
      << "the placeholder did not repeat\n"
      << reader.output ();
  show (MAGENTA);
  EXPECT_TRUE (wait_until (
      [&] {
        auto frames = parse_frames (reader.output ());
        return !frames.empty () && near_colour (frames.back ().rgb, MAGENTA);
      },
      20000))
      << reader.output ();
}

/* Twenty RTSP viewers of one camera cost one encoder: one consumer, started once. When they
 * leave, the encoder stops after its linger. */
TEST_F (RtspTest, TwentyViewersShareOneEncoder)
{
  require ("ffmpeg", "ffmpeg");
  start_relay ();
  EXPECT_EQ (h264 ("encoder_running"), 0) << relay_.status_text ();
  std::vector<std::unique_ptr<Process>> viewers;
  for (int i = 0; i < 20; i++)
    viewers.push_back (std::make_unique<Process> (
        std::vector<std::string>{ "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport",
            i % 2 ? "udp" : "tcp", "-i", url (), "-c", "copy", "-f", "null", "-" }));
  ASSERT_TRUE (wait_until ([&] { return h264 ("rtsp_viewers") == 20; }, 60000))
      << relay_.status_text ();
  EXPECT_EQ (h264 ("consumers", "rtsp"), 1) << relay_.status_text ();
  EXPECT_EQ (h264 ("encoder_starts"), 1) << relay_.status_text ();
  EXPECT_EQ (h264 ("encoder_running"), 1) << relay_.status_text ();
  gint64 encoded = h264 ("frames_encoded");
  g_usleep (2 * G_USEC_PER_SEC);
  /* One encode per camera frame (10 fps), not one per viewer. */
  gint64 per_second = (h264 ("frames_encoded") - encoded) / 2;
  EXPECT_GE (per_second, 7) << relay_.status_text ();
  EXPECT_LE (per_second, 13) << relay_.status_text ();
  for (auto & v : viewers)
    EXPECT_TRUE (v->running ()) << v->output ();
  viewers.clear ();
  EXPECT_TRUE (wait_until ([&] { return h264 ("rtsp_viewers") == 0; }, 30000))
      << relay_.status_text ();
  EXPECT_TRUE (wait_until ([&] { return h264 ("encoder_running") == 0; }, 40000))
      << relay_.status_text ();
}

}  // namespace
