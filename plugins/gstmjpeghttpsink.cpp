/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-mjpeghttpsink
 * @title: mjpeghttpsink
 *
 * Serves a stream of JPEG frames to any number of HTTP viewers as multipart/x-mixed-replace
 * (MJPEG), the format browsers, ffmpeg, VLC and Home Assistant read.
 *
 * Input is either the output of multipartmux (its boundary is used on the wire) or plain
 * image/jpeg frames. Every viewer is sent the same refcounted bytes; nothing is copied per viewer.
 * A new viewer gets the latest frame at once. A viewer that cannot keep up skips whole frames,
 * never part of one, and never slows the pipeline or anybody else.
 *
 * Each viewer gets one of two part layouts, chosen per request (README, "Viewer stream format"):
 * browsers and Home Assistant (a Sec-Fetch-Dest other than "empty", a User-Agent starting with
 * "Mozilla/" or "HomeAssistant/") get early headers, each frame followed at once by the next
 * part's boundary and headers, because a browser only shows a part once those have arrived, and
 * no Content-Length; every other reader (ffmpeg, VLC, GStreamer, go2rtc, scripts, no User-Agent)
 * gets a Content-Length on every part. `?content-length=1` or `?content-length=0` overrides the
 * choice.
 *
 * Whether anybody watches is told upstream in a custom event "camrelay-viewers" (guint field
 * "viewers": 0, or the number of viewers when it stops being 0), at the first frame and whenever
 * it changes between none and some: jpegfallback then stops repeating its placeholder for nobody.
 *
 * When a viewer asks for the stream or somebody for a snapshot, the element posts an element
 * message "mjpeghttpsink-wanted" (at most once a second), before serving them: an application can
 * open a camera it keeps closed while nobody watches. With snapshot-wait set, a snapshot then
 * waits for the next frame (the camera's first) instead of getting the latest one.
 *
 * End of stream ends every viewer's response with the closing boundary; after a flush (a seek in
 * an application that reuses the element) frames are served again.
 *
 * The listening socket is shared with every other camrelay element of the process that uses the
 * same address and port (e.g. wsjpegsrc). The server settings (tls-certificate, tls-key,
 * viewer-user, viewer-password, open-on-loopback, request-timeout) must then be the same on all
 * of them.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! jpegenc ! multipartmux ! mjpeghttpsink port=8080
 * ]| Open http://localhost:8080/ in a browser.
 */
#include "gstmjpeghttpsink.h"

#include "crbufferbytes.h"
#include "crlatestfile.h"
#include "crlisten.h"
#include "crmultipartsplit.h"
#include "crserver.h"
#include "gstcamrelayelements.h"
#include "crstatsquarks.h"

#include <atomic>
#include <memory>
#include <mutex>

#define DEFAULT_PATH              "/"
#define DEFAULT_SNAPSHOT_PATH     ""
#define DEFAULT_MAX_VIEWERS       0
#define DEFAULT_MAX_QUEUED_FRAMES 1
#define DEFAULT_STALL_TIMEOUT     (60 * GST_SECOND)
#define DEFAULT_SEND_LOWAT        (16 * 1024)
#define DEFAULT_BOUNDARY          "ThisRandomString"
#define DEFAULT_LATEST_FILE       ""
#define DEFAULT_LATEST_FILE_SYNC  FALSE
#define DEFAULT_KEEP_VIEWERS      0
#define DEFAULT_SNAPSHOT_WAIT     0
/* "mjpeghttpsink-wanted" is posted at most this often. */
#define WANTED_INTERVAL_US G_USEC_PER_SEC

enum
{
  PROP_0,
  /* address, port and bound-port come first: see crlisten.h */
  PROP_PATH = cr::LISTEN_PROP_LAST,
  PROP_SNAPSHOT_PATH,
  PROP_MAX_VIEWERS,
  PROP_MAX_QUEUED_FRAMES,
  PROP_STALL_TIMEOUT,
  PROP_SEND_LOWAT,
  PROP_BOUNDARY,
  PROP_LATEST_FILE,
  PROP_LATEST_FILE_SYNC,
  PROP_KEEP_VIEWERS,
  PROP_SNAPSHOT_WAIT,
  PROP_STATS,
};

/* Not static: the latest-file writer (crlatestfile.cpp) logs in it too. */
GST_DEBUG_CATEGORY (cr_mjpeg_http_sink_debug);
#define GST_CAT_DEFAULT cr_mjpeg_http_sink_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS ("multipart/x-mixed-replace; image/jpeg"));

namespace {

struct Settings
{
  std::string path = DEFAULT_PATH;
  std::string snapshot_path = DEFAULT_SNAPSHOT_PATH;
  guint max_viewers = DEFAULT_MAX_VIEWERS;
  guint max_queued_frames = DEFAULT_MAX_QUEUED_FRAMES;
  guint64 stall_timeout = DEFAULT_STALL_TIMEOUT;
  guint send_lowat = DEFAULT_SEND_LOWAT;
  std::string boundary = DEFAULT_BOUNDARY;
  std::string latest_file = DEFAULT_LATEST_FILE;
  bool latest_file_sync = DEFAULT_LATEST_FILE_SYNC;
  guint64 keep_viewers = DEFAULT_KEEP_VIEWERS;
  guint64 snapshot_wait = DEFAULT_SNAPSHOT_WAIT;
};

}  // namespace

struct CrMjpegHttpSinkPrivate
{
  cr::Listener listener;

  /* Guards settings and the pointers below; never held while waiting for the server thread. */
  std::mutex lock;
  Settings settings;
  std::shared_ptr<cr::Stream> stream;
  std::unique_ptr<cr::LatestFileWriter> latest_file;

  /* Streaming thread only. */
  bool multipart = false;
  cr::MultipartSplitter splitter;
  /* Content-Type of plain (not multipart) input. */
  std::string part_type = "image/jpeg";

  /* Viewers now, as the server thread last said; what upstream was last told, under tell_lock
   * (G_MAXUINT: nothing yet). */
  std::atomic<guint> viewers{ 0 };
  std::mutex tell_lock;
  std::atomic<guint> told{ G_MAXUINT };
  /* When "mjpeghttpsink-wanted" was last posted (monotonic; server thread). */
  gint64 last_wanted_us = 0;
};

struct _CrMjpegHttpSink
{
  GstBaseSink parent;
  CrMjpegHttpSinkPrivate *priv;
};

#define cr_mjpeg_http_sink_parent_class parent_class
G_DEFINE_TYPE (CrMjpegHttpSink, cr_mjpeg_http_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (mjpeghttpsink, "mjpeghttpsink", GST_RANK_NONE,
    CR_TYPE_MJPEG_HTTP_SINK);

static void cr_mjpeg_http_sink_finalize (GObject *object);
static void cr_mjpeg_http_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_mjpeg_http_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_mjpeg_http_sink_change_state (GstElement *element,
    GstStateChange transition);
static gboolean cr_mjpeg_http_sink_set_caps (GstBaseSink *sink, GstCaps *caps);
static GstFlowReturn cr_mjpeg_http_sink_render (GstBaseSink *sink, GstBuffer *buffer);
static gboolean cr_mjpeg_http_sink_event (GstBaseSink *sink, GstEvent *event);

static void
cr_mjpeg_http_sink_class_init (CrMjpegHttpSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->finalize = cr_mjpeg_http_sink_finalize;
  gobject_class->set_property = cr_mjpeg_http_sink_set_property;
  gobject_class->get_property = cr_mjpeg_http_sink_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_mjpeg_http_sink_change_state);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (cr_mjpeg_http_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (cr_mjpeg_http_sink_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (cr_mjpeg_http_sink_event);

  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  cr::listen_install_properties (gobject_class);
  g_object_class_install_property (gobject_class, PROP_PATH,
      g_param_spec_string ("path", "Path", "URL path of the MJPEG stream", DEFAULT_PATH, ready));
  g_object_class_install_property (gobject_class, PROP_SNAPSHOT_PATH,
      g_param_spec_string ("snapshot-path", "Snapshot path",
          "URL path that returns the latest frame as a single JPEG; empty = none",
          DEFAULT_SNAPSHOT_PATH, ready));
  g_object_class_install_property (gobject_class, PROP_MAX_VIEWERS,
      g_param_spec_uint ("max-viewers", "Maximum viewers",
          "Viewers beyond this get 503 Service Unavailable with Retry-After; 0 = no limit", 0,
          G_MAXINT, DEFAULT_MAX_VIEWERS, ready));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUED_FRAMES,
      g_param_spec_uint ("max-queued-frames", "Maximum queued frames",
          "Frames a viewer may have waiting behind the one being sent; a slower viewer skips "
          "the oldest",
          1, 64, DEFAULT_MAX_QUEUED_FRAMES, ready));
  g_object_class_install_property (gobject_class, PROP_STALL_TIMEOUT,
      g_param_spec_uint64 ("stall-timeout", "Stall timeout",
          "Disconnect a viewer whose connection accepted nothing for this long (ns); 0 = never", 0,
          G_MAXUINT64, DEFAULT_STALL_TIMEOUT, ready));
  g_object_class_install_property (gobject_class, PROP_SEND_LOWAT,
      g_param_spec_uint ("send-lowat", "Send low-water mark",
          "Unsent bytes the kernel may hold per viewer (TCP_NOTSENT_LOWAT): bounds how far a "
          "slow viewer lags behind; 0 = kernel default",
          0, G_MAXINT, DEFAULT_SEND_LOWAT, ready));
  g_object_class_install_property (gobject_class, PROP_BOUNDARY,
      g_param_spec_string ("boundary", "Boundary",
          "Multipart boundary for image/jpeg input (multipartmux input brings its own)",
          DEFAULT_BOUNDARY, ready));
  g_object_class_install_property (gobject_class, PROP_LATEST_FILE,
      g_param_spec_string ("latest-file", "Latest file",
          "Also write the latest frame to this file, atomically (temporary file + rename); "
          "empty = none",
          DEFAULT_LATEST_FILE, ready));
  g_object_class_install_property (gobject_class, PROP_LATEST_FILE_SYNC,
      g_param_spec_boolean ("latest-file-sync", "Latest file sync",
          "fsync the latest-file before each rename, so that a power cut keeps a whole picture "
          "(costs a disk flush per frame); false = atomic rename only, what readers need",
          DEFAULT_LATEST_FILE_SYNC, ready));
  g_object_class_install_property (gobject_class, PROP_KEEP_VIEWERS,
      g_param_spec_uint64 ("keep-viewers", "Keep viewers",
          "When the element stops without an end of stream, its viewers wait this long (ns) for "
          "the next mjpeghttpsink on the same path and port, which carries on with their "
          "responses (a pipeline rebuilt); 0 = their responses end at once",
          0, G_MAXUINT64, DEFAULT_KEEP_VIEWERS,
          static_cast<GParamFlags> (
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_SNAPSHOT_WAIT,
      g_param_spec_uint64 ("snapshot-wait", "Snapshot wait",
          "A snapshot waits up to this long (ns) for the next frame instead of getting the "
          "latest one at once (set while the camera is being opened); 0 = at once",
          0, 60 * GST_SECOND, DEFAULT_SNAPSHOT_WAIT,
          static_cast<GParamFlags> (
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "viewers, viewers-total, viewers-refused, viewers-stalled, frames-in, parts-sent, "
          "parts-skipped, bytes-sent, snapshots, latest-file-writes",
          GST_TYPE_STRUCTURE, readonly));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "MJPEG HTTP sink", "Sink/Network/Video",
      "Serves JPEG frames to HTTP viewers as multipart/x-mixed-replace (MJPEG)",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_mjpeg_http_sink_debug, "mjpeghttpsink", 0,
      "camrelay MJPEG HTTP sink");
}

static void
cr_mjpeg_http_sink_init (CrMjpegHttpSink *self)
{
  self->priv = new CrMjpegHttpSinkPrivate;
  /* Frames go out as soon as they arrive: they are already stamped with their arrival time, and
   * waiting on the clock would only add latency. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_qos_enabled (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
cr_mjpeg_http_sink_finalize (GObject *object)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (object);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */
/* Streaming                                                                                      */

/* Tells upstream whether anybody watches, if that changed since it was last told. Any thread but
 * the server's. */
static void
tell_viewers (CrMjpegHttpSink *self)
{
  CrMjpegHttpSinkPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->tell_lock);
  guint now = priv->viewers.load ();
  if (priv->told != G_MAXUINT && (priv->told == 0) == (now == 0))
    return;
  GstStructure *s = gst_structure_new ("camrelay-viewers", "viewers", G_TYPE_UINT, now, nullptr);
  GST_DEBUG_OBJECT (self, "telling upstream: %u viewer(s)", now);
  /* Refused when no element upstream cares: it is not asked again until the number changes. */
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
      gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
  priv->told = now;
}

static void
publish (CrMjpegHttpSink *self, GstBuffer *frame, const char *content_type)
{
  CrMjpegHttpSinkPrivate *priv = self->priv;
  /* Viewers read the frame where it already is. */
  GBytes *bytes = cr::bytes_from_buffer (frame);
  if (!bytes)
    return;
  std::shared_ptr<cr::Stream> stream;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    stream = priv->stream;
    if (priv->latest_file)
      priv->latest_file->offer (bytes);
  }
  if (stream)
    stream->publish (bytes, content_type);
  g_bytes_unref (bytes);
}

static gboolean
cr_mjpeg_http_sink_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (sink);
  CrMjpegHttpSinkPrivate *priv = self->priv;
  GstStructure *s = gst_caps_get_structure (caps, 0);

  std::string boundary;
  if (gst_structure_has_name (s, "multipart/x-mixed-replace")) {
    const gchar *b = gst_structure_get_string (s, "boundary");
    priv->multipart = true;
    boundary = b ? b : DEFAULT_BOUNDARY;
  } else {
    priv->multipart = false;
    priv->part_type = gst_structure_get_name (s);
    std::lock_guard<std::mutex> guard (priv->lock);
    boundary = priv->settings.boundary;
  }
  if (boundary.empty () || boundary.size () > 70) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Invalid multipart boundary \"%s\".", boundary.c_str ()),
        ("RFC 2046 allows 1 to 70 characters"));
    return FALSE;
  }
  priv->splitter.reset (boundary);

  std::shared_ptr<cr::Stream> stream;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    stream = priv->stream;
  }
  if (stream)
    stream->set_boundary (boundary);
  GST_DEBUG_OBJECT (self, "%s input, boundary %s", priv->multipart ? "multipart" : "JPEG",
      boundary.c_str ());
  return TRUE;
}

static GstFlowReturn
cr_mjpeg_http_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (sink);
  CrMjpegHttpSinkPrivate *priv = self->priv;

  if (G_UNLIKELY (priv->told == G_MAXUINT))
    tell_viewers (self);
  if (!priv->multipart) {
    publish (self, buffer, priv->part_type.c_str ());
    return GST_FLOW_OK;
  }
  priv->splitter.push (gst_buffer_ref (buffer));
  for (;;) {
    GstBuffer *frame = nullptr;
    switch (priv->splitter.next (&frame)) {
      case cr::MultipartSplitter::Result::PART:
        publish (self, frame, priv->splitter.content_type ().c_str ());
        gst_buffer_unref (frame);
        break;
      case cr::MultipartSplitter::Result::NEED_DATA:
        return GST_FLOW_OK;
      case cr::MultipartSplitter::Result::NOT_MULTIPART:
        GST_ELEMENT_ERROR (self, STREAM, DEMUX,
            ("Input is not multipart data as multipartmux makes it."),
            ("expected \"--%s\" and a Content-Length header", priv->splitter.boundary ().c_str ()));
        return GST_FLOW_ERROR;
    }
  }
}

static gboolean
cr_mjpeg_http_sink_event (GstBaseSink *sink, GstEvent *event)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (sink);
  CrMjpegHttpSinkPrivate *priv = self->priv;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS: {
      std::shared_ptr<cr::Stream> stream;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        stream = priv->stream;
      }
      GST_DEBUG_OBJECT (self, "end of stream: ending every viewer's response");
      if (stream)
        stream->finish ();
      break;
    }
    case GST_EVENT_FLUSH_STOP: {
      priv->splitter.clear ();
      /* A flush ends the EOS state, as in every sink: what comes next is served again. */
      std::shared_ptr<cr::Stream> stream;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        stream = priv->stream;
      }
      if (stream)
        stream->reopen ();
      break;
    }
    default:
      break;
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
build_stats (CrMjpegHttpSink *self)
{
  CrMjpegHttpSinkPrivate *priv = self->priv;
  cr::StreamStats s;
  guint64 writes = 0;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->stream)
      s = priv->stream->stats ();
    if (priv->latest_file)
      writes = priv->latest_file->writes ();
  }
  /* Names interned once: applications poll this for thousands of cameras (crstatsquarks.h). */
  enum
  {
    VIEWERS,
    VIEWERS_TOTAL,
    VIEWERS_REFUSED,
    VIEWERS_STALLED,
    FRAMES_IN,
    PARTS_SENT,
    PARTS_SKIPPED,
    BYTES_SENT,
    SNAPSHOTS,
    LATEST_FILE_WRITES,
    N_FIELDS
  };
  static const cr::StatsQuarks<N_FIELDS> q ("mjpeghttpsink-stats",
      { "viewers", "viewers-total", "viewers-refused", "viewers-stalled", "frames-in", "parts-sent",
          "parts-skipped", "bytes-sent", "snapshots", "latest-file-writes" });
  return gst_structure_new_id (q.name, q[VIEWERS], G_TYPE_UINT, s.viewers, q[VIEWERS_TOTAL],
      G_TYPE_UINT64, s.viewers_total, q[VIEWERS_REFUSED], G_TYPE_UINT64, s.viewers_refused,
      q[VIEWERS_STALLED], G_TYPE_UINT64, s.viewers_stalled, q[FRAMES_IN], G_TYPE_UINT64,
      s.frames_in, q[PARTS_SENT], G_TYPE_UINT64, s.parts_sent, q[PARTS_SKIPPED], G_TYPE_UINT64,
      s.parts_skipped, q[BYTES_SENT], G_TYPE_UINT64, s.bytes_sent, q[SNAPSHOTS], G_TYPE_UINT64,
      s.snapshots, q[LATEST_FILE_WRITES], G_TYPE_UINT64, writes, nullptr);
}

static void
set_string (std::string & target, const GValue *value, const char *fallback)
{
  const gchar *s = g_value_get_string (value);
  target = s ? s : fallback;
}

static void
cr_mjpeg_http_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (object);
  if (self->priv->listener.set_property (prop_id, value))
    return;

  std::lock_guard<std::mutex> guard (self->priv->lock);
  Settings & s = self->priv->settings;
  switch (prop_id) {
    case PROP_PATH:
      set_string (s.path, value, DEFAULT_PATH);
      break;
    case PROP_SNAPSHOT_PATH:
      set_string (s.snapshot_path, value, "");
      break;
    case PROP_MAX_VIEWERS:
      s.max_viewers = g_value_get_uint (value);
      break;
    case PROP_MAX_QUEUED_FRAMES:
      s.max_queued_frames = g_value_get_uint (value);
      break;
    case PROP_STALL_TIMEOUT:
      s.stall_timeout = g_value_get_uint64 (value);
      break;
    case PROP_SEND_LOWAT:
      s.send_lowat = g_value_get_uint (value);
      break;
    case PROP_BOUNDARY:
      set_string (s.boundary, value, DEFAULT_BOUNDARY);
      break;
    case PROP_LATEST_FILE:
      set_string (s.latest_file, value, "");
      break;
    case PROP_LATEST_FILE_SYNC:
      s.latest_file_sync = g_value_get_boolean (value);
      break;
    case PROP_KEEP_VIEWERS:
      s.keep_viewers = g_value_get_uint64 (value);
      break;
    case PROP_SNAPSHOT_WAIT:
      s.snapshot_wait = g_value_get_uint64 (value);
      if (self->priv->stream)
        self->priv->stream->set_snapshot_wait (static_cast<guint> (s.snapshot_wait / GST_MSECOND));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_mjpeg_http_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (object);
  CrMjpegHttpSinkPrivate *priv = self->priv;

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  if (priv->listener.get_property (prop_id, value))
    return;

  std::lock_guard<std::mutex> guard (priv->lock);
  const Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_PATH:
      g_value_set_string (value, s.path.c_str ());
      break;
    case PROP_SNAPSHOT_PATH:
      g_value_set_string (value, s.snapshot_path.c_str ());
      break;
    case PROP_MAX_VIEWERS:
      g_value_set_uint (value, s.max_viewers);
      break;
    case PROP_MAX_QUEUED_FRAMES:
      g_value_set_uint (value, s.max_queued_frames);
      break;
    case PROP_STALL_TIMEOUT:
      g_value_set_uint64 (value, s.stall_timeout);
      break;
    case PROP_SEND_LOWAT:
      g_value_set_uint (value, s.send_lowat);
      break;
    case PROP_BOUNDARY:
      g_value_set_string (value, s.boundary.c_str ());
      break;
    case PROP_LATEST_FILE:
      g_value_set_string (value, s.latest_file.c_str ());
      break;
    case PROP_LATEST_FILE_SYNC:
      g_value_set_boolean (value, s.latest_file_sync);
      break;
    case PROP_KEEP_VIEWERS:
      g_value_set_uint64 (value, s.keep_viewers);
      break;
    case PROP_SNAPSHOT_WAIT:
      g_value_set_uint64 (value, s.snapshot_wait);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static gboolean
start_stream (CrMjpegHttpSink *self)
{
  CrMjpegHttpSinkPrivate *priv = self->priv;
  cr::StreamSettings ss;
  std::string latest_file;
  bool latest_file_sync;
  guint snapshot_wait_ms;
  std::shared_ptr<cr::Server> server = priv->listener.server ();
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    const Settings & s = priv->settings;
    ss.path = s.path;
    ss.snapshot_path = s.snapshot_path;
    ss.max_viewers = s.max_viewers;
    ss.max_queued_frames = s.max_queued_frames;
    ss.stall_timeout_ms =
        static_cast<guint> (MIN (s.stall_timeout / GST_MSECOND, static_cast<guint64> (G_MAXUINT)));
    if (s.stall_timeout > 0 && ss.stall_timeout_ms == 0)
      ss.stall_timeout_ms = 1;
    ss.send_lowat = s.send_lowat;
    latest_file = s.latest_file;
    latest_file_sync = s.latest_file_sync;
    snapshot_wait_ms = static_cast<guint> (s.snapshot_wait / GST_MSECOND);
  }
  {
    std::lock_guard<std::mutex> guard (priv->tell_lock);
    priv->told = G_MAXUINT;
  }
  priv->viewers = 0;
  /* The server thread must not wait on GStreamer: the event goes from a pooled thread. */
  ss.on_viewers = [self] (guint n) {
    CrMjpegHttpSinkPrivate *p = self->priv;
    if ((p->viewers.exchange (n) == 0) != (n == 0))
      gst_element_call_async (
          GST_ELEMENT (self),
          [] (GstElement *e, gpointer) { tell_viewers (CR_MJPEG_HTTP_SINK (e)); }, nullptr,
          nullptr);
  };
  priv->last_wanted_us = 0;
  ss.on_wanted = [self] {
    CrMjpegHttpSinkPrivate *p = self->priv;
    gint64 now = g_get_monotonic_time ();
    if (p->last_wanted_us && now - p->last_wanted_us < WANTED_INTERVAL_US)
      return;
    p->last_wanted_us = now;
    gst_element_call_async (
        GST_ELEMENT (self),
        [] (GstElement *e, gpointer) {
          gst_element_post_message (e,
              gst_message_new_element (GST_OBJECT (e),
                  gst_structure_new_empty ("mjpeghttpsink-wanted")));
        },
        nullptr, nullptr);
  };
  g_autoptr (GError) error = nullptr;
  auto stream = server->add_stream (ss, &error);
  if (!stream) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Could not serve the stream: %s", error->message),
        (nullptr));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "serving MJPEG on %s://%s:%u%s", server->tls () ? "https" : "http",
      server->address ().c_str (), server->port (), ss.path.c_str ());
  stream->set_snapshot_wait (snapshot_wait_ms);
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->stream = std::move (stream);
  if (!latest_file.empty ())
    priv->latest_file =
        std::make_unique<cr::LatestFileWriter> (GST_ELEMENT (self), latest_file, latest_file_sync);
  return TRUE;
}

static void
stop_stream (CrMjpegHttpSink *self)
{
  CrMjpegHttpSinkPrivate *priv = self->priv;
  std::shared_ptr<cr::Stream> stream;
  std::shared_ptr<cr::Server> server = priv->listener.server ();
  std::unique_ptr<cr::LatestFileWriter> writer;
  guint64 keep_ms;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    stream = std::move (priv->stream);
    writer = std::move (priv->latest_file);
    keep_ms = priv->settings.keep_viewers / GST_MSECOND;
  }
  if (stream && server)
    server->remove_stream (stream, static_cast<guint> (MIN (keep_ms, (guint64) G_MAXUINT)));
  priv->splitter.clear ();
}

static GstStateChangeReturn
cr_mjpeg_http_sink_change_state (GstElement *element, GstStateChange transition)
{
  CrMjpegHttpSink *self = CR_MJPEG_HTTP_SINK (element);
  return self->priv->listener.change_state (
      element, transition, GST_ELEMENT_CLASS (parent_class), "viewers",
      [self] { return start_stream (self); },
      [self] {
        g_autoptr (GstStructure) stats = build_stats (self);
        GST_INFO_OBJECT (self, "stopping: %" GST_PTR_FORMAT, stats);
        stop_stream (self);
      });
}
