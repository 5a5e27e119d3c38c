/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-h264relaysink
 * @title: h264relaysink
 *
 * A camera's JPEG frames as H.264, encoded once however many watch, and only while somebody
 * does. Put it after jpegfallback (on a tee beside the MJPEG branch), so that H.264 viewers of
 * an offline camera see the placeholder too.
 *
 * Consumers (an RTSP server, WebRTC peers, tests) subscribe through the action signals wrapped by
 * crh264feed.h and each receive the same refcounted access units (Annex B, SPS/PPS before every
 * key frame, constrained baseline, 4:2:0). While the element has no consumer, a frame costs a
 * reference and nothing else: nothing is decoded or encoded. The first consumer starts the
 * encoder (a private pipeline: appsrc ! jpegdec ! videoconvert ! x264enc tune=zerolatency
 * speed-preset=superfast option-string=partitions=none ! h264parse config-interval=-1 ! appsink,
 * see crh264encoder.h) and gets the newest frame as a key frame at once; a later consumer gets a
 * key frame with the next frame (force-key-unit), never a delta frame first.
 * #CrH264RelaySink:linger after the last consumer leaves, the encoder is torn down.
 *
 * The encoder runs in its own thread and the element only hands each frame over, so the camera's
 * other branches never wait for it; frames faster than #CrH264RelaySink:max-fps are dropped
 * before they are decoded, and an encoder that falls behind drops the oldest waiting JPEG.
 *
 * The element tells upstream how many consumers it has in the custom upstream event
 * "camrelay-viewers" (fields "viewers", "sender"), so jpegfallback keeps repeating the
 * placeholder for H.264 viewers when nobody watches the MJPEG stream. It posts an element message
 * "h264relaysink-state" (consumers, encoder-running) when either changes, and a warning if the
 * encoder fails (it is started again a second later while consumers remain).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 wsjpegsrc ! jpegvalidate ! jpegfallback placeholder=placeholder.jpg ! \
 *     tee name=t ! queue ! multipartmux ! mjpeghttpsink t. ! h264relaysink
 * ]|
 */
#include "gsth264relaysink.h"

#include "crh264encoder.h"
#include "crh264feed.h"
#include "crrtspserver.h"
#include "gstcamrelayelements.h"
#include "crstatsquarks.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#define DEFAULT_BITRATE      0
#define DEFAULT_KEY_INT_MAX  30
#define DEFAULT_MAX_FPS      30
#define DEFAULT_LINGER       (10 * GST_SECOND)
#define DEFAULT_RTSP_PORT    0
#define DEFAULT_RTSP_ADDRESS "0.0.0.0"
#define DEFAULT_RTSP_PATH    "/camera"

/* After an encoder failure, how long before it is started again. */
static const gint64 RESTART_US = G_USEC_PER_SEC;

enum
{
  PROP_0,
  PROP_BITRATE,
  PROP_KEY_INT_MAX,
  PROP_MAX_FPS,
  PROP_LINGER,
  PROP_RTSP_PORT,
  PROP_RTSP_ADDRESS,
  PROP_RTSP_PATH,
  PROP_VIEWER_USER,
  PROP_VIEWER_PASSWORD,
  PROP_STATS,
};

enum
{
  SIGNAL_SUBSCRIBE,
  SIGNAL_UNSUBSCRIBE,
  SIGNAL_REQUEST_KEYFRAME,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

GST_DEBUG_CATEGORY (cr_h264_relay_sink_debug);
#define GST_CAT_DEFAULT cr_h264_relay_sink_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

struct Settings
{
  guint bitrate = DEFAULT_BITRATE;
  guint key_int_max = DEFAULT_KEY_INT_MAX;
  guint max_fps = DEFAULT_MAX_FPS;
  GstClockTime linger = DEFAULT_LINGER;
  guint rtsp_port = DEFAULT_RTSP_PORT;
  std::string rtsp_address = DEFAULT_RTSP_ADDRESS;
  std::string rtsp_path = DEFAULT_RTSP_PATH;
  std::string viewer_user;
  std::string viewer_password;
};

/* One subscriber. Shared with a delivery in flight, so that unsubscribing never frees what a
 * callback still uses: @destroy runs when the last holder lets go. */
struct Consumer
{
  guint id = 0;
  std::string kind;
  CrH264FeedFunc func = nullptr;
  gpointer user_data = nullptr;
  GDestroyNotify destroy = nullptr;
  bool waiting_key = true; /* under the element's lock: nothing but a key frame goes out first */

  ~Consumer ()
  {
    if (destroy)
      destroy (user_data);
  }
};

/* Per kind of consumer: how many, and the bytes they were given. */
struct KindCount
{
  guint consumers = 0;
  guint64 bytes = 0;
  /* "consumers-KIND" and "bytes-out-KIND" of "stats", interned on its first read. */
  GQuark consumers_field = 0, bytes_field = 0;
};

}  // namespace

/* Lock order: lifecycle, then lock. Encoder callbacks take only lock. */
struct CrH264RelaySinkPrivate
{
  std::mutex lifecycle; /* serialises starting and stopping the encoder */
  std::mutex lock;      /* guards everything below */
  Settings settings;

  std::map<guint, std::shared_ptr<Consumer>> consumers;
  guint next_id = 1;
  std::map<std::string, KindCount> kinds;

  bool started = false; /* between READY→PAUSED and PAUSED→READY */
  std::shared_ptr<cr::h264::Encoder> encoder;
  guint64 encoder_generation = 0; /* which encoder a late failure or linger belongs to */
  bool restart_pending = false;
  gint64 failed_at_us = 0;

  GstClockID linger_id = nullptr;
  guint64 linger_generation = 0;

  GstBuffer *latest = nullptr; /* the newest frame, for a consumer that starts the encoder */
  GstCaps *caps = nullptr;
  gint64 next_due_us = 0; /* max-fps: when the next frame may go to the encoder */
  gint64 last_arrival_us = 0;
  gint64 interval_us = 0; /* between frames, averaged (EWMA, 1/8); 0 = unknown */

  /* What the encoders before the current one did (the current one counts itself). */
  guint64 frames_in = 0;
  guint64 frames_skipped = 0; /* over max-fps */
  guint64 frames_decoded = 0, frames_encoded = 0, bytes_encoded = 0;
  guint64 bytes_out = 0;
  guint64 encoder_starts = 0;
  guint64 encoder_failures = 0;
  guint told_viewers = G_MAXUINT; /* what upstream was told last */

  /* Between NULL→READY and READY→NULL, with rtsp-port set: the shared server and our mount. */
  std::shared_ptr<cr::rtsp::Server> rtsp;
  std::string rtsp_mounted;
};

struct _CrH264RelaySink
{
  GstBaseSink parent;
  CrH264RelaySinkPrivate *priv;
};

#define cr_h264_relay_sink_parent_class parent_class
G_DEFINE_TYPE (CrH264RelaySink, cr_h264_relay_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (h264relaysink, "h264relaysink", GST_RANK_NONE,
    CR_TYPE_H264_RELAY_SINK);

static void cr_h264_relay_sink_finalize (GObject *object);
static void cr_h264_relay_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_h264_relay_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_h264_relay_sink_change_state (GstElement *element,
    GstStateChange transition);
static gboolean cr_h264_relay_sink_set_caps (GstBaseSink *sink, GstCaps *caps);
static GstFlowReturn cr_h264_relay_sink_render (GstBaseSink *sink, GstBuffer *buffer);
static guint cr_h264_relay_sink_subscribe (CrH264RelaySink *self, const gchar *kind, gpointer func,
    gpointer user_data, gpointer destroy);
static void cr_h264_relay_sink_unsubscribe (CrH264RelaySink *self, guint id);
static void cr_h264_relay_sink_request_keyframe (CrH264RelaySink *self);

static void
cr_h264_relay_sink_class_init (CrH264RelaySinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  auto playing = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->finalize = cr_h264_relay_sink_finalize;
  gobject_class->set_property = cr_h264_relay_sink_set_property;
  gobject_class->get_property = cr_h264_relay_sink_get_property;

  g_object_class_install_property (gobject_class, PROP_BITRATE,
      g_param_spec_uint ("bitrate", "Bitrate",
          "H.264 bitrate in kbit/s; 0 = from the picture size (451 for 640x480, 1355 for "
          "1280x720); applies from the next encoder start",
          0, 100000, DEFAULT_BITRATE, playing));
  g_object_class_install_property (gobject_class, PROP_KEY_INT_MAX,
      g_param_spec_uint ("key-int-max", "Key Interval Max",
          "Frames between key frames at most (new consumers get one at once anyway); applies "
          "from the next encoder start",
          1, 1000, DEFAULT_KEY_INT_MAX, playing));
  g_object_class_install_property (gobject_class, PROP_MAX_FPS,
      g_param_spec_uint ("max-fps", "Max FPS",
          "Frames per second encoded at most; faster frames are dropped before they are "
          "decoded; 0 = no limit",
          0, 1000, DEFAULT_MAX_FPS, playing));
  g_object_class_install_property (gobject_class, PROP_LINGER,
      g_param_spec_uint64 ("linger", "Linger",
          "Nanoseconds the encoder keeps running after its last consumer leaves (a viewer "
          "that comes back meanwhile gets a picture at once); 0 = stop at once",
          0, G_MAXINT64, DEFAULT_LINGER, playing));
  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property (gobject_class, PROP_RTSP_PORT,
      g_param_spec_uint ("rtsp-port", "RTSP Port",
          "Serve the H.264 as rtsp://HOST:PORT/PATH on this TCP port, shared with every "
          "h264relaysink of the process on the same address and port; 0 = no RTSP",
          0, 65535, DEFAULT_RTSP_PORT, ready));
  g_object_class_install_property (gobject_class, PROP_RTSP_ADDRESS,
      g_param_spec_string ("rtsp-address", "RTSP Address",
          "Address the RTSP server listens on (0.0.0.0 = every IPv4 address, :: = every address)",
          DEFAULT_RTSP_ADDRESS, ready));
  g_object_class_install_property (gobject_class, PROP_RTSP_PATH,
      g_param_spec_string ("rtsp-path", "RTSP Path",
          "Path of this camera on the RTSP server: rtsp://HOST:PORT/PATH", DEFAULT_RTSP_PATH,
          ready));
  g_object_class_install_property (gobject_class, PROP_VIEWER_USER,
      g_param_spec_string ("viewer-user", "Viewer User",
          "User name RTSP viewers must give (RTSP Basic); \"\" = none asked. Every "
          "h264relaysink on one RTSP port must give the same",
          "", ready));
  g_object_class_install_property (gobject_class, PROP_VIEWER_PASSWORD,
      g_param_spec_string ("viewer-password", "Viewer Password",
          "Password of viewer-user (write-only)", "",
          static_cast<GParamFlags> (
              G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "An \"h264relaysink-stats\" structure: consumers, consumers-KIND and bytes-out-KIND "
          "per kind of consumer (rtsp, webrtc, ...), encoder-running, encoder-starts, "
          "encoder-failures, frames-in (JPEGs received), frames-skipped (over max-fps), "
          "frames-decoded, frames-encoded, bytes-encoded, bytes-out (to all consumers), "
          "encode-time and encode-time-last (ns per frame: decode, convert and encode; 0 = none "
          "yet), bitrate (kbit/s of the running encoder, 0 = none), rtsp-viewers (RTSP "
          "viewers playing now; they share one rtsp consumer)",
          GST_TYPE_STRUCTURE, readonly));

  /**
   * h264relaysink::subscribe:
   * @kind: a label for stats ("rtsp", "webrtc", ...)
   * @func: a #CrH264FeedFunc called for every access unit
   * @user_data: for @func
   * @destroy: (nullable): a #GDestroyNotify for @user_data
   *
   * Adds a consumer (see crh264feed.h). Returns: its id, never 0.
   */
  auto action = static_cast<GSignalFlags> (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION);
  signals[SIGNAL_SUBSCRIBE] = g_signal_new_class_handler ("subscribe", G_TYPE_FROM_CLASS (klass),
      action, G_CALLBACK (cr_h264_relay_sink_subscribe), nullptr, nullptr, nullptr, G_TYPE_UINT, 4,
      G_TYPE_STRING, G_TYPE_POINTER, G_TYPE_POINTER, G_TYPE_POINTER);
  signals[SIGNAL_UNSUBSCRIBE] = g_signal_new_class_handler ("unsubscribe",
      G_TYPE_FROM_CLASS (klass), action, G_CALLBACK (cr_h264_relay_sink_unsubscribe), nullptr,
      nullptr, nullptr, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_REQUEST_KEYFRAME] = g_signal_new_class_handler ("request-keyframe",
      G_TYPE_FROM_CLASS (klass), action, G_CALLBACK (cr_h264_relay_sink_request_keyframe), nullptr,
      nullptr, nullptr, G_TYPE_NONE, 0);

  element_class->change_state = GST_DEBUG_FUNCPTR (cr_h264_relay_sink_change_state);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (cr_h264_relay_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (cr_h264_relay_sink_render);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "H.264 relay sink", "Sink/Video",
      "Encodes JPEG frames to H.264 once for all its consumers (RTSP, WebRTC), only while it "
      "has any",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_h264_relay_sink_debug, "h264relaysink", 0,
      "camrelay shared on-demand H.264 encoder");
}

static void
cr_h264_relay_sink_init (CrH264RelaySink *self)
{
  self->priv = new CrH264RelaySinkPrivate ();
  /* Frames are handed over as they come: no clock waits, no preroll to hold a live pipeline. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (self), FALSE);
  /* The newest frame is kept for new consumers anyway; basesink need not keep another. */
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
cr_h264_relay_sink_finalize (GObject *object)
{
  CrH264RelaySinkPrivate *priv = CR_H264_RELAY_SINK (object)->priv;
  gst_clear_buffer (&priv->latest);
  gst_clear_caps (&priv->caps);
  delete priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */

static GstMessage *
state_message (CrH264RelaySink *self, guint consumers, bool running)
{
  GstStructure *s = gst_structure_new ("h264relaysink-state", "consumers", G_TYPE_UINT, consumers,
      "encoder-running", G_TYPE_BOOLEAN, running, nullptr);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* Under the lock. */
static GstMessage *
state_message_locked (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  return state_message (self, static_cast<guint> (priv->consumers.size ()),
      priv->encoder != nullptr);
}

static void
post (CrH264RelaySink *self, GstMessage *msg)
{
  if (msg)
    gst_element_post_message (GST_ELEMENT (self), msg);
}

/* Adds what an encoder did to the element's totals. Under the lock. */
static void
fold_encoder_stats (CrH264RelaySinkPrivate *priv, const cr::h264::Encoder & encoder)
{
  const cr::h264::EncoderStats & st = encoder.stats ();
  priv->frames_decoded += st.frames_decoded;
  priv->frames_encoded += st.frames_encoded;
  priv->bytes_encoded += st.bytes_encoded;
}

/* Tells upstream (jpegfallback) whether anybody watches, when that changes. Outside the lock. */
static void
tell_viewers (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  guint now;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    now = static_cast<guint> (priv->consumers.size ());
    if (!priv->started || priv->told_viewers == now)
      return;
    priv->told_viewers = now;
  }
  g_autofree gchar *sender = g_strdup_printf ("%p", static_cast<void *> (self));
  GstStructure *s = gst_structure_new ("camrelay-viewers", "viewers", G_TYPE_UINT, now, "sender",
      G_TYPE_STRING, sender, nullptr);
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
      gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
}

/* ---- delivery (the encoder's streaming thread) ----------------------------------------------- */

static void
deliver (CrH264RelaySink *self, guint64 generation, GstBuffer *au, GstCaps *caps)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  const bool key = !GST_BUFFER_FLAG_IS_SET (au, GST_BUFFER_FLAG_DELTA_UNIT);
  const gsize size = gst_buffer_get_size (au);
  std::vector<std::shared_ptr<Consumer>> due;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (generation != priv->encoder_generation)
      return;
    due.reserve (priv->consumers.size ());
    for (auto & [id, consumer] : priv->consumers) {
      if (consumer->waiting_key && !key)
        continue;
      consumer->waiting_key = false;
      due.push_back (consumer);
      priv->kinds[consumer->kind].bytes += size;
      priv->bytes_out += size;
    }
  }
  for (const auto & consumer : due)
    consumer->func (au, caps, consumer->user_data);
}

/* ---- encoder lifecycle ----------------------------------------------------------------------- */

static void restart_encoder (GstElement *element, gpointer user_data);

/* The camera's rate as measured, for the encoder's rate control: 10 until known. Under the lock. */
static guint
nominal_fps_locked (CrH264RelaySinkPrivate *priv)
{
  guint fps = 10;
  if (priv->interval_us > 0)
    fps = static_cast<guint> ((G_USEC_PER_SEC + priv->interval_us / 2) / priv->interval_us);
  guint cap = priv->settings.max_fps ? priv->settings.max_fps : 60;
  return CLAMP (fps, 1u, cap);
}

/* Starts the encoder if consumers want it and it is not running. Under lifecycle, not lock. */
static GstMessage *
ensure_encoder (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  cr::h264::EncoderSettings settings;
  guint64 generation;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (!priv->started || priv->encoder || priv->consumers.empty ())
      return nullptr;
    settings.bitrate_kbps = priv->settings.bitrate;
    settings.key_int_max = priv->settings.key_int_max;
    settings.nominal_fps = nominal_fps_locked (priv);
    generation = ++priv->encoder_generation;
  }
  auto output = [self, generation] (GstBuffer *au, GstCaps *caps) {
    deliver (self, generation, au, caps);
  };
  auto failure = [self, generation] (const std::string & why) {
    CrH264RelaySinkPrivate *priv = self->priv;
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      if (generation != priv->encoder_generation || priv->restart_pending)
        return;
      priv->restart_pending = true;
      priv->failed_at_us = g_get_monotonic_time ();
      priv->encoder_failures++;
    }
    GST_ELEMENT_WARNING (self, STREAM, ENCODE, ("H.264 encoder failed; restarting it"),
        ("%s", why.c_str ()));
    /* Not in the encoder's own thread: it is joined when the encoder is destroyed. */
    gst_element_call_async (GST_ELEMENT (self), restart_encoder, nullptr, nullptr);
  };
  std::string error;
  std::shared_ptr<cr::h264::Encoder> encoder =
      cr::h264::Encoder::start (settings, output, failure, error);
  if (!encoder) {
    GST_ELEMENT_WARNING (self, CORE, MISSING_PLUGIN, ("No H.264 encoder"), ("%s", error.c_str ()));
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->encoder_failures++;
    priv->failed_at_us = g_get_monotonic_time ();
    return nullptr;
  }
  GstBuffer *latest = nullptr;
  GstCaps *caps = nullptr;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->encoder = encoder;
    priv->encoder_starts++;
    if (priv->latest)
      latest = gst_buffer_ref (priv->latest);
    if (priv->caps)
      caps = gst_caps_ref (priv->caps);
  }
  GST_INFO_OBJECT (self, "encoder started");
  /* The newest frame at once: the first consumer need not wait for the camera's next one (which
   * may be a second away for a placeholder, or never come for a paused one). */
  if (latest) {
    encoder->push (latest, caps);
    gst_buffer_unref (latest);
  }
  gst_clear_caps (&caps);
  std::lock_guard<std::mutex> guard (priv->lock);
  return state_message_locked (self);
}

/* Takes the encoder out (under both locks); its destruction (joining its thread) is the
 * caller's, outside the lock. */
static std::shared_ptr<cr::h264::Encoder>
take_encoder_locked (CrH264RelaySinkPrivate *priv)
{
  std::shared_ptr<cr::h264::Encoder> encoder;
  encoder.swap (priv->encoder);
  if (encoder)
    fold_encoder_stats (priv, *encoder);
  priv->encoder_generation++;
  return encoder;
}

static void
cancel_linger_locked (CrH264RelaySinkPrivate *priv)
{
  if (!priv->linger_id)
    return;
  gst_clock_id_unschedule (priv->linger_id);
  gst_clock_id_unref (priv->linger_id);
  priv->linger_id = nullptr;
  priv->linger_generation++;
}

/* The linger ran out (a thread of GStreamer's pool): stop the encoder if still nobody wants it. */
static void
linger_expired (GstElement *element, gpointer user_data)
{
  auto *self = CR_H264_RELAY_SINK (element);
  CrH264RelaySinkPrivate *priv = self->priv;
  const guint64 generation = GPOINTER_TO_SIZE (user_data);
  std::shared_ptr<cr::h264::Encoder> encoder;
  GstMessage *msg = nullptr;
  {
    std::lock_guard<std::mutex> life (priv->lifecycle);
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      if (generation != priv->linger_generation || !priv->consumers.empty ())
        return;
      if (priv->linger_id) {
        gst_clock_id_unref (priv->linger_id);
        priv->linger_id = nullptr;
      }
      encoder = take_encoder_locked (priv);
      if (encoder)
        msg = state_message (self, 0, false);
    }
    encoder.reset ();
  }
  GST_INFO_OBJECT (self, "no consumer for the linger time: encoder stopped");
  post (self, msg);
}

struct LingerWait
{
  CrH264RelaySink *self;
  guint64 generation;
};

static gboolean
linger_fired (GstClock *, GstClockTime time, GstClockID, gpointer user_data)
{
  auto *wait = static_cast<LingerWait *> (user_data);
  if (GST_CLOCK_TIME_IS_VALID (time))
    gst_element_call_async (GST_ELEMENT (wait->self), linger_expired,
        GSIZE_TO_POINTER (wait->generation), nullptr);
  return TRUE;
}

static void
free_linger_wait (gpointer data)
{
  auto *wait = static_cast<LingerWait *> (data);
  gst_object_unref (wait->self);
  delete wait;
}

/* The last consumer left: the encoder stops after the linger. Under the lock. */
static void
schedule_linger_locked (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  cancel_linger_locked (priv);
  if (!priv->encoder)
    return;
  const guint64 generation = priv->linger_generation;
  if (priv->settings.linger == 0) {
    gst_element_call_async (GST_ELEMENT (self), linger_expired, GSIZE_TO_POINTER (generation),
        nullptr);
    return;
  }
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock)
    clock = gst_system_clock_obtain ();
  priv->linger_id =
      gst_clock_new_single_shot_id (clock, gst_clock_get_time (clock) + priv->settings.linger);
  auto *wait = new LingerWait{ static_cast<CrH264RelaySink *> (gst_object_ref (self)), generation };
  gst_clock_id_wait_async (priv->linger_id, linger_fired, wait, free_linger_wait);
}

/* After a failure (a thread of GStreamer's pool): the failed encoder goes, a new one comes a
 * second later if consumers remain (restarted from render, which sees the next frame). */
static void
restart_encoder (GstElement *element, gpointer)
{
  auto *self = CR_H264_RELAY_SINK (element);
  CrH264RelaySinkPrivate *priv = self->priv;
  std::shared_ptr<cr::h264::Encoder> encoder;
  GstMessage *msg = nullptr;
  {
    std::lock_guard<std::mutex> life (priv->lifecycle);
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      encoder = take_encoder_locked (priv);
      priv->restart_pending = false;
      msg = state_message_locked (self);
    }
    encoder.reset ();
  }
  post (self, msg);
}

static void
start_later (GstElement *element, gpointer)
{
  auto *self = CR_H264_RELAY_SINK (element);
  GstMessage *msg;
  {
    std::lock_guard<std::mutex> life (self->priv->lifecycle);
    msg = ensure_encoder (self);
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->restart_pending = false;
  }
  post (self, msg);
}

/* ---- consumers (any thread) ------------------------------------------------------------------ */

static guint
cr_h264_relay_sink_subscribe (CrH264RelaySink *self, const gchar *kind, gpointer func,
    gpointer user_data, gpointer destroy)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  if (!func) {
    g_critical ("h264relaysink subscribe: no callback");
    return 0;
  }
  auto consumer = std::make_shared<Consumer> ();
  consumer->kind = kind && *kind ? kind : "other";
  consumer->func = reinterpret_cast<CrH264FeedFunc> (func);
  consumer->user_data = user_data;
  consumer->destroy = reinterpret_cast<GDestroyNotify> (destroy);

  std::shared_ptr<cr::h264::Encoder> running;
  GstBuffer *latest = nullptr;
  GstCaps *caps = nullptr;
  GstMessage *msg = nullptr;
  guint id;
  {
    std::lock_guard<std::mutex> life (priv->lifecycle);
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      id = priv->next_id++;
      if (priv->next_id == 0)
        priv->next_id = 1;
      consumer->id = id;
      priv->consumers[id] = consumer;
      priv->kinds[consumer->kind].consumers++;
      cancel_linger_locked (priv);
      running = priv->encoder;
      if (running) {
        msg = state_message_locked (self);
        if (priv->latest)
          latest = gst_buffer_ref (priv->latest);
        if (priv->caps)
          caps = gst_caps_ref (priv->caps);
      }
    }
    if (!running)
      msg = ensure_encoder (self);
  }
  GST_DEBUG_OBJECT (self, "consumer %u (%s) subscribed", id, consumer->kind.c_str ());
  if (running) {
    /* A key frame for the newcomer, from the newest frame: at once, not at the next frame. */
    running->request_keyframe ();
    if (latest)
      running->push (latest, caps);
  }
  gst_clear_buffer (&latest);
  gst_clear_caps (&caps);
  post (self, msg);
  tell_viewers (self);
  return id;
}

static void
cr_h264_relay_sink_unsubscribe (CrH264RelaySink *self, guint id)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  std::shared_ptr<Consumer> gone;
  GstMessage *msg = nullptr;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    auto it = priv->consumers.find (id);
    if (it == priv->consumers.end ())
      return;
    gone = std::move (it->second);
    priv->consumers.erase (it);
    priv->kinds[gone->kind].consumers--;
    if (priv->consumers.empty ())
      schedule_linger_locked (self);
    msg = state_message_locked (self);
  }
  GST_DEBUG_OBJECT (self, "consumer %u (%s) left", id, gone->kind.c_str ());
  gone.reset (); /* its destroy runs here, or when a delivery in flight ends */
  post (self, msg);
  tell_viewers (self);
}

static void
cr_h264_relay_sink_request_keyframe (CrH264RelaySink *self)
{
  std::shared_ptr<cr::h264::Encoder> encoder;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    encoder = self->priv->encoder;
  }
  if (encoder)
    encoder->request_keyframe ();
}

/* ---- streaming ------------------------------------------------------------------------------- */

static gboolean
cr_h264_relay_sink_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  CrH264RelaySinkPrivate *priv = CR_H264_RELAY_SINK (sink)->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  gst_caps_replace (&priv->caps, caps);
  return TRUE;
}

/* max-fps: whether a frame arriving at @now_us may go to the encoder. Under the lock. */
static bool
take_rate_slot_locked (CrH264RelaySinkPrivate *priv, gint64 now_us)
{
  if (priv->settings.max_fps == 0)
    return true;
  const gint64 interval = G_USEC_PER_SEC / priv->settings.max_fps;
  /* A quarter interval early still counts as on time: a camera at exactly max-fps jitters. */
  if (now_us + interval / 4 < priv->next_due_us)
    return false;
  priv->next_due_us = MAX (priv->next_due_us, now_us - interval) + interval;
  return true;
}

static GstFlowReturn
cr_h264_relay_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  auto *self = CR_H264_RELAY_SINK (sink);
  CrH264RelaySinkPrivate *priv = self->priv;
  std::shared_ptr<cr::h264::Encoder> encoder;
  GstCaps *caps = nullptr;
  bool start = false;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    gst_buffer_replace (&priv->latest, buffer);
    priv->frames_in++;
    const gint64 now_us = g_get_monotonic_time ();
    if (priv->last_arrival_us) {
      gint64 gap = MIN (now_us - priv->last_arrival_us, 10 * G_USEC_PER_SEC);
      priv->interval_us =
          priv->interval_us ? priv->interval_us - priv->interval_us / 8 + gap / 8 : gap;
    }
    priv->last_arrival_us = now_us;
    if (priv->consumers.empty ())
      return GST_FLOW_OK; /* nobody watches: nothing is decoded */
    if (!priv->encoder) {
      /* Consumers but no encoder: it failed; start again once the pause is over. */
      if (!priv->restart_pending && now_us - priv->failed_at_us >= RESTART_US) {
        priv->restart_pending = true;
        start = true;
      }
    } else if (take_rate_slot_locked (priv, now_us)) {
      encoder = priv->encoder;
      if (priv->caps)
        caps = gst_caps_ref (priv->caps);
    } else {
      priv->frames_skipped++;
    }
  }
  if (start)
    gst_element_call_async (GST_ELEMENT (self), start_later, nullptr, nullptr);
  if (encoder)
    encoder->push (buffer, caps);
  gst_clear_caps (&caps);
  return GST_FLOW_OK;
}

/* rtsp-port set: the shared RTSP server for it serves this element's feed at rtsp-path. */
static void
start_rtsp (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  cr::rtsp::ServerSettings settings;
  std::string path;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->settings.rtsp_port == 0)
      return;
    settings.address = priv->settings.rtsp_address;
    settings.port = priv->settings.rtsp_port;
    settings.viewer_user = priv->settings.viewer_user;
    settings.viewer_password = priv->settings.viewer_password;
    path = priv->settings.rtsp_path;
  }
  std::string error;
  std::shared_ptr<cr::rtsp::Server> server = cr::rtsp::Server::acquire (settings, error);
  if (!server || !server->mount (path, GST_ELEMENT (self), error)) {
    /* The camera's other branches (its MJPEG viewers) carry on: RTSP is an extra. */
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ_WRITE, ("Cannot serve RTSP: %s", error.c_str ()),
        ("%s", error.c_str ()));
    return;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->rtsp = server;
  priv->rtsp_mounted = path;
}

static void
stop_rtsp (CrH264RelaySink *self)
{
  CrH264RelaySinkPrivate *priv = self->priv;
  std::shared_ptr<cr::rtsp::Server> server;
  std::string path;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    server.swap (priv->rtsp);
    path.swap (priv->rtsp_mounted);
  }
  if (server)
    server->unmount (path);
}

static GstStateChangeReturn
cr_h264_relay_sink_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = CR_H264_RELAY_SINK (element);
  CrH264RelaySinkPrivate *priv = self->priv;
  GstMessage *msg = nullptr;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    start_rtsp (self);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->started = true;
    priv->told_viewers = G_MAXUINT;
    priv->next_due_us = 0;
  }

  GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      /* Consumers that subscribed before the start get their encoder now. */
      std::lock_guard<std::mutex> life (priv->lifecycle);
      msg = ensure_encoder (self);
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      std::shared_ptr<cr::h264::Encoder> encoder;
      std::lock_guard<std::mutex> life (priv->lifecycle);
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        priv->started = false;
        cancel_linger_locked (priv);
        encoder = take_encoder_locked (priv);
        gst_clear_buffer (&priv->latest);
        if (encoder)
          msg = state_message_locked (self);
      }
      encoder.reset ();
      break;
    }
    case GST_STATE_CHANGE_READY_TO_NULL:
      stop_rtsp (self);
      break;
    default:
      break;
  }
  post (self, msg);
  return ret;
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
make_stats (CrH264RelaySinkPrivate *priv)
{
  /* The RTSP server is asked outside the lock: it calls into this element under its own. */
  std::shared_ptr<cr::rtsp::Server> rtsp;
  std::string mounted;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    rtsp = priv->rtsp;
    mounted = priv->rtsp_mounted;
  }
  guint rtsp_viewers = rtsp ? rtsp->viewers (mounted) : 0;
  std::lock_guard<std::mutex> guard (priv->lock);
  guint64 decoded = priv->frames_decoded, encoded = priv->frames_encoded;
  guint64 bytes_encoded = priv->bytes_encoded;
  guint64 encode_ns = 0, encode_ns_last = 0;
  guint bitrate = 0;
  if (priv->encoder) {
    const cr::h264::EncoderStats & st = priv->encoder->stats ();
    decoded += st.frames_decoded;
    encoded += st.frames_encoded;
    bytes_encoded += st.bytes_encoded;
    encode_ns = st.encode_ns_avg;
    encode_ns_last = st.encode_ns_last;
    bitrate = st.bitrate_kbps;
  }
  /* Names interned once: applications poll this for thousands of cameras (crstatsquarks.h). */
  enum
  {
    CONSUMERS,
    ENCODER_RUNNING,
    ENCODER_STARTS,
    ENCODER_FAILURES,
    FRAMES_IN,
    FRAMES_SKIPPED,
    FRAMES_DECODED,
    FRAMES_ENCODED,
    BYTES_ENCODED,
    BYTES_OUT,
    ENCODE_TIME,
    ENCODE_TIME_LAST,
    BITRATE,
    RTSP_VIEWERS,
    N_FIELDS
  };
  static const cr::StatsQuarks<N_FIELDS> q ("h264relaysink-stats",
      { "consumers", "encoder-running", "encoder-starts", "encoder-failures", "frames-in",
          "frames-skipped", "frames-decoded", "frames-encoded", "bytes-encoded", "bytes-out",
          "encode-time", "encode-time-last", "bitrate", "rtsp-viewers" });
  GstStructure *s = gst_structure_new_id (q.name, q[CONSUMERS], G_TYPE_UINT,
      static_cast<guint> (priv->consumers.size ()), q[ENCODER_RUNNING], G_TYPE_BOOLEAN,
      priv->encoder != nullptr, q[ENCODER_STARTS], G_TYPE_UINT64, priv->encoder_starts,
      q[ENCODER_FAILURES], G_TYPE_UINT64, priv->encoder_failures, q[FRAMES_IN], G_TYPE_UINT64,
      priv->frames_in, q[FRAMES_SKIPPED], G_TYPE_UINT64, priv->frames_skipped, q[FRAMES_DECODED],
      G_TYPE_UINT64, decoded, q[FRAMES_ENCODED], G_TYPE_UINT64, encoded, q[BYTES_ENCODED],
      G_TYPE_UINT64, bytes_encoded, q[BYTES_OUT], G_TYPE_UINT64, priv->bytes_out, q[ENCODE_TIME],
      G_TYPE_UINT, static_cast<guint> (MIN (encode_ns, G_MAXUINT)), q[ENCODE_TIME_LAST],
      G_TYPE_UINT, static_cast<guint> (MIN (encode_ns_last, G_MAXUINT)), q[BITRATE], G_TYPE_UINT,
      bitrate, q[RTSP_VIEWERS], G_TYPE_UINT, rtsp_viewers, nullptr);
  /* The kinds every camrelay consumer uses are always there, so readers need not guess. */
  for (const char *kind : { "rtsp", "webrtc" })
    priv->kinds.emplace (kind, KindCount{});
  for (auto & [kind, count] : priv->kinds) {
    if (!count.consumers_field) {
      count.consumers_field = g_quark_from_string (("consumers-" + kind).c_str ());
      count.bytes_field = g_quark_from_string (("bytes-out-" + kind).c_str ());
    }
    gst_structure_id_set (s, count.consumers_field, G_TYPE_UINT, count.consumers, count.bytes_field,
        G_TYPE_UINT64, count.bytes, nullptr);
  }
  return s;
}

static void
cr_h264_relay_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrH264RelaySinkPrivate *priv = CR_H264_RELAY_SINK (object)->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_BITRATE:
      priv->settings.bitrate = g_value_get_uint (value);
      break;
    case PROP_KEY_INT_MAX:
      priv->settings.key_int_max = g_value_get_uint (value);
      break;
    case PROP_MAX_FPS:
      priv->settings.max_fps = g_value_get_uint (value);
      break;
    case PROP_LINGER:
      priv->settings.linger = g_value_get_uint64 (value);
      break;
    case PROP_RTSP_PORT:
      priv->settings.rtsp_port = g_value_get_uint (value);
      break;
    case PROP_RTSP_ADDRESS: {
      const gchar *v = g_value_get_string (value);
      priv->settings.rtsp_address = v && *v ? v : DEFAULT_RTSP_ADDRESS;
      break;
    }
    case PROP_RTSP_PATH: {
      const gchar *v = g_value_get_string (value);
      std::string path = v ? v : "";
      if (path.empty () || path[0] != '/')
        path = "/" + path;
      priv->settings.rtsp_path = path;
      break;
    }
    case PROP_VIEWER_USER: {
      const gchar *v = g_value_get_string (value);
      priv->settings.viewer_user = v ? v : "";
      break;
    }
    case PROP_VIEWER_PASSWORD: {
      const gchar *v = g_value_get_string (value);
      priv->settings.viewer_password = v ? v : "";
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_h264_relay_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrH264RelaySinkPrivate *priv = CR_H264_RELAY_SINK (object)->priv;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (priv));
    return;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_BITRATE:
      g_value_set_uint (value, priv->settings.bitrate);
      break;
    case PROP_KEY_INT_MAX:
      g_value_set_uint (value, priv->settings.key_int_max);
      break;
    case PROP_MAX_FPS:
      g_value_set_uint (value, priv->settings.max_fps);
      break;
    case PROP_LINGER:
      g_value_set_uint64 (value, priv->settings.linger);
      break;
    case PROP_RTSP_PORT:
      g_value_set_uint (value, priv->settings.rtsp_port);
      break;
    case PROP_RTSP_ADDRESS:
      g_value_set_string (value, priv->settings.rtsp_address.c_str ());
      break;
    case PROP_RTSP_PATH:
      g_value_set_string (value, priv->settings.rtsp_path.c_str ());
      break;
    case PROP_VIEWER_USER:
      g_value_set_string (value, priv->settings.viewer_user.c_str ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}
