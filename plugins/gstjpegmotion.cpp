/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-jpegmotion
 * @title: jpegmotion
 *
 * Watches JPEG frames for motion and says when it starts and ends. Each analysed frame is
 * decoded at 1/8 scale in greyscale (libjpeg's DCT scaling: a VGA frame becomes 80x60 for a
 * fraction of a full decode) and compared with a running average of the scene, pixel by pixel,
 * after the change of light over the whole picture is taken off (see crmotiondetect.h): a frame
 * where at least `min-area` of the picture (the part not masked out) differs by more than
 * `threshold` is motion. A change of most of the picture at once (`light-change`: a light
 * switched on, the sun behind a cloud) is not motion: the scene is learnt again from that frame.
 *
 * It posts a "motion-start" element message with the first frame of motion and a "motion-end"
 * once `hold` has passed without any, each with `camera` (the property, or the element's name),
 * `time` (the frame's arrival, Unix microseconds; for motion-end the time the hold ran out) and
 * `area` (the changed fraction of the frame, for motion-end the largest of the event). The
 * read-only `motion` property says whether motion is going on now; `stats` counts.
 *
 * A sink for a `tee` branch that costs the live path nothing: the streaming thread only leaves
 * the frame for one analysis thread shared by every jpegmotion of the process (crmotionworker.h)
 * and returns; a frame that comes while the previous one still waits replaces it, and at most
 * `max-fps` frames a second are analysed. So it needs no queue before it and never delays a
 * frame, whatever the number of cameras.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m wsjpegsrc ! jpegvalidate ! tee name=t ! queue ! jpegfallback
 * placeholder=placeholder.jpg ! \
 *     multipartmux ! mjpeghttpsink t. ! jpegmotion camera=front mask="0,0,1,0.1"
 * gst-launch-1.0 -m videotestsrc is-live=true pattern=ball ! video/x-raw,framerate=5/1 ! jpegenc !
 * \
 *     jpegmotion hold=2000000000
 * ]|
 */
#include "gstjpegmotion.h"

#include "crjpegdecode.h"
#include "crmotiondetect.h"
#include "crmotionworker.h"
#include "gstcamrelayelements.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#define DEFAULT_CAMERA       ""
#define DEFAULT_THRESHOLD    25
#define DEFAULT_MIN_AREA     0.01
#define DEFAULT_LIGHT_CHANGE 0.6
#define DEFAULT_MASK         ""
#define DEFAULT_HOLD         (5 * GST_SECOND)
#define DEFAULT_MAX_FPS      2.5

/* See arrival_age_us. */
static const GstClockTime MAX_AGE = GST_SECOND;

enum
{
  PROP_0,
  PROP_CAMERA,
  PROP_THRESHOLD,
  PROP_MIN_AREA,
  PROP_LIGHT_CHANGE,
  PROP_MASK,
  PROP_HOLD,
  PROP_MAX_FPS,
  PROP_MOTION,
  PROP_STATS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GST_DEBUG_CATEGORY_STATIC (cr_jpeg_motion_debug);
#define GST_CAT_DEFAULT cr_jpeg_motion_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

struct Settings
{
  std::string camera = DEFAULT_CAMERA;
  cr::motion::Settings detect;
  std::string mask = DEFAULT_MASK;
  GstClockTime hold = DEFAULT_HOLD;
  double max_fps = DEFAULT_MAX_FPS;
};

/* A message to post once the lock is released. */
struct Notice
{
  const char *name = nullptr; /* "motion-start", "motion-end", or nullptr */
  std::string camera;
  gint64 time_us = 0;
  double area = 0;
};

}  // namespace

/* The element's analysis, run by the shared worker thread. */
class MotionClient : public cr::motion::Client
{
public:
  explicit MotionClient (CrJpegMotion *self) : self_ (self) {}
  void work () override;
  void tick () override;

private:
  CrJpegMotion *self_;
  cr::JpegDecoder decoder_;    /* worker thread only */
  std::vector<guint8> pixels_; /* worker thread only */
  std::string logged_error_;   /* worker thread only: the decode error last logged */
};

struct CrJpegMotionPrivate
{
  std::mutex lock; /* guards everything below */
  Settings settings;
  bool settings_changed = true;

  GstBuffer *pending = nullptr;                /* the newest frame, not analysed yet */
  gint64 pending_mono_us = 0;                  /* its arrival, monotonic */
  gint64 pending_wall_us = 0;                  /* its arrival, Unix */
  GstClockTime last_pts = GST_CLOCK_TIME_NONE; /* of the last frame taken for analysis */

  bool motion = false;
  gint64 last_motion_mono_us = 0; /* arrival of the last frame with motion */
  double event_area = 0;          /* largest area of the current event */
  double area = 0;                /* of the last analysed frame */

  guint64 frames = 0;
  guint64 analysed = 0;
  guint64 skipped = 0; /* not analysed: beyond max-fps, or replaced while waiting */
  guint64 decode_errors = 0;
  guint64 light_changes = 0;
  guint64 events = 0;

  cr::motion::Detector detector; /* the worker thread, under the lock for configure () */
  MotionClient *client = nullptr;
  cr::motion::Worker *worker = nullptr; /* between start and stop */
};

struct _CrJpegMotion
{
  GstBaseSink parent;
  CrJpegMotionPrivate *priv;
};

#define cr_jpeg_motion_parent_class parent_class
G_DEFINE_TYPE (CrJpegMotion, cr_jpeg_motion, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (jpegmotion, "jpegmotion", GST_RANK_NONE, CR_TYPE_JPEG_MOTION);

static void cr_jpeg_motion_finalize (GObject *object);
static void cr_jpeg_motion_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_jpeg_motion_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static gboolean cr_jpeg_motion_start (GstBaseSink *sink);
static gboolean cr_jpeg_motion_stop (GstBaseSink *sink);
static GstFlowReturn cr_jpeg_motion_render (GstBaseSink *sink, GstBuffer *buffer);

static void
cr_jpeg_motion_class_init (CrJpegMotionClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  auto playing = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->finalize = cr_jpeg_motion_finalize;
  gobject_class->set_property = cr_jpeg_motion_set_property;
  gobject_class->get_property = cr_jpeg_motion_get_property;

  properties[PROP_CAMERA] = g_param_spec_string ("camera", "Camera",
      "The camera's name, the \"camera\" field of the messages (\"\" = the element's name)",
      DEFAULT_CAMERA, playing);
  properties[PROP_THRESHOLD] = g_param_spec_uint ("threshold", "Threshold",
      "How much a pixel (0-255 grey, at 1/8 scale) must differ from the scene, once the change "
      "of light is taken off, to count as changed",
      1, 255, DEFAULT_THRESHOLD, playing);
  properties[PROP_MIN_AREA] = g_param_spec_double ("min-area", "Minimum area",
      "The fraction of the picture (its unmasked part) that must change for motion (0.01 = 1%)",
      0.0001, 1, DEFAULT_MIN_AREA, playing);
  properties[PROP_LIGHT_CHANGE] = g_param_spec_double ("light-change", "Light change",
      "A change of more than this fraction of the picture at once is light, not motion: the "
      "scene is learnt again (1 = never)",
      0.01, 1, DEFAULT_LIGHT_CHANGE, playing);
  properties[PROP_MASK] = g_param_spec_string ("mask", "Mask",
      "Rectangles left out of the analysis, \"x,y,w,h;x,y,w,h\": in fractions of the picture "
      "when all four numbers are at most 1 (\"0,0,1,0.1\" = the top tenth), else in pixels "
      "(\"0,0,640,48\"); \"\" = none",
      DEFAULT_MASK, playing);
  properties[PROP_HOLD] = g_param_spec_uint64 ("hold", "Hold",
      "Nanoseconds without motion before motion-end (also when the camera stops sending)", 0,
      G_MAXUINT64, DEFAULT_HOLD, playing);
  properties[PROP_MAX_FPS] = g_param_spec_double ("max-fps", "Maximum rate",
      "At most this many frames a second are analysed (by their timestamps); 0 = every frame "
      "the analysis thread has time for",
      0, 1000, DEFAULT_MAX_FPS, playing);
  properties[PROP_MOTION] = g_param_spec_boolean ("motion", "Motion",
      "Whether motion is going on now (between a motion-start and its motion-end)", FALSE,
      readonly);
  properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "motion (boolean), area (the changed fraction of the last analysed frame), frames "
      "received, analysed, skipped (beyond max-fps, or replaced by a newer frame before the "
      "analysis thread came to it), decode-errors, light-changes, events (motion-starts)",
      GST_TYPE_STRUCTURE, readonly);
  g_object_class_install_properties (gobject_class, N_PROPS, properties);

  basesink_class->start = GST_DEBUG_FUNCPTR (cr_jpeg_motion_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (cr_jpeg_motion_stop);
  basesink_class->render = GST_DEBUG_FUNCPTR (cr_jpeg_motion_render);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "JPEG motion detector", "Sink/Video",
      "Detects motion in JPEG frames decoded at 1/8 scale, posting motion-start and motion-end "
      "messages; never delays a frame",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_jpeg_motion_debug, "jpegmotion", 0, "camrelay motion detector");
}

static void
cr_jpeg_motion_init (CrJpegMotion *self)
{
  self->priv = new CrJpegMotionPrivate ();
  self->priv->client = new MotionClient (self);
  /* Frames are looked at as they come: no clock waits, no preroll to hold a live pipeline. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (self), FALSE);
}

static void
cr_jpeg_motion_finalize (GObject *object)
{
  CrJpegMotionPrivate *priv = CR_JPEG_MOTION (object)->priv;
  gst_clear_buffer (&priv->pending);
  delete priv->client;
  delete priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */

/* The camera's name for messages. Under the lock. */
static std::string
camera_name (CrJpegMotion *self)
{
  const std::string & c = self->priv->settings.camera;
  if (!c.empty ())
    return c;
  g_autofree gchar *name = gst_object_get_name (GST_OBJECT (self));
  return name ? name : "";
}

static void
post_notice (CrJpegMotion *self, const Notice & notice)
{
  if (!notice.name)
    return;
  GST_INFO_OBJECT (self, "%s (area %.3f)", notice.name, notice.area);
  GstStructure *s = gst_structure_new (notice.name, "camera", G_TYPE_STRING, notice.camera.c_str (),
      "time", G_TYPE_INT64, notice.time_us, "area", G_TYPE_DOUBLE, notice.area, nullptr);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MOTION]);
}

/* Ends the event if the hold has run out by @now (monotonic µs); else asks for a tick then.
 * Under the lock. */
static void
check_hold (CrJpegMotion *self, gint64 now, Notice & notice)
{
  CrJpegMotionPrivate *priv = self->priv;
  if (!priv->motion)
    return;
  const gint64 end =
      priv->last_motion_mono_us + static_cast<gint64> (priv->settings.hold / GST_USECOND);
  if (now < end) {
    if (priv->worker)
      priv->worker->tick_at (priv->client, end);
    return;
  }
  priv->motion = false;
  notice = { "motion-end", camera_name (self), g_get_real_time () - (now - end), priv->event_area };
}

void
MotionClient::work ()
{
  CrJpegMotionPrivate *priv = self_->priv;
  GstBuffer *frame;
  gint64 arrived_mono, arrived_wall;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    frame = priv->pending;
    priv->pending = nullptr;
    arrived_mono = priv->pending_mono_us;
    arrived_wall = priv->pending_wall_us;
    if (priv->settings_changed) {
      priv->detector.configure (priv->settings.detect);
      priv->settings_changed = false;
    }
  }
  if (!frame)
    return;

  GstMapInfo map;
  bool decoded = false;
  guint w = 0, h = 0, full_w = 0, full_h = 0;
  char detail[JMSG_LENGTH_MAX] = "";
  if (gst_buffer_map (frame, &map, GST_MAP_READ)) {
    decoded = decoder_.decode_gray_eighth (map.data, map.size, pixels_, &w, &h, &full_w, &full_h,
        detail, sizeof (detail));
    gst_buffer_unmap (frame, &map);
  }
  gst_buffer_unref (frame);
  if (!decoded) {
    if (logged_error_ != detail)
      GST_WARNING_OBJECT (self_, "a frame does not decode, not analysed: %s", detail);
    logged_error_ = detail;
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->decode_errors++;
    return;
  }

  Notice start, end;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    cr::motion::Verdict v = priv->detector.analyse (pixels_.data (), w, h, full_w, full_h);
    priv->analysed++;
    priv->area = v.area;
    GST_LOG_OBJECT (self_, "%ux%u: area %.4f%s", w, h, v.area, v.light_change ? " (light)" : "");
    if (v.light_change) {
      priv->light_changes++;
      GST_DEBUG_OBJECT (self_, "change of light (%.2f of the picture): the scene is learnt again",
          v.area);
    }
    if (v.motion) {
      priv->last_motion_mono_us = arrived_mono;
      if (!priv->motion) {
        priv->motion = true;
        priv->events++;
        priv->event_area = v.area;
        start = { "motion-start", camera_name (self_), arrived_wall, v.area };
      }
      priv->event_area = std::max (priv->event_area, v.area);
    }
    check_hold (self_, g_get_monotonic_time (), end);
  }
  post_notice (self_, start);
  post_notice (self_, end);
}

void
MotionClient::tick ()
{
  Notice notice;
  {
    std::lock_guard<std::mutex> guard (self_->priv->lock);
    check_hold (self_, g_get_monotonic_time (), notice);
  }
  post_notice (self_, notice);
}

/* How long ago (µs) @buffer arrived: its PTS is the running time of its arrival (wsjpegsrc,
 * pulljpegsrc), so it arrived (running time now - PTS) before now. A frame reaches this element
 * within moments of its arrival; an older stamp is some other clock's and counts as now. */
static gint64
arrival_age_us (CrJpegMotion *self, GstBuffer *buffer)
{
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return 0;
  GstClockTime running =
      gst_segment_to_running_time (&GST_BASE_SINK (self)->segment, GST_FORMAT_TIME, pts);
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock || !GST_CLOCK_TIME_IS_VALID (running))
    return 0;
  GstClockTime now = gst_clock_get_time (clock);
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (self));
  GstClockTime running_now = now > base_time ? now - base_time : 0;
  if (running_now <= running || running_now - running > MAX_AGE)
    return 0;
  return static_cast<gint64> ((running_now - running) / GST_USECOND);
}

/* The streaming thread: the frame is left for the analysis thread, nothing else. */
static GstFlowReturn
cr_jpeg_motion_render (GstBaseSink *sink, GstBuffer *buffer)
{
  auto *self = CR_JPEG_MOTION (sink);
  CrJpegMotionPrivate *priv = self->priv;
  const gint64 age = arrival_age_us (self, buffer);
  const GstClockTime pts = GST_BUFFER_PTS (buffer);
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->frames++;
    if (priv->settings.max_fps > 0 && GST_CLOCK_TIME_IS_VALID (pts) &&
        GST_CLOCK_TIME_IS_VALID (priv->last_pts) && pts > priv->last_pts) {
      /* 20% early still counts: a camera's own pace jitters (a 5 fps camera at max-fps 5 must
       * not lose every frame that comes 10 ms early). */
      auto gap = static_cast<GstClockTime> (0.8 * GST_SECOND / priv->settings.max_fps);
      if (pts - priv->last_pts < gap) {
        priv->skipped++;
        return GST_FLOW_OK;
      }
    }
    priv->last_pts = pts;
    if (priv->pending) {
      priv->skipped++;
      gst_buffer_unref (priv->pending);
    }
    priv->pending = gst_buffer_ref (buffer);
    priv->pending_mono_us = g_get_monotonic_time () - age;
    priv->pending_wall_us = g_get_real_time () - age;
  }
  if (priv->worker)
    priv->worker->offer (priv->client);
  return GST_FLOW_OK;
}

static gboolean
cr_jpeg_motion_start (GstBaseSink *sink)
{
  CrJpegMotionPrivate *priv = CR_JPEG_MOTION (sink)->priv;
  cr::motion::Worker *worker = &cr::motion::Worker::acquire ();
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->worker = worker;
  return TRUE;
}

static gboolean
cr_jpeg_motion_stop (GstBaseSink *sink)
{
  auto *self = CR_JPEG_MOTION (sink);
  CrJpegMotionPrivate *priv = self->priv;
  cr::motion::Worker *worker;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    worker = priv->worker;
    priv->worker = nullptr;
  }
  if (worker) {
    worker->forget (priv->client);
    cr::motion::Worker::release ();
  }
  /* A stopped element sees nothing: whatever it saw is over (no message: nobody reads the bus
   * of a pipeline going down). */
  std::lock_guard<std::mutex> guard (priv->lock);
  gst_clear_buffer (&priv->pending);
  priv->last_pts = GST_CLOCK_TIME_NONE;
  priv->motion = false;
  priv->settings_changed = true;
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
make_stats (CrJpegMotionPrivate *priv)
{
  std::lock_guard<std::mutex> guard (priv->lock);
  return gst_structure_new ("jpegmotion-stats", "motion", G_TYPE_BOOLEAN, priv->motion, "area",
      G_TYPE_DOUBLE, priv->area, "frames", G_TYPE_UINT64, priv->frames, "analysed", G_TYPE_UINT64,
      priv->analysed, "skipped", G_TYPE_UINT64, priv->skipped, "decode-errors", G_TYPE_UINT64,
      priv->decode_errors, "light-changes", G_TYPE_UINT64, priv->light_changes, "events",
      G_TYPE_UINT64, priv->events, nullptr);
}

static void
cr_jpeg_motion_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  auto *self = CR_JPEG_MOTION (object);
  CrJpegMotionPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_CAMERA: {
      const gchar *v = g_value_get_string (value);
      s.camera = v ? v : "";
      break;
    }
    case PROP_THRESHOLD:
      s.detect.threshold = g_value_get_uint (value);
      break;
    case PROP_MIN_AREA:
      s.detect.min_area = g_value_get_double (value);
      break;
    case PROP_LIGHT_CHANGE:
      s.detect.light_change = g_value_get_double (value);
      break;
    case PROP_MASK: {
      const gchar *v = g_value_get_string (value);
      std::vector<cr::motion::Rect> rects;
      std::string error;
      if (!cr::motion::parse_mask (v ? v : "", rects, error)) {
        /* Kept as it was: a property cannot fail, so say why loudly. */
        g_warning ("jpegmotion: mask not changed: %s", error.c_str ());
        return;
      }
      s.mask = v ? v : "";
      s.detect.mask = rects;
      break;
    }
    case PROP_HOLD:
      s.hold = g_value_get_uint64 (value);
      break;
    case PROP_MAX_FPS:
      s.max_fps = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      return;
  }
  priv->settings_changed = true;
}

static void
cr_jpeg_motion_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrJpegMotionPrivate *priv = CR_JPEG_MOTION (object)->priv;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, make_stats (priv));
    return;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  const Settings & s = priv->settings;
  switch (prop_id) {
    case PROP_CAMERA:
      g_value_set_string (value, s.camera.c_str ());
      break;
    case PROP_THRESHOLD:
      g_value_set_uint (value, s.detect.threshold);
      break;
    case PROP_MIN_AREA:
      g_value_set_double (value, s.detect.min_area);
      break;
    case PROP_LIGHT_CHANGE:
      g_value_set_double (value, s.detect.light_change);
      break;
    case PROP_MASK:
      g_value_set_string (value, s.mask.c_str ());
      break;
    case PROP_HOLD:
      g_value_set_uint64 (value, s.hold);
      break;
    case PROP_MAX_FPS:
      g_value_set_double (value, s.max_fps);
      break;
    case PROP_MOTION:
      g_value_set_boolean (value, priv->motion);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}
