/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace crtest {

namespace {

gint64
deadline_after (int timeout_ms)
{
  return g_get_monotonic_time () + static_cast<gint64> (timeout_ms) * 1000;
}

/* Appends what arrives before @deadline_us (at most @max bytes); false on timeout, or on end of
 * stream or error (then *@eof). */
bool
read_some (int fd, Bytes & buf, gint64 deadline_us, bool *eof, gsize max = 65536)
{
  gint64 left = deadline_us - g_get_monotonic_time ();
  if (fd < 0) {
    *eof = true;
    return false;
  }
  if (left <= 0)
    return false;
  struct pollfd p = { fd, POLLIN, 0 };
  int r = poll (&p, 1, static_cast<int> ((left + 999) / 1000));
  if (r == 0 || (r < 0 && errno == EINTR))
    return false;
  guint8 chunk[65536];
  ssize_t n = r < 0 ? -1 : recv (fd, chunk, MIN (max, sizeof (chunk)), 0);
  if (n <= 0) {
    *eof = true;
    return false;
  }
  buf.insert (buf.end (), chunk, chunk + n);
  return true;
}

bool
send_all (int fd, const void *data, gsize len)
{
  auto *p = static_cast<const guint8 *> (data);
  while (fd >= 0 && len > 0) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false; /* the server may legitimately have hung up */
    p += n;
    len -= n;
  }
  return fd >= 0;
}

std::string
lower (std::string s)
{
  for (auto & c : s)
    c = g_ascii_tolower (c);
  return s;
}

gssize
find (const Bytes & buf, const std::string & needle, gsize from = 0)
{
  if (buf.size () < needle.size () || from > buf.size () - needle.size ())
    return -1;
  auto it = std::search (buf.begin () + from, buf.end (), needle.begin (), needle.end ());
  return it == buf.end () ? -1 : it - buf.begin ();
}

bool
starts_with (const Bytes & buf, gsize at, const std::string & s)
{
  return buf.size () >= at + s.size () && std::equal (s.begin (), s.end (), buf.begin () + at);
}

/* "Name: value" lines separated by CRLF; lines without a colon are skipped. */
void
parse_header_lines (const std::string & block, std::map<std::string, std::string> & headers)
{
  gsize pos = 0;
  while (pos < block.size ()) {
    gsize end = block.find ("\r\n", pos);
    if (end == std::string::npos)
      end = block.size ();
    std::string line = block.substr (pos, end - pos);
    gsize colon = line.find (':');
    if (colon != std::string::npos) {
      gsize start = line.find_first_not_of (" \t", colon + 1);
      headers[lower (line.substr (0, colon))] =
          start == std::string::npos ? "" : line.substr (start);
    }
    pos = end + 2;
  }
}

/* "HTTP/1.1 200 OK\r\nA: b\r\n..." (without the blank line); returns the status, 0 if none. */
int
parse_head (const std::string & head, std::map<std::string, std::string> & headers)
{
  int status = 0;
  gsize eol = head.find ("\r\n");
  if (sscanf (head.substr (0, eol).c_str (), "HTTP/%*d.%*d %d", &status) != 1)
    return 0;
  if (eol != std::string::npos)
    parse_header_lines (head.substr (eol + 2), headers);
  return status;
}

/* Reads up to the end of a response head; returns the head, leaves what follows in @buf. */
bool
read_head (int fd, Bytes & buf, std::string & head, gint64 deadline_us)
{
  bool eof = false;
  for (;;) {
    gssize end = find (buf, "\r\n\r\n");
    if (end >= 0) {
      head.assign (buf.begin (), buf.begin () + end);
      buf.erase (buf.begin (), buf.begin () + end + 4);
      return true;
    }
    if (!read_some (fd, buf, deadline_us, &eof))
      return false;
  }
}

std::string
host_line (guint port)
{
  return "Host: 127.0.0.1:" + std::to_string (port) + "\r\n";
}

}  // namespace

int
connect_loopback (guint port, int rcvbuf)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (rcvbuf > 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa)) != 0) {
    close (fd);
    return -1;
  }
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  return fd;
}

/* Binds @fd to a port the kernel picks on 127.0.0.1; the port, or 0. */
static guint
bind_any_loopback_port (int fd)
{
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t len = sizeof (sa);
  if (bind (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa)) == 0 &&
      getsockname (fd, reinterpret_cast<struct sockaddr *> (&sa), &len) == 0)
    return ntohs (sa.sin_port);
  return 0;
}

guint
free_port ()
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port = bind_any_loopback_port (fd);
  close (fd);
  return port;
}

ClosedPort::ClosedPort () : fd_ (socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
{
  port_ = bind_any_loopback_port (fd_);
}

ClosedPort::~ClosedPort ()
{
  if (fd_ >= 0)
    close (fd_);
}

std::string
HttpResponse::header (const std::string & name) const
{
  auto it = headers.find (lower (name));
  return it == headers.end () ? "" : it->second;
}

HttpResponse
http_request (guint port, const std::string & method, const std::string & path,
    const std::string & extra_headers, int timeout_ms)
{
  HttpResponse resp;
  int fd = connect_loopback (port);
  if (fd < 0)
    return resp;
  std::string req = method + " " + path + " HTTP/1.1\r\n" + host_line (port) +
      "Connection: close\r\n" + extra_headers + "\r\n";
  send_all (fd, req.data (), req.size ());
  gint64 deadline = deadline_after (timeout_ms);
  Bytes buf;
  std::string head;
  if (read_head (fd, buf, head, deadline)) {
    resp.status = parse_head (head, resp.headers);
    std::string cl = resp.header ("content-length");
    gsize want = cl.empty () ? G_MAXSIZE : g_ascii_strtoull (cl.c_str (), nullptr, 10);
    if (method == "HEAD")
      want = 0;
    bool eof = false;
    while (buf.size () < want && read_some (fd, buf, deadline, &eof)) {
    }
    if (buf.size () > want)
      buf.resize (want);
    resp.body = std::move (buf);
  }
  close (fd);
  return resp;
}

/* ---------------------------------------------------------------------------------------------- */

MjpegReader::MjpegReader (guint port, const std::string & path, const std::string & extra_headers,
    int rcvbuf, int read_delay_ms)
  : read_delay_ms_ (read_delay_ms)
{
  fd_ = connect_loopback (port, rcvbuf);
  std::string req = "GET " + path + " HTTP/1.1\r\n" + host_line (port) + extra_headers + "\r\n";
  send_all (fd_, req.data (), req.size ());
  std::string head;
  if (!read_head (fd_, buf_, head, deadline_after (10000)))
    return;
  status_ = parse_head (head, headers_);
  std::string type = header ("content-type");
  gsize at = type.find ("boundary=");
  if (at != std::string::npos) {
    boundary_ = type.substr (at + 9);
    boundary_.erase (std::min (boundary_.find (';'), boundary_.size ()));
    if (boundary_.size () >= 2 && boundary_.front () == '"')
      boundary_ = boundary_.substr (1, boundary_.find ('"', 1) - 1);
  }
}

MjpegReader::~MjpegReader ()
{
  if (fd_ >= 0)
    close (fd_);
}

std::string
MjpegReader::header (const std::string & name) const
{
  auto it = headers_.find (lower (name));
  return it == headers_.end () ? "" : it->second;
}

bool
MjpegReader::fill (gint64 deadline_us)
{
  if (eof_)
    return false;
  bool ok = read_some (fd_, buf_, deadline_us, &eof_, read_delay_ms_ ? 4096 : 65536);
  if (ok && read_delay_ms_)
    g_usleep (read_delay_ms_ * 1000);
  return ok;
}

void
MjpegReader::pump (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  while (fill (deadline)) {
  }
}

bool
MjpegReader::next_part (Bytes & body, int timeout_ms)
{
  if (boundary_.empty () || ended_)
    return false;
  gint64 deadline = deadline_after (timeout_ms);
  const std::string open = "--" + boundary_;
  for (;;) {
    gsize skip = 0;
    while (starts_with (buf_, skip, "\r\n"))
      skip += 2;
    buf_.erase (buf_.begin (), buf_.begin () + skip);
    if (buf_.size () >= open.size () + 2) {
      if (!starts_with (buf_, 0, open))
        return false; /* not a part */
      if (starts_with (buf_, open.size (), "--")) {
        ended_ = true;
        return false;
      }
      gssize head_end = find (buf_, "\r\n\r\n", open.size ());
      if (head_end >= 0) {
        std::map<std::string, std::string> headers;
        parse_header_lines (std::string (buf_.begin () + open.size (), buf_.begin () + head_end),
            headers);
        gsize start = head_end + 4;
        auto cl = headers.find ("content-length");
        if (cl != headers.end ()) {
          gsize len = g_ascii_strtoull (cl->second.c_str (), nullptr, 10);
          if (buf_.size () >= start + len) {
            body.assign (buf_.begin () + start, buf_.begin () + start + len);
            buf_.erase (buf_.begin (), buf_.begin () + start + len);
            part_headers_ = std::move (headers);
            return true;
          }
        } else {
          gssize next = find (buf_, "\r\n" + open, start);
          if (next >= 0) {
            body.assign (buf_.begin () + start, buf_.begin () + next);
            /* The CRLF belongs to the next delimiter: what stays buffered is the next part. */
            buf_.erase (buf_.begin (), buf_.begin () + next + 2);
            part_headers_ = std::move (headers);
            return true;
          }
        }
      }
    }
    if (!fill (deadline))
      return false;
  }
}

bool
MjpegReader::wait_closed (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  while (!eof_) {
    if (!fill (deadline) && !eof_)
      return false;
  }
  if (!boundary_.empty () && find (buf_, "--" + boundary_ + "--") >= 0)
    ended_ = true;
  return true;
}

/* ---------------------------------------------------------------------------------------------- */

Bytes
ws_client_frame (guint8 opcode, const guint8 *payload, gsize len, bool fin, bool masked, guint8 rsv)
{
  Bytes f;
  f.push_back ((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f));
  guint8 mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    f.push_back (mask_bit | len);
  } else if (len <= 0xffff) {
    f.push_back (mask_bit | 126);
    f.push_back (len >> 8);
    f.push_back (len & 0xff);
  } else {
    f.push_back (mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back ((static_cast<guint64> (len) >> shift) & 0xff);
  }
  guint8 mask[4] = { 0, 0, 0, 0 };
  if (masked) {
    /* g_random_int: senders run on several threads at once. */
    for (auto & m : mask)
      m = static_cast<guint8> (g_random_int ());
    f.insert (f.end (), mask, mask + 4);
  }
  gsize at = f.size ();
  if (len > 0)
    f.insert (f.end (), payload, payload + len);
  for (gsize i = 0; i < len; i++)
    f[at + i] ^= mask[i & 3];
  return f;
}

WsClient::WsClient (guint port, const std::string & path, const std::string & extra_headers)
{
  fd_ = connect_loopback (port);
  guint8 nonce[16];
  for (auto & b : nonce)
    b = static_cast<guint8> (g_random_int ());
  g_autofree gchar *key = g_base64_encode (nonce, sizeof (nonce));
  std::string req = "GET " + path + " HTTP/1.1\r\n" + host_line (port) +
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
      "\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n";
  send_all (fd_, req.data (), req.size ());
  std::string head;
  std::map<std::string, std::string> headers;
  if (read_head (fd_, buf_, head, deadline_after (10000)))
    status_ = parse_head (head, headers);
}

WsClient::~WsClient ()
{
  if (fd_ >= 0)
    ::close (fd_);
}

std::string
WsClient::local_address () const
{
  struct sockaddr_in sa = {};
  socklen_t len = sizeof (sa);
  if (fd_ < 0 || getsockname (fd_, reinterpret_cast<struct sockaddr *> (&sa), &len) != 0)
    return "";
  char host[INET_ADDRSTRLEN];
  inet_ntop (AF_INET, &sa.sin_addr, host, sizeof (host));
  return std::string (host) + ":" + std::to_string (ntohs (sa.sin_port));
}

bool
WsClient::send_frame (guint8 opcode, const guint8 *payload, gsize len, bool fin, bool masked,
    guint8 rsv)
{
  if (status_ != 101)
    return false;
  Bytes f = ws_client_frame (opcode, payload, len, fin, masked, rsv);
  return send_all (fd_, f.data (), f.size ());
}

bool
WsClient::send_raw (const guint8 *data, gsize len)
{
  return send_all (fd_, data, len);
}

bool
WsClient::fill (gsize need, gint64 deadline_us)
{
  bool eof = false;
  while (buf_.size () < need) {
    if (!read_some (fd_, buf_, deadline_us, &eof))
      return false;
  }
  return true;
}

bool
WsClient::read_frame (Frame & frame, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  if (!fill (2, deadline))
    return false;
  guint64 len = buf_[1] & 0x7f;
  gsize at = 2;
  if (len == 126) {
    if (!fill (4, deadline))
      return false;
    len = (buf_[2] << 8) | buf_[3];
    at = 4;
  } else if (len == 127) {
    if (!fill (10, deadline))
      return false;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = (len << 8) | buf_[2 + i];
    at = 10;
  }
  if (!fill (at + len, deadline))
    return false;
  frame.opcode = buf_[0] & 0x0f;
  frame.payload.assign (buf_.begin () + at, buf_.begin () + at + len);
  buf_.erase (buf_.begin (), buf_.begin () + at + len);
  return true;
}

int
WsClient::wait_close (std::string *reason, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  Frame f;
  while (g_get_monotonic_time () < deadline) {
    if (!read_frame (f, (deadline - g_get_monotonic_time () + 999) / 1000))
      return g_get_monotonic_time () >= deadline ? -1 : 0;
    if (f.opcode == 8) {
      if (f.payload.size () < 2)
        return 1005;
      if (reason)
        reason->assign (f.payload.begin () + 2, f.payload.end ());
      return (f.payload[0] << 8) | f.payload[1];
    }
  }
  return -1;
}

void
WsClient::close (guint16 code)
{
  guint8 payload[2] = { static_cast<guint8> (code >> 8), static_cast<guint8> (code & 0xff) };
  send_frame (8, payload, 2);
}

void
WsClient::close_and_hang_up ()
{
  guint8 payload[2] = { 0x03, 0xe8 };
  if (send_frame (8, payload, 2))
    wait_close (nullptr, 2000);
  if (fd_ >= 0)
    ::close (fd_);
  fd_ = -1;
}

bool
WsClient::wait_eof (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  bool eof = false;
  while (!eof) {
    buf_.clear ();
    if (!read_some (fd_, buf_, deadline, &eof) && !eof)
      return false;
  }
  return true;
}

}  // namespace crtest
