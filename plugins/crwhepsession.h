/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: one WebRTC viewer. Its own small pipeline, appsrc ! webrtcbin, fed the RTP
 * packets of the camera's shared encoder's access units (crwhepfeed.h), payloaded once for every
 * session (crwheppacketizer.h): a viewer's negotiation, ICE failure or teardown (webrtcbin going
 * to NULL joins its ICE and DTLS threads) then never touches the camera's pipeline or another
 * viewer.
 *
 * Threads: start() and stop() from one thread at a time (the endpoint's); the events are called in
 * webrtcbin's threads and must hand their work over (the endpoint invokes the server thread). */
#pragma once

#include "crwhepfeed.h"
#include "crwheppacketizer.h"
#include "crwhepsdp.h"

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cr {

struct WhepSessionSettings
{
  H264Choice codec;
  guint min_port = 0; /* UDP ports of the ICE agent; 0 = any */
  guint max_port = 0;
  std::string stun_server; /* stun://host:port, or "" */
  std::string turn_server; /* turn(s)://user:password@host:port, or "" */
  /* Host candidates in the answer carry this address instead of the local one; "" = as is. */
  std::string announce_address;
  /* The camera's payloader for codec.pt, shared with its other sessions. */
  std::shared_ptr<RtpPacketizer> packetizer;
};

struct WhepSessionEvents
{
  /* ICE gathering is complete: the answer (SDP text, candidates included); "" and @error when the
   * negotiation failed. */
  std::function<void (const std::string & answer, const std::string & error)> on_answer;
  /* The viewer is connected (DTLS up): media flows from the next key frame. */
  std::function<void ()> on_connected;
  /* ICE reports the viewer gone: @failed (no way back) or disconnected (it may come back). */
  std::function<void (bool failed)> on_ice_lost;
  /* ICE recovered from a disconnection. */
  std::function<void ()> on_ice_back;
};

class WhepSession : public std::enable_shared_from_this<WhepSession>
{
public:
  /* Made with std::make_shared: the feed holds it weakly, since a delivery may still be running
   * when unsubscribe returns. */
  WhepSession (H264Feed & feed, WhepSessionEvents events);
  ~WhepSession ();
  WhepSession (const WhepSession &) = delete;
  WhepSession & operator= (const WhepSession &) = delete;

  /* Builds and starts the pipeline and begins answering @offer (taken). False with @error if the
   * pipeline cannot be built (a missing GStreamer element). */
  bool start (GstSDPMessage *offer, const WhepSessionSettings & settings, std::string *error);
  /* Leaves the feed and takes the pipeline down; idempotent. */
  void stop ();

  guint64 bytes_sent () const { return bytes_sent_.load (); }
  guint64 frames_sent () const { return frames_sent_.load (); }
  /* g_get_monotonic_time () of the last access unit the feed gave it; 0 = none yet. */
  gint64 last_unit_us () const { return last_unit_us_.load (); }

private:
  static void on_remote_set (GstPromise *promise, gpointer self);
  static void on_answer_created (GstPromise *promise, gpointer self);
  static void on_gathering_state (GObject *webrtc, GParamSpec *, gpointer self);
  static void on_ice_state (GObject *webrtc, GParamSpec *, gpointer self);
  static void on_connection_state (GObject *webrtc, GParamSpec *, gpointer self);
  static void on_ice_candidate (GstElement *webrtc, guint mline, gchar *candidate, gpointer self);
  static GstPadProbeReturn on_upstream_event (GstPad *pad, GstPadProbeInfo *info, gpointer self);
  static GstBusSyncReply on_bus (GstBus *bus, GstMessage *message, gpointer self);

  void push (GstBuffer *au, GstCaps *caps);
  void answer_ready ();
  void fail (const std::string & error);
  void park_feed_thread ();

  H264Feed & feed_;
  WhepSessionEvents events_;
  std::string announce_;
  std::shared_ptr<RtpPacketizer> packetizer_;

  GstElement *pipeline_ = nullptr;
  GstElement *appsrc_ = nullptr;
  GstElement *webrtc_ = nullptr;
  guint64 subscription_ = 0;
  bool subscribed_ = false;

  /* Guards what the streaming, webrtcbin and endpoint threads share below. */
  std::mutex lock_;
  bool stopped_ = false;
  bool answered_ = false;
  bool connected_ = false;
  bool waiting_key_ = true;
  GstCaps *caps_ = nullptr;
  std::vector<std::string> candidates_;

  std::atomic<guint64> bytes_sent_{ 0 };
  std::atomic<guint64> frames_sent_{ 0 };
  std::atomic<gint64> last_unit_us_{ 0 };
};

}  // namespace cr
