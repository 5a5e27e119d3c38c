/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay-loadgen: cameras and viewers for an MJPEG relay, on one epoll
 * thread, reporting one JSON object per run.
 *
 *   loadgen --frames DIR --cameras 1 --fps 30 --viewers 100 --pid PID
 *   loadgen --serve --port 3002          (the trivial ceiling server)
 *   loadgen --selftest                   (wire-format checks)
 *
 * Cameras are RFC 6455 clients sending each JPEG as one masked binary
 * message, a COM segment with camera, sequence number and send time put
 * right after SOI. Viewers read the multipart/x-mixed-replace stream and
 * classify every part: live (tag with a new sequence number), repeat (the
 * same frame again), reordered, placeholder (a valid JPEG without tag) or
 * corrupt (no SOI or no EOI). Latency is the time the part's last byte was
 * read minus the send time in its tag, both CLOCK_MONOTONIC.
 *
 * The tool is built to be cheap: parts are never copied whole (the reader
 * keeps 256 head bytes and the last two), Content-Length parts are dropped
 * in the kernel with recv(MSG_TRUNC), reads share one buffer. */
#include "loadgen.h"
#include "wire.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace bench {

uint64_t
raise_nofile_limit ()
{
  rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
    getrlimit (RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace bench

namespace {

using namespace bench;

constexpr uint64_t kSecond = 1000000000ull;
constexpr size_t kReadBufSize = 256 * 1024;
/* Enough for the end of a part, a boundary with its headers and the next
 * part's head. */
constexpr size_t kSmallRead = 1024;

struct Options
{
  std::string host = "127.0.0.1";
  int port = 3001;

  int cameras = 1;
  double fps = 30; /* 0 = as fast as the socket takes them */
  std::string frames_dir;
  std::string camera_path = "/ws";
  bool greeting = false;

  int viewers = 1;
  std::string path = "/";
  bool content_length = false;
  int throttled = 0;
  double throttle_rate = 65536;
  int throttle_rcvbuf = 4096;
  bool skip_bodies = true;

  double duration = 10;
  double warmup = 2;
  double ramp_timeout = 20;
  int max_inflight = 64;

  int pid = 0;
  std::string label;
  bool verbose = false;
};

bool g_verbose = false;

/* PATH with its first "%d" replaced by @n: camera N on /ws/camN, a viewer
 * of camera N on /stream/camN. */
std::string
numbered_path (const std::string & path, uint32_t n)
{
  size_t at = path.find ("%d");
  if (at == std::string::npos)
    return path;
  return path.substr (0, at) + std::to_string (n) + path.substr (at + 2);
}

void logf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

void
logf (const char *fmt, ...)
{
  if (!g_verbose)
    return;
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "loadgen: ");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

/* ---- Random masks: xorshift64*, seeded from the kernel ------------------ */

class Rng
{
public:
  Rng ()
  {
    if (getrandom (&s_, sizeof s_, 0) != sizeof s_ || s_ == 0)
      s_ = now_ns () | 1;
  }
  uint64_t next ()
  {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }

private:
  uint64_t s_ = 0;
};

Rng g_rng;

/* ---- /proc sampling ----------------------------------------------------- */

struct ProcSample
{
  bool ok = false;
  /* utime + stime from /proc/P/stat: all threads, dead ones included, in
   * clock ticks (10 ms). */
  double cpu_s = 0;
  /* Sum of the live threads' run time from /proc/P/task/T/schedstat, in
   * nanoseconds: what makes 0.1% of a core measurable in a few seconds. */
  double sched_s = -1;
  long rss_kib = 0;
  long hwm_kib = 0;
  long threads = 0;
  /* Voluntary + involuntary context switches of the live threads (/proc/P/task/T/status): each
   * thread hand-over is one or two. */
  long long ctxt_switches = -1;
};

ProcSample
sample_proc (int pid)
{
  ProcSample s;
  if (pid <= 0)
    return s;
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream stat (path);
  std::string line;
  if (!std::getline (stat, line))
    return s;
  /* The command name may hold spaces and parentheses: fields start after
   * the last ')'. utime and stime are fields 14 and 15. */
  size_t close = line.rfind (')');
  if (close == std::string::npos)
    return s;
  std::istringstream fields (line.substr (close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14)
      utime = strtoull (f.c_str (), nullptr, 10);
    if (i == 15)
      stime = strtoull (f.c_str (), nullptr, 10);
  }
  s.cpu_s = double (utime + stime) / double (sysconf (_SC_CLK_TCK));

  snprintf (path, sizeof path, "/proc/%d/task", pid);
  if (DIR *d = opendir (path)) {
    double sum = 0;
    long long switches = 0;
    bool any = false;
    while (dirent *e = readdir (d)) {
      if (e->d_name[0] == '.')
        continue;
      std::string task = std::string (path) + "/" + e->d_name + "/schedstat";
      std::ifstream f (task);
      unsigned long long ns;
      if (f >> ns) {
        sum += double (ns) / 1e9;
        any = true;
      }
      std::ifstream st (std::string (path) + "/" + e->d_name + "/status");
      std::string l;
      while (std::getline (st, l)) {
        size_t colon = l.find (':');
        if (colon != std::string::npos && l.compare (0, colon, "voluntary_ctxt_switches") == 0)
          switches += strtoll (l.c_str () + colon + 1, nullptr, 10);
        else if (colon != std::string::npos &&
            l.compare (0, colon, "nonvoluntary_ctxt_switches") == 0)
          switches += strtoll (l.c_str () + colon + 1, nullptr, 10);
      }
    }
    closedir (d);
    if (any) {
      s.sched_s = sum;
      s.ctxt_switches = switches;
    }
  }

  snprintf (path, sizeof path, "/proc/%d/status", pid);
  std::ifstream status (path);
  while (std::getline (status, line)) {
    if (line.compare (0, 6, "VmRSS:") == 0)
      s.rss_kib = strtol (line.c_str () + 6, nullptr, 10);
    else if (line.compare (0, 6, "VmHWM:") == 0)
      s.hwm_kib = strtol (line.c_str () + 6, nullptr, 10);
    else if (line.compare (0, 8, "Threads:") == 0)
      s.threads = strtol (line.c_str () + 8, nullptr, 10);
  }
  s.ok = true;
  return s;
}

double
self_cpu_s (long *maxrss_kib = nullptr)
{
  rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  if (maxrss_kib)
    *maxrss_kib = ru.ru_maxrss;
  return double (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
      double (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- Frames ------------------------------------------------------------- */

std::vector<std::vector<uint8_t>>
load_frames (const std::string & dir)
{
  std::vector<std::string> names;
  if (DIR *d = opendir (dir.c_str ())) {
    while (dirent *e = readdir (d)) {
      std::string n = e->d_name;
      if (n.size () > 4 &&
          (n.compare (n.size () - 4, 4, ".jpg") == 0 || n.compare (n.size () - 5, 5, ".jpeg") == 0))
        names.push_back (n);
    }
    closedir (d);
  }
  std::sort (names.begin (), names.end ());
  std::vector<std::vector<uint8_t>> frames;
  for (const auto & n : names) {
    std::ifstream f (dir + "/" + n, std::ios::binary);
    std::vector<uint8_t> bytes ((std::istreambuf_iterator<char> (f)),
        std::istreambuf_iterator<char> ());
    if (bytes.size () >= 4 && bytes[0] == 0xFF && bytes[1] == 0xD8)
      frames.push_back (std::move (bytes));
  }
  return frames;
}

/* ---- Sockets and the loop ----------------------------------------------- */

struct Handler
{
  virtual ~Handler () = default;
  virtual void on_events (uint32_t events) = 0;
};

class Loop
{
public:
  Loop () : fd_ (epoll_create1 (EPOLL_CLOEXEC)) {}
  ~Loop () { close (fd_); }

  void add (int fd, uint32_t ev, Handler *h) { ctl (EPOLL_CTL_ADD, fd, ev, h); }
  void mod (int fd, uint32_t ev, Handler *h) { ctl (EPOLL_CTL_MOD, fd, ev, h); }
  void del (int fd) { epoll_ctl (fd_, EPOLL_CTL_DEL, fd, nullptr); }

  /* Waits at most @timeout_ns and dispatches what is ready. */
  void run_once (uint64_t timeout_ns)
  {
    epoll_event events[256];
    timespec ts = { time_t (timeout_ns / kSecond), long (timeout_ns % kSecond) };
    int n = epoll_pwait2 (fd_, events, 256, &ts, nullptr);
    if (n < 0 && errno == ENOSYS)
      n = epoll_wait (fd_, events, 256, int ((timeout_ns + 999999) / 1000000));
    for (int i = 0; i < n; ++i)
      static_cast<Handler *> (events[i].data.ptr)->on_events (events[i].events);
  }

private:
  void ctl (int op, int fd, uint32_t ev, Handler *h)
  {
    epoll_event e = {};
    e.events = ev;
    e.data.ptr = h;
    if (epoll_ctl (fd_, op, fd, &e) != 0)
      perror ("epoll_ctl");
  }
  int fd_;
};

int
connect_nonblocking (const sockaddr_in & addr, int rcvbuf)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* Before connect, so that the advertised window is small from the
   * start and a throttled reader really backs up the server. */
  if (rcvbuf > 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (connect (fd, reinterpret_cast<const sockaddr *> (&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    close (fd);
    return -1;
  }
  return fd;
}

bool
socket_error (int fd)
{
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0;
}

/* ---- Shared run state --------------------------------------------------- */

struct Run
{
  Options opt;
  Loop loop;
  sockaddr_in addr = {};
  std::vector<std::vector<uint8_t>> frames;
  bool measuring = false;
  uint8_t readbuf[kReadBufSize];
};

/* ---- Camera: an RFC 6455 client sending tagged JPEGs -------------------- */

class Camera : public Handler
{
public:
  struct Counters
  {
    uint64_t frames = 0;
    uint64_t bytes = 0;
    uint64_t late = 0;
    uint64_t pongs = 0;
  };

  Camera (Run & run, uint32_t id) : run_ (run), id_ (id) {}
  ~Camera () override { shutdown (); }

  bool start ();
  void shutdown ();
  /* Paced cameras: sends the frame due now, if the last one has gone. */
  void tick (uint64_t now);
  uint64_t next_due () const
  {
    return state_ == State::kStreaming && paced () ? next_due_ : UINT64_MAX;
  }
  bool settled () const { return state_ != State::kConnecting && state_ != State::kHandshake; }
  bool streaming () const { return state_ == State::kStreaming; }
  bool failed () const { return failed_; }
  const Counters & counters () const { return counters_; }
  const std::string & error () const { return error_; }

  void on_events (uint32_t events) override;

private:
  enum class State
  {
    kIdle,
    kConnecting,
    kHandshake,
    kStreaming,
    kClosed
  };

  bool paced () const { return run_.opt.fps > 0; }
  void fail (const char *why);
  void send_handshake ();
  void read_handshake ();
  void read_messages ();
  void queue_control (uint8_t opcode, const uint8_t *payload, size_t len);
  void prepare_frame ();
  bool flush ();
  void want_write (bool on);

  Run & run_;
  uint32_t id_;
  int fd_ = -1;
  State state_ = State::kIdle;
  bool failed_ = false;
  std::string error_;
  std::string key_;
  std::string in_;
  std::vector<uint8_t> out_;
  size_t out_len_ = 0;
  size_t out_off_ = 0;
  std::vector<uint8_t> control_;
  bool writing_ = false;
  bool frame_pending_ = false;
  uint64_t seq_ = 0;
  uint64_t next_due_ = 0;
  Counters counters_;
};

bool
Camera::start ()
{
  fd_ = connect_nonblocking (run_.addr, 0);
  if (fd_ < 0) {
    fail ("connect");
    return false;
  }
  state_ = State::kConnecting;
  run_.loop.add (fd_, EPOLLOUT, this);
  return true;
}

void
Camera::shutdown ()
{
  if (fd_ >= 0) {
    run_.loop.del (fd_);
    close (fd_);
    fd_ = -1;
  }
  if (state_ != State::kIdle)
    state_ = State::kClosed;
}

void
Camera::fail (const char *why)
{
  if (error_.empty ())
    error_ = why;
  failed_ = true;
  logf ("camera %u: %s", id_, why);
  shutdown ();
}

void
Camera::send_handshake ()
{
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 8) {
    uint64_t r = g_rng.next ();
    memcpy (nonce + i, &r, 8);
  }
  key_ = base64 (nonce, sizeof nonce);
  std::string req = "GET " + numbered_path (run_.opt.camera_path, id_) +
      " HTTP/1.1\r\n"
      "Host: " +
      run_.opt.host + ":" + std::to_string (run_.opt.port) +
      "\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: " +
      key_ +
      "\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "User-Agent: camrelay-loadgen\r\n\r\n";
  out_.assign (req.begin (), req.end ());
  out_len_ = out_.size ();
  out_off_ = 0;
  state_ = State::kHandshake;
  run_.loop.mod (fd_, EPOLLIN, this);
  writing_ = false;
  flush ();
}

void
Camera::read_handshake ()
{
  char buf[4096];
  ssize_t n = recv (fd_, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    fail ("closed during handshake");
    return;
  }
  if (n < 0)
    return;
  in_.append (buf, size_t (n));
  size_t end = in_.find ("\r\n\r\n");
  if (end == std::string::npos) {
    if (in_.size () > 16384)
      fail ("handshake response too long");
    return;
  }
  std::string head = in_.substr (0, end + 2);
  if (head.compare (0, 9, "HTTP/1.1 ") != 0 || head.compare (9, 3, "101") != 0) {
    fail ("handshake refused");
    return;
  }
  if (header_value (head, "Sec-WebSocket-Accept") != ws_accept_for (key_)) {
    fail ("bad Sec-WebSocket-Accept");
    return;
  }
  in_.erase (0, end + 4);
  state_ = State::kStreaming;
  logf ("camera %u: streaming", id_);
  if (run_.opt.greeting) {
    static const char hello[] = "hello from ESP32 camera stream!";
    queue_control (kWsText, reinterpret_cast<const uint8_t *> (hello), sizeof hello - 1);
  }
  next_due_ = now_ns ();
  /* Many cameras are spread over the frame period, as independent boards
   * are, instead of all sending at the same instant. */
  if (paced () && run_.opt.cameras > 1)
    next_due_ += uint64_t (double (kSecond) / run_.opt.fps * id_ / run_.opt.cameras);
  if (!paced ())
    want_write (true);
  else
    tick (now_ns ());
}

/* Server frames: answer pings, honour close, ignore the rest. */
void
Camera::read_messages ()
{
  char buf[4096];
  for (;;) {
    ssize_t n = recv (fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      fail ("closed by server");
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        fail ("read error");
      break;
    }
    in_.append (buf, size_t (n));
  }
  for (;;) {
    WsFrameHeader h;
    const uint8_t *p = reinterpret_cast<const uint8_t *> (in_.data ());
    if (!ws_parse_header (p, in_.size (), &h) || in_.size () < h.header_len + h.payload_len)
      return;
    std::vector<uint8_t> payload (p + h.header_len, p + h.header_len + h.payload_len);
    if (h.masked)
      ws_apply_mask (payload.data (), payload.size (), h.mask);
    in_.erase (0, h.header_len + h.payload_len);
    if (h.opcode == kWsPing) {
      ++counters_.pongs;
      queue_control (kWsPong, payload.data (), payload.size ());
    } else if (h.opcode == kWsClose) {
      fail ("close frame from server");
      return;
    }
  }
}

void
Camera::queue_control (uint8_t opcode, const uint8_t *payload, size_t len)
{
  uint8_t mask[4];
  uint32_t r = uint32_t (g_rng.next ());
  memcpy (mask, &r, 4);
  uint8_t hdr[14];
  size_t hlen = ws_write_header (hdr, opcode, len, mask);
  size_t at = control_.size ();
  control_.insert (control_.end (), hdr, hdr + hlen);
  control_.insert (control_.end (), payload, payload + len);
  ws_apply_mask (control_.data () + at + hlen, len, mask);
  want_write (true);
}

/* One binary message: SOI, the tag, the rest of the JPEG, all masked with
 * a fresh random key, built in a single buffer reused frame after frame. */
void
Camera::prepare_frame ()
{
  const auto & jpeg = run_.frames[(seq_ + id_ * 7) % run_.frames.size ()];
  size_t payload_len = jpeg.size () + kTagSegmentLen;
  uint8_t mask[4];
  uint32_t r = uint32_t (g_rng.next ());
  memcpy (mask, &r, 4);
  uint8_t hdr[14];
  size_t hlen = ws_write_header (hdr, kWsBinary, payload_len, mask);

  /* out_ only grows: resizing it down and up again would zero-fill it. */
  out_len_ = hlen + payload_len;
  if (out_.size () < out_len_)
    out_.resize (out_len_);
  uint8_t *p = out_.data ();
  memcpy (p, hdr, hlen);
  uint8_t *payload = p + hlen;
  uint8_t start[2 + kTagSegmentLen];
  start[0] = 0xFF;
  start[1] = 0xD8;
  FrameTag tag;
  tag.camera = id_;
  tag.seq = ++seq_;
  tag.sent_ns = now_ns ();
  write_tag_segment (start + 2, tag);
  ws_copy_masked (payload, start, sizeof start, mask, 0);
  ws_copy_masked (payload + sizeof start, jpeg.data () + 2, jpeg.size () - 2, mask, sizeof start);
  out_off_ = 0;
}

/* Writes what is queued; false when the socket is full (or gone). */
bool
Camera::flush ()
{
  for (;;) {
    if (out_off_ == out_len_) {
      if (out_len_ > 0 && state_ == State::kStreaming && out_[0] == (0x80 | kWsBinary)) {
        ++counters_.frames;
      }
      out_len_ = 0;
      out_off_ = 0;
      if (control_.empty ())
        return true;
      if (out_.size () < control_.size ())
        out_.resize (control_.size ());
      memcpy (out_.data (), control_.data (), control_.size ());
      out_len_ = control_.size ();
      control_.clear ();
    }
    ssize_t n =
        send (fd_, out_.data () + out_off_, out_len_ - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        want_write (true);
        return false;
      }
      fail ("write error");
      return false;
    }
    out_off_ += size_t (n);
    if (state_ == State::kStreaming)
      counters_.bytes += uint64_t (n);
  }
}

void
Camera::want_write (bool on)
{
  if (fd_ < 0 || on == writing_ || state_ == State::kConnecting)
    return;
  writing_ = on;
  run_.loop.mod (fd_, EPOLLIN | (on ? EPOLLOUT : 0u), this);
}

void
Camera::tick (uint64_t now)
{
  if (state_ != State::kStreaming || now < next_due_)
    return;
  const uint64_t period = uint64_t (double (kSecond) / run_.opt.fps);
  next_due_ += period;
  /* A camera that fell far behind (server not reading) resynchronises
   * instead of bursting. */
  if (next_due_ + period < now)
    next_due_ = now + period;
  if (out_off_ < out_len_ || frame_pending_) {
    ++counters_.late;
    frame_pending_ = true;
    return;
  }
  prepare_frame ();
  flush ();
}

void
Camera::on_events (uint32_t events)
{
  if (state_ == State::kConnecting) {
    if (socket_error (fd_)) {
      fail ("connect refused");
      return;
    }
    send_handshake ();
    return;
  }
  if (state_ == State::kHandshake) {
    if (events & EPOLLOUT)
      flush ();
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      read_handshake ();
    if (state_ == State::kHandshake && out_off_ == out_len_)
      want_write (false);
    return;
  }
  if (state_ != State::kStreaming)
    return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    read_messages ();
    if (state_ != State::kStreaming)
      return;
  }
  if (!(events & EPOLLOUT))
    return;
  if (!flush ())
    return;
  if (!paced ()) {
    /* As fast as the socket takes them, a bounded batch per wake-up so
     * that the viewers on the same thread are served too. */
    for (int i = 0; i < 8; ++i) {
      prepare_frame ();
      if (!flush ())
        return;
    }
    return;
  }
  if (frame_pending_) {
    frame_pending_ = false;
    prepare_frame ();
    if (!flush ())
      return;
  }
  want_write (false);
}

/* ---- Viewer: an HTTP client reading the multipart stream ---------------- */

struct ViewerCounters
{
  uint64_t parts = 0;
  uint64_t live = 0;
  uint64_t repeats = 0;
  uint64_t reordered = 0;
  uint64_t placeholder = 0;
  uint64_t corrupt = 0;
  uint64_t gaps = 0;
  uint64_t bytes = 0;
  uint64_t hint_mismatches = 0;
};

class Viewer : public Handler
{
public:
  Viewer (Run & run, uint32_t id, double throttle_rate, std::vector<int64_t> *latencies)
    : run_ (run), id_ (id), rate_ (throttle_rate), latencies_ (latencies)
  {}
  ~Viewer () override { shutdown (); }

  void start (uint64_t now);
  void shutdown ();
  /* Counts as connecting (for the ramp) until its response head arrives. */
  bool connecting (uint64_t now) const
  {
    return (state_ == State::kConnecting || state_ == State::kHead) && now < started_ + kSecond;
  }
  bool started () const { return state_ != State::kIdle; }
  bool streaming () const { return state_ == State::kBody; }
  bool failed () const { return failed_; }
  bool dropped () const { return dropped_; }
  bool throttled () const { return rate_ > 0; }
  int http_status () const { return status_; }
  uint64_t wake_at () const { return paused_ ? wake_ : UINT64_MAX; }
  void resume (uint64_t now);
  const ViewerCounters & counters () const { return counters_; }
  const std::string & error () const { return error_; }

  void on_events (uint32_t events) override;

private:
  enum class State
  {
    kIdle,
    kConnecting,
    kHead,
    kBody,
    kClosed
  };

  void fail (const char *why);
  void send_request ();
  void read_some ();
  void consume (const uint8_t *p, size_t n, uint64_t t);
  bool parse_head ();
  void on_part (const PartInfo & part);
  uint64_t size_hint (const uint8_t *head, size_t len) const;
  void refill (uint64_t now);
  void pause (uint64_t now);
  static void chunk_sink (void *ctx, const uint8_t *p, size_t n);

  Run & run_;
  uint32_t id_;
  int fd_ = -1;
  State state_ = State::kIdle;
  bool failed_ = false;
  bool dropped_ = false;
  std::string error_;
  uint64_t started_ = 0;
  std::string head_;
  int status_ = 0;
  bool chunked_ = false;
  ChunkDecoder chunks_;
  MultipartReader parts_;
  uint64_t feed_t_ = 0;
  std::vector<uint64_t> last_seq_;

  /* Token bucket for throttled viewers. */
  double rate_;
  double tokens_ = 0;
  uint64_t refilled_ = 0;
  bool paused_ = false;
  uint64_t wake_ = 0;

  std::vector<int64_t> *latencies_;
  ViewerCounters counters_;
};

void
Viewer::start (uint64_t now)
{
  started_ = now;
  fd_ = connect_nonblocking (run_.addr, throttled () ? run_.opt.throttle_rcvbuf : 0);
  if (fd_ < 0) {
    fail ("connect");
    return;
  }
  state_ = State::kConnecting;
  run_.loop.add (fd_, EPOLLOUT, this);
}

void
Viewer::shutdown ()
{
  if (fd_ >= 0) {
    run_.loop.del (fd_);
    close (fd_);
    fd_ = -1;
  }
  if (state_ != State::kIdle)
    state_ = State::kClosed;
}

void
Viewer::fail (const char *why)
{
  if (error_.empty ())
    error_ = why;
  if (state_ == State::kBody)
    dropped_ = true;
  else
    failed_ = true;
  logf ("viewer %u: %s", id_, why);
  shutdown ();
}

void
Viewer::send_request ()
{
  std::string path = numbered_path (run_.opt.path, id_ % uint32_t (std::max (run_.opt.cameras, 1)));
  if (run_.opt.content_length)
    path += (path.find ('?') == std::string::npos ? "?" : "&") + std::string ("content-length=1");
  std::string req = "GET " + path +
      " HTTP/1.1\r\n"
      "Host: " +
      run_.opt.host + ":" + std::to_string (run_.opt.port) +
      "\r\n"
      "User-Agent: camrelay-loadgen\r\n"
      "Accept: */*\r\n\r\n";
  ssize_t n = send (fd_, req.data (), req.size (), MSG_NOSIGNAL);
  if (n != ssize_t (req.size ())) {
    fail ("request write");
    return;
  }
  state_ = State::kHead;
  refilled_ = now_ns ();
  tokens_ = 0;
  run_.loop.mod (fd_, EPOLLIN | EPOLLRDHUP, this);
}

bool
Viewer::parse_head ()
{
  if (head_.compare (0, 5, "HTTP/") != 0 || head_.size () < 12) {
    fail ("not an HTTP response");
    return false;
  }
  status_ = atoi (head_.c_str () + 9);
  if (status_ != 200) {
    fail ("HTTP status not 200");
    return false;
  }
  std::string boundary = boundary_of (header_value (head_, "Content-Type"));
  if (boundary.empty ()) {
    fail ("no multipart boundary");
    return false;
  }
  std::string te = header_value (head_, "Transfer-Encoding");
  chunked_ = iequals_prefix (te.data (), te.size (), "chunked");
  MultipartReader::SizeHint hint;
  if (run_.opt.skip_bodies && !run_.frames.empty ())
    hint = [this] (const uint8_t *head, size_t len) { return size_hint (head, len); };
  parts_.reset (
      boundary, [this] (const PartInfo & p) { on_part (p); }, std::move (hint));
  last_seq_.assign (size_t (std::max (run_.opt.cameras, 1)), 0);
  state_ = State::kBody;
  return true;
}

void
Viewer::chunk_sink (void *ctx, const uint8_t *p, size_t n)
{
  auto *self = static_cast<Viewer *> (ctx);
  self->parts_.feed (p, n, self->feed_t_);
}

void
Viewer::consume (const uint8_t *p, size_t n, uint64_t t)
{
  if (state_ == State::kHead) {
    size_t before = head_.size ();
    head_.append (reinterpret_cast<const char *> (p), n);
    size_t end = head_.find ("\r\n\r\n", before > 3 ? before - 3 : 0);
    if (end == std::string::npos) {
      if (head_.size () > 16384)
        fail ("response head too long");
      return;
    }
    size_t body_at = end + 4 - before;
    head_.resize (end + 2);
    if (!parse_head ())
      return;
    p += body_at;
    n -= body_at;
  }
  if (run_.measuring)
    counters_.bytes += n;
  if (n == 0)
    return;
  feed_t_ = t;
  if (chunked_) {
    if (!chunks_.feed (p, n, chunk_sink, this))
      fail ("bad chunked body");
  } else {
    parts_.feed (p, n, t);
  }
  if (parts_.failed ())
    fail ("bad multipart body");
}

/* A part that starts exactly like a frame this run sent (SOI, its tag,
 * then the same JPEG bytes) is that frame: a relay must not touch live
 * frames. Its size is then known and its body can be dropped unread; the
 * reader still checks EOI and the boundary where the size says they are,
 * and flags the part if they are not there. */
uint64_t
Viewer::size_hint (const uint8_t *head, size_t len) const
{
  FrameTag tag;
  if (len < 4 + kTagSegmentLen || head[2] != 0xFF || head[3] != 0xFE ||
      !find_tag (head, len, &tag) || tag.seq == 0 || tag.camera >= uint32_t (run_.opt.cameras))
    return 0;
  const auto & jpeg = run_.frames[(tag.seq - 1 + tag.camera * 7) % run_.frames.size ()];
  size_t rest = len - 2 - kTagSegmentLen;
  if (jpeg.size () < 2 + rest || memcmp (head + 2 + kTagSegmentLen, jpeg.data () + 2, rest) != 0)
    return 0;
  return jpeg.size () + kTagSegmentLen;
}

void
Viewer::on_part (const PartInfo & part)
{
  bool measuring = run_.measuring;
  if (measuring)
    ++counters_.parts;
  if (part.hint_mismatch) {
    counters_.hint_mismatches += measuring;
    counters_.corrupt += measuring;
    return;
  }
  bool jpeg = part.size >= 4 && part.head_len >= 2 && part.head[0] == 0xFF &&
      part.head[1] == 0xD8 && part.tail[0] == 0xFF && part.tail[1] == 0xD9;
  FrameTag tag;
  if (!jpeg) {
    counters_.corrupt += measuring;
    return;
  }
  if (!find_tag (part.head, part.head_len, &tag)) {
    counters_.placeholder += measuring;
    return;
  }
  if (tag.camera >= last_seq_.size ())
    last_seq_.resize (tag.camera + 1, 0);
  uint64_t & last = last_seq_[tag.camera];
  if (tag.seq == last) {
    counters_.repeats += measuring;
    return;
  }
  if (tag.seq < last) {
    counters_.reordered += measuring;
    return;
  }
  if (measuring) {
    if (last != 0)
      counters_.gaps += tag.seq - last - 1;
    ++counters_.live;
    latencies_->push_back (int64_t (part.last_byte_ns - tag.sent_ns));
  }
  last = tag.seq;
}

void
Viewer::refill (uint64_t now)
{
  double cap = std::max (rate_ / 20.0, 1500.0);
  tokens_ = std::min (cap, tokens_ + double (now - refilled_) * rate_ / 1e9);
  refilled_ = now;
}

void
Viewer::pause (uint64_t now)
{
  double cap = std::max (rate_ / 20.0, 1500.0);
  double need = cap / 2 - tokens_;
  paused_ = true;
  wake_ = now + uint64_t (std::max (need, 1.0) / rate_ * 1e9);
  run_.loop.mod (fd_, 0, this);
}

void
Viewer::resume (uint64_t now)
{
  if (!paused_ || fd_ < 0)
    return;
  paused_ = false;
  refill (now);
  run_.loop.mod (fd_, EPOLLIN | EPOLLRDHUP, this);
}

void
Viewer::read_some ()
{
  const bool skipping = state_ == State::kBody && !chunked_ && run_.opt.skip_bodies;
  for (int round = 0; round < 8 && fd_ >= 0; ++round) {
    uint64_t allowed = UINT64_MAX;
    if (throttled ()) {
      refill (now_ns ());
      if (tokens_ < 1) {
        pause (refilled_);
        return;
      }
      allowed = uint64_t (tokens_);
    }
    /* While parts can be skipped, read a part's headers and head, drop the
     * body in the kernel, read its end: no copy of the bulk. */
    size_t budget = skipping && parts_.expects_skippable () ? kSmallRead : kReadBufSize;
    budget = size_t (std::min<uint64_t> (budget, allowed));
    if (skipping) {
      uint64_t skip = std::min (parts_.skippable (), allowed);
      if (skip > 0) {
        ssize_t k = recv (fd_, run_.readbuf, skip, MSG_TRUNC | MSG_DONTWAIT);
        if (k > 0) {
          parts_.skipped (uint64_t (k), now_ns ());
          if (run_.measuring)
            counters_.bytes += uint64_t (k);
          if (throttled ())
            tokens_ -= double (k);
          if (uint64_t (k) == skip)
            continue;
          return;
        }
        if (k == 0) {
          fail ("closed by server");
          return;
        }
        if (errno != EAGAIN && errno != EINTR)
          fail ("read error");
        return;
      }
    }
    ssize_t n = recv (fd_, run_.readbuf, budget, MSG_DONTWAIT);
    if (n == 0) {
      fail ("closed by server");
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        fail ("read error");
      return;
    }
    if (throttled ())
      tokens_ -= double (n);
    consume (run_.readbuf, size_t (n), now_ns ());
    if (size_t (n) < budget)
      return;
  }
}

void
Viewer::on_events (uint32_t events)
{
  if (state_ == State::kConnecting) {
    if (socket_error (fd_)) {
      fail ("connect refused");
      return;
    }
    send_request ();
    return;
  }
  if (state_ != State::kHead && state_ != State::kBody)
    return;
  /* Hang-ups are reported even while a throttled viewer has no events
   * armed; reading them would spin until it wakes. */
  if (paused_ && (events & (EPOLLHUP | EPOLLERR))) {
    fail ("closed by server");
    return;
  }
  read_some ();
}

/* ---- Statistics and JSON ------------------------------------------------ */

class Json
{
public:
  Json & open (const char *key = nullptr)
  {
    sep (key);
    s_ += '{';
    first_ = true;
    return *this;
  }
  Json & close ()
  {
    s_ += '}';
    first_ = false;
    return *this;
  }
  Json & num (const char *key, double v, int prec = 3)
  {
    sep (key);
    if (!std::isfinite (v)) {
      s_ += "null";
      return *this;
    }
    char b[64];
    snprintf (b, sizeof b, "%.*f", prec, v);
    s_ += b;
    return *this;
  }
  Json & integer (const char *key, long long v)
  {
    sep (key);
    s_ += std::to_string (v);
    return *this;
  }
  Json & boolean (const char *key, bool v)
  {
    sep (key);
    s_ += v ? "true" : "false";
    return *this;
  }
  Json & null (const char *key)
  {
    sep (key);
    s_ += "null";
    return *this;
  }
  Json & str (const char *key, const std::string & v)
  {
    sep (key);
    s_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') {
        s_ += '\\';
        s_ += c;
      } else if ((unsigned char) c < 0x20) {
        char b[8];
        snprintf (b, sizeof b, "\\u%04x", c);
        s_ += b;
      } else {
        s_ += c;
      }
    }
    s_ += '"';
    return *this;
  }
  const std::string & text () const { return s_; }

private:
  void sep (const char *key)
  {
    if (!first_ && !s_.empty ())
      s_ += ',';
    first_ = false;
    if (key) {
      s_ += '"';
      s_ += key;
      s_ += "\":";
    }
  }
  std::string s_;
  bool first_ = true;
};

double
percentile (const std::vector<int64_t> & sorted, double p)
{
  if (sorted.empty ())
    return NAN;
  size_t rank = size_t (std::ceil (p / 100.0 * double (sorted.size ())));
  rank = std::min (std::max<size_t> (rank, 1), sorted.size ());
  return double (sorted[rank - 1]) / 1e6;
}

void
report_group (Json & j, const char *key, const std::vector<std::unique_ptr<Viewer>> & viewers,
    bool throttled, std::vector<int64_t> & latencies, double seconds)
{
  ViewerCounters sum;
  int count = 0, connected = 0, nothing = 0, no_parts = 0, with_gaps = 0;
  double fps_min = INFINITY, fps_max = 0, fps_sum = 0;
  for (const auto & v : viewers) {
    if (v->throttled () != throttled)
      continue;
    ++count;
    const ViewerCounters & c = v->counters ();
    connected += v->streaming () || v->dropped ();
    nothing += c.live == 0;
    no_parts += c.parts == 0;
    with_gaps += c.gaps > 0;
    double fps = double (c.live) / seconds;
    fps_min = std::min (fps_min, fps);
    fps_max = std::max (fps_max, fps);
    fps_sum += fps;
    sum.parts += c.parts;
    sum.live += c.live;
    sum.repeats += c.repeats;
    sum.reordered += c.reordered;
    sum.placeholder += c.placeholder;
    sum.corrupt += c.corrupt;
    sum.gaps += c.gaps;
    sum.bytes += c.bytes;
    sum.hint_mismatches += c.hint_mismatches;
  }
  if (count == 0)
    return;
  std::sort (latencies.begin (), latencies.end ());
  j.open (key);
  j.integer ("viewers", count).integer ("connected", connected);
  j.integer ("viewers_without_live_frames", nothing);
  j.integer ("viewers_without_parts", no_parts);
  j.integer ("viewers_with_gaps", with_gaps);
  j.num ("live_fps_min", fps_min, 2).num ("live_fps_mean", fps_sum / count, 2);
  j.num ("live_fps_max", fps_max, 2);
  j.integer ("parts", (long long) sum.parts);
  j.integer ("live", (long long) sum.live);
  j.integer ("repeats", (long long) sum.repeats);
  j.integer ("reordered", (long long) sum.reordered);
  j.integer ("placeholder", (long long) sum.placeholder);
  j.num ("placeholder_ratio", sum.parts ? double (sum.placeholder) / double (sum.parts) : 0.0, 4);
  j.integer ("corrupt", (long long) sum.corrupt);
  j.integer ("size_hint_mismatches", (long long) sum.hint_mismatches);
  j.integer ("gaps", (long long) sum.gaps);
  j.integer ("bytes", (long long) sum.bytes);
  j.num ("mbit_s", double (sum.bytes) * 8 / 1e6 / seconds, 1);
  j.open ("latency_ms");
  j.integer ("samples", (long long) latencies.size ());
  j.num ("p50", percentile (latencies, 50)).num ("p90", percentile (latencies, 90));
  j.num ("p99", percentile (latencies, 99));
  j.num ("max", latencies.empty () ? NAN : double (latencies.back ()) / 1e6);
  j.close ();
  j.close ();
}

/* ---- The run ------------------------------------------------------------ */

volatile sig_atomic_t g_stop = 0;

void
on_signal (int)
{
  g_stop = 1;
}

int
run_load (Options & opt)
{
  auto run = std::make_unique<Run> ();
  run->opt = opt;
  g_verbose = opt.verbose;
  uint64_t nofile = raise_nofile_limit ();
  if (uint64_t (opt.viewers + opt.cameras + 64) > nofile) {
    fprintf (stderr, "loadgen: RLIMIT_NOFILE %" PRIu64 " is too low\n", nofile);
    return 2;
  }
  run->addr.sin_family = AF_INET;
  run->addr.sin_port = htons (uint16_t (opt.port));
  if (inet_pton (AF_INET, opt.host.c_str (), &run->addr.sin_addr) != 1) {
    addrinfo hints = {}, *res = nullptr;
    hints.ai_family = AF_INET;
    if (getaddrinfo (opt.host.c_str (), nullptr, &hints, &res) != 0 || !res) {
      fprintf (stderr, "loadgen: cannot resolve %s\n", opt.host.c_str ());
      return 2;
    }
    run->addr.sin_addr = reinterpret_cast<sockaddr_in *> (res->ai_addr)->sin_addr;
    freeaddrinfo (res);
  }
  if (opt.cameras > 0) {
    run->frames = load_frames (opt.frames_dir);
    if (run->frames.empty ()) {
      fprintf (stderr, "loadgen: no JPEG frames in '%s' (run make-frames.py)\n",
          opt.frames_dir.c_str ());
      return 2;
    }
  }
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);
  signal (SIGPIPE, SIG_IGN);

  ProcSample base = sample_proc (opt.pid);
  uint64_t t0 = now_ns ();

  std::vector<std::unique_ptr<Camera>> cameras;
  for (int i = 0; i < opt.cameras; ++i) {
    cameras.push_back (std::make_unique<Camera> (*run, uint32_t (i)));
    cameras.back ()->start ();
  }
  std::vector<int64_t> lat_fast, lat_slow;
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < opt.viewers; ++i) {
    bool slow = i < opt.throttled;
    viewers.push_back (std::make_unique<Viewer> (*run, uint32_t (i), slow ? opt.throttle_rate : 0.0,
        slow ? &lat_slow : &lat_fast));
  }
  std::vector<Viewer *> slow_viewers;
  for (const auto & v : viewers)
    if (v->throttled ())
      slow_viewers.push_back (v.get ());
  lat_fast.reserve (
      size_t (std::max (opt.fps, 30.0) * (opt.duration + 1)) * size_t (std::max (opt.viewers, 1)));

  enum class Phase
  {
    kCameras,
    kViewers,
    kWarmup,
    kMeasure
  };
  Phase phase = Phase::kCameras;
  uint64_t phase_start = t0;
  size_t next_viewer = 0;
  uint64_t ramp_ns = 0, measure_start = 0, measure_end = 0;
  ProcSample srv_start, srv_end;
  double self_start = 0;
  Camera::Counters cam_start;

  while (!g_stop) {
    uint64_t now = now_ns ();
    if (phase == Phase::kCameras) {
      bool settled = std::all_of (cameras.begin (), cameras.end (),
          [] (const auto & c) { return c->settled (); });
      if (settled || now > phase_start + 5 * kSecond) {
        logf ("cameras settled after %.3f s", double (now - phase_start) / 1e9);
        phase = Phase::kViewers;
        phase_start = now;
      }
    }
    if (phase == Phase::kViewers) {
      int inflight = 0;
      for (size_t i = 0; i < next_viewer; ++i)
        inflight += viewers[i]->connecting (now);
      while (inflight < opt.max_inflight && next_viewer < viewers.size ()) {
        viewers[next_viewer++]->start (now);
        ++inflight;
      }
      if ((next_viewer == viewers.size () && inflight == 0) ||
          now > phase_start + uint64_t (opt.ramp_timeout * 1e9)) {
        ramp_ns = now - phase_start;
        logf ("viewers ramped up in %.3f s", double (ramp_ns) / 1e9);
        phase = Phase::kWarmup;
        phase_start = now;
      }
    }
    if (phase == Phase::kWarmup && now >= phase_start + uint64_t (opt.warmup * 1e9)) {
      phase = Phase::kMeasure;
      measure_start = now;
      srv_start = sample_proc (opt.pid);
      self_start = self_cpu_s ();
      for (const auto & c : cameras) {
        cam_start.frames += c->counters ().frames;
        cam_start.bytes += c->counters ().bytes;
        cam_start.late += c->counters ().late;
      }
      run->measuring = true;
      logf ("measuring");
    }
    if (phase == Phase::kMeasure && now >= measure_start + uint64_t (opt.duration * 1e9)) {
      run->measuring = false;
      measure_end = now;
      srv_end = sample_proc (opt.pid);
      break;
    }

    uint64_t deadline = now + uint64_t (50000000);
    for (auto & c : cameras) {
      if (c->next_due () <= now)
        c->tick (now);
      deadline = std::min (deadline, c->next_due ());
    }
    for (Viewer *v : slow_viewers) {
      if (v->wake_at () <= now)
        v->resume (now);
      deadline = std::min (deadline, v->wake_at ());
    }
    if (phase == Phase::kViewers)
      deadline = std::min (deadline, now + uint64_t (2000000));
    run->loop.run_once (deadline > now ? deadline - now : 0);
  }

  if (g_stop && measure_end == 0) {
    fprintf (stderr, "loadgen: interrupted\n");
    return 3;
  }

  long self_maxrss = 0;
  double self_cpu = self_cpu_s (&self_maxrss) - self_start;
  double seconds = double (measure_end - measure_start) / 1e9;

  Camera::Counters cam_sum;
  int cams_streaming = 0, cams_failed = 0;
  std::string cam_error;
  for (const auto & c : cameras) {
    cam_sum.frames += c->counters ().frames;
    cam_sum.bytes += c->counters ().bytes;
    cam_sum.late += c->counters ().late;
    cam_sum.pongs += c->counters ().pongs;
    cams_streaming += c->streaming ();
    cams_failed += !c->streaming ();
    if (cam_error.empty ())
      cam_error = c->error ();
  }
  int viewers_failed = 0, viewers_dropped = 0;
  uint64_t parts_total = 0, live_total = 0;
  std::string viewer_error;
  for (const auto & v : viewers) {
    viewers_failed += v->failed () || !v->started ();
    viewers_dropped += v->dropped ();
    parts_total += v->counters ().parts;
    live_total += v->counters ().live;
    if (viewer_error.empty ())
      viewer_error = v->error ();
  }

  Json j;
  j.open ();
  j.str ("label", opt.label);
  j.str ("target", opt.host + ":" + std::to_string (opt.port));
  j.num ("duration_s", seconds).num ("warmup_s", opt.warmup);
  j.num ("ramp_s", double (ramp_ns) / 1e9);

  j.open ("cameras");
  j.integer ("count", opt.cameras);
  j.num ("fps_target", opt.fps, 1);
  j.integer ("streaming_at_end", cams_streaming);
  j.integer ("failed", cams_failed);
  j.integer ("frames_sent", (long long) (cam_sum.frames - cam_start.frames));
  j.num ("send_fps", double (cam_sum.frames - cam_start.frames) / seconds, 1);
  j.num ("mbit_s", double (cam_sum.bytes - cam_start.bytes) * 8 / 1e6 / seconds, 1);
  j.integer ("late", (long long) (cam_sum.late - cam_start.late));
  j.integer ("pings_answered", (long long) cam_sum.pongs);
  j.str ("first_error", cam_error);
  j.close ();

  j.open ("viewers");
  j.integer ("count", opt.viewers);
  j.boolean ("content_length", opt.content_length);
  j.integer ("failed", viewers_failed);
  j.integer ("dropped", viewers_dropped);
  j.str ("first_error", viewer_error);
  report_group (j, "fast", viewers, false, lat_fast, seconds);
  if (opt.throttled > 0) {
    report_group (j, "throttled", viewers, true, lat_slow, seconds);
    j.num ("throttle_rate_bytes_s", opt.throttle_rate, 0);
  }
  j.close ();

  j.open ("server");
  if (opt.pid > 0 && srv_start.ok && srv_end.ok) {
    /* The fine clock unless a thread ended in between (its time would be
     * missing) — then the tick count, which keeps it. */
    double ticks = srv_end.cpu_s - srv_start.cpu_s;
    double fine = srv_end.sched_s - srv_start.sched_s;
    bool use_fine = srv_start.sched_s >= 0 && srv_end.sched_s >= 0 && fine > ticks - 0.025;
    double cpu = use_fine ? fine : ticks;
    int connected = opt.viewers - viewers_failed;
    j.integer ("pid", opt.pid);
    j.num ("cpu_s", cpu, 4).num ("cpu_pct", 100.0 * cpu / seconds, 2);
    j.str ("cpu_source", use_fine ? "schedstat" : "stat");
    j.num ("cpu_s_ticks", ticks);
    j.num ("cpu_us_per_part", parts_total ? cpu * 1e6 / double (parts_total) : NAN, 1);
    j.num ("cpu_us_per_live_frame", live_total ? cpu * 1e6 / double (live_total) : NAN, 1);
    /* Live threads only: a thread that ended in between takes its switches with it. */
    bool switches = srv_start.ctxt_switches >= 0 && srv_end.ctxt_switches >= 0 && live_total;
    j.num ("ctxt_switches_per_live_frame",
        switches ? double (srv_end.ctxt_switches - srv_start.ctxt_switches) / double (live_total)
                 : NAN,
        2);
    j.integer ("rss_base_kib", base.rss_kib);
    j.integer ("rss_end_kib", srv_end.rss_kib);
    j.integer ("hwm_kib", srv_end.hwm_kib);
    j.num ("rss_per_viewer_kib",
        connected > 0 ? double (srv_end.rss_kib - base.rss_kib) / connected : NAN, 1);
    j.integer ("threads", srv_end.threads);
  } else {
    j.null ("pid");
  }
  j.close ();

  j.open ("loadgen");
  j.num ("cpu_s", self_cpu).num ("cpu_pct", 100.0 * self_cpu / seconds, 1);
  j.integer ("maxrss_kib", self_maxrss);
  j.close ();
  j.close ();
  printf ("%s\n", j.text ().c_str ());
  fflush (stdout);

  cameras.clear ();
  viewers.clear ();
  return 0;
}

void
usage (FILE *out)
{
  fputs ("usage: loadgen [options]            load a server, print one JSON object\n"
         "       loadgen --serve [--port P]   run the trivial MJPEG server\n"
         "       loadgen --selftest           check the wire code\n"
         "\n"
         "target:   --host H (127.0.0.1)  --port P (3001)\n"
         "cameras:  --cameras N (1)  --fps F (30; 0 = as fast as the socket takes)\n"
         "          --frames DIR  --camera-path PATH (/ws)  --greeting\n"
         "          (a %d in PATH is the camera number: /ws/cam%d)\n"
         "viewers:  --viewers K (1)  --path PATH (/)  --content-length\n"
         "          (a %d in PATH is the viewer number modulo --cameras)\n"
         "          --throttled N (0)  --throttle-rate BYTES_PER_S (65536)\n"
         "          --throttle-rcvbuf BYTES (4096)  --no-skip\n"
         "run:      --duration S (10)  --warmup S (2)  --ramp-timeout S (20)\n"
         "          --max-inflight N (64)  --pid SERVER_PID  --label TEXT  --verbose\n"
         "serve:    --boundary B (camrelayframe)  --sndbuf BYTES (0 = kernel default)\n",
      out);
}

}  // namespace

int
main (int argc, char **argv)
{
  enum
  {
    kHost = 256,
    kPort,
    kCameras,
    kFps,
    kFrames,
    kCameraPath,
    kGreeting,
    kViewers,
    kPath,
    kContentLength,
    kThrottled,
    kThrottleRate,
    kThrottleRcvbuf,
    kNoSkip,
    kDuration,
    kWarmup,
    kRampTimeout,
    kMaxInflight,
    kPid,
    kLabel,
    kVerbose,
    kServe,
    kBoundary,
    kSndbuf,
    kSelftest,
    kHelp,
  };
  static const option longopts[] = {
    { "host", required_argument, nullptr, kHost },
    { "port", required_argument, nullptr, kPort },
    { "cameras", required_argument, nullptr, kCameras },
    { "fps", required_argument, nullptr, kFps },
    { "frames", required_argument, nullptr, kFrames },
    { "camera-path", required_argument, nullptr, kCameraPath },
    { "greeting", no_argument, nullptr, kGreeting },
    { "viewers", required_argument, nullptr, kViewers },
    { "path", required_argument, nullptr, kPath },
    { "content-length", no_argument, nullptr, kContentLength },
    { "throttled", required_argument, nullptr, kThrottled },
    { "throttle-rate", required_argument, nullptr, kThrottleRate },
    { "throttle-rcvbuf", required_argument, nullptr, kThrottleRcvbuf },
    { "no-skip", no_argument, nullptr, kNoSkip },
    { "duration", required_argument, nullptr, kDuration },
    { "warmup", required_argument, nullptr, kWarmup },
    { "ramp-timeout", required_argument, nullptr, kRampTimeout },
    { "max-inflight", required_argument, nullptr, kMaxInflight },
    { "pid", required_argument, nullptr, kPid },
    { "label", required_argument, nullptr, kLabel },
    { "verbose", no_argument, nullptr, kVerbose },
    { "serve", no_argument, nullptr, kServe },
    { "boundary", required_argument, nullptr, kBoundary },
    { "sndbuf", required_argument, nullptr, kSndbuf },
    { "selftest", no_argument, nullptr, kSelftest },
    { "help", no_argument, nullptr, kHelp },
    { nullptr, 0, nullptr, 0 },
  };
  Options opt;
  bench::ServeOptions serve;
  bool serve_mode = false, selftest = false;
  int c;
  while ((c = getopt_long (argc, argv, "", longopts, nullptr)) != -1) {
    switch (c) {
      case kHost:
        opt.host = serve.host = optarg;
        break;
      case kPort:
        opt.port = serve.port = atoi (optarg);
        break;
      case kCameras:
        opt.cameras = atoi (optarg);
        break;
      case kFps:
        opt.fps = atof (optarg);
        break;
      case kFrames:
        opt.frames_dir = optarg;
        break;
      case kCameraPath:
        opt.camera_path = optarg;
        break;
      case kGreeting:
        opt.greeting = true;
        break;
      case kViewers:
        opt.viewers = atoi (optarg);
        break;
      case kPath:
        opt.path = optarg;
        break;
      case kContentLength:
        opt.content_length = true;
        break;
      case kThrottled:
        opt.throttled = atoi (optarg);
        break;
      case kThrottleRate:
        opt.throttle_rate = atof (optarg);
        break;
      case kThrottleRcvbuf:
        opt.throttle_rcvbuf = atoi (optarg);
        break;
      case kNoSkip:
        opt.skip_bodies = false;
        break;
      case kDuration:
        opt.duration = atof (optarg);
        break;
      case kWarmup:
        opt.warmup = atof (optarg);
        break;
      case kRampTimeout:
        opt.ramp_timeout = atof (optarg);
        break;
      case kMaxInflight:
        opt.max_inflight = std::max (1, atoi (optarg));
        break;
      case kPid:
        opt.pid = atoi (optarg);
        break;
      case kLabel:
        opt.label = optarg;
        break;
      case kVerbose:
        opt.verbose = serve.verbose = true;
        break;
      case kServe:
        serve_mode = true;
        break;
      case kBoundary:
        serve.boundary = optarg;
        break;
      case kSndbuf:
        serve.sndbuf = atoi (optarg);
        break;
      case kSelftest:
        selftest = true;
        break;
      case kHelp:
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 2;
    }
  }
  if (optind < argc) {
    usage (stderr);
    return 2;
  }
  if (selftest)
    return bench::run_selftest ();
  if (serve_mode)
    return bench::run_serve (serve);
  opt.throttled = std::min (opt.throttled, opt.viewers);
  return run_load (opt);
}
