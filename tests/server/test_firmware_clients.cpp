/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The WebSocket client libraries that ESP32 camera sketches use, against the server layer: each
 * library's exact upgrade request over a real socket, the reply judged by that library's own
 * (strict) rules, then binary frames framed the way that library frames them, which must arrive
 * whole. The rules are read from the libraries' sources:
 *   - gilmaimon/ArduinoWebsockets (TinyWebsockets), src/websockets_client.cpp: generateHandshake()
 *     and parseHandshakeResponse(); src/websockets_endpoint.cpp: send().
 *   - Links2004/arduinoWebSockets, src/WebSocketsClient.cpp: sendHeader() and handleHeader();
 *     src/WebSockets.cpp: sendFrame().
 * Both work today; this suite keeps it so. */
#include "crserver.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using Bytes = std::vector<guint8>;

namespace {

class Recorder : public cr::IngestListener
{
public:
  void camera_connected (const std::string &, const std::string & path) override
  {
    std::lock_guard<std::mutex> g (m);
    paths.push_back (path);
    cv.notify_all ();
  }
  void camera_frame (GBytes *frame) override
  {
    gsize size;
    auto *data = static_cast<const guint8 *> (g_bytes_get_data (frame, &size));
    std::lock_guard<std::mutex> g (m);
    frames.emplace_back (data, data + size);
    cv.notify_all ();
  }
  void camera_disconnected (const std::string &, guint16, const std::string &) override {}
  bool wait_frames (gsize n)
  {
    std::unique_lock<std::mutex> l (m);
    return cv.wait_for (l, std::chrono::seconds (5), [&] { return frames.size () >= n; });
  }
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> paths;
  std::vector<Bytes> frames;
};

/* A TCP connection as a microcontroller's network stack uses it: blocking writes, reads of what
 * has arrived, nothing else. */
class Board
{
public:
  explicit Board (guint port)
  {
    fd_ = socket (AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons (port);
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    connected_ = connect (fd_, reinterpret_cast<sockaddr *> (&addr), sizeof (addr)) == 0;
    int one = 1;
    setsockopt (fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  }
  ~Board () { close (fd_); }
  Board (const Board &) = delete;
  Board & operator= (const Board &) = delete;

  bool connected () const { return connected_; }

  /* One write() of the library, which lwIP sends as it comes. */
  bool write (const void *data, gsize len)
  {
    auto *p = static_cast<const guint8 *> (data);
    while (len > 0) {
      ssize_t n = send (fd_, p, len, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      p += n;
      len -= n;
    }
    return true;
  }
  bool write (const std::string & s) { return write (s.data (), s.size ()); }
  bool write (const Bytes & b) { return write (b.data (), b.size ()); }

  /* Arduino's Stream::readStringUntil ('\n') without the terminator's removal: the line with its
   * "\n"; whatever arrived if the connection ends or 5 s pass. */
  std::string read_line ()
  {
    std::string line;
    for (;;) {
      pollfd p = { fd_, POLLIN, 0 };
      if (poll (&p, 1, 5000) != 1)
        return line;
      char c;
      if (recv (fd_, &c, 1, 0) != 1)
        return line;
      line += c;
      if (c == '\n')
        return line;
    }
  }

  /* Whether the server sent anything more within @ms (after the handshake it has nothing to say
   * until the camera does something). */
  bool has_data (int ms)
  {
    pollfd p = { fd_, POLLIN, 0 };
    return poll (&p, 1, ms) == 1;
  }

private:
  int fd_ = -1;
  bool connected_ = false;
};

/* 16 random bytes in base64, as both libraries make their Sec-WebSocket-Key. */
std::string
new_key ()
{
  guint8 raw[16];
  for (auto & b : raw)
    b = g_random_int_range (0, 256);
  g_autofree gchar *key = g_base64_encode (raw, sizeof (raw));
  return key;
}

/* RFC 6455 4.2.2: base64 (SHA-1 (key + GUID)). */
std::string
accept_for (const std::string & key)
{
  std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sha1, reinterpret_cast<const guchar *> (in.data ()), in.size ());
  guint8 digest[20];
  gsize len = sizeof (digest);
  g_checksum_get_digest (sha1, digest, &len);
  g_autofree gchar *b64 = g_base64_encode (digest, len);
  return b64;
}

/* A payload the size of a camera frame. */
Bytes
frame_of (gsize size, guint8 seed)
{
  Bytes b (size);
  for (gsize i = 0; i < size; i++)
    b[i] = static_cast<guint8> (i * 13 + seed * 101 + (i >> 8));
  return b;
}

/* The frame header both libraries write for a client message: FIN + opcode, the MASK bit with the
 * shortest length form (7 bits, 126 + 16 bits, 127 + 64 bits) as each library picks it, then the
 * 4-byte masking key. */
Bytes
client_header (guint8 opcode, guint64 len, bool sixteen_bits_up_to_65535, const guint8 key[4])
{
  Bytes h = { guint8 (0x80 | opcode) };
  const guint64 limit16 = sixteen_bits_up_to_65535 ? 65536 : 65535;
  if (len < 126) {
    h.push_back (0x80 | len);
  } else if (len < limit16) {
    h.push_back (0x80 | 126);
    h.push_back (len >> 8);
    h.push_back (len & 0xff);
  } else {
    h.push_back (0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      h.push_back ((len >> shift) & 0xff);
  }
  h.insert (h.end (), key, key + 4);
  return h;
}

Bytes
masked (const Bytes & payload, const guint8 key[4])
{
  Bytes out (payload);
  for (gsize i = 0; i < out.size (); i++)
    out[i] ^= key[i % 4];
  return out;
}

class FirmwareClients : public ::testing::Test
{
protected:
  void SetUp () override
  {
    g_autoptr (GError) error = nullptr;
    server = cr::Server::acquire ("127.0.0.1", 0, &error);
    ASSERT_TRUE (server) << error->message;
    port = server->port ();
    route = server->add_ingest ({}, &rec, &error);
    ASSERT_TRUE (route) << error->message;
  }

  Recorder rec;
  std::shared_ptr<cr::Server> server;
  std::unique_ptr<cr::IngestRoute> route;
  guint port = 0;
};

/* ---------------------------------------------------------------------------------------------- */
/* gilmaimon/ArduinoWebsockets (TinyWebsockets)                                                   */

/* parseHandshakeResponse() over the releases: header names compared case-sensitively; the value
 * taken from after ": " (0.5: substr (colon + 2)) and from after the colon and any whitespace up to
 * the next whitespace (0.1 to 0.4): both must give the wanted value. */
struct TinyVerdict
{
  bool status_101 = false;
  bool lines_ok = true;
  bool upgrade = false;
  bool connection = false;
  bool connection_exactly_upgrade = false;
  std::string accept;
};

TinyVerdict
tiny_read_response (Board & board)
{
  TinyVerdict v;
  /* connect(): doestStartsWith (head, "HTTP/1.1 101") */
  v.status_101 = board.read_line ().rfind ("HTTP/1.1 101", 0) == 0;
  for (int n = 0; n < 100; n++) {
    std::string line = board.read_line ();
    /* "if (line.size () < 2) fail"; the end is exactly "\r\n" */
    if (line.size () < 2 || line.compare (line.size () - 2, 2, "\r\n") != 0) {
      v.lines_ok = false;
      return v;
    }
    if (line == "\r\n")
      return v;
    line.resize (line.size () - 2);
    const gsize colon = line.find (':');
    const std::string key = line.substr (0, colon);
    const std::string value_new = colon + 2 <= line.size () ? line.substr (colon + 2) : "";
    gsize i = colon + 1;
    while (i < line.size () && g_ascii_isspace (line[i]))
      i++;
    gsize j = i;
    while (j < line.size () && !g_ascii_isspace (line[j]))
      j++;
    const std::string value_old = line.substr (MIN (i, line.size ()), j - MIN (i, line.size ()));
    auto value_is = [&] (const char *want) { return value_new == want && value_old == want; };
    if (key == "Upgrade") {
      v.upgrade = value_is ("websocket");
    } else if (key == "Connection") {
      v.connection = value_is ("Upgrade") || value_is ("upgrade");
      v.connection_exactly_upgrade = value_is ("Upgrade");
    } else if (key == "Sec-WebSocket-Accept") {
      v.accept = value_new == value_old ? value_new : "";
    }
  }
  v.lines_ok = false;
  return v;
}

/* WebsocketsEndpoint::send(): header, the default masking key 00 00 00 00 (the payload is then
 * sent as it is), all of it in one write. */
bool
tiny_send (Board & board, guint8 opcode, const Bytes & payload)
{
  static const guint8 zero_key[4] = { 0, 0, 0, 0 };
  Bytes message = client_header (opcode, payload.size (), true, zero_key);
  message.insert (message.end (), payload.begin (), payload.end ());
  return board.write (message);
}

TEST_F (FirmwareClients, TinyWebsocketsHandshakeAndFrames)
{
  /* generateHandshake() of 0.5.x, then of the releases before custom headers (no User-Agent,
   * no Origin). Host is the bare host: the library strips the port. */
  const char *const requests[] = {
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Sec-WebSocket-Key: %s\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "User-Agent: TinyWebsockets Client\r\n"
    "Origin: https://github.com/gilmaimon/TinyWebsockets\r\n"
    "\r\n",
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: %s\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n",
  };
  gsize expected_frames = 0;
  for (const char *request : requests) {
    Board board (port);
    ASSERT_TRUE (board.connected ());
    const std::string key = new_key ();
    g_autofree gchar *bytes = g_strdup_printf (request, key.c_str ());
    ASSERT_TRUE (board.write (std::string (bytes)));

    const TinyVerdict v = tiny_read_response (board);
    EXPECT_TRUE (v.status_101) << "status line does not start with \"HTTP/1.1 101\"";
    EXPECT_TRUE (v.lines_ok) << "a header line the library cannot read";
    EXPECT_TRUE (v.upgrade) << "no \"Upgrade: websocket\", name and value exactly so";
    EXPECT_TRUE (v.connection) << "no \"Connection: Upgrade\" (or \"upgrade\")";
    /* Releases before 0.5 accept only "Upgrade". */
    EXPECT_TRUE (v.connection_exactly_upgrade);
    EXPECT_EQ (v.accept, accept_for (key)) << "Sec-WebSocket-Accept, name exactly so";
    EXPECT_FALSE (board.has_data (100)) << "the server spoke before the camera";

    /* A sketch's frames: a camera frame in the 16-bit length form and one in the 64-bit form. */
    const Bytes small = frame_of (30000, 1), big = frame_of (150000, 2), edge = frame_of (65535, 3);
    for (const Bytes *f : { &small, &big, &edge })
      ASSERT_TRUE (tiny_send (board, 2, *f));
    expected_frames += 3;
    ASSERT_TRUE (rec.wait_frames (expected_frames));
    std::lock_guard<std::mutex> g (rec.m);
    EXPECT_EQ (rec.frames[expected_frames - 3], small);
    EXPECT_EQ (rec.frames[expected_frames - 2], big);
    EXPECT_EQ (rec.frames[expected_frames - 1], edge);
  }
  EXPECT_EQ (route->stats ().protocol_errors, 0u);
}

/* ---------------------------------------------------------------------------------------------- */
/* Links2004/arduinoWebSockets                                                                    */

/* WebSocketsClient::handleHeader(): each line trimmed; the status from "HTTP/1." lines; names
 * and the values of Connection and Upgrade compared ignoring case; one space after the colon
 * dropped; Sec-WebSocket-Accept trimmed and compared exactly. */
struct LinksVerdict
{
  int code = 0;
  bool is_upgrade = false;
  bool is_websocket = false;
  std::string accept;
  bool ended = false;
};

LinksVerdict
links_read_response (Board & board)
{
  LinksVerdict v;
  for (int n = 0; n < 100; n++) {
    std::string raw = board.read_line ();
    if (raw.empty ())
      return v;
    g_autofree gchar *trimmed = g_strstrip (g_strdup (raw.c_str ()));
    const std::string line = trimmed;
    if (line.empty ()) {
      v.ended = true;
      return v;
    }
    if (line.rfind ("HTTP/1.", 0) == 0) {
      const gsize sp = line.find (' ', 9);
      const gsize len = sp == std::string::npos ? std::string::npos : sp - 9;
      v.code = atoi (line.substr (9, len).c_str ());
    } else if (line.find (':') != std::string::npos) {
      const gsize colon = line.find (':');
      const std::string name = line.substr (0, colon);
      std::string value = line.substr (colon + 1);
      if (!value.empty () && value[0] == ' ')
        value.erase (0, 1);
      if (g_ascii_strcasecmp (name.c_str (), "Connection") == 0) {
        if (g_ascii_strcasecmp (value.c_str (), "upgrade") == 0)
          v.is_upgrade = true;
      } else if (g_ascii_strcasecmp (name.c_str (), "Upgrade") == 0) {
        if (g_ascii_strcasecmp (value.c_str (), "websocket") == 0)
          v.is_websocket = true;
      } else if (g_ascii_strcasecmp (name.c_str (), "Sec-WebSocket-Accept") == 0) {
        g_autofree gchar *a = g_strstrip (g_strdup (value.c_str ()));
        v.accept = a;
      }
    }
  }
  return v;
}

TEST_F (FirmwareClients, ArduinoWebSocketsHandshakeAndFrames)
{
  Board board (port);
  ASSERT_TRUE (board.connected ());
  const std::string key = new_key ();
  /* sendHeader() for begin ("127.0.0.1", port, "/ws"): the default protocol "arduino", the
   * default extra header "Origin: file://". */
  g_autofree gchar *request = g_strdup_printf ("GET /ws HTTP/1.1\r\n"
                                               "Host: 127.0.0.1:%u\r\n"
                                               "Connection: Upgrade\r\n"
                                               "Upgrade: websocket\r\n"
                                               "Sec-WebSocket-Version: 13\r\n"
                                               "Sec-WebSocket-Key: %s\r\n"
                                               "Sec-WebSocket-Protocol: arduino\r\n"
                                               "Origin: file://\r\n"
                                               "User-Agent: arduino-WebSocket-Client\r\n"
                                               "\r\n",
      port, key.c_str ());
  ASSERT_TRUE (board.write (std::string (request)));

  const LinksVerdict v = links_read_response (board);
  EXPECT_TRUE (v.ended) << "the header block did not end";
  EXPECT_EQ (v.code, 101);
  EXPECT_TRUE (v.is_upgrade) << "Connection is not \"upgrade\" (ignoring case)";
  EXPECT_TRUE (v.is_websocket) << "Upgrade is not \"websocket\" (ignoring case)";
  EXPECT_EQ (v.accept, accept_for (key));
  EXPECT_FALSE (board.has_data (100)) << "the server spoke before the camera";
  {
    std::lock_guard<std::mutex> g (rec.m);
    ASSERT_EQ (rec.paths.size (), 1u);
    EXPECT_EQ (rec.paths[0], "/ws");
  }

  /* The sketch's greeting: sendTXT() of a short text, which (WEBSOCKETS_USE_BIG_MEM on the
   * ESP32) goes in one write, masked with a random key. */
  const guint8 random_key[4] = { 0x3c, 0xa1, 0x07, 0xee };
  const std::string hello = "hello from ESP32 camera stream!";
  Bytes greeting = client_header (1, hello.size (), false, random_key);
  Bytes text = masked (Bytes (hello.begin (), hello.end ()), random_key);
  greeting.insert (greeting.end (), text.begin (), text.end ());
  ASSERT_TRUE (board.write (greeting));

  /* sendBIN() of a frame (1400 bytes or more): the header in one write, with the MASK bit and a
   * masking key of zeros, then the payload as it is in a second write. Its 16-bit form stops at
   * 65534 ("length < 0xFFFF"). */
  static const guint8 zero_key[4] = { 0, 0, 0, 0 };
  const Bytes frames[] = { frame_of (30000, 4), frame_of (65535, 5), frame_of (200000, 6) };
  for (const Bytes & f : frames) {
    ASSERT_TRUE (board.write (client_header (2, f.size (), false, zero_key)));
    g_usleep (2000);
    ASSERT_TRUE (board.write (f));
  }
  ASSERT_TRUE (rec.wait_frames (G_N_ELEMENTS (frames)));
  {
    std::lock_guard<std::mutex> g (rec.m);
    for (gsize i = 0; i < G_N_ELEMENTS (frames); i++)
      EXPECT_EQ (rec.frames[i], frames[i]) << "frame " << i;
  }
  const cr::IngestStats st = route->stats ();
  EXPECT_EQ (st.text_messages, 1u);
  EXPECT_EQ (st.messages, G_N_ELEMENTS (frames));
  EXPECT_EQ (st.protocol_errors, 0u);
}

}  // namespace
