#define G_LOG_DOMAIN "camrelay-server"
/* camrelay server: the shared listener, its thread, and request routing. */
#include "crserver-private.h"

#include "camrelay-config.h"

#include <gio/gunixsocketaddress.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>


namespace cr {

GQuark
server_error_quark ()
{
  return g_quark_from_static_string ("camrelay-server-error");
}

std::vector<std::string>
split_list (const std::string & text)
{
  std::vector<std::string> out;
  g_auto (GStrv) parts = g_strsplit_set (text.c_str (), ",;", -1);
  for (gchar **p = parts; *p; p++) {
    g_strstrip (*p);
    if (**p)
      out.emplace_back (*p);
  }
  return out;
}

std::string
format_address (GSocketAddress * address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return "unknown";
  auto *inet = G_INET_SOCKET_ADDRESS (address);
  g_autofree gchar *host =
      g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  guint16 port = g_inet_socket_address_get_port (inet);
  if (g_inet_address_get_family (g_inet_socket_address_get_address (inet)) ==
      G_SOCKET_FAMILY_IPV6)
    return std::string ("[") + host + "]:" + std::to_string (port);
  return std::string (host) + ":" + std::to_string (port);
}

void
set_plain_response (SoupServerMessage * msg, guint status, const char *text)
{
  soup_server_message_set_status (msg, status, nullptr);
  g_autofree gchar *body = g_strdup_printf ("%s\n", text);
  gsize len = strlen (body);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE,
      static_cast<const char *> (g_steal_pointer (&body)), len);
}

void
close_after_response (SoupServerMessage * msg)
{
  /* A refused WebSocket client (firmware, python-websockets) waits for the connection to end
   * rather than for the next response; end it. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
      "close");
}

bool
method_is (SoupServerMessage * msg, const char *method)
{
  return g_strcmp0 (soup_server_message_get_method (msg), method) == 0;
}

bool
is_loopback_peer (SoupServerMessage * msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return false;
  GInetAddress *addr = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  if (g_inet_address_get_is_loopback (addr))
    return true;
  /* ::ffff:127.0.0.1 from a dual-stack listener */
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *b = g_inet_address_to_bytes (addr);
    static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp (b, prefix, 12) == 0 && b[12] == 127;
  }
  return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* Registry: one server per (address, requested port)                                             */

namespace {

struct RegistryEntry
{
  std::weak_ptr<ServerImpl> server;
  /* Identify the entry while the server is dying, when @server has expired. */
  const ServerImpl *raw;
  GThread *thread;
};

std::mutex registry_mutex;
/* Signalled whenever a dying server has let go of its socket. */
std::condition_variable registry_cond;
std::map<std::pair<std::string, guint>, RegistryEntry> registry;

/* An absolute path, so that "cert.pem" and "/etc/camrelay/cert.pem" given from there agree. */
std::string
canonical_file (const std::string & path)
{
  if (path.empty ())
    return path;
  g_autofree gchar *canonical = g_canonicalize_filename (path.c_str (), nullptr);
  return canonical;
}

/* The settings that make a server what it is must be the same for everybody sharing it. */
bool
options_agree (const ServerImpl & server, const ServerOptions & running,
    const ServerOptions & wanted, GError ** error)
{
  const char *differs = nullptr;
  std::string detail;
  auto quoted = [](const std::string & a, const std::string & b) {
    return " (\"" + a + "\", asked for \"" + b + "\")";
  };
  if (canonical_file (running.tls_certificate) != canonical_file (wanted.tls_certificate)) {
    differs = "tls-certificate";
    detail = quoted (running.tls_certificate, wanted.tls_certificate);
  } else if (canonical_file (running.tls_key) != canonical_file (wanted.tls_key)) {
    differs = "tls-key";
    detail = quoted (running.tls_key, wanted.tls_key);
  } else if (running.viewer_user != wanted.viewer_user) {
    differs = "viewer-user";
    detail = quoted (running.viewer_user, wanted.viewer_user);
  } else if (!secrets_equal (running.viewer_password, wanted.viewer_password)) {
    /* Never shown. */
    differs = "viewer-password";
  } else if (running.request_timeout_ms != wanted.request_timeout_ms) {
    differs = "request timeout";
    detail = " (" + std::to_string (running.request_timeout_ms) + " ms, asked for " +
        std::to_string (wanted.request_timeout_ms) + " ms)";
  }
  if (!differs)
    return true;
  const std::string & address = server.address ();
  bool v6 = address.find (':') != std::string::npos;
  g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_OPTIONS_DIFFER,
      "the server on %s%s%s:%u already runs with a different %s%s; everything that listens on "
      "one address and port must use the same server settings", v6 ? "[" : "", address.c_str (),
      v6 ? "]" : "", server.port (), differs, detail.c_str ());
  return false;
}

}  // namespace

std::shared_ptr<Server>
Server::acquire (const std::string & address, guint port, GError ** error,
    const ServerOptions * options)
{
  std::unique_lock<std::mutex> lock (registry_mutex);
  auto key = std::make_pair (address, port);
  for (;;) {
    auto it = registry.find (key);
    if (it == registry.end ())
      break;
    if (auto existing = it->second.server.lock ()) {
      lock.unlock ();
      if (!options)
        return existing;
      if (!options_agree (*existing, existing->options_, *options, error))
        return nullptr;
      if (!options->open_on_loopback.empty ())
        existing->open_on_loopback (options->open_on_loopback);
      return existing;
    }
    /* Its last reference is gone but its socket may still be open: binding now could fail with
     * "port in use". Wait for it to close, unless this is that server's own thread, which is
     * unwinding towards its own teardown. */
    if (it->second.thread == g_thread_self ())
      break;
    registry_cond.wait (lock);
  }

  ServerOptions opts = options ? *options : ServerOptions ();
  std::shared_ptr<ServerImpl> server (new ServerImpl (address, port, opts), ServerImpl::release);
  if (!server->start (error))
    return nullptr;
  registry[key] = RegistryEntry{ server, server.get (), server->thread_ };
  return server;
}

/* ---------------------------------------------------------------------------------------------- */

ServerImpl::ServerImpl (std::string address, guint requested_port, const ServerOptions & options)
  : address_ (std::move (address)), requested_port_ (requested_port), options_ (options)
{
}

bool
ServerImpl::start (GError ** error)
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
ServerImpl::release (ServerImpl * self)
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
      g_main_context_invoke (context_, [](gpointer loop) -> gboolean {
            g_main_loop_quit (static_cast<GMainLoop *> (loop));
            return G_SOURCE_REMOVE;
          }, loop_);
      g_thread_join (thread_);
    }
    thread_ = nullptr;
    /* The socket is closed: a new server for this address and port may bind it now. */
    std::lock_guard<std::mutex> lock (registry_mutex);
    auto it = registry.find (std::make_pair (address_, requested_port_));
    if (it != registry.end () && it->second.raw == this)
      registry.erase (it);
    registry_cond.notify_all ();
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
listen_socket (const std::string & address, guint port, guint * bound_port, GError ** error)
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
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_LISTEN,
        "cannot listen on %s port %u: %s", address.c_str (), port, bind_error->message);
    g_error_free (bind_error);
    return nullptr;
  }
  /* Hundreds of viewers may connect at once; soup_server_listen_local() would use a backlog of 10. */
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
ServerImpl::setup (GError ** error)
{
  poller_ = Poller::create (context_, error);
  if (!poller_)
    return false;

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
  if (options_.request_timeout_ms > 0)
    g_signal_connect (soup_, "request-started", G_CALLBACK (on_request_started), this);

  g_autoptr (GSocket) socket = listen_socket (address_, requested_port_, &port_, error);
  if (!socket)
    return false;
  SoupServerListenOptions flags = tls_ ? SOUP_SERVER_LISTEN_HTTPS : static_cast<SoupServerListenOptions> (0);
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
  std::vector<StreamImpl *> streams;
  for (auto &[id, stream] : streams_)
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
  /* Cancelled operations still report, through this context: let them, so nothing leaks. */
  for (auto *closing : timed_out_tls_)
    closing->abort ();
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (!timed_out_tls_.empty () && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (context_, FALSE))
      g_usleep (1000);
  }
  poller_.reset ();
}

void
ServerImpl::open_on_loopback (const std::vector<std::string> & paths)
{
  invoke_sync ([&] {
        for (const auto &path : paths) {
          auto &open = options_.open_on_loopback;
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
  auto *heap = new std::function<void ()> (std::move (fn));
  g_main_context_invoke_full (context_, G_PRIORITY_DEFAULT,[](gpointer data) -> gboolean {
        (*static_cast<std::function<void ()> *> (data)) ();
        return G_SOURCE_REMOVE;
      }, heap,[](gpointer data) {
        delete static_cast<std::function<void ()> *> (data);
      });
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
    const std::function<void ()> *fn;
    std::mutex mutex;
    std::condition_variable cond;
    bool done = false;
  } call;
  call.fn = &fn;

  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source,[](gpointer data) -> gboolean {
        auto *c = static_cast<Call *> (data);
        (*c->fn) ();
        std::lock_guard<std::mutex> lock (c->mutex);
        c->done = true;
        c->cond.notify_all ();
        return G_SOURCE_REMOVE;
      }, &call, nullptr);
  g_source_attach (source, context_);
  g_source_unref (source);

  std::unique_lock<std::mutex> lock (call.mutex);
  call.cond.wait (lock,[&call] { return call.done; });
}

/* ---------------------------------------------------------------------------------------------- */
/* Routes                                                                                         */

bool
ServerImpl::path_taken (const std::string & path) const
{
  return ingest_paths_.count (path) || stream_paths_.count (path) ||
      snapshot_paths_.count (path) || pages_.count (path);
}

std::unique_ptr<IngestRoute>
ServerImpl::add_ingest (const IngestSettings & settings, IngestListener * listener,
    GError ** error)
{
  if (settings.paths.empty ()) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID, "no ingest path given");
    return nullptr;
  }
  for (const auto &path : settings.paths) {
    if (path.empty () || path[0] != '/') {
      g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
          "ingest path \"%s\" must start with /", path.c_str ());
      return nullptr;
    }
  }
  auto route = std::make_unique<IngestRouteImpl> (shared_from_this (), settings, listener,
      next_id ());
  bool ok = true;
  invoke_sync ([&] {
        for (const auto &path : settings.paths) {
          if (ingest_paths_.count (path)) {
            g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
                "another camera already uses the WebSocket path %s on port %u",
                path.c_str (), port_);
            ok = false;
            return;
          }
        }
        register_ingest (route.get ());
      });
  if (!ok)
    return nullptr;
  return route;
}

void
ServerImpl::register_ingest (IngestRouteImpl * route)
{
  for (const auto &path : route->settings ().paths)
    ingest_paths_[path] = route;
  ingests_[route->id ()] = route;
}

void
ServerImpl::unregister_ingest (IngestRouteImpl * route)
{
  for (auto it = ingest_paths_.begin (); it != ingest_paths_.end ();) {
    if (it->second == route)
      it = ingest_paths_.erase (it);
    else
      ++it;
  }
  ingests_.erase (route->id ());
}

IngestRouteImpl *
ServerImpl::ingest_by_id (guint64 id) const
{
  auto it = ingests_.find (id);
  return it == ingests_.end ()? nullptr : it->second;
}

std::shared_ptr<Stream>
ServerImpl::add_stream (const StreamSettings & settings, GError ** error)
{
  if (settings.path.empty () || settings.path[0] != '/' ||
      (!settings.snapshot_path.empty () && settings.snapshot_path[0] != '/')) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "stream and snapshot paths must start with /");
    return nullptr;
  }
  if (settings.path == settings.snapshot_path) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "the stream and its snapshot cannot share the path %s", settings.path.c_str ());
    return nullptr;
  }
  auto stream = std::make_shared<StreamImpl> (shared_from_this (), settings, next_id ());
  bool ok = true;
  invoke_sync ([&] {
        for (const auto &path : { settings.path, settings.snapshot_path }) {
          if (path.empty ())
            continue;
          if (stream_paths_.count (path) || snapshot_paths_.count (path) || pages_.count (path)) {
            g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
                "the path %s is already served on port %u", path.c_str (), port_);
            ok = false;
            return;
          }
        }
        stream->attach ();
      });
  if (!ok)
    return nullptr;
  return stream;
}

void
ServerImpl::remove_stream (const std::shared_ptr<Stream> & stream)
{
  auto impl = std::static_pointer_cast<StreamImpl> (stream);
  invoke_sync ([&] { impl->detach (); });
}

void
ServerImpl::register_stream (StreamImpl * stream)
{
  stream_paths_[stream->settings ().path] = stream;
  if (!stream->settings ().snapshot_path.empty ())
    snapshot_paths_[stream->settings ().snapshot_path] = stream;
  streams_[stream->id ()] = stream;
}

void
ServerImpl::unregister_stream (StreamImpl * stream)
{
  auto drop = [stream](std::map<std::string, StreamImpl *> &m) {
    for (auto it = m.begin (); it != m.end ();) {
      if (it->second == stream)
        it = m.erase (it);
      else
        ++it;
    }
  };
  drop (stream_paths_);
  drop (snapshot_paths_);
  streams_.erase (stream->id ());
}

void
ServerImpl::fan_out_pending ()
{
  for (auto &[id, stream] : streams_)
    stream->fan_out_pending ();
}

StreamImpl *
ServerImpl::stream_by_id (guint64 id) const
{
  auto it = streams_.find (id);
  return it == streams_.end ()? nullptr : it->second;
}

PageRouteImpl::PageRouteImpl (std::shared_ptr<ServerImpl> server, std::string path,
    PageHandler handler)
  : server_ (std::move (server)), path_ (std::move (path)), handler_ (std::move (handler))
{
}

PageRouteImpl::~PageRouteImpl ()
{
  server_->invoke_sync ([this] { server_->unregister_page (this); });
}

std::unique_ptr<PageRoute>
ServerImpl::add_page (const std::string & path, PageHandler handler, GError ** error)
{
  if (path.empty () || path[0] != '/') {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "page path \"%s\" must start with /", path.c_str ());
    return nullptr;
  }
  auto page = std::make_unique<PageRouteImpl> (shared_from_this (), path, std::move (handler));
  bool ok = true;
  invoke_sync ([&] {
        if (stream_paths_.count (path) || snapshot_paths_.count (path) || pages_.count (path)) {
          g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
              "the path %s is already served on port %u", path.c_str (), port_);
          ok = false;
          return;
        }
        register_page (page.get ());
      });
  if (!ok) {
    page->path_.clear ();
    return nullptr;
  }
  return page;
}

void
ServerImpl::register_page (PageRouteImpl * page)
{
  pages_[page->path_] = page;
}

void
ServerImpl::unregister_page (PageRouteImpl * page)
{
  auto it = pages_.find (page->path_);
  if (it != pages_.end () && it->second == page)
    pages_.erase (it);
}

/* ---------------------------------------------------------------------------------------------- */
/* Request routing (server thread)                                                                */

static bool
header_has_token (SoupMessageHeaders * headers, const char *name, const char *token)
{
  const char *value = soup_message_headers_get_list (headers, name);
  return value && soup_header_contains (value, token);
}

static bool
is_websocket_upgrade (SoupServerMessage * msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *upgrade = soup_message_headers_get_one (h, "Upgrade");
  return upgrade && g_ascii_strcasecmp (upgrade, "websocket") == 0 &&
      header_has_token (h, "Connection", "upgrade");
}

static const char TIMEOUT_ANSWER[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    "Content-Type: text/plain\r\nContent-Length: 32\r\n\r\n"
    "request headers took too long.\r\n";

/* Time a timed-out TLS client gets to take its 408 and our close_notify before we hang up. */
static const guint TLS_TIMEOUT_GRACE_MS = 1000;

TimedOutTlsClose::TimedOutTlsClose (ServerImpl & server, GIOStream * io, GSocket * socket)
  : server_ (server), io_ (io), socket_ (socket), cancellable_ (g_cancellable_new ())
{
  server_.timed_out_tls_.insert (this);
  grace_ = g_timeout_source_new (TLS_TIMEOUT_GRACE_MS);
  g_source_set_callback (grace_, on_grace_over, this, nullptr);
  g_source_attach (grace_, server_.context ());
}

TimedOutTlsClose::~TimedOutTlsClose ()
{
  server_.timed_out_tls_.erase (this);
  g_source_destroy (grace_);
  g_source_unref (grace_);
  g_socket_close (socket_, nullptr);
  g_object_unref (cancellable_);
  g_object_unref (io_);
  g_object_unref (socket_);
}

void
TimedOutTlsClose::start (ServerImpl & server, GIOStream * io, GSocket * socket)
{
  auto *self = new TimedOutTlsClose (server, io, socket);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (io), TIMEOUT_ANSWER,
      sizeof (TIMEOUT_ANSWER) - 1, G_PRIORITY_DEFAULT, self->cancellable_, on_written, self);
}

void
TimedOutTlsClose::on_written (GObject * source, GAsyncResult * result, gpointer data)
{
  auto *self = static_cast<TimedOutTlsClose *> (data);
  g_autoptr (GError) error = nullptr;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, nullptr, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    delete self;
    return;
  }
  /* Closing a GTlsConnection sends the close_notify. */
  g_io_stream_close_async (self->io_, G_PRIORITY_DEFAULT, self->cancellable_, on_closed, self);
}

void
TimedOutTlsClose::on_closed (GObject * source, GAsyncResult * result, gpointer data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, nullptr);
  delete static_cast<TimedOutTlsClose *> (data);
}

gboolean
TimedOutTlsClose::on_grace_over (gpointer data)
{
  /* The pending operation ends with G_IO_ERROR_CANCELLED and its callback deletes us. */
  static_cast<TimedOutTlsClose *> (data)->abort ();
  return G_SOURCE_REMOVE;
}

/* A client gets request_timeout_ms to send its request headers, from connecting (or from the end
 * of its previous request); then it is answered 408 and disconnected. Without this, a client that
 * trickles a header byte now and then (slowloris) holds a connection forever. */
void
ServerImpl::on_request_started (SoupServer *, SoupServerMessage * msg, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  GSource *timer = g_timeout_source_new (self->options_.request_timeout_ms);
  struct Timeout
  {
    ServerImpl *server;
    SoupServerMessage *msg;
  };
  g_source_set_callback (timer,[](gpointer d) -> gboolean {
        auto *t = static_cast<Timeout *> (d);
        if (t->server->tls ()) {
          /* Under TLS the answer must go through libsoup's TLS stream: take the connection. */
          GIOStream *io;
          GSocket *socket;
          std::string peer;
          ServerImpl & server = *t->server;
          /* Stealing may finalize the message, and with it this timer and @t. */
          if (ServerImpl::steal (t->msg, &io, &socket, &peer))
            TimedOutTlsClose::start (server, io, socket);
          return G_SOURCE_REMOVE;
        }
        GSocket *socket = soup_server_message_get_socket (t->msg);
        if (socket) {
          g_socket_send_with_blocking (socket, TIMEOUT_ANSWER, sizeof (TIMEOUT_ANSWER) - 1, FALSE,
              nullptr, nullptr);
          g_socket_shutdown (socket, TRUE, TRUE, nullptr);
        }
        return G_SOURCE_REMOVE;
      }, new Timeout{ self, msg },[](gpointer d) {
        delete static_cast<Timeout *> (d);
      });
  g_source_attach (timer, self->context_);
  /* The timer dies with the message, or as soon as the headers are in. */
  g_object_set_data_full (G_OBJECT (msg), "camrelay-request-timer", timer,[](gpointer t) {
        g_source_destroy (static_cast<GSource *> (t));
        g_source_unref (static_cast<GSource *> (t));
      });
  g_signal_connect (msg, "got-headers", G_CALLBACK (+[](SoupServerMessage * m, gpointer) {
            g_object_set_data (G_OBJECT (m), "camrelay-request-timer", nullptr);
          }), nullptr);
}

void
ServerImpl::on_request (SoupServer *, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer self)
{
  static_cast<ServerImpl *> (self)->route (msg, path, query);
}

void
ServerImpl::route (SoupServerMessage * msg, const char *path, GHashTable * query)
{
  std::string p (path ? path : "/");

  if (is_websocket_upgrade (msg)) {
    auto it = ingest_paths_.find (p);
    if (it == ingest_paths_.end ()) {
      close_after_response (msg);
      set_plain_response (msg, SOUP_STATUS_NOT_FOUND, "no camera endpoint at this path");
      return;
    }
    it->second->handle_upgrade (msg, path, query);
    return;
  }

  bool get_or_head = method_is (msg, "GET") || method_is (msg, "HEAD");
  auto stream = stream_paths_.find (p);
  auto snapshot = snapshot_paths_.find (p);
  auto page = pages_.find (p);
  bool served = stream != stream_paths_.end () || snapshot != snapshot_paths_.end () ||
      page != pages_.end ();

  if (!served) {
    if (ingest_paths_.count (p)) {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Upgrade",
          "websocket");
      set_plain_response (msg, 426,
          "this is a camera endpoint: connect with a WebSocket");
      return;
    }
    set_plain_response (msg, SOUP_STATUS_NOT_FOUND, "not found");
    return;
  }
  if (!get_or_head) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
        "GET, HEAD");
    set_plain_response (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET and HEAD are allowed here");
    return;
  }
  if (!check_viewer_auth (msg, path))
    return;

  if (stream != stream_paths_.end ())
    stream->second->handle_stream (msg, query);
  else if (snapshot != snapshot_paths_.end ())
    snapshot->second->handle_snapshot (msg);
  else {
    /* A copy: the handler may remove its own route (and with it the server's last reference). */
    PageHandler handler = page->second->handler_;
    handler (msg, path, query);
  }
}

static bool
constant_time_equal (const std::string & a, const std::string & b)
{
  /* Compare digests so that the time taken depends on neither length nor content. */
  guint8 da[32], db[32];
  gsize la = sizeof (da), lb = sizeof (db);
  g_autoptr (GChecksum) ca = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GChecksum) cb = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ca, reinterpret_cast<const guchar *> (a.data ()), a.size ());
  g_checksum_update (cb, reinterpret_cast<const guchar *> (b.data ()), b.size ());
  g_checksum_get_digest (ca, da, &la);
  g_checksum_get_digest (cb, db, &lb);
  guint8 diff = 0;
  for (gsize i = 0; i < sizeof (da); i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}

bool
secrets_equal (const std::string & a, const std::string & b)
{
  return constant_time_equal (a, b);
}

bool
ServerImpl::check_viewer_auth (SoupServerMessage * msg, const char *path)
{
  if (options_.viewer_user.empty () && options_.viewer_password.empty ())
    return true;
  for (const auto &open : options_.open_on_loopback) {
    if (open == path && is_loopback_peer (msg))
      return true;
  }
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
      "Authorization");
  if (auth && g_ascii_strncasecmp (auth, "Basic ", 6) == 0) {
    gsize len = 0;
    g_autofree guchar *decoded = g_base64_decode (auth + 6, &len);
    std::string given (reinterpret_cast<const char *> (decoded), len);
    std::string expected = options_.viewer_user + ":" + options_.viewer_password;
    if (constant_time_equal (given, expected))
      return true;
  }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "WWW-Authenticate", "Basic realm=\"camrelay\", charset=\"UTF-8\"");
  set_plain_response (msg, SOUP_STATUS_UNAUTHORIZED, "authentication required");
  return false;
}

bool
ServerImpl::steal (SoupServerMessage * msg, GIOStream ** io, GSocket ** socket,
    std::string * peer)
{
  *peer = format_address (soup_server_message_get_remote_address (msg));
  GSocket *s = soup_server_message_get_socket (msg);
  *socket = s ? G_SOCKET (g_object_ref (s)) : nullptr;
  *io = soup_server_message_steal_connection (msg);
  if (!*io || !*socket) {
    g_clear_object (io);
    g_clear_object (socket);
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Connection                                                                                     */

Connection::Connection (ServerImpl & server, GIOStream * io, GSocket * socket, std::string peer)
  : server_ (server), io_ (io), socket_ (socket), peer_ (std::move (peer))
{
  fd_ = g_socket_get_fd (socket_);
  tls_ = server_.tls ();
  server_.connections_.insert (this);
}

Connection::~Connection ()
{
  server_.connections_.erase (this);
  if (!destroyed_ && watched_)
    server_.poller ().remove (fd_);
  /* Closing the socket is enough, also under TLS: a close_notify could block on a stalled peer. */
  if (socket_)
    g_socket_close (socket_, nullptr);
  g_clear_object (&io_);
  g_clear_object (&socket_);
}

void
Connection::shutdown ()
{
  destroy ();
}

Connection::Io
Connection::read_some (guint8 * data, gsize len, gsize * got)
{
  *got = 0;
  GInputStream *in = g_io_stream_get_input_stream (io_);
  g_autoptr (GError) error = nullptr;
  gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (in), data, len,
      nullptr, &error);
  if (n > 0) {
    *got = n;
    return Io::OK;
  }
  if (n == 0)
    return Io::CLOSED;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return Io::WOULD_BLOCK;
  return Io::CLOSED;
}

Connection::Io
Connection::write_vectors (const struct iovec * iov, int n, gsize * written)
{
  *written = 0;
  if (!tls_) {
    struct msghdr mh = { };
    mh.msg_iov = const_cast<struct iovec *> (iov);
    mh.msg_iovlen = n;
    for (;;) {
      ssize_t r = sendmsg (fd_, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r >= 0) {
        *written = r;
        return Io::OK;
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return Io::WOULD_BLOCK;
      return Io::CLOSED;
    }
  }

  GOutputVector vectors[4];
  n = MIN (n, 4);
  for (int i = 0; i < n; i++) {
    vectors[i].buffer = iov[i].iov_base;
    vectors[i].size = iov[i].iov_len;
  }
  GOutputStream *out = g_io_stream_get_output_stream (io_);
  g_autoptr (GError) error = nullptr;
  GPollableReturn r = g_pollable_output_stream_writev_nonblocking (
      G_POLLABLE_OUTPUT_STREAM (out), vectors, n, written, nullptr, &error);
  if (r == G_POLLABLE_RETURN_OK)
    return Io::OK;
  if (r == G_POLLABLE_RETURN_WOULD_BLOCK)
    return Io::WOULD_BLOCK;
  return Io::CLOSED;
}

void
Connection::watch (bool want_read, bool want_write)
{
  if (destroyed_)
    return;
  uint32_t events = (want_read ? static_cast<uint32_t> (EPOLLIN | EPOLLRDHUP) : 0u) |
      (want_write ? static_cast<uint32_t> (EPOLLOUT) : 0u);
  if (events == watched_)
    return;
  if (watched_ == 0)
    server_.poller ().add (fd_, events, this);
  else if (events == 0)
    server_.poller ().remove (fd_);
  else
    server_.poller ().modify (fd_, events, this);
  watched_ = events;
}

void
Connection::destroy ()
{
  if (destroyed_)
    return;
  if (watched_)
    server_.poller ().remove (fd_);
  watched_ = 0;
  destroyed_ = true;
  server_.poller ().retire (this);
}

}  // namespace cr
