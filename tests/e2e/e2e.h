/* End-to-end test helpers: the real camrelay binary in a child process, and real clients on
 * loopback sockets (a WebSocket camera like the ESP32 firmware, MJPEG viewers, plain HTTP).
 *
 * Every child runs in its own process group and is killed with it when its handle goes, so a
 * failing test leaves nothing behind. Waits are bounded by deadlines, never by sleeping. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace e2e {

using Bytes = std::vector<guint8>;

/* ---------------------------------------------------------------------------------------------- */
/* Paths and files                                                                                */

/* The camrelay binary: $CAMRELAY_PROGRAM, else $CAMRELAY_BUILD_ROOT/pipeline/camrelay. */
std::string program_path ();
/* A file of the source tree ($CAMRELAY_SOURCE_ROOT). */
std::string source_path (const std::string & relative);

/* A fresh directory, removed with everything in it when the object goes. */
class TempDir
{
public:
  TempDir ();
  ~TempDir ();
  TempDir (const TempDir &) = delete;
  TempDir & operator= (const TempDir &) = delete;
  const std::string & path () const { return path_; }
  std::string file (const std::string & name) const;
  /* Writes @name below the directory; returns its path. */
  std::string write (const std::string & name, const std::string & text) const;
  std::string write (const std::string & name, const Bytes & data) const;

private:
  std::string path_;
};

Bytes read_file (const std::string & path);

/* ---------------------------------------------------------------------------------------------- */
/* Child processes                                                                                */

class Process
{
public:
  /* Starts @argv (PATH searched) with stdout and stderr collected together. @env entries are
   * added to (or replace) the test's own environment; @cwd = "" keeps the test's. */
  Process (const std::vector<std::string> & argv,
      const std::map<std::string, std::string> & env = {}, const std::string & cwd = "");
  ~Process ();
  Process (const Process &) = delete;
  Process & operator= (const Process &) = delete;

  int pid () const { return pid_; }
  std::string output () const;
  /* True once @needle appeared in the output, false after @timeout_ms or when the process
   * ended without printing it. */
  bool wait_for_output (const std::string & needle, int timeout_ms = 20000);
  void send_signal (int signum);
  /* The exit code; -1 if it is still running after @timeout_ms; 128 + N if killed by signal N. */
  int wait (int timeout_ms);
  bool exited () const { return exited_; }
  /* Kills the whole process group and reaps the child. */
  void kill ();

private:
  void reader ();

  int pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable cond_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

struct RunResult
{
  int code = -1;         /* -1: timed out (the process group was killed) */
  std::string output;
};

/* Runs a command to completion. */
RunResult run (const std::vector<std::string> & argv, int timeout_ms = 60000,
    const std::map<std::string, std::string> & env = {}, const std::string & cwd = "");

/* Environment for a child that is not instrumented but loads our plugin (gst-launch-1.0): in a
 * sanitizer build it needs the sanitizer runtime preloaded (tests/meson.build says which). */
std::map<std::string, std::string> gst_child_env ();

/* True if @program is on PATH. */
bool installed (const char *program);

/* camrelay started with @args; port() is the one its start-up line names. */
class Camrelay : public Process
{
public:
  explicit Camrelay (const std::vector<std::string> & args,
      const std::map<std::string, std::string> & env = {}, const std::string & cwd = "");
  /* Waits for the start-up line; false if it did not come. */
  bool started (int timeout_ms = 20000);
  guint port () const { return port_; }

private:
  guint port_ = 0;
};

/* A TCP port that was free a moment ago on 127.0.0.1. */
guint free_port ();

/* ---------------------------------------------------------------------------------------------- */
/* Network clients                                                                                */

/* @rcvbuf > 0 sets a small receive buffer. */
int connect_loopback (guint port, int rcvbuf = 0);

struct HttpResponse
{
  int status = 0;
  std::map<std::string, std::string> headers;   /* lower-case names */
  Bytes body;
  std::string header (const std::string & name) const;
  std::string text () const { return std::string (body.begin (), body.end ()); }
};

HttpResponse http_get (guint port, const std::string & path, const std::string & extra_headers = "",
    int timeout_ms = 10000);

/* Reads an MJPEG (multipart/x-mixed-replace) response part by part. */
class MjpegViewer
{
public:
  /* @rcvbuf > 0: a small socket receive buffer, so that a slow reader is felt by the server;
   * @read_delay_ms: a pause after every read (a viewer on a slow link). */
  MjpegViewer (guint port, const std::string & path, int rcvbuf = 0, int read_delay_ms = 0);
  ~MjpegViewer ();
  MjpegViewer (const MjpegViewer &) = delete;
  MjpegViewer & operator= (const MjpegViewer &) = delete;

  int status () const { return status_; }
  std::string header (const std::string & name) const;
  const std::string & boundary () const { return boundary_; }
  /* The next complete part; false at the end of the response or after @timeout_ms. */
  bool next_part (Bytes & part, int timeout_ms = 10000);
  /* True once the closing delimiter "--BOUNDARY--" arrived. */
  bool ended () const { return ended_; }
  /* Reads until the server closes the connection; false after @timeout_ms. */
  bool wait_closed (int timeout_ms);

private:
  bool fill (gint64 deadline_us);

  int fd_ = -1;
  int status_ = 0;
  int read_delay_ms_ = 0;
  std::map<std::string, std::string> headers_;
  std::string boundary_;
  std::string buf_;
  bool eof_ = false;
  bool ended_ = false;
};

/* A camera as the ESP32 firmware behaves: one WebSocket, a text greeting, binary frames. */
class WsCamera
{
public:
  WsCamera (guint port, const std::string & path, const std::string & extra_headers = "");
  ~WsCamera ();
  WsCamera (const WsCamera &) = delete;
  WsCamera & operator= (const WsCamera &) = delete;

  /* The HTTP status of the handshake answer (101 when connected). */
  int status () const { return status_; }
  /* "127.0.0.1:PORT" as the server sees this connection. */
  std::string local_address () const;
  bool send_text (const std::string & text);
  bool send_binary (const Bytes & data);
  /* Waits for the server's close frame; returns its code, or -1 (no close frame in time), or 0
   * (the connection ended without one). */
  int wait_close (int timeout_ms);
  /* Sends a close frame (1000) and waits for the answer. */
  void close ();

private:
  bool send_frame (guint8 opcode, const guint8 * data, gsize len);

  int fd_ = -1;
  int status_ = 0;
  std::string pending_;
};

/* ---------------------------------------------------------------------------------------------- */
/* Frames and pictures                                                                            */

/* @count distinct JPEG frames (a moving ball, about 9 KB at VGA, so above the 5000-byte limit). */
std::vector<Bytes> make_frames (int count, int width = 640, int height = 480);
/* One JPEG of a single colour (0xRRGGBB). Small: below the default min-size. */
Bytes make_solid_jpeg (guint32 rgb, int width = 640, int height = 480);
/* Width and height from a JPEG's SOF segment; false if there is none. */
bool jpeg_size (const Bytes & jpeg, int *width, int *height);

/* Decodes a PNG or JPEG file to packed RGB. */
bool decode_rgb (const std::string & path, Bytes & rgb, int *width, int *height);

/* ---------------------------------------------------------------------------------------------- */
/* JSON                                                                                           */

/* Parses @text; the returned node is owned by the Json object. */
class Json
{
public:
  explicit Json (const std::string & text);
  ~Json ();
  bool ok () const { return root_ != nullptr; }
  JsonObject *root () const;
  /* The camera object named @name in "cameras", or nullptr. */
  JsonObject *camera (const std::string & name) const;

private:
  JsonParser *parser_ = nullptr;
  JsonNode *root_ = nullptr;
};

}  // namespace e2e
