/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network clients for tests: plain blocking sockets on 127.0.0.1 with deadlines, so that a test can
 * send exactly the bytes it means (broken ones included) and read exactly what the server wrote. */
#pragma once

#include <glib.h>

#include <map>
#include <string>
#include <vector>

namespace crtest {

using Bytes = std::vector<guint8>;

/* A connected TCP socket to 127.0.0.1:@port with TCP_NODELAY, or -1. @rcvbuf > 0 sets a small
 * receive buffer before connecting, so that the server sees a small window from the start. */
int connect_loopback (guint port, int rcvbuf = 0);

/* A TCP port that was free on 127.0.0.1 a moment ago (bound, then released); 0 on failure. */
guint free_port ();

/* A TCP port on 127.0.0.1 that refuses every connection while this object lives: bound, never
 * listening, so no other server of the test (or camrelay) can be handed it as a free port. */
class ClosedPort
{
public:
  ClosedPort ();
  ~ClosedPort ();
  ClosedPort (const ClosedPort &) = delete;
  ClosedPort & operator= (const ClosedPort &) = delete;
  guint port () const { return port_; }

private:
  int fd_ = -1;
  guint port_ = 0;
};

struct HttpResponse
{
  int status = 0;                             /* 0: no answer (refused, timed out) */
  std::map<std::string, std::string> headers; /* lower-case names */
  Bytes body;
  std::string header (const std::string & name) const;
  std::string text () const { return std::string (body.begin (), body.end ()); }
};

/* One request with "Connection: close", read until the server closes or Content-Length is
 * complete. @extra_headers: whole lines, each ending in "\r\n". */
HttpResponse http_request (guint port, const std::string & method, const std::string & path,
    const std::string & extra_headers = "", int timeout_ms = 10000);

inline HttpResponse
http_get (guint port, const std::string & path, const std::string & extra_headers = "",
    int timeout_ms = 10000)
{
  return http_request (port, "GET", path, extra_headers, timeout_ms);
}

/* Reads an MJPEG (multipart/x-mixed-replace) response part by part. The stream must be exactly
 * "--BOUNDARY", headers, blank line, body, repeated: anything else ends the reading. */
class MjpegReader
{
public:
  /* @rcvbuf > 0: a small socket receive buffer, so that a slow reader is felt by the server;
   * @read_delay_ms > 0: a pause after every read of at most 4 KiB (a viewer on a slow link). */
  MjpegReader (guint port, const std::string & path = "/", const std::string & extra_headers = "",
      int rcvbuf = 0, int read_delay_ms = 0);
  ~MjpegReader ();
  MjpegReader (const MjpegReader &) = delete;
  MjpegReader & operator= (const MjpegReader &) = delete;

  int status () const { return status_; }
  const std::string & boundary () const { return boundary_; }
  std::string header (const std::string & name) const;

  /* The next complete part body; false at the end of the response, on anything that is not a
   * part, or after @timeout_ms. */
  bool next_part (Bytes & body, int timeout_ms = 10000);
  /* Headers (lower-case names) of the part most recently returned. */
  const std::map<std::string, std::string> & part_headers () const { return part_headers_; }
  /* True once the closing delimiter "--BOUNDARY--" arrived. */
  bool ended () const { return ended_; }
  /* Reads until the server closes the connection; false if it did not within @timeout_ms. */
  bool wait_closed (int timeout_ms = 5000);
  /* Bytes received so far that are not yet consumed as parts. */
  gsize buffered () const { return buf_.size (); }
  /* Reads whatever arrives within @timeout_ms, without parsing. */
  void pump (int timeout_ms);
  int fd () const { return fd_; }

private:
  bool fill (gint64 deadline_us);

  int fd_ = -1;
  int status_ = 0;
  int read_delay_ms_ = 0;
  std::map<std::string, std::string> headers_;
  std::map<std::string, std::string> part_headers_;
  std::string boundary_;
  Bytes buf_;
  bool eof_ = false;
  bool ended_ = false;
};

/* A WebSocket client written for tests. Used plainly it behaves like the ESP32 firmware (one
 * connection, a text greeting, binary frames); it can also send frames a well-behaved client
 * never would, or raw bytes. */
class WsClient
{
public:
  /* Connects and performs the opening handshake; status() is the HTTP status of the answer (101
   * when upgraded). @extra_headers: whole lines, each ending in "\r\n". */
  WsClient (guint port, const std::string & path = "/", const std::string & extra_headers = "");
  ~WsClient ();
  WsClient (const WsClient &) = delete;
  WsClient & operator= (const WsClient &) = delete;

  int status () const { return status_; }
  /* "127.0.0.1:PORT" as the server sees this connection. */
  std::string local_address () const;

  /* One frame (masked unless @masked is false); false if the connection is not upgraded or the
   * server has hung up. */
  bool send_frame (guint8 opcode, const guint8 *payload, gsize len, bool fin = true,
      bool masked = true, guint8 rsv = 0);
  bool send_binary (const Bytes & data) { return send_frame (2, data.data (), data.size ()); }
  bool send_text (const std::string & text)
  {
    return send_frame (1, reinterpret_cast<const guint8 *> (text.data ()), text.size ());
  }
  /* Raw bytes on the socket, e.g. half a frame, whatever the handshake's outcome. */
  bool send_raw (const guint8 *data, gsize len);
  bool send_raw (const Bytes & data) { return send_raw (data.data (), data.size ()); }

  struct Frame
  {
    guint8 opcode = 0;
    Bytes payload;
  };
  /* The next frame from the server; false on timeout or end of the TCP connection. */
  bool read_frame (Frame & frame, int timeout_ms = 5000);
  /* Reads frames until a close frame; returns its code (1005 if it has none), 0 if the TCP
   * connection ended without one, -1 on timeout. @reason receives the close reason. */
  int wait_close (std::string *reason = nullptr, int timeout_ms = 5000);
  /* Sends a close frame with @code. */
  void close (guint16 code = 1000);
  /* The whole closing handshake: a close frame (1000), the server's answer (up to 2 s), then the
   * socket is closed. */
  void close_and_hang_up ();
  /* True once the server has closed the TCP connection (EOF within the timeout). */
  bool wait_eof (int timeout_ms = 5000);
  int fd () const { return fd_; }

private:
  bool fill (gsize need, gint64 deadline_us);

  int fd_ = -1;
  int status_ = 0;
  Bytes buf_;
};

/* A client frame as WsClient sends it, for tests that cut, concatenate or parse frames. */
Bytes ws_client_frame (guint8 opcode, const guint8 *payload, gsize len, bool fin = true,
    bool masked = true, guint8 rsv = 0);

}  // namespace crtest
