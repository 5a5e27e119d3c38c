/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Viewers people already own, against the real program: VLC, OpenCV, motion, Home Assistant's
 * MJPEG camera, Firefox and WebKitGTK (both in a real window under Xvfb). Each test watches a
 * camera whose picture changes colour and checks what the client shows or hands on. A test fails
 * where its client is not installed (never skips); tools/bootstrap --tests installs every one. The
 * small client scripts are in tests/e2e/clients/. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <regex>
#include <sstream>

using namespace crtest;

namespace {

const guint32 MAGENTA = 0xC82896;
const guint32 GREEN = 0x28B43C;
const char *const PYTHON = "/usr/bin/python3";

std::string
client_script (const char *name)
{
  return source_path (std::string ("tests/e2e/clients/") + name);
}

/* True if Debian's Python has @module (the clients' scripts need it). */
bool
python_has (const char *module)
{
  return run ({ PYTHON, "-c", std::string ("import ") + module }, 30000).code == 0;
}

/* The share of @rgb's pixels within @tolerance of @colour (as a decoder gives it back). */
double
share_of_colour (const Bytes & rgb, guint32 colour, int tolerance = 28)
{
  int r = (colour >> 16) & 0xff, g = (colour >> 8) & 0xff, b = colour & 0xff;
  gsize match = 0;
  for (gsize i = 0; i + 2 < rgb.size (); i += 3) {
    if (std::abs (rgb[i] - r) <= tolerance && std::abs (rgb[i + 1] - g) <= tolerance &&
        std::abs (rgb[i + 2] - b) <= tolerance)
      match++;
  }
  return rgb.empty () ? 0.0 : static_cast<double> (match) / (rgb.size () / 3);
}

/* The share of the picture in the image file @path that shows @colour; 0 if it cannot be read. */
double
file_share_of_colour (const std::string & path, guint32 colour)
{
  Bytes rgb;
  int w = 0, h = 0;
  if (!decode_rgb (path, rgb, &w, &h))
    return 0.0;
  return share_of_colour (rgb, colour);
}

Bytes
from_hex (const std::string & hex)
{
  Bytes out;
  for (gsize i = 0; i + 1 < hex.size (); i += 2)
    out.push_back (static_cast<guint8> (std::stoi (hex.substr (i, 2), nullptr, 16)));
  return out;
}

/* The value after "@key " on the line of @output that starts with it, or "". */
std::string
line_value (const std::string & output, const std::string & key)
{
  std::istringstream lines (output);
  std::string line;
  while (std::getline (lines, line)) {
    if (line.rfind (key + " ", 0) == 0)
      return line.substr (key.size () + 1);
  }
  return "";
}

/* An X server of the test's own (Xvfb) on a display number it picks itself. */
class VirtualDisplay
{
public:
  VirtualDisplay ()
    : xvfb_ ({ "Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp" })
  {
    std::regex number ("^([0-9]+)\\s*$", std::regex::multiline);
    wait_until (
        [&] {
          std::smatch m;
          std::string out = xvfb_.output ();
          if (std::regex_search (out, m, number))
            display_ = ":" + m[1].str ();
          return !display_.empty ();
        },
        15000);
  }
  const std::string & name () const { return display_; }
  /* A screenshot of the whole screen, saved as @png; false if none could be taken. */
  bool screenshot (const std::string & png) const
  {
    return run ({ PYTHON, client_script ("x11shot.py"), display_, png }, 30000).code == 0;
  }

private:
  Process xvfb_;
  std::string display_;
};

class ClientsTest : public ::testing::Test
{
protected:
  /* @server: more [server] keys; @auth: the Authorization header they call for. timeout = 2:
   * the placeholder follows a pause quickly. */
  void start_relay (const std::string & server = "", const std::string & auth = "")
  {
    ASSERT_TRUE (relay_.start (server + "[camera cam]\nmin-size = 0\ntimeout = 2\n"))
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

  /* The camera sends @colour at 5 fps from now on. */
  void show (guint32 colour)
  {
    sender_.reset ();
    sender_ =
        std::make_unique<Sender> (*camera_, std::vector<Bytes>{ make_solid_jpeg (colour) }, 5);
  }

  /* The camera stays connected and sends nothing. */
  void pause () { sender_.reset (); }

  std::string stream_url () const { return relay_.url ("/stream/cam"); }

  Relay relay_;
  std::unique_ptr<WsClient> camera_;
  std::unique_ptr<Sender> sender_;
};

/* The newest file in @dir (by name, which VLC and motion number in order), or "". */
std::string
newest_file (const std::string & dir, const char *suffix)
{
  std::vector<std::string> names;
  if (GDir *d = g_dir_open (dir.c_str (), 0, nullptr)) {
    while (const char *name = g_dir_read_name (d)) {
      if (g_str_has_suffix (name, suffix))
        names.emplace_back (name);
    }
    g_dir_close (d);
  }
  if (names.empty ())
    return "";
  return dir + "/" + *std::max_element (names.begin (), names.end ());
}

}  // namespace

/* VLC (cvlc, which refuses to run as root: as nobody then) plays the stream; its scene filter
 * saves the pictures it shows. The first ones show the camera, and when the camera's picture
 * changes, VLC's does too. */
TEST_F (ClientsTest, VlcPlaysTheStreamAndFollowsTheCamera)
{
  if (!installed ("cvlc"))
    FAIL () << "cvlc (Debian packages vlc-bin, vlc-plugin-base) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ();
  TempDir work;
  chmod (work.path ().c_str (), 0777);
  std::string scenes = work.path () + "/scenes";
  mkdir (scenes.c_str (), 0777);
  chmod (scenes.c_str (), 0777);
  std::vector<std::string> argv;
  if (geteuid () == 0)
    argv = { "runuser", "-u", "nobody", "--" };
  std::vector<std::string> vlc{ "env", "HOME=" + work.path (), "cvlc", "-I", "dummy", "--no-audio",
    "--vout=dummy", "--video-filter=scene", "--scene-format=png", "--scene-ratio=5",
    "--scene-prefix=shown", "--scene-path=" + scenes, stream_url () };
  argv.insert (argv.end (), vlc.begin (), vlc.end ());
  Process player (argv);

  std::string first;
  ASSERT_TRUE (wait_until (
      [&] {
        first = newest_file (scenes, ".png");
        return !first.empty () && file_share_of_colour (first, MAGENTA) > 0.9;
      },
      30000))
      << player.output ();
  show (GREEN);
  gint64 switched = g_get_monotonic_time ();
  EXPECT_TRUE (wait_until (
      [&] {
        std::string newest = newest_file (scenes, ".png");
        return file_share_of_colour (newest, GREEN) > 0.9;
      },
      15000))
      << player.output ();
  /* VLC buffers a little for network streams; the picture still follows within seconds. */
  EXPECT_LT ((g_get_monotonic_time () - switched) / 1000, 5000);
}

/* OpenCV's VideoCapture (FFmpeg backend), as Frigate and countless scripts read a camera: every
 * read is the camera's picture, at the camera's rate (not a burst of stale frames). */
TEST_F (ClientsTest, OpenCvReadsTheCameraAtItsRate)
{
  if (!python_has ("cv2"))
    FAIL () << "OpenCV for Debian's Python (python3-opencv) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ();
  RunResult r = run ({ PYTHON, client_script ("opencv_read.py"), stream_url (), "11" }, 60000);
  ASSERT_EQ (r.code, 0) << r.output;
  std::istringstream lines (r.output);
  std::string line;
  int frames = 0;
  double last_seconds = 0;
  while (std::getline (lines, line)) {
    int index, width, height, red, green, blue;
    double seconds;
    if (sscanf (line.c_str (), "frame %d %d %d %d %d %d %lf", &index, &width, &height, &red, &green,
            &blue, &seconds) != 7)
      continue;
    frames++;
    EXPECT_EQ (width, 640);
    EXPECT_EQ (height, 480);
    EXPECT_NEAR (red, 0xC8, 28) << line;
    EXPECT_NEAR (green, 0x28, 28) << line;
    EXPECT_NEAR (blue, 0x96, 28) << line;
    last_seconds = seconds;
  }
  EXPECT_EQ (frames, 11) << r.output;
  /* Ten frame intervals of a 5 fps camera: 2 s, neither a burst nor a stall. */
  EXPECT_GT (last_seconds, 1.4) << r.output;
  EXPECT_LT (last_seconds, 4.0) << r.output;
}

/* motion, configured with the stream as its network camera (netcam_url), saves the camera's
 * picture as its snapshots. */
TEST_F (ClientsTest, MotionUsesTheStreamAsItsNetworkCamera)
{
  if (!installed ("motion"))
    FAIL () << "motion (Debian package motion) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ();
  TempDir work;
  std::string out = work.path () + "/out";
  std::string conf = work.write ("motion.conf",
      "daemon off\nsetup_mode off\nlog_level 6\n"
      "target_dir " +
          out + "\nnetcam_url " + stream_url () +
          "\n"
          "width 640\nheight 480\nframerate 5\nsnapshot_interval 1\n"
          "snapshot_filename snap-%Y%m%d%H%M%S\npicture_output off\nmovie_output off\n"
          "webcontrol_port 0\nstream_port 0\n");
  Process watcher ({ "motion", "-n", "-c", conf });
  ASSERT_TRUE (
      wait_until ([&] { return file_share_of_colour (newest_file (out, ".jpg"), MAGENTA) > 0.9; },
          30000))
      << watcher.output ();
  show (GREEN);
  EXPECT_TRUE (
      wait_until ([&] { return file_share_of_colour (newest_file (out, ".jpg"), GREEN) > 0.9; },
          15000))
      << watcher.output ();
}

/* Home Assistant's MJPEG camera proxies the stream to its frontend, each read under a 10 s
 * timeout, with HTTP Basic credentials. A camera pause of longer than that must not end the
 * proxied stream: the placeholder keeps parts coming, and the live picture is back after it. */
TEST_F (ClientsTest, HomeAssistantProxyReadsThroughACameraPause)
{
  if (!python_has ("aiohttp"))
    FAIL () << "aiohttp for Debian's Python (python3-aiohttp) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ("viewer-user = ha\nviewer-password = hunter22\n",
      "Authorization: Basic aGE6aHVudGVyMjI=\r\n");
  RunResult refused =
      run ({ PYTHON, client_script ("homeassistant.py"), "proxy", stream_url (), "1" }, 30000);
  EXPECT_NE (refused.code, 0);
  EXPECT_NE (refused.output.find ("proxy 401"), std::string::npos) << refused.output;

  Process proxy ({ PYTHON, client_script ("homeassistant.py"), "proxy", stream_url (), "17", "ha",
      "hunter22" });
  g_usleep (2 * G_USEC_PER_SEC);
  pause ();
  g_usleep (12 * G_USEC_PER_SEC);
  show (MAGENTA);
  ASSERT_EQ (proxy.wait (30000), 0) << proxy.output ();
  std::string summary = line_value (proxy.output (), "proxy");
  int status = 0;
  long bytes = 0;
  double longest_gap = 99;
  ASSERT_EQ (sscanf (summary.c_str (), "%d %ld %lf", &status, &bytes, &longest_gap), 3)
      << proxy.output ();
  EXPECT_EQ (status, 200);
  /* The placeholder takes over 2 s (timeout) into the pause and comes once a second. */
  EXPECT_LT (longest_gap, 3.5) << proxy.output ();

  TempDir dir;
  std::string last = dir.write ("last.jpg", from_hex (line_value (proxy.output (), "last")));
  EXPECT_GT (file_share_of_colour (last, MAGENTA), 0.9) << "the live picture is back";
}

/* Without a still-image URL, Home Assistant takes a camera's picture from its stream: the bytes
 * from the first FF D8 to the first FF D9. That must be one whole, decodable frame. */
TEST_F (ClientsTest, HomeAssistantStillImageIsAWholeFrame)
{
  if (!python_has ("aiohttp"))
    FAIL () << "aiohttp for Debian's Python (python3-aiohttp) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ("viewer-user = ha\nviewer-password = hunter22\n",
      "Authorization: Basic aGE6aHVudGVyMjI=\r\n");
  RunResult r =
      run ({ PYTHON, client_script ("homeassistant.py"), "still", stream_url (), "ha", "hunter22" },
          30000);
  ASSERT_EQ (r.code, 0) << r.output;
  TempDir dir;
  std::string still = dir.write ("still.jpg", from_hex (line_value (r.output, "still")));
  EXPECT_GT (file_share_of_colour (still, MAGENTA), 0.9);
}

/* Firefox in a real window (headless Firefox cannot screenshot an endless image) shows the
 * stream, and a new picture from the camera shows at once. */
TEST_F (ClientsTest, FirefoxShowsEachNewPicture)
{
  if (!installed ("firefox-esr") || !installed ("Xvfb"))
    FAIL () << "firefox-esr and Xvfb (Debian packages firefox-esr, xvfb) are needed"
               " (tools/bootstrap --tests installs them)";
  if (!python_has ("PIL.ImageGrab"))
    FAIL () << "Pillow for Debian's Python (python3-pil) is not installed"
               " (tools/bootstrap --tests installs it)";
  start_relay ();
  VirtualDisplay display;
  ASSERT_FALSE (display.name ().empty ());
  TempDir profile;
  Process browser ({ "firefox-esr", "--no-remote", "--new-instance", "--profile", profile.path (),
                       "--kiosk", stream_url () },
      { { "DISPLAY", display.name () }, { "HOME", profile.path () } });
  std::string shot = profile.file ("screen.png");
  ASSERT_TRUE (wait_until (
      [&] { return display.screenshot (shot) && file_share_of_colour (shot, MAGENTA) > 0.2; },
      60000))
      << browser.output ();
  show (GREEN);
  gint64 switched = g_get_monotonic_time ();
  /* The lag is counted to the start of the screenshot that saw the new picture: a screenshot
   * takes a few hundred ms itself (more on a loaded machine), which is not the browser's. A
   * browser one frame behind would still pass, so this bounds only gross lag. */
  gint64 seen = 0;
  ASSERT_TRUE (wait_until (
      [&] {
        gint64 taken = g_get_monotonic_time ();
        if (!display.screenshot (shot) || file_share_of_colour (shot, GREEN) <= 0.2)
          return false;
        seen = taken;
        return true;
      },
      10000))
      << browser.output ();
  EXPECT_LT ((seen - switched) / 1000, 2000);
}

/* WebKitGTK (Safari's engine family, GNOME Web) in a real window shows the stream, and the new
 * picture after the camera changes it. */
TEST_F (ClientsTest, WebKitShowsEachNewPicture)
{
  if (!installed ("Xvfb"))
    FAIL () << "Xvfb (Debian package xvfb) is not installed"
               " (tools/bootstrap --tests installs it)";
  if (run ({ PYTHON, "-c",
               "import gi; gi.require_version('WebKit2', '4.1'); "
               "from gi.repository import WebKit2; import cairo" },
          30000)
          .code != 0)
    FAIL () << "WebKitGTK for Python (gir1.2-webkit2-4.1, python3-gi-cairo) is needed"
               " (tools/bootstrap --tests installs them)";
  start_relay ();
  VirtualDisplay display;
  ASSERT_FALSE (display.name ().empty ());
  TempDir dir;
  std::string out = dir.file ("page");
  Process view ({ PYTHON, client_script ("webkit_view.py"), stream_url (), out, "250", "240" },
      { { "DISPLAY", display.name () }, { "HOME", dir.path () } });
  /* The newest snapshot shows @colour; snapshots come every 250 ms while the page is up. */
  int seen = -1;
  auto newest_shows = [&] (guint32 colour) {
    std::string output = view.output ();
    int newest = -1;
    for (gsize at = output.find ("snapshot "); at != std::string::npos;
         at = output.find ("snapshot ", at + 1))
      newest = std::max (newest, atoi (output.c_str () + at + 9));
    if (newest <= seen)
      return false;
    seen = newest;
    return file_share_of_colour (out + "-" + std::to_string (newest) + ".png", colour) > 0.3;
  };
  ASSERT_TRUE (wait_until ([&] { return newest_shows (MAGENTA); }, 40000)) << view.output ();
  show (GREEN);
  gint64 switched = g_get_monotonic_time ();
  ASSERT_TRUE (wait_until ([&] { return newest_shows (GREEN); }, 10000)) << view.output ();
  EXPECT_LT ((g_get_monotonic_time () - switched) / 1000, 2000);
}
