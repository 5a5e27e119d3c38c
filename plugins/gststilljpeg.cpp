/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stilljpeg, the same JPEG picture for every frame that comes in. */

/**
 * SECTION:element-stilljpeg
 * @title: stilljpeg
 *
 * Turns every incoming raw video frame into one and the same JPEG picture, the file at
 * #CrStillJpeg:location, stamped with the incoming frame's timestamps: the frame is a tick, the
 * picture is what goes out. Nothing is decoded, encoded or copied per frame: the file is read and
 * checked once per process (crplaceholdercache, shared with every element showing it), and each
 * output buffer is a read-only memory of its own over its bytes (one GstMemory counts at most 255
 * maps at once, and many consumers may keep their latest frame mapped).
 *
 * Its src caps are the picture's: image/jpeg, parsed, with the file's width and height and
 * #CrStillJpeg:framerate, which it also asks of its input in a caps query, so that a repeating
 * element upstream such as imagefreeze ticks at that rate.
 *
 * A tick stamped no later than the last picture out is dropped (answered OK): it would show the
 * same picture at a time already shown. With #CrStillJpeg:drop set, every tick is refused with
 * FLUSHING and nothing goes out, so that a repeating element upstream pauses its loop instead of
 * ticking for nobody (valve answers OK and keeps it ticking).
 *
 * The "push-picture" action sends the picture once, stamped with the given running time, from the
 * calling thread, without a tick: jpegfallback uses it to hand a sink its placeholder while nobody
 * watches, without starting imagefreeze and its thread. It holds the sink pad's stream lock while
 * it pushes, as a tick's chain call does, so it is serialized with the ticks (never between a
 * tick's events and its buffer) and its buffer and the ticks leave in the order they took that
 * lock; it begins the output stream itself (stream-start, caps, a TIME segment from 0) when no
 * tick has begun it. It returns FLUSHING before the element is PAUSED and while downstream
 * flushes.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 stillframesrc ! imagefreeze is-live=true num-buffers=10 ! \
 *     stilljpeg location=placeholder.jpg framerate=2/1 ! multipartmux ! filesink location=out.mjpeg
 * ]| Writes placeholder.jpg ten times, two a second, as MJPEG.
 */

#include "gststilljpeg.h"

#include "crplaceholdercache.h"
#include "gstcamrelayelements.h"

#include <mutex>
#include <string>

#define DEFAULT_FRAMERATE_N 1
#define DEFAULT_FRAMERATE_D 1

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_FRAMERATE,
  PROP_DROP,
  PROP_FRAMES_OUT,
};

enum
{
  SIGNAL_PUSH_PICTURE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

GST_DEBUG_CATEGORY_STATIC (cr_still_jpeg_debug);
#define GST_CAT_DEFAULT cr_still_jpeg_debug

namespace {

/* Settings and state under one lock: set from the application's thread, read by the streaming
 * one and by push-picture's caller. */
struct Private
{
  std::mutex lock;
  std::string location;
  gint fps_n = DEFAULT_FRAMERATE_N, fps_d = DEFAULT_FRAMERATE_D;
  bool drop = false;

  /* The picture, from start() to stop(). */
  cr::PlaceholderImage picture;
  /* Running time of the last picture out, NONE before the first (and after a flush). */
  GstClockTime last_out = GST_CLOCK_TIME_NONE;
  guint64 frames_out = 0;
};

}  // namespace

struct _CrStillJpeg
{
  GstBaseTransform parent;
  Private *priv;
};

G_DEFINE_TYPE (CrStillJpeg, cr_still_jpeg, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (stilljpeg, "stilljpeg", GST_RANK_NONE, CR_TYPE_STILL_JPEG);

static void cr_still_jpeg_finalize (GObject *object);
static void cr_still_jpeg_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_still_jpeg_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static gboolean cr_still_jpeg_start (GstBaseTransform *trans);
static gboolean cr_still_jpeg_stop (GstBaseTransform *trans);
static gboolean cr_still_jpeg_sink_event (GstBaseTransform *trans, GstEvent *event);
static GstCaps *cr_still_jpeg_transform_caps (GstBaseTransform *trans, GstPadDirection direction,
    GstCaps *caps, GstCaps *filter);
static GstFlowReturn cr_still_jpeg_submit_input_buffer (GstBaseTransform *trans,
    gboolean is_discont, GstBuffer *input);
static GstFlowReturn cr_still_jpeg_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *input,
    GstBuffer **output);
static GstFlowReturn cr_still_jpeg_transform (GstBaseTransform *trans, GstBuffer *input,
    GstBuffer *output);

static void
cr_still_jpeg_class_init (CrStillJpegClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (cr_still_jpeg_debug, "stilljpeg", 0,
      "camrelay the same JPEG picture for every frame");

  gobject_class->finalize = cr_still_jpeg_finalize;
  gobject_class->set_property = cr_still_jpeg_set_property;
  gobject_class->get_property = cr_still_jpeg_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR (cr_still_jpeg_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (cr_still_jpeg_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (cr_still_jpeg_sink_event);
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (cr_still_jpeg_transform_caps);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (cr_still_jpeg_submit_input_buffer);
  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (cr_still_jpeg_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (cr_still_jpeg_transform);
  trans_class->passthrough_on_same_caps = FALSE;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Path of the JPEG file output for every frame; read and checked when the element "
          "starts, once per process for every element showing the same file",
          nullptr,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame Rate",
          "Frames per second the picture goes out at: the framerate of the src caps, and the one "
          "asked of upstream",
          1, 3600, 120, 1, DEFAULT_FRAMERATE_N, DEFAULT_FRAMERATE_D,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)));
  g_object_class_install_property (gobject_class, PROP_DROP,
      g_param_spec_boolean ("drop", "Drop",
          "Output nothing: every incoming frame is refused with FLUSHING, so that a repeating "
          "element upstream (imagefreeze) pauses; push-picture still works",
          FALSE,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_FRAMES_OUT,
      g_param_spec_uint64 ("frames-out", "Frames Out",
          "Pictures output since the element started, push-picture's included", 0, G_MAXUINT64, 0,
          (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  /**
   * CrStillJpeg::push-picture:
   * @pts: the running time to stamp the picture with
   *
   * Sends the picture once, from the calling thread (see the element's description).
   *
   * Returns: what downstream answered
   */
  signals[SIGNAL_PUSH_PICTURE] = g_signal_new_class_handler ("push-picture",
      G_TYPE_FROM_CLASS (klass), (GSignalFlags) (G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK (cr_still_jpeg_push_picture), nullptr, nullptr, nullptr, GST_TYPE_FLOW_RETURN, 1,
      G_TYPE_UINT64);

  gst_element_class_set_static_metadata (element_class, "Still JPEG picture per frame",
      "Converter/Video",
      "Outputs the same JPEG picture, read from a file, for every raw frame, with its timestamps",
      "camrelay");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
}

static void
cr_still_jpeg_init (CrStillJpeg *self)
{
  self->priv = new Private ();
}

static void
cr_still_jpeg_finalize (GObject *object)
{
  CrStillJpeg *self = CR_STILL_JPEG (object);
  gst_clear_buffer (&self->priv->picture.image);
  delete self->priv;
  G_OBJECT_CLASS (cr_still_jpeg_parent_class)->finalize (object);
}

/* ---------------------------------------------------------------- helpers */

/* The picture's caps, or any JPEG before it is read (pads link; no frame goes out without it).
 * Under the lock. */
static GstCaps *
picture_caps_locked (const Private *priv)
{
  if (!priv->picture.image) {
    GstCaps *caps = gst_static_pad_template_get_caps (&src_template);
    caps = gst_caps_make_writable (caps);
    gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, priv->fps_n, priv->fps_d, nullptr);
    return caps;
  }
  return gst_caps_new_simple ("image/jpeg", "parsed", G_TYPE_BOOLEAN, TRUE, "width", G_TYPE_INT,
      (gint) priv->picture.width, "height", G_TYPE_INT, (gint) priv->picture.height, "framerate",
      GST_TYPE_FRACTION, priv->fps_n, priv->fps_d, nullptr);
}

static GstCaps *
picture_caps (CrStillJpeg *self)
{
  std::lock_guard<std::mutex> guard (self->priv->lock);
  return picture_caps_locked (self->priv);
}

/* An output frame over the picture's bytes (transfer full), or nullptr before it is read. Under
 * the lock. */
static GstBuffer *
make_frame_locked (Private *priv)
{
  const cr::PlaceholderImage & p = priv->picture;
  if (!p.image)
    return nullptr;
  GstBuffer *frame = gst_buffer_new ();
  gst_buffer_append_memory (frame,
      gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY, const_cast<guint8 *> (p.data), p.size, 0,
          p.size, gst_buffer_ref (p.image), (GDestroyNotify) gst_buffer_unref));
  priv->frames_out++;
  return frame;
}

/* Begins the output stream where no tick has: stream-start, caps, segment. Under the sink pad's
 * stream lock. */
static void
begin_stream_if_needed (CrStillJpeg *self, GstCaps *caps)
{
  GstPad *src = GST_BASE_TRANSFORM_SRC_PAD (self);
  g_autoptr (GstEvent) started = gst_pad_get_sticky_event (src, GST_EVENT_STREAM_START, 0);
  if (!started) {
    g_autofree gchar *stream_id = gst_pad_create_stream_id (src, GST_ELEMENT (self), "picture");
    GstEvent *start = gst_event_new_stream_start (stream_id);
    gst_event_set_group_id (start, gst_util_group_id_next ());
    gst_pad_push_event (src, start);
  }
  if (!gst_pad_has_current_caps (src))
    gst_pad_push_event (src, gst_event_new_caps (caps));
  g_autoptr (GstEvent) segment = gst_pad_get_sticky_event (src, GST_EVENT_SEGMENT, 0);
  if (!segment) {
    GstSegment time;
    gst_segment_init (&time, GST_FORMAT_TIME);
    gst_pad_push_event (src, gst_event_new_segment (&time));
  }
}

GstFlowReturn
cr_still_jpeg_push_picture (CrStillJpeg *self, GstClockTime pts)
{
  GstPad *sink = GST_BASE_TRANSFORM_SINK_PAD (self);
  GST_PAD_STREAM_LOCK (sink);
  GstBuffer *frame;
  g_autoptr (GstCaps) caps = nullptr;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    frame = make_frame_locked (self->priv);
    caps = picture_caps_locked (self->priv);
    if (frame && GST_CLOCK_TIME_IS_VALID (pts) &&
        (!GST_CLOCK_TIME_IS_VALID (self->priv->last_out) || pts > self->priv->last_out))
      self->priv->last_out = pts;
  }
  GstFlowReturn ret = GST_FLOW_FLUSHING;
  if (frame) {
    GST_BUFFER_PTS (frame) = pts;
    begin_stream_if_needed (self, caps);
    ret = gst_pad_push (GST_BASE_TRANSFORM_SRC_PAD (self), frame);
  }
  GST_PAD_STREAM_UNLOCK (sink);
  GST_DEBUG_OBJECT (self, "picture pushed at %" GST_TIME_FORMAT ": %s", GST_TIME_ARGS (pts),
      gst_flow_get_name (ret));
  return ret;
}

/* -------------------------------------------------------------- properties */

static void
cr_still_jpeg_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  CrStillJpeg *self = CR_STILL_JPEG (object);
  Private *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);

  switch (prop_id) {
    case PROP_LOCATION: {
      const gchar *location = g_value_get_string (value);
      priv->location = location ? location : "";
      break;
    }
    case PROP_FRAMERATE:
      priv->fps_n = gst_value_get_fraction_numerator (value);
      priv->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_DROP:
      priv->drop = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_still_jpeg_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrStillJpeg *self = CR_STILL_JPEG (object);
  Private *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);

  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, priv->location.empty () ? nullptr : priv->location.c_str ());
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, priv->fps_n, priv->fps_d);
      break;
    case PROP_DROP:
      g_value_set_boolean (value, priv->drop);
      break;
    case PROP_FRAMES_OUT:
      g_value_set_uint64 (value, priv->frames_out);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ------------------------------------------------------------------ vfuncs */

/* Reads the picture (from the process-wide cache), or fails naming the file. */
static gboolean
cr_still_jpeg_start (GstBaseTransform *trans)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  std::string location;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    location = self->priv->location;
  }
  if (location.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("stilljpeg has no picture: set location."),
        (nullptr));
    return FALSE;
  }
  cr::PlaceholderImage picture = cr::load_placeholder (location);
  if (!picture.image) {
    cr::post_placeholder_error (GST_ELEMENT (self), picture);
    return FALSE;
  }
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    gst_clear_buffer (&self->priv->picture.image);
    self->priv->picture = picture;
    self->priv->last_out = GST_CLOCK_TIME_NONE;
    self->priv->frames_out = 0;
  }
  gst_base_transform_reconfigure_src (trans);
  return TRUE;
}

static gboolean
cr_still_jpeg_stop (GstBaseTransform *trans)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  gst_clear_buffer (&self->priv->picture.image);
  self->priv->picture = cr::PlaceholderImage ();
  return TRUE;
}

/* After a flush, downstream has lost what came before: the next tick goes out whatever its time. */
static gboolean
cr_still_jpeg_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->last_out = GST_CLOCK_TIME_NONE;
  }
  return GST_BASE_TRANSFORM_CLASS (cr_still_jpeg_parent_class)->sink_event (trans, event);
}

/* Output: the picture's caps. Input: any raw video at the picture's frame rate. */
static GstCaps *
cr_still_jpeg_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
    GstCaps *filter)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  g_autoptr (GstCaps) picture = picture_caps (self);
  GstCaps *result;

  if (direction == GST_PAD_SINK) {
    result = gst_caps_copy (picture);
  } else {
    g_autoptr (GstCaps) wanted = gst_caps_intersect (caps, picture);
    result = gst_caps_new_empty ();
    for (guint i = 0; i < gst_caps_get_size (wanted); i++) {
      const GValue *rate =
          gst_structure_get_value (gst_caps_get_structure (wanted, i), "framerate");
      GstStructure *raw = gst_structure_new_empty ("video/x-raw");
      if (rate)
        gst_structure_set_value (raw, "framerate", rate);
      result = gst_caps_merge_structure (result, raw);
    }
  }
  if (filter) {
    GstCaps *both = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = both;
  }
  GST_LOG_OBJECT (self, "%s %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, result);
  return result;
}

/* What becomes of a tick (see the element's description). */
static GstFlowReturn
cr_still_jpeg_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont, GstBuffer *input)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  GstClockTime pts = GST_BUFFER_PTS (input);
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    Private *priv = self->priv;
    if (priv->drop) {
      gst_buffer_unref (input);
      return GST_FLOW_FLUSHING;
    }
    if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (priv->last_out) &&
        pts <= priv->last_out) {
      GST_LOG_OBJECT (self,
          "tick at %" GST_TIME_FORMAT " repeats the picture out at %" GST_TIME_FORMAT,
          GST_TIME_ARGS (pts), GST_TIME_ARGS (priv->last_out));
      gst_buffer_unref (input);
      return GST_FLOW_OK;
    }
    if (GST_CLOCK_TIME_IS_VALID (pts))
      priv->last_out = pts;
  }
  return GST_BASE_TRANSFORM_CLASS (cr_still_jpeg_parent_class)
      ->submit_input_buffer (trans, is_discont, input);
}

static GstFlowReturn
cr_still_jpeg_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *input, GstBuffer **output)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  GstBuffer *frame;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    frame = make_frame_locked (self->priv);
  }
  if (!frame)
    return GST_FLOW_NOT_NEGOTIATED;
  gst_buffer_copy_into (frame, input,
      (GstBufferCopyFlags) (GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS), 0, -1);
  *output = frame;
  return GST_FLOW_OK;
}

/* The output buffer is the picture already (prepare_output_buffer). */
static GstFlowReturn
cr_still_jpeg_transform (GstBaseTransform *trans, GstBuffer *input, GstBuffer *output)
{
  return GST_FLOW_OK;
}
