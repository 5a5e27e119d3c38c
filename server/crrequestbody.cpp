/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: request bodies. Every request that announces a body (Content-Length above 0, or
 * chunked) is judged on its headers, in got-headers, before libsoup reads a byte of it: a body no
 * route takes is answered there and then and its connection closed unread; a body a page takes
 * (PageSettings::max_body) is read only for a client with the viewer credentials, up to the page's
 * cap, within the request timeout. The rule, and which status answers what, is in crserver.h. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "crauth.h"
#include "crconnection.h"
#include "crhttp.h"
#include "crpage.h"

#include <sys/epoll.h>

namespace cr {

/* Time a refused client gets to read its answer and hang up before its connection is closed. */
static const guint REFUSAL_GRACE_MS = 1000;

/* The connection of a refused request, taken from libsoup before the body: it writes the answer
 * and a FIN, and closes once the client hangs up or the grace period is over. Nothing more is read:
 * what the client still sends stays in the kernel's receive buffer (bounded by the kernel) and is
 * dropped with the socket. Closing at once instead would reset the connection and could destroy
 * the answer before the client has read it. */
class RefusedRequest : public Connection
{
public:
  RefusedRequest (ServerImpl & server, GIOStream *io, GSocket *socket, std::string peer,
      std::string answer)
    : Connection (server, io, socket, std::move (peer)), answer_ (std::move (answer))
  {
    grace_ = g_timeout_source_new (REFUSAL_GRACE_MS);
    g_source_set_callback (grace_, on_grace_over, this, nullptr);
    g_source_attach (grace_, server_.context ());
    flush ();
  }

  ~RefusedRequest () override
  {
    if (grace_) {
      g_source_destroy (grace_);
      g_source_unref (grace_);
    }
  }

  void on_events (uint32_t events) override
  {
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
      destroy ();
      return;
    }
    if (events & EPOLLOUT)
      flush ();
  }

private:
  void flush ()
  {
    while (off_ < answer_.size ()) {
      struct iovec iov = { const_cast<char *> (answer_.data ()) + off_, answer_.size () - off_ };
      gsize written = 0;
      Io r = write_vectors (&iov, 1, &written);
      off_ += written;
      if (r == Io::WOULD_BLOCK) {
        watch_events (EPOLLRDHUP | EPOLLOUT);
        return;
      }
      if (r == Io::CLOSED) {
        destroy ();
        return;
      }
    }
    g_socket_shutdown (socket_, FALSE, TRUE, nullptr);
    /* Not EPOLLIN: the unread body would wake us forever. The client's own FIN shows as
     * EPOLLRDHUP. */
    watch_events (EPOLLRDHUP);
  }

  static gboolean on_grace_over (gpointer data)
  {
    auto *self = static_cast<RefusedRequest *> (data);
    g_clear_pointer (&self->grace_, g_source_unref);
    self->destroy ();
    return G_SOURCE_REMOVE;
  }

  std::string answer_;
  gsize off_ = 0;
  GSource *grace_ = nullptr;
};

/* ---------------------------------------------------------------------------------------------- */

ServerStats
ServerImpl::stats () const
{
  ServerStats s;
  s.bodies_refused = bodies_refused_;
  return s;
}

static std::string
request_path (SoupServerMessage *msg)
{
  if (soup_server_message_is_options_ping (msg))
    return "*";
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  return path && *path ? path : "/";
}

/* The answer libsoup would write for @msg as it is set up, as one string, with "Connection:
 * close". */
static std::string
serialize_answer (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Connection", "close");
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  gsize size = 0;
  const char *data = static_cast<const char *> (g_bytes_get_data (body, &size));
  soup_message_headers_set_content_length (h, size);

  g_autofree gchar *status_line = g_strdup_printf ("HTTP/1.%c %u %s\r\n",
      soup_server_message_get_http_version (msg) == SOUP_HTTP_1_0 ? '0' : '1',
      soup_server_message_get_status (msg), soup_server_message_get_reason_phrase (msg));
  std::string out = status_line;
  SoupMessageHeadersIter iter;
  const char *name, *value;
  soup_message_headers_iter_init (&iter, h);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    out = out + name + ": " + value + "\r\n";
  out += "\r\n";
  if (!method_is (msg, "HEAD") && data)
    out.append (data, size);
  return out;
}

void
ServerImpl::refuse_request (SoupServerMessage *msg)
{
  std::string path = request_path (msg);
  bodies_refused_++;
  guint status = soup_server_message_get_status (msg);
  std::string cause =
      std::to_string (status) + " " + soup_server_message_get_method (msg) + " " + path;
  if (cause != last_refusal_) {
    g_info ("a request body from %s refused before it was read: %s (logged again when the cause "
            "changes)",
        soup_server_message_get_remote_host (msg), cause.c_str ());
    last_refusal_ = cause;
  }
  std::string answer = serialize_answer (msg);
  stop_request_timer (msg);
  GIOStream *io;
  GSocket *socket;
  std::string peer;
  if (!steal (msg, &io, &socket, &peer))
    return;
  new RefusedRequest (*this, io, socket, std::move (peer), std::move (answer));
}

/* The body's declared length; -1 = chunked (no length); 0 = no body. */
static goffset
announced_body (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  switch (soup_message_headers_get_encoding (h)) {
    case SOUP_ENCODING_CONTENT_LENGTH:
      return soup_message_headers_get_content_length (h);
    case SOUP_ENCODING_CHUNKED:
      return -1;
    default:
      return 0;
  }
}

struct BodyCap
{
  ServerImpl *server;
  gsize cap;
  gsize got = 0;
};

/* A chunked body declares no length: it is counted as libsoup reads it (at most 8 KiB at a time)
 * and refused as soon as it grows past @cap. */
static void
cap_chunked_body (ServerImpl *server, SoupServerMessage *msg, gsize cap)
{
  g_signal_connect_data (
      msg, "got-chunk", G_CALLBACK (+[] (SoupServerMessage *m, GBytes *chunk, gpointer data) {
        auto *c = static_cast<BodyCap *> (data);
        c->got += g_bytes_get_size (chunk);
        if (c->got <= c->cap)
          return;
        g_autofree gchar *text =
            g_strdup_printf ("the request body may be at most %" G_GSIZE_FORMAT " bytes", c->cap);
        set_plain_response (m, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, text);
        c->server->refuse_request (m);
      }),
      new BodyCap{ server, cap },
      [] (gpointer data, GClosure *) { delete static_cast<BodyCap *> (data); },
      static_cast<GConnectFlags> (0));
}

void
ServerImpl::on_got_headers (SoupServerMessage *msg, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  goffset length = announced_body (msg);
  if (length == 0) {
    stop_request_timer (msg);
    return;
  }
  self->judge_body (msg, length);
}

void
ServerImpl::judge_body (SoupServerMessage *msg, goffset length)
{
  apply_route_changes ();
  std::string path = request_path (msg);
  guint status = soup_server_message_get_status (msg);
  if (status != 0) {
    /* libsoup refused the request already (e.g. a path with ".." in it); it would still read the
     * whole body before answering. */
    set_plain_response (msg, status, soup_status_get_phrase (status));
    refuse_request (msg);
    return;
  }
  if (methods_at (path).empty ()) {
    set_plain_response (msg, SOUP_STATUS_NOT_FOUND, "not found");
    refuse_request (msg);
    return;
  }
  if (!method_allowed (msg, path)) {
    refuse_request (msg);
    return;
  }
  /* Streams, snapshots and ingest take no body, even below a subtree page. */
  bool fixed_route =
      stream_paths_.count (path) || snapshot_paths_.count (path) || ingest_paths_.count (path);
  auto page = fixed_route ? pages_.end () : find_page (path);
  gsize cap =
      page != pages_.end () ? page->second->max_body (soup_server_message_get_method (msg)) : 0;
  if (cap == 0) {
    set_plain_response (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "this URL takes no request body");
    refuse_request (msg);
    return;
  }
  /* The body of a request that may not have it is never read. */
  if (!viewer_authorized (msg, path.c_str (), options_)) {
    refuse_request (msg);
    return;
  }
  if (length > static_cast<goffset> (cap)) {
    g_autofree gchar *text =
        g_strdup_printf ("the request body may be at most %" G_GSIZE_FORMAT " bytes", cap);
    set_plain_response (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, text);
    refuse_request (msg);
    return;
  }
  if (length < 0)
    cap_chunked_body (this, msg, cap);
  time_request_body (msg);
}

}  // namespace cr
