/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a WebSocket client that pushes frames to a server, one binary message each, as a
 * camera does (wsjpegsink's network side; GLib and libsoup only, no GStreamer).
 *
 * Threads: the client runs its own thread with its own GMainContext, where every libsoup object
 * lives. offer() may be called from any thread; it hands the frame over and wakes that thread.
 *
 * Backpressure: at most one frame waits to be sent. A frame is handed to libsoup only while the
 * connection's output stream is writable (TCP_NOTSENT_LOWAT keeps "writable" meaning "little
 * unsent data"), so libsoup's own queue never grows past one frame; a newer frame replaces one
 * still waiting, and frames offered while disconnected are dropped, never queued.
 *
 * Reconnects: a failed connect or a lost connection is retried after a backoff that doubles from
 * min_backoff_ms to max_backoff_ms and starts over after a successful connect. */
#pragma once

#include <glib.h>

#include <memory>
#include <string>

namespace cr {

struct WsPushSettings
{
  std::string location;   /* ws:// or wss:// URL */
  std::string secret;     /* sent as "Authorization: Bearer <secret>"; "" = none */
  bool tls_strict = true; /* refuse a wss:// server whose certificate does not verify */
  std::string user_agent; /* "" = libsoup's default */
  guint min_backoff_ms = 1000;
  guint max_backoff_ms = 30000;
  guint send_lowat = 32 * 1024; /* TCP_NOTSENT_LOWAT: unsent bytes the kernel may hold */
};

struct WsPushStats
{
  guint64 frames_sent = 0; /* handed to the connection */
  guint64 bytes_sent = 0;
  guint64 dropped_disconnected = 0; /* offered while there was no connection */
  guint64 dropped_busy = 0;         /* replaced by a newer frame before the link took it */
  guint64 connects = 0;             /* successful connections */
  guint64 connect_failures = 0;     /* connection attempts that failed */
  bool connected = false;
  std::string error; /* why the last attempt or connection failed; "" = none */
};

/* Called in the client's thread when the connection state changes (not on every retry that
 * fails the same way), so that a caller can log each cause once. */
class WsPushEvents
{
public:
  virtual ~WsPushEvents () = default;
  virtual void push_connected (const std::string & location) = 0;
  virtual void push_disconnected (const std::string & why) = 0;
};

class WsPushClient
{
public:
  /* Checks @settings (a ws:// or wss:// URL with a host); nullptr with @error set if they are
   * unusable. The client starts connecting at once. */
  static std::unique_ptr<WsPushClient> create (const WsPushSettings & settings,
      WsPushEvents *events, GError **error);

  /* Closes the connection (close code 1001, going away) and stops the thread. */
  virtual ~WsPushClient () = default;

  /* Any thread. @frame is shared, not copied; the newest frame replaces one not yet sent. */
  virtual void offer (GBytes *frame) = 0;

  virtual WsPushStats stats () const = 0;
};

}  // namespace cr
