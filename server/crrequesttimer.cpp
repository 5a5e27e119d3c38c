/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the slow-request timer. A client that has not sent its request headers in time
 * is answered 408 and disconnected (inside TLS under TLS). */
#define G_LOG_DOMAIN "camrelay-server"
#include "crrequesttimer.h"

#include "crserverimpl.h"

namespace cr {

static const char TIMEOUT_ANSWER[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                     "Content-Type: text/plain\r\nContent-Length: 32\r\n\r\n"
                                     "request headers took too long.\r\n";

/* Time a timed-out TLS client gets to take its 408 and our close_notify before we hang up. */
static const guint TLS_TIMEOUT_GRACE_MS = 1000;

TimedOutTlsClose::TimedOutTlsClose (ServerImpl & server, GIOStream *io, GSocket *socket)
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
TimedOutTlsClose::start (ServerImpl & server, GIOStream *io, GSocket *socket)
{
  auto *self = new TimedOutTlsClose (server, io, socket);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (io), TIMEOUT_ANSWER,
      sizeof (TIMEOUT_ANSWER) - 1, G_PRIORITY_DEFAULT, self->cancellable_, on_written, self);
}

void
TimedOutTlsClose::on_written (GObject *source, GAsyncResult *result, gpointer data)
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
TimedOutTlsClose::on_closed (GObject *source, GAsyncResult *result, gpointer data)
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
ServerImpl::on_request_started (SoupServer *, SoupServerMessage *msg, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  GSource *timer = g_timeout_source_new (self->options_.request_timeout_ms);
  struct Timeout
  {
    ServerImpl *server;
    SoupServerMessage *msg;
  };
  g_source_set_callback (
      timer,
      [] (gpointer d) -> gboolean {
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
      },
      new Timeout{ self, msg }, [] (gpointer d) { delete static_cast<Timeout *> (d); });
  g_source_attach (timer, self->context_);
  /* The timer dies with the message, or as soon as the headers are in. */
  g_object_set_data_full (G_OBJECT (msg), "camrelay-request-timer", timer, [] (gpointer t) {
    g_source_destroy (static_cast<GSource *> (t));
    g_source_unref (static_cast<GSource *> (t));
  });
  g_signal_connect (msg, "got-headers", G_CALLBACK (+[] (SoupServerMessage *m, gpointer) {
    g_object_set_data (G_OBJECT (m), "camrelay-request-timer", nullptr);
  }),
      nullptr);
}

}  // namespace cr
