/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: ServerImpl, one server per (address, port): its thread, listening socket and
 * route table. Public methods are safe from any thread; the rest runs in the server thread. */
#pragma once

#include "crpoller.h"
#include "crserver.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace cr {

class Connection;
class IngestRouteImpl;
class PageRouteImpl;
class StreamImpl;

class ServerImpl : public Server, public std::enable_shared_from_this<ServerImpl>
{
public:
  ServerImpl (std::string address, guint requested_port, const ServerOptions & options);
  ~ServerImpl () override;

  bool start (GError **error);
  /* The shared_ptr deleter: never deletes in the server thread itself. */
  static void release (ServerImpl *self);

  guint port () const override { return port_; }
  guint requested_port () const { return requested_port_; }
  /* Any thread for everything but open_on_loopback, which the server thread may extend. */
  const ServerOptions & options () const { return options_; }
  GThread *thread () const { return thread_; }
  const std::string & address () const override { return address_; }
  bool tls () const override { return tls_; }
  GMainContext *context () const override { return context_; }
  ServerStats stats () const override;

  std::unique_ptr<IngestRoute> add_ingest (const IngestSettings & settings,
      IngestListener *listener, GError **error) override;
  std::shared_ptr<Stream> add_stream (const StreamSettings & settings, GError **error) override;
  void remove_stream (const std::shared_ptr<Stream> & stream, guint keep_viewers_ms = 0) override;
  /* Any thread: what the handles returned by add_ingest and add_page do when they go. The route's
   * callbacks are silenced and its paths free again when these return; the server thread detaches
   * it a moment later (apply_route_changes). */
  void remove_ingest (const std::shared_ptr<IngestRouteImpl> & route);
  void remove_page (const std::shared_ptr<PageRouteImpl> & page);
  using Server::add_page;
  std::unique_ptr<PageRoute> add_page (const PageSettings & settings, PageHandler handler,
      GError **error) override;
  void invoke (std::function<void ()> fn) override;
  void invoke_sync (const std::function<void ()> & fn) override;

  /* Any thread: adds to the paths that stay open to loopback clients. */
  void open_on_loopback (const std::vector<std::string> & paths);

  /* Server thread only. */
  Poller & poller () { return *poller_; }
  /* Carries out the route changes queued by add_* and remove_* in their order. Called before
   * anything in the server thread looks at the route tables. */
  void apply_route_changes ();
  bool in_server_thread () const;
  /* Any thread: the same, without taking the context's lock (for every frame). */
  bool in_server_thread_fast () const { return g_thread_self () == thread_; }
  /* The methods a route at @path answers; empty = no route there. */
  std::vector<std::string> methods_at (const std::string & path) const;
  /* True if a route at @path takes @msg's method; otherwise false, with the 405 answer and its
   * Allow header set. */
  bool method_allowed (SoupServerMessage *msg, const std::string & path) const;
  void register_ingest (IngestRouteImpl *route);
  void unregister_ingest (IngestRouteImpl *route);
  IngestRouteImpl *ingest_by_id (guint64 id) const;
  void register_stream (StreamImpl *stream);
  void unregister_stream (StreamImpl *stream);
  StreamImpl *stream_by_id (guint64 id) const;
  /* The page serving @path: its exact route, or the longest subtree route ("/a/") above it. */
  std::map<std::string, PageRouteImpl *>::const_iterator find_page (const std::string & path) const;
  void register_page (PageRouteImpl *page);
  void unregister_page (PageRouteImpl *page);
  guint64 next_id () { return ++last_id_; }
  /* Sends frames the pipelines published meanwhile, without waiting for a main-loop iteration. */
  void fan_out_pending ();
  /* Any thread: stream @id has frames to send (what fan_out_pending() looks at). */
  void mark_pending (guint64 id);

  /* Moves a connection out of libsoup's hands. Returns false (and closes it) if that failed. */
  static bool steal (SoupServerMessage *msg, GIOStream **io, GSocket **socket, std::string *peer);
  /* Answers @msg as it is set up, once its headers are in, and closes its connection without
   * reading any more of it (crrequestbody.cpp). */
  void refuse_request (SoupServerMessage *msg);
  /* The request's slow-request timer is done with (crrequesttimer.cpp). */
  static void stop_request_timer (SoupServerMessage *msg);
  /* The timer runs on until @msg's body is in; if it fires first, the request is refused (408). */
  static void time_request_body (SoupServerMessage *msg);

private:
  static gpointer thread_main (gpointer self);
  bool setup (GError **error);
  void teardown ();
  static void on_request (SoupServer *soup, SoupServerMessage *msg, const char *path,
      GHashTable *query, gpointer self);
  static void on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer self);
  static void on_got_headers (SoupServerMessage *msg, gpointer self);
  void judge_body (SoupServerMessage *msg, goffset length);
  void route (SoupServerMessage *msg, const char *path, GHashTable *query);

  std::string address_;
  guint requested_port_;
  guint port_ = 0;
  ServerOptions options_;
  bool tls_ = false;

  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;
  /* Set in the server thread when the last reference went there. */
  bool release_in_thread_ = false;

  /* Start-up handshake between acquire() and the thread. */
  std::mutex start_mutex_;
  std::condition_variable start_cond_;
  bool started_ = false;
  GError *start_error_ = nullptr;

  /* Server thread only. */
  SoupServer *soup_ = nullptr;
  std::unique_ptr<Poller> poller_;
  std::map<std::string, IngestRouteImpl *> ingest_paths_;
  std::map<guint64, IngestRouteImpl *> ingests_;
  std::map<std::string, StreamImpl *> stream_paths_;
  std::map<std::string, StreamImpl *> snapshot_paths_;
  std::map<guint64, StreamImpl *> streams_;
  /* Streams removed with viewers kept for the next stream on their path (remove_stream), with
   * the timer that ends their wait. */
  struct Parked
  {
    std::shared_ptr<StreamImpl> stream;
    GSource *timer = nullptr;
  };
  std::map<std::string, Parked> parked_;
  void end_parking (const std::string & path);
  std::map<std::string, PageRouteImpl *> pages_;

  /* Routes are added and removed without waiting for the server thread (thousands of cameras
   * start and stop at once): the caller claims or frees the paths here, under claims_lock_, which
   * is where a conflict is found; the change itself is queued and the server thread applies the
   * queue, in order, before it routes a request or runs anything else (a camera removed and
   * re-added under the same name is two changes in order). */
  struct RouteChange
  {
    enum class Kind
    {
      ADD_INGEST,
      REMOVE_INGEST,
      ADD_STREAM,
      REMOVE_STREAM,
      ADD_PAGE,
      REMOVE_PAGE,
    } kind;
    std::shared_ptr<IngestRouteImpl> ingest;
    std::shared_ptr<StreamImpl> stream;
    std::shared_ptr<PageRouteImpl> page;
    guint keep_viewers_ms = 0;
  };
  /* Claims @paths for @owner in @table; false (and nothing claimed) if one is taken, with its path
   * in @taken. */
  bool claim (std::map<std::string, const void *> & table, const std::vector<std::string> & paths,
      const void *owner, std::string *taken);
  void unclaim (std::map<std::string, const void *> & table, const std::vector<std::string> & paths,
      const void *owner);
  void queue_route_change (RouteChange change);
  void apply_route_change (RouteChange & change);
  void attach_stream (StreamImpl & stream);
  void detach_stream (const std::shared_ptr<StreamImpl> & stream, guint keep_viewers_ms);
  std::mutex claims_lock_;
  std::map<std::string, const void *> ingest_claims_; /* WebSocket paths */
  std::map<std::string, const void *> http_claims_;   /* stream, snapshot and page paths */
  std::mutex changes_lock_;
  std::vector<RouteChange> changes_;

  std::atomic<guint64> last_id_{ 0 };
  std::atomic<guint64> bodies_refused_{ 0 };
  std::string last_refusal_; /* server thread: logged once per change */
  /* Ids of the streams published to since fan_out_pending() last ran: with a thousand cameras,
   * looking at every stream after every camera frame was most of the server thread's work. */
  std::mutex pending_lock_;
  std::vector<guint64> pending_streams_;
  /* Ready when pending_streams_ has ids: one wake-up for every stream (pending_lock_). */
  GSource *wake_ = nullptr;
  static gboolean on_wake (gpointer self);

  friend class Connection;
  std::set<Connection *> connections_;
};

}  // namespace cr
