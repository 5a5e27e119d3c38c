/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: TimedOutTlsClose, the end of a TLS connection whose request headers did not
 * arrive in time (see crrequesttimer.cpp). Server thread only. */
#pragma once

#include <gio/gio.h>

namespace cr {

class ServerImpl;

/* A TLS connection whose request timed out, taken from libsoup: its 408 goes inside TLS, then a
 * close_notify, asynchronously so that a peer that reads nothing cannot hold up the server thread.
 * Owns itself; ends after the close or after the grace period, whichever comes first. */
class TimedOutTlsClose
{
public:
  static void start (ServerImpl & server, GIOStream *io, GSocket *socket);
  /* Server teardown: give up at once. */
  void abort () { g_cancellable_cancel (cancellable_); }

private:
  TimedOutTlsClose (ServerImpl & server, GIOStream *io, GSocket *socket);
  ~TimedOutTlsClose ();
  static void on_written (GObject *source, GAsyncResult *result, gpointer self);
  static void on_closed (GObject *source, GAsyncResult *result, gpointer self);
  static gboolean on_grace_over (gpointer self);

  ServerImpl & server_;
  GIOStream *io_;
  GSocket *socket_;
  GCancellable *cancellable_;
  GSource *grace_;
};

}  // namespace cr
