/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "camrelay-stream"
/* camrelay server: MJPEG fan-out.
 *
 * Each published frame becomes one immutable Part shared by every viewer. A viewer writes its
 * current part with non-blocking vectored sends straight from the frame's bytes; while its socket
 * is full, newer frames replace the queued ones, so a slow viewer skips whole frames and costs at
 * most max_queued_frames + 1 frames of memory, all of them shared with everybody else. A viewer on
 * a slow link is also held while its previous part is still in flight (hold_for_link), so that it
 * gets the newest frame when its link is free instead of a queue of old ones. The layout of the
 * parts (early headers for browsers, Content-Length for everybody else) is chosen per request.
 */
#include "crlinkhold.h"
#include "crreadysource.h"
#include "crserver-private.h"

#include <netinet/in.h>
/* The kernel's tcp_info (glibc's stops before tcpi_notsent_bytes and tcpi_delivery_rate). */
#include <linux/tcp.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace cr {

Part::Part (GBytes *jpeg_, const std::string & content_type_, const std::string & boundary_,
    guint64 seq_, gint64 wall_time_us)
  : jpeg (g_bytes_ref (jpeg_)), seq (seq_), boundary (boundary_), content_type (content_type_)
{
  data = static_cast<const guint8 *> (g_bytes_get_data (jpeg, &size));
  published_us = g_get_monotonic_time ();
  /* As ustreamer and mjpg-streamer send it: seconds.microseconds, wall clock. */
  char stamp[48];
  g_snprintf (stamp, sizeof (stamp), "%" G_GINT64_FORMAT ".%06d", wall_time_us / G_USEC_PER_SEC,
      static_cast<int> (wall_time_us % G_USEC_PER_SEC));
  head_with_length = "--" + boundary + "\r\nContent-Type: " + content_type +
      "\r\nContent-Length: " + std::to_string (size) + "\r\nX-Timestamp: " + stamp + "\r\n\r\n";
  advance_trailer = "\r\n--" + boundary + "\r\nContent-Type: " + content_type + "\r\n\r\n";
}

Part::~Part ()
{
  g_bytes_unref (jpeg);
}

/* ---------------------------------------------------------------------------------------------- */
/* Viewer                                                                                         */

static const char CRLF[] = "\r\n";
/* How often the link of a viewer that seems to keep up is looked at (see hold_for_link). */
static const gint64 PROBE_INTERVAL_US = G_USEC_PER_SEC;

Viewer::Viewer (StreamImpl & stream, GIOStream *io, GSocket *socket, std::string peer,
    const ViewerRequest & request, const std::string & boundary)
  : Connection (stream.server_ref (), io, socket, std::move (peer)), stream_ (&stream),
    with_length_ (request.with_length), min_interval_us_ (request.min_interval_us),
    boundary_ (boundary)
{
  int one = 1;
  setsockopt (fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  /* Without this the kernel happily queues a minute of video for a slow viewer before the socket
   * ever reports full, and the viewer watches the past. */
  if (stream.settings ().send_lowat > 0)
    set_send_lowat (stream.settings ().send_lowat);
  watch (true, false);
}

void
Viewer::start_part (const PartRef & part)
{
  cur_ = part;
  off_ = 0;
  nsegs_ = 0;
  part_writes_ = 0;
  auto add = [this] (const void *data, gsize len) {
    if (len == 0)
      return;
    segs_[nsegs_].iov_base = const_cast<void *> (data);
    segs_[nsegs_].iov_len = len;
    nsegs_++;
  };
  if (with_length_) {
    add (part->head_with_length.data (), part->head_with_length.size ());
    add (part->data, part->size);
    add (CRLF, 2);
  } else {
    if (!preamble_sent_) {
      preamble_ = "--" + boundary_ + "\r\nContent-Type: " + part->content_type + "\r\n\r\n";
      add (preamble_.data (), preamble_.size ());
      preamble_sent_ = true;
    }
    add (part->data, part->size);
    add (part->advance_trailer.data (), part->advance_trailer.size ());
  }
  total_ = 0;
  for (int i = 0; i < nsegs_; i++)
    total_ += segs_[i].iov_len;
}

std::recursive_mutex *
Viewer::send_lock () const
{
  return stream_ ? &stream_->send_mutex_ : nullptr;
}

bool
Viewer::offer_from_any_thread (const PartRef & part)
{
  /* GnuTLS sessions are the server thread's; a boundary change drops the viewer. */
  if (tls_ || part->boundary != boundary_)
    return false;
  offer (part);
  return true;
}

void
Viewer::offer (const PartRef & part)
{
  if (finishing_ || destroyed_)
    return;
  /* A viewer that joined between a publish and its fan-out was given that part as the latest. */
  if (part->seq <= last_seq_)
    return;
  last_seq_ = part->seq;
  if (min_interval_us_ > 0 && !rate_allows (part->published_us))
    return;
  if (part->boundary != boundary_) {
    /* The boundary was announced in this viewer's response headers; it cannot change mid-way. */
    drop ("multipart boundary changed");
    return;
  }
  queue_.push_back (part);
  while (queue_.size () > stream_->settings ().max_queued_frames) {
    queue_.pop_front ();
    stream_->count_skipped ();
  }
  if (!blocked ())
    flush ();
}

/* ?fps=N: whole frames are skipped and the first one due is sent, never re-encoded. The schedule
 * advances by the interval rather than from each send, so that a camera's frame spacing does not
 * round N down (a 30 fps camera at ?fps=2 gives 2 parts a second, not 1.9); a viewer that fell a
 * whole interval behind starts a new schedule. The slack absorbs a camera's jitter. */
bool
Viewer::rate_allows (gint64 published_us)
{
  const gint64 slack_us = 2000;
  if (next_due_us_ && published_us + slack_us < next_due_us_)
    return false;
  if (next_due_us_ && published_us - next_due_us_ < min_interval_us_)
    next_due_us_ += min_interval_us_;
  else
    next_due_us_ = published_us + min_interval_us_;
  return true;
}

/* Writes as much as the socket takes. Returns false once the viewer is gone. */
bool
Viewer::flush ()
{
  for (;;) {
    if (!cur_) {
      if (queue_.empty ())
        break;
      /* A viewer that keeps up costs nothing here but a comparison; the link is looked at only
       * for a viewer that was slow lately, and once a second for everybody else (a part can go
       * out in one send and still sit in a slow link's queue). */
      gint64 published = queue_.front ()->published_us;
      if (slow_ || published - last_probe_us_ >= PROBE_INTERVAL_US) {
        last_probe_us_ = published;
        if (hold_for_link (queue_.front ()->size))
          return true;
      }
      PartRef next = std::move (queue_.front ());
      queue_.pop_front ();
      start_part (next);
    }

    struct iovec iov[3];
    int n = 0;
    gsize skip = off_;
    for (int i = 0; i < nsegs_; i++) {
      if (skip >= segs_[i].iov_len) {
        skip -= segs_[i].iov_len;
        continue;
      }
      iov[n].iov_base = static_cast<guint8 *> (segs_[i].iov_base) + skip;
      iov[n].iov_len = segs_[i].iov_len - skip;
      skip = 0;
      n++;
    }

    gsize written = 0;
    Io r = write_vectors (iov, n, &written);
    part_writes_++;
    if (r == Io::CLOSED) {
      if (!server_.in_server_thread_fast ()) {
        /* Dropped by the server thread, which the error wakes (on_events). */
        failed_ = true;
        watch (true, true);
        return false;
      }
      drop ("write failed");
      return false;
    }
    if (written > 0) {
      off_ += written;
      blocked_since_ = 0;
      bool done = off_ == total_;
      if (stream_)
        stream_->count_sent (written, done);
      if (done) {
        part_done_us_ = g_get_monotonic_time ();
        if (part_writes_ > 1) {
          slow_ = true;
          fast_looks_ = 0;
        }
        part_held_ = false;
        cur_.reset ();
      }
    }
    if (r == Io::WOULD_BLOCK || (cur_ && written == 0)) {
      if (!blocked_since_)
        blocked_since_ = g_get_monotonic_time ();
      watch (true, true);
      if (stream_)
        stream_->viewer_blocked ();
      return true;
    }
  }

  blocked_since_ = 0;
  if (finishing_) {
    while (tail_off_ < tail_.size ()) {
      struct iovec iov = { const_cast<char *> (tail_.data ()) + tail_off_,
        tail_.size () - tail_off_ };
      gsize written = 0;
      Io r = write_vectors (&iov, 1, &written);
      tail_off_ += written;
      if (r == Io::WOULD_BLOCK) {
        watch (true, true);
        return true;
      }
      if (r == Io::CLOSED)
        break;
    }
    drop (nullptr);
    return false;
  }
  watch (true, false);
  return true;
}

/* A viewer whose link held a part is looked at before every part, until this many looks in a row
 * found its link free. */
static const guint FAST_LOOKS = 8;
/* A held part is looked at again this soon at the earliest (a rate estimate is coarse) and at the
 * latest. */
static const gint64 HOLD_MIN_US = 5 * 1000;
static const gint64 HOLD_MAX_US = 100 * 1000;

/* Of the bytes written to @fd: those its peer has not acknowledged (not sent yet, or on their
 * way). */
static bool
socket_unacked (int fd, guint64 *unacked)
{
  int n = 0;
  if (ioctl (fd, SIOCOUTQ, &n) != 0 || n < 0)
    return false;
  *unacked = static_cast<guint64> (n);
  return true;
}

/* The rest of @look from the kernel's TCP_INFO, and its delivery rate (bytes/s, 0 before the
 * first sample) into @rate. */
static bool
read_link (int fd, LinkLook *look, guint64 *rate)
{
  struct tcp_info info = {};
  socklen_t len = sizeof (info);
  if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof (struct tcp_info, tcpi_delivery_rate) + sizeof (info.tcpi_delivery_rate))
    return false;
  look->unsent = info.tcpi_notsent_bytes;
  look->srtt_us = info.tcpi_rtt;
  look->min_rtt_us = info.tcpi_min_rtt == G_MAXUINT32 ? 0 : info.tcpi_min_rtt;
  *rate = info.tcpi_delivery_rate;
  return true;
}

/* Returns true when the next part should wait for the link (judge_link in crlinkhold.cpp: more
 * than an eighth of the previous part still unsent, or on its way through a link not proven
 * fast). The next part then goes out once the previous one has nearly arrived, queues behind
 * almost nothing (and its burst fits a thin link's buffer: a queue that overflows costs
 * retransmissions of seconds), and the viewer's queue keeps only the newest frame meanwhile, so
 * that a viewer on a thin link gets the freshest frame the moment its link is free, whatever the
 * camera's rate. A link proves fast when FAST_LOOKS looks in a row find it free or end their hold
 * quickly; a loopback or LAN viewer of a camera at thousands of frames a second is then not held
 * for acknowledgements that trail its reads (each hold, at least HOLD_MIN_US, cost it a hundred
 * frames). */
bool
Viewer::hold_for_link (gsize next_size)
{
  LinkLook look;
  if (!socket_unacked (fd_, &look.unacked))
    return false;
  guint64 rate = 0;
  gint64 now = 0;
  if (look.unacked > next_size / 8) {
    if (!read_link (fd_, &look, &rate))
      return false;
    now = g_get_monotonic_time ();
    min_rtt_us_ = look.min_rtt_us;
    look.sent_ago_us = part_done_us_ ? now - part_done_us_ : 0;
    look.proven = link_proven_;
  }
  LinkVerdict verdict = judge_link (look, next_size);
  if (verdict == LinkVerdict::SEND) {
    if (part_held_ && !now)
      now = g_get_monotonic_time ();
    if (part_held_ && !hold_was_quick (now - hold_since_us_, min_rtt_us_)) {
      /* A release after a long hold is no sign of a fast link. */
      fast_looks_ = 0;
      link_proven_ = false;
    } else if (slow_ && ++fast_looks_ >= FAST_LOOKS) {
      slow_ = false;
      link_proven_ = true;
      set_send_lowat (stream_ ? stream_->settings ().send_lowat : lowat_);
    }
    return false;
  }
  slow_ = true;
  if (!part_held_)
    hold_since_us_ = now;
  part_held_ = true;
  const guint64 allowed = next_size / 8;
  if (verdict == LinkVerdict::WAIT_WINDOW) {
    /* The viewer's window is full (it has not read, or its link takes no more yet): the kernel
     * says when the unsent bytes are down to the threshold (poll reports a socket writable below
     * half its low-water mark), with no timer. */
    set_send_lowat (static_cast<guint> (MAX (2 * allowed, 1)));
    if (hold_timer_)
      g_source_set_ready_time (hold_timer_, -1);
    watch (true, true);
  } else {
    /* On their way: looked at again when the link should have delivered them. */
    if (!hold_timer_) {
      hold_timer_ = ready_source_new (on_hold_over, this, "camrelay viewer hold");
      g_source_attach (hold_timer_, server_.context ());
    }
    g_source_set_ready_time (hold_timer_, now + hold_wait_us (look.unacked - allowed, rate));
    watch (true, false);
  }
  /* Counts as blocked: new frames only replace the queued one, and a link that never drains
   * still meets the stall timeout. */
  if (!blocked_since_)
    blocked_since_ = now;
  if (stream_)
    stream_->viewer_blocked ();
  return true;
}

/* TCP_NOTSENT_LOWAT: how many unsent bytes the socket holds before it reports full. */
void
Viewer::set_send_lowat (guint bytes)
{
  if (bytes == lowat_)
    return;
  int v = static_cast<int> (MIN (bytes, static_cast<guint> (G_MAXINT)));
  if (setsockopt (fd_, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof (v)) == 0)
    lowat_ = bytes;
}

/* How long @excess bytes need at the link's rate, within HOLD_MIN_US and HOLD_MAX_US: when to look
 * again. The kernel's delivery rate is trusted downwards at once and upwards at most twofold per
 * look; a sample taken on a token bucket's burst can be a thousand times the link's rate, and
 * would only make the looks more frequent. */
gint64
Viewer::hold_wait_us (guint64 excess, guint64 rate)
{
  if (rate == 0)
    return HOLD_MIN_US;
  if (link_rate_)
    rate = MIN (rate, link_rate_ * 2);
  link_rate_ = rate;
  return CLAMP (static_cast<gint64> (excess * G_USEC_PER_SEC / rate), HOLD_MIN_US, HOLD_MAX_US);
}

gboolean
Viewer::on_hold_over (gpointer data)
{
  auto *self = static_cast<Viewer *> (data);
  std::recursive_mutex *lock = self->send_lock ();
  std::unique_lock<std::recursive_mutex> guard;
  if (lock)
    guard = std::unique_lock<std::recursive_mutex> (*lock);
  g_source_set_ready_time (self->hold_timer_, -1);
  if (!self->destroyed_)
    self->flush ();
  return G_SOURCE_CONTINUE;
}

void
Viewer::finish ()
{
  if (finishing_ || destroyed_)
    return;
  finishing_ = true;
  queue_.clear ();
  /* Advance mode has already opened the next part: close it empty. */
  tail_ = with_length_ || !preamble_sent_ ? "--" + boundary_ + "--\r\n"
                                          : "\r\n--" + boundary_ + "--\r\n";
  if (!blocked ())
    flush ();
}

void
Viewer::drop (const char *why)
{
  if (destroyed_)
    return;
  if (why)
    g_debug ("viewer %s: %s", peer_.c_str (), why);
  if (socket_)
    g_socket_shutdown (socket_, FALSE, TRUE, nullptr);
  if (hold_timer_)
    g_source_set_ready_time (hold_timer_, -1);
  if (stream_)
    stream_->viewer_gone (this);
  stream_ = nullptr;
  destroy ();
}

/* Long enough for a part in flight to reach a viewer on a slow link; short enough that shutting a
 * stream down never waits on a stuck one. */
static const guint ORPHAN_GRACE_MS = 1000;

void
Viewer::orphan ()
{
  if (destroyed_)
    return;
  stream_ = nullptr;
  finish ();
  if (destroyed_)
    return;
  drain_timer_ = g_timeout_source_new (ORPHAN_GRACE_MS);
  g_source_set_callback (
      drain_timer_,
      [] (gpointer self) -> gboolean {
        auto *viewer = static_cast<Viewer *> (self);
        g_clear_pointer (&viewer->drain_timer_, g_source_unref);
        viewer->drop ("did not take the end of its response in time");
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach (drain_timer_, server_.context ());
}

void
Viewer::adopt (StreamImpl & stream)
{
  stream_ = &stream;
  /* The new stream counts its parts from 1 again. */
  last_seq_ = 0;
  next_due_us_ = 0;
  if (blocked ())
    stream.viewer_blocked ();
}

Viewer::~Viewer ()
{
  if (drain_timer_) {
    g_source_destroy (drain_timer_);
    g_source_unref (drain_timer_);
  }
  if (hold_timer_) {
    g_source_destroy (hold_timer_);
    g_source_unref (hold_timer_);
  }
}

void
Viewer::discard_input ()
{
  /* Viewers have nothing to say after their request; read and forget, a bounded amount at a time,
   * so that a chatty client costs nothing but the read. */
  guint8 scratch[4096];
  for (int i = 0; i < 16; i++) {
    gsize got = 0;
    Io r = read_some (scratch, sizeof (scratch), &got);
    if (r == Io::WOULD_BLOCK)
      return;
    if (r == Io::CLOSED) {
      drop ("viewer closed the connection");
      return;
    }
  }
  budget_spent ();
}

void
Viewer::on_events (uint32_t events)
{
  std::recursive_mutex *lock = send_lock ();
  std::unique_lock<std::recursive_mutex> guard;
  if (lock)
    guard = std::unique_lock<std::recursive_mutex> (*lock);
  if (failed_) {
    drop ("write failed");
    return;
  }
  if (events & (EPOLLERR | EPOLLHUP)) {
    drop ("connection error");
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP)) {
    discard_input ();
    if (destroyed_)
      return;
  }
  if (events & EPOLLOUT)
    flush ();
}

/* ---------------------------------------------------------------------------------------------- */
/* StreamImpl                                                                                     */

StreamImpl::StreamImpl (std::shared_ptr<ServerImpl> server, const StreamSettings & settings,
    guint64 id)
  : server_ (std::move (server)), settings_ (settings), id_ (id)
{
  if (settings_.max_queued_frames == 0)
    settings_.max_queued_frames = 1;
}

StreamImpl::~StreamImpl ()
{
  /* A stream removed with remove_stream was detached when the server applied that (the queued
   * change held a reference until then); only a stream dropped without it needs the trip. */
  if (attached_ || parked_)
    server_->invoke_sync ([this] { detach (); });
}

void
StreamImpl::silence ()
{
  std::lock_guard<std::recursive_mutex> lock (callbacks_lock_);
  silenced_ = true;
}

void
StreamImpl::tell_viewers ()
{
  std::lock_guard<std::recursive_mutex> lock (callbacks_lock_);
  if (!silenced_ && settings_.on_viewers)
    settings_.on_viewers (viewers_.size ());
}

void
StreamImpl::tell_wanted ()
{
  std::lock_guard<std::recursive_mutex> lock (callbacks_lock_);
  if (!silenced_ && settings_.on_wanted)
    settings_.on_wanted ();
}

void
StreamImpl::attach ()
{
  server_->register_stream (this);
  {
    std::lock_guard<std::recursive_mutex> send (send_mutex_);
    attached_ = true;
  }
  /* Publishing marks the stream in the server's list and wakes the server's one wake-up source
   * (ServerImpl::mark_pending): no source per stream, which GLib would look at on every
   * iteration of the server thread. A frame published before the route was attached is sent
   * now. */
  fan_out_pending ();
}

/* Off the routes and the wake-up: no request and no frame reaches this stream any more. */
void
StreamImpl::unroute ()
{
  server_->unregister_stream (this);
}

bool
StreamImpl::park ()
{
  if (!attached_)
    return false;
  bool waiting = false;
  for (Viewer *v : viewers_)
    waiting = waiting || !v->finishing ();
  if (!waiting)
    return false;
  {
    std::lock_guard<std::recursive_mutex> send (send_mutex_);
    attached_ = false;
  }
  parked_ = true;
  unroute ();
  /* The element that owned this stream is going away: it hears nothing more. */
  settings_.on_viewers = nullptr;
  settings_.on_wanted = nullptr;
  answer_held_snapshots ();
  return true;
}

void
StreamImpl::adopt_viewers (StreamImpl & from)
{
  std::vector<Viewer *> viewers;
  {
    std::lock_guard<std::recursive_mutex> send (from.send_mutex_);
    viewers.swap (from.viewers_);
  }
  {
    std::lock_guard<std::mutex> lock (from.mutex_);
    from.stats_.viewers = 0;
  }
  std::lock_guard<std::recursive_mutex> send (send_mutex_);
  PartRef latest;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    latest = latest_;
  }
  for (Viewer *v : viewers) {
    viewers_.push_back (v);
    v->adopt (*this);
  }
  {
    std::lock_guard<std::mutex> lock (mutex_);
    stats_.viewers = viewers_.size ();
  }
  g_debug ("%zu viewer(s) of %s carry on with a new stream", viewers.size (),
      settings_.path.c_str ());
  tell_viewers ();
  if (latest) {
    for (Viewer *v : viewers)
      v->offer (latest);
  }
}

void
StreamImpl::detach ()
{
  if (!attached_ && !parked_)
    return;
  if (attached_)
    unroute ();
  std::lock_guard<std::recursive_mutex> send (send_mutex_);
  attached_ = false;
  parked_ = false;
  answer_held_snapshots ();
  settings_.on_wanted = nullptr;
  if (stall_timer_) {
    g_source_destroy (stall_timer_);
    g_clear_pointer (&stall_timer_, g_source_unref);
  }
  /* Viewers finish the part in flight and the closing boundary on their own (a cut-off part would
   * be a broken picture); they no longer report to this stream. */
  settings_.on_viewers = nullptr;
  std::vector<Viewer *> viewers;
  viewers.swap (viewers_);
  for (Viewer *v : viewers)
    v->orphan ();
  std::lock_guard<std::mutex> lock (mutex_);
  stats_.viewers = 0;
}

void
StreamImpl::publish (GBytes *jpeg, const char *content_type)
{
  PartRef part;
  bool held;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    if (finished_)
      return;
    part = std::make_shared<const Part> (jpeg, content_type ? content_type : "image/jpeg",
        boundary_, ++seq_, g_get_real_time ());
    latest_ = part;
    stats_.frames_in++;
    held = held_count_ > 0;
  }
  /* Sent from here, in the publishing thread (ustreamer's way): waking the server thread for
   * every frame cost as much as everything else the frame needs. What this thread may not do
   * (held snapshots, TLS viewers, dropping a viewer) goes through the server thread as before. */
  bool via_server = held || server_->in_server_thread_fast ();
  if (!via_server) {
    std::lock_guard<std::recursive_mutex> send (send_mutex_);
    if (!attached_)
      via_server = true;
    for (Viewer *v : viewers_)
      if (!v->offer_from_any_thread (part))
        via_server = true;
  }
  if (!via_server)
    return;
  std::lock_guard<std::mutex> lock (mutex_);
  pending_.push_back (part);
  if (pending_.size () > MAX_PENDING)
    pending_.pop_front ();
  if (!marked_) {
    marked_ = true;
    server_->mark_pending (id_);
  }
}

void
StreamImpl::set_boundary (const std::string & boundary)
{
  std::lock_guard<std::mutex> lock (mutex_);
  boundary_ = boundary;
}

void
StreamImpl::finish ()
{
  std::lock_guard<std::mutex> lock (mutex_);
  finished_ = true;
  finish_pending_ = true;
  if (!marked_) {
    marked_ = true;
    server_->mark_pending (id_);
  }
}

void
StreamImpl::reopen ()
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    if (!finished_)
      return;
  }
  /* A finish not yet fanned out belongs to the ended stream: deliver it first, or it would end the
   * responses of viewers that join after the reopen. */
  server_->invoke_sync ([this] { fan_out_pending (); });
  std::lock_guard<std::mutex> lock (mutex_);
  finished_ = false;
}

GBytes *
StreamImpl::latest () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return latest_ ? g_bytes_ref (latest_->jpeg) : nullptr;
}

StreamStats
StreamImpl::stats () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return stats_;
}

void
StreamImpl::fan_out_pending ()
{
  bool pending;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    marked_ = false;
    pending = !pending_.empty () || finish_pending_;
  }
  if (pending)
    fan_out ();
}

void
StreamImpl::fan_out ()
{
  std::deque<PartRef> parts;
  bool finish;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    parts.swap (pending_);
    finish = finish_pending_;
    finish_pending_ = false;
  }
  std::unique_lock<std::recursive_mutex> send (send_mutex_);
  if (!parts.empty ()) {
    /* Iterate over a copy: a failing write removes the viewer from viewers_. */
    std::vector<Viewer *> viewers (viewers_);
    for (const PartRef & part : parts)
      for (Viewer *v : viewers)
        v->offer (part);
  }
  if (finish) {
    std::vector<Viewer *> viewers (viewers_);
    for (Viewer *v : viewers)
      v->finish ();
  }
  send.unlock ();
  if (!parts.empty ())
    answer_held_snapshots ();
}

PartLayout
choose_part_layout (const char *content_length, const char *user_agent, const char *sec_fetch_dest)
{
  if (content_length) {
    if (*content_length == '\0' || g_ascii_strcasecmp (content_length, "1") == 0 ||
        g_ascii_strcasecmp (content_length, "true") == 0 ||
        g_ascii_strcasecmp (content_length, "yes") == 0)
      return PartLayout::CONTENT_LENGTH;
    if (g_ascii_strcasecmp (content_length, "0") == 0 ||
        g_ascii_strcasecmp (content_length, "false") == 0 ||
        g_ascii_strcasecmp (content_length, "no") == 0)
      return PartLayout::EARLY_HEADERS;
  }
  /* Only browsers send Sec-Fetch-*. "empty" is fetch() or XHR: the page's own script parses the
   * parts, and scripts go by Content-Length like any other reader. */
  if (sec_fetch_dest && *sec_fetch_dest)
    return g_ascii_strcasecmp (sec_fetch_dest, "empty") == 0 ? PartLayout::CONTENT_LENGTH
                                                             : PartLayout::EARLY_HEADERS;
  if (user_agent) {
    /* Every browser and WebView says Mozilla/ first; that catches those too old for Sec-Fetch-*
     * (Safari before 16.4) too. */
    if (g_str_has_prefix (user_agent, "Mozilla/"))
      return PartLayout::EARLY_HEADERS;
    /* Home Assistant's MJPEG camera proxies the bytes to the browser showing its dashboard. */
    if (g_str_has_prefix (user_agent, "HomeAssistant/"))
      return PartLayout::EARLY_HEADERS;
  }
  /* ffmpeg (and OpenCV, Frigate, motion), VLC, GStreamer, go2rtc, curl, scripts, no User-Agent:
   * readers that hand a part on once its length is complete, or need the length to read at all. */
  return PartLayout::CONTENT_LENGTH;
}

static void
set_no_cache (SoupMessageHeaders *h)
{
  soup_message_headers_replace (h, "Cache-Control",
      "no-store, no-cache, must-revalidate, max-age=0");
  soup_message_headers_replace (h, "Pragma", "no-cache");
  soup_message_headers_replace (h, "Expires", "0");
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
}

/* Shared by the two signal handlers that may end a pending viewer: whichever comes first wins. */
struct PendingViewer
{
  std::shared_ptr<ServerImpl> server;
  guint64 stream_id;
  ViewerRequest request;
  bool settled = false;
  int refs = 2;

  StreamImpl *settle ()
  {
    StreamImpl *stream = server->stream_by_id (stream_id);
    if (!settled && stream)
      stream->pending_viewer_settled ();
    settled = true;
    return stream;
  }
  static void unref (gpointer data, GClosure *)
  {
    auto *self = static_cast<PendingViewer *> (data);
    if (--self->refs == 0)
      delete self;
  }
};

/* ?fps=N as the least time between two parts. N may be a fraction (0.5: a part every 2 s) from
 * MIN_FPS, whose interval still fits comfortably in microseconds (below it 10^6 / N overflows
 * gint64, which is undefined and in practice meant no cap at all), to MAX_FPS. */
static const double MIN_FPS = 0.0001; /* one part every 10,000 s (2 h 46 min) */
static const double MAX_FPS = 1000;

/* False if ?fps= is there and not such a number. */
static bool
parse_fps (GHashTable *query, gint64 *min_interval_us)
{
  *min_interval_us = 0;
  const char *text =
      query ? static_cast<const char *> (g_hash_table_lookup (query, "fps")) : nullptr;
  if (!text)
    return true;
  char *end = nullptr;
  double fps = g_ascii_strtod (text, &end);
  /* Written so that NaN fails too. */
  if (!*text || *end || !(fps >= MIN_FPS && fps <= MAX_FPS))
    return false;
  *min_interval_us = static_cast<gint64> (G_USEC_PER_SEC / fps);
  return true;
}

void
StreamImpl::handle_stream (SoupServerMessage *msg, GHashTable *query)
{
  ViewerRequest request;
  if (!parse_fps (query, &request.min_interval_us)) {
    set_plain_response (msg, SOUP_STATUS_BAD_REQUEST,
        "fps must be a number of frames per second from 0.0001 to 1000, e.g. ?fps=2");
    return;
  }
  if (settings_.max_viewers && viewers_.size () + pending_viewers_ >= settings_.max_viewers) {
    {
      std::lock_guard<std::mutex> lock (mutex_);
      stats_.viewers_refused++;
    }
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
        "10");
    set_plain_response (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "too many viewers on this stream; try again later");
    return;
  }

  std::string boundary;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    boundary = boundary_;
  }
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  g_autofree gchar *type =
      g_strdup_printf ("multipart/x-mixed-replace;boundary=%s", boundary.c_str ());
  soup_message_headers_replace (h, "Content-Type", type);
  set_no_cache (h);
  soup_message_headers_replace (h, "Connection", "close");
  soup_message_headers_replace (h, "X-Accel-Buffering", "no");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  /* libsoup writes the status line and headers; the body is ours, written straight to the socket
   * until the connection ends. For HEAD the same: otherwise libsoup would claim
   * "Content-Length: 0" for an endless response. */
  soup_message_headers_set_encoding (h, SOUP_ENCODING_EOF);
  if (method_is (msg, "HEAD"))
    return;

  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  PartLayout layout = choose_part_layout (query
          ? static_cast<const char *> (g_hash_table_lookup (query, "content-length"))
          : nullptr,
      soup_message_headers_get_one (req, "User-Agent"),
      soup_message_headers_get_one (req, "Sec-Fetch-Dest"));
  request.with_length = layout == PartLayout::CONTENT_LENGTH;
  tell_wanted ();
  pending_viewers_++;
  auto *pending = new PendingViewer{ server_, id_, request };
  g_signal_connect_data (msg, "wrote-headers",
      G_CALLBACK (+[] (SoupServerMessage *m, gpointer data) {
        auto *pv = static_cast<PendingViewer *> (data);
        StreamImpl *stream = pv->settle ();
        GIOStream *io;
        GSocket *socket;
        std::string peer;
        if (!ServerImpl::steal (m, &io, &socket, &peer))
          return;
        if (!stream) {
          g_socket_close (socket, nullptr);
          g_object_unref (socket);
          g_object_unref (io);
          return;
        }
        stream->add_viewer (io, socket, peer, pv->request);
      }),
      pending, PendingViewer::unref, static_cast<GConnectFlags> (0));
  /* A client that goes away before its headers are written never reaches wrote-headers. */
  g_signal_connect_data (msg, "finished", G_CALLBACK (+[] (SoupServerMessage *, gpointer data) {
    static_cast<PendingViewer *> (data)->settle ();
  }),
      pending, PendingViewer::unref, static_cast<GConnectFlags> (0));
}

void
StreamImpl::pending_viewer_settled ()
{
  if (pending_viewers_ > 0)
    pending_viewers_--;
}

void
StreamImpl::add_viewer (GIOStream *io, GSocket *socket, const std::string & peer,
    const ViewerRequest & request)
{
  std::lock_guard<std::recursive_mutex> send (send_mutex_);
  std::string boundary;
  PartRef latest;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    boundary = boundary_;
    latest = latest_;
    stats_.viewers_total++;
    stats_.viewers = viewers_.size () + 1;
  }
  auto *viewer = new Viewer (*this, io, socket, peer, request, boundary);
  viewers_.push_back (viewer);
  tell_viewers ();
  g_debug ("viewer %s joined %s (%zu now), %s", peer.c_str (), settings_.path.c_str (),
      viewers_.size (), request.with_length ? "Content-Length parts" : "early headers");
  /* The latest frame at once, so a 1 fps camera or the placeholder shows without waiting. */
  if (latest)
    viewer->offer (latest);
}

void
StreamImpl::viewer_gone (Viewer *viewer)
{
  std::lock_guard<std::recursive_mutex> send (send_mutex_);
  for (auto it = viewers_.begin (); it != viewers_.end (); ++it) {
    if (*it == viewer) {
      *it = viewers_.back ();
      viewers_.pop_back ();
      break;
    }
  }
  tell_viewers ();
  std::lock_guard<std::mutex> lock (mutex_);
  stats_.viewers = viewers_.size ();
}

void
StreamImpl::count_sent (gsize bytes, bool part_done)
{
  std::lock_guard<std::mutex> lock (mutex_);
  stats_.bytes_sent += bytes;
  if (part_done)
    stats_.parts_sent++;
}

void
StreamImpl::count_skipped ()
{
  std::lock_guard<std::mutex> lock (mutex_);
  stats_.parts_skipped++;
}

void
StreamImpl::viewer_blocked ()
{
  if (stall_timer_ || settings_.stall_timeout_ms == 0)
    return;
  guint interval = CLAMP (settings_.stall_timeout_ms / 4, 50u, 1000u);
  stall_timer_ = g_timeout_source_new (interval);
  g_source_set_callback (stall_timer_, on_stall_check, this, nullptr);
  g_source_attach (stall_timer_, server_->context ());
}

gboolean
StreamImpl::on_stall_check (gpointer data)
{
  auto *self = static_cast<StreamImpl *> (data);
  std::lock_guard<std::recursive_mutex> send (self->send_mutex_);
  gint64 now = g_get_monotonic_time ();
  gint64 limit = static_cast<gint64> (self->settings_.stall_timeout_ms) * 1000;
  bool any_blocked = false;
  std::vector<Viewer *> viewers (self->viewers_);
  for (Viewer *v : viewers) {
    if (!v->blocked ())
      continue;
    if (now - v->blocked_since () >= limit) {
      {
        std::lock_guard<std::mutex> lock (self->mutex_);
        self->stats_.viewers_stalled++;
      }
      g_info ("viewer %s of %s accepted nothing for %u ms: disconnecting", v->peer ().c_str (),
          self->settings_.path.c_str (), self->settings_.stall_timeout_ms);
      v->drop (nullptr);
    } else {
      any_blocked = true;
    }
  }
  if (any_blocked)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->stall_timer_, g_source_unref);
  return G_SOURCE_REMOVE;
}

void
StreamImpl::handle_snapshot (SoupServerMessage *msg)
{
  PartRef latest;
  guint wait_ms;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    latest = latest_;
    wait_ms = snapshot_wait_ms_;
    stats_.snapshots++;
  }
  tell_wanted ();
  if (wait_ms > 0)
    hold_snapshot (msg, wait_ms);
  else if (!latest)
    /* A camera that has not output its first frame (its placeholder comes within moments of its
     * start): the snapshot waits for it rather than failing a client that came early. */
    hold_snapshot (msg, FIRST_FRAME_WAIT_MS);
  else
    answer_snapshot (msg, latest);
}

void
StreamImpl::answer_snapshot (SoupServerMessage *msg, const PartRef & part)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  set_no_cache (h);
  if (!part) {
    soup_message_headers_replace (h, "Retry-After", "1");
    set_plain_response (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no frame yet");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_headers_replace (h, "Content-Type", part->content_type.c_str ());
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), part->jpeg);
}

/* Paused until the next frame (answer_held_snapshots) or its deadline, whichever comes first. */
void
StreamImpl::hold_snapshot (SoupServerMessage *msg, guint wait_ms)
{
  struct Deadline
  {
    StreamImpl *stream;
    SoupServerMessage *msg;
  };
  soup_server_message_pause (msg);
  HeldSnapshot held{ SOUP_SERVER_MESSAGE (g_object_ref (msg)), g_timeout_source_new (wait_ms) };
  /* The source goes before the stream does (answer_held_snapshots() from detach()). */
  g_source_set_callback (
      held.deadline,
      [] (gpointer data) -> gboolean {
        auto *d = static_cast<Deadline *> (data);
        StreamImpl *self = d->stream;
        auto & list = self->held_snapshots_;
        auto it = std::find_if (list.begin (), list.end (),
            [d] (const HeldSnapshot & h) { return h.msg == d->msg; });
        if (it == list.end ())
          return G_SOURCE_REMOVE;
        HeldSnapshot h = *it;
        list.erase (it);
        PartRef latest;
        {
          std::lock_guard<std::mutex> lock (self->mutex_);
          latest = self->latest_;
          self->held_count_ = list.size ();
        }
        self->answer_snapshot (h.msg, latest);
        soup_server_message_unpause (h.msg);
        g_object_unref (h.msg);
        g_source_unref (h.deadline);
        return G_SOURCE_REMOVE;
      },
      new Deadline{ this, msg }, [] (gpointer data) { delete static_cast<Deadline *> (data); });
  g_source_attach (held.deadline, server_->context ());
  held_snapshots_.push_back (held);
  std::lock_guard<std::mutex> lock (mutex_);
  held_count_ = held_snapshots_.size ();
}

/* Server thread: a frame came (or the stream goes): every held snapshot gets the latest one. */
void
StreamImpl::answer_held_snapshots ()
{
  if (held_snapshots_.empty ())
    return;
  PartRef latest;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    latest = latest_;
    held_count_ = 0;
  }
  std::vector<HeldSnapshot> held;
  held.swap (held_snapshots_);
  for (const auto & h : held) {
    answer_snapshot (h.msg, latest);
    soup_server_message_unpause (h.msg);
    g_object_unref (h.msg);
    g_source_destroy (h.deadline);
    g_source_unref (h.deadline);
  }
}

void
StreamImpl::set_snapshot_wait (guint ms)
{
  std::lock_guard<std::mutex> lock (mutex_);
  snapshot_wait_ms_ = ms;
}

}  // namespace cr
