/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the slow-request timer. A client that has not sent its request headers, and
 * the body a page takes, in time is answered 408 and disconnected; under TLS, before its headers
 * are in, it is disconnected without an answer. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "crhttp.h"

namespace cr {

static const char TIMEOUT_ANSWER[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                     "Content-Type: text/plain\r\nContent-Length: 28\r\n\r\n"
                                     "the request took too long.\r\n";
static const char TIMER_KEY[] = "camrelay-request-timer";
static const char READING_BODY_KEY[] = "camrelay-reading-body";

/* A client gets request_timeout_ms to send its request, from connecting (or from the end of its
 * previous request) to the end of its headers, or of its body when a page takes one; then it is
 * answered 408 and disconnected. Without this, a client that trickles a byte now and then
 * (slowloris) holds a connection forever. */
void
ServerImpl::on_request_started (SoupServer *, SoupServerMessage *msg, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), self);
  if (self->options_.request_timeout_ms == 0)
    return;
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
        if (g_object_get_data (G_OBJECT (t->msg), READING_BODY_KEY)) {
          /* Past the headers (and any handshake): the connection is taken from libsoup and
           * answered, under TLS too. Only shutting the socket would not do: libsoup takes the end
           * of a chunked body for its end and would hand the handler what came so far. */
          set_plain_response (t->msg, SOUP_STATUS_REQUEST_TIMEOUT, "the request took too long");
          t->server->refuse_request (t->msg);
          return G_SOURCE_REMOVE;
        }
        GSocket *socket = soup_server_message_get_socket (t->msg);
        if (t->server->tls ()) {
          /* A plaintext answer would reach a TLS client as a broken record (SSL:
           * WRONG_VERSION_NUMBER), and an answer inside TLS needs the connection taken from
           * libsoup, which is unsafe while its handshake may still be running (a slow handshake
           * is this very case). So, as nginx does on a header timeout, the connection just ends:
           * libsoup sees the end and cleans up on its own. */
          if (socket)
            g_socket_shutdown (socket, TRUE, TRUE, nullptr);
          return G_SOURCE_REMOVE;
        }
        if (socket) {
          g_socket_send_with_blocking (socket, TIMEOUT_ANSWER, sizeof (TIMEOUT_ANSWER) - 1, FALSE,
              nullptr, nullptr);
          g_socket_shutdown (socket, TRUE, TRUE, nullptr);
        }
        return G_SOURCE_REMOVE;
      },
      new Timeout{ self, msg }, [] (gpointer d) { delete static_cast<Timeout *> (d); });
  g_source_attach (timer, self->context_);
  /* The timer dies with the message, or as soon as the request is in (stop_request_timer). */
  g_object_set_data_full (G_OBJECT (msg), TIMER_KEY, timer, [] (gpointer t) {
    g_source_destroy (static_cast<GSource *> (t));
    g_source_unref (static_cast<GSource *> (t));
  });
}

void
ServerImpl::stop_request_timer (SoupServerMessage *msg)
{
  g_object_set_data (G_OBJECT (msg), TIMER_KEY, nullptr);
}

void
ServerImpl::time_request_body (SoupServerMessage *msg)
{
  g_object_set_data (G_OBJECT (msg), READING_BODY_KEY, GINT_TO_POINTER (1));
  g_signal_connect (msg, "got-body", G_CALLBACK (+[] (SoupServerMessage *m, gpointer) {
    g_object_set_data (G_OBJECT (m), READING_BODY_KEY, nullptr);
    stop_request_timer (m);
  }),
      nullptr);
}

}  // namespace cr
