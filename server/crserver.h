/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: one HTTP/WebSocket server per (address, port) in the process.
 *
 * GLib, GIO and libsoup only: no GStreamer here, so the layer can be tested alone.
 *
 * Threads: every Server runs its own thread with its own GMainContext. libsoup objects, sockets and
 * route tables are touched only from that thread. The public methods below are safe from any
 * thread. Those that change routes do not wait for the server thread (thousands of cameras start
 * and stop at once): a path is claimed, or free again, when they return, and a conflict is reported
 * there; the change is queued, and the server thread applies the queue, in order, before it routes
 * a request or runs anything invoked after it. Once a removal returns, no callback for the removed
 * route runs again (one in progress is waited for).
 *
 * libsoup parses requests, performs the WebSocket handshake and routes; after that camrelay takes
 * the connection over (soup_server_message_steal_connection) and does the hot I/O itself: RFC 6455
 * framing for cameras, non-blocking socket writes of shared, refcounted frames for viewers.
 */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cr {

#define CR_SERVER_ERROR (cr::server_error_quark ())
GQuark server_error_quark ();

enum ServerError
{
  SERVER_ERROR_ADDRESS,        /* unparsable listen address */
  SERVER_ERROR_LISTEN,         /* bind()/listen() failed, e.g. port in use */
  SERVER_ERROR_ROUTE_TAKEN,    /* another route already serves that path */
  SERVER_ERROR_INVALID,        /* bad settings */
  SERVER_ERROR_OPTIONS_DIFFER, /* the server on that address and port runs with other options */
};

/* ---------------------------------------------------------------------------------------------- */
/* Camera ingest                                                                                  */

struct IngestSettings
{
  /* URL paths a camera may connect to; the legacy firmware uses "/", the FastAPI server "/ws". */
  std::vector<std::string> paths{ "/ws", "/" };
  /* Larger messages are refused as their first frame header arrives (close code 1009). */
  guint64 max_message_size = 4 * 1024 * 1024;
  /* Text messages are only greetings; anything longer is refused too. */
  guint64 max_text_size = 64 * 1024;
  /* When not empty, a camera must present it as "Authorization: Bearer <secret>" or
   * "?token=<secret>". */
  std::string secret;
};

struct IngestStats
{
  guint64 connections = 0;      /* accepted WebSocket connections */
  guint64 messages = 0;         /* binary messages delivered */
  guint64 bytes = 0;            /* bytes of binary messages delivered */
  guint64 text_messages = 0;    /* text messages (greetings), ignored */
  guint64 refused_messages = 0; /* messages over a size limit */
  guint64 protocol_errors = 0;  /* connections closed for breaking RFC 6455 (close code 1002) */
  guint64 invalid_utf8 = 0;     /* connections closed for text that is not UTF-8 (1007) */
  guint64 connections_lost = 0; /* connections that ended without a close handshake (1006) */
  guint64 unauthorized = 0;     /* upgrades refused for a missing or wrong secret */
  guint64 takeovers = 0;        /* older connections closed because a newer one arrived */
  guint64 pings = 0;
  bool connected = false;
  std::string peer; /* address:port of the current camera, or "" */
};

/* Implemented by the user of an ingest route (wsjpegsrc). Called in the server thread; must not
 * block. */
class IngestListener
{
public:
  virtual ~IngestListener () = default;
  virtual void camera_connected (const std::string & peer, const std::string & path) = 0;
  /* @frame: one complete binary message; transfer none (ref it to keep it). */
  virtual void camera_frame (GBytes *frame) = 0;
  virtual void camera_disconnected (const std::string & peer, guint16 code,
      const std::string & reason) = 0;
};

class Server;

/* A registered set of ingest paths. At most one camera is connected at a time: a newer connection
 * takes over and the older one is closed (a rebooted board reconnects while its old TCP connection
 * still looks open). Destroying the route detaches it and closes the camera connection. */
class IngestRoute
{
public:
  virtual ~IngestRoute () = default;
  virtual IngestStats stats () const = 0;
};

/* ---------------------------------------------------------------------------------------------- */
/* MJPEG streams                                                                                  */

struct StreamSettings
{
  std::string path = "/";
  /* GET here returns the latest frame as one image; "" = no snapshot URL. */
  std::string snapshot_path;
  /* Further viewers get 503 with Retry-After; 0 = no limit. */
  guint max_viewers = 0;
  /* Frames a viewer may have waiting behind the one being written; older ones are skipped. */
  guint max_queued_frames = 1;
  /* A viewer whose socket accepted nothing for this long is disconnected; 0 = never. */
  guint stall_timeout_ms = 60000;
  /* Unsent bytes the kernel may hold for a viewer (TCP_NOTSENT_LOWAT); bounds a slow viewer's lag.
   */
  guint send_lowat = 16 * 1024;
  /* Server thread, when the number of viewers changes (the new number); never after the stream is
   * removed. Must not block. */
  std::function<void (guint viewers)> on_viewers;
  /* Server thread, when a viewer asks for the stream or somebody for a snapshot, before either is
   * served: a source opened on demand can open now. Never after the stream is removed. Must not
   * block. */
  std::function<void ()> on_wanted;
};

struct StreamStats
{
  guint viewers = 0;           /* connected now */
  guint64 viewers_total = 0;   /* ever accepted */
  guint64 viewers_refused = 0; /* 503 over max-viewers */
  guint64 viewers_stalled = 0; /* disconnected by the stall timeout */
  guint64 frames_in = 0;       /* frames published */
  guint64 parts_sent = 0;      /* frames completely written to a viewer */
  guint64 parts_skipped = 0;   /* frames a slow viewer skipped */
  guint64 bytes_sent = 0;
  guint64 snapshots = 0;
};

/* How one viewer's parts are laid out (README, "Viewer stream format"). */
enum class PartLayout
{
  /* Each frame is followed at once by the next part's boundary and headers, without Content-Length:
   * browsers show a part only once the next header block has arrived. */
  EARLY_HEADERS,
  /* "--B", Content-Type, Content-Length, X-Timestamp, the frame: readers that go by the length
   * (ffmpeg, go2rtc, GStreamer, VLC, scripts) hand each frame on as soon as it is complete. */
  CONTENT_LENGTH,
};

/* The layout for one request, from what it carries (nullptr = absent): @content_length is the value
 * of `?content-length=` ("1"/"" and "0" force a layout), then `Sec-Fetch-Dest` (sent by browsers;
 * "empty" means a script reads the bytes), then the User-Agent (browsers and Home Assistant's proxy
 * get early headers; everything else, no User-Agent included, gets Content-Length). */
PartLayout choose_part_layout (const char *content_length, const char *user_agent,
    const char *sec_fetch_dest);

/* One MJPEG stream: every viewer is sent the same refcounted frames. */
class Stream
{
public:
  virtual ~Stream () = default;

  /* Any thread. @jpeg is shared, not copied. @content_type: the part's Content-Type. */
  virtual void publish (GBytes *jpeg, const char *content_type = "image/jpeg") = 0;

  /* Any thread. The multipart boundary announced to viewers that connect from now on. */
  virtual void set_boundary (const std::string & boundary) = 0;

  /* Any thread. Ends every viewer's response with the closing boundary (end of stream). */
  virtual void finish () = 0;

  /* Any thread. Undoes finish(): published frames are served again, to the viewers that connect
   * from now on (a flush after the end of stream, e.g. a seek). No-op unless finished. */
  virtual void reopen () = 0;

  /* Any thread. While @ms > 0, a snapshot waits up to @ms for the next frame published instead
   * of getting the latest one at once (a camera being opened: its next frame is its first live
   * one); then the latest. 0 (the default): at once. Waiting snapshots are answered by the next
   * frame or at their own deadline, whatever this is set to meanwhile. */
  virtual void set_snapshot_wait (guint ms) = 0;

  /* Any thread. The latest frame (transfer full), or nullptr before the first one. */
  virtual GBytes *latest () const = 0;

  virtual StreamStats stats () const = 0;
};

/* ---------------------------------------------------------------------------------------------- */
/* Plain pages (status, metrics, the viewer page) */

/* Called in the server thread with libsoup's request; fill in the response. A page that takes a
 * request body (PageSettings::max_body) finds it complete in soup_server_message_get_request_body
 * (msg): the handler runs once the whole body has arrived, never before. */
using PageHandler =
    std::function<void (SoupServerMessage *msg, const char *path, GHashTable *query)>;

/* The largest request body any route may take. */
constexpr gsize MAX_REQUEST_BODY = 64 * 1024;

/* Request bodies. Nothing is read of a body nobody wants: every request that announces one
 * (Content-Length above 0, or Transfer-Encoding: chunked) is judged on its headers, and unless a
 * page takes it, answered there and then, with "Connection: close", and the connection closed
 * without its body being read:
 *   404  no route at the path;
 *   405  (with Allow) a method the path does not take, e.g. POST /status or POST /stream;
 *   413  a method the path takes without a body (GET or HEAD on a stream, snapshot or page, a
 *        WebSocket upgrade), or a body declared larger than the page's max_body;
 *   401  a page that takes the body, but the request lacks the viewer credentials: the body of an
 *        unauthenticated request is never read either.
 * A body the page takes is read up to max_body (a chunked body that grows past it is answered 413
 * and closed as soon as it does), within the request timeout, which runs until the body is
 * complete (408 and closed otherwise). */
struct PageSettings
{
  std::string path;
  /* The methods the page answers; any other gets 405 with an Allow header. */
  std::vector<std::string> methods = { "GET", "HEAD" };
  /* The largest request body taken with a method other than GET and HEAD, in bytes, at most
   * MAX_REQUEST_BODY; 0 = none (the default: pages answer what they are asked by URL). */
  gsize max_body = 0;
  /* OPTIONS is answered without the viewer credentials: browsers send a CORS preflight without
   * them (Fetch standard), so a page scripts on other origins may use (WHEP) must answer it. */
  bool open_options = false;
};

class PageRoute
{
public:
  virtual ~PageRoute () = default;
};

/* ---------------------------------------------------------------------------------------------- */

struct ServerOptions
{
  /* HTTP Basic credentials required on streams, snapshots and pages; empty = open. */
  std::string viewer_user;
  std::string viewer_password;
  /* Paths that stay open to clients on loopback even with credentials set (e.g. "/metrics"). */
  std::vector<std::string> open_on_loopback;
  /* PEM files; both set = TLS (https:// and wss://). */
  std::string tls_certificate;
  std::string tls_key;
  /* Request headers must be complete within this time (slowloris); 0 = no limit. */
  guint request_timeout_ms = 10000;
};

struct ServerStats
{
  /* Requests that announced a body and were answered without it being read (404, 405, 413, 401),
   * or cut off when a chunked body grew past the page's cap. */
  guint64 bodies_refused = 0;
};

class Server
{
public:
  /* Returns the server for (@address, @port), creating it and binding the port on first use.
   * Port 0 picks a free port once; later calls with port 0 and the same address share it.
   * @options: nullptr = no opinion (defaults if this call creates the server). Otherwise everybody
   * on one address and port must agree: when the server already runs, TLS certificate and key,
   * viewer credentials and request timeout must equal its own, or this fails with
   * SERVER_ERROR_OPTIONS_DIFFER; open_on_loopback adds to the paths the server already keeps open.
   * If the previous server of this address and port is still closing, waits for it. */
  static std::shared_ptr<Server> acquire (const std::string & address, guint port, GError **error,
      const ServerOptions *options = nullptr);

  virtual ~Server () = default;

  virtual guint port () const = 0; /* the bound port */
  virtual const std::string & address () const = 0;
  virtual bool tls () const = 0;
  virtual GMainContext *context () const = 0;
  virtual ServerStats stats () const = 0;

  virtual std::unique_ptr<IngestRoute> add_ingest (const IngestSettings & settings,
      IngestListener *listener, GError **error) = 0;
  virtual std::shared_ptr<Stream> add_stream (const StreamSettings & settings, GError **error) = 0;
  /* Detaches @stream: its paths are free again at once, its callbacks silent; the viewers'
   * responses end as the server thread applies the removal, a moment later. With @keep_viewers_ms,
   * the viewers whose response has not been ended (finish()) wait that long instead for a stream
   * added on the same path, which carries on with their responses (a pipeline rebuilt: they see
   * its frames as if a camera had reconnected); those not taken over then get the end. */
  virtual void remove_stream (const std::shared_ptr<Stream> & stream,
      guint keep_viewers_ms = 0) = 0;
  /* A page at exactly @settings.path; a path ending in "/" (e.g. "/recordings/") also serves
   * every path below it that no other route serves exactly (the handler gets the whole path).
   * SERVER_ERROR_INVALID for a path without a leading /, no methods or max_body over
   * MAX_REQUEST_BODY. */
  virtual std::unique_ptr<PageRoute> add_page (const PageSettings & settings, PageHandler handler,
      GError **error) = 0;
  /* A page answering GET and HEAD at @path, without request bodies. */
  std::unique_ptr<PageRoute> add_page (const std::string & path, PageHandler handler,
      GError **error)
  {
    PageSettings settings;
    settings.path = path;
    return add_page (settings, std::move (handler), error);
  }

  /* Runs @fn in the server thread, asynchronously. */
  virtual void invoke (std::function<void ()> fn) = 0;
  /* Runs @fn in the server thread and waits for it (runs it at once when called from there). */
  virtual void invoke_sync (const std::function<void ()> & fn) = 0;
};

/* "/ws, /" or "/ws; /" -> {"/ws", "/"}: the list syntax of path properties and config keys. */
std::vector<std::string> split_list (const std::string & text);

/* "a.b.c.d:port" or "[v6]:port" for a socket address. */
std::string format_address (GSocketAddress *address);

}  // namespace cr
