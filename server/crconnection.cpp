/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the base of connections taken over from libsoup (viewers, cameras): how they are
 * taken, non-blocking reads and vectored writes, epoll interest, teardown. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crconnection.h"

#include "crserverimpl.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace cr {

bool
ServerImpl::steal (SoupServerMessage *msg, GIOStream **io, GSocket **socket, std::string *peer)
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

Connection::Connection (ServerImpl & server, GIOStream *io, GSocket *socket, std::string peer)
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
Connection::read_some (guint8 *data, gsize len, gsize *got)
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
Connection::read_vectors (const struct iovec *iov, int n, gsize *got)
{
  *got = 0;
  for (;;) {
    ssize_t r = readv (fd_, iov, n);
    if (r > 0) {
      *got = r;
      return Io::OK;
    }
    if (r == 0)
      return Io::CLOSED;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return Io::WOULD_BLOCK;
    return Io::CLOSED;
  }
}

void
Connection::budget_spent ()
{
  /* GTlsInputStream's is_readable() only asks the socket, so it cannot tell either: read again,
   * which costs one WOULD_BLOCK when nothing was left. */
  if (tls_ && !destroyed_)
    server_.poller ().read_again (this);
}

Connection::Io
Connection::write_vectors (const struct iovec *iov, int n, gsize *written)
{
  *written = 0;
  if (!tls_) {
    struct msghdr mh = {};
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
  GPollableReturn r = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (out),
      vectors, n, written, nullptr, &error);
  if (r == G_POLLABLE_RETURN_OK)
    return Io::OK;
  if (r == G_POLLABLE_RETURN_WOULD_BLOCK)
    return Io::WOULD_BLOCK;
  return Io::CLOSED;
}

void
Connection::watch (bool want_read, bool want_write)
{
  watch_events ((want_read ? static_cast<uint32_t> (EPOLLIN | EPOLLRDHUP) : 0u) |
      (want_write ? static_cast<uint32_t> (EPOLLOUT) : 0u));
}

void
Connection::watch_events (uint32_t events)
{
  if (destroyed_)
    return;
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
