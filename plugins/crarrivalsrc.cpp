/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the output side of a live source bin (see crarrivalsrc.h). */
#include "crarrivalsrc.h"

namespace cr {

void
ArrivalSrc::build (GstBin *bin, guint max_buffers)
{
  bin_ = GST_ELEMENT (bin);
  /* By type rather than by factory: the app library is linked in, so no registry lookup can fail.
   */
  GstElement *appsrc = GST_ELEMENT (g_object_new (GST_TYPE_APP_SRC, "name", "appsrc", nullptr));
  appsrc_ = GST_APP_SRC (appsrc);
  g_autoptr (GstCaps) caps = gst_caps_new_empty_simple ("image/jpeg");
  g_object_set (appsrc, "is-live", TRUE, "format", GST_FORMAT_TIME, "caps", caps, "max-buffers",
      static_cast<guint64> (max_buffers), "max-bytes", static_cast<guint64> (0), "leaky-type",
      GST_APP_LEAKY_TYPE_DOWNSTREAM, "block", FALSE, "min-latency", static_cast<gint64> (0),
      "stream-type", GST_APP_STREAM_TYPE_STREAM, "emit-signals", FALSE, nullptr);
  gst_bin_add (bin, appsrc);

  g_autoptr (GstPad) target = gst_element_get_static_pad (appsrc, "src");
  GstPad *ghost = gst_ghost_pad_new_from_template ("src", target,
      gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (bin), "src"));
  gst_element_add_pad (bin_, ghost);
}

GstBuffer *
ArrivalSrc::stamp (GstBuffer *buffer) const
{
  buffer = gst_buffer_make_writable (buffer);
  GST_BUFFER_PTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = GST_CLOCK_TIME_NONE;
  if (GstClock *clock = gst_element_get_clock (bin_)) {
    GstClockTime now = gst_clock_get_time (clock);
    GstClockTime base = gst_element_get_base_time (bin_);
    GST_BUFFER_PTS (buffer) = now > base ? now - base : 0;
    gst_object_unref (clock);
  }
  return buffer;
}

bool
ArrivalSrc::full () const
{
  return gst_app_src_get_current_level_buffers (appsrc_) >= gst_app_src_get_max_buffers (appsrc_);
}

void
ArrivalSrc::push (GstBuffer *buffer) const
{
  gst_app_src_push_buffer (appsrc_, buffer);
}

}  // namespace cr
