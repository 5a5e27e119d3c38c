/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The README's gst-launch-1.0 line, end to end: a real gst-launch-1.0 process on 127.0.0.1, cameras
 * sending real JPEGs over WebSocket, viewers reading MJPEG over HTTP (ours, and GStreamer's own
 * souphttpsrc ! multipartdemux, and Debian's python3-websockets as a camera); and the same line
 * with TLS and viewer credentials set on the elements (python3-websockets over wss://, curl over
 * https://). */
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"

#include <gtest/gtest.h>
#include <glib/gstdio.h>
#include <signal.h>

#include <algorithm>
#include <thread>

namespace {

using crtest::Bytes;
using crtest::MjpegReader;
using crtest::Process;
using crtest::WsClient;

/* Live frames are 320x240; the placeholder is 640x480, so a part tells which side it came from. */
bool
is_placeholder (const Bytes & part)
{
  int w = 0, h = 0;
  return crtest::jpeg_dimensions (part, &w, &h) && w == 640 && h == 480;
}

class LaunchLine : public ::testing::Test
{
protected:
  void SetUp () override
  {
    frames = crtest::make_jpegs (40, { 320, 240, 85 });
    for (const auto & f : frames)
      ASSERT_GT (f.size (), 5000u) << "test frames must pass the legacy size rule";
    port = crtest::free_port ();
    std::string p = std::to_string (port);
    std::string placeholder = crtest::source_path ("placeholder.jpg");
    /* The README line, on a free port, with a one-second timeout so the test stays short. */
    launch =
        std::make_unique<Process> (std::vector<std::string>{ "gst-launch-1.0", "-e", "wsjpegsrc",
                                       "address=127.0.0.1", "port=" + p, "!", "jpegvalidate", "!",
                                       "jpegfallback", "placeholder=" + placeholder,
                                       "timeout=1000000000", "!", "multipartmux", "!",
                                       "mjpeghttpsink", "address=127.0.0.1", "port=" + p },
            crtest::gst_child_env ());
    ASSERT_TRUE (launch->wait_for_output ("Setting pipeline to PLAYING", 10000))
        << launch->output ();
  }

  void TearDown () override
  {
    if (launch && launch->running ())
      EXPECT_EQ (launch->stop (SIGINT, 5000), 0) << launch->output ();
  }

  /* Reads parts until one satisfies @pred; false on timeout. */
  template<typename Pred> bool read_until (MjpegReader & v, Pred pred, int ms)
  {
    gint64 end = g_get_monotonic_time () + ms * 1000LL;
    Bytes part;
    while (g_get_monotonic_time () < end) {
      if (!v.next_part (part, 500))
        continue;
      if (pred (part))
        return true;
    }
    return false;
  }

  int index_of (const Bytes & part)
  {
    auto it = std::find (frames.begin (), frames.end (), part);
    return it == frames.end () ? -1 : static_cast<int> (it - frames.begin ());
  }

  std::vector<Bytes> frames;
  guint port = 0;
  std::unique_ptr<Process> launch;
};

TEST_F (LaunchLine, PlaceholderThenLiveFramesThenPlaceholderAgainThenLive)
{
  MjpegReader viewer (port);
  ASSERT_EQ (viewer.status (), 200);
  Bytes part;
  ASSERT_TRUE (viewer.next_part (part, 5000)) << launch->output ();
  EXPECT_TRUE (is_placeholder (part)) << "first part is not the placeholder";

  /* Like the legacy firmware: connect to /, greet, then frames back to back. */
  WsClient cam (port, "/");
  ASSERT_EQ (cam.status (), 101);
  cam.send_text ("hello from ESP32 camera stream!");
  std::thread sender ([&] {
    for (int i = 0; i < 20; i++) {
      cam.send_binary (frames[i]);
      g_usleep (30000);
    }
  });

  /* Every live part is byte-identical to a sent frame, in order; no placeholder in between. */
  std::vector<int> seen;
  bool placeholder_after_live = false;
  while (seen.empty () || seen.back () < 19) {
    if (!viewer.next_part (part, 3000))
      break;
    int index = index_of (part);
    if (index < 0) {
      ASSERT_TRUE (is_placeholder (part))
          << "a part that is neither a sent frame nor the placeholder";
      if (!seen.empty ())
        placeholder_after_live = true;
      continue;
    }
    if (!seen.empty ())
      EXPECT_GT (index, seen.back ()) << "out of order";
    seen.push_back (index);
  }
  sender.join ();
  EXPECT_FALSE (placeholder_after_live) << "placeholder flashed in a healthy stream";
  ASSERT_FALSE (seen.empty ());
  EXPECT_EQ (seen.back (), 19);
  EXPECT_GE (seen.size (), 18u) << "a viewer reading at full speed lost frames";

  /* The camera stays connected but silent: placeholder after the 1 s timeout. */
  gint64 silent_since = g_get_monotonic_time ();
  ASSERT_TRUE (read_until (viewer, is_placeholder, 4000));
  gint64 waited_ms = (g_get_monotonic_time () - silent_since) / 1000;
  EXPECT_GE (waited_ms, 900);

  /* And live again on the next frame. */
  cam.send_binary (frames[25]);
  ASSERT_TRUE (read_until (
      viewer, [&] (const Bytes & p) { return p == frames[25]; }, 3000));
}

TEST_F (LaunchLine, InvalidFramesNeverReachViewers)
{
  MjpegReader viewer (port);
  WsClient cam (port, "/ws");
  ASSERT_EQ (cam.status (), 101);
  Bytes truncated (frames[0].begin (), frames[0].begin () + frames[0].size () / 2);
  Bytes tiny (frames[1].begin (), frames[1].begin () + 4000);
  Bytes noise (20000, 0x5a);
  cam.send_binary (truncated);
  cam.send_binary (tiny);
  cam.send_binary (noise);
  cam.send_binary (frames[2]);
  /* The only non-placeholder part must be the valid frame, whole. */
  Bytes part;
  bool got_valid = false;
  gint64 end = g_get_monotonic_time () + 4000000;
  while (!got_valid && g_get_monotonic_time () < end) {
    if (!viewer.next_part (part, 500))
      continue;
    if (is_placeholder (part))
      continue;
    ASSERT_EQ (part, frames[2]);
    got_valid = true;
  }
  EXPECT_TRUE (got_valid);
}

TEST_F (LaunchLine, GStreamerAndFfmpegReadTheStream)
{
  g_autofree gchar *dir = g_dir_make_tmp ("camrelay-e2e-XXXXXX", nullptr);
  std::string url = "http://127.0.0.1:" + std::to_string (port) + "/";
  std::string pattern = std::string (dir) + "/part-%05d.jpg";
  Process reader ({ "gst-launch-1.0", "-q", "souphttpsrc", "location=" + url, "is-live=true", "!",
      "multipartdemux", "!", "image/jpeg", "!", "multifilesink", "location=" + pattern });
  std::string ffout = std::string (dir) + "/ff-%05d.jpg";
  Process ff ({ "ffmpeg", "-nostdin", "-loglevel", "error", "-f", "mpjpeg", "-i", url, "-c", "copy",
      "-f", "image2", ffout });

  /* Both readers are connected once each has written its first part (the placeholder). */
  auto has_file = [&] (const char *prefix) {
    g_autoptr (GDir) d = g_dir_open (dir, 0, nullptr);
    while (const gchar *name = g_dir_read_name (d))
      if (g_str_has_prefix (name, prefix))
        return true;
    return false;
  };
  for (int i = 0; i < 300 && !(has_file ("part-") && has_file ("ff-")); i++)
    g_usleep (50000);
  ASSERT_TRUE (has_file ("part-")) << reader.output ();
  ASSERT_TRUE (has_file ("ff-")) << ff.output ();

  WsClient cam (port, "/");
  ASSERT_EQ (cam.status (), 101);
  for (int i = 0; i < 10; i++) {
    cam.send_binary (frames[i]);
    g_usleep (50000);
  }
  g_usleep (500000);
  reader.stop (SIGINT, 3000);
  ff.stop (SIGINT, 3000);

  auto live_files = [&] (const char *prefix) {
    std::vector<int> indices;
    g_autoptr (GDir) d = g_dir_open (dir, 0, nullptr);
    std::vector<std::string> names;
    while (const gchar *name = g_dir_read_name (d))
      if (g_str_has_prefix (name, prefix))
        names.push_back (name);
    std::sort (names.begin (), names.end ());
    for (const auto & name : names) {
      g_autofree gchar *path = g_build_filename (dir, name.c_str (), nullptr);
      gchar *data;
      gsize len;
      if (!g_file_get_contents (path, &data, &len, nullptr))
        continue;
      Bytes b (data, data + len);
      g_free (data);
      g_unlink (path);
      int idx = index_of (b);
      if (idx >= 0)
        indices.push_back (idx);
      else
        EXPECT_TRUE (is_placeholder (b)) << prefix << name << " is neither live nor placeholder";
    }
    return indices;
  };
  auto gst_seen = live_files ("part-");
  auto ff_seen = live_files ("ff-");
  g_rmdir (dir);

  for (auto *seen : { &gst_seen, &ff_seen }) {
    ASSERT_FALSE (seen->empty ());
    EXPECT_TRUE (std::is_sorted (seen->begin (), seen->end ()));
    EXPECT_EQ (seen->back (), 9);
    EXPECT_GE (seen->size (), 9u);
  }
}

TEST_F (LaunchLine, PythonWebsocketsCameraIsRelayed)
{
  /* Debian's python3-websockets: a client nobody here wrote, sending like the ESP32 firmware. */
  crtest::TempDir dir;
  std::string a = dir.write ("a.jpg", frames[3]);
  std::string b = dir.write ("b.jpg", frames[4]);
  MjpegReader viewer (port);
  std::string script = "import asyncio, sys, websockets\n"
                       "async def main():\n"
                       "    async with websockets.connect(sys.argv[1]) as ws:\n"
                       "        await ws.send('hello from ESP32 camera stream!')\n"
                       "        for path in sys.argv[2:]:\n"
                       "            await ws.send(open(path, 'rb').read())\n"
                       "            await asyncio.sleep(0.2)\n"
                       "asyncio.run(main())\n";
  Process cam (
      { "/usr/bin/python3", "-c", script, "ws://127.0.0.1:" + std::to_string (port) + "/", a, b });
  EXPECT_EQ (cam.wait (10000), 0) << cam.output ();
  std::vector<int> seen;
  Bytes part;
  while (seen.size () < 2 && viewer.next_part (part, 3000)) {
    if (!is_placeholder (part))
      seen.push_back (index_of (part));
  }
  EXPECT_EQ (seen, std::vector<int> ({ 3, 4 }));
}

TEST_F (LaunchLine, InterruptEndsViewersAndCamerasCleanly)
{
  MjpegReader viewer (port, "/?content-length=1");
  WsClient cam (port, "/");
  ASSERT_EQ (cam.status (), 101);
  cam.send_binary (frames[0]);
  Bytes part;
  ASSERT_TRUE (read_until (
      viewer, [&] (const Bytes & p) { return p == frames[0]; }, 3000));
  EXPECT_EQ (launch->stop (SIGINT, 5000), 0) << launch->output ();
  EXPECT_EQ (cam.wait_close (nullptr, 3000), 1001);
  while (viewer.next_part (part, 2000)) {
  }
  EXPECT_TRUE (viewer.ended ()) << "response not ended with the closing delimiter";
}

bool
contains (const Bytes & haystack, const Bytes & needle, gsize from = 0, gsize *at = nullptr)
{
  if (from > haystack.size ())
    return false;
  auto it = std::search (haystack.begin () + from, haystack.end (), needle.begin (), needle.end ());
  if (at)
    *at = it - haystack.begin ();
  return it != haystack.end ();
}

/* What the program does with its [server] keys, a gst-launch user does with element properties. */
TEST (LaunchLineTls, WssCameraAndHttpsViewerWithCredentials)
{
  ASSERT_TRUE (crtest::installed ("openssl"));
  ASSERT_TRUE (crtest::installed ("curl"));
  crtest::TempDir dir;
  std::string cert = dir.file ("cert.pem"), key = dir.file ("key.pem");
  Process openssl ({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert });
  ASSERT_EQ (openssl.wait (30000), 0) << openssl.output ();

  auto frames = crtest::make_jpegs (5, { 320, 240, 85 });
  for (const auto & f : frames)
    ASSERT_GT (f.size (), 5000u) << "test frames must pass the legacy size rule";
  guint port = crtest::free_port ();
  std::string p = std::to_string (port);
  /* The server settings of one address and port, on every element that listens there. */
  std::string tls[] = { "tls-certificate=" + cert, "tls-key=" + key, "viewer-user=u",
    "viewer-password=p" };
  Process launch (std::vector<std::string>{ "gst-launch-1.0", "-e", "wsjpegsrc",
                      "address=127.0.0.1", "port=" + p, tls[0], tls[1], tls[2], tls[3], "!",
                      "jpegvalidate", "!", "jpegfallback",
                      "placeholder=" + crtest::source_path ("placeholder.jpg"),
                      "timeout=1000000000", "!", "multipartmux", "!", "mjpeghttpsink",
                      "address=127.0.0.1", "port=" + p, tls[0], tls[1], tls[2], tls[3] },
      crtest::gst_child_env ());
  ASSERT_TRUE (launch.wait_for_output ("Setting pipeline to PLAYING", 10000)) << launch.output ();
  std::string url = "https://127.0.0.1:" + p + "/";

  auto status = [&] (const std::vector<std::string> & extra, const std::string & target) {
    std::vector<std::string> argv{ "curl", "-k", "-s", "-o", "/dev/null", "-w", "%{http_code}",
      "--max-time", "5" };
    argv.insert (argv.end (), extra.begin (), extra.end ());
    argv.push_back (target);
    return crtest::run (argv, 10000).output;
  };
  EXPECT_EQ (status ({}, url), "401");
  EXPECT_EQ (status ({ "-u", "u:wrong" }, url), "401");
  EXPECT_NE (status ({}, "http://127.0.0.1:" + p + "/"), "200") << "plain http on the TLS port";

  /* A viewer with the credentials; it has connected once a whole part (the placeholder) has
   * arrived, which the next part's headers show (curl gets parts with Content-Length). */
  std::string headers = dir.file ("headers.txt"), body = dir.file ("body.mjpeg");
  Process viewer ({ "curl", "-k", "-s", "-N", "-u", "u:p", "--max-time", "30", "-D", headers, "-o",
      body, url });
  std::string part_head = "Content-Type: image/jpeg\r\n";
  Bytes head_bytes (part_head.begin (), part_head.end ());
  auto one_part = [&] {
    gsize at = 0;
    Bytes got = crtest::read_file (body);
    return contains (got, head_bytes, 0, &at) && contains (got, head_bytes, at + 1);
  };
  for (int i = 0; i < 200 && !one_part (); i++)
    g_usleep (50000);
  ASSERT_TRUE (one_part ()) << viewer.output ();

  std::string a = dir.write ("a.jpg", frames[3]);
  std::string b = dir.write ("b.jpg", frames[4]);
  std::string script = "import asyncio, ssl, sys, websockets\n"
                       "async def main():\n"
                       "    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
                       "    ctx.check_hostname = False\n"
                       "    ctx.verify_mode = ssl.CERT_NONE\n"
                       "    async with websockets.connect(sys.argv[1], ssl=ctx) as ws:\n"
                       "        await ws.send('hello from ESP32 camera stream!')\n"
                       "        for path in sys.argv[2:]:\n"
                       "            await ws.send(open(path, 'rb').read())\n"
                       "            await asyncio.sleep(0.2)\n"
                       "asyncio.run(main())\n";
  Process cam ({ "/usr/bin/python3", "-c", script, "wss://127.0.0.1:" + p + "/ws", a, b });
  EXPECT_EQ (cam.wait (15000), 0) << cam.output ();

  /* Both live frames, whole and in order, after the placeholder. */
  auto both_arrived = [&] {
    Bytes got = crtest::read_file (body);
    gsize first = 0, second = 0;
    return contains (got, frames[3], 0, &first) && contains (got, frames[4], first, &second);
  };
  for (int i = 0; i < 200 && !both_arrived (); i++)
    g_usleep (50000);
  EXPECT_TRUE (both_arrived ()) << launch.output ();
  viewer.stop (SIGINT, 3000);
  Bytes h = crtest::read_file (headers);
  std::string head (h.begin (), h.end ());
  EXPECT_EQ (head.rfind ("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_NE (head.find ("multipart/x-mixed-replace"), std::string::npos) << head;

  EXPECT_EQ (launch.stop (SIGINT, 5000), 0) << launch.output ();
}

}  // namespace
