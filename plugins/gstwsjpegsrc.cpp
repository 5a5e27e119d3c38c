/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-wsjpegsrc
 * @title: wsjpegsrc
 *
 * A live source of JPEG frames sent by cameras over WebSocket, one binary message per frame, as
 * ESP32-CAM firmware does. Each message becomes exactly one buffer that wraps the received bytes
 * without copying them, stamped with the pipeline running time of its arrival.
 *
 * The listening socket is shared with every other camrelay element of the process that uses the
 * same address and port (e.g. mjpeghttpsink), so cameras and viewers meet on one port.
 *
 * A newer connection on the element's paths takes over from an older one, which is closed with a
 * reason: a rebooted board reconnects while its old TCP connection still looks open.
 *
 * Inside, an appsrc holds a small queue that drops its oldest frame and never blocks: the
 * element is a bin, so that none of appsrc's knobs (block=true would stall the server thread that
 * every camera and viewer on the port shares) reach users.
 *
 * With stop-when-idle=true the appsrc, and with it its streaming thread, runs only while a
 * camera is connected: a configured camera that nobody has connected holds no thread (a process
 * may serve thousands; camrelay sets it). It is started from a pooled thread when a camera
 * connects; frames that arrive meanwhile wait in the same small queue, so the first frame is not
 * lost. Each connection is a new stream downstream (stream-start, caps, segment); an end of
 * stream sent to the element while no camera is connected goes out on its source pad all the
 * same.
 *
 * The server settings (tls-certificate, tls-key, viewer-user, viewer-password, open-on-loopback,
 * request-timeout) must be the same on every element that listens on the same address and port.
 *
 * Element messages: "wsjpegsrc-connected" (peer, path) and "wsjpegsrc-disconnected"
 * (peer, code, reason).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 wsjpegsrc ! jpegvalidate ! jpegfallback placeholder=placeholder.jpg ! \
 *     multipartmux ! mjpeghttpsink
 * ]| Cameras connect to ws://HOST:3001/ws or ws://HOST:3001/, viewers open http://HOST:3001/.
 */
#include "gstwsjpegsrc.h"

#include "crarrivalsrc.h"
#include "crlisten.h"
#include "crserver.h"
#include "gstcamrelayelements.h"
#include "crstatsquarks.h"

#include <deque>
#include <memory>
#include <mutex>
#include <sstream>

#define DEFAULT_PATHS            "/ws,/"
#define DEFAULT_MAX_MESSAGE_SIZE (4 * 1024 * 1024)
#define DEFAULT_SECRET           ""
#define DEFAULT_QUEUE_SIZE       2
#define DEFAULT_STOP_WHEN_IDLE   FALSE

enum
{
  PROP_0,
  /* address, port and bound-port come first: see crlisten.h */
  PROP_PATHS = cr::LISTEN_PROP_LAST,
  PROP_MAX_MESSAGE_SIZE,
  PROP_SECRET,
  PROP_STATS,
  PROP_STOP_WHEN_IDLE,
};

GST_DEBUG_CATEGORY_STATIC (cr_ws_jpeg_src_debug);
#define GST_CAT_DEFAULT cr_ws_jpeg_src_debug

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

struct Settings
{
  std::string paths = DEFAULT_PATHS;
  guint64 max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
  std::string secret = DEFAULT_SECRET;
  bool stop_when_idle = DEFAULT_STOP_WHEN_IDLE;
};

}  // namespace

struct CrWsJpegSrcPrivate : public cr::IngestListener
{
  explicit CrWsJpegSrcPrivate (CrWsJpegSrc *self) : self (self) {}

  void camera_connected (const std::string & peer, const std::string & path) override;
  void camera_frame (GBytes *frame) override;
  void camera_disconnected (const std::string & peer, guint16 code,
      const std::string & reason) override;

  CrWsJpegSrc *self;
  /* The internal appsrc and its stamps; set in init, never changed. */
  cr::ArrivalSrc arrival;
  cr::Listener listener;

  /* Held while the appsrc starts or stops (and while an end of stream goes out), so that those
   * happen one at a time and in order. Taken before lock, never by the server thread. */
  std::mutex run_lock;

  /* stop-when-idle as of the last NULL→READY: the appsrc is locked (started and stopped by the
   * element, see update_appsrc) rather than following the bin. Changed in change_state only. */
  bool managed = false;

  /* Guards everything below. Never held while waiting for the server thread (route and server
   * teardown), because the server thread takes it in camera_frame(). */
  std::mutex lock;
  Settings settings;
  guint64 dropped = 0;
  /* Set and cleared in change_state only. */
  std::unique_ptr<cr::IngestRoute> route;
  /* Between READY→PAUSED and PAUSED→READY: cameras are accepted. */
  bool ingesting = false;
  /* Cameras connected now (two for a moment while a newer one takes over). */
  guint cameras = 0;
  /* The appsrc is started: frames go into it. */
  bool appsrc_running = false;
  /* An end of stream went to the running appsrc: it stays up until it is out (stopping it would
   * flush it away), whether or not a camera is still connected. */
  bool eos_sent = false;
  /* A pooled thread is on its way to start or stop the appsrc. */
  bool switch_queued = false;
  /* Frames that arrived while the appsrc was starting, oldest first (at most DEFAULT_QUEUE_SIZE).
   */
  std::deque<GstBuffer *> waiting;
};

struct _CrWsJpegSrc
{
  GstBin parent;
  CrWsJpegSrcPrivate *priv;
};

#define cr_ws_jpeg_src_parent_class parent_class
G_DEFINE_TYPE (CrWsJpegSrc, cr_ws_jpeg_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (wsjpegsrc, "wsjpegsrc", GST_RANK_NONE, CR_TYPE_WS_JPEG_SRC);

static void cr_ws_jpeg_src_finalize (GObject *object);
static void cr_ws_jpeg_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_ws_jpeg_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_ws_jpeg_src_change_state (GstElement *element,
    GstStateChange transition);
static gboolean cr_ws_jpeg_src_send_event (GstElement *element, GstEvent *event);
static void queue_appsrc_update_locked (CrWsJpegSrc *self);

static void
cr_ws_jpeg_src_class_init (CrWsJpegSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = cr_ws_jpeg_src_finalize;
  gobject_class->set_property = cr_ws_jpeg_src_set_property;
  gobject_class->get_property = cr_ws_jpeg_src_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_ws_jpeg_src_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (cr_ws_jpeg_src_send_event);

  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  cr::listen_install_properties (gobject_class);
  g_object_class_install_property (gobject_class, PROP_PATHS,
      g_param_spec_string ("paths", "Paths",
          "Comma-separated URL paths cameras connect to (legacy firmware uses /)", DEFAULT_PATHS,
          ready));
  g_object_class_install_property (gobject_class, PROP_MAX_MESSAGE_SIZE,
      g_param_spec_uint64 ("max-message-size", "Maximum message size",
          "Largest frame in bytes; a larger message is refused as it arrives and the camera "
          "is closed with code 1009",
          1024, G_MAXUINT32, DEFAULT_MAX_MESSAGE_SIZE, ready));
  g_object_class_install_property (gobject_class, PROP_SECRET,
      g_param_spec_string ("secret", "Secret",
          "Token a camera must present (Authorization: Bearer, or ?token= in the URL); "
          "empty = any camera may connect",
          DEFAULT_SECRET, ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "connections, messages, bytes, text-messages, refused-messages (over the size limit; "
          "64 KiB for text), protocol-errors (closed with 1002), invalid-utf8 (closed with 1007), "
          "connections-lost (ended without a close, e.g. mid-message), unauthorized, takeovers, "
          "pings, dropped (queue full), connected, peer",
          GST_TYPE_STRUCTURE, readonly));

  g_object_class_install_property (gobject_class, PROP_STOP_WHEN_IDLE,
      g_param_spec_boolean ("stop-when-idle", "Stop when idle",
          "Run the streaming thread only while a camera is connected (each connection then "
          "begins a new stream); false = from PAUSED to READY, as any source",
          DEFAULT_STOP_WHEN_IDLE, ready));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "WebSocket JPEG source",
      "Source/Network/Video",
      "Receives JPEG frames from WebSocket cameras, one binary message per frame",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_ws_jpeg_src_debug, "wsjpegsrc", 0, "camrelay WebSocket JPEG source");
}

static void
cr_ws_jpeg_src_init (CrWsJpegSrc *self)
{
  CrWsJpegSrcPrivate *priv = new CrWsJpegSrcPrivate (self);
  self->priv = priv;
  /* A small queue that drops its oldest frame and never blocks the shared server thread. */
  priv->arrival.build (GST_BIN (self), DEFAULT_QUEUE_SIZE);
}

static void
cr_ws_jpeg_src_finalize (GObject *object)
{
  CrWsJpegSrc *self = CR_WS_JPEG_SRC (object);
  for (GstBuffer *b : self->priv->waiting)
    gst_buffer_unref (b);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */
/* Server thread callbacks                                                                       */

void
CrWsJpegSrcPrivate::camera_connected (const std::string & peer, const std::string & path)
{
  GST_INFO_OBJECT (self, "camera %s connected on %s", peer.c_str (), path.c_str ());
  {
    std::lock_guard<std::mutex> guard (lock);
    cameras++;
    queue_appsrc_update_locked (self);
  }
  GstStructure *s = gst_structure_new ("wsjpegsrc-connected", "peer", G_TYPE_STRING, peer.c_str (),
      "path", G_TYPE_STRING, path.c_str (), nullptr);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

void
CrWsJpegSrcPrivate::camera_disconnected (const std::string & peer, guint16 code,
    const std::string & reason)
{
  GST_INFO_OBJECT (self, "camera %s disconnected (%u %s)", peer.c_str (), code, reason.c_str ());
  {
    std::lock_guard<std::mutex> guard (lock);
    if (cameras > 0)
      cameras--;
    queue_appsrc_update_locked (self);
  }
  GstStructure *s = gst_structure_new ("wsjpegsrc-disconnected", "peer", G_TYPE_STRING,
      peer.c_str (), "code", G_TYPE_UINT, static_cast<guint> (code), "reason", G_TYPE_STRING,
      reason.c_str (), nullptr);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

void
CrWsJpegSrcPrivate::camera_frame (GBytes *frame)
{
  /* Arrival time, against the pipeline clock: what the fallback's timeout is measured in. */
  GstBuffer *buffer = arrival.stamp (gst_buffer_new_wrapped_bytes (frame));

  GST_LOG_OBJECT (self, "frame of %" G_GSIZE_FORMAT " bytes", gst_buffer_get_size (buffer));
  /* Under the lock, so that frames waiting for the appsrc to start go in before this one. Pushing
   * never blocks (block=false). */
  std::lock_guard<std::mutex> guard (lock);
  if (!appsrc_running) {
    /* As a running appsrc behind a busy pipeline would: the first frame (in flight there), then
     * the newest ones. */
    waiting.push_back (buffer);
    if (waiting.size () > DEFAULT_QUEUE_SIZE + 1) {
      gst_buffer_unref (waiting[1]);
      waiting.erase (waiting.begin () + 1);
      dropped++;
    }
    return;
  }
  if (arrival.full ())
    dropped++;
  arrival.push (buffer);
}

/* ---------------------------------------------------------------------------------------------- */
/* The appsrc runs while a camera is connected                                                    */

static void
drop_waiting_locked (CrWsJpegSrcPrivate *priv)
{
  for (GstBuffer *b : priv->waiting)
    gst_buffer_unref (b);
  priv->waiting.clear ();
}

static bool
appsrc_wanted_locked (const CrWsJpegSrcPrivate *priv)
{
  return priv->ingesting &&
      (!priv->settings.stop_when_idle || priv->cameras > 0 ||
          (priv->eos_sent && priv->appsrc_running));
}

/* Starts or stops the appsrc to match whether a camera is connected. Never in the server thread
 * (stopping waits for the appsrc's streaming thread); one call at a time (run_lock). */
static void
update_appsrc (CrWsJpegSrc *self)
{
  CrWsJpegSrcPrivate *priv = self->priv;
  if (!priv->managed)
    return;
  std::lock_guard<std::mutex> run (priv->run_lock);
  bool want;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->switch_queued = false;
    want = appsrc_wanted_locked (priv);
    if (want == priv->appsrc_running)
      return;
    if (!want) {
      priv->appsrc_running = false;
      drop_waiting_locked (priv);
    }
  }
  GstElement *appsrc = GST_ELEMENT (priv->arrival.appsrc ());
  if (!want) {
    GST_DEBUG_OBJECT (self, "no camera: stopping the appsrc");
    gst_element_set_state (appsrc, GST_STATE_NULL);
    return;
  }
  GST_DEBUG_OBJECT (self, "a camera: starting the appsrc");
  if (!gst_element_sync_state_with_parent (appsrc)) {
    GST_WARNING_OBJECT (self, "the appsrc did not start");
    gst_element_set_state (appsrc, GST_STATE_NULL);
    return;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->appsrc_running = true;
  for (GstBuffer *b : priv->waiting)
    priv->arrival.push (b);
  priv->waiting.clear ();
}

/* A camera came or went: a pooled thread brings the appsrc in line, unless one is on its way. */
static void
queue_appsrc_update_locked (CrWsJpegSrc *self)
{
  CrWsJpegSrcPrivate *priv = self->priv;
  if (!priv->managed || appsrc_wanted_locked (priv) == priv->appsrc_running || priv->switch_queued)
    return;
  priv->switch_queued = true;
  gst_element_call_async (
      GST_ELEMENT (self), [] (GstElement *e, gpointer) { update_appsrc (CR_WS_JPEG_SRC (e)); },
      nullptr, nullptr);
}

/* An end of stream goes to the appsrc while it runs; otherwise (no camera connected) it goes out
 * on the source pad directly, after the events a stream begins with if none went out yet. */
static gboolean
cr_ws_jpeg_src_send_event (GstElement *element, GstEvent *event)
{
  CrWsJpegSrc *self = CR_WS_JPEG_SRC (element);
  CrWsJpegSrcPrivate *priv = self->priv;
  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS || !priv->managed)
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);

  std::lock_guard<std::mutex> run (priv->run_lock);
  bool running;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    running = priv->appsrc_running;
  }
  if (running) {
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      priv->eos_sent = true;
    }
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  }

  g_autoptr (GstPad) src = gst_element_get_static_pad (element, "src");
  g_autoptr (GstEvent) started = gst_pad_get_sticky_event (src, GST_EVENT_STREAM_START, 0);
  if (!started) {
    g_autofree gchar *id = gst_pad_create_stream_id (src, element, nullptr);
    gst_pad_push_event (src, gst_event_new_stream_start (id));
    g_autoptr (GstCaps) caps = gst_caps_new_empty_simple ("image/jpeg");
    gst_pad_push_event (src, gst_event_new_caps (caps));
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (src, gst_event_new_segment (&segment));
  }
  GST_DEBUG_OBJECT (self, "end of stream while no camera is connected");
  return gst_pad_push_event (src, event);
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
build_stats (CrWsJpegSrc *self)
{
  CrWsJpegSrcPrivate *priv = self->priv;
  cr::IngestStats s;
  guint64 dropped;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->route)
      s = priv->route->stats ();
    dropped = priv->dropped;
  }
  /* Names interned once: applications poll this for thousands of cameras (crstatsquarks.h). */
  enum
  {
    CONNECTIONS,
    MESSAGES,
    BYTES,
    TEXT_MESSAGES,
    REFUSED_MESSAGES,
    PROTOCOL_ERRORS,
    INVALID_UTF8,
    CONNECTIONS_LOST,
    UNAUTHORIZED,
    TAKEOVERS,
    PINGS,
    DROPPED,
    CONNECTED,
    PEER,
    N_FIELDS
  };
  static const cr::StatsQuarks<N_FIELDS> q ("wsjpegsrc-stats",
      { "connections", "messages", "bytes", "text-messages", "refused-messages", "protocol-errors",
          "invalid-utf8", "connections-lost", "unauthorized", "takeovers", "pings", "dropped",
          "connected", "peer" });
  return gst_structure_new_id (q.name, q[CONNECTIONS], G_TYPE_UINT64, s.connections, q[MESSAGES],
      G_TYPE_UINT64, s.messages, q[BYTES], G_TYPE_UINT64, s.bytes, q[TEXT_MESSAGES], G_TYPE_UINT64,
      s.text_messages, q[REFUSED_MESSAGES], G_TYPE_UINT64, s.refused_messages, q[PROTOCOL_ERRORS],
      G_TYPE_UINT64, s.protocol_errors, q[INVALID_UTF8], G_TYPE_UINT64, s.invalid_utf8,
      q[CONNECTIONS_LOST], G_TYPE_UINT64, s.connections_lost, q[UNAUTHORIZED], G_TYPE_UINT64,
      s.unauthorized, q[TAKEOVERS], G_TYPE_UINT64, s.takeovers, q[PINGS], G_TYPE_UINT64, s.pings,
      q[DROPPED], G_TYPE_UINT64, dropped, q[CONNECTED], G_TYPE_BOOLEAN,
      static_cast<gboolean> (s.connected), q[PEER], G_TYPE_STRING, s.peer.c_str (), nullptr);
}

static void
cr_ws_jpeg_src_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CrWsJpegSrc *self = CR_WS_JPEG_SRC (object);
  if (self->priv->listener.set_property (prop_id, value))
    return;

  std::lock_guard<std::mutex> guard (self->priv->lock);
  Settings & s = self->priv->settings;
  switch (prop_id) {
    case PROP_PATHS:
      s.paths = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_MAX_MESSAGE_SIZE:
      s.max_message_size = g_value_get_uint64 (value);
      break;
    case PROP_SECRET:
      s.secret = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_STOP_WHEN_IDLE:
      s.stop_when_idle = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_ws_jpeg_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrWsJpegSrc *self = CR_WS_JPEG_SRC (object);
  CrWsJpegSrcPrivate *priv = self->priv;

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  if (priv->listener.get_property (prop_id, value))
    return;

  std::lock_guard<std::mutex> guard (priv->lock);
  const Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_PATHS:
      g_value_set_string (value, s.paths.c_str ());
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, s.max_message_size);
      break;
    case PROP_SECRET:
      /* Never hand the secret back out: it ends up in logs and dumps. */
      g_value_set_string (value, s.secret.empty () ? "" : "********");
      break;
    case PROP_STOP_WHEN_IDLE:
      g_value_set_boolean (value, s.stop_when_idle);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gboolean
start_ingest (CrWsJpegSrc *self)
{
  CrWsJpegSrcPrivate *priv = self->priv;
  cr::IngestSettings ingest;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    ingest.paths = cr::split_list (priv->settings.paths);
    ingest.max_message_size = priv->settings.max_message_size;
    ingest.secret = priv->settings.secret;
    priv->dropped = 0;
    priv->cameras = 0;
    priv->eos_sent = false;
    priv->ingesting = true;
    /* Not managed: the bin starts the appsrc right after this. */
    priv->appsrc_running = !priv->managed;
  }
  std::shared_ptr<cr::Server> server = priv->listener.server ();
  g_autoptr (GError) error = nullptr;
  auto route = server->add_ingest (ingest, priv, &error);
  if (!route) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Could not accept cameras: %s", error->message),
        (nullptr));
    return FALSE;
  }
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->route = std::move (route);
  }

  std::ostringstream urls;
  for (const auto & path : ingest.paths)
    urls << (server->tls () ? " wss://" : " ws://") << server->address () << ":" << server->port ()
         << path;
  GST_INFO_OBJECT (self, "accepting cameras on%s", urls.str ().c_str ());
  return TRUE;
}

static void
stop_ingest (CrWsJpegSrc *self)
{
  g_autoptr (GstStructure) stats = build_stats (self);
  GST_INFO_OBJECT (self, "stopping: %" GST_PTR_FORMAT, stats);
  /* Destroyed outside the lock: it waits for the server thread, which may be inside
   * camera_frame() wanting that lock. Once it returns, no callback can run any more. */
  std::unique_ptr<cr::IngestRoute> route;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    route = std::move (self->priv->route);
  }
  route.reset ();
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->ingesting = false;
    self->priv->cameras = 0;
    if (!self->priv->managed)
      self->priv->appsrc_running = false;
  }
  update_appsrc (self);
}

static GstStateChangeReturn
cr_ws_jpeg_src_change_state (GstElement *element, GstStateChange transition)
{
  CrWsJpegSrc *self = CR_WS_JPEG_SRC (element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    CrWsJpegSrcPrivate *priv = self->priv;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      priv->managed = priv->settings.stop_when_idle;
    }
    gst_element_set_locked_state (GST_ELEMENT (priv->arrival.appsrc ()), priv->managed);
  }
  GstStateChangeReturn ret = self->priv->listener.change_state (
      element, transition, GST_ELEMENT_CLASS (parent_class), "cameras",
      [self] { return start_ingest (self); }, [self] { stop_ingest (self); });
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  /* The bin leaves its locked appsrc alone: a running one follows between PAUSED and PLAYING. */
  if (self->priv->managed &&
      (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING ||
          transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED)) {
    std::lock_guard<std::mutex> run (self->priv->run_lock);
    bool running;
    {
      std::lock_guard<std::mutex> guard (self->priv->lock);
      running = self->priv->appsrc_running;
    }
    if (running)
      gst_element_set_state (GST_ELEMENT (self->priv->arrival.appsrc ()),
          GST_STATE_TRANSITION_NEXT (transition));
  }
  /* A live source, whether or not its appsrc runs now. */
  if (ret == GST_STATE_CHANGE_SUCCESS &&
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED ||
          transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED))
    ret = GST_STATE_CHANGE_NO_PREROLL;
  return ret;
}
