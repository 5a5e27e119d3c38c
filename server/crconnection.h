/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: Connection, the base of the connections camrelay takes over from libsoup. Server
 * thread only. */
#pragma once

#include "crpoller.h"

#include <gio/gio.h>
#include <sys/uio.h>

#include <string>

namespace cr {

class ServerImpl;

/* A connection taken over from libsoup after the handshake or the response headers. */
class Connection : public Poller::Handler
{
public:
  Connection (ServerImpl & server, GIOStream *io, GSocket *socket, std::string peer);
  ~Connection () override;

  const std::string & peer () const { return peer_; }
  /* Server teardown: close without ceremony. */
  virtual void shutdown ();

protected:
  enum class Io
  {
    OK,
    WOULD_BLOCK,
    CLOSED
  };

  /* Reads through the stolen stream so that bytes libsoup had already buffered are not lost. */
  Io read_some (guint8 *data, gsize len, gsize *got);
  /* Plain sockets only: a non-blocking vectored read straight from the socket, past GIO (no
   * GError for every empty read). Only once nothing is left in the stolen stream's buffer. */
  Io read_vectors (const struct iovec *iov, int n, gsize *got);
  /* A reader stopped at its budget with input perhaps left: under TLS that input may sit
   * decrypted inside GnuTLS, with an empty socket that epoll never reports again, so on_events
   * (EPOLLIN) is called once more on the next dispatch. Plain sockets stay readable to epoll. */
  void budget_spent ();
  /* Non-blocking vectored write; *written may be short. */
  Io write_vectors (const struct iovec *iov, int n, gsize *written);

  void watch (bool want_read, bool want_write);
  /* Any set of epoll events; 0 = none. */
  void watch_events (uint32_t events);
  /* Stops watching, closes the socket and hands the object to the poller for deletion. */
  void destroy ();

  ServerImpl & server_;
  GIOStream *io_ = nullptr;
  GSocket *socket_ = nullptr;
  int fd_ = -1;
  bool tls_ = false;
  std::string peer_;
  uint32_t watched_ = 0;
  bool destroyed_ = false;
};

}  // namespace cr
