/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: the endpoint, its routes and its sessions (see crwhep.h). */
#define G_LOG_DOMAIN "camrelay"
#include "crwhep.h"

#include "crwhepsdp.h"
#include "crwhepsession.h"

#include <condition_variable>
#include <cstring>
#include <algorithm>
#include <map>
#include <mutex>

GST_DEBUG_CATEGORY (cr_whep_debug);
#define GST_CAT_DEFAULT cr_whep_debug

namespace cr {

namespace {

/* One thread for the whole process starts and stops sessions: building a webrtcbin or taking one
 * down (it joins its ICE and DTLS threads) takes milliseconds that the server thread, which
 * sends every MJPEG frame, must not wait for. One thread keeps each session's start before its
 * stop. */
GThreadPool *
worker ()
{
  static GThreadPool *pool = nullptr;
  static std::once_flag once;
  std::call_once (once, [] {
    pool = g_thread_pool_new (
        [] (gpointer job, gpointer) {
          auto *fn = static_cast<std::function<void ()> *> (job);
          (*fn) ();
          delete fn;
        },
        nullptr, 1, FALSE, nullptr);
  });
  return pool;
}

void
run_on_worker (std::function<void ()> fn)
{
  g_thread_pool_push (worker (), new std::function<void ()> (std::move (fn)), nullptr);
}

void
add_cors (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  /* "*" and no Allow-Credentials: a page on another origin may use the endpoint with an explicit
   * Authorization header, never with the browser's stored credentials. */
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (h, "Access-Control-Expose-Headers", "Location");
}

void
answer_text (SoupServerMessage *msg, guint status, const std::string & text)
{
  add_cors (msg);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
      "no-store");
  std::string body = text + "\n";
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

void
answer_preflight (SoupServerMessage *msg, const char *methods)
{
  add_cors (msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Allow", methods);
  soup_message_headers_replace (h, "Access-Control-Allow-Methods", methods);
  soup_message_headers_replace (h, "Access-Control-Allow-Headers", "Authorization, Content-Type");
  soup_message_headers_replace (h, "Access-Control-Max-Age", "600");
  if (strstr (methods, "POST"))
    soup_message_headers_replace (h, "Accept-Post", "application/sdp");
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
}

struct Entry
{
  std::shared_ptr<WhepSession> session;
  SoupServerMessage *pending = nullptr; /* the POST, until its answer */
  GSource *deadline = nullptr;
  bool connected = false;
  gint64 connected_us = 0;
};

class Core : public std::enable_shared_from_this<Core>
{
public:
  Core (std::shared_ptr<Server> server, WhepSettings settings, H264Feed & feed)
    : server_ (std::move (server)), settings_ (std::move (settings)), feed_ (feed)
  {}

  void handle_offer (SoupServerMessage *msg);
  void refuse_offer (SoupServerMessage *msg, guint status, const std::string & why);
  void handle_session (SoupServerMessage *msg, const char *path);
  WhepStats stats () const;
  /* Server thread, with a session: starts the feed watchdog if it is not running. */
  void start_watchdog ();
  /* Any thread but the server's: ends every session and waits for their pipelines to be down. */
  void shut_down ();

  std::shared_ptr<Server> server_;
  WhepSettings settings_;

private:
  WhepSessionEvents events_for (const std::string & id);
  void answered (const std::string & id, const std::string & answer, const std::string & error);
  void connected (const std::string & id);
  void ice_lost (const std::string & id, bool failed);
  void ice_back (const std::string & id);
  void set_deadline (Entry & e, const std::string & id, guint ms, const char *why);
  void end (const std::string & id, const std::string & why, bool failure);
  void retire (Entry & e);
  bool check_feeds ();
  std::shared_ptr<RtpPacketizer> packetizer_for (guint pt);

  H264Feed & feed_;
  /* Server thread: the payloader of each payload type in use, while a session holds it. */
  std::map<guint, std::weak_ptr<RtpPacketizer>> packetizers_;
  /* Guards sessions_ (written in the server thread, read by stats()) and the counters. */
  mutable std::mutex lock_;
  std::map<std::string, Entry> sessions_;
  guint64 sessions_total_ = 0;
  /* An offer was taken once (a session, and perhaps the watchdog, were made): shut_down has work
   * to do in the server thread. */
  bool offered_ = false;
  guint64 refused_ = 0;
  guint64 failed_ = 0;
  guint64 bad_offers_ = 0;
  std::string last_bad_offer_; /* logged once per change of cause */
  guint64 bytes_ended_ = 0;
  /* Sessions handed to the worker to stop and not yet stopped. */
  std::condition_variable retired_cond_;
  guint retiring_ = 0;
  GSource *watchdog_ = nullptr; /* server thread */
};

/* Viewers offer their own payload type for H.264 (a browser's differs from aiortc's): the
 * sessions of one type share a payloader. */
std::shared_ptr<RtpPacketizer>
Core::packetizer_for (guint pt)
{
  std::shared_ptr<RtpPacketizer> p = packetizers_[pt].lock ();
  if (!p) {
    p = RtpPacketizer::create (pt);
    packetizers_[pt] = p;
  }
  return p;
}

WhepSessionEvents
Core::events_for (const std::string & id)
{
  std::weak_ptr<Core> weak = weak_from_this ();
  std::shared_ptr<Server> server = server_;
  auto later = [weak, server] (std::function<void (Core &)> fn) {
    server->invoke ([weak, fn] {
      if (auto core = weak.lock ())
        fn (*core);
    });
  };
  WhepSessionEvents ev;
  ev.on_answer = [later, id] (const std::string & answer, const std::string & error) {
    later ([id, answer, error] (Core & c) { c.answered (id, answer, error); });
  };
  ev.on_connected = [later, id] { later ([id] (Core & c) { c.connected (id); }); };
  ev.on_ice_lost = [later, id] (bool failed) {
    later ([id, failed] (Core & c) { c.ice_lost (id, failed); });
  };
  ev.on_ice_back = [later, id] { later ([id] (Core & c) { c.ice_back (id); }); };
  return ev;
}

void
Core::handle_offer (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);
  if (!g_strcmp0 (method, "OPTIONS")) {
    answer_preflight (msg, "OPTIONS, POST");
    return;
  }
  if (!feed_.available ()) {
    answer_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "this camera has no H.264 encoder: its pipeline has no h264relaysink");
    return;
  }
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *type = soup_message_headers_get_content_type (req, nullptr);
  if (!type || g_ascii_strcasecmp (type, "application/sdp") != 0) {
    refuse_offer (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
        "a WHEP offer is sent as Content-Type: application/sdp");
    return;
  }
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  std::string text (static_cast<const char *> (g_bytes_get_data (body, nullptr)),
      g_bytes_get_size (body));
  GstSDPMessage *offer = nullptr;
  if (text.empty () || gst_sdp_message_new_from_text (text.c_str (), &offer) != GST_SDP_OK ||
      gst_sdp_message_medias_len (offer) == 0) {
    if (offer)
      gst_sdp_message_free (offer);
    refuse_offer (msg, SOUP_STATUS_BAD_REQUEST, "the body is not an SDP offer");
    return;
  }
  WhepSessionSettings ss;
  std::string why;
  if (!whep_pick_h264 (offer, &ss.codec, &why)) {
    gst_sdp_message_free (offer);
    refuse_offer (msg, SOUP_STATUS_BAD_REQUEST, why);
    return;
  }
  {
    std::lock_guard<std::mutex> lock (lock_);
    if (settings_.max_sessions && sessions_.size () >= settings_.max_sessions) {
      refused_++;
      gst_sdp_message_free (offer);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
          "5");
      answer_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
          "this camera has as many WebRTC viewers as it takes");
      return;
    }
  }
  ss.min_port = settings_.min_port;
  ss.max_port = settings_.max_port;
  ss.stun_server = settings_.stun_server;
  ss.turn_server = settings_.turn_server;
  ss.announce_address = settings_.announce_address;
  ss.packetizer = packetizer_for (ss.codec.pt);

  g_autofree gchar *uuid = g_uuid_string_random ();
  std::string id;
  for (const char *p = uuid; *p; p++)
    if (*p != '-')
      id += *p;
  auto session = std::make_shared<WhepSession> (feed_, events_for (id));
  soup_server_message_pause (msg);
  {
    std::lock_guard<std::mutex> lock (lock_);
    offered_ = true;
    Entry & e = sessions_[id];
    e.session = session;
    e.pending = SOUP_SERVER_MESSAGE (g_object_ref (msg));
    set_deadline (e, id, settings_.gather_timeout_ms, "ICE gathering did not complete in time");
  }
  start_watchdog ();
  GST_INFO ("%s: session %s offered by %s", settings_.path.c_str (), id.c_str (),
      soup_server_message_get_remote_host (msg));
  std::weak_ptr<Core> weak = weak_from_this ();
  run_on_worker ([session, offer, ss, weak, id] {
    std::string error;
    if (session->start (offer, ss, &error))
      return;
    if (auto core = weak.lock ())
      core->server_->invoke ([weak, id, error] {
        if (auto c = weak.lock ())
          c->answered (id, "", error);
      });
  });
}

/* Server thread: an offer camrelay cannot answer is counted, and logged when its cause changes. */
void
Core::refuse_offer (SoupServerMessage *msg, guint status, const std::string & why)
{
  bool changed;
  {
    std::lock_guard<std::mutex> lock (lock_);
    bad_offers_++;
    changed = why != last_bad_offer_;
    last_bad_offer_ = why;
  }
  if (changed)
    g_message ("%s: an offer from %s refused (%u): %s (logged again when the cause changes)",
        settings_.path.c_str (), soup_server_message_get_remote_host (msg), status, why.c_str ());
  answer_text (msg, status, why);
}

void
Core::handle_session (SoupServerMessage *msg, const char *path)
{
  const char *method = soup_server_message_get_method (msg);
  if (!g_strcmp0 (method, "OPTIONS")) {
    answer_preflight (msg, "OPTIONS, DELETE");
    return;
  }
  std::string id = path + settings_.path.size () + 1;
  bool known;
  {
    std::lock_guard<std::mutex> lock (lock_);
    known = sessions_.count (id) > 0;
  }
  if (!known) {
    answer_text (msg, SOUP_STATUS_NOT_FOUND, "no such WebRTC session");
    return;
  }
  end (id, "ended by the viewer (DELETE)", false);
  answer_text (msg, SOUP_STATUS_OK, "session ended");
}

/* Server thread, lock_ held. */
void
Core::set_deadline (Entry & e, const std::string & id, guint ms, const char *why)
{
  if (e.deadline) {
    g_source_destroy (e.deadline);
    g_source_unref (e.deadline);
    e.deadline = nullptr;
  }
  if (!ms)
    return;
  struct Due
  {
    std::weak_ptr<Core> core;
    std::string id;
    std::string why;
  };
  e.deadline = g_timeout_source_new (ms);
  g_source_set_callback (
      e.deadline,
      [] (gpointer data) -> gboolean {
        auto *d = static_cast<Due *> (data);
        if (auto core = d->core.lock ())
          core->end (d->id, d->why, true);
        return G_SOURCE_REMOVE;
      },
      new Due{ weak_from_this (), id, why }, [] (gpointer d) { delete static_cast<Due *> (d); });
  g_source_attach (e.deadline, server_->context ());
}

void
Core::answered (const std::string & id, const std::string & answer, const std::string & error)
{
  SoupServerMessage *msg = nullptr;
  {
    std::lock_guard<std::mutex> lock (lock_);
    auto it = sessions_.find (id);
    if (it == sessions_.end () || !it->second.pending)
      return;
    msg = it->second.pending;
    it->second.pending = nullptr;
    if (error.empty ()) {
      sessions_total_++;
      set_deadline (it->second, id, settings_.connect_timeout_ms,
          "the viewer did not connect in time");
    }
  }
  if (error.empty ()) {
    add_cors (msg);
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    std::string location = settings_.path + "/" + id;
    soup_message_headers_replace (h, "Location", location.c_str ());
    soup_message_headers_replace (h, "Cache-Control", "no-store");
    soup_server_message_set_status (msg, SOUP_STATUS_CREATED, nullptr);
    soup_server_message_set_response (msg, "application/sdp", SOUP_MEMORY_COPY, answer.data (),
        answer.size ());
    GST_INFO ("%s: session %s answered", settings_.path.c_str (), id.c_str ());
  } else {
    GST_WARNING ("%s: session %s: %s", settings_.path.c_str (), id.c_str (), error.c_str ());
    answer_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error);
    end (id, error, true);
  }
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

void
Core::connected (const std::string & id)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = sessions_.find (id);
  if (it == sessions_.end ())
    return;
  it->second.connected = true;
  it->second.connected_us = g_get_monotonic_time ();
  set_deadline (it->second, id, 0, nullptr);
  GST_INFO ("%s: session %s connected", settings_.path.c_str (), id.c_str ());
}

void
Core::ice_lost (const std::string & id, bool failed)
{
  if (failed) {
    end (id, "ICE failed", true);
    return;
  }
  std::lock_guard<std::mutex> lock (lock_);
  auto it = sessions_.find (id);
  if (it != sessions_.end () && !it->second.pending)
    set_deadline (it->second, id, settings_.disconnect_timeout_ms,
        "the viewer stayed disconnected");
}

void
Core::ice_back (const std::string & id)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = sessions_.find (id);
  if (it != sessions_.end () && it->second.connected)
    set_deadline (it->second, id, 0, nullptr);
}

/* Server thread, lock_ held: the session leaves the table; the worker takes its pipeline down. */
void
Core::retire (Entry & e)
{
  set_deadline (e, "", 0, nullptr);
  if (e.pending) {
    answer_text (e.pending, SOUP_STATUS_SERVICE_UNAVAILABLE, "the WebRTC session ended");
    soup_server_message_unpause (e.pending);
    g_object_unref (e.pending);
    e.pending = nullptr;
  }
  retiring_++;
  std::shared_ptr<WhepSession> session = std::move (e.session);
  std::shared_ptr<Core> self = shared_from_this ();
  run_on_worker ([session, self] {
    session->stop ();
    std::lock_guard<std::mutex> lock (self->lock_);
    self->bytes_ended_ += session->bytes_sent ();
    self->retiring_--;
    self->retired_cond_.notify_all ();
  });
}

void
Core::end (const std::string & id, const std::string & why, bool failure)
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = sessions_.find (id);
  if (it == sessions_.end ())
    return;
  GST_INFO ("%s: session %s ends: %s", settings_.path.c_str (), id.c_str (), why.c_str ());
  if (failure)
    failed_++;
  retire (it->second);
  sessions_.erase (it);
}

/* Server thread: the 1 Hz look at the sessions' feeds runs only while there are sessions, so
 * that thousands of cameras nobody watches over WebRTC cost the server thread nothing. */
void
Core::start_watchdog ()
{
  if (watchdog_)
    return;
  std::weak_ptr<Core> weak = weak_from_this ();
  watchdog_ = g_timeout_source_new (1000);
  g_source_set_callback (
      watchdog_,
      [] (gpointer data) -> gboolean {
        auto core = static_cast<std::weak_ptr<Core> *> (data)->lock ();
        return core && core->check_feeds () ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
      },
      new std::weak_ptr<Core> (weak),
      [] (gpointer data) { delete static_cast<std::weak_ptr<Core> *> (data); });
  g_source_attach (watchdog_, server_->context ());
}

/* Server thread, once a second while there are sessions; false (and the watchdog gone) once
 * there are none. */
bool
Core::check_feeds ()
{
  gint64 now = g_get_monotonic_time ();
  gint64 limit = gint64 (settings_.feed_timeout_ms) * 1000;
  std::vector<std::string> stalled;
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (const auto & [id, e] : sessions_) {
      if (!e.connected || !e.session)
        continue;
      gint64 last = std::max (e.session->last_unit_us (), e.connected_us);
      if (now - last > limit)
        stalled.push_back (id);
    }
  }
  for (const auto & id : stalled)
    end (id, "the camera's H.264 feed stopped", true);
  std::lock_guard<std::mutex> lock (lock_);
  if (!sessions_.empty ())
    return true;
  g_clear_pointer (&watchdog_, g_source_unref);
  return false;
}

void
Core::shut_down ()
{
  {
    /* Thousands of endpoints nobody ever asked stop at once: no trip to the server thread for
     * them (the offer route is gone, so none can start now). */
    std::lock_guard<std::mutex> lock (lock_);
    if (!offered_)
      return;
  }
  server_->invoke_sync ([this] {
    if (watchdog_) {
      g_source_destroy (watchdog_);
      g_clear_pointer (&watchdog_, g_source_unref);
    }
    std::lock_guard<std::mutex> lock (lock_);
    for (auto & [id, e] : sessions_) {
      GST_INFO ("%s: session %s ends: the camera was removed", settings_.path.c_str (),
          id.c_str ());
      retire (e);
    }
    sessions_.clear ();
  });
  std::unique_lock<std::mutex> lock (lock_);
  retired_cond_.wait (lock, [this] { return retiring_ == 0; });
}

WhepStats
Core::stats () const
{
  std::lock_guard<std::mutex> lock (lock_);
  WhepStats s;
  s.sessions = sessions_.size ();
  s.sessions_total = sessions_total_;
  s.refused = refused_;
  s.failed = failed_;
  s.bad_offers = bad_offers_;
  s.bytes_sent = bytes_ended_;
  for (const auto & [id, e] : sessions_) {
    s.connected += e.connected ? 1 : 0;
    s.bytes_sent += e.session ? e.session->bytes_sent () : 0;
  }
  return s;
}

class EndpointImpl : public WhepEndpoint
{
public:
  ~EndpointImpl () override
  {
    /* Routes first: no new offer arrives while the sessions end. */
    session_route_.reset ();
    offer_route_.reset ();
    if (core_)
      core_->shut_down ();
  }
  WhepStats stats () const override { return core_->stats (); }

  std::shared_ptr<Core> core_;
  std::unique_ptr<PageRoute> offer_route_;
  std::unique_ptr<PageRoute> session_route_;
};

}  // namespace

std::unique_ptr<WhepEndpoint>
WhepEndpoint::create (std::shared_ptr<Server> server, const WhepSettings & settings,
    H264Feed & feed, GError **error)
{
  static std::once_flag once;
  std::call_once (once,
      [] { GST_DEBUG_CATEGORY_INIT (cr_whep_debug, "whep", 0, "camrelay WHEP (WebRTC viewers)"); });
  if (settings.path.size () < 2 || settings.path[0] != '/' || settings.path.back () == '/') {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "the WHEP path \"%s\" must start with / and not end with it", settings.path.c_str ());
    return nullptr;
  }
  auto impl = std::make_unique<EndpointImpl> ();
  impl->core_ = std::make_shared<Core> (server, settings, feed);
  std::weak_ptr<Core> weak = impl->core_;

  PageSettings offer;
  offer.path = settings.path;
  offer.methods = { "POST", "OPTIONS" };
  offer.max_body = MAX_REQUEST_BODY;
  offer.open_options = true;
  impl->offer_route_ = server->add_page (
      offer,
      [weak] (SoupServerMessage *msg, const char *, GHashTable *) {
        if (auto core = weak.lock ())
          core->handle_offer (msg);
      },
      error);
  if (!impl->offer_route_)
    return nullptr;
  PageSettings sessions;
  sessions.path = settings.path + "/";
  sessions.methods = { "DELETE", "OPTIONS" };
  sessions.open_options = true;
  impl->session_route_ = server->add_page (
      sessions,
      [weak] (SoupServerMessage *msg, const char *path, GHashTable *) {
        if (auto core = weak.lock ())
          core->handle_session (msg, path);
      },
      error);
  if (!impl->session_route_)
    return nullptr;
  return impl;
}

}  // namespace cr
