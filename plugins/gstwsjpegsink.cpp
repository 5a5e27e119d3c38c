/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-wsjpegsink
 * @title: wsjpegsink
 *
 * Sends every JPEG buffer as one binary WebSocket message to a server, the way an ESP32-CAM
 * camera does, so that any GStreamer source becomes a camera of a camrelay (or of any server
 * that takes frames over WebSocket), and a camrelay can pass a camera on to another.
 *
 * The link never backs up the pipeline and never queues without bound: at most one frame waits
 * for the network, a newer frame replaces it (counted as dropped-busy), and frames that arrive
 * while there is no connection are dropped (dropped-disconnected). A refused or lost connection
 * is retried after 1 s, doubling up to 30 s; each change of state is logged once, with its cause.
 *
 * Element messages: "wsjpegsink-connected" (location) and "wsjpegsink-disconnected" (reason).
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! image/jpeg ! wsjpegsink location=ws://relay:3001/ws/desk
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=10/1 ! \
 *     jpegenc ! wsjpegsink location=wss://relay:3001/ws/front secret=s3cret
 * ]|
 */
#include "gstwsjpegsink.h"

#include "camrelay-config.h"
#include "crbufferbytes.h"
#include "crwspush.h"
#include "gstcamrelayelements.h"

#include <memory>
#include <mutex>

#define DEFAULT_LOCATION   "ws://127.0.0.1:3001/ws"
#define DEFAULT_SECRET     ""
#define DEFAULT_SSL_STRICT TRUE

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_SECRET,
  PROP_SSL_STRICT,
  PROP_STATS,
};

GST_DEBUG_CATEGORY_STATIC (cr_ws_jpeg_sink_debug);
#define GST_CAT_DEFAULT cr_ws_jpeg_sink_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

struct Settings
{
  std::string location = DEFAULT_LOCATION;
  std::string secret = DEFAULT_SECRET;
  bool ssl_strict = DEFAULT_SSL_STRICT;
};

}  // namespace

struct CrWsJpegSinkPrivate : public cr::WsPushEvents
{
  explicit CrWsJpegSinkPrivate (CrWsJpegSink *sink) : self (sink) {}

  void push_connected (const std::string & location) override;
  void push_disconnected (const std::string & why) override;

  CrWsJpegSink *self;
  std::mutex lock; /* guards settings and client */
  Settings settings;
  std::unique_ptr<cr::WsPushClient> client;
};

struct _CrWsJpegSink
{
  GstBaseSink parent;
  CrWsJpegSinkPrivate *priv;
};

#define cr_ws_jpeg_sink_parent_class parent_class
G_DEFINE_TYPE (CrWsJpegSink, cr_ws_jpeg_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (wsjpegsink, "wsjpegsink", GST_RANK_NONE, CR_TYPE_WS_JPEG_SINK);

static void cr_ws_jpeg_sink_finalize (GObject *object);
static void cr_ws_jpeg_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_ws_jpeg_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static gboolean cr_ws_jpeg_sink_start (GstBaseSink *sink);
static gboolean cr_ws_jpeg_sink_stop (GstBaseSink *sink);
static GstFlowReturn cr_ws_jpeg_sink_render (GstBaseSink *sink, GstBuffer *buffer);

static void
cr_ws_jpeg_sink_class_init (CrWsJpegSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->finalize = cr_ws_jpeg_sink_finalize;
  gobject_class->set_property = cr_ws_jpeg_sink_set_property;
  gobject_class->get_property = cr_ws_jpeg_sink_get_property;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "WebSocket URL of the server, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH "
          "(a camrelay camera NAME: ws://HOST:3001/ws/NAME)",
          DEFAULT_LOCATION, ready));
  g_object_class_install_property (gobject_class, PROP_SECRET,
      g_param_spec_string ("secret", "Secret",
          "Camera token sent as Authorization: Bearer (a camrelay camera's secret); "
          "empty = none. Reads back as ******** once set",
          DEFAULT_SECRET, ready));
  g_object_class_install_property (gobject_class, PROP_SSL_STRICT,
      g_param_spec_boolean ("ssl-strict", "SSL Strict",
          "Refuse a wss:// server whose certificate does not verify (false: accept any, e.g. "
          "a self-signed relay on a private network)",
          DEFAULT_SSL_STRICT, ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "frames-sent, bytes-sent, dropped-disconnected (no connection), dropped-busy "
          "(replaced by a newer frame while the link was busy), connects, connect-failures, "
          "connected, error (why the last attempt or connection failed)",
          GST_TYPE_STRUCTURE, readonly));

  basesink_class->start = GST_DEBUG_FUNCPTR (cr_ws_jpeg_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (cr_ws_jpeg_sink_stop);
  basesink_class->render = GST_DEBUG_FUNCPTR (cr_ws_jpeg_sink_render);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "WebSocket JPEG sink", "Sink/Network/Video",
      "Sends JPEG frames to a WebSocket server, one binary message per frame, as a camera does",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_ws_jpeg_sink_debug, "wsjpegsink", 0, "camrelay WebSocket JPEG sink");
}

static void
cr_ws_jpeg_sink_init (CrWsJpegSink *self)
{
  self->priv = new CrWsJpegSinkPrivate (self);
}

static void
cr_ws_jpeg_sink_finalize (GObject *object)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (object);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */
/* Client thread callbacks: once per change of state                                              */

void
CrWsJpegSinkPrivate::push_connected (const std::string & location)
{
  GST_INFO_OBJECT (self, "connected to %s", location.c_str ());
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("wsjpegsink-connected", "location", G_TYPE_STRING, location.c_str (),
              nullptr)));
}

void
CrWsJpegSinkPrivate::push_disconnected (const std::string & why)
{
  GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Not connected to the server: %s", why.c_str ()),
      ("frames are dropped until a reconnect succeeds (retried with backoff)"));
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("wsjpegsink-disconnected", "reason", G_TYPE_STRING, why.c_str (),
              nullptr)));
}

/* ---------------------------------------------------------------------------------------------- */

static gboolean
cr_ws_jpeg_sink_start (GstBaseSink *sink)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (sink);
  CrWsJpegSinkPrivate *priv = self->priv;
  cr::WsPushSettings ws;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    ws.location = priv->settings.location;
    ws.secret = priv->settings.secret;
    ws.tls_strict = priv->settings.ssl_strict;
  }
  ws.user_agent = std::string ("camrelay-wsjpegsink/") + CAMRELAY_VERSION;

  GError *error = nullptr;
  auto client = cr::WsPushClient::create (ws, priv, &error);
  if (!client) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid location: %s", error->message),
        (nullptr));
    g_error_free (error);
    return FALSE;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->client = std::move (client);
  return TRUE;
}

static gboolean
cr_ws_jpeg_sink_stop (GstBaseSink *sink)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (sink);
  std::unique_ptr<cr::WsPushClient> client;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    client = std::move (self->priv->client);
  }
  /* Destroyed outside the lock: it waits for the close handshake, and its thread may be posting
   * a message that reads nothing under the lock but should not wait for it either. */
  client.reset ();
  return TRUE;
}

static GstFlowReturn
cr_ws_jpeg_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (sink);
  /* The frame's own bytes, kept mapped until the client is done with them: no copy here. */
  GBytes *frame = cr::bytes_from_buffer (buffer);
  if (!frame) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read a buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    if (self->priv->client)
      self->priv->client->offer (frame);
  }
  g_bytes_unref (frame);
  return GST_FLOW_OK;
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
build_stats (CrWsJpegSink *self)
{
  cr::WsPushStats s;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    if (self->priv->client)
      s = self->priv->client->stats ();
  }
  return gst_structure_new ("wsjpegsink-stats", "frames-sent", G_TYPE_UINT64, s.frames_sent,
      "bytes-sent", G_TYPE_UINT64, s.bytes_sent, "dropped-disconnected", G_TYPE_UINT64,
      s.dropped_disconnected, "dropped-busy", G_TYPE_UINT64, s.dropped_busy, "connects",
      G_TYPE_UINT64, s.connects, "connect-failures", G_TYPE_UINT64, s.connect_failures, "connected",
      G_TYPE_BOOLEAN, static_cast<gboolean> (s.connected), "error", G_TYPE_STRING, s.error.c_str (),
      nullptr);
}

static void
cr_ws_jpeg_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (object);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  Settings & s = self->priv->settings;
  const char *text;
  switch (prop_id) {
    case PROP_LOCATION:
      text = g_value_get_string (value);
      s.location = text ? text : "";
      break;
    case PROP_SECRET:
      text = g_value_get_string (value);
      s.secret = text ? text : "";
      break;
    case PROP_SSL_STRICT:
      s.ssl_strict = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_ws_jpeg_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrWsJpegSink *self = CR_WS_JPEG_SINK (object);
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  std::lock_guard<std::mutex> guard (self->priv->lock);
  const Settings & s = self->priv->settings;
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, s.location.c_str ());
      break;
    case PROP_SECRET:
      /* Never hand the secret back out: it ends up in logs and dumps. */
      g_value_set_string (value, s.secret.empty () ? "" : "********");
      break;
    case PROP_SSL_STRICT:
      g_value_set_boolean (value, s.ssl_strict);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}
