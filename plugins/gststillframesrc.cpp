/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stillframesrc, one tiny raw still frame, sent when the element starts playing. */

/**
 * SECTION:element-stillframesrc
 * @title: stillframesrc
 *
 * A live source without a thread of its own: when it goes to PLAYING it sends, from the thread
 * changing its state, a stream holding a single 1x1 GRAY8 video/x-raw frame (framerate 0/1: a
 * still), and sends it again, from the flushing thread, when a flush from downstream ends
 * (downstream has forgotten it). It is the tick for imagefreeze, which repeats it at the rate
 * downstream asks and so is a clock of frames; what the frame shows does not matter, only when it
 * comes (stilljpeg turns each repeat into a picture). jpegfallback starts it, with imagefreeze,
 * only while its placeholder must repeat.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 stillframesrc ! imagefreeze is-live=true num-buffers=10 ! \
 *     stilljpeg location=placeholder.jpg framerate=2/1 ! multipartmux ! filesink location=out.mjpeg
 * ]| Writes placeholder.jpg ten times, two a second, as MJPEG.
 */

#include "gststillframesrc.h"

#include "gstcamrelayelements.h"

#define STILL_CAPS                                                                                 \
  "video/x-raw, format=(string)GRAY8, width=(int)1, height=(int)1, "                               \
  "framerate=(fraction)0/1"

/* Bytes of that frame: one grey pixel, its row padded to 4 bytes as raw video rows are. */
#define STILL_SIZE 4

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (STILL_CAPS));

GST_DEBUG_CATEGORY_STATIC (cr_still_frame_src_debug);
#define GST_CAT_DEFAULT cr_still_frame_src_debug

struct _CrStillFrameSrc
{
  GstElement parent;
  GstPad *srcpad;
};

G_DEFINE_TYPE (CrStillFrameSrc, cr_still_frame_src, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (stillframesrc, "stillframesrc", GST_RANK_NONE,
    CR_TYPE_STILL_FRAME_SRC);

static GstStateChangeReturn cr_still_frame_src_change_state (GstElement *element,
    GstStateChange transition);
static gboolean cr_still_frame_src_event (GstPad *pad, GstObject *parent, GstEvent *event);

static void
cr_still_frame_src_class_init (CrStillFrameSrcClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (cr_still_frame_src_debug, "stillframesrc", 0,
      "camrelay one raw still frame");
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_still_frame_src_change_state);
  gst_element_class_set_static_metadata (element_class, "Still frame", "Source/Video",
      "Sends one 1x1 GRAY8 still frame when it starts playing and after a flush, from the "
      "thread that asks for it (the tick for imagefreeze)",
      "camrelay");
  gst_element_class_add_static_pad_template (element_class, &src_template);
}

static void
cr_still_frame_src_init (CrStillFrameSrc *self)
{
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (cr_still_frame_src_event));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

/* A new stream (stream-start, caps, segment) holding the frame, from the calling thread, under the
 * pad's stream lock (a flush and a start may ask at once). */
static GstFlowReturn
push_still_frame (CrStillFrameSrc *self)
{
  GstPad *pad = self->srcpad;
  GST_PAD_STREAM_LOCK (pad);
  g_autofree gchar *stream_id = gst_pad_create_stream_id (pad, GST_ELEMENT (self), "still");
  GstEvent *start = gst_event_new_stream_start (stream_id);
  gst_event_set_group_id (start, gst_util_group_id_next ());
  gst_pad_push_event (pad, start);
  g_autoptr (GstCaps) caps = gst_static_caps_get (&src_template.static_caps);
  gst_pad_push_event (pad, gst_event_new_caps (caps));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (pad, gst_event_new_segment (&segment));

  GstBuffer *frame = gst_buffer_new_allocate (nullptr, STILL_SIZE, nullptr);
  gst_buffer_memset (frame, 0, 0x80, STILL_SIZE);
  GstFlowReturn ret = gst_pad_push (pad, frame);
  GST_PAD_STREAM_UNLOCK (pad);
  GST_DEBUG_OBJECT (self, "still frame sent: %s", gst_flow_get_name (ret));
  return ret;
}

/* Downstream's flush has made it forget the frame (imagefreeze resets on a flush): sent again once
 * the flush is over, unless the element is not playing. */
static gboolean
cr_still_frame_src_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  CrStillFrameSrc *self = CR_STILL_FRAME_SRC (parent);
  bool again = GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP;
  gboolean ret = gst_pad_event_default (pad, parent, event);
  GST_OBJECT_LOCK (self);
  again = again && GST_STATE (self) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK (self);
  if (again)
    push_still_frame (self);
  return ret;
}

static GstStateChangeReturn
cr_still_frame_src_change_state (GstElement *element, GstStateChange transition)
{
  CrStillFrameSrc *self = CR_STILL_FRAME_SRC (element);
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (cr_still_frame_src_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;
  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      push_still_frame (self);
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      /* Live: its frame comes in PLAYING. */
      ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    default:
      break;
  }
  return ret;
}
