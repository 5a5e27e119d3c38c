/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: the payloader every WebRTC session of a camera shares (see crwheppacketizer.h). */
#include "crwheppacketizer.h"

GST_DEBUG_CATEGORY_EXTERN (cr_whep_debug);
#define GST_CAT_DEFAULT cr_whep_debug

namespace cr {

/* RTP packets small enough for any path WebRTC runs over (VPNs, PPPoE, TURN). */
static const guint RTP_MTU = 1200;

std::shared_ptr<RtpPacketizer>
RtpPacketizer::create (guint pt)
{
  /* The endpoint registers the category; tests make packetizers without one. */
  GST_DEBUG_CATEGORY_INIT (cr_whep_debug, "whep", 0, "camrelay WHEP (WebRTC viewers)");
  GstElement *pay = gst_element_factory_make ("rtph264pay", nullptr);
  if (!pay)
    return nullptr;
  std::shared_ptr<RtpPacketizer> self (new RtpPacketizer ());
  self->pay_ = GST_ELEMENT (gst_object_ref_sink (pay));
  g_object_set (pay, "config-interval", -1, "pt", pt, "mtu", RTP_MTU, nullptr);
  /* Every access unit's packets leave before the next one comes: nothing waits for more NALs. */
  gst_util_set_object_arg (G_OBJECT (pay), "aggregate-mode", "zero-latency");

  self->in_ = GST_PAD (gst_object_ref_sink (gst_pad_new ("in", GST_PAD_SRC)));
  self->out_ = GST_PAD (gst_object_ref_sink (gst_pad_new ("out", GST_PAD_SINK)));
  gst_pad_set_element_private (self->out_, self.get ());
  gst_pad_set_chain_function (self->out_, on_packet);
  gst_pad_set_chain_list_function (self->out_, on_packets);
  gst_pad_set_event_function (self->out_, on_event);
  gst_pad_set_query_function (self->out_, on_query);
  g_autoptr (GstPad) sink = gst_element_get_static_pad (pay, "sink");
  g_autoptr (GstPad) src = gst_element_get_static_pad (pay, "src");
  if (gst_pad_link (self->in_, sink) != GST_PAD_LINK_OK ||
      gst_pad_link (src, self->out_) != GST_PAD_LINK_OK)
    return nullptr;
  gst_pad_set_active (self->in_, TRUE);
  gst_pad_set_active (self->out_, TRUE);
  if (gst_element_set_state (pay, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    return nullptr;
  return self;
}

RtpPacketizer::~RtpPacketizer ()
{
  if (pay_) {
    gst_element_set_state (pay_, GST_STATE_NULL);
    gst_object_unref (pay_);
  }
  for (GstPad *pad : { in_, out_ })
    if (pad) {
      gst_pad_set_active (pad, FALSE);
      gst_object_unref (pad);
    }
  gst_clear_caps (&in_caps_);
  gst_clear_buffer (&last_au_);
  if (last_packets_)
    gst_buffer_list_unref (last_packets_);
}

void
RtpPacketizer::use_shared_time (GstElement *pipeline)
{
  g_autoptr (GstClock) clock = gst_system_clock_obtain ();
  gst_pipeline_use_clock (GST_PIPELINE (pipeline), clock);
  gst_element_set_start_time (pipeline, GST_CLOCK_TIME_NONE);
  gst_element_set_base_time (pipeline, 0);
}

bool
RtpPacketizer::push_caps_locked (GstCaps *caps)
{
  if (!started_) {
    gst_pad_push_event (in_, gst_event_new_stream_start ("camrelay-whep-h264"));
    started_ = true;
  }
  if (!gst_pad_push_event (in_, gst_event_new_caps (caps)))
    return false;
  gst_caps_replace (&in_caps_, caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  return gst_pad_push_event (in_, gst_event_new_segment (&segment));
}

/* Each session's own copy of the packets. Sharing the buffers themselves costs more than the
 * copy: elements of webrtcbin make a shared list writable, which adds every session's list as a
 * parent of every shared packet, under a spin lock per packet that twenty session threads on two
 * cores then fight over (10% of the samples with twenty sessions, perf). */
static GstBufferList *
private_copy (GstBufferList *packets)
{
  guint n = gst_buffer_list_length (packets);
  GstBufferList *own = gst_buffer_list_new_sized (n);
  for (guint i = 0; i < n; i++)
    gst_buffer_list_add (own, gst_buffer_copy_deep (gst_buffer_list_get (packets, i)));
  return own;
}

GstBufferList *
RtpPacketizer::packets (GstBuffer *au, GstCaps *caps, GstCaps **rtp_caps, gsize *bytes)
{
  std::lock_guard<std::mutex> lock (lock_);
  if (au != last_au_) {
    if (caps && (!in_caps_ || !gst_caps_is_equal (caps, in_caps_)) && !push_caps_locked (caps))
      GST_WARNING ("the RTP payloader refused the caps %" GST_PTR_FORMAT, caps);
    gst_buffer_replace (&last_au_, au);
    if (last_packets_)
      gst_buffer_list_unref (last_packets_);
    last_packets_ = nullptr;
    last_bytes_ = 0;
    /* New metadata, same memory: the encoded bytes are shared, not copied. */
    GstBuffer *in = gst_buffer_copy (au);
    g_autoptr (GstClock) clock = gst_system_clock_obtain ();
    GST_BUFFER_PTS (in) = GST_BUFFER_DTS (in) = gst_clock_get_time (clock);
    GST_BUFFER_DURATION (in) = GST_CLOCK_TIME_NONE;
    collecting_ = gst_buffer_list_new ();
    GstFlowReturn ret = gst_pad_push (in_, in);
    GstBufferList *list = collecting_;
    collecting_ = nullptr;
    if (ret != GST_FLOW_OK || gst_buffer_list_length (list) == 0) {
      GST_WARNING ("the RTP payloader returned %s for an access unit", gst_flow_get_name (ret));
      gst_buffer_list_unref (list);
    } else {
      last_packets_ = list;
      last_bytes_ = gst_buffer_list_calculate_size (list);
    }
  }
  if (!last_packets_)
    return nullptr;
  *rtp_caps = gst_pad_get_current_caps (out_);
  *bytes = last_bytes_;
  return private_copy (last_packets_);
}

/* A packet in one block of memory (the payloader gives a header block and a part of the access
 * unit's): a session's copy is then one allocation, and SRTP reads it without merging blocks. */
static GstBuffer *
flattened (GstBuffer *packet)
{
  if (gst_buffer_n_memory (packet) == 1)
    return packet;
  GstMapInfo map;
  if (!gst_buffer_map (packet, &map, GST_MAP_READ))
    return packet;
  GstBuffer *flat = gst_buffer_new_memdup (map.data, map.size);
  gst_buffer_unmap (packet, &map);
  gst_buffer_copy_into (flat, packet, GST_BUFFER_COPY_METADATA, 0, -1);
  gst_buffer_unref (packet);
  return flat;
}

/* The payloader's streaming runs inside packets(), under the lock: collecting_ is ours. */
GstFlowReturn
RtpPacketizer::on_packet (GstPad *pad, GstObject *, GstBuffer *packet)
{
  auto *self = static_cast<RtpPacketizer *> (gst_pad_get_element_private (pad));
  if (!self->collecting_) {
    gst_buffer_unref (packet);
    return GST_FLOW_OK;
  }
  gst_buffer_list_add (self->collecting_, flattened (packet));
  return GST_FLOW_OK;
}

GstFlowReturn
RtpPacketizer::on_packets (GstPad *pad, GstObject *, GstBufferList *packets)
{
  auto *self = static_cast<RtpPacketizer *> (gst_pad_get_element_private (pad));
  if (self->collecting_) {
    guint n = gst_buffer_list_length (packets);
    for (guint i = 0; i < n; i++)
      gst_buffer_list_add (self->collecting_,
          flattened (gst_buffer_ref (gst_buffer_list_get (packets, i))));
  }
  gst_buffer_list_unref (packets);
  return GST_FLOW_OK;
}

gboolean
RtpPacketizer::on_event (GstPad *, GstObject *, GstEvent *event)
{
  /* Sticky events (the RTP caps above all) are stored on the pad when this accepts them. */
  gst_event_unref (event);
  return TRUE;
}

gboolean
RtpPacketizer::on_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter = nullptr;
    gst_query_parse_caps (query, &filter);
    g_autoptr (GstCaps) any = gst_caps_new_empty_simple ("application/x-rtp");
    if (filter) {
      g_autoptr (GstCaps) both = gst_caps_intersect (filter, any);
      gst_query_set_caps_result (query, both);
    } else {
      gst_query_set_caps_result (query, any);
    }
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result (query, TRUE);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

}  // namespace cr
