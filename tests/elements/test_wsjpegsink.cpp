/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wsjpegsink under GstHarness (and in a real gst-launch-1.0 line), pushing to camrelay's own
 * WebSocket ingest on 127.0.0.1, and to a server that accepts the upgrade and then never reads. */
#include "crserver.h"
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using crtest::Bytes;
using crtest::wait_until;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* What the ingest saw: every camera frame, connects and the close codes of disconnects. */
class Camera : public cr::IngestListener
{
public:
  void camera_connected (const std::string &, const std::string & path) override
  {
    std::lock_guard<std::mutex> guard (mutex_);
    paths_.push_back (path);
  }
  void camera_frame (GBytes *frame) override
  {
    gsize size;
    auto *data = static_cast<const guint8 *> (g_bytes_get_data (frame, &size));
    std::lock_guard<std::mutex> guard (mutex_);
    frames_.emplace_back (data, data + size);
  }
  void camera_disconnected (const std::string &, guint16 code, const std::string &) override
  {
    std::lock_guard<std::mutex> guard (mutex_);
    codes_.push_back (code);
  }
  std::vector<Bytes> frames () const
  {
    std::lock_guard<std::mutex> guard (mutex_);
    return frames_;
  }
  std::vector<std::string> paths () const
  {
    std::lock_guard<std::mutex> guard (mutex_);
    return paths_;
  }
  std::vector<guint16> codes () const
  {
    std::lock_guard<std::mutex> guard (mutex_);
    return codes_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<Bytes> frames_;
  std::vector<std::string> paths_;
  std::vector<guint16> codes_;
};

/* camrelay's ingest on 127.0.0.1:@port (0 = any) for /ws/cam. */
struct Ingest
{
  Ingest (guint port, const std::string & secret = "")
  {
    GError *error = nullptr;
    server = cr::Server::acquire ("127.0.0.1", port, &error);
    EXPECT_TRUE (server) << (error ? error->message : "");
    g_clear_error (&error);
    if (!server)
      return;
    cr::IngestSettings settings;
    settings.paths = { "/ws/cam" };
    settings.secret = secret;
    route = server->add_ingest (settings, &camera, &error);
    EXPECT_TRUE (route) << (error ? error->message : "");
    g_clear_error (&error);
  }
  ~Ingest ()
  {
    route.reset ();
    server.reset ();
  }
  std::string url () const
  {
    return "ws://127.0.0.1:" + std::to_string (server->port ()) + "/ws/cam";
  }

  Camera camera;
  std::shared_ptr<cr::Server> server;
  std::unique_ptr<cr::IngestRoute> route;
};

GstStructure *
stats_of (GstElement *sink)
{
  GstStructure *s = nullptr;
  g_object_get (sink, "stats", &s, nullptr);
  return s;
}

guint64
stat (GstElement *sink, const char *field)
{
  GstStructure *s = stats_of (sink);
  guint64 value = 0;
  gst_structure_get_uint64 (s, field, &value);
  gst_structure_free (s);
  return value;
}

bool
connected (GstElement *sink)
{
  GstStructure *s = stats_of (sink);
  gboolean value = FALSE;
  gst_structure_get_boolean (s, "connected", &value);
  gst_structure_free (s);
  return value;
}

GstBuffer *
buffer_of (const Bytes & data)
{
  return gst_buffer_new_memdup (data.data (), data.size ());
}

Harness
sink_for (const std::string & location, const std::string & extra = "")
{
  std::string desc = "wsjpegsink sync=false location=" + location + " " + extra;
  Harness h (gst_harness_new_parse (desc.c_str ()));
  gst_harness_set_src_caps_str (h.get (), "image/jpeg");
  return h;
}

GstElement *
sink_of (const Harness & h)
{
  return gst_harness_find_element (h.get (), "wsjpegsink");
}

}  // namespace

TEST (WsJpegSink, EveryBufferArrivesAsOneBinaryMessageWithTheSecret)
{
  Ingest ingest (0, "s3cret");
  Harness h = sink_for (ingest.url (), "secret=s3cret");
  GstElement *sink = sink_of (h);
  ASSERT_TRUE (wait_until ([&] { return connected (sink); }, 5000));

  std::vector<Bytes> sent;
  for (guint32 colour : { 0xff0000u, 0x00ff00u, 0x0000ffu, 0x808080u, 0xc82896u }) {
    sent.push_back (crtest::make_solid_jpeg (colour, 320, 240));
    ASSERT_EQ (gst_harness_push (h.get (), buffer_of (sent.back ())), GST_FLOW_OK);
    /* One frame at a time: a newer frame may replace one the link has not taken yet. */
    ASSERT_TRUE (
        wait_until ([&] { return ingest.camera.frames ().size () == sent.size (); }, 5000));
  }
  EXPECT_EQ (ingest.camera.frames (), sent);
  EXPECT_EQ (ingest.camera.paths (), std::vector<std::string>{ "/ws/cam" });
  EXPECT_EQ (stat (sink, "frames-sent"), 5u);
  EXPECT_EQ (stat (sink, "connects"), 1u);

  gchar *secret = nullptr;
  g_object_get (sink, "secret", &secret, nullptr);
  EXPECT_STREQ (secret, "********");
  g_free (secret);
  gst_object_unref (sink);

  /* Stopping the element says goodbye with 1001 (going away). */
  h.reset ();
  ASSERT_TRUE (wait_until ([&] { return !ingest.camera.codes ().empty (); }, 5000));
  EXPECT_EQ (ingest.camera.codes ()[0], 1001);
}

TEST (WsJpegSink, RefusedConnectionIsRetriedWithBackoffAndWarnedOnce)
{
  Ingest ingest (0, "right");
  Harness h = sink_for (ingest.url (), "secret=wrong");
  GstElement *sink = sink_of (h);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);

  /* Tries at 0 s, +1 s, +2 s: three failures within 4 s, no faster. */
  ASSERT_TRUE (wait_until ([&] { return stat (sink, "connect-failures") >= 3; }, 6000));
  EXPECT_LE (stat (sink, "connect-failures"), 4u);
  EXPECT_FALSE (connected (sink));
  for (int i = 0; i < 3; i++)
    gst_harness_push (h.get (), buffer_of (crtest::make_solid_jpeg (0xff0000, 64, 64)));
  EXPECT_EQ (stat (sink, "dropped-disconnected"), 3u);
  EXPECT_TRUE (ingest.camera.frames ().empty ());

  int warnings = 0;
  while (GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) {
    warnings++;
    gst_message_unref (m);
  }
  EXPECT_EQ (warnings, 1) << "one warning per change of state, not per try";
  gst_element_set_bus (h->element, nullptr);
  gst_object_unref (bus);
  gst_object_unref (sink);
}

TEST (WsJpegSink, ServerThatGoesAwayAndComesBackGetsFramesAgain)
{
  guint port = crtest::free_port ();
  auto ingest = std::make_unique<Ingest> (port);
  Harness h = sink_for (ingest->url ());
  GstElement *sink = sink_of (h);
  ASSERT_TRUE (wait_until ([&] { return connected (sink); }, 5000));
  Bytes frame = crtest::make_solid_jpeg (0x00ff00, 320, 240);
  gst_harness_push (h.get (), buffer_of (frame));
  ASSERT_TRUE (wait_until ([&] { return ingest->camera.frames ().size () == 1; }, 5000));

  ingest.reset ();
  ASSERT_TRUE (wait_until ([&] { return !connected (sink); }, 5000));
  for (int i = 0; i < 5; i++)
    gst_harness_push (h.get (), buffer_of (frame));
  EXPECT_GE (stat (sink, "dropped-disconnected"), 5u) << "nothing is queued while away";

  ingest = std::make_unique<Ingest> (port);
  ASSERT_TRUE (wait_until ([&] { return connected (sink); }, 8000)) << "reconnects by itself";
  gst_harness_push (h.get (), buffer_of (frame));
  ASSERT_TRUE (wait_until ([&] { return ingest->camera.frames ().size () == 1; }, 5000));
  EXPECT_EQ (ingest->camera.frames ()[0], frame);
  EXPECT_EQ (stat (sink, "connects"), 2u);
  gst_object_unref (sink);
}

/* A server that completes the upgrade and then never reads: the pipeline must go on at full
 * speed, with newer frames replacing the one that waits, and nothing piling up. */
TEST (WsJpegSink, ServerThatStopsReadingNeverBlocksThePipeline)
{
  int listener = socket (AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ASSERT_EQ (bind (listener, reinterpret_cast<sockaddr *> (&addr), sizeof (addr)), 0);
  socklen_t len = sizeof (addr);
  getsockname (listener, reinterpret_cast<sockaddr *> (&addr), &len);
  listen (listener, 4);
  std::atomic<int> peer{ -1 };
  std::thread server ([&] {
    int fd = accept (listener, nullptr, nullptr);
    std::string request;
    char buf[4096];
    while (request.find ("\r\n\r\n") == std::string::npos) {
      ssize_t n = read (fd, buf, sizeof (buf));
      if (n <= 0)
        break;
      request.append (buf, n);
    }
    std::string key;
    auto at = request.find ("Sec-WebSocket-Key: ");
    if (at != std::string::npos)
      key = request.substr (at + 19, request.find ("\r\n", at) - at - 19);
    key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    GChecksum *sha = g_checksum_new (G_CHECKSUM_SHA1);
    g_checksum_update (sha, reinterpret_cast<const guchar *> (key.data ()), key.size ());
    guint8 digest[20];
    gsize digest_len = sizeof (digest);
    g_checksum_get_digest (sha, digest, &digest_len);
    g_checksum_free (sha);
    g_autofree gchar *accept = g_base64_encode (digest, digest_len);
    std::string answer =
        std::string ("HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ") +
        accept + "\r\n\r\n";
    (void) !write (fd, answer.data (), answer.size ());
    peer = fd; /* ... and never read again */
  });

  Harness h = sink_for ("ws://127.0.0.1:" + std::to_string (ntohs (addr.sin_port)) + "/");
  GstElement *sink = sink_of (h);
  ASSERT_TRUE (wait_until ([&] { return connected (sink); }, 5000));
  Bytes big (100 * 1024, 0x55);
  big[0] = 0xff;
  big[1] = 0xd8;
  gint64 start = g_get_monotonic_time ();
  for (int i = 0; i < 400; i++) {
    ASSERT_EQ (gst_harness_push (h.get (), buffer_of (big)), GST_FLOW_OK);
    g_usleep (1000);
  }
  gint64 took_ms = (g_get_monotonic_time () - start) / 1000;
  EXPECT_LT (took_ms, 10000) << "pushes must not wait for the network";
  guint64 sent = stat (sink, "frames-sent");
  guint64 busy = stat (sink, "dropped-busy");
  /* What went out is what the socket buffers held, a few MB at most, not 40 MB. */
  EXPECT_LT (sent, 120u);
  EXPECT_GE (busy, 250u);
  gst_object_unref (sink);
  h.reset ();
  server.join ();
  if (peer >= 0)
    close (peer);
  close (listener);
}

TEST (WsJpegSink, LocationThatIsNotAWebSocketUrlFailsTheStart)
{
  GstElement *pipeline = gst_parse_launch ("fakesrc ! wsjpegsink location=http://x/", nullptr);
  ASSERT_TRUE (pipeline);
  GstBus *bus = gst_element_get_bus (pipeline);
  EXPECT_EQ (gst_element_set_state (pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  ASSERT_TRUE (m);
  GError *error = nullptr;
  gst_message_parse_error (m, &error, nullptr);
  EXPECT_NE (std::string (error->message).find ("not a ws:// or wss:// URL"), std::string::npos)
      << error->message;
  g_error_free (error);
  gst_message_unref (m);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

/* The point of the element: one gst-launch-1.0 line makes any GStreamer source a camera. */
TEST (WsJpegSink, GstLaunchLineMakesATestSourceACamera)
{
  Ingest ingest (0);
  crtest::RunResult r =
      crtest::run ({ "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=30", "is-live=true", "!",
                       "video/x-raw,width=320,height=240,framerate=15/1", "!", "jpegenc", "!",
                       "wsjpegsink", "location=" + ingest.url () },
          60000, crtest::gst_child_env ());
  EXPECT_EQ (r.code, 0) << r.output;
  /* The sink only starts sending once connected; a live source keeps going meanwhile. */
  auto frames = ingest.camera.frames ();
  EXPECT_GE (frames.size (), 15u);
  for (const auto & f : frames) {
    ASSERT_GE (f.size (), 4u);
    EXPECT_EQ (f[0], 0xff);
    EXPECT_EQ (f[1], 0xd8);
    EXPECT_EQ (f[f.size () - 2], 0xff);
    EXPECT_EQ (f[f.size () - 1], 0xd9);
  }
  ASSERT_TRUE (wait_until ([&] { return !ingest.camera.codes ().empty (); }, 5000));
  EXPECT_EQ (ingest.camera.codes ()[0], 1001);
}
