/* Network clients for tests: plain blocking sockets on loopback with timeouts, so a test can send
 * exactly the bytes it means (including broken ones) and read exactly what the server wrote. */
#pragma once

#include <glib.h>

#include <map>
#include <string>
#include <vector>

namespace crtest {

using Bytes = std::vector<guint8>;

/* Connects to 127.0.0.1:@port; aborts the test binary on failure. */
int connect_loopback (guint port, const char *host = "127.0.0.1");

/* A free TCP port on 127.0.0.1 (bound, then released). */
guint free_port ();

struct HttpResponse
{
  int status = 0;
  std::map<std::string, std::string> headers;   /* lower-case names */
  Bytes body;
  std::string header (const std::string & name) const;
};

/* One request, reading until the server closes or Content-Length is complete. */
HttpResponse http_request (guint port, const std::string & method, const std::string & path,
    const std::string & extra_headers = "", int timeout_ms = 5000);

/* Reads an MJPEG (multipart/x-mixed-replace) response part by part. */
class MjpegReader
{
public:
  MjpegReader (guint port, const std::string & path = "/", const std::string & extra_headers = "");
  ~MjpegReader ();
  MjpegReader (const MjpegReader &) = delete;
  MjpegReader & operator= (const MjpegReader &) = delete;

  int status () const { return status_; }
  const std::string & boundary () const { return boundary_; }
  std::string header (const std::string & name) const;

  /* The next complete part body; false on timeout or end of stream. */
  bool next_part (Bytes & body, int timeout_ms = 5000);
  /* Headers of the part most recently returned. */
  const std::map<std::string, std::string> & part_headers () const { return part_headers_; }
  /* True once the closing delimiter "--boundary--" was seen. */
  bool ended () const { return ended_; }
  /* Waits for the connection to close; true if it did within the timeout. */
  bool wait_closed (int timeout_ms = 5000);
  /* Bytes received so far that are not yet consumed as parts. */
  gsize buffered () const { return buf_.size (); }
  /* Reads whatever is available within @timeout_ms, without parsing. */
  void pump (int timeout_ms);
  int fd () const { return fd_; }

private:
  bool fill (int timeout_ms);

  int fd_ = -1;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  std::map<std::string, std::string> part_headers_;
  std::string boundary_;
  Bytes buf_;
  bool eof_ = false;
  bool ended_ = false;
};

/* A WebSocket client written for tests: it can send frames a well-behaved client never would. */
class RawWs
{
public:
  /* Connects and performs the opening handshake; status() is the HTTP status of the answer. */
  RawWs (guint port, const std::string & path = "/", const std::string & extra_headers = "");
  ~RawWs ();
  RawWs (const RawWs &) = delete;
  RawWs & operator= (const RawWs &) = delete;

  int status () const { return status_; }
  const std::string & response_head () const { return head_; }

  void send_frame (guint8 opcode, const guint8 * payload, gsize len, bool fin = true,
      bool masked = true, guint8 rsv = 0);
  void send_binary (const Bytes & data) { send_frame (2, data.data (), data.size ()); }
  void send_text (const std::string & text)
  {
    send_frame (1, reinterpret_cast<const guint8 *> (text.data ()), text.size ());
  }
  /* Raw bytes on the socket, e.g. half a frame. */
  void send_raw (const guint8 * data, gsize len);
  void send_raw (const Bytes & data) { send_raw (data.data (), data.size ()); }

  struct Frame
  {
    guint8 opcode = 0;
    Bytes payload;
  };
  /* The next frame from the server; false on timeout or close of the TCP connection. */
  bool read_frame (Frame & frame, int timeout_ms = 5000);
  /* Reads frames until a close frame; returns its code, or 0 if the TCP connection just ended,
   * or -1 on timeout. @reason receives the close reason. */
  int wait_close (std::string * reason = nullptr, int timeout_ms = 5000);
  /* Sends a close frame with @code. */
  void close (guint16 code = 1000);
  /* True once the server has closed the TCP connection (reads EOF within the timeout). */
  bool wait_eof (int timeout_ms = 5000);
  int fd () const { return fd_; }

private:
  bool fill (gsize need, int timeout_ms);

  int fd_ = -1;
  int status_ = 0;
  std::string head_;
  Bytes buf_;
};

/* Builds a masked client frame, for tests that cut or concatenate frames. */
Bytes ws_client_frame (guint8 opcode, const guint8 * payload, gsize len, bool fin = true,
    bool masked = true, guint8 rsv = 0);

}  // namespace crtest
