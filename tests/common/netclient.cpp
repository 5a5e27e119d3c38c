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
#include <random>

namespace crtest {

namespace {

gint64
deadline_after (int timeout_ms)
{
  return g_get_monotonic_time () + static_cast<gint64> (timeout_ms) * 1000;
}

int
ms_left (gint64 deadline)
{
  gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
  return left < 0 ? 0 : static_cast<int> (left);
}

/* Reads what is available into @buf; false on EOF/error, or timeout (then *timed_out). */
bool
read_into (int fd, Bytes & buf, int timeout_ms, bool *timed_out)
{
  *timed_out = false;
  struct pollfd p = { fd, POLLIN, 0 };
  int r = poll (&p, 1, timeout_ms);
  if (r == 0) {
    *timed_out = true;
    return false;
  }
  if (r < 0)
    return false;
  guint8 chunk[65536];
  ssize_t n = recv (fd, chunk, sizeof (chunk), 0);
  if (n <= 0)
    return false;
  buf.insert (buf.end (), chunk, chunk + n);
  return true;
}

void
send_all (int fd, const guint8 * data, gsize len)
{
  while (len > 0) {
    ssize_t n = send (fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return;                   /* the server may legitimately have hung up */
    }
    data += n;
    len -= n;
  }
}

std::string
lower (std::string s)
{
  std::transform (s.begin (), s.end (), s.begin (),[](unsigned char c) {
        return std::tolower (c);
      });
  return s;
}

/* Parses "HTTP/1.1 200 OK\r\nA: b\r\n..." (without the final blank line). */
int
parse_head (const std::string & head, std::map<std::string, std::string> & headers)
{
  int status = 0;
  gsize eol = head.find ("\r\n");
  std::string first = head.substr (0, eol);
  if (sscanf (first.c_str (), "HTTP/%*d.%*d %d", &status) != 1)
    return 0;
  gsize pos = eol == std::string::npos ? head.size () : eol + 2;
  while (pos < head.size ()) {
    gsize end = head.find ("\r\n", pos);
    if (end == std::string::npos)
      end = head.size ();
    std::string line = head.substr (pos, end - pos);
    gsize colon = line.find (':');
    if (colon != std::string::npos) {
      std::string value = line.substr (colon + 1);
      value.erase (0, value.find_first_not_of (" \t"));
      headers[lower (line.substr (0, colon))] = value;
    }
    pos = end + 2;
  }
  return status;
}

gssize
find (const Bytes & buf, const std::string & needle, gsize from = 0)
{
  if (buf.size () < needle.size () || from > buf.size () - needle.size ())
    return -1;
  auto it = std::search (buf.begin () + from, buf.end (), needle.begin (), needle.end ());
  return it == buf.end ()? -1 : it - buf.begin ();
}

/* Reads up to the end of the response head; returns the head, leaves the rest in @buf. */
bool
read_head (int fd, Bytes & buf, std::string & head, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  for (;;) {
    gssize end = find (buf, "\r\n\r\n");
    if (end >= 0) {
      head.assign (buf.begin (), buf.begin () + end);
      buf.erase (buf.begin (), buf.begin () + end + 4);
      return true;
    }
    bool timed_out;
    if (!read_into (fd, buf, ms_left (deadline), &timed_out))
      return false;
  }
}

}  // namespace

int
connect_loopback (guint port, const char *host)
{
  bool v6 = strchr (host, ':') != nullptr;
  int fd = socket (v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc;
  if (v6) {
    struct sockaddr_in6 sa = { };
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons (port);
    inet_pton (AF_INET6, host, &sa.sin6_addr);
    rc = connect (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa));
  } else {
    struct sockaddr_in sa = { };
    sa.sin_family = AF_INET;
    sa.sin_port = htons (port);
    inet_pton (AF_INET, host, &sa.sin_addr);
    rc = connect (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa));
  }
  if (rc < 0) {
    fprintf (stderr, "connect %s:%u: %s\n", host, port, strerror (errno));
    abort ();
  }
  return fd;
}

guint
free_port ()
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = { };
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  bind (fd, reinterpret_cast<struct sockaddr *> (&sa), sizeof (sa));
  socklen_t len = sizeof (sa);
  getsockname (fd, reinterpret_cast<struct sockaddr *> (&sa), &len);
  guint port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

std::string
HttpResponse::header (const std::string & name) const
{
  auto it = headers.find (lower (name));
  return it == headers.end ()? "" : it->second;
}

HttpResponse
http_request (guint port, const std::string & method, const std::string & path,
    const std::string & extra_headers, int timeout_ms)
{
  HttpResponse resp;
  int fd = connect_loopback (port);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Connection: close\r\n" + extra_headers + "\r\n";
  send_all (fd, reinterpret_cast<const guint8 *> (req.data ()), req.size ());
  Bytes buf;
  std::string head;
  gint64 deadline = deadline_after (timeout_ms);
  if (read_head (fd, buf, head, timeout_ms)) {
    resp.status = parse_head (head, resp.headers);
    std::string cl = resp.header ("content-length");
    gssize want = cl.empty () || method == "HEAD" ? -1 : atol (cl.c_str ());
    if (method == "HEAD")
      want = 0;
    bool timed_out = false;
    while ((want < 0 || static_cast<gssize> (buf.size ()) < want) &&
        read_into (fd, buf, ms_left (deadline), &timed_out)) {
    }
    if (want >= 0 && static_cast<gssize> (buf.size ()) > want)
      buf.resize (want);
    resp.body = std::move (buf);
  }
  close (fd);
  return resp;
}

/* ---------------------------------------------------------------------------------------------- */

MjpegReader::MjpegReader (guint port, const std::string & path, const std::string & extra_headers)
{
  fd_ = connect_loopback (port);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "\r\n";
  send_all (fd_, reinterpret_cast<const guint8 *> (req.data ()), req.size ());
  std::string head;
  if (!read_head (fd_, buf_, head, 5000))
    return;
  status_ = parse_head (head, headers_);
  std::string type = header ("content-type");
  gsize at = type.find ("boundary=");
  if (at != std::string::npos) {
    boundary_ = type.substr (at + 9);
    if (!boundary_.empty () && boundary_[0] == '"')
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
  return it == headers_.end ()? "" : it->second;
}

bool
MjpegReader::fill (int timeout_ms)
{
  if (eof_)
    return false;
  bool timed_out;
  if (read_into (fd_, buf_, timeout_ms, &timed_out))
    return true;
  if (!timed_out)
    eof_ = true;
  return false;
}

void
MjpegReader::pump (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  while (ms_left (deadline) > 0 && fill (ms_left (deadline))) {
  }
}

bool
MjpegReader::next_part (Bytes & body, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  std::string delim = "--" + boundary_;
  for (;;) {
    /* Skip to the delimiter line, then the part's headers. */
    gssize start = find (buf_, delim);
    gssize head_end = start >= 0 ? find (buf_, "\r\n\r\n", start) : -1;
    if (start >= 0 && buf_.size () >= start + delim.size () + 2 &&
        buf_[start + delim.size ()] == '-' && buf_[start + delim.size () + 1] == '-') {
      ended_ = true;
      return false;
    }
    if (head_end >= 0) {
      std::string head (buf_.begin () + start + delim.size (), buf_.begin () + head_end);
      part_headers_.clear ();
      parse_head ("HTTP/1.1 0 x" + head, part_headers_);
      gsize body_start = head_end + 4;
      auto cl = part_headers_.find ("content-length");
      if (cl != part_headers_.end ()) {
        gsize len = atol (cl->second.c_str ());
        if (buf_.size () >= body_start + len) {
          body.assign (buf_.begin () + body_start, buf_.begin () + body_start + len);
          buf_.erase (buf_.begin (), buf_.begin () + body_start + len);
          return true;
        }
      } else {
        gssize next = find (buf_, "\r\n" + delim, body_start);
        if (next >= 0) {
          body.assign (buf_.begin () + body_start, buf_.begin () + next);
          buf_.erase (buf_.begin (), buf_.begin () + next + 2);
          return true;
        }
      }
    }
    if (!fill (ms_left (deadline)))
      return false;
  }
}

bool
MjpegReader::wait_closed (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  while (!eof_) {
    if (ms_left (deadline) == 0)
      return false;
    fill (ms_left (deadline));
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------- */

Bytes
ws_client_frame (guint8 opcode, const guint8 * payload, gsize len, bool fin, bool masked,
    guint8 rsv)
{
  static std::mt19937 rng (12345);
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
    for (auto &m : mask)
      m = rng () & 0xff;
    f.insert (f.end (), mask, mask + 4);
  }
  gsize at = f.size ();
  f.insert (f.end (), payload, payload + len);
  for (gsize i = 0; i < len; i++)
    f[at + i] ^= mask[i & 3];
  return f;
}

RawWs::RawWs (guint port, const std::string & path, const std::string & extra_headers)
{
  fd_ = connect_loopback (port);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n";
  send_all (fd_, reinterpret_cast<const guint8 *> (req.data ()), req.size ());
  std::map<std::string, std::string> headers;
  if (read_head (fd_, buf_, head_, 5000))
    status_ = parse_head (head_, headers);
}

RawWs::~RawWs ()
{
  if (fd_ >= 0)
    ::close (fd_);
}

void
RawWs::send_frame (guint8 opcode, const guint8 * payload, gsize len, bool fin, bool masked,
    guint8 rsv)
{
  Bytes f = ws_client_frame (opcode, payload, len, fin, masked, rsv);
  send_all (fd_, f.data (), f.size ());
}

void
RawWs::send_raw (const guint8 * data, gsize len)
{
  send_all (fd_, data, len);
}

bool
RawWs::fill (gsize need, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  while (buf_.size () < need) {
    bool timed_out;
    if (!read_into (fd_, buf_, ms_left (deadline), &timed_out))
      return false;
  }
  return true;
}

bool
RawWs::read_frame (Frame & frame, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  if (!fill (2, ms_left (deadline)))
    return false;
  guint64 len = buf_[1] & 0x7f;
  gsize at = 2;
  if (len == 126) {
    if (!fill (4, ms_left (deadline)))
      return false;
    len = (buf_[2] << 8) | buf_[3];
    at = 4;
  } else if (len == 127) {
    if (!fill (10, ms_left (deadline)))
      return false;
    len = 0;
    for (int i = 0; i < 8; i++)
      len = (len << 8) | buf_[2 + i];
    at = 10;
  }
  if (!fill (at + len, ms_left (deadline)))
    return false;
  frame.opcode = buf_[0] & 0x0f;
  frame.payload.assign (buf_.begin () + at, buf_.begin () + at + len);
  buf_.erase (buf_.begin (), buf_.begin () + at + len);
  return true;
}

int
RawWs::wait_close (std::string * reason, int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  Frame f;
  while (ms_left (deadline) > 0) {
    if (!read_frame (f, ms_left (deadline)))
      return ms_left (deadline) == 0 ? -1 : 0;
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
RawWs::close (guint16 code)
{
  guint8 payload[2] = { static_cast<guint8> (code >> 8), static_cast<guint8> (code & 0xff) };
  send_frame (8, payload, 2);
}

bool
RawWs::wait_eof (int timeout_ms)
{
  gint64 deadline = deadline_after (timeout_ms);
  for (;;) {
    bool timed_out;
    buf_.clear ();
    if (!read_into (fd_, buf_, ms_left (deadline), &timed_out))
      return !timed_out;
  }
}

}  // namespace crtest
