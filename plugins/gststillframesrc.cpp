/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: stillframesrc, one tiny raw still frame pushed downstream when asked. */

/**
 * SECTION:element-stillframesrc
 * @title: stillframesrc
 *
 * A source without a thread of its own: cr_still_frame_src_push() sends, from the caller's thread,
 * a new stream holding a single 1x1 GRAY8 video/x-raw frame (framerate 0/1: a still). jpegfallback
 * feeds it to imagefreeze, which repeats it at the placeholder's rate and so is the placeholder's
 * clock; what the frame shows does not matter, only when it comes. Not registered with the plugin:
 * it is a part of jpegfallback.
 */

#include "gststillframesrc.h"

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

static void
cr_still_frame_src_class_init (CrStillFrameSrcClass *klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (cr_still_frame_src_debug, "stillframesrc", 0,
      "camrelay one raw still frame on demand");
  gst_element_class_set_static_metadata (element_class, "Still frame on demand", "Source/Video",
      "Pushes one 1x1 GRAY8 still frame when asked, from the caller's thread", "camrelay");
  gst_element_class_add_static_pad_template (element_class, &src_template);
}

static void
cr_still_frame_src_init (CrStillFrameSrc *self)
{
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}

GstFlowReturn
cr_still_frame_src_push (CrStillFrameSrc *self)
{
  GstPad *pad = self->srcpad;
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
  GST_DEBUG_OBJECT (self, "still frame pushed: %s", gst_flow_get_name (ret));
  return ret;
}
