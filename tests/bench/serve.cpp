/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ceiling: the least an MJPEG relay can do on this machine.
 *
 * One epoll thread, one port. A request with "Upgrade: websocket" is a
 * camera: each binary message, unmasked once, becomes the latest frame.
 * Any other request is a viewer: it gets the multipart head, then frames
 * written with writev as <jpeg> + CRLF boundary + next part's headers (the
 * camrelay default layout). A viewer whose socket is still busy when a
 * frame arrives skips it and gets the newest one once it drains, so a slow
 * viewer costs one frame reference, never a queue. No validation, no
 * placeholder, no timers: whatever a real relay adds costs more than this. */
#include "loadgen.h"
#include "wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace bench {
namespace {

volatile sig_atomic_t g_serve_stop = 0;

void
on_stop (int)
{
  g_serve_stop = 1;
}

struct Frame
{
  std::vector<uint8_t> jpeg;
  /* Part headers for viewers that asked for ?content-length=1. */
  std::string classic_head;
};
using FrameRef = std::shared_ptr<const Frame>;

class Server;

class Conn
{
public:
  enum class Kind
  {
    kRequest,
    kCamera,
    kViewer
  };

  Conn (Server & srv, int fd) : srv_ (srv), fd_ (fd) {}
  ~Conn ()
  {
    if (fd_ >= 0)
      close (fd_);
  }

  void on_events (uint32_t events);
  /* Viewers: a new frame is out; start it unless still writing one. */
  void offer (const FrameRef & frame);
  bool dead () const { return dead_; }
  Kind kind () const { return kind_; }
  void kill ();

private:
  void read_request ();
  void become_camera (const std::string & head);
  void become_viewer (bool classic);
  void read_camera ();
  void parse_messages ();
  void drain_viewer_input ();
  void write_viewer ();
  void want_write (bool on);

  Server & srv_;
  int fd_;
  Kind kind_ = Kind::kRequest;
  bool dead_ = false;
  bool writing_ = false;

  std::vector<uint8_t> in_;
  size_t in_pos_ = 0;
  size_t in_len_ = 0;
  std::vector<uint8_t> message_;
  uint8_t message_opcode_ = 0;

  std::string prefix_;
  bool classic_ = false;
  FrameRef current_;
  size_t sent_ = 0;
};

class Server
{
public:
  explicit Server (const ServeOptions & opts)
    : opts_ (opts), trailer_ ("\r\n--" + opts.boundary + "\r\nContent-Type: image/jpeg\r\n\r\n")
  {}

  int run ();

  int epfd () const { return epfd_; }
  const std::string & trailer () const { return trailer_; }
  const std::string & boundary () const { return opts_.boundary; }
  const FrameRef & latest () const { return latest_; }
  void publish (std::vector<uint8_t> && jpeg);
  void add_viewer (Conn *c) { viewers_.push_back (c); }
  void bury (Conn *c) { dead_.push_back (c); }

  uint64_t frames_in = 0;
  uint64_t parts_out = 0;
  uint64_t skipped = 0;

private:
  void accept_all ();
  void reap ();

  ServeOptions opts_;
  std::string trailer_;
  int epfd_ = -1;
  int listen_fd_ = -1;
  FrameRef latest_;
  std::vector<Conn *> viewers_;
  std::vector<Conn *> dead_;
};

/* ---- Conn --------------------------------------------------------------- */

void
Conn::kill ()
{
  if (dead_)
    return;
  dead_ = true;
  epoll_ctl (srv_.epfd (), EPOLL_CTL_DEL, fd_, nullptr);
  close (fd_);
  fd_ = -1;
  srv_.bury (this);
}

void
Conn::want_write (bool on)
{
  if (on == writing_)
    return;
  writing_ = on;
  epoll_event e = {};
  e.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
  e.data.ptr = this;
  epoll_ctl (srv_.epfd (), EPOLL_CTL_MOD, fd_, &e);
}

void
Conn::on_events (uint32_t events)
{
  if (dead_)
    return;
  switch (kind_) {
    case Kind::kRequest:
      read_request ();
      break;
    case Kind::kCamera:
      read_camera ();
      break;
    case Kind::kViewer:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        drain_viewer_input ();
      if (!dead_ && (events & EPOLLOUT))
        write_viewer ();
      break;
  }
}

void
Conn::read_request ()
{
  uint8_t buf[4096];
  ssize_t n = recv (fd_, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    kill ();
    return;
  }
  if (n < 0)
    return;
  in_.insert (in_.end (), buf, buf + n);
  static const char kEnd[] = "\r\n\r\n";
  auto end = std::search (in_.begin (), in_.end (), kEnd, kEnd + 4);
  if (end == in_.end ()) {
    if (in_.size () > 16384)
      kill ();
    return;
  }
  std::string head (in_.begin (), end + 2);
  in_.erase (in_.begin (), end + 4);
  in_len_ = in_.size ();
  std::string upgrade = header_value (head, "Upgrade");
  if (iequals_prefix (upgrade.data (), upgrade.size (), "websocket"))
    become_camera (head);
  else
    become_viewer (
        head.substr (0, head.find ('\n')).find ("content-length=1") != std::string::npos);
}

void
Conn::become_camera (const std::string & head)
{
  std::string resp = "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: " +
      ws_accept_for (header_value (head, "Sec-WebSocket-Key")) + "\r\n\r\n";
  if (send (fd_, resp.data (), resp.size (), MSG_NOSIGNAL) != ssize_t (resp.size ())) {
    kill ();
    return;
  }
  kind_ = Kind::kCamera;
  parse_messages ();
}

void
Conn::become_viewer (bool classic)
{
  kind_ = Kind::kViewer;
  classic_ = classic;
  prefix_ = "HTTP/1.1 200 OK\r\n"
            "Content-Type: multipart/x-mixed-replace; boundary=" +
      srv_.boundary () + "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
  if (!classic_)
    prefix_ += "--" + srv_.boundary () + "\r\nContent-Type: image/jpeg\r\n\r\n";
  srv_.add_viewer (this);
  if (srv_.latest ()) {
    offer (srv_.latest ());
    return;
  }
  /* No frame yet: the response head goes now, the parts when they come. */
  ssize_t n = send (fd_, prefix_.data (), prefix_.size (), MSG_NOSIGNAL);
  if (n != ssize_t (prefix_.size ())) {
    kill ();
    return;
  }
  prefix_.clear ();
}

void
Conn::read_camera ()
{
  constexpr size_t kChunk = 262144;
  for (;;) {
    /* in_ is used up to in_len_; its size is the capacity, so that reads
     * never pay for zero-filling. */
    if (in_.size () - in_len_ < kChunk) {
      memmove (in_.data (), in_.data () + in_pos_, in_len_ - in_pos_);
      in_len_ -= in_pos_;
      in_pos_ = 0;
      if (in_.size () - in_len_ < kChunk)
        in_.resize (in_len_ + 2 * kChunk);
    }
    ssize_t n = recv (fd_, in_.data () + in_len_, kChunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      kill ();
      return;
    }
    if (n < 0)
      return;
    in_len_ += size_t (n);
    parse_messages ();
    if (dead_ || size_t (n) < kChunk)
      return;
  }
}

void
Conn::parse_messages ()
{
  for (;;) {
    WsFrameHeader h;
    const uint8_t *p = in_.data () + in_pos_;
    size_t avail = in_len_ - in_pos_;
    if (!ws_parse_header (p, avail, &h) || avail < h.header_len + h.payload_len)
      return;
    const uint8_t *payload = p + h.header_len;
    in_pos_ += h.header_len + size_t (h.payload_len);
    if (h.opcode >= 0x8) {
      if (h.opcode == kWsClose) {
        kill ();
        return;
      }
      continue; /* ping/pong: nothing to do for a bench */
    }
    if (h.opcode != kWsContinuation) {
      message_.clear ();
      message_opcode_ = h.opcode;
    }
    size_t at = message_.size ();
    message_.insert (message_.end (), payload, payload + h.payload_len);
    if (h.masked)
      ws_apply_mask (message_.data () + at, size_t (h.payload_len), h.mask);
    if (h.fin && message_opcode_ == kWsBinary)
      srv_.publish (std::move (message_));
    if (h.fin)
      message_ = {};
  }
}

void
Conn::drain_viewer_input ()
{
  uint8_t buf[1024];
  for (;;) {
    ssize_t n = recv (fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      kill ();
      return;
    }
    if (n < 0)
      return;
  }
}

void
Conn::offer (const FrameRef & frame)
{
  if (dead_)
    return;
  if (current_) {
    ++srv_.skipped;
    return;
  }
  current_ = frame;
  sent_ = 0;
  write_viewer ();
}

void
Conn::write_viewer ()
{
  while (current_) {
    /* Default layout: [response head] jpeg, CRLF boundary + next headers.
     * Classic layout: [response head] boundary + headers with the length,
     * jpeg, CRLF. */
    static const char kCrlf[] = "\r\n";
    const std::string & trailer = srv_.trailer ();
    const void *base[4];
    size_t len[4];
    base[0] = prefix_.data ();
    len[0] = prefix_.size ();
    if (classic_) {
      base[1] = current_->classic_head.data ();
      len[1] = current_->classic_head.size ();
      base[2] = current_->jpeg.data ();
      len[2] = current_->jpeg.size ();
      base[3] = kCrlf;
      len[3] = 2;
    } else {
      base[1] = current_->jpeg.data ();
      len[1] = current_->jpeg.size ();
      base[2] = trailer.data ();
      len[2] = trailer.size ();
      base[3] = nullptr;
      len[3] = 0;
    }
    iovec iov[4];
    int n_iov = 0;
    size_t skip = sent_, total = 0;
    for (int i = 0; i < 4; ++i) {
      total += len[i];
      if (skip >= len[i]) {
        skip -= len[i];
        continue;
      }
      iov[n_iov].iov_base = const_cast<uint8_t *> (static_cast<const uint8_t *> (base[i]) + skip);
      iov[n_iov].iov_len = len[i] - skip;
      skip = 0;
      ++n_iov;
    }
    ssize_t n = writev (fd_, iov, n_iov);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        want_write (true);
        return;
      }
      kill ();
      return;
    }
    sent_ += size_t (n);
    if (sent_ < total)
      continue;
    ++srv_.parts_out;
    prefix_.clear ();
    sent_ = 0;
    /* Drained: the newest frame, if this viewer has not had it yet. */
    if (srv_.latest () != current_)
      current_ = srv_.latest ();
    else
      current_.reset ();
  }
  want_write (false);
}

/* ---- Server ------------------------------------------------------------- */

void
Server::publish (std::vector<uint8_t> && jpeg)
{
  auto frame = std::make_shared<Frame> ();
  frame->jpeg = std::move (jpeg);
  frame->classic_head = "--" + opts_.boundary +
      "\r\nContent-Type: image/jpeg\r\nContent-Length: " + std::to_string (frame->jpeg.size ()) +
      "\r\n\r\n";
  latest_ = std::move (frame);
  ++frames_in;
  for (Conn *v : viewers_)
    v->offer (latest_);
}

void
Server::accept_all ()
{
  for (;;) {
    int fd = accept4 (listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
      return;
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opts_.sndbuf > 0)
      setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &opts_.sndbuf, sizeof opts_.sndbuf);
    Conn *c = new Conn (*this, fd);
    epoll_event e = {};
    e.events = EPOLLIN | EPOLLRDHUP;
    e.data.ptr = c;
    epoll_ctl (epfd_, EPOLL_CTL_ADD, fd, &e);
  }
}

/* Connections die while a batch of events is being handled; they are
 * freed only after it. */
void
Server::reap ()
{
  if (dead_.empty ())
    return;
  viewers_.erase (std::remove_if (viewers_.begin (), viewers_.end (),
                      [] (Conn *c) { return c->dead (); }),
      viewers_.end ());
  for (Conn *c : dead_)
    delete c;
  dead_.clear ();
}

int
Server::run ()
{
  raise_nofile_limit ();
  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, on_stop);
  signal (SIGTERM, on_stop);

  listen_fd_ = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt (listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons (uint16_t (opts_.port));
  inet_pton (AF_INET, opts_.host.c_str (), &addr.sin_addr);
  if (bind (listen_fd_, reinterpret_cast<sockaddr *> (&addr), sizeof addr) != 0 ||
      listen (listen_fd_, 4096) != 0) {
    fprintf (stderr, "loadgen --serve: cannot listen on %s:%d: %s\n", opts_.host.c_str (),
        opts_.port, strerror (errno));
    return 2;
  }
  epfd_ = epoll_create1 (EPOLL_CLOEXEC);
  epoll_event e = {};
  e.events = EPOLLIN;
  e.data.ptr = nullptr;
  epoll_ctl (epfd_, EPOLL_CTL_ADD, listen_fd_, &e);
  if (opts_.verbose)
    fprintf (stderr, "loadgen --serve: listening on %s:%d\n", opts_.host.c_str (), opts_.port);

  epoll_event events[256];
  while (!g_serve_stop) {
    int n = epoll_wait (epfd_, events, 256, 500);
    for (int i = 0; i < n; ++i) {
      if (!events[i].data.ptr)
        accept_all ();
      else
        static_cast<Conn *> (events[i].data.ptr)->on_events (events[i].events);
    }
    reap ();
  }
  for (Conn *v : viewers_)
    v->kill ();
  reap ();
  close (listen_fd_);
  close (epfd_);
  fprintf (stderr,
      "loadgen --serve: %llu frames in, %llu parts out, "
      "%llu skipped for busy viewers\n",
      (unsigned long long) frames_in, (unsigned long long) parts_out, (unsigned long long) skipped);
  return 0;
}

}  // namespace

int
run_serve (const ServeOptions & opts)
{
  Server server (opts);
  return server.run ();
}

}  // namespace bench
