#define G_LOG_DOMAIN "camrelay-stream"
/* camrelay server: MJPEG fan-out.
 *
 * Each published frame becomes one immutable Part shared by every viewer. A viewer writes its current
 * part with non-blocking vectored sends straight from the frame's bytes; while its socket is full,
 * newer frames replace the queued ones, so a slow viewer skips whole frames and costs at most
 * max_queued_frames + 1 frames of memory, all of them shared with everybody else.
 */
#include "crserver-private.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>


namespace cr {

Part::Part (GBytes * jpeg_, const std::string & content_type_, const std::string & boundary_,
    guint64 seq_)
  : jpeg (g_bytes_ref (jpeg_)), seq (seq_), boundary (boundary_), content_type (content_type_)
{
  data = static_cast<const guint8 *> (g_bytes_get_data (jpeg, &size));
  head_with_length = "--" + boundary + "\r\nContent-Type: " + content_type +
      "\r\nContent-Length: " + std::to_string (size) + "\r\n\r\n";
  advance_trailer = "\r\n--" + boundary + "\r\nContent-Type: " + content_type + "\r\n\r\n";
}

Part::~Part ()
{
  g_bytes_unref (jpeg);
}

/* ---------------------------------------------------------------------------------------------- */
/* Viewer                                                                                         */

static const char CRLF[] = "\r\n";

Viewer::Viewer (StreamImpl & stream, GIOStream * io, GSocket * socket, std::string peer,
    bool with_length, const std::string & boundary)
  : Connection (stream.server_ref (), io, socket, std::move (peer)), stream_ (&stream),
    with_length_ (with_length), boundary_ (boundary)
{
  int one = 1;
  setsockopt (fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  /* Without this the kernel happily queues a minute of video for a slow viewer before the socket
   * ever reports full, and the viewer watches the past. */
  int lowat = static_cast<int> (stream.settings ().send_lowat);
  if (lowat > 0)
    setsockopt (fd_, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof (lowat));
  watch (true, false);
}

void
Viewer::start_part (const PartRef & part)
{
  cur_ = part;
  off_ = 0;
  nsegs_ = 0;
  auto add = [this](const void *data, gsize len) {
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

void
Viewer::offer (const PartRef & part)
{
  if (finishing_ || destroyed_)
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

/* Writes as much as the socket takes. Returns false once the viewer is gone. */
bool
Viewer::flush ()
{
  for (;;) {
    if (!cur_) {
      if (queue_.empty ())
        break;
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
    if (r == Io::CLOSED) {
      drop ("write failed");
      return false;
    }
    if (written > 0) {
      off_ += written;
      blocked_since_ = 0;
      bool done = off_ == total_;
      if (stream_)
        stream_->count_sent (written, done);
      if (done)
        cur_.reset ();
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
        tail_.size () - tail_off_
      };
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

void
Viewer::finish ()
{
  if (finishing_ || destroyed_)
    return;
  finishing_ = true;
  queue_.clear ();
  /* Advance mode has already opened the next part: close it empty. */
  tail_ = with_length_ || !preamble_sent_ ? "--" + boundary_ + "--\r\n" :
      "\r\n--" + boundary_ + "--\r\n";
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
  g_source_set_callback (drain_timer_,[](gpointer self) -> gboolean {
        auto *viewer = static_cast<Viewer *> (self);
        g_clear_pointer (&viewer->drain_timer_, g_source_unref);
        viewer->drop ("did not take the end of its response in time");
        return G_SOURCE_REMOVE;
      }, this, nullptr);
  g_source_attach (drain_timer_, server_.context ());
}

Viewer::~Viewer ()
{
  if (drain_timer_) {
    g_source_destroy (drain_timer_);
    g_source_unref (drain_timer_);
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
}

void
Viewer::on_events (uint32_t events)
{
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
  server_->invoke_sync ([this] { detach (); });
}

struct WakeSource
{
  GSource base;
};

void
StreamImpl::attach ()
{
  server_->register_stream (this);
  /* Publishing only marks this source ready; the server thread then sends the newest frame. That
   * coalesces bursts and never allocates per frame on the handover. */
  static GSourceFuncs funcs = {
    nullptr, nullptr,[](GSource *, GSourceFunc cb, gpointer data) -> gboolean {
      return cb (data);
    }, nullptr, nullptr, nullptr,
  };
  GSource *wake = g_source_new (&funcs, sizeof (WakeSource));
  g_source_set_callback (wake, on_wake, this, nullptr);
  g_source_set_name (wake, "camrelay stream wake");
  g_source_attach (wake, server_->context ());
  {
    /* publish() and finish() read wake_ from any thread, under mutex_. */
    std::lock_guard<std::mutex> lock (mutex_);
    wake_ = wake;
  }
  attached_ = true;
}

void
StreamImpl::detach ()
{
  if (!attached_)
    return;
  attached_ = false;
  server_->unregister_stream (this);
  GSource *wake;
  {
    /* Once wake_ is cleared under mutex_, no publishing thread can still be using the source. */
    std::lock_guard<std::mutex> lock (mutex_);
    wake = wake_;
    wake_ = nullptr;
  }
  if (wake) {
    g_source_destroy (wake);
    g_source_unref (wake);
  }
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
StreamImpl::publish (GBytes * jpeg, const char *content_type)
{
  std::lock_guard<std::mutex> lock (mutex_);
  if (finished_)
    return;
  auto part = std::make_shared<const Part> (jpeg, content_type ? content_type : "image/jpeg",
      boundary_, ++seq_);
  latest_ = part;
  pending_.push_back (part);
  if (pending_.size () > MAX_PENDING)
    pending_.pop_front ();
  if (!marked_) {
    marked_ = true;
    server_->mark_pending (id_);
  }
  stats_.frames_in++;
  if (wake_)
    g_source_set_ready_time (wake_, 0);
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
  if (wake_)
    g_source_set_ready_time (wake_, 0);
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

gboolean
StreamImpl::on_wake (gpointer data)
{
  auto *self = static_cast<StreamImpl *> (data);
  g_source_set_ready_time (self->wake_, -1);
  self->fan_out ();
  return G_SOURCE_CONTINUE;
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
}

static bool
query_flag (GHashTable * query, const char *key)
{
  if (!query)
    return false;
  auto *value = static_cast<const char *> (g_hash_table_lookup (query, key));
  if (!value)
    return false;
  return *value == '\0' || g_ascii_strcasecmp (value, "1") == 0 ||
      g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0;
}

static void
set_no_cache (SoupMessageHeaders * h)
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
  bool with_length;
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

void
StreamImpl::handle_stream (SoupServerMessage * msg, GHashTable * query)
{
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
  g_autofree gchar *type = g_strdup_printf ("multipart/x-mixed-replace;boundary=%s",
      boundary.c_str ());
  soup_message_headers_replace (h, "Content-Type", type);
  set_no_cache (h);
  soup_message_headers_replace (h, "Connection", "close");
  soup_message_headers_replace (h, "X-Accel-Buffering", "no");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  if (method_is (msg, "HEAD"))
    return;

  /* libsoup writes the status line and headers; the body is ours, written straight to the socket
   * until the connection ends. */
  soup_message_headers_set_encoding (h, SOUP_ENCODING_EOF);
  pending_viewers_++;
  auto *pending = new PendingViewer{ server_, id_, query_flag (query, "content-length") };
  g_signal_connect_data (msg, "wrote-headers", G_CALLBACK (+[](SoupServerMessage * m,
              gpointer data) {
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
            stream->add_viewer (io, socket, peer, pv->with_length);
          }), pending, PendingViewer::unref, static_cast<GConnectFlags> (0));
  /* A client that goes away before its headers are written never reaches wrote-headers. */
  g_signal_connect_data (msg, "finished", G_CALLBACK (+[](SoupServerMessage *, gpointer data) {
            static_cast<PendingViewer *> (data)->settle ();
          }), pending, PendingViewer::unref, static_cast<GConnectFlags> (0));
}

void
StreamImpl::pending_viewer_settled ()
{
  if (pending_viewers_ > 0)
    pending_viewers_--;
}

void
StreamImpl::add_viewer (GIOStream * io, GSocket * socket, const std::string & peer,
    bool with_length)
{
  std::string boundary;
  PartRef latest;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    boundary = boundary_;
    latest = latest_;
    stats_.viewers_total++;
    stats_.viewers = viewers_.size () + 1;
  }
  auto *viewer = new Viewer (*this, io, socket, peer, with_length, boundary);
  viewers_.push_back (viewer);
  if (settings_.on_viewers)
    settings_.on_viewers (viewers_.size ());
  g_debug ("viewer %s joined %s (%zu now)", peer.c_str (), settings_.path.c_str (),
      viewers_.size ());
  /* The latest frame at once, so a 1 fps camera or the placeholder shows without waiting. */
  if (latest)
    viewer->offer (latest);
}

void
StreamImpl::viewer_gone (Viewer * viewer)
{
  for (auto it = viewers_.begin (); it != viewers_.end (); ++it) {
    if (*it == viewer) {
      *it = viewers_.back ();
      viewers_.pop_back ();
      break;
    }
  }
  if (settings_.on_viewers)
    settings_.on_viewers (viewers_.size ());
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
StreamImpl::handle_snapshot (SoupServerMessage * msg)
{
  PartRef latest;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    latest = latest_;
    stats_.snapshots++;
  }
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  set_no_cache (h);
  if (!latest) {
    soup_message_headers_replace (h, "Retry-After", "1");
    set_plain_response (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no frame yet");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_headers_replace (h, "Content-Type", latest->content_type.c_str ());
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), latest->jpeg);
}

}  // namespace cr
