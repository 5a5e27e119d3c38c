/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the WebSocket push client (see crwspush.h). */
#include "crwspush.h"

#include "crbackoff.h"
#include "crreadysource.h"

#include <libsoup/soup.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>

namespace cr {

namespace {

/* A frame sent from a dying link needs the peer to notice within seconds, not the ~15 minutes of
 * TCP's retransmission timeout; and unsent data must stay small so that "writable" means the
 * link keeps up. */
void
tune_socket (GSocket *socket, guint send_lowat)
{
  int fd = g_socket_get_fd (socket);
  int one = 1, user_timeout_ms = 10000, idle = 10, interval = 5, count = 3;
  int lowat = static_cast<int> (send_lowat);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  setsockopt (fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof (user_timeout_ms));
  setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof (one));
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof (idle));
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof (interval));
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof (count));
  if (lowat > 0)
    setsockopt (fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof (lowat));
}

class Client : public WsPushClient
{
public:
  Client (const WsPushSettings & settings, WsPushEvents *events);
  ~Client () override;

  void offer (GBytes *frame) override;
  WsPushStats stats () const override;

private:
  /* Client thread only. */
  void run ();
  void connect ();
  static void on_connected (GObject *source, GAsyncResult *result, gpointer data);
  static void on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection,
      gpointer data);
  static void on_closed (SoupWebsocketConnection *conn, gpointer data);
  static void on_error (SoupWebsocketConnection *conn, GError *error, gpointer data);
  void lost (const std::string & why);
  void retry_later ();
  void send_pending ();
  bool writable ();
  void wait_writable ();
  void drop_connection ();
  void shut_down ();
  void set_state (bool connected, const std::string & why);

  WsPushSettings settings_;
  WsPushEvents *events_;

  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  std::thread thread_;

  /* Client thread only. */
  SoupSession *session_ = nullptr;
  SoupWebsocketConnection *conn_ = nullptr;
  GCancellable *connecting_ = nullptr;
  GSource *retry_ = nullptr;
  GSource *writable_ = nullptr;
  Backoff backoff_;
  bool reported_connected_ = false;
  std::string reported_why_;

  /* Lock order: only this one. */
  mutable std::mutex mutex_;
  GSource *wake_ = nullptr;   /* lives from construction to destruction */
  GBytes *pending_ = nullptr; /* the newest frame not yet sent */
  bool open_ = false;         /* a connection is up: frames are worth keeping */
  WsPushStats stats_;
};

Client::Client (const WsPushSettings & settings, WsPushEvents *events)
  : settings_ (settings), events_ (events),
    backoff_ ({ settings.min_backoff_ms, settings.max_backoff_ms, 2, 0.0, 0 })
{
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);
  wake_ = ready_source_new (
      [] (gpointer self) -> gboolean {
        static_cast<Client *> (self)->send_pending ();
        return G_SOURCE_CONTINUE;
      },
      this, "camrelay push wake");
  g_source_attach (wake_, context_);
  thread_ = std::thread (&Client::run, this);
}

Client::~Client ()
{
  g_main_context_invoke (
      context_,
      [] (gpointer self) -> gboolean {
        static_cast<Client *> (self)->shut_down ();
        return G_SOURCE_REMOVE;
      },
      this);
  thread_.join ();
  {
    std::lock_guard<std::mutex> guard (mutex_);
    g_source_destroy (wake_);
    g_clear_pointer (&wake_, g_source_unref);
    g_clear_pointer (&pending_, g_bytes_unref);
  }
  g_main_loop_unref (loop_);
  g_main_context_unref (context_);
}

void
Client::run ()
{
  g_main_context_push_thread_default (context_);
  session_ = soup_session_new ();
  if (!settings_.user_agent.empty ())
    g_object_set (session_, "user-agent", settings_.user_agent.c_str (), nullptr);
  /* A relay link carries frames, not pages: no proxy from the environment, no idle timeout. */
  g_object_set (session_, "proxy-resolver", nullptr, "timeout", 15, "idle-timeout", 0, nullptr);
  connect ();
  g_main_loop_run (loop_);

  /* Whatever the close handshake did not finish in time is cut here, in this thread. */
  drop_connection ();
  if (connecting_) {
    g_cancellable_cancel (connecting_);
    g_clear_object (&connecting_);
  }
  if (retry_) {
    g_source_destroy (retry_);
    g_clear_pointer (&retry_, g_source_unref);
  }
  soup_session_abort (session_);
  g_clear_object (&session_);
  while (g_main_context_iteration (context_, FALSE))
    ;
  g_main_context_pop_thread_default (context_);
}

void
Client::connect ()
{
  SoupMessage *msg = soup_message_new (SOUP_METHOD_GET, settings_.location.c_str ());
  if (!settings_.secret.empty ()) {
    std::string bearer = "Bearer " + settings_.secret;
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
        bearer.c_str ());
  }
  if (!settings_.tls_strict) {
    g_signal_connect (msg, "accept-certificate",
        G_CALLBACK (+[] (SoupMessage *, GTlsCertificate *, GTlsCertificateFlags,
                         gpointer) -> gboolean { return TRUE; }),
        nullptr);
  }
  g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), this);
  connecting_ = g_cancellable_new ();
  soup_session_websocket_connect_async (session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
      connecting_, on_connected, this);
  g_object_unref (msg);
}

void
Client::on_network_event (SoupMessage *, GSocketClientEvent event, GIOStream *connection,
    gpointer data)
{
  auto *self = static_cast<Client *> (data);
  if (event == G_SOCKET_CLIENT_CONNECTED && G_IS_SOCKET_CONNECTION (connection))
    tune_socket (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)),
        self->settings_.send_lowat);
}

void
Client::on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  GError *error = nullptr;
  SoupWebsocketConnection *conn =
      soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (error);
    return; /* shutting down: data may be gone */
  }
  auto *self = static_cast<Client *> (data);
  g_clear_object (&self->connecting_);
  if (!conn) {
    std::string why = error ? error->message : "connection failed";
    g_clear_error (&error);
    {
      std::lock_guard<std::mutex> guard (self->mutex_);
      self->stats_.connect_failures++;
      self->stats_.error = why;
    }
    self->set_state (false, why);
    self->retry_later ();
    return;
  }

  self->conn_ = conn;
  soup_websocket_connection_set_keepalive_interval (conn, 15);
  soup_websocket_connection_set_max_incoming_payload_size (conn, 64 * 1024);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), self);
  g_signal_connect (conn, "error", G_CALLBACK (on_error), self);
  self->backoff_.reset ();
  {
    std::lock_guard<std::mutex> guard (self->mutex_);
    self->open_ = true;
    self->stats_.connects++;
    self->stats_.connected = true;
    self->stats_.error.clear ();
  }
  self->set_state (true, "");
}

void
Client::on_error (SoupWebsocketConnection *, GError *error, gpointer data)
{
  auto *self = static_cast<Client *> (data);
  std::lock_guard<std::mutex> guard (self->mutex_);
  self->stats_.error = error->message;
}

void
Client::on_closed (SoupWebsocketConnection *conn, gpointer data)
{
  auto *self = static_cast<Client *> (data);
  std::string why;
  {
    std::lock_guard<std::mutex> guard (self->mutex_);
    why = self->stats_.error;
  }
  if (why.empty ()) {
    const char *reason = soup_websocket_connection_get_close_data (conn);
    why = "closed by the server (" +
        std::to_string (soup_websocket_connection_get_close_code (conn)) +
        (reason && *reason ? std::string (" ") + reason : std::string ()) + ")";
  }
  self->lost (why);
}

void
Client::lost (const std::string & why)
{
  drop_connection ();
  {
    std::lock_guard<std::mutex> guard (mutex_);
    stats_.error = why;
  }
  set_state (false, why);
  retry_later ();
}

void
Client::drop_connection ()
{
  if (writable_) {
    g_source_destroy (writable_);
    g_clear_pointer (&writable_, g_source_unref);
  }
  if (conn_) {
    g_signal_handlers_disconnect_by_data (conn_, this);
    g_clear_object (&conn_);
  }
  std::lock_guard<std::mutex> guard (mutex_);
  open_ = false;
  stats_.connected = false;
  if (pending_) {
    stats_.dropped_disconnected++;
    g_clear_pointer (&pending_, g_bytes_unref);
  }
}

void
Client::retry_later ()
{
  retry_ = g_timeout_source_new (backoff_.next_ms ());
  g_source_set_callback (
      retry_,
      [] (gpointer data) -> gboolean {
        auto *self = static_cast<Client *> (data);
        g_clear_pointer (&self->retry_, g_source_unref);
        self->connect ();
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach (retry_, context_);
}

/* Is the link ready for another frame? The output stream is writable only while the kernel holds
 * less than send_lowat unsent bytes, and libsoup writes as soon as it can, so a writable stream
 * means libsoup's queue is empty too. */
bool
Client::writable ()
{
  GOutputStream *out =
      g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (conn_));
  if (!G_IS_POLLABLE_OUTPUT_STREAM (out) ||
      !g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out)))
    return true;
  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (out));
}

void
Client::wait_writable ()
{
  if (writable_)
    return;
  GOutputStream *out =
      g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (conn_));
  writable_ = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (out), nullptr);
  g_source_set_callback (writable_, G_SOURCE_FUNC (+[] (GObject *, gpointer data) -> gboolean {
    auto *self = static_cast<Client *> (data);
    g_clear_pointer (&self->writable_, g_source_unref);
    self->send_pending ();
    return G_SOURCE_REMOVE;
  }),
      this, nullptr);
  g_source_attach (writable_, context_);
}

void
Client::send_pending ()
{
  if (!conn_ || soup_websocket_connection_get_state (conn_) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  if (!writable ()) {
    wait_writable ();
    return;
  }
  GBytes *frame;
  {
    std::lock_guard<std::mutex> guard (mutex_);
    frame = pending_;
    pending_ = nullptr;
    if (!frame)
      return;
    stats_.frames_sent++;
    stats_.bytes_sent += g_bytes_get_size (frame);
  }
  soup_websocket_connection_send_message (conn_, SOUP_WEBSOCKET_DATA_BINARY, frame);
  g_bytes_unref (frame);
}

void
Client::offer (GBytes *frame)
{
  std::lock_guard<std::mutex> guard (mutex_);
  if (!open_) {
    stats_.dropped_disconnected++;
    return;
  }
  if (pending_) {
    stats_.dropped_busy++;
    g_bytes_unref (pending_);
  }
  pending_ = g_bytes_ref (frame);
  g_source_set_ready_time (wake_, 0);
}

WsPushStats
Client::stats () const
{
  std::lock_guard<std::mutex> guard (mutex_);
  return stats_;
}

/* A clean close, waited for at most a second, then the loop ends. */
void
Client::shut_down ()
{
  if (!conn_ || soup_websocket_connection_get_state (conn_) != SOUP_WEBSOCKET_STATE_OPEN) {
    g_main_loop_quit (loop_);
    return;
  }
  g_signal_handlers_disconnect_by_data (conn_, this);
  g_signal_connect_swapped (conn_, "closed", G_CALLBACK (g_main_loop_quit), loop_);
  soup_websocket_connection_close (conn_, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "going away");
  GSource *timeout = g_timeout_source_new (1000);
  g_source_set_callback (timeout, (GSourceFunc) (+[] (gpointer loop) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (loop));
    return G_SOURCE_REMOVE;
  }),
      loop_, nullptr);
  g_source_attach (timeout, context_);
  g_source_unref (timeout);
}

void
Client::set_state (bool connected, const std::string & why)
{
  if (connected == reported_connected_ && why == reported_why_)
    return;
  reported_connected_ = connected;
  reported_why_ = why;
  if (!events_)
    return;
  if (connected)
    events_->push_connected (settings_.location);
  else
    events_->push_disconnected (why);
}

}  // namespace

std::unique_ptr<WsPushClient>
WsPushClient::create (const WsPushSettings & settings, WsPushEvents *events, GError **error)
{
  GUri *uri = g_uri_parse (settings.location.c_str (), G_URI_FLAGS_NONE, nullptr);
  const char *scheme = uri ? g_uri_get_scheme (uri) : nullptr;
  bool ok = scheme &&
      (g_ascii_strcasecmp (scheme, "ws") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0) &&
      g_uri_get_host (uri) && *g_uri_get_host (uri);
  if (uri)
    g_uri_unref (uri);
  if (!ok) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "\"%s\" is not a ws:// or wss:// URL with a host", settings.location.c_str ());
    return nullptr;
  }
  return std::make_unique<Client> (settings, events);
}

}  // namespace cr
