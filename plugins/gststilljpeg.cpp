/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stilljpeg, the same JPEG picture for every frame that comes in. */

/**
 * SECTION:element-stilljpeg
 * @title: stilljpeg
 *
 * Turns every incoming raw video frame into one and the same JPEG picture, stamped with the
 * incoming frame's timestamps: the frame is a tick, the picture is what goes out. Nothing is
 * decoded, encoded or copied: each output buffer is a read-only memory of its own over the
 * picture's shared bytes (one GstMemory counts at most 255 maps at once, and many consumers may
 * keep their latest frame mapped).
 *
 * Its src caps are the picture's: image/jpeg, parsed, width, height and framerate (the picture's
 * rate, which it also asks of its input in a caps query, so that a repeating element upstream such
 * as imagefreeze ticks at that rate). jpegfallback sets the picture from its placeholder file; the
 * element is a part of it, not registered with the plugin.
 */

#include "gststilljpeg.h"

#include <mutex>

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

GST_DEBUG_CATEGORY_STATIC (cr_still_jpeg_debug);
#define GST_CAT_DEFAULT cr_still_jpeg_debug

struct _CrStillJpeg
{
  GstBaseTransform parent;
  /* Guards the picture: set from the application's thread, read by the streaming one. */
  std::mutex *lock;
  GstBuffer *owner;
  const guint8 *data;
  gsize size;
  GstCaps *caps;
};

G_DEFINE_TYPE (CrStillJpeg, cr_still_jpeg, GST_TYPE_BASE_TRANSFORM);

static void
cr_still_jpeg_finalize (GObject *object)
{
  CrStillJpeg *self = CR_STILL_JPEG (object);
  gst_clear_buffer (&self->owner);
  gst_clear_caps (&self->caps);
  delete self->lock;
  G_OBJECT_CLASS (cr_still_jpeg_parent_class)->finalize (object);
}

/* The picture's caps, or any JPEG before it is set (pads link; no frame goes out without it). */
static GstCaps *
picture_caps (CrStillJpeg *self)
{
  std::lock_guard<std::mutex> guard (*self->lock);
  return self->caps ? gst_caps_ref (self->caps) : gst_static_pad_template_get_caps (&src_template);
}

/* Output: the picture's caps, at the input's frame rate where it has one. Input: any raw video at
 * the picture's frame rate. */
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

GstBuffer *
cr_still_jpeg_make_frame (CrStillJpeg *self)
{
  std::lock_guard<std::mutex> guard (*self->lock);
  if (!self->owner)
    return nullptr;
  GstBuffer *frame = gst_buffer_new ();
  gst_buffer_append_memory (frame,
      gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY, const_cast<guint8 *> (self->data),
          self->size, 0, self->size, gst_buffer_ref (self->owner),
          (GDestroyNotify) gst_buffer_unref));
  return frame;
}

static GstFlowReturn
cr_still_jpeg_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *input, GstBuffer **output)
{
  CrStillJpeg *self = CR_STILL_JPEG (trans);
  GstBuffer *frame = cr_still_jpeg_make_frame (self);
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

static void
cr_still_jpeg_class_init (CrStillJpegClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (cr_still_jpeg_debug, "stilljpeg", 0,
      "camrelay the same JPEG picture for every frame");

  gobject_class->finalize = cr_still_jpeg_finalize;
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (cr_still_jpeg_transform_caps);
  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (cr_still_jpeg_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (cr_still_jpeg_transform);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_element_class_set_static_metadata (element_class, "Still JPEG picture per frame",
      "Converter/Video", "Outputs the same JPEG picture for every raw frame, with its timestamps",
      "camrelay");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
}

static void
cr_still_jpeg_init (CrStillJpeg *self)
{
  self->lock = new std::mutex ();
}

void
cr_still_jpeg_set_picture (CrStillJpeg *self, GstBuffer *owner, const guint8 *data, gsize size,
    guint width, guint height, guint fps)
{
  GstCaps *caps = gst_caps_new_simple ("image/jpeg", "parsed", G_TYPE_BOOLEAN, TRUE, "width",
      G_TYPE_INT, (gint) width, "height", G_TYPE_INT, (gint) height, "framerate", GST_TYPE_FRACTION,
      (gint) fps, 1, nullptr);
  {
    std::lock_guard<std::mutex> guard (*self->lock);
    gst_buffer_replace (&self->owner, owner);
    self->data = data;
    self->size = size;
    gst_caps_take (&self->caps, caps);
  }
  gst_base_transform_reconfigure_src (GST_BASE_TRANSFORM (self));
}

GstCaps *
cr_still_jpeg_get_caps (CrStillJpeg *self)
{
  std::lock_guard<std::mutex> guard (*self->lock);
  return self->caps ? gst_caps_ref (self->caps) : nullptr;
}
