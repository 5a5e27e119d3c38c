/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: one server's life. Its thread and GMainContext, the listening socket, start-up,
 * teardown, and running work in that thread (invoke). */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "crconnection.h"
#include "crreadysource.h"
#include "crregistry.h"
#include "crserver-private.h"

#include "camrelay-config.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace cr {

ServerImpl::ServerImpl (std::string address, guint requested_port, const ServerOptions & options)
  : address_ (std::move (address)), requested_port_ (requested_port), options_ (options)
{}

bool
ServerImpl::start (GError **error)
{
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);
  g_autofree gchar *name = g_strdup_printf ("cr-http:%u", requested_port_);
  thread_ = g_thread_new (name, thread_main, this);

  std::unique_lock<std::mutex> lock (start_mutex_);
  start_cond_.wait (lock, [this] { return started_; });
  if (start_error_) {
    g_propagate_error (error, start_error_);
    start_error_ = nullptr;
    lock.unlock ();
    g_thread_join (thread_);
    thread_ = nullptr;
    return false;
  }
  return true;
}

void
ServerImpl::release (ServerImpl *self)
{
  /* The last reference may go in the server thread (a closure or handler that held it), which
   * cannot join itself: stop the loop there, and the thread deletes the server once it has torn
   * everything down (thread_main). */
  if (self->thread_ && g_thread_self () == self->thread_) {
    self->release_in_thread_ = true;
    g_main_loop_quit (self->loop_);
    return;
  }
  delete self;
}

ServerImpl::~ServerImpl ()
{
  if (thread_) {
    if (release_in_thread_) {
      /* Called at the very end of thread_main: the thread ends on its own. */
      g_thread_unref (thread_);
    } else {
      g_main_context_invoke (
          context_,
          [] (gpointer loop) -> gboolean {
            g_main_loop_quit (static_cast<GMainLoop *> (loop));
            return G_SOURCE_REMOVE;
          },
          loop_);
      g_thread_join (thread_);
    }
    thread_ = nullptr;
    /* The socket is closed: a new server for this address and port may bind it now. */
    registry_forget (*this);
  }
  g_clear_pointer (&loop_, g_main_loop_unref);
  g_clear_pointer (&context_, g_main_context_unref);
}

gpointer
ServerImpl::thread_main (gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  g_main_context_push_thread_default (self->context_);

  GError *error = nullptr;
  bool ok = self->setup (&error);
  {
    std::lock_guard<std::mutex> lock (self->start_mutex_);
    self->start_error_ = error;
    self->started_ = true;
  }
  self->start_cond_.notify_all ();

  if (ok)
    g_main_loop_run (self->loop_);

  self->teardown ();
  g_main_context_pop_thread_default (self->context_);
  if (self->release_in_thread_)
    delete self;
  return nullptr;
}

static GSocket *
listen_socket (const std::string & address, guint port, guint *bound_port, GError **error)
{
  std::string host = address == "localhost" ? "127.0.0.1" : address;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host.c_str ());
  if (!inet) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ADDRESS,
        "\"%s\" is not an IP address (use e.g. 0.0.0.0, ::, 127.0.0.1)", address.c_str ());
    return nullptr;
  }
  GSocketFamily family = g_inet_address_get_family (inet);
  g_autoptr (GSocket) socket =
      g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (!socket)
    return nullptr;
  if (family == G_SOCKET_FAMILY_IPV6 && g_inet_address_get_is_any (inet))
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, 0, nullptr);

  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (inet, port);
  GError *bind_error = nullptr;
  if (!g_socket_bind (socket, sa, TRUE, &bind_error)) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_LISTEN, "cannot listen on %s port %u: %s",
        address.c_str (), port, bind_error->message);
    g_error_free (bind_error);
    return nullptr;
  }
  /* Hundreds of viewers may connect at once; soup_server_listen_local() would use a backlog of 10.
   */
  g_socket_set_listen_backlog (socket, 4096);
  if (!g_socket_listen (socket, error))
    return nullptr;

  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, error);
  if (!local)
    return nullptr;
  *bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return static_cast<GSocket *> (g_steal_pointer (&socket));
}

bool
ServerImpl::setup (GError **error)
{
  poller_ = Poller::create (context_, error);
  if (!poller_)
    return false;
  {
    GSource *wake = ready_source_new (on_wake, this, "camrelay streams wake");
    g_source_attach (wake, context_);
    std::lock_guard<std::mutex> lock (pending_lock_);
    wake_ = wake;
  }

  g_autoptr (GTlsCertificate) certificate = nullptr;
  if (!options_.tls_certificate.empty () || !options_.tls_key.empty ()) {
    certificate = g_tls_certificate_new_from_files (options_.tls_certificate.c_str (),
        options_.tls_key.c_str (), error);
    if (!certificate)
      return false;
    tls_ = true;
  }

  g_autofree gchar *header = g_strdup_printf ("camrelay/%s ", CAMRELAY_VERSION);
  soup_ = soup_server_new ("server-header", header, nullptr);
  if (certificate)
    g_object_set (soup_, "tls-certificate", certificate, nullptr);
  /* One handler sees every request: camrelay routes by exact path itself, so an ordinary route and
   * a WebSocket route can share "/" (libsoup's own WebSocket handler would be pre-empted by any
   * ordinary handler registered on the same path). */
  soup_server_add_handler (soup_, nullptr, on_request, this, nullptr);
  /* The request timer, and the look at every request's headers before libsoup reads a body. */
  g_signal_connect (soup_, "request-started", G_CALLBACK (on_request_started), this);

  g_autoptr (GSocket) socket = listen_socket (address_, requested_port_, &port_, error);
  if (!socket)
    return false;
  SoupServerListenOptions flags =
      tls_ ? SOUP_SERVER_LISTEN_HTTPS : static_cast<SoupServerListenOptions> (0);
  if (!soup_server_listen_socket (soup_, socket, flags, error))
    return false;

  g_debug ("listening on %s port %u%s", address_.c_str (), port_, tls_ ? " (TLS)" : "");
  return true;
}

void
ServerImpl::teardown ()
{
  /* Routes are removed by their owners before the last reference goes; anything still here is
   * closed without ceremony. */
  apply_route_changes ();
  while (!parked_.empty ())
    end_parking (parked_.begin ()->first);
  std::vector<StreamImpl *> streams;
  for (auto & [id, stream] : streams_)
    streams.push_back (stream);
  for (auto *stream : streams)
    stream->detach ();
  std::vector<Connection *> leftover (connections_.begin (), connections_.end ());
  for (auto *conn : leftover)
    conn->shutdown ();
  if (soup_) {
    soup_server_disconnect (soup_);
    g_clear_object (&soup_);
  }
  GSource *wake;
  {
    /* Once wake_ is cleared under pending_lock_, no publishing thread can still be using it. */
    std::lock_guard<std::mutex> lock (pending_lock_);
    wake = wake_;
    wake_ = nullptr;
  }
  if (wake) {
    g_source_destroy (wake);
    g_source_unref (wake);
  }
  poller_.reset ();
}

void
ServerImpl::open_on_loopback (const std::vector<std::string> & paths)
{
  invoke_sync ([&] {
    for (const auto & path : paths) {
      auto & open = options_.open_on_loopback;
      if (std::find (open.begin (), open.end (), path) == open.end ())
        open.push_back (path);
    }
  });
}

bool
ServerImpl::in_server_thread () const
{
  return g_main_context_is_owner (context_);
}

void
ServerImpl::invoke (std::function<void ()> fn)
{
  /* In the server thread it runs at once, as g_main_context_invoke would, and the queue of route
   * changes is left for the next request or wake-up: a route's own callback may be what calls. */
  if (in_server_thread ()) {
    fn ();
    return;
  }
  /* What was asked before this (a route added or removed) is done before it. */
  auto *heap = new std::function<void ()> ([this, fn = std::move (fn)] {
    apply_route_changes ();
    fn ();
  });
  g_main_context_invoke_full (
      context_, G_PRIORITY_DEFAULT,
      [] (gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      },
      heap, [] (gpointer data) { delete static_cast<std::function<void ()> *> (data); });
}

void
ServerImpl::invoke_sync (const std::function<void ()> & fn)
{
  if (in_server_thread ()) {
    fn ();
    return;
  }
  struct Call
  {
    ServerImpl *self;
    const std::function<void ()> *fn;
    std::mutex mutex;
    std::condition_variable cond;
    bool done = false;
  } call;
  call.self = this;
  call.fn = &fn;

  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (
      source,
      [] (gpointer data) -> gboolean {
        auto *c = static_cast<Call *> (data);
        /* What was asked before this (a route added or removed) is done before it. */
        c->self->apply_route_changes ();
        (*c->fn) ();
        std::lock_guard<std::mutex> lock (c->mutex);
        c->done = true;
        c->cond.notify_all ();
        return G_SOURCE_REMOVE;
      },
      &call, nullptr);
  g_source_attach (source, context_);
  g_source_unref (source);

  std::unique_lock<std::mutex> lock (call.mutex);
  call.cond.wait (lock, [&call] { return call.done; });
}

}  // namespace cr
