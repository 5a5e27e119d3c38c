/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-pulljpegsrc
 * @title: pulljpegsrc
 *
 * A live source of JPEG frames pulled from a camera that serves them: an HTTP(S) URL answering
 * multipart/x-mixed-replace (MJPEG, each part a frame) or image/jpeg (a snapshot, fetched again
 * every #CrPullJpegSrc:snapshot-interval), an rtsp:// URL (MJPEG over RTP passed through
 * untouched, H.264/H.265 and other codecs decoded and encoded to JPEG once per frame), or a local
 * V4L2 device as v4l2:///dev/video0 (MJPEG as the device gives it, raw formats encoded).
 * The URL reaches the camera as written (its path and query keep their %-escapes); credentials
 * come from its userinfo, decoded once (HTTP Basic or Digest, RTSP Basic or Digest). They are
 * never shown: the location property, the stats, the messages and the log carry the URL without
 * userinfo and with credential-looking query values (?user=, ?pwd=, ?token=...) masked.
 * An https:// or rtsps:// camera's certificate is checked against the system's CAs, or those of
 * #CrPullJpegSrc:tls-ca, or is exactly #CrPullJpegSrc:tls-pinned-certificate.
 *
 * The camera is reached by GStreamer's own elements (souphttpsrc, rtspsrc or v4l2src, then
 * decodebin and jpegenc for raw video), in a bin inside this element: one per try, rebuilt on
 * each reconnect (as fallbacksrc rebuilds its source). It runs in the application's pipeline, on
 * its clock and base time, with the contexts the application set or answers; its elements'
 * warnings and other messages reach the application's bus as theirs (their text redacted), their
 * errors and end of stream do not: they end the try. decodebin may plug only
 * multipartdemux for HTTP (whose bytes are untrusted: an answer that is neither MJPEG nor a JPEG
 * is refused, naming its Content-Type), and only RTP depayloaders, video parsers and video
 * decoders for RTSP and V4L2. What this element adds is what none of them does: when
 * the camera fails or goes away, only that try's bin is torn down and built again, after
 * 1 s doubling up to 30 s, forever, while the element's own pad stays up. Downstream (the
 * placeholder of jpegfallback, the viewers of mjpeghttpsink) never sees an error or an
 * end-of-stream from a camera. Each change of state is posted once, with its cause, not once per
 * try. #CrPullJpegSrc:active set to FALSE closes the camera (for on-demand use).
 *
 * Memory is bounded: a part (or snapshot) that grows past #CrPullJpegSrc:max-frame-size without
 * ending, such as a stream whose boundary never comes, ends the connection with that reason; a
 * snapshot that large is dropped at once, never pushed cut short. Each try's bin is gone once
 * the try ends.
 *
 * The camera is open while the element is PLAYING (a live source); PAUSED closes it.
 *
 * Each frame leaves as one buffer, stamped with the pipeline running time of its arrival (as
 * wsjpegsrc does), through a small queue that drops its oldest frame.
 *
 * Element message: "pulljpegsrc-state" (location, state, reason), state being "connecting",
 * "streaming", "retrying" (reason: why the last try failed) or "idle" (not active); the stats
 * also say "idle" while the element is not PLAYING.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 pulljpegsrc location=http://user:pw@esp32cam.local:81/stream ! jpegvalidate ! \
 *     jpegfallback placeholder=placeholder.jpg ! multipartmux ! mjpeghttpsink
 * ]|
 */
#include "gstpulljpegsrc.h"

#include "crarrivalsrc.h"
#include "crbackoff.h"
#include "crpullreason.h"
#include "crredact.h"
#include "crtlstrust.h"
#include "gstcamrelayelements.h"

#include <gst/app/gstappsink.h>
#include <gst/base/gstadapter.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#define DEFAULT_LOCATION          ""
#define DEFAULT_SNAPSHOT_INTERVAL GST_SECOND
#define DEFAULT_IO_TIMEOUT        (10 * GST_SECOND)
#define DEFAULT_MAX_FRAME_SIZE    (16 * 1024 * 1024)
#define DEFAULT_ACTIVE            TRUE
#define DEFAULT_TLS_CA            ""
#define DEFAULT_TLS_PINNED        ""
#define DEFAULT_QUEUE_SIZE        2
/* A try that ended holding this much of an unfinished frame gives the memory back at once. */
#define RELEASE_AFTER_BYTES (1024 * 1024)
/* A try that streamed at least this long counts as a recovery: the backoff (1 s … 30 s) starts
 * again at its minimum, and its end is news worth a line. Shorter tries are a camera flapping. */
#define STABLE_STREAMING_S 10
/* Each step of the look at a camera that did not answer (connect, then its first line). */
#define PROBE_TIMEOUT_S 3

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_SNAPSHOT_INTERVAL,
  PROP_IO_TIMEOUT,
  PROP_MAX_FRAME_SIZE,
  PROP_ACTIVE,
  PROP_TLS_CA,
  PROP_TLS_PINNED_CERTIFICATE,
  PROP_STATS,
};

GST_DEBUG_CATEGORY_STATIC (cr_pull_jpeg_src_debug);
#define GST_CAT_DEFAULT cr_pull_jpeg_src_debug

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

enum class Kind
{
  None,
  Http,
  Rtsp,
  V4l2,
};

/* The location split into what the elements need. */
struct Target
{
  Kind kind = Kind::None;
  std::string url; /* exactly as written, less its userinfo */
  std::string user;
  std::string password;
  std::string device; /* v4l2 */
  std::string error;
};

/* @location without its userinfo, every other byte as written: the path and the query keep their
 * escapes (a password=p%26ss in the query is not p&ss), so the camera is asked for exactly what
 * the user wrote. */
std::string
without_userinfo (const std::string & location)
{
  size_t start = location.find ("://");
  if (start == std::string::npos)
    return location;
  start += 3;
  size_t end = location.find_first_of ("/?#", start);
  if (end == std::string::npos)
    end = location.size ();
  size_t at = location.rfind ('@', end - 1);
  if (at == std::string::npos || at < start || end == start)
    return location;
  return location.substr (0, start) + location.substr (at + 1);
}

/* A userinfo component decoded once (RFC 3986 3.2.1); false if it has a bad escape or a NUL. */
bool
decode_userinfo (const gchar *encoded, std::string & out)
{
  if (!encoded)
    return true;
  g_autofree gchar *decoded = g_uri_unescape_string (encoded, nullptr);
  if (!decoded)
    return false;
  out = decoded;
  return true;
}

Target
parse_location (const std::string & location)
{
  Target t;
  if (location.empty ()) {
    t.error = "no location set";
    return t;
  }
  g_autoptr (GError) error = nullptr;
  /* ENCODED: the parts stay as written (nothing is decoded and encoded again). */
  g_autoptr (GUri) uri = g_uri_parse (location.c_str (),
      static_cast<GUriFlags> (G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD), &error);
  if (!uri) {
    t.error = std::string ("not a URL: ") + cr::redact_text (error->message);
    return t;
  }
  std::string scheme = g_uri_get_scheme (uri);
  if (scheme == "http" || scheme == "https")
    t.kind = Kind::Http;
  else if (scheme == "rtsp" || scheme == "rtsps" || scheme == "rtspt")
    t.kind = Kind::Rtsp;
  else if (scheme == "v4l2")
    t.kind = Kind::V4l2;
  else {
    t.error = "the scheme " + scheme + ": is not one of http, https, rtsp, rtsps, rtspt, v4l2";
    return t;
  }
  if (t.kind == Kind::V4l2) {
    g_autofree gchar *device = g_uri_unescape_string (g_uri_get_path (uri), nullptr);
    t.device = device ? device : "";
    if (t.device.empty () || t.device[0] != '/')
      t.error = "a V4L2 location names the device, e.g. v4l2:///dev/video0";
    t.url = "v4l2://" + t.device;
    return t;
  }
  if (!g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    t.error = "the URL has no host";
    return t;
  }
  if (!decode_userinfo (g_uri_get_user (uri), t.user) ||
      !decode_userinfo (g_uri_get_password (uri), t.password)) {
    t.error = "the user or password in the URL has a bad %-escape";
    return t;
  }
  t.url = without_userinfo (location);
  return t;
}

struct Settings
{
  std::string location = DEFAULT_LOCATION;
  GstClockTime snapshot_interval = DEFAULT_SNAPSHOT_INTERVAL;
  GstClockTime io_timeout = DEFAULT_IO_TIMEOUT;
  guint64 max_frame_size = DEFAULT_MAX_FRAME_SIZE;
  bool active = DEFAULT_ACTIVE;
  std::string tls_ca = DEFAULT_TLS_CA;
  std::string tls_pinned = DEFAULT_TLS_PINNED;
};

/* Whether @location goes over TLS (https, rtsps). */
bool
uses_tls (const std::string & location)
{
  return g_str_has_prefix (location.c_str (), "https:") ||
      g_str_has_prefix (location.c_str (), "rtsps:");
}

}  // namespace

struct CrPullJpegSrcPrivate
{
  explicit CrPullJpegSrcPrivate (CrPullJpegSrc *self) : self (self) {}

  void run ();
  GstElement *build_head (const Target & t, std::string & error);
  bool use_trust (GstElement *src, const Settings & s, std::string & error);
  void link_output (GstElement *head, GstPad *pad);
  void frame (GstBuffer *buffer);
  void fail_run (const std::string & cause, bool weak = false);
  /* Under the lock; returns the message to post (after unlocking), or nullptr. */
  GstMessage *set_state_locked (const std::string & state, const std::string & reason);
  void post (GstMessage *msg);
  /* Whether @message comes from the current try's bin (a child of the element). */
  bool from_try (GstMessage *message);
  /* What a message of the try means for it; TRUE if the message stops here. */
  bool handle_try_message (GstMessage *message);
  void start_tries ();
  void stop_tries ();
  void start_try (GstElement *bin);
  void end_try (GstElement *bin);

  CrPullJpegSrc *self;
  cr::ArrivalSrc arrival; /* the bin's appsrc and its stamps, set in init */

  /* Guards everything below. Never held while a try's bin changes state. */
  std::mutex lock;
  std::condition_variable cond;
  Settings settings;
  std::thread thread;
  bool quit = false;

  /* The current try: a bin inside the element (locked state, started and stopped by the run
   * loop), and what it did. */
  GstElement *try_bin = nullptr;
  bool run_ended = false;
  std::string run_error;
  /* "Internal data stream error" and the like: kept only if no element says more. */
  std::string run_error_weak;
  bool run_got_frame = false;
  bool multipart = false;
  bool snapshot = false;
  bool have_output = false;
  bool answered = false;
  /* What this try of an HTTP camera saw, to explain its failure (crpullreason.h). */
  cr::PullAnswer answer;
  /* The try failed before any answer: the camera is looked at once more to say why. */
  bool needs_probe = false;
  /* Cancelled to stop that look at once (PAUSED->READY, active=false). */
  GCancellable *probe_cancel = nullptr;
  /* The camera fails soon after each recovery: its recoveries are not posted. */
  bool flapping = false;
  /* The causes posted since it last streamed for good: while it flaps, each is worth one line,
   * not one per try. */
  std::set<std::string> flap_causes;
  std::chrono::steady_clock::time_point streaming_since;
  Kind kind = Kind::None;
  std::string content_type;    /* of the HTTP answer, without parameters */
  CrTlsTrust *trust = nullptr; /* of the current try (https, rtsps), says why it refused */
  std::chrono::steady_clock::time_point last_progress;
  guint64 pending_bytes = 0;
  GstAdapter *adapter = nullptr;

  /* Stats. */
  std::string shown_location;
  std::string state = "idle";
  std::string posted_state;
  std::string posted_reason;
  std::string last_error;
  guint64 reconnects = 0;
  guint64 frames = 0;
  guint64 bytes = 0;
  guint64 dropped = 0;
  guint64 snapshots = 0;
};

struct _CrPullJpegSrc
{
  GstBin parent;
  CrPullJpegSrcPrivate *priv;
};

#define cr_pull_jpeg_src_parent_class parent_class
G_DEFINE_TYPE (CrPullJpegSrc, cr_pull_jpeg_src, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (pulljpegsrc, "pulljpegsrc", GST_RANK_NONE, CR_TYPE_PULL_JPEG_SRC);

static void cr_pull_jpeg_src_finalize (GObject *object);
static void cr_pull_jpeg_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_pull_jpeg_src_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_pull_jpeg_src_change_state (GstElement *element,
    GstStateChange transition);
static void cr_pull_jpeg_src_handle_message (GstBin *bin, GstMessage *message);

static void
cr_pull_jpeg_src_class_init (CrPullJpegSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = cr_pull_jpeg_src_finalize;
  gobject_class->set_property = cr_pull_jpeg_src_set_property;
  gobject_class->get_property = cr_pull_jpeg_src_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_pull_jpeg_src_change_state);
  GST_BIN_CLASS (klass)->handle_message = GST_DEBUG_FUNCPTR (cr_pull_jpeg_src_handle_message);

  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto playing = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "The camera: http(s)://[user:password@]host/path (MJPEG or snapshot), "
          "rtsp://[user:password@]host/path, or v4l2:///dev/videoN; read back without the "
          "credentials",
          DEFAULT_LOCATION, ready));
  g_object_class_install_property (gobject_class, PROP_SNAPSHOT_INTERVAL,
      g_param_spec_uint64 ("snapshot-interval", "Snapshot interval",
          "Nanoseconds from one fetch of a snapshot URL (one answering image/jpeg) to the next",
          GST_MSECOND * 10, GST_SECOND * 3600, DEFAULT_SNAPSHOT_INTERVAL, ready));
  g_object_class_install_property (gobject_class, PROP_IO_TIMEOUT,
      g_param_spec_uint64 ("io-timeout", "I/O timeout",
          "Nanoseconds without a frame (or a snapshot) before the connection is given up and "
          "tried again",
          GST_SECOND, 3600 * GST_SECOND, DEFAULT_IO_TIMEOUT, ready));
  g_object_class_install_property (gobject_class, PROP_MAX_FRAME_SIZE,
      g_param_spec_uint64 ("max-frame-size", "Maximum frame size",
          "Bytes a part or snapshot may reach before the connection is ended as broken "
          "(bounds memory; smaller limits belong to jpegvalidate max-size)",
          1024, G_MAXUINT32, DEFAULT_MAX_FRAME_SIZE, ready));
  g_object_class_install_property (gobject_class, PROP_ACTIVE,
      g_param_spec_boolean ("active", "Active",
          "Whether the camera is opened; FALSE closes it until set again", DEFAULT_ACTIVE,
          playing));
  g_object_class_install_property (gobject_class, PROP_TLS_CA,
      g_param_spec_string ("tls-ca", "TLS CA file",
          "A PEM file of the CA certificate(s) an https:// or rtsps:// camera's certificate must "
          "be signed by, instead of the system's CAs (\"\" = the system's)",
          DEFAULT_TLS_CA, ready));
  g_object_class_install_property (gobject_class, PROP_TLS_PINNED_CERTIFICATE,
      g_param_spec_string ("tls-pinned-certificate", "TLS pinned certificate",
          "A PEM file of the certificate an https:// or rtsps:// camera must present, trusted as "
          "it is whatever its names, signer or dates (a camera's self-signed certificate); "
          "\"\" = none",
          DEFAULT_TLS_PINNED, ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "location (without credentials), state (connecting, streaming, retrying, idle), "
          "last-error, reconnects, frames, bytes, snapshots, dropped (queue full)",
          GST_TYPE_STRUCTURE, readonly));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Pulled JPEG camera source",
      "Source/Network/Video",
      "Pulls JPEG frames from an MJPEG, snapshot, RTSP or V4L2 camera and reconnects by itself",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_pull_jpeg_src_debug, "pulljpegsrc", 0,
      "camrelay pulled JPEG camera source");
  cr::strip_range_requests ();
}

static void
cr_pull_jpeg_src_init (CrPullJpegSrc *self)
{
  CrPullJpegSrcPrivate *priv = new CrPullJpegSrcPrivate (self);
  self->priv = priv;
  priv->adapter = gst_adapter_new ();
  priv->probe_cancel = g_cancellable_new ();
  /* As wsjpegsrc: a small queue that drops its oldest frame and never blocks the camera side. */
  priv->arrival.build (GST_BIN (self), DEFAULT_QUEUE_SIZE);
}

static void
cr_pull_jpeg_src_finalize (GObject *object)
{
  CrPullJpegSrc *self = CR_PULL_JPEG_SRC (object);
  g_object_unref (self->priv->adapter);
  g_object_unref (self->priv->probe_cancel);
  g_clear_object (&self->priv->trust);
  delete self->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */
/* The try's callbacks (its streaming threads)                                                   */

void
CrPullJpegSrcPrivate::post (GstMessage *msg)
{
  if (msg)
    gst_element_post_message (GST_ELEMENT (self), msg);
}

GstMessage *
CrPullJpegSrcPrivate::set_state_locked (const std::string & new_state, const std::string & reason)
{
  state = new_state;
  /* "1,580 bytes so far" and "1,659 bytes so far" are one cause: one line. */
  if (posted_state == new_state && cr::cause_key (posted_reason) == cr::cause_key (reason))
    return nullptr;
  posted_state = new_state;
  posted_reason = reason;
  GST_INFO_OBJECT (self, "%s: %s%s%s", shown_location.c_str (), new_state.c_str (),
      reason.empty () ? "" : ", ", reason.c_str ());
  GstStructure *s = gst_structure_new ("pulljpegsrc-state", "location", G_TYPE_STRING,
      shown_location.c_str (), "state", G_TYPE_STRING, new_state.c_str (), "reason", G_TYPE_STRING,
      reason.c_str (), nullptr);
  return gst_message_new_element (GST_OBJECT (self), s);
}

void
CrPullJpegSrcPrivate::fail_run (const std::string & cause, bool weak)
{
  /* A cause quotes what the camera or an element said, which may name a URL with credentials. */
  std::string shown = cr::redact_text (cause);
  std::lock_guard<std::mutex> guard (lock);
  if (weak && run_error_weak.empty ())
    run_error_weak = shown;
  else if (!weak && run_error.empty ())
    run_error = shown;
  run_ended = true;
  cond.notify_all ();
}

/* A whole frame: stamped with its arrival on the outer pipeline's clock and queued. */
void
CrPullJpegSrcPrivate::frame (GstBuffer *buffer)
{
  buffer = arrival.stamp (buffer);
  GstMessage *msg = nullptr;
  {
    std::lock_guard<std::mutex> guard (lock);
    frames++;
    bytes += gst_buffer_get_size (buffer);
    pending_bytes = 0;
    run_got_frame = true;
    last_progress = std::chrono::steady_clock::now ();
    if (arrival.full ())
      dropped++;
    if (state != "streaming") {
      streaming_since = last_progress;
      /* A flapping camera's recoveries are no news: the run loop posts one that lasts. */
      if (flapping)
        state = "streaming";
      else
        msg = set_state_locked ("streaming", "");
    }
  }
  post (msg);
  arrival.push (buffer);
}

static std::string
snapshot_too_large (guint64 limit)
{
  return "the snapshot is larger than " + std::to_string (limit) + " bytes (max-frame-size)";
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_OK;
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  bool snapshot;
  bool failed;
  guint64 limit;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    snapshot = priv->snapshot;
    failed = !priv->run_error.empty ();
    limit = priv->settings.max_frame_size;
  }
  /* This try has failed (e.g. an answer announced too large): nothing more of it is kept. */
  if (failed)
    return GST_FLOW_EOS;
  if (!snapshot) {
    priv->frame (gst_buffer_ref (buffer));
    return GST_FLOW_OK;
  }
  /* A snapshot arrives in pieces; it is a frame once the response ends. One that grows past the
   * limit is a rejected frame: what came is dropped now, the rest is never read. */
  if (gst_adapter_available (priv->adapter) + gst_buffer_get_size (buffer) > limit) {
    gst_adapter_clear (priv->adapter);
    priv->fail_run (snapshot_too_large (limit));
    return GST_FLOW_EOS;
  }
  gst_adapter_push (priv->adapter, gst_buffer_ref (buffer));
  return GST_FLOW_OK;
}

static void
on_eos (GstAppSink *, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  bool snapshot;
  bool failed;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    snapshot = priv->snapshot;
    failed = !priv->run_error.empty ();
  }
  gsize size = gst_adapter_available (priv->adapter);
  /* An answer that failed (too large, cut short) is no picture: nothing of it is pushed. */
  if (failed)
    gst_adapter_clear (priv->adapter);
  else if (snapshot && size > 0) {
    {
      std::lock_guard<std::mutex> guard (priv->lock);
      priv->snapshots++;
    }
    priv->frame (gst_adapter_take_buffer (priv->adapter, size));
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->run_ended = true;
  if (!snapshot && priv->run_error.empty ())
    priv->run_error = "the camera ended the stream";
  priv->cond.notify_all ();
}

/* Bytes from the camera that have not become a frame yet: a part whose boundary never comes
 * would otherwise grow in multipartdemux without end. */
static GstPadProbeReturn
count_input (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  guint64 limit;
  bool over, ended;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->pending_bytes += gst_buffer_get_size (buffer);
    if (priv->answer.head.size () < cr::PullAnswer::HEAD_BYTES) {
      GstMapInfo map;
      if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
        priv->answer.add_body (map.data, map.size);
        gst_buffer_unmap (buffer, &map);
      }
    } else {
      priv->answer.body_bytes += gst_buffer_get_size (buffer);
    }
    limit = priv->settings.max_frame_size;
    over = !priv->snapshot && priv->pending_bytes > limit + 64 * 1024;
    ended = priv->run_ended;
  }
  /* A try that failed reads nothing more: what still comes would only be held in memory until
   * the try is torn down (a gzip bomb inflates faster than that). */
  if (ended) {
    GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_EOS;
    return GST_PAD_PROBE_DROP;
  }
  if (!over)
    return GST_PAD_PROBE_OK;
  priv->fail_run ("more than " + std::to_string (limit) +
      " bytes arrived without a complete "
      "frame (a part too large, or a boundary that never comes)");
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_EOS;
  return GST_PAD_PROBE_DROP;
}

/* A sink that ends a try's chain inside the element is none of the application's sinks: the
 * pipeline would otherwise count the element as one, and wait for its end-of-stream. */
static GstElement *
inner_sink (GstElement *sink)
{
  if (sink)
    GST_OBJECT_FLAG_UNSET (sink, GST_ELEMENT_FLAG_SINK);
  return sink;
}

void
CrPullJpegSrcPrivate::link_output (GstElement *head, GstPad *pad)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  bool jpeg = gst_structure_has_name (s, "image/jpeg");
  bool raw = gst_structure_has_name (s, "video/x-raw");
  bool take;
  {
    std::lock_guard<std::mutex> guard (lock);
    take = (jpeg || raw) && !have_output;
    if (take) {
      have_output = true;
      /* An HTTP answer that was not demuxed is a single picture. */
      snapshot = jpeg && !multipart && g_str_has_prefix (settings.location.c_str (), "http");
    }
  }
  GstElement *chain[3] = { nullptr, nullptr, nullptr };
  if (!take) {
    chain[0] = inner_sink (gst_element_factory_make ("fakesink", nullptr));
    if (chain[0])
      g_object_set (chain[0], "sync", FALSE, "async", FALSE, nullptr);
  } else {
    GstElement *sink = inner_sink (GST_ELEMENT (g_object_new (GST_TYPE_APP_SINK, nullptr)));
    g_object_set (sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, "max-buffers",
        4u, "drop", TRUE, "emit-signals", FALSE, nullptr);
    GstAppSinkCallbacks callbacks = {};
    callbacks.eos = on_eos;
    callbacks.new_sample = on_new_sample;
    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, this, nullptr);
    if (raw) {
      chain[0] = gst_element_factory_make ("videoconvert", nullptr);
      chain[1] = gst_element_factory_make ("jpegenc", nullptr);
      chain[2] = sink;
    } else {
      chain[0] = sink;
    }
  }
  std::vector<GstElement *> list;
  for (GstElement *e : chain) {
    if (e)
      list.push_back (e);
  }
  bool missing = !chain[0] || (raw && take && (!chain[1] || !chain[2]));
  if (missing) {
    for (GstElement *e : list)
      gst_object_unref (gst_object_ref_sink (e));
    fail_run ("a GStreamer element is missing (videoconvert, jpegenc or appsink)");
    return;
  }
  for (GstElement *e : list)
    gst_bin_add (GST_BIN (head), e);
  for (size_t i = 1; i < list.size (); i++)
    gst_element_link (list[i - 1], list[i]);
  for (GstElement *e : list)
    gst_element_sync_state_with_parent (e);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (list[0], "sink");
  if (GST_PAD_LINK_FAILED (gst_pad_link (pad, sinkpad)))
    fail_run ("cannot link the camera's stream");
}

static void
on_decoded_pad (GstElement *decodebin, GstPad *pad, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  GstObject *head = gst_object_get_parent (GST_OBJECT (decodebin));
  if (head) {
    priv->link_output (GST_ELEMENT (head), pad);
    gst_object_unref (head);
  }
}

static void
on_element_added (GstBin *, GstBin *, GstElement *element, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  GstElementFactory *f = gst_element_get_factory (element);
  if (f && g_str_equal (GST_OBJECT_NAME (f), "multipartdemux")) {
    /* Else decodebin waits for more streams before it exposes the frames. */
    g_object_set (element, "single-stream", TRUE, nullptr);
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->multipart = true;
  }
}

/* decodebin's GstAutoplugSelectResult, which no public header declares. */
enum
{
  AUTOPLUG_SELECT_TRY = 0,
  AUTOPLUG_SELECT_SKIP = 2,
};

/* What decodebin may plug for an HTTP camera: its bytes are untrusted (whoever answers on its
 * plain-HTTP path writes them), so the only element is multipartdemux; a single JPEG is exposed
 * as it is. No other demuxer or decoder ever sees them. */
static gint
on_autoplug_select_http (GstElement *, GstPad *, GstCaps *, GstElementFactory *factory, gpointer)
{
  return g_str_equal (GST_OBJECT_NAME (factory), "multipartdemux") ? AUTOPLUG_SELECT_TRY
                                                                   : AUTOPLUG_SELECT_SKIP;
}

/* An RTSP or V4L2 camera's codec is the user's choice: its RTP depayloader, a video parser and a
 * video decoder may be plugged, never a demuxer or anything that is not video. */
static gint
on_autoplug_select_codec (GstElement *, GstPad *, GstCaps *, GstElementFactory *factory, gpointer)
{
  const gchar *klass = gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_KLASS);
  if (!klass)
    return AUTOPLUG_SELECT_SKIP;
  bool video = strstr (klass, "Video") || strstr (klass, "Image");
  bool wanted = strstr (klass, "Depayloader") ||
      (video && (strstr (klass, "Parser") || strstr (klass, "Decoder")));
  return wanted && !strstr (klass, "Demux") ? AUTOPLUG_SELECT_TRY : AUTOPLUG_SELECT_SKIP;
}

/* The reason for a camera answer that is neither MJPEG nor a JPEG picture. */
static std::string
not_a_camera_answer (const std::string & type)
{
  return "the camera answered " + type +
      "; camrelay takes multipart/x-mixed-replace MJPEG or image/jpeg";
}

/* Nothing may be plugged for what the camera sent: the try ends with what it was. */
static void
on_unknown_type (GstElement *, GstPad *, GstCaps *caps, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  std::string found = s ? gst_structure_get_name (s) : "data of no known type";
  std::string header;
  bool multipart;
  bool http;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    header = priv->content_type;
    multipart = priv->multipart;
    http = priv->kind == Kind::Http;
  }
  if (!http) {
    const gchar *encoding = s ? gst_structure_get_string (s, "encoding-name") : nullptr;
    priv->fail_run (std::string ("camrelay takes no ") + (encoding ? encoding : found.c_str ()) +
        " from this camera (no video depayloader, parser or decoder for it)");
  } else if (multipart)
    priv->fail_run ("a part of the camera's MJPEG stream is " + found + ", not image/jpeg");
  else if (header.empty ())
    priv->fail_run (not_a_camera_answer (found));
  else if (g_str_has_suffix (header.c_str (), "/octet-stream"))
    /* A type that says nothing: what the bytes turned out to be says more. */
    priv->fail_run (not_a_camera_answer (header + " (" + found + ")"));
  else
    priv->fail_run (not_a_camera_answer (header));
}

static GstElement *
new_decodebin (CrPullJpegSrcPrivate *priv, bool http)
{
  GstElement *decode = gst_element_factory_make ("decodebin", nullptr);
  if (!decode)
    return nullptr;
  g_autoptr (GstCaps) caps = gst_caps_from_string ("image/jpeg; video/x-raw");
  g_object_set (decode, "caps", caps, nullptr);
  g_signal_connect (decode, "pad-added", G_CALLBACK (on_decoded_pad), priv);
  g_signal_connect (decode, "autoplug-select",
      http ? G_CALLBACK (on_autoplug_select_http) : G_CALLBACK (on_autoplug_select_codec), nullptr);
  g_signal_connect (decode, "unknown-type", G_CALLBACK (on_unknown_type), priv);
  return decode;
}

/* rtspsrc: each video stream goes to its own decodebin, anything else to a fakesink. */
static void
on_rtsp_pad (GstElement *rtspsrc, GstPad *pad, gpointer data)
{
  auto *priv = static_cast<CrPullJpegSrcPrivate *> (data);
  GstElement *head = GST_ELEMENT (gst_object_get_parent (GST_OBJECT (rtspsrc)));
  if (!head)
    return;
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *media = gst_structure_get_string (s, "media");
  GstElement *next;
  if (media && g_str_equal (media, "video")) {
    next = new_decodebin (priv, false);
  } else {
    next = inner_sink (gst_element_factory_make ("fakesink", nullptr));
    g_object_set (next, "sync", FALSE, "async", FALSE, nullptr);
  }
  gst_bin_add (GST_BIN (head), next);
  gst_element_sync_state_with_parent (next);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (next, "sink");
  if (GST_PAD_LINK_FAILED (gst_pad_link (pad, sinkpad)))
    priv->fail_run ("cannot link the camera's RTSP stream");
  gst_object_unref (head);
}

/* The answer's headers that explain a failure (crpullreason.h). */
static void
remember_answer_headers (cr::PullAnswer & answer, const GstStructure *headers)
{
  for (gint i = 0; headers && i < gst_structure_n_fields (headers); i++) {
    const gchar *name = gst_structure_nth_field_name (headers, i);
    const gchar *value = gst_structure_get_string (headers, name);
    if (!value)
      continue;
    if (g_ascii_strcasecmp (name, "Content-Type") == 0) {
      answer.content_type = value;
      answer.snapshot = g_str_has_prefix (value, "image/");
    } else if (g_ascii_strcasecmp (name, "Content-Encoding") == 0) {
      answer.content_encoding = value;
    } else if (g_ascii_strcasecmp (name, "Location") == 0) {
      answer.location = cr::redact_url (value);
    }
  }
}

/* The header value @name (any case) of souphttpsrc's response-headers, or "". */
static std::string
header_value (const GstStructure *headers, const char *name)
{
  for (gint i = 0; i < gst_structure_n_fields (headers); i++) {
    const gchar *field = gst_structure_nth_field_name (headers, i);
    if (g_ascii_strcasecmp (field, name) == 0) {
      const gchar *value = gst_structure_get_string (headers, field);
      return value ? value : "";
    }
  }
  return "";
}

/* A 2xx answer's headers: its type is kept for the reasons, a page of text is a clear mistake,
 * and a single picture announced larger than a frame may be is refused before its body. */
static void
check_answer_headers (CrPullJpegSrcPrivate *priv, const GstStructure *headers)
{
  std::string type = header_value (headers, "Content-Type");
  type = type.substr (0, type.find (';'));
  std::string length = header_value (headers, "Content-Length");
  guint64 limit;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->content_type = type;
    limit = priv->settings.max_frame_size;
  }
  /* Only text is refused here (a login page, an error page): servers such as ffmpeg's send MJPEG
   * as application/octet-stream, so other types are left to typefind. */
  if (g_str_has_prefix (type.c_str (), "text/"))
    priv->fail_run (not_a_camera_answer (type));
  /* Some cameras give an MJPEG stream an absurd Content-Length: only a single picture is held to
   * it. */
  else if (!g_str_has_prefix (type.c_str (), "multipart/") && !length.empty () &&
      g_ascii_strtoull (length.c_str (), nullptr, 10) > limit)
    priv->fail_run (snapshot_too_large (limit));
}

/* A warning or an info of the try, as the application gets it: the same message with the text
 * redacted (an element's debug text may quote the URL, query credentials included). */
static GstMessage *
redacted_copy (GstMessage *message)
{
  g_autoptr (GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  bool warning = GST_MESSAGE_TYPE (message) == GST_MESSAGE_WARNING;
  if (warning)
    gst_message_parse_warning (message, &error, &debug);
  else
    gst_message_parse_info (message, &error, &debug);
  std::string text = cr::redact_text (error->message);
  std::string detail = debug ? cr::redact_text (debug) : "";
  g_autoptr (GError) shown = g_error_new_literal (error->domain, error->code, text.c_str ());
  const gchar *d = debug ? detail.c_str () : nullptr;
  return warning ? gst_message_new_warning (GST_MESSAGE_SRC (message), shown, d)
                 : gst_message_new_info (GST_MESSAGE_SRC (message), shown, d);
}

/* A message of the current try, in the thread that posts it. Its errors and its end are the
 * try's end (the run loop tries again), never the application's: they stop here, as does
 * souphttpsrc's "http-headers" (it carries the URL and the request's headers). Everything else
 * goes on to the application's bus. */
bool
CrPullJpegSrcPrivate::handle_try_message (GstMessage *message)
{
  CrPullJpegSrcPrivate *priv = this;
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = nullptr;
      g_autofree gchar *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      std::string cause = error->message;
      /* The last line of the debug text says what the OS or the server said. */
      if (debug) {
        std::string d = debug;
        size_t nl = d.rfind ('\n');
        std::string last = nl == std::string::npos ? d : d.substr (nl + 1);
        /* souphttpsrc: "Not Found (404), URL: ..., Redirect to: ..." says it all up to the URL. */
        size_t url = last.find (", URL: ");
        if (url != std::string::npos)
          cause = last.substr (0, url);
        else if (!last.empty () && last.find (".c(") == std::string::npos && last != cause)
          cause += " (" + last + ")";
      }
      /* The camera's own element knows best; decodebin's "cannot typefind" follows from it. */
      GstElementFactory *f = GST_IS_ELEMENT (GST_MESSAGE_SRC (message))
          ? gst_element_get_factory (GST_ELEMENT (GST_MESSAGE_SRC (message)))
          : nullptr;
      const gchar *factory = f ? GST_OBJECT_NAME (f) : "";
      bool from_camera = g_str_equal (factory, "souphttpsrc") || g_str_equal (factory, "rtspsrc") ||
          g_str_equal (factory, "v4l2src");
      bool weak = !from_camera;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        bool has_user = parse_location (priv->settings.location).user.size () > 0;
        std::string why = cr::http_error_reason (error, debug, priv->answer, has_user);
        if (!why.empty ())
          cause = why;
        /* souphttpsrc says only "Internal data stream error" when it cannot connect, when the
         * answer is not HTTP, when the connection breaks, and when an element after it failed
         * (libsoup's reason stays in its debug log). */
        bool generic = g_str_equal (factory, "souphttpsrc") && cr::is_generic_stream_error (error);
        if (!generic && priv->needs_probe && !weak) {
          /* souphttpsrc's own reason, posted from libsoup's thread after the generic error that
           * stood in for it: the reason wins. */
          priv->needs_probe = false;
          priv->run_error.clear ();
        }
        if (generic) {
          if (!priv->answered) {
            /* The run loop looks at the camera again to say why. */
            priv->needs_probe = true;
            cause = "cannot connect to the camera (refused, unreachable or timed out)";
          } else if (!priv->run_error_weak.empty ()) {
            weak = true; /* the element after it said why */
          } else {
            std::string said = cr::answer_reason (priv->answer, true);
            cause = said.empty () ? "the connection to the camera was lost" : said;
          }
        }
      }
      priv->fail_run (cause, weak);
      return true;
    }
    case GST_MESSAGE_EOS: {
      /* A snapshot ends each answer; on_eos() has taken the picture already. */
      bool snapshot;
      {
        std::lock_guard<std::mutex> guard (priv->lock);
        snapshot = priv->snapshot;
      }
      if (!snapshot) {
        std::string said;
        {
          std::lock_guard<std::mutex> guard (priv->lock);
          said = cr::answer_reason (priv->answer, false);
        }
        priv->fail_run (said.empty () ? "the camera ended the stream" : said);
      }
      return true;
    }
    case GST_MESSAGE_ELEMENT: {
      /* souphttpsrc's answer headers: a page of text is a clear mistake. */
      const GstStructure *s = gst_message_get_structure (message);
      const GstStructure *headers = nullptr;
      if (!s || !gst_structure_has_name (s, "http-headers"))
        return false;
      const GValue *v = gst_structure_get_value (s, "response-headers");
      if (v && G_VALUE_HOLDS (v, GST_TYPE_STRUCTURE))
        headers = gst_value_get_structure (v);
      guint status = 0;
      gst_structure_get_uint (s, "http-status-code", &status);
      if (status) {
        std::lock_guard<std::mutex> guard (priv->lock);
        priv->answered = true;
        priv->answer.answered = true;
        priv->answer.status = status;
        remember_answer_headers (priv->answer, headers);
      }
      /* A compressed answer is refused before its body: inflated, a few kilobytes of a gzip bomb
       * are gigabytes (souphttpsrc asks for none; libsoup would inflate it all the same). */
      std::string compressed = cr::compression_refused (priv->answer);
      if (!compressed.empty ())
        priv->fail_run (compressed);
      if (headers && !(status && status >= 300))
        check_answer_headers (priv, headers);
      return true;
    }
    /* The try's preroll and stream start are its own (the element's stream is its appsrc's). A
     * parent bin would also keep them, and with them the try, until the element stops. */
    case GST_MESSAGE_ASYNC_START:
    case GST_MESSAGE_ASYNC_DONE:
    case GST_MESSAGE_STREAM_START:
      return true;
    case GST_MESSAGE_HAVE_CONTEXT: {
      /* souphttpsrc offers its HTTP session to the whole pipeline; kept there, the next try would
       * reuse it (its pooled connections, its timing), and a broken answer would be told apart
       * differently from one try to the next. Each try has a session of its own, as a fresh
       * connection to the camera. */
      GstContext *context = nullptr;
      gst_message_parse_have_context (message, &context);
      bool session =
          context && g_str_equal (gst_context_get_context_type (context), "gst.soup.session");
      if (context)
        gst_context_unref (context);
      return session;
    }
    default:
      return false;
  }
}

/* A TLS camera's trust (the system's CAs, tls-ca, tls-pinned-certificate) on its source element,
 * kept for this try so that a refused certificate can be named. */
bool
CrPullJpegSrcPrivate::use_trust (GstElement *src, const Settings & s, std::string & error)
{
  if (!uses_tls (s.location))
    return true;
  g_autoptr (GError) gerror = nullptr;
  CrTlsTrust *made = cr_tls_trust_new (s.tls_ca, s.tls_pinned, &gerror);
  if (!made) {
    error = std::string ("cannot use the TLS files: ") + gerror->message;
    return false;
  }
  g_object_set (src, "tls-database", made, nullptr);
  std::lock_guard<std::mutex> guard (lock);
  g_clear_object (&trust);
  trust = made;
  return true;
}

GstElement *
CrPullJpegSrcPrivate::build_head (const Target & t, std::string & error)
{
  Settings s;
  {
    std::lock_guard<std::mutex> guard (lock);
    s = settings;
  }
  /* A bin of the element's own (in the application's pipeline, on its clock and its bus, with its
   * contexts), its state left to the run loop: the element's state changes never touch it. */
  GstElement *head = gst_bin_new ("camera");
  gst_object_ref_sink (head);
  gst_element_set_locked_state (head, TRUE);
  /* It prerolls by itself (decodebin waits for the camera's first bytes): that wait is the try's,
   * never the application pipeline's. */
  g_object_set (head, "async-handling", TRUE, nullptr);
  g_signal_connect (head, "deep-element-added", G_CALLBACK (on_element_added), this);

  GstElement *src = nullptr;
  const char *factory = t.kind == Kind::Http ? "souphttpsrc"
      : t.kind == Kind::Rtsp                 ? "rtspsrc"
                                             : "v4l2src";
  src = gst_element_factory_make (factory, nullptr);
  if (!src) {
    error = std::string ("the GStreamer element ") + factory + " is not installed";
    gst_object_unref (head);
    return nullptr;
  }
  gst_bin_add (GST_BIN (head), src);
  if (t.kind == Kind::Http) {
    /* Longer than the watchdog's: souphttpsrc's own timeout would try to resume with a Range
     * request, which a camera refuses with a misleading "does not support seeking". */
    const guint timeout_s = static_cast<guint> ((s.io_timeout + GST_SECOND - 1) / GST_SECOND) + 5;
    g_object_set (src, "location", t.url.c_str (), "is-live", TRUE, "timeout", timeout_s, "retries",
        0, nullptr);
    if (!t.user.empty ())
      g_object_set (src, "user-id", t.user.c_str (), "user-pw", t.password.c_str (), nullptr);
    /* Also how the hook of crpullreason knows the requests whose Range it removes. */
    g_object_set (src, "user-agent", cr::pull_user_agent (), nullptr);
    if (!use_trust (src, s, error)) {
      gst_object_unref (head);
      return nullptr;
    }
  } else if (t.kind == Kind::Rtsp) {
    g_object_set (src, "location", t.url.c_str (), "latency", 200u, "tcp-timeout",
        static_cast<guint64> (GST_TIME_AS_USECONDS (s.io_timeout)), nullptr);
    if (!t.user.empty ())
      g_object_set (src, "user-id", t.user.c_str (), "user-pw", t.password.c_str (), nullptr);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_rtsp_pad), this);
    if (!use_trust (src, s, error)) {
      gst_object_unref (head);
      return nullptr;
    }
    return head;
  } else {
    g_object_set (src, "device", t.device.c_str (), nullptr);
  }
  GstElement *decode = new_decodebin (this, t.kind == Kind::Http);
  if (!decode) {
    error = "the GStreamer element decodebin is not installed";
    gst_object_unref (head);
    return nullptr;
  }
  gst_bin_add (GST_BIN (head), decode);
  GstElement *before_decode = src;
  if (t.kind == Kind::V4l2) {
    /* v4l2src prefers raw formats when downstream takes anything; a device that gives MJPEG
     * is asked for it, so that its frames pass as they are instead of being encoded. */
    gst_element_set_state (src, GST_STATE_READY);
    g_autoptr (GstPad) pad = gst_element_get_static_pad (src, "src");
    g_autoptr (GstCaps) jpeg = gst_caps_new_empty_simple ("image/jpeg");
    g_autoptr (GstCaps) device = gst_pad_query_caps (pad, jpeg);
    if (device && !gst_caps_is_empty (device)) {
      GstElement *filter = gst_element_factory_make ("capsfilter", nullptr);
      g_object_set (filter, "caps", jpeg, nullptr);
      gst_bin_add (GST_BIN (head), filter);
      gst_element_link (src, filter);
      before_decode = filter;
    }
  }
  gst_element_link (before_decode, decode);
  if (t.kind == Kind::Http) {
    g_autoptr (GstPad) pad = gst_element_get_static_pad (src, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_input, this, nullptr);
  }
  return head;
}

/* ---------------------------------------------------------------------------------------------- */
/* The supervisor thread: one try after the other                                                 */

/* Brings every element of a try to NULL. A bin's change to NULL stops at the first child that
 * fails (decodebin after a demuxer error), leaving souphttpsrc running and the rest in READY: each
 * is then stopped on its own, or disposing of them would be an error. */
static void
stop_head (GstElement *head)
{
  if (gst_element_set_state (head, GST_STATE_NULL) != GST_STATE_CHANGE_FAILURE)
    return;
  GST_DEBUG ("a try did not stop as a whole; stopping its elements one by one");
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (head));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    gst_element_set_state (GST_ELEMENT (g_value_get_object (&item)), GST_STATE_NULL);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  gst_element_set_state (head, GST_STATE_NULL);
}

/* Hands what a try buffered back to the system. The pieces of a large unfinished frame were
 * allocated in the try's streaming threads, and glibc keeps what is freed in their malloc arenas
 * (the camrelay program also makes blocks of 1 MiB and more come from mmap; any other application
 * gets at least this). */
static void
release_memory ()
{
#if defined(__GLIBC__)
  malloc_trim (0);
#endif
}

/* The run loop's thread, started once the element (and so its clock) is PLAYING. */
void
CrPullJpegSrcPrivate::start_tries ()
{
  {
    std::lock_guard<std::mutex> guard (lock);
    quit = false;
  }
  thread = std::thread ([this] { run (); });
}

/* Stops the run loop: its try, a look at the camera, a wait for the next try. */
void
CrPullJpegSrcPrivate::stop_tries ()
{
  {
    std::lock_guard<std::mutex> guard (lock);
    quit = true;
    cond.notify_all ();
  }
  g_cancellable_cancel (probe_cancel);
  if (thread.joinable ())
    thread.join ();
  std::lock_guard<std::mutex> guard (lock);
  state = "idle"; /* the next start says "connecting" again */
}

/* The try's bin joins the element (so its pipeline's clock, base time and contexts) and starts. */
void
CrPullJpegSrcPrivate::start_try (GstElement *bin)
{
  {
    std::lock_guard<std::mutex> guard (lock);
    try_bin = bin;
  }
  gst_bin_add (GST_BIN (self), bin); /* a second reference: the run loop keeps its own */
  gst_element_set_state (bin, GST_STATE_PLAYING);
}

/* The try's bin is stopped and leaves the element. It stays the current try until it has left:
 * what it posts while it stops (an error of a thread that was still reading) is still its own. */
void
CrPullJpegSrcPrivate::end_try (GstElement *bin)
{
  stop_head (bin);
  gst_bin_remove (GST_BIN (self), bin);
  {
    std::lock_guard<std::mutex> guard (lock);
    try_bin = nullptr;
  }
  gst_object_unref (bin);
}

bool
CrPullJpegSrcPrivate::from_try (GstMessage *message)
{
  GstObject *src = GST_MESSAGE_SRC (message);
  g_autoptr (GstObject) bin = nullptr;
  {
    std::lock_guard<std::mutex> guard (lock);
    if (try_bin)
      bin = GST_OBJECT (gst_object_ref (try_bin));
  }
  return bin && src && gst_object_has_as_ancestor (src, bin);
}

void
CrPullJpegSrcPrivate::run ()
{
  cr::Backoff backoff;
  /* When the last try ended: the wait before a try is its start minus this. */
  auto last_try_end = std::chrono::steady_clock::now ();
  std::unique_lock<std::mutex> lk (lock);
  while (!quit) {
    if (!settings.active) {
      flapping = false;
      flap_causes.clear ();
      GstMessage *msg = set_state_locked ("idle", "");
      lk.unlock ();
      post (msg);
      lk.lock ();
      cond.wait (lk, [this] { return quit || settings.active; });
      backoff.reset ();
      continue;
    }
    run_ended = false;
    run_error.clear ();
    run_error_weak.clear ();
    run_got_frame = false;
    multipart = false;
    snapshot = false;
    have_output = false;
    answered = false;
    answer = cr::PullAnswer ();
    needs_probe = false;
    g_cancellable_reset (probe_cancel);
    content_type.clear ();
    pending_bytes = 0;
    GstMessage *msg = nullptr;
    if (state == "idle")
      msg = set_state_locked ("connecting", "");
    Target t = parse_location (settings.location);
    kind = t.kind;
    GstClockTime interval = settings.snapshot_interval;
    lk.unlock ();
    post (msg);

    auto started = std::chrono::steady_clock::now ();
    std::string error = t.error;
    GstElement *bin = error.empty () ? build_head (t, error) : nullptr;
    if (bin)
      start_try (bin); /* a failure says why in a message */
    else
      fail_run (error);

    lk.lock ();
    /* A watchdog over every kind of camera: one that stays connected but sends nothing (an
     * RTSP server gone without a word, an HTTP camera stalled mid-part) is given up too. */
    last_progress = std::chrono::steady_clock::now ();
    auto silence = std::chrono::nanoseconds (settings.io_timeout);
    while (!cond.wait_for (lk, std::chrono::milliseconds (250),
        [this] { return quit || run_ended || !settings.active; })) {
      auto now = std::chrono::steady_clock::now ();
      if (now - last_progress > silence) {
        run_error = cr::stall_reason (answer, settings.io_timeout);
        /* Nothing answered at all: the run loop looks at the camera again to say why. */
        needs_probe = t.kind == Kind::Http && !answered;
        run_ended = true;
      } else if (state == "streaming" && posted_state != "streaming" &&
          now - streaming_since >= std::chrono::seconds (STABLE_STREAMING_S)) {
        /* A flapping camera that now streams for good: that is news. */
        flapping = false;
        flap_causes.clear ();
        GstMessage *recovered = set_state_locked ("streaming", "");
        lk.unlock ();
        post (recovered);
        lk.lock ();
      }
    }
    lk.unlock ();
    /* Stopping it joins its threads: every error they post is in before the cause is read. */
    if (bin)
      end_try (bin);
    gst_adapter_clear (adapter);
    lk.lock ();
    if (pending_bytes >= RELEASE_AFTER_BYTES)
      release_memory ();
    bool got_frame = run_got_frame;
    auto ended = std::chrono::steady_clock::now ();
    bool stable = got_frame && ended - streaming_since >= std::chrono::seconds (STABLE_STREAMING_S);
    /* Streamed at least as long as it waited before: live at least half the time. */
    bool earned = got_frame && ended - streaming_since >= started - last_try_end;
    last_try_end = ended;
    bool was_snapshot = snapshot && run_error.empty () && run_error_weak.empty () && run_ended;
    std::string cause = run_error.empty () ? run_error_weak : run_error;
    /* A refused certificate is the cause, whatever the element made of it. */
    if (trust) {
      std::string refusal = cr_tls_trust_refusal (trust);
      if (!refusal.empty ()) {
        cause = refusal;
        needs_probe = false; /* it answered, in TLS: that is all there is to say */
      }
      g_clear_object (&trust);
    }
    if (quit)
      break;
    if (!settings.active)
      continue;
    if (needs_probe && answered && !was_snapshot) {
      /* The answer's headers were handled after souphttpsrc's generic error (they come from
       * libsoup's thread): as if in order, the answer says why, not a probe. */
      std::string said = cr::answer_reason (answer, true);
      cause = !run_error_weak.empty () ? run_error_weak
          : said.empty ()              ? "the connection to the camera was lost"
                                       : said;
    } else if (needs_probe && !was_snapshot) {
      lk.unlock ();
      std::string seen = cr::probe_http_camera (t.url, PROBE_TIMEOUT_S, probe_cancel);
      lk.lock ();
      if (quit)
        break;
      if (!settings.active)
        continue;
      cause = seen;
    }
    if (was_snapshot) {
      backoff.reset ();
      cond.wait_until (lk, started + std::chrono::nanoseconds (interval),
          [this] { return quit || !settings.active; });
      continue;
    }
    if (cause.empty ())
      cause = "the camera ended the stream";
    /* Only a camera that streamed for a while starts the backoff again: one that fails each time
     * soon after its first frames is tried less and less often, like one that never answers. */
    bool was_flapping = flapping;
    flapping = (flapping || got_frame) && !stable;
    if (stable) {
      backoff.reset ();
      flap_causes.clear ();
    } else if (earned) {
      /* Nor is one that streamed at least as long as it waited before that try: a source that
       * moves now and then (an edge's origin replaced behind HAProxy, twice within seconds)
       * would otherwise be left 4, 8 ... 30 s behind. One that fails sooner still backs off. */
      backoff.reset ();
    }
    reconnects++;
    last_error = cause;
    if (was_flapping && flap_causes.count (cr::cause_key (cause))) {
      state = "retrying";
      msg = nullptr;
    } else {
      msg = set_state_locked ("retrying", cause);
    }
    flap_causes.insert (cr::cause_key (cause));
    lk.unlock ();
    post (msg);
    const guint delay_ms = backoff.next_ms ();
    GST_DEBUG_OBJECT (self, "next try in %u ms", delay_ms);
    lk.lock ();
    cond.wait_for (lk, std::chrono::milliseconds (delay_ms),
        [this] { return quit || !settings.active; });
  }
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
build_stats (CrPullJpegSrc *self)
{
  CrPullJpegSrcPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  return gst_structure_new ("pulljpegsrc-stats", "location", G_TYPE_STRING,
      priv->shown_location.c_str (), "state", G_TYPE_STRING, priv->state.c_str (), "last-error",
      G_TYPE_STRING, priv->last_error.c_str (), "reconnects", G_TYPE_UINT64, priv->reconnects,
      "frames", G_TYPE_UINT64, priv->frames, "bytes", G_TYPE_UINT64, priv->bytes, "snapshots",
      G_TYPE_UINT64, priv->snapshots, "dropped", G_TYPE_UINT64, priv->dropped, nullptr);
}

static void
cr_pull_jpeg_src_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrPullJpegSrc *self = CR_PULL_JPEG_SRC (object);
  CrPullJpegSrcPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_LOCATION: {
      s.location = g_value_get_string (value) ? g_value_get_string (value) : "";
      /* Shown everywhere (stats, messages, logs, read back): no userinfo, no credential values. */
      priv->shown_location = cr::redact_url (s.location);
      break;
    }
    case PROP_SNAPSHOT_INTERVAL:
      s.snapshot_interval = g_value_get_uint64 (value);
      break;
    case PROP_IO_TIMEOUT:
      s.io_timeout = g_value_get_uint64 (value);
      break;
    case PROP_MAX_FRAME_SIZE:
      s.max_frame_size = g_value_get_uint64 (value);
      break;
    case PROP_ACTIVE:
      s.active = g_value_get_boolean (value);
      if (!s.active)
        g_cancellable_cancel (priv->probe_cancel); /* a look at the camera ends at once too */
      priv->cond.notify_all ();
      break;
    case PROP_TLS_CA:
      s.tls_ca = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    case PROP_TLS_PINNED_CERTIFICATE:
      s.tls_pinned = g_value_get_string (value) ? g_value_get_string (value) : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_pull_jpeg_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrPullJpegSrc *self = CR_PULL_JPEG_SRC (object);
  CrPullJpegSrcPrivate *priv = self->priv;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, build_stats (self));
    return;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  const Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_LOCATION:
      /* Never hand the credentials back out: they end up in logs and dumps. */
      g_value_set_string (value, priv->shown_location.c_str ());
      break;
    case PROP_SNAPSHOT_INTERVAL:
      g_value_set_uint64 (value, s.snapshot_interval);
      break;
    case PROP_IO_TIMEOUT:
      g_value_set_uint64 (value, s.io_timeout);
      break;
    case PROP_MAX_FRAME_SIZE:
      g_value_set_uint64 (value, s.max_frame_size);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, s.active);
      break;
    case PROP_TLS_CA:
      g_value_set_string (value, s.tls_ca.c_str ());
      break;
    case PROP_TLS_PINNED_CERTIFICATE:
      g_value_set_string (value, s.tls_pinned.c_str ());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static GstStateChangeReturn
cr_pull_jpeg_src_change_state (GstElement *element, GstStateChange transition)
{
  CrPullJpegSrc *self = CR_PULL_JPEG_SRC (element);
  CrPullJpegSrcPrivate *priv = self->priv;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    std::lock_guard<std::mutex> guard (priv->lock);
    Target t = parse_location (priv->settings.location);
    if (!t.error.empty ()) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid camera location: %s", t.error.c_str ()), (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
    g_autoptr (GError) error = nullptr;
    g_autoptr (CrTlsTrust) trust =
        cr_tls_trust_new (priv->settings.tls_ca, priv->settings.tls_pinned, &error);
    if (!trust) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot use the TLS files (tls-ca, tls-pinned-certificate): %s", error->message),
          (nullptr));
      return GST_STATE_CHANGE_FAILURE;
    }
  }
  /* A live source: the camera is open in PLAYING only. The try's bin is thus never inside while
   * the element changes state, where GstBin would count its result (a locked child's last one:
   * ASYNC while decodebin waits for the camera) as the element's. */
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED)
    priv->stop_tries ();

  GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->state = "idle";
    priv->posted_state.clear ();
    priv->posted_reason.clear ();
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING)
    priv->start_tries ();
  return ret;
}

/* As fallbacksrc does with its source: the try's errors and end are the element's to act on (the
 * next try), its warnings and the rest are the application's, redacted. */
static void
cr_pull_jpeg_src_handle_message (GstBin *bin, GstMessage *message)
{
  CrPullJpegSrcPrivate *priv = CR_PULL_JPEG_SRC (bin)->priv;
  if (priv->from_try (message)) {
    if (priv->handle_try_message (message)) {
      gst_message_unref (message);
      return;
    }
    GstMessageType type = GST_MESSAGE_TYPE (message);
    if (type == GST_MESSAGE_WARNING || type == GST_MESSAGE_INFO) {
      GstMessage *shown = redacted_copy (message);
      gst_message_unref (message);
      message = shown;
    }
  }
  GST_BIN_CLASS (parent_class)->handle_message (bin, message);
}
