/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The server layer against clients that misbehave, and its access control: floods, resource
 * churn, credentials, TLS. Real sockets on loopback. */
#include "crserver.h"
#include "netclient.h"
#include "subprocess.h"
#include "wait.h"

#include <gtest/gtest.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

using crtest::Bytes;
using crtest::MjpegReader;
using crtest::WsClient;

namespace {

class Frames : public cr::IngestListener
{
public:
  void camera_connected (const std::string &, const std::string &) override
  {
    std::lock_guard<std::mutex> g (m);
    connects++;
  }
  void camera_frame (GBytes *frame) override
  {
    std::lock_guard<std::mutex> g (m);
    sizes.push_back (g_bytes_get_size (frame));
    cv.notify_all ();
  }
  void camera_disconnected (const std::string &, guint16, const std::string &) override
  {
    std::lock_guard<std::mutex> g (m);
    disconnects++;
    cv.notify_all ();
  }
  bool wait_frames (gsize n, int ms = 5000)
  {
    std::unique_lock<std::mutex> l (m);
    return cv.wait_for (l, std::chrono::milliseconds (ms), [&] { return sizes.size () >= n; });
  }
  bool wait_disconnects (int n, int ms = 5000)
  {
    std::unique_lock<std::mutex> l (m);
    return cv.wait_for (l, std::chrono::milliseconds (ms), [&] { return disconnects >= n; });
  }
  std::mutex m;
  std::condition_variable cv;
  std::vector<gsize> sizes;
  int connects = 0, disconnects = 0;
};

std::string
list_fds ()
{
  std::string out;
  g_autoptr (GDir) d = g_dir_open ("/proc/self/fd", 0, nullptr);
  while (const gchar *name = g_dir_read_name (d)) {
    g_autofree gchar *path = g_build_filename ("/proc/self/fd", name, nullptr);
    g_autofree gchar *target = g_file_read_link (path, nullptr);
    out += std::string (name) + "->" + (target ? target : "?") + " ";
  }
  return out;
}

int
open_fds ()
{
  int n = 0;
  g_autoptr (GDir) d = g_dir_open ("/proc/self/fd", 0, nullptr);
  while (g_dir_read_name (d))
    n++;
  return n;
}

/* The descriptor count once connections being torn down have gone: unchanged for 300 ms. */
int
settled_fds ()
{
  int last = open_fds (), stable_ms = 0;
  for (int waited = 0; stable_ms < 300 && waited < 10000; waited += 20) {
    g_usleep (20000);
    int now = open_fds ();
    stable_ms = now == last ? stable_ms + 20 : 0;
    last = now;
  }
  return last;
}

/* Resident memory in KiB; under AddressSanitizer freed memory sits in its quarantine, so growth is
 * not measured there (LeakSanitizer checks for leaks instead). */
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeaningful = false;
#else
constexpr bool kRssMeaningful = true;
#endif

long
rss_kib ()
{
  std::ifstream status ("/proc/self/status");
  std::string line;
  while (std::getline (status, line))
    if (line.rfind ("VmRSS:", 0) == 0)
      return atol (line.c_str () + 6);
  return -1;
}

void
publish (cr::Stream & s, gsize size, guint8 fill)
{
  Bytes b (size, fill);
  GBytes *bytes = g_bytes_new (b.data (), b.size ());
  s.publish (bytes);
  g_bytes_unref (bytes);
}

class Hostile : public ::testing::Test
{
protected:
  void start (const cr::ServerOptions & opts = {})
  {
    g_autoptr (GError) error = nullptr;
    server = cr::Server::acquire ("127.0.0.1", crtest::free_port (), &error, &opts);
    ASSERT_TRUE (server) << error->message;
    port = server->port ();
  }
  void TearDown () override
  {
    if (stream)
      server->remove_stream (stream);
    stream.reset ();
    route.reset ();
    server.reset ();
  }
  void add_stream (cr::StreamSettings s = {})
  {
    g_autoptr (GError) error = nullptr;
    stream = server->add_stream (s, &error);
    ASSERT_TRUE (stream);
  }
  void add_ingest (cr::IngestSettings s = {})
  {
    g_autoptr (GError) error = nullptr;
    route = server->add_ingest (s, &frames, &error);
    ASSERT_TRUE (route);
  }
  void wait_viewers (guint n)
  {
    for (int i = 0; i < 2000 && stream->stats ().viewers != n; i++)
      g_usleep (1000);
    ASSERT_EQ (stream->stats ().viewers, n);
  }

  std::shared_ptr<cr::Server> server;
  std::shared_ptr<cr::Stream> stream;
  std::unique_ptr<cr::IngestRoute> route;
  Frames frames;
  guint port = 0;
};

TEST_F (Hostile, PingAndTextFloodsCostNothingElse)
{
  start ();
  add_ingest ();
  add_stream ();
  MjpegReader viewer (port);
  WsClient cam (port, "/");
  ASSERT_EQ (cam.status (), 101);
  /* 20,000 pings of 125 bytes and 20,000 texts, never reading a pong. */
  Bytes ping (125, 'p');
  Bytes burst;
  for (int i = 0; i < 20000; i++) {
    Bytes f = crtest::ws_client_frame (9, ping.data (), ping.size ());
    burst.insert (burst.end (), f.begin (), f.end ());
    Bytes t = crtest::ws_client_frame (1, reinterpret_cast<const guint8 *> ("hello"), 5);
    burst.insert (burst.end (), t.begin (), t.end ());
  }
  long rss_before = rss_kib ();
  cam.send_raw (burst);
  Bytes jpeg (20000, 0xaa);
  cam.send_binary (jpeg);
  ASSERT_TRUE (frames.wait_frames (1, 10000)) << "the camera's frame was lost behind the flood";
  EXPECT_EQ (route->stats ().text_messages, 20000u);
  /* Pongs wait for a writable socket; at most one is kept, so memory does not follow the flood. */
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss_before, 8 * 1024);
  }

  /* Viewers were not held up. */
  publish (*stream, 6000, 1);
  Bytes got;
  ASSERT_TRUE (viewer.next_part (got, 2000));
  EXPECT_EQ (got.size (), 6000u);
}

TEST_F (Hostile, ViewerChurnReturnsFileDescriptorsAndMemory)
{
  start ();
  add_stream ();
  publish (*stream, 30000, 7);
  auto cycle = [&] (int n) {
    for (int i = 0; i < n; i++) {
      int fd = crtest::connect_loopback (port);
      const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      send (fd, req, sizeof (req) - 1, MSG_NOSIGNAL);
      /* Read the headers and part of the frame, then vanish. */
      char buf[4096];
      recv (fd, buf, sizeof (buf), 0);
      close (fd);
    }
  };
  cycle (500); /* warm-up: allocator arenas, libsoup caches */
  wait_viewers (0);
  int fds = settled_fds ();
  long rss = rss_kib ();
  cycle (10000);
  wait_viewers (0);
  EXPECT_LE (settled_fds (), fds) << list_fds ();
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 4 * 1024) << "resident memory grew with viewer churn";
  }
  EXPECT_GE (stream->stats ().viewers_total, 10000u);
}

TEST_F (Hostile, CameraChurnReturnsFileDescriptorsAndMemory)
{
  start ();
  add_ingest ();
  Bytes jpeg (20000, 0x11);
  auto cycle = [&] (int n) {
    for (int i = 0; i < n; i++) {
      WsClient cam (port, i % 2 ? "/" : "/ws");
      cam.send_binary (jpeg);
      if (i % 3 == 0)
        cam.close (1000); /* some say goodbye, the others just vanish */
    }
  };
  cycle (100);
  ASSERT_TRUE (frames.wait_disconnects (100, 10000));
  int fds = settled_fds ();
  long rss = rss_kib ();
  cycle (1000);
  ASSERT_TRUE (frames.wait_disconnects (1100, 20000));
  EXPECT_LE (settled_fds (), fds) << list_fds ();
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 4 * 1024) << "resident memory grew with camera churn";
  }
}

/* Publishes a distinct 30 KB frame every 33 ms for @ms, tagging each with its sequence number. */
static void
camera_at_30fps (cr::Stream & s, int ms, int *last_seq)
{
  for (int elapsed = 0; elapsed < ms; elapsed += 33) {
    (*last_seq)++;
    Bytes b (30000, static_cast<guint8> (*last_seq & 0xff));
    memcpy (b.data (), last_seq, sizeof (*last_seq));
    GBytes *bytes = g_bytes_new (b.data (), b.size ());
    s.publish (bytes);
    g_bytes_unref (bytes);
    g_usleep (33000);
  }
}

static int
seq_of (const Bytes & part)
{
  int seq = -1;
  if (part.size () == 30000)
    memcpy (&seq, part.data (), sizeof (seq));
  return seq;
}

TEST_F (Hostile, ViewerReadingAt1KiBPerSecondGetsWholeFramesAndCostsLittle)
{
  start ();
  add_stream ();
  MjpegReader slow (port);
  int small = 2048;
  setsockopt (slow.fd (), SOL_SOCKET, SO_RCVBUF, &small, sizeof (small));
  MjpegReader fast (port);
  wait_viewers (2);
  long rss = rss_kib ();

  int seq = 0;
  std::thread camera (camera_at_30fps, std::ref (*stream), 4000, &seq);
  /* The slow viewer reads 1 KiB per second; the fast one reads everything. */
  std::thread slow_reader ([&] {
    for (int i = 0; i < 4; i++) {
      char buf[1024];
      recv (slow.fd (), buf, sizeof (buf), 0);
      g_usleep (1000000);
    }
  });
  int fast_parts = 0, last = 0;
  Bytes got;
  while (fast.next_part (got, 1000)) {
    int s = seq_of (got);
    ASSERT_GT (s, last);
    last = s;
    fast_parts++;
  }
  camera.join ();
  slow_reader.join ();
  EXPECT_GE (fast_parts, seq - 2) << "the fast viewer lost frames to the slow one";
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 2 * 1024) << "memory grew with a slow viewer";
  }
  EXPECT_GT (stream->stats ().parts_skipped, 50u);
}

TEST_F (Hostile, ViewerThatStallsThenResumesSeesARecentFrame)
{
  start ();
  cr::StreamSettings ss;
  ss.stall_timeout_ms = 10000;
  add_stream (ss);
  MjpegReader viewer (port);
  wait_viewers (1);
  int seq = 0;
  /* Three seconds without reading a byte, while the camera goes on. */
  camera_at_30fps (*stream, 3000, &seq);
  int at_resume = seq;
  std::thread camera (camera_at_30fps, std::ref (*stream), 1000, &seq);
  /* Frames already delivered into the viewer's own receive buffer (its kernel's default 128 KiB,
   * about four frames) come first; right behind them is the newest frame, not three seconds of
   * backlog. */
  Bytes got;
  int parts = 0, newest = 0, parts_to_live_edge = -1;
  gint64 resumed = g_get_monotonic_time (), live_edge_ms = -1;
  while (viewer.next_part (got, 500) && parts < 100) {
    parts++;
    newest = std::max (newest, seq_of (got));
    if (parts_to_live_edge < 0 && newest >= at_resume) {
      parts_to_live_edge = parts;
      live_edge_ms = (g_get_monotonic_time () - resumed) / 1000;
    }
  }
  EXPECT_GT (parts_to_live_edge, 0);
  EXPECT_LE (parts_to_live_edge, 8) << "the viewer had to wade through a backlog";
  EXPECT_LT (live_edge_ms, 500);
  camera.join ();
  EXPECT_EQ (newest, seq);
  EXPECT_EQ (stream->stats ().viewers_stalled, 0u);
}

TEST_F (Hostile, OversizedRequestHeadersAreRefusedWithBoundedMemory)
{
  start ();
  add_stream ();
  long rss = rss_kib ();
  int fd = crtest::connect_loopback (port);
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  send (fd, head.data (), head.size (), MSG_NOSIGNAL);
  std::string junk = "X-Junk: " + std::string (8000, 'a') + "\r\n";
  gsize sent = 0;
  struct timeval tv = { 0, 200000 };
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
  while (sent < 64 * 1024 * 1024) {
    ssize_t n = send (fd, junk.data (), junk.size (), MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += n;
  }
  close (fd);
  EXPECT_LT (sent, 64u * 1024 * 1024) << "the server kept reading an endless header block";
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 16 * 1024);
  }
  /* And it still serves. */
  EXPECT_EQ (crtest::http_request (port, "HEAD", "/").status, 200);
}

TEST_F (Hostile, Http10ClientsAndHeadWork)
{
  start ();
  add_stream ();
  publish (*stream, 7000, 3);
  for (int i = 0; i < 100 && !stream->latest (); i++)
    g_usleep (1000);
  int fd = crtest::connect_loopback (port);
  const char req[] = "GET / HTTP/1.0\r\n\r\n";
  send (fd, req, sizeof (req) - 1, MSG_NOSIGNAL);
  std::string got;
  char buf[65536];
  struct timeval tv = { 2, 0 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  while (got.size () < 7000) {
    ssize_t n = recv (fd, buf, sizeof (buf), 0);
    if (n <= 0)
      break;
    got.append (buf, n);
  }
  close (fd);
  EXPECT_EQ (got.substr (0, 12), "HTTP/1.0 200");
  EXPECT_NE (got.find ("multipart/x-mixed-replace"), std::string::npos);
  EXPECT_GT (got.size (), 7000u);
}

TEST_F (Hostile, ViewerCredentialsAndLoopbackMetrics)
{
  cr::ServerOptions opts;
  opts.viewer_user = "ha";
  opts.viewer_password = "p4ss:word";
  opts.open_on_loopback = { "/metrics" };
  start (opts);
  cr::StreamSettings ss;
  ss.snapshot_path = "/snapshot.jpg";
  add_stream (ss);
  g_autoptr (GError) error = nullptr;
  auto metrics = server->add_page (
      "/metrics",
      [] (SoupServerMessage *msg, const char *, GHashTable *) {
        soup_server_message_set_status (msg, 200, nullptr);
        soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "up 1\n", 5);
      },
      &error);
  ASSERT_TRUE (metrics);
  publish (*stream, 6000, 9);

  auto basic = [] (const char *user_pass) {
    g_autofree gchar *b64 =
        g_base64_encode (reinterpret_cast<const guchar *> (user_pass), strlen (user_pass));
    return std::string ("Authorization: Basic ") + b64 + "\r\n";
  };
  auto none = crtest::http_request (port, "GET", "/snapshot.jpg");
  EXPECT_EQ (none.status, 401);
  EXPECT_NE (none.header ("www-authenticate").find ("Basic"), std::string::npos);
  EXPECT_EQ (crtest::http_request (port, "GET", "/snapshot.jpg", basic ("ha:wrong")).status, 401);
  EXPECT_EQ (crtest::http_request (port, "GET", "/snapshot.jpg", basic ("ha:p4ss:word")).status,
      200);
  EXPECT_EQ (crtest::http_request (port, "GET", "/").status, 401);
  MjpegReader viewer (port, "/", basic ("ha:p4ss:word"));
  EXPECT_EQ (viewer.status (), 200);
  /* A scraper on loopback needs no credentials for /metrics. */
  EXPECT_EQ (crtest::http_request (port, "GET", "/metrics").status, 200);
}

/* ---------------------------------------------------------------------------------------------- */
/* Request bodies: nothing is read of a body nobody wants (crserver.h, PageSettings). */

/* What a client that sends a request head and then (perhaps) a body saw. */
struct BodyProbe
{
  int status = 0;        /* of the first answer; 0 = none */
  std::string answer;    /* every byte received */
  bool closed = false;   /* the server ended the connection (EOF or reset) */
  gint64 closed_ms = -1; /* from the end of the request head */
  gsize body_sent = 0;   /* body bytes the client got out, including chunk framing */
  bool has (const std::string & text) const { return answer.find (text) != std::string::npos; }
};

enum class Feed
{
  NOTHING, /* the head only: the body never comes */
  FLOOD,   /* as fast as the socket takes it, up to a limit */
  TRICKLE, /* one byte every 100 ms */
};

/* Sends @head ("METHOD PATH HTTP/1.1\r\n...\r\n\r\n"), then the body as @feed says (chunk framing
 * with @chunked), reading the answer until the server closes or @deadline_ms pass. A flood stops
 * at @flood_limit bytes, so that a server that reads everything is measured without eating the
 * machine. */
BodyProbe
probe_body (guint port, const std::string & head, Feed feed, bool chunked = false,
    int deadline_ms = 3000, gsize flood_limit = 128 * 1024 * 1024)
{
  BodyProbe p;
  int fd = crtest::connect_loopback (port);
  if (fd < 0)
    return p;
  send (fd, head.data (), head.size (), MSG_NOSIGNAL);
  gint64 t0 = g_get_monotonic_time ();
  std::atomic<bool> stop{ false };
  std::atomic<gsize> sent{ 0 };
  std::thread feeder ([&] {
    if (feed == Feed::NOTHING)
      return;
    struct timeval tv = { 0, 100000 };
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv));
    std::string block;
    if (feed == Feed::FLOOD) {
      std::string data (8192, 'x');
      block = chunked ? "2000\r\n" + data + "\r\n" : data;
    } else {
      block = chunked ? "1\r\nx\r\n" : "x";
    }
    while (!stop && sent < flood_limit) {
      ssize_t n = send (fd, block.data (), block.size (), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        continue;
      if (n <= 0)
        return;
      sent += n;
      if (feed == Feed::TRICKLE)
        g_usleep (100000);
    }
  });
  struct timeval tv = { 0, 50000 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  char buf[4096];
  while (g_get_monotonic_time () - t0 < deadline_ms * 1000LL) {
    ssize_t n = recv (fd, buf, sizeof (buf), 0);
    if (n > 0) {
      p.answer.append (buf, n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      p.closed = true;
      p.closed_ms = (g_get_monotonic_time () - t0) / 1000;
      break;
    }
  }
  stop = true;
  feeder.join ();
  close (fd);
  p.body_sent = sent;
  if (p.answer.rfind ("HTTP/1.", 0) == 0 && p.answer.size () >= 12)
    p.status = atoi (p.answer.c_str () + 9);
  return p;
}

std::string
head_of (const std::string & method, const std::string & path, const std::string & headers)
{
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
}

const std::string kHugeLength = "Content-Length: 100000000000\r\n";
const std::string kChunked = "Transfer-Encoding: chunked\r\n";

class RequestBodies : public Hostile
{
protected:
  /* A stream with its snapshot, a camera path, a GET page and a page taking bodies of up to
   * 16 KiB with POST (answered 201 with what it got). */
  void serve (const cr::ServerOptions & opts = {})
  {
    start (opts);
    cr::StreamSettings ss;
    ss.snapshot_path = "/snapshot.jpg";
    add_stream (ss);
    cr::IngestSettings is;
    is.paths = { "/ws" };
    add_ingest (is);
    g_autoptr (GError) error = nullptr;
    status_page = server->add_page (
        "/status",
        [] (SoupServerMessage *msg, const char *, GHashTable *) {
          soup_server_message_set_status (msg, 200, nullptr);
          soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "ok\n", 3);
        },
        &error);
    ASSERT_TRUE (status_page) << error->message;
    cr::PageSettings offer;
    offer.path = "/offer";
    offer.methods = { "POST" };
    offer.max_body = kCap;
    offer_page = server->add_page (
        offer,
        [this] (SoupServerMessage *msg, const char *, GHashTable *) {
          g_autoptr (GBytes) body =
              soup_message_body_flatten (soup_server_message_get_request_body (msg));
          gsize size = 0;
          auto *data = static_cast<const guint8 *> (g_bytes_get_data (body, &size));
          {
            std::lock_guard<std::mutex> l (offers_lock);
            offers.emplace_back (data, data + size);
          }
          g_autofree gchar *text = g_strdup_printf ("got %" G_GSIZE_FORMAT " bytes\n", size);
          soup_server_message_set_status (msg, 201, nullptr);
          soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, text,
              strlen (text));
        },
        &error);
    ASSERT_TRUE (offer_page) << error->message;
  }
  void TearDown () override
  {
    offer_page.reset ();
    status_page.reset ();
    Hostile::TearDown ();
  }
  gsize offers_seen ()
  {
    std::lock_guard<std::mutex> l (offers_lock);
    return offers.size ();
  }

  static constexpr gsize kCap = 16 * 1024;
  std::unique_ptr<cr::PageRoute> status_page, offer_page;
  std::mutex offers_lock;
  std::vector<Bytes> offers;
};

/* Every request that announces a body nobody takes is answered from its headers alone (the body
 * never comes here, and the answer must not wait for it) and its connection closed. */
TEST_F (RequestBodies, UnwantedBodiesAreAnsweredFromTheirHeaders)
{
  serve ();
  struct Case
  {
    std::string method, path, headers;
    int status;
    const char *allow;
  };
  const std::string upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n";
  const Case cases[] = {
    { "POST", "/status", kHugeLength, 405, "GET, HEAD" },
    { "GET", "/status", "Content-Length: 10\r\n", 413, nullptr },
    { "GET", "/", "Content-Length: 10\r\n", 413, nullptr },
    { "HEAD", "/", "Content-Length: 10\r\n", 413, nullptr },
    { "GET", "/snapshot.jpg", kHugeLength, 413, nullptr },
    { "POST", "/", kChunked, 405, "GET, HEAD" },
    { "DELETE", "/snapshot.jpg", "Content-Length: 1\r\n", 405, "GET, HEAD" },
    { "POST", "/nothing-here", kHugeLength, 404, nullptr },
    { "POST", "/ws", "Content-Length: 10\r\n", 405, "GET" },
    { "GET", "/ws", upgrade + "Content-Length: 10\r\n", 413, nullptr },
    { "PUT", "/offer", "Content-Length: 10\r\n", 405, "POST" },
    { "POST", "/offer", "Content-Length: 16385\r\n", 413, nullptr },
    { "POST", "/offer", kHugeLength, 413, nullptr },
  };
  for (const auto & c : cases) {
    std::string what = c.method + " " + c.path + " with " + c.headers;
    BodyProbe p = probe_body (port, head_of (c.method, c.path, c.headers), Feed::NOTHING);
    EXPECT_EQ (p.status, c.status) << what << p.answer;
    if (c.allow) {
      EXPECT_TRUE (p.has (std::string ("Allow: ") + c.allow + "\r\n")) << what << p.answer;
    }
    EXPECT_TRUE (p.has ("Connection: close\r\n")) << what << p.answer;
    EXPECT_TRUE (p.closed) << what << " left open";
  }
  EXPECT_EQ (offers_seen (), 0u);
  EXPECT_GE (server->stats ().bodies_refused, G_N_ELEMENTS (cases));
  /* Bodies that are no bodies change nothing. */
  EXPECT_EQ (crtest::http_request (port, "GET", "/status", "Content-Length: 0\r\n").status, 200);
  EXPECT_EQ (crtest::http_request (port, "POST", "/status", "Content-Length: 0\r\n").status, 405);
}

/* A client that sends a body as fast as it can: refused at its headers, the connection closed,
 * and the server's memory flat. Before: POST /status with a 100 GB Content-Length grew the
 * server by 300 MB in a third of a second, and the answer waited for the whole body. */
TEST_F (RequestBodies, BodyFloodsAreRefusedAndCostNoMemory)
{
  serve ();
  struct Case
  {
    std::string method, path, headers;
    bool chunked;
    int status;
  };
  const Case cases[] = {
    { "POST", "/status", kHugeLength, false, 405 },
    { "POST", "/nothing-here", kHugeLength, false, 404 },
    { "GET", "/", kChunked, true, 413 },
    { "POST", "/offer", kHugeLength, false, 413 },
    { "POST", "/offer", kChunked, true, 413 },
  };
  probe_body (port, head_of ("POST", "/status", kHugeLength), Feed::FLOOD); /* warm-up */
  long rss = rss_kib ();
  for (const auto & c : cases) {
    std::string what = c.method + " " + c.path + " with " + c.headers;
    BodyProbe p = probe_body (port, head_of (c.method, c.path, c.headers), Feed::FLOOD, c.chunked);
    EXPECT_EQ (p.status, c.status) << what << p.answer;
    EXPECT_TRUE (p.closed) << what << " left open";
    EXPECT_LT (p.closed_ms, 2500) << what;
    /* What the kernel buffers take before the connection ends; the server reads none of it. */
    EXPECT_LT (p.body_sent, 32u * 1024 * 1024) << what << ": the server kept taking the body";
  }
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 4 * 1024) << "resident memory followed the request bodies";
  }
  EXPECT_EQ (offers_seen (), 0u);
  /* And the server still serves. */
  EXPECT_EQ (crtest::http_request (port, "GET", "/status").status, 200);
}

/* A body the page takes still has to arrive within the request timeout: the timer runs until the
 * last byte. Before: it stopped with the headers, and a body trickled a byte at a time held the
 * connection forever. */
TEST_F (RequestBodies, TrickledBodyIsCutOffByTheRequestTimer)
{
  cr::ServerOptions opts;
  opts.request_timeout_ms = 500;
  serve (opts);
  for (bool chunked : { false, true }) {
    std::string headers = chunked ? kChunked : "Content-Length: 1000\r\n";
    BodyProbe p =
        probe_body (port, head_of ("POST", "/offer", headers), Feed::TRICKLE, chunked, 6000);
    EXPECT_TRUE (p.closed) << (chunked ? "chunked" : "Content-Length") << ": still open after 6 s";
    EXPECT_LT (p.closed_ms, 3000);
    EXPECT_EQ (p.status, 408) << p.answer;
    EXPECT_LT (p.body_sent, 100u);
  }
  EXPECT_EQ (offers_seen (), 0u);
}

/* A chunked body declares no length: it is counted as it comes and refused the moment it grows
 * past the page's cap, without waiting for the rest. */
TEST_F (RequestBodies, ChunkedBodyOverTheCapIsRefusedWhenItGetsThere)
{
  serve ();
  int fd = crtest::connect_loopback (port);
  std::string head = head_of ("POST", "/offer", kChunked);
  std::string body;
  for (int i = 0; i < 5; i++)
    body += "1000\r\n" + std::string (4096, 'y') + "\r\n"; /* 20 KiB, no last chunk */
  std::string all = head + body;
  send (fd, all.data (), all.size (), MSG_NOSIGNAL);
  std::string answer;
  char buf[4096];
  struct timeval tv = { 3, 0 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  ssize_t n;
  while ((n = recv (fd, buf, sizeof (buf), 0)) > 0)
    answer.append (buf, n);
  close (fd);
  EXPECT_EQ (answer.substr (0, 12), "HTTP/1.1 413") << answer;
  EXPECT_EQ (n, 0) << "the connection was not closed";
  EXPECT_EQ (offers_seen (), 0u);
}

/* What the page takes reaches its handler byte for byte: with Content-Length, chunked, at exactly
 * the cap, and after "Expect: 100-continue" (the client sends the body only when asked; one over
 * the cap is refused before it does). */
TEST_F (RequestBodies, BodiesThePageTakesReachItIntact)
{
  serve ();
  Bytes body (10000);
  for (gsize i = 0; i < body.size (); i++)
    body[i] = static_cast<guint8> (i * 7 + (i >> 8));
  auto exchange = [&] (const std::string & request) {
    int fd = crtest::connect_loopback (port);
    send (fd, request.data (), request.size (), MSG_NOSIGNAL);
    std::string answer;
    char buf[4096];
    struct timeval tv = { 3, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
    ssize_t n;
    while ((n = recv (fd, buf, sizeof (buf), 0)) > 0)
      answer.append (buf, n);
    close (fd);
    return answer;
  };
  std::string raw (body.begin (), body.end ());
  std::string answer = exchange (head_of ("POST", "/offer",
                                     "Content-Type: application/sdp\r\nConnection: close\r\n"
                                     "Content-Length: 10000\r\n") +
      raw);
  EXPECT_EQ (answer.substr (0, 12), "HTTP/1.1 201") << answer;
  EXPECT_NE (answer.find ("got 10000 bytes"), std::string::npos) << answer;

  std::string chunked = head_of ("POST", "/offer", kChunked + "Connection: close\r\n") +
      "1388\r\n" + raw.substr (0, 5000) + "\r\n1388\r\n" + raw.substr (5000) + "\r\n0\r\n\r\n";
  answer = exchange (chunked);
  EXPECT_EQ (answer.substr (0, 12), "HTTP/1.1 201") << answer;

  std::string at_cap (kCap, 'z');
  answer = exchange (
      head_of ("POST", "/offer", "Connection: close\r\nContent-Length: 16384\r\n") + at_cap);
  EXPECT_EQ (answer.substr (0, 12), "HTTP/1.1 201") << answer;

  {
    std::lock_guard<std::mutex> l (offers_lock);
    ASSERT_EQ (offers.size (), 3u);
    EXPECT_EQ (offers[0], body);
    EXPECT_EQ (offers[1], body);
    EXPECT_EQ (offers[2], Bytes (at_cap.begin (), at_cap.end ()));
  }

  /* Expect: 100-continue: the body goes only after the server's interim answer. */
  int fd = crtest::connect_loopback (port);
  std::string head = head_of ("POST", "/offer",
      "Connection: close\r\nExpect: 100-continue\r\nContent-Length: 10000\r\n");
  send (fd, head.data (), head.size (), MSG_NOSIGNAL);
  char buf[4096];
  struct timeval tv = { 3, 0 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  ssize_t n = recv (fd, buf, sizeof (buf), 0);
  ASSERT_GT (n, 0);
  EXPECT_EQ (std::string (buf, 12), "HTTP/1.1 100");
  send (fd, raw.data (), raw.size (), MSG_NOSIGNAL);
  answer.clear ();
  while ((n = recv (fd, buf, sizeof (buf), 0)) > 0)
    answer.append (buf, n);
  close (fd);
  EXPECT_EQ (answer.substr (0, 12), "HTTP/1.1 201") << answer;
  EXPECT_EQ (offers_seen (), 4u);

  BodyProbe too_big = probe_body (port,
      head_of ("POST", "/offer", "Expect: 100-continue\r\nContent-Length: 16385\r\n"),
      Feed::NOTHING);
  EXPECT_EQ (too_big.status, 413) << too_big.answer;
  EXPECT_FALSE (too_big.has ("100 Continue")) << too_big.answer;
  EXPECT_TRUE (too_big.closed);
}

/* A page that takes a body behind viewer credentials: a request without them is answered 401 from
 * its headers and its body is never read, however large it claims to be. */
TEST_F (RequestBodies, UnauthenticatedBodiesCostOnlyTheirHeaders)
{
  cr::ServerOptions opts;
  opts.viewer_user = "ha";
  opts.viewer_password = "secret";
  serve (opts);
  long rss = rss_kib ();
  BodyProbe p =
      probe_body (port, head_of ("POST", "/offer", "Content-Length: 1000\r\n"), Feed::NOTHING);
  EXPECT_EQ (p.status, 401) << p.answer;
  EXPECT_TRUE (p.has ("WWW-Authenticate: Basic")) << p.answer;
  EXPECT_TRUE (p.closed);
  BodyProbe flood = probe_body (port,
      head_of ("POST", "/offer", "Authorization: Basic aGE6d3Jvbmc=\r\n" + kChunked), Feed::FLOOD,
      true);
  EXPECT_EQ (flood.status, 401) << flood.answer;
  EXPECT_TRUE (flood.closed);
  EXPECT_LT (flood.body_sent, 32u * 1024 * 1024);
  if (kRssMeaningful) {
    EXPECT_LT (rss_kib () - rss, 4 * 1024);
  }
  EXPECT_EQ (offers_seen (), 0u);

  /* ha:secret */
  std::string ok = head_of ("POST", "/offer",
                       "Authorization: Basic aGE6c2VjcmV0\r\nConnection: close\r\n"
                       "Content-Length: 5\r\n") +
      "hello";
  int fd = crtest::connect_loopback (port);
  send (fd, ok.data (), ok.size (), MSG_NOSIGNAL);
  char buf[1024];
  struct timeval tv = { 3, 0 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv));
  ssize_t n = recv (fd, buf, sizeof (buf), 0);
  close (fd);
  ASSERT_GT (n, 12);
  EXPECT_EQ (std::string (buf, 12), "HTTP/1.1 201");
  EXPECT_EQ (offers_seen (), 1u);
}

/* ---------------------------------------------------------------------------------------------- */

/* libsoup's client over TLS, trusting the test's self-signed certificate. */
class SoupClient
{
public:
  SoupClient ()
  {
    context_ = g_main_context_new ();
    g_main_context_push_thread_default (context_);
    session_ = soup_session_new ();
    /* The system's trust store is loaded once per process, on the first handshake unless done
     * here: over a second under ASan, which a server's handshake timeout counts against it. */
    g_autoptr (GTlsDatabase) db = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  }
  ~SoupClient ()
  {
    g_clear_object (&ws_);
    g_clear_object (&session_);
    g_main_context_pop_thread_default (context_);
    g_main_context_unref (context_);
  }
  static gboolean accept_any (SoupMessage *, GTlsCertificate *, GTlsCertificateFlags, gpointer)
  {
    return TRUE;
  }
  template<typename Pred> bool iterate_until (Pred pred, int ms = 5000)
  {
    return crtest::iterate_until (context_, pred, ms);
  }
  bool connect_ws (const std::string & url)
  {
    SoupMessage *msg = soup_message_new ("GET", url.c_str ());
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any), nullptr);
    bool done = false;
    soup_session_websocket_connect_async (
        session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
        [] (GObject *s, GAsyncResult *r, gpointer d) {
          auto *self = static_cast<std::pair<SoupClient *, bool *> *> (d);
          self->first->ws_ = soup_session_websocket_connect_finish (SOUP_SESSION (s), r, nullptr);
          *self->second = true;
          delete self;
        },
        new std::pair<SoupClient *, bool *> (this, &done));
    g_object_unref (msg);
    iterate_until ([&] { return done; });
    return ws_ != nullptr;
  }
  void send (const Bytes & b)
  {
    soup_websocket_connection_send_binary (ws_, b.data (), b.size ());
    iterate_until ([] { return false; }, 50);
  }
  /* Reads @url's body until @want bytes or timeout. */
  Bytes read (const std::string & url, gsize want, guint *status, std::string *error = nullptr)
  {
    SoupMessage *msg = soup_message_new ("GET", url.c_str ());
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any), nullptr);
    g_autoptr (GError) err = nullptr;
    GInputStream *in = soup_session_send (session_, msg, nullptr, &err);
    *status = soup_message_get_status (msg);
    if (error && err)
      *error = err->message;
    Bytes out;
    if (in) {
      guint8 buf[16384];
      while (out.size () < want) {
        gssize n = g_input_stream_read (in, buf, sizeof (buf), nullptr, nullptr);
        if (n <= 0)
          break;
        out.insert (out.end (), buf, buf + n);
      }
      g_object_unref (in);
    }
    g_object_unref (msg);
    return out;
  }

private:
  GMainContext *context_;
  SoupSession *session_;
  SoupWebsocketConnection *ws_ = nullptr;
};

/* A self-signed certificate and its key, made with openssl, removed with the object. */
struct TestCertificate
{
  TestCertificate ()
  {
    cert = dir.file ("cert.pem");
    key = dir.file ("key.pem");
    crtest::Process openssl ({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
        "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert });
    made = openssl.wait (30000) == 0;
    output = openssl.output ();
  }
  crtest::TempDir dir;
  std::string cert, key, output;
  bool made = false;
};

TEST_F (Hostile, TlsServesHttpsViewersAndWssCameras)
{
  TestCertificate tc;
  ASSERT_TRUE (tc.made) << tc.output;
  const std::string & cert = tc.cert;
  const std::string & key = tc.key;

  cr::ServerOptions opts;
  opts.tls_certificate = cert;
  opts.tls_key = key;
  start (opts);
  EXPECT_TRUE (server->tls ());
  add_ingest ();
  add_stream ();

  SoupClient client;
  std::string base = "127.0.0.1:" + std::to_string (port);
  ASSERT_TRUE (client.connect_ws ("wss://" + base + "/ws"));
  Bytes jpeg (30000, 0x42);
  client.send (jpeg);
  ASSERT_TRUE (frames.wait_frames (1));
  EXPECT_EQ (frames.sizes[0], jpeg.size ());

  publish (*stream, 50000, 0x24);
  guint status = 0;
  Bytes body = client.read ("https://" + base + "/", 50000, &status);
  EXPECT_EQ (status, 200u);
  ASSERT_GE (body.size (), 50000u);
  std::string text (body.begin (), body.begin () + 60);
  EXPECT_EQ (text.rfind ("--ThisRandomString\r\n", 0), 0u) << text;

  /* Plain HTTP on the TLS port gets nothing useful. */
  auto plain = crtest::http_request (port, "GET", "/", "", 2000);
  EXPECT_NE (plain.status, 200);
}

/* A TLS client that sends nothing in time (a slowloris over https), after its handshake or in the
 * middle of it: the connection ends, and no plaintext byte reaches it, which a TLS client reports
 * as a record error (SSL: WRONG_VERSION_NUMBER). A handshake that never finishes must not upset
 * the server either (taking such a connection from libsoup would). Python's ssl module is the
 * real TLS client. */
TEST_F (Hostile, SilentTlsClientIsClosedWithoutPlaintext)
{
  if (!crtest::installed ("/usr/bin/python3"))
    FAIL () << "needs /usr/bin/python3"
               " (tools/bootstrap --tests installs it)";
  TestCertificate tc;
  ASSERT_TRUE (tc.made) << tc.output;
  cr::ServerOptions opts;
  opts.tls_certificate = tc.cert;
  opts.tls_key = tc.key;
  /* Long enough for a TLS handshake under a sanitizer, which the last check needs. */
  opts.request_timeout_ms = 1500;
  start (opts);
  add_stream ();

  static const char after_handshake[] =
      "import socket, ssl, sys, time\n"
      "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
      "ctx.check_hostname = False\n"
      "ctx.verify_mode = ssl.CERT_NONE\n"
      "raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
      "tls = ctx.wrap_socket(raw)\n"
      "print('handshake done', flush=True)\n"
      "start = time.monotonic()\n"
      "data = b''\n"
      "try:\n"
      "    while True:\n"
      "        chunk = tls.recv(4096)\n"
      "        if not chunk:\n"
      "            break\n"
      "        data += chunk\n"
      "except ssl.SSLError as e:\n"
      "    print('TLS error after %r: %s' % (data[:40], e))\n"
      "    sys.exit(1)\n"
      "except OSError:\n"
      "    pass\n"
      "if data:\n"
      "    print('unexpected bytes %r' % data[:40])\n"
      "    sys.exit(1)\n"
      "print('closed after %.1f s' % (time.monotonic() - start))\n";
  /* Half a ClientHello, then silence: the handshake is left hanging. */
  static const char mid_handshake[] =
      "import socket, sys, time\n"
      "raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
      "raw.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]))\n"
      "start = time.monotonic()\n"
      "try:\n"
      "    data = raw.recv(4096)\n"
      "except OSError:\n"
      "    data = b''\n"
      "print('closed after %.1f s with %d bytes' % (time.monotonic() - start, len(data)))\n";
  for (int i = 0; i < 3; i++) {
    auto r =
        crtest::run ({ "/usr/bin/python3", "-c", after_handshake, std::to_string (port) }, 20000);
    EXPECT_EQ (r.code, 0) << r.output;
    EXPECT_NE (r.output.find ("handshake done"), std::string::npos) << r.output;
    EXPECT_NE (r.output.find ("closed after"), std::string::npos) << r.output;
    auto h =
        crtest::run ({ "/usr/bin/python3", "-c", mid_handshake, std::to_string (port) }, 20000);
    EXPECT_EQ (h.code, 0) << h.output;
    EXPECT_NE (h.output.find ("closed after"), std::string::npos) << h.output;
  }

  /* The server is still fine for clients that do speak. */
  SoupClient client;
  publish (*stream, 5000, 0x33);
  guint status = 0;
  std::string error;
  Bytes body =
      client.read ("https://127.0.0.1:" + std::to_string (port) + "/", 5000, &status, &error);
  EXPECT_EQ (status, 200u) << error;
}

/* Over TLS the same: a body nobody takes is answered from the headers, inside TLS, and the
 * connection ends, while the client is still sending it. */
TEST_F (Hostile, TlsRequestBodyIsRefusedFromItsHeaders)
{
  TestCertificate tc;
  ASSERT_TRUE (tc.made) << tc.output;
  cr::ServerOptions opts;
  opts.tls_certificate = tc.cert;
  opts.tls_key = tc.key;
  start (opts);
  add_stream ();
  /* One thread sends and reads (an SSL socket is not to be used from two threads at once: a
   * flooding thread beside the reading one made the read come back empty now and then). */
  static const char client[] =
      "import select, socket, ssl, sys, time\n"
      "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
      "ctx.check_hostname = False\n"
      "ctx.verify_mode = ssl.CERT_NONE\n"
      "raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
      "tls = ctx.wrap_socket(raw)\n"
      "tls.sendall(b'POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100000000000\\r\\n\\r\\n')\n"
      "start = time.monotonic()\n"
      "tls.setblocking(False)\n"
      "chunk = bytes(16384)\n"
      "left = 4096\n"
      "data = b''\n"
      "while True:\n"
      "    if time.monotonic() - start > 5:\n"
      "        print('still open after 5 s')\n"
      "        sys.exit(1)\n"
      "    r, w, _ = select.select([tls], [tls] if left else [], [], 0.1)\n"
      "    if r or tls.pending():\n"
      "        try:\n"
      "            got = tls.recv(4096)\n"
      "        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):\n"
      "            got = None\n"
      "        except OSError:\n"
      "            break\n"
      "        if got == b'':\n"
      "            break\n"
      "        if got:\n"
      "            data += got\n"
      "            continue\n"
      "    if w and left:\n"
      "        try:\n"
      "            tls.send(chunk)\n"
      "            left -= 1\n"
      "        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):\n"
      "            pass\n"
      "        except OSError:\n"
      "            left = 0\n"
      "print('%s; closed after %.2f s' % (data.split(b'\\r\\n')[0].decode(), time.monotonic() - "
      "start))\n";
  auto r = crtest::run ({ "/usr/bin/python3", "-c", client, std::to_string (port) }, 20000);
  EXPECT_EQ (r.code, 0) << r.output;
  EXPECT_NE (r.output.find ("HTTP/1.1 405 Method Not Allowed; closed after"), std::string::npos)
      << r.output;
  EXPECT_EQ (server->stats ().bodies_refused, 1u);
}

/* A wss:// camera sends one frame larger than the server's read budget per wake-up, then nothing.
 * GnuTLS decrypts a whole TLS record at a time: when the budget runs out inside the last record,
 * the rest of the frame sits decrypted inside GnuTLS while the socket is empty, and epoll never
 * says so. The frame must still arrive, without the camera sending another byte.
 *
 * To make that moment happen on purpose, the server thread is held while the camera queues the
 * whole frame (its socket buffer is big enough), so that one wake-up finds it all: a 14-byte
 * record with the frame header, then exactly 256 KiB of payload in 16 KiB records, which puts the
 * end of the budget 14 bytes before the end of the last record. */
TEST_F (Hostile, WssFrameLargerThanTheReadBudgetArrivesWithoutMoreBytes)
{
  TestCertificate tc;
  ASSERT_TRUE (tc.made) << tc.output;
  cr::ServerOptions opts;
  opts.tls_certificate = tc.cert;
  opts.tls_key = tc.key;
  start (opts);
  add_ingest ();

  crtest::TempDir dir;
  std::string go = dir.file ("go");
  static const char camera[] =
      "import os, socket, ssl, struct, sys, time\n"
      "port, go, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])\n"
      "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
      "ctx.check_hostname = False\n"
      "ctx.verify_mode = ssl.CERT_NONE\n"
      "raw = socket.socket()\n"
      "raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)\n"
      "raw.connect(('127.0.0.1', port))\n"
      "tls = ctx.wrap_socket(raw)\n"
      "tls.sendall(b'GET /ws HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\n'\n"
      "            b'Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n'\n"
      "            b'Sec-WebSocket-Version: 13\\r\\n\\r\\n')\n"
      "answer = b''\n"
      "while b'\\r\\n\\r\\n' not in answer:\n"
      "    answer += tls.recv(4096)\n"
      "print(answer.split(b'\\r\\n')[0].decode(), flush=True)\n"
      "while not os.path.exists(go):\n"
      "    time.sleep(0.01)\n"
      "# A zero mask key leaves the payload as it is; header and payload in records of their own.\n"
      "tls.sendall(struct.pack('!BBQ', 0x82, 0x80 | 127, size) + bytes(4))\n"
      "tls.sendall(bytes([0x5a]) * size)\n"
      "print('sent', flush=True)\n"
      "time.sleep(60)\n";
  const gsize size = 256 * 1024;
  crtest::Process cam (
      { "/usr/bin/python3", "-c", camera, std::to_string (port), go, std::to_string (size) });
  ASSERT_TRUE (cam.wait_for_output ("HTTP/1.1 101", 10000)) << cam.output ();

  /* Hold the server thread until the whole frame is queued towards it. */
  struct Hold
  {
    std::mutex m;
    std::condition_variable cv;
    bool held = false, release = false;
    void set (bool Hold::*flag)
    {
      std::lock_guard<std::mutex> l (m);
      this->*flag = true;
      cv.notify_all ();
    }
    bool wait (bool Hold::*flag, int ms)
    {
      std::unique_lock<std::mutex> l (m);
      return cv.wait_for (l, std::chrono::milliseconds (ms), [&] { return this->*flag; });
    }
  };
  auto hold = std::make_shared<Hold> ();
  server->invoke ([hold] {
    hold->set (&Hold::held);
    hold->wait (&Hold::release, 10000);
  });
  ASSERT_TRUE (hold->wait (&Hold::held, 5000));
  dir.write ("go", "");
  bool sent = cam.wait_for_output ("sent", 5000);
  hold->set (&Hold::release);
  ASSERT_TRUE (sent) << cam.output ();

  ASSERT_TRUE (frames.wait_frames (1, 3000))
      << "the end of the frame stayed inside GnuTLS until the camera sent more";
  EXPECT_EQ (frames.sizes[0], size);
}
}  // namespace
