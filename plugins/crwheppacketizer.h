/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: one RTP payloader (rtph264pay) per camera and payload type, shared by every
 * WebRTC session of the camera. The encoder hands each access unit to every session in turn, in
 * its one streaming thread; the first session to ask for an access unit's packets payloads it,
 * the others get the same packets (each a copy of its own: see private_copy()). Sessions then
 * differ only in what webrtcbin adds: SRTP keys, the ICE path. They share the payloader's SSRC and
 * sequence numbers, which no viewer can tell: each sees its own SRTP stream.
 *
 * Timestamps: the packets carry the system clock's time as their PTS, and every session's
 * pipeline runs on the system clock with base time 0 (use_shared_time()), so the one PTS is the
 * running time in each of them.
 *
 * Threads: packets() from any thread (in practice the encoder's), under the packetizer's lock. */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <mutex>

namespace cr {

class RtpPacketizer
{
public:
  /* An rtph264pay with payload type @pt; nullptr if the element is not installed. */
  static std::shared_ptr<RtpPacketizer> create (guint pt);
  ~RtpPacketizer ();
  RtpPacketizer (const RtpPacketizer &) = delete;
  RtpPacketizer & operator= (const RtpPacketizer &) = delete;

  /* The RTP packets of access unit @au (byte-stream, @caps its caps) as a list of the caller's
   * own (transfer full; nullptr if the payloader refused it), their caps in @rtp_caps (transfer
   * full) and their size in @bytes. The same @au asked again returns copies of the same packets. */
  GstBufferList *packets (GstBuffer *au, GstCaps *caps, GstCaps **rtp_caps, gsize *bytes);

  /* Makes @pipeline run on the system clock with base time 0: the packets' PTS is then its
   * running time. Before the pipeline starts. */
  static void use_shared_time (GstElement *pipeline);

private:
  RtpPacketizer () = default;
  static GstFlowReturn on_packet (GstPad *pad, GstObject *parent, GstBuffer *packet);
  static GstFlowReturn on_packets (GstPad *pad, GstObject *parent, GstBufferList *packets);
  static gboolean on_event (GstPad *pad, GstObject *parent, GstEvent *event);
  static gboolean on_query (GstPad *pad, GstObject *parent, GstQuery *query);
  bool push_caps_locked (GstCaps *caps);

  std::mutex lock_; /* everything below */
  GstElement *pay_ = nullptr;
  GstPad *in_ = nullptr;  /* ours, linked to the payloader's sink pad */
  GstPad *out_ = nullptr; /* ours, linked to its src pad: collects the packets */
  GstCaps *in_caps_ = nullptr;
  bool started_ = false;
  GstBuffer *last_au_ = nullptr; /* a reference: its address cannot be reused while held */
  GstBufferList *last_packets_ = nullptr;
  GstBufferList *collecting_ = nullptr; /* while the payloader is pushing into out_ */
  gsize last_bytes_ = 0;
};

}  // namespace cr
