/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the camera side. IngestRouteImpl (one camera route) and WsConn (one WebSocket
 * camera connection). Server thread only unless marked otherwise. */
#pragma once

#include "crconnection.h"
#include "crserver.h"
#include "crws.h"

#include <memory>
#include <mutex>
#include <string>

namespace cr {

class ServerImpl;

class WsConn;

/* Owned by the handle add_ingest returns and by the server's queue of route changes; lives no
 * longer than its server (which applies every queued change before it goes). */
class IngestRouteImpl
{
public:
  IngestRouteImpl (ServerImpl & server, const IngestSettings & settings, IngestListener *listener,
      guint64 id);

  IngestStats stats () const;
  /* Any thread: the listener hears nothing more once this returns (it waits for a call in
   * progress). */
  void silence ();

  /* Server thread. */
  void handle_upgrade (SoupServerMessage *msg, const char *path, GHashTable *query);
  void adopt (WsConn *conn, const std::string & path);
  void release (WsConn *conn, guint16 code, const std::string & reason);
  void deliver (GBytes *frame);
  /* One of the plain counters of IngestStats. */
  void count (guint64 IngestStats::*counter);
  void count_protocol_error (guint16 code);
  void detach ();

  const IngestSettings & settings () const { return settings_; }
  guint64 id () const { return id_; }

private:
  ServerImpl & server_;
  IngestSettings settings_;
  /* Recursive: a listener may remove its own route from a callback. */
  std::recursive_mutex listener_lock_;
  IngestListener *listener_; /* nullptr once silenced */
  guint64 id_;
  WsConn *active_ = nullptr;

  mutable std::mutex mutex_; /* guards stats_ */
  IngestStats stats_;
};

class WsConn : public Connection, public WsParserEvents
{
public:
  WsConn (ServerImpl & server, IngestRouteImpl *route, GIOStream *io, GSocket *socket,
      std::string peer, const std::string & path);

  void on_events (uint32_t events) override;
  /* Sends a close frame, waits briefly for the peer's, then closes. */
  void begin_close (guint16 code, const std::string & reason);
  void forget_route () { route_ = nullptr; }
  /* Feeds bytes libsoup may already hold; called once after adoption. */
  void start ();
  void shutdown () override;

  /* WsParserEvents */
  void ws_binary (GBytes *message) override;
  void ws_text (const char *text, gsize len) override;
  void ws_ping (const guint8 *payload, gsize len) override;
  void ws_pong (const guint8 *payload, gsize len) override;
  void ws_close (guint16 code, const std::string & reason) override;

private:
  enum class State
  {
    OPEN,
    CLOSING,
    CLOSED
  };

  void read_input ();
  void discard_input ();
  void queue_control (const std::string & frame, bool replace_pong);
  void flush_output ();
  void finish (guint16 code, const std::string & reason);
  bool count_if_open (guint64 IngestStats::*counter);
  static gboolean on_close_timeout (gpointer self);

  IngestRouteImpl *route_;
  std::string path_;
  WsParser parser_;
  State state_ = State::OPEN;
  std::string out_;
  gsize out_off_ = 0;
  bool pong_queued_ = false;
  bool close_after_flush_ = false;
  bool write_shut_ = false;
  /* A read through libsoup's stream found nothing: what it had buffered is consumed, the socket
   * may be read directly. */
  bool drained_once_ = false;
  GSource *close_timer_ = nullptr;
  guint16 close_code_ = WS_CLOSE_ABNORMAL;
  std::string close_reason_;
};

}  // namespace cr
