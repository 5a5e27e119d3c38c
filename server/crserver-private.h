/* camrelay server internals shared by crserver.cpp, crstream.cpp and cringest.cpp.
 * Everything here lives in, and is touched only from, the server thread unless marked otherwise. */
#pragma once

#include "crpoller.h"
#include "crserver.h"
#include "crws.h"

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

namespace cr {

class ServerImpl;

/* A connection taken over from libsoup after the handshake or the response headers. */
class Connection : public Poller::Handler
{
public:
  Connection (ServerImpl & server, GIOStream * io, GSocket * socket, std::string peer);
  ~Connection () override;

  const std::string & peer () const { return peer_; }
  /* Server teardown: close without ceremony. */
  virtual void shutdown ();

protected:
  enum class Io { OK, WOULD_BLOCK, CLOSED };

  /* Reads through the stolen stream so that bytes libsoup had already buffered are not lost. */
  Io read_some (guint8 * data, gsize len, gsize * got);
  /* Non-blocking vectored write; *written may be short. */
  Io write_vectors (const struct iovec * iov, int n, gsize * written);

  void watch (bool want_read, bool want_write);
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

/* ---------------------------------------------------------------------------------------------- */

struct Part
{
  Part (GBytes * jpeg, const std::string & content_type, const std::string & boundary,
      guint64 seq, gint64 wall_time_us);
  ~Part ();

  GBytes *jpeg;
  gsize size;
  const guint8 *data;
  guint64 seq;
  gint64 published_us;              /* monotonic */
  std::string boundary;
  std::string content_type;
  /* "--B\r\nContent-Type: T\r\nContent-Length: N\r\nX-Timestamp: S.UUUUUU\r\n\r\n" (the wall
   * clock of publication), built once per frame for every Content-Length viewer. */
  std::string head_with_length;
  /* "\r\n--B\r\nContent-Type: T\r\n\r\n": ends this part and opens the next one at once, because
   * browsers only show a part once the next part's headers have arrived. */
  std::string advance_trailer;
};
using PartRef = std::shared_ptr<const Part>;

class StreamImpl;

class Viewer : public Connection
{
public:
  Viewer (StreamImpl & stream, GIOStream * io, GSocket * socket, std::string peer,
      bool with_length, const std::string & boundary);

  void offer (const PartRef & part);      /* a new frame to send when the socket allows */
  void finish ();                          /* closing boundary, then close */
  void drop (const char *why);             /* close now */
  /* The stream is going away: finish the part in flight and the closing boundary on our own,
   * within a grace period, then close. */
  void orphan ();
  ~Viewer () override;
  bool blocked () const { return blocked_since_ != 0; }
  gint64 blocked_since () const { return blocked_since_; }
  const std::string & boundary () const { return boundary_; }

  void on_events (uint32_t events) override;

private:
  void start_part (const PartRef & part);
  bool flush ();
  void discard_input ();
  bool hold_for_link (gsize next_size);
  static gboolean on_hold_over (gpointer self);

  StreamImpl *stream_;                     /* nullptr once orphaned */
  GSource *drain_timer_ = nullptr;
  bool with_length_;
  std::string boundary_;
  std::string preamble_;            /* advance mode: the first part's headers */
  bool preamble_sent_ = false;

  PartRef cur_;
  struct iovec segs_[3];
  int nsegs_ = 0;
  gsize total_ = 0;
  gsize off_ = 0;
  std::deque<PartRef> queue_;
  /* Thin links: a viewer whose last part did not go out in one send may still have most of it in
   * flight; the next part then waits (newer frames replacing it) until the link has nearly
   * delivered it, so that the viewer gets fresh frames rather than a queue of old ones. */
  int part_writes_ = 0;
  bool part_held_ = false;
  bool slow_ = false;
  guint fast_looks_ = 0;
  guint64 link_rate_ = 0;           /* bytes/s, the kernel's samples with outliers capped */
  gint64 last_probe_us_ = 0;
  GSource *hold_timer_ = nullptr;   /* created on the first hold, re-armed with a ready time */

  bool finishing_ = false;
  std::string tail_;
  gsize tail_off_ = 0;
  gint64 blocked_since_ = 0;
};

/* ---------------------------------------------------------------------------------------------- */

class WsConn;

class IngestRouteImpl : public IngestRoute
{
public:
  IngestRouteImpl (std::shared_ptr<ServerImpl> server, const IngestSettings & settings,
      IngestListener * listener, guint64 id);
  ~IngestRouteImpl () override;

  IngestStats stats () const override;

  /* Server thread. */
  void handle_upgrade (SoupServerMessage * msg, const char *path, GHashTable * query);
  void adopt (WsConn * conn, const std::string & path);
  void release (WsConn * conn, guint16 code, const std::string & reason);
  void deliver (GBytes * frame);
  void count_text ();
  void count_refused ();
  void count_protocol_error (guint16 code);
  void count_ping ();
  void detach ();

  const IngestSettings & settings () const { return settings_; }
  guint64 id () const { return id_; }

private:
  bool authorized (SoupServerMessage * msg, GHashTable * query) const;

  std::shared_ptr<ServerImpl> server_;
  IngestSettings settings_;
  IngestListener *listener_;
  guint64 id_;
  WsConn *active_ = nullptr;

  mutable std::mutex mutex_;       /* guards stats_ */
  IngestStats stats_;
};

class WsConn : public Connection, public WsParserEvents
{
public:
  WsConn (ServerImpl & server, IngestRouteImpl * route, GIOStream * io, GSocket * socket,
      std::string peer, const std::string & path);

  void on_events (uint32_t events) override;
  /* Sends a close frame, waits briefly for the peer's, then closes. */
  void begin_close (guint16 code, const std::string & reason);
  void forget_route () { route_ = nullptr; }
  /* Feeds bytes libsoup may already hold; called once after adoption. */
  void start ();
  void shutdown () override;

  /* WsParserEvents */
  void ws_binary (GBytes * message) override;
  void ws_text (const char *text, gsize len) override;
  void ws_ping (const guint8 * payload, gsize len) override;
  void ws_pong (const guint8 * payload, gsize len) override;
  void ws_close (guint16 code, const std::string & reason) override;

private:
  enum class State { OPEN, CLOSING, CLOSED };

  void read_input ();
  void discard_input ();
  void queue_control (const std::string & frame, bool replace_pong);
  void flush_output ();
  void finish (guint16 code, const std::string & reason);
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
  GSource *close_timer_ = nullptr;
  guint16 close_code_ = WS_CLOSE_ABNORMAL;
  std::string close_reason_;
};

/* ---------------------------------------------------------------------------------------------- */

class StreamImpl : public Stream, public std::enable_shared_from_this<StreamImpl>
{
public:
  StreamImpl (std::shared_ptr<ServerImpl> server, const StreamSettings & settings, guint64 id);
  ~StreamImpl () override;

  void publish (GBytes * jpeg, const char *content_type) override;
  void set_boundary (const std::string & boundary) override;
  void finish () override;
  GBytes *latest () const override;
  StreamStats stats () const override;

  /* Server thread. */
  void attach ();
  void detach ();
  void handle_stream (SoupServerMessage * msg, GHashTable * query);
  void handle_snapshot (SoupServerMessage * msg);
  void add_viewer (GIOStream * io, GSocket * socket, const std::string & peer, bool with_length);
  void viewer_gone (Viewer * viewer);
  void pending_viewer_settled ();
  ServerImpl & server_ref () { return *server_; }
  void viewer_blocked ();
  void count_sent (gsize bytes, bool part_done);
  void count_skipped ();

  const StreamSettings & settings () const { return settings_; }
  guint64 id () const { return id_; }

private:
  static gboolean on_wake (gpointer self);
  static gboolean on_stall_check (gpointer self);
  void fan_out ();

public:
  /* Server thread: sends a frame published since the last fan-out, if any. */
  void fan_out_pending ();

  std::shared_ptr<ServerImpl> server_;
  StreamSettings settings_;
  guint64 id_;

  /* Server thread only. */
  std::vector<Viewer *> viewers_;
  guint pending_viewers_ = 0;
  GSource *wake_ = nullptr;
  GSource *stall_timer_ = nullptr;
  bool attached_ = false;

  /* Any thread, under mutex_. */
  mutable std::mutex mutex_;
  PartRef latest_;
  /* Published, not yet fanned out. A burst that arrives while the server thread is busy is kept
   * (up to MAX_PENDING, oldest dropped), so a healthy viewer sees no gap. */
  std::deque<PartRef> pending_;
  static constexpr gsize MAX_PENDING = 4;
  bool finish_pending_ = false;
  bool finished_ = false;
  std::string boundary_ = "ThisRandomString";
  guint64 seq_ = 0;
  StreamStats stats_;
};

/* ---------------------------------------------------------------------------------------------- */

class PageRouteImpl : public PageRoute
{
public:
  PageRouteImpl (std::shared_ptr<ServerImpl> server, std::string path, PageHandler handler);
  ~PageRouteImpl () override;

  std::shared_ptr<ServerImpl> server_;
  std::string path_;
  PageHandler handler_;
};

class ServerImpl : public Server, public std::enable_shared_from_this<ServerImpl>
{
public:
  ServerImpl (std::string address, guint requested_port, const ServerOptions & options);
  ~ServerImpl () override;

  bool start (GError ** error);

  guint port () const override { return port_; }
  const std::string & address () const override { return address_; }
  bool tls () const override { return tls_; }
  GMainContext *context () const override { return context_; }

  std::unique_ptr<IngestRoute> add_ingest (const IngestSettings & settings,
      IngestListener * listener, GError ** error) override;
  std::shared_ptr<Stream> add_stream (const StreamSettings & settings, GError ** error) override;
  void remove_stream (const std::shared_ptr<Stream> & stream) override;
  std::unique_ptr<PageRoute> add_page (const std::string & path, PageHandler handler,
      GError ** error) override;
  void invoke (std::function<void ()> fn) override;
  void invoke_sync (const std::function<void ()> & fn) override;

  /* Server thread only. */
  Poller & poller () { return *poller_; }
  bool in_server_thread () const;
  bool path_taken (const std::string & path) const;
  void register_ingest (IngestRouteImpl * route);
  void unregister_ingest (IngestRouteImpl * route);
  IngestRouteImpl *ingest_by_id (guint64 id) const;
  void register_stream (StreamImpl * stream);
  void unregister_stream (StreamImpl * stream);
  StreamImpl *stream_by_id (guint64 id) const;
  void register_page (PageRouteImpl * page);
  void unregister_page (PageRouteImpl * page);
  guint64 next_id () { return ++last_id_; }
  /* Sends frames the pipelines published meanwhile, without waiting for a main-loop iteration. */
  void fan_out_pending ();

  /* Moves a connection out of libsoup's hands. Returns false (and closes it) if that failed. */
  static bool steal (SoupServerMessage * msg, GIOStream ** io, GSocket ** socket,
      std::string * peer);

private:
  static gpointer thread_main (gpointer self);
  bool setup (GError ** error);
  void teardown ();
  static void on_request (SoupServer * soup, SoupServerMessage * msg, const char *path,
      GHashTable * query, gpointer self);
  static void on_request_started (SoupServer * soup, SoupServerMessage * msg, gpointer self);
  void route (SoupServerMessage * msg, const char *path, GHashTable * query);
  bool check_viewer_auth (SoupServerMessage * msg, const char *path);

  std::string address_;
  guint requested_port_;
  guint port_ = 0;
  ServerOptions options_;
  bool tls_ = false;

  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;

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
  std::map<std::string, PageRouteImpl *> pages_;
  std::atomic<guint64> last_id_{ 0 };

  friend class Connection;
  std::set<Connection *> connections_;
};

void set_plain_response (SoupServerMessage * msg, guint status, const char *text);
bool method_is (SoupServerMessage * msg, const char *method);
void close_after_response (SoupServerMessage * msg);
bool is_loopback_peer (SoupServerMessage * msg);
bool secrets_equal (const std::string & a, const std::string & b);

}  // namespace cr
