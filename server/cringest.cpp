/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define G_LOG_DOMAIN "camrelay-ingest"
/* camrelay server: WebSocket camera ingest.
 *
 * libsoup validates the upgrade request and writes the 101 response; from then on the connection is
 * read here, frame by frame, with the payload landing directly in the buffer that is handed on. */
#include "cringest-private.h"

#include "crauth.h"
#include "crhttp.h"
#include "crserverimpl.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstring>

namespace cr {

/* Time a closing connection gets to answer our close frame before we hang up. */
static const guint CLOSE_GRACE_MS = 2000;
/* Bytes read per wake-up, so that one busy camera cannot starve the other connections. */
static const gsize READ_BUDGET = 256 * 1024;

IngestRouteImpl::IngestRouteImpl (ServerImpl & server, const IngestSettings & settings,
    IngestListener *listener, guint64 id)
  : server_ (server), settings_ (settings), listener_ (listener), id_ (id)
{}

void
IngestRouteImpl::silence ()
{
  std::lock_guard<std::recursive_mutex> lock (listener_lock_);
  listener_ = nullptr;
}

/* Server thread, when the removal is applied: off the tables, and the camera is let go. */
void
IngestRouteImpl::detach ()
{
  server_.unregister_ingest (this);
  if (active_) {
    WsConn *conn = active_;
    active_ = nullptr;
    conn->forget_route ();
    conn->begin_close (WS_CLOSE_GOING_AWAY, "stream stopped");
  }
  silence ();
  std::lock_guard<std::mutex> lock (mutex_);
  stats_.connected = false;
  stats_.peer.clear ();
}

IngestStats
IngestRouteImpl::stats () const
{
  std::lock_guard<std::mutex> lock (mutex_);
  return stats_;
}

struct PendingCamera
{
  std::shared_ptr<ServerImpl> server;
  guint64 route_id;
  std::string path;
};

void
IngestRouteImpl::handle_upgrade (SoupServerMessage *msg, const char *path, GHashTable *query)
{
  if (!camera_authorized (msg, query, settings_.secret)) {
    {
      std::lock_guard<std::mutex> lock (mutex_);
      stats_.unauthorized++;
    }
    g_info ("camera %s refused on %s: missing or wrong secret",
        soup_server_message_get_remote_host (msg), path);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
        "WWW-Authenticate", "Bearer realm=\"camrelay\"");
    close_after_response (msg);
    set_plain_response (msg, SOUP_STATUS_UNAUTHORIZED, "camera secret required");
    return;
  }

  /* No extensions offered: permessage-deflate would cost a copy and buys nothing on JPEG. On
   * failure libsoup has already set the error status (400, or 400 with the supported version). */
  if (!soup_websocket_server_process_handshake (msg, nullptr, nullptr, nullptr, nullptr)) {
    close_after_response (msg);
    return;
  }

  auto *pending = new PendingCamera{ server_.shared_from_this (), id_, path };
  g_signal_connect_data (
      msg, "wrote-informational", G_CALLBACK (+[] (SoupServerMessage *m, gpointer data) {
        auto *pc = static_cast<PendingCamera *> (data);
        GIOStream *io;
        GSocket *socket;
        std::string peer;
        if (!ServerImpl::steal (m, &io, &socket, &peer))
          return;
        IngestRouteImpl *route = pc->server->ingest_by_id (pc->route_id);
        auto *conn = new WsConn (*pc->server, route, io, socket, peer, pc->path);
        if (!route) {
          conn->begin_close (WS_CLOSE_GOING_AWAY, "stream stopped");
          return;
        }
        route->adopt (conn, pc->path);
        conn->start ();
      }),
      pending, [] (gpointer data, GClosure *) { delete static_cast<PendingCamera *> (data); },
      static_cast<GConnectFlags> (0));
}

void
IngestRouteImpl::adopt (WsConn *conn, const std::string & path)
{
  if (active_) {
    WsConn *old = active_;
    active_ = nullptr;
    std::string why = "replaced by a newer connection from " + conn->peer ();
    g_info ("camera %s on %s %s", old->peer ().c_str (), path.c_str (), why.c_str ());
    {
      std::lock_guard<std::mutex> lock (mutex_);
      stats_.takeovers++;
    }
    old->begin_close (WS_CLOSE_NORMAL, why);
  }
  active_ = conn;
  {
    std::lock_guard<std::mutex> lock (mutex_);
    stats_.connections++;
    stats_.connected = true;
    stats_.peer = conn->peer ();
  }
  std::lock_guard<std::recursive_mutex> lock (listener_lock_);
  if (listener_)
    listener_->camera_connected (conn->peer (), path);
}

/* @conn stopped being a camera (closed, failed or replaced). */
void
IngestRouteImpl::release (WsConn *conn, guint16 code, const std::string & reason)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    if (code == WS_CLOSE_ABNORMAL)
      stats_.connections_lost++;
    if (active_ == conn) {
      stats_.connected = false;
      stats_.peer.clear ();
    }
  }
  if (active_ == conn)
    active_ = nullptr;
  std::lock_guard<std::recursive_mutex> lock (listener_lock_);
  if (listener_)
    listener_->camera_disconnected (conn->peer (), code, reason);
}

void
IngestRouteImpl::deliver (GBytes *frame)
{
  {
    std::lock_guard<std::mutex> lock (mutex_);
    stats_.messages++;
    stats_.bytes += g_bytes_get_size (frame);
  }
  std::lock_guard<std::recursive_mutex> lock (listener_lock_);
  if (listener_)
    listener_->camera_frame (frame);
}

void
IngestRouteImpl::count (guint64 IngestStats::*counter)
{
  std::lock_guard<std::mutex> lock (mutex_);
  (stats_.*counter)++;
}

void
IngestRouteImpl::count_protocol_error (guint16 code)
{
  std::lock_guard<std::mutex> lock (mutex_);
  if (code == WS_CLOSE_BAD_DATA)
    stats_.invalid_utf8++;
  else
    stats_.protocol_errors++;
}

/* ---------------------------------------------------------------------------------------------- */

static WsLimits
limits_of (IngestRouteImpl *route)
{
  WsLimits limits;
  if (route) {
    limits.max_binary = route->settings ().max_message_size;
    limits.max_text = route->settings ().max_text_size;
  }
  return limits;
}

WsConn::WsConn (ServerImpl & server, IngestRouteImpl *route, GIOStream *io, GSocket *socket,
    std::string peer, const std::string & path)
  : Connection (server, io, socket, std::move (peer)), route_ (route), path_ (path),
    parser_ (*this, limits_of (route))
{
  /* A board that lost its Wi-Fi never closes its connection; TCP keepalive finds out within a
   * minute, so the camera is reported gone instead of looking connected forever. */
  g_socket_set_keepalive (socket_, TRUE);
  int idle = 30, interval = 10, count = 3;
  setsockopt (fd_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof (idle));
  setsockopt (fd_, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof (interval));
  setsockopt (fd_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof (count));
  watch (true, false);
}

void
WsConn::start ()
{
  /* libsoup may have read the first frame's bytes along with the request. */
  read_input ();
}

void
WsConn::on_events (uint32_t events)
{
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    if (state_ == State::CLOSING && parser_.failed ())
      discard_input ();
    else
      read_input ();
  }
  if (state_ != State::CLOSED && (events & EPOLLOUT))
    flush_output ();
}

void
WsConn::read_input ()
{
  gsize budget = READ_BUDGET;
  while (state_ != State::CLOSED && budget > 0) {
    guint8 *window, *next;
    gsize room, next_room;
    parser_.write_windows (&window, &room, &next, &next_room);
    gsize got = 0, asked = MIN (room, budget);
    Io r;
    if (drained_once_ && !tls_) {
      /* libsoup's buffer is empty (a read through it found nothing): straight from the socket,
       * the payload's end and the next header in one call. */
      struct iovec iov[2] = { { window, asked }, { next, MIN (next_room, budget - asked) } };
      asked += iov[1].iov_len;
      r = read_vectors (iov, iov[1].iov_len ? 2 : 1, &got);
    } else {
      r = read_some (window, asked, &got);
    }
    if (r == Io::WOULD_BLOCK) {
      drained_once_ = true;
      return;
    }
    if (r == Io::CLOSED) {
      if (state_ == State::CLOSING)
        finish (close_code_, close_reason_);
      else if (parser_.pending_message_bytes () > 0 || parser_.in_frame ())
        finish (WS_CLOSE_ABNORMAL, "connection lost in the middle of a message, which is dropped");
      else
        finish (WS_CLOSE_ABNORMAL, "connection lost");
      return;
    }
    budget -= got;
    if (!parser_.commit (got)) {
      guint16 code = parser_.error_code ();
      if (route_) {
        if (code == WS_CLOSE_TOO_BIG)
          route_->count (&IngestStats::refused_messages);
        else
          route_->count_protocol_error (code);
      }
      g_info ("camera %s on %s: %s; closing with code %u", peer_.c_str (), path_.c_str (),
          parser_.error_reason ().c_str (), code);
      begin_close (code, parser_.error_reason ());
      return;
    }
    /* A plain socket that gave less than asked is empty now: epoll (level-triggered) says when
     * more comes, which saves a read that would only find nothing. */
    if (drained_once_ && !tls_ && got < asked)
      return;
  }
  if (state_ != State::CLOSED)
    budget_spent ();
}

void
WsConn::discard_input ()
{
  guint8 scratch[16384];
  for (gsize budget = READ_BUDGET; budget > 0;) {
    gsize got = 0;
    Io r = read_some (scratch, sizeof (scratch), &got);
    if (r == Io::WOULD_BLOCK)
      return;
    if (r == Io::CLOSED) {
      finish (close_code_, close_reason_);
      return;
    }
    budget -= MIN (budget, got);
  }
  budget_spent ();
}

void
WsConn::ws_binary (GBytes *message)
{
  /* After we started closing, the peer's data is read only to find its close frame. */
  if (state_ == State::OPEN && route_)
    route_->deliver (message);
  g_bytes_unref (message);
  /* A camera sending back to back keeps this thread reading; hand the viewers whatever the
   * pipelines have published meanwhile instead of waiting for the next main-loop iteration. */
  server_.fan_out_pending ();
}

bool
WsConn::count_if_open (guint64 IngestStats::*counter)
{
  /* After we started closing, the peer's messages are read only to find its close frame. */
  if (state_ != State::OPEN)
    return false;
  if (route_)
    route_->count (counter);
  return true;
}

void
WsConn::ws_text (const char *text, gsize len)
{
  if (!count_if_open (&IngestStats::text_messages))
    return;
  /* Legacy firmware greets with a text message; show its start, sanitised. */
  std::string shown;
  for (gsize i = 0; i < len && shown.size () < 80; i++)
    shown.push_back (g_ascii_isprint (text[i]) ? text[i] : '.');
  g_debug ("camera %s on %s says \"%s\"%s", peer_.c_str (), path_.c_str (), shown.c_str (),
      len > 80 ? "..." : "");
}

void
WsConn::ws_ping (const guint8 *payload, gsize len)
{
  if (!count_if_open (&IngestStats::pings))
    return;
  std::string frame;
  ws_build_frame (frame, 0xA, payload, len);
  queue_control (frame, true);
}

void
WsConn::ws_pong (const guint8 *, gsize)
{}

void
WsConn::ws_close (guint16 code, const std::string & reason)
{
  if (state_ == State::CLOSING) {
    /* The answer to our close: the handshake is complete, hang up. */
    finish (close_code_, close_reason_);
    return;
  }
  close_code_ = code;
  close_reason_ = reason;
  std::string frame;
  ws_build_close (frame, code == WS_CLOSE_NO_STATUS ? static_cast<guint16> (WS_CLOSE_NORMAL) : code,
      "");
  state_ = State::CLOSING;
  close_after_flush_ = true;
  queue_control (frame, false);
}

void
WsConn::queue_control (const std::string & frame, bool is_pong)
{
  if (is_pong) {
    /* RFC 6455 5.5.3: answering only the latest ping is enough; a ping flood gets one pong per
     * write opportunity, never a growing queue. */
    if (pong_queued_ && out_off_ == 0) {
      out_ = frame;
      flush_output ();
      return;
    }
    if (out_.size () - out_off_ > 4096)
      return;
    pong_queued_ = true;
  }
  out_ += frame;
  flush_output ();
}

void
WsConn::flush_output ()
{
  while (out_off_ < out_.size ()) {
    struct iovec iov = { const_cast<char *> (out_.data ()) + out_off_, out_.size () - out_off_ };
    gsize written = 0;
    Io r = write_vectors (&iov, 1, &written);
    out_off_ += written;
    if (r == Io::WOULD_BLOCK) {
      watch (true, true);
      return;
    }
    if (r == Io::CLOSED) {
      finish (WS_CLOSE_ABNORMAL, "connection lost");
      return;
    }
  }
  out_.clear ();
  out_off_ = 0;
  pong_queued_ = false;
  watch (true, false);
  if (close_after_flush_) {
    finish (close_code_, close_reason_);
  } else if (state_ == State::CLOSING && !write_shut_) {
    /* Our close frame is out: a FIN right behind it tells the peer we are done even if it never
     * answers, while we keep reading until its close frame or EOF. */
    write_shut_ = true;
    g_socket_shutdown (socket_, FALSE, TRUE, nullptr);
  }
}

void
WsConn::begin_close (guint16 code, const std::string & reason)
{
  if (state_ != State::OPEN)
    return;
  state_ = State::CLOSING;
  close_code_ = code;
  close_reason_ = reason;
  std::string frame;
  ws_build_close (frame, code, reason);
  /* Drop pending pongs: the close frame goes next. */
  if (out_off_ == 0)
    out_.clear ();
  out_ += frame;
  if (route_) {
    route_->release (this, code, reason);
    route_ = nullptr;
  }
  close_timer_ = g_timeout_source_new (CLOSE_GRACE_MS);
  g_source_set_callback (close_timer_, on_close_timeout, this, nullptr);
  g_source_attach (close_timer_, server_.context ());
  flush_output ();
}

gboolean
WsConn::on_close_timeout (gpointer data)
{
  auto *self = static_cast<WsConn *> (data);
  g_clear_pointer (&self->close_timer_, g_source_unref);
  self->finish (self->close_code_, self->close_reason_);
  return G_SOURCE_REMOVE;
}

void
WsConn::finish (guint16 code, const std::string & reason)
{
  if (state_ == State::CLOSED)
    return;
  state_ = State::CLOSED;
  if (route_) {
    route_->release (this, code, reason);
    route_ = nullptr;
  }
  if (close_timer_) {
    g_source_destroy (close_timer_);
    g_clear_pointer (&close_timer_, g_source_unref);
  }
  destroy ();
}

void
WsConn::shutdown ()
{
  finish (WS_CLOSE_GOING_AWAY, "server stopped");
}

}  // namespace cr
