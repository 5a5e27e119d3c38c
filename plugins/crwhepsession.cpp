/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: one WebRTC viewer's pipeline (see crwhepsession.h). */
#include "crwhepsession.h"

#include <gst/app/gstappsrc.h>
#include <gst/webrtc/webrtc.h>

GST_DEBUG_CATEGORY_EXTERN (cr_whep_debug);
#define GST_CAT_DEFAULT cr_whep_debug

namespace cr {

/* RTP bytes an appsrc may hold before the session skips to the next key frame (3 s at 2.8
 * Mbit/s, 30 frames of a VGA camera): a viewer's pipeline that stalls costs a bounded amount of
 * memory and never delays the encoder. */
static const guint64 MAX_QUEUED_BYTES = 1 << 20;

WhepSession::WhepSession (H264Feed & feed, WhepSessionEvents events)
  : feed_ (feed), events_ (std::move (events))
{}

WhepSession::~WhepSession ()
{
  stop ();
  gst_clear_caps (&caps_);
}

static GstElement *
make (const char *factory, const char *name, std::string *error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e && error->empty ())
    *error = std::string ("the GStreamer element ") + factory +
        " is not installed (WebRTC needs gstreamer1.0-plugins-bad and gstreamer1.0-nice)";
  return e;
}

bool
WhepSession::start (GstSDPMessage *offer, const WhepSessionSettings & settings, std::string *error)
{
  g_autoptr (GstWebRTCSessionDescription) remote =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, offer);
  announce_ = settings.announce_address;

  packetizer_ = settings.packetizer;
  if (!packetizer_) {
    *error = "the GStreamer element rtph264pay is not installed (WebRTC needs "
             "gstreamer1.0-plugins-good)";
    return false;
  }
  pipeline_ = gst_pipeline_new ("whep-session");
  RtpPacketizer::use_shared_time (pipeline_);
  appsrc_ = make ("appsrc", "whep", error);
  webrtc_ = make ("webrtcbin", "webrtc", error);
  if (!appsrc_ || !webrtc_) {
    for (GstElement *e : { appsrc_, webrtc_ })
      if (e)
        gst_object_unref (gst_object_ref_sink (e));
    appsrc_ = webrtc_ = nullptr;
    return false;
  }
  gst_bin_add_many (GST_BIN (pipeline_), appsrc_, webrtc_, nullptr);

  /* The camera's shared payloader's packets come in, one list per access unit. */
  g_object_set (appsrc_, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE,
      "max-bytes", 2 * MAX_QUEUED_BYTES, "leaky-type", 1 /* upstream: drop the newest */, nullptr);
  gst_util_set_object_arg (G_OBJECT (webrtc_), "bundle-policy", "max-bundle");
  if (!settings.stun_server.empty ())
    g_object_set (webrtc_, "stun-server", settings.stun_server.c_str (), nullptr);
  if (!settings.turn_server.empty ())
    g_object_set (webrtc_, "turn-server", settings.turn_server.c_str (), nullptr);
  GstObject *ice = nullptr;
  g_object_get (webrtc_, "ice-agent", &ice, nullptr);
  if (ice) {
    if (settings.min_port)
      g_object_set (ice, "min-rtp-port", settings.min_port, "max-rtp-port", settings.max_port,
          nullptr);
    g_object_set (ice, "ice-tcp", FALSE, nullptr);
    GObject *agent = nullptr;
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
      g_object_get (ice, "agent", &agent, nullptr);
    /* Keepalives that expect an answer: a viewer that vanished without a DELETE shows as an ICE
     * failure instead of a session that lives forever. */
    if (agent) {
      g_object_set (agent, "keepalive-conncheck", TRUE, nullptr);
      g_object_unref (agent);
    }
    gst_object_unref (ice);
  }

  if (!gst_element_link (appsrc_, webrtc_)) {
    *error = "the WebRTC pipeline could not be linked";
    return false;
  }
  /* The transceiver webrtcbin made for the packets' pad: send only, the offered payload type. */
  g_autoptr (GstPad) srcpad = gst_element_get_static_pad (appsrc_, "src");
  g_autoptr (GstPad) peer = gst_pad_get_peer (srcpad);
  GstWebRTCRTPTransceiver *trans = nullptr;
  g_object_get (peer, "transceiver", &trans, nullptr);
  if (trans) {
    GstCaps *prefs = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, "video",
        "encoding-name", G_TYPE_STRING, "H264", "clock-rate", G_TYPE_INT, 90000, "payload",
        G_TYPE_INT, settings.codec.pt, "packetization-mode", G_TYPE_STRING, "1",
        "level-asymmetry-allowed", G_TYPE_STRING, "1", nullptr);
    if (!settings.codec.profile_level_id.empty ())
      gst_caps_set_simple (prefs, "profile-level-id", G_TYPE_STRING,
          settings.codec.profile_level_id.c_str (), nullptr);
    g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
        "codec-preferences", prefs, nullptr);
    gst_caps_unref (prefs);
    gst_object_unref (trans);
  }

  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event, this, nullptr);
  g_autoptr (GstBus) bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
  gst_bus_set_sync_handler (bus, on_bus, this, nullptr);

  g_signal_connect (webrtc_, "notify::ice-gathering-state", G_CALLBACK (on_gathering_state), this);
  g_signal_connect (webrtc_, "notify::ice-connection-state", G_CALLBACK (on_ice_state), this);
  g_signal_connect (webrtc_, "notify::connection-state", G_CALLBACK (on_connection_state), this);
  g_signal_connect (webrtc_, "on-ice-candidate", G_CALLBACK (on_ice_candidate), this);

  if (gst_element_set_state (pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    *error = "the WebRTC pipeline did not start";
    return false;
  }
  std::weak_ptr<WhepSession> weak = weak_from_this ();
  subscription_ = feed_.subscribe ([weak] (GstBuffer *au, GstCaps *caps) {
    if (auto self = weak.lock ())
      self->push (au, caps);
  });
  if (!subscription_) {
    *error = "the camera has no H.264 encoder (h264relaysink) running";
    return false;
  }
  subscribed_ = true;
  GstPromise *promise = gst_promise_new_with_change_func (on_remote_set, this, nullptr);
  g_signal_emit_by_name (webrtc_, "set-remote-description", remote, promise);
  return true;
}

void
WhepSession::stop ()
{
  {
    std::lock_guard<std::mutex> lock (lock_);
    stopped_ = true;
  }
  if (subscribed_) {
    feed_.unsubscribe (subscription_);
    subscribed_ = false;
  }
  if (pipeline_) {
    g_signal_handlers_disconnect_by_data (webrtc_, this);
    park_feed_thread ();
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    g_autoptr (GstBus) bus = gst_pipeline_get_bus (GST_PIPELINE (pipeline_));
    gst_bus_set_sync_handler (bus, nullptr, nullptr, nullptr);
    gst_clear_object (&pipeline_);
    appsrc_ = webrtc_ = nullptr;
  }
}

/* GStreamer 1.22's basesrc unrefs a NULL buffer (a CRITICAL, fatal under G_DEBUG) when a live
 * source leaves PLAYING just as appsrc's create hands out a buffer list: the check after create
 * that waits for PLAYING drops "the buffer", which for a list is none. A flush first takes the
 * streaming thread out of create by the path that handles lists (as a flushing seek does), and
 * taking the stream lock once shows that it has parked; the state change then finds it idle. */
void
WhepSession::park_feed_thread ()
{
  gst_element_send_event (appsrc_, gst_event_new_flush_start ());
  g_autoptr (GstPad) pad = gst_element_get_static_pad (appsrc_, "src");
  GST_PAD_STREAM_LOCK (pad);
  GST_PAD_STREAM_UNLOCK (pad);
}

void
WhepSession::fail (const std::string & error)
{
  {
    std::lock_guard<std::mutex> lock (lock_);
    if (answered_ || stopped_)
      return;
    answered_ = true;
  }
  events_.on_answer ("", error);
}

void
WhepSession::on_remote_set (GstPromise *promise, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  GstPromiseResult result = gst_promise_wait (promise);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GError *err = nullptr;
  if (reply && gst_structure_has_field (reply, "error"))
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
  gst_promise_unref (promise);
  if (result != GST_PROMISE_RESULT_REPLIED || err) {
    self->fail (std::string ("the offer was not accepted: ") + (err ? err->message : "no reply"));
    g_clear_error (&err);
    return;
  }
  GstPromise *next = gst_promise_new_with_change_func (on_answer_created, self, nullptr);
  g_signal_emit_by_name (self->webrtc_, "create-answer", nullptr, next);
}

void
WhepSession::on_answer_created (GstPromise *promise, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  gst_promise_wait (promise);
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *answer = nullptr;
  GError *err = nullptr;
  if (reply) {
    if (gst_structure_has_field (reply, "error"))
      gst_structure_get (reply, "error", G_TYPE_ERROR, &err, nullptr);
    else
      gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
  }
  gst_promise_unref (promise);
  if (!answer) {
    self->fail (std::string ("no answer to the offer: ") + (err ? err->message : "no reply"));
    g_clear_error (&err);
    return;
  }
  g_signal_emit_by_name (self->webrtc_, "set-local-description", answer, nullptr);
  gst_webrtc_session_description_free (answer);
  /* Gathering may have completed already (host candidates only are found at once). */
  on_gathering_state (G_OBJECT (self->webrtc_), nullptr, self);
}

void
WhepSession::on_ice_candidate (GstElement *, guint, gchar *candidate, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  std::lock_guard<std::mutex> lock (self->lock_);
  self->candidates_.emplace_back (candidate);
}

void
WhepSession::on_gathering_state (GObject *webrtc, GParamSpec *, gpointer data)
{
  GstWebRTCICEGatheringState state;
  g_object_get (webrtc, "ice-gathering-state", &state, nullptr);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    static_cast<WhepSession *> (data)->answer_ready ();
}

void
WhepSession::answer_ready ()
{
  GstWebRTCSessionDescription *local = nullptr;
  g_object_get (webrtc_, "local-description", &local, nullptr);
  if (!local)
    return; /* gathering completed before the answer was set: it comes again from there */
  std::vector<std::string> candidates;
  {
    std::lock_guard<std::mutex> lock (lock_);
    if (answered_ || stopped_) {
      gst_webrtc_session_description_free (local);
      return;
    }
    answered_ = true;
    candidates = candidates_;
  }
  std::string text = whep_answer_text (local->sdp, candidates, announce_);
  gst_webrtc_session_description_free (local);
  events_.on_answer (text, "");
}

void
WhepSession::on_ice_state (GObject *webrtc, GParamSpec *, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  GstWebRTCICEConnectionState state;
  g_object_get (webrtc, "ice-connection-state", &state, nullptr);
  GST_DEBUG ("ICE connection state %d", state);
  switch (state) {
    case GST_WEBRTC_ICE_CONNECTION_STATE_FAILED:
      self->events_.on_ice_lost (true);
      break;
    case GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED:
      self->events_.on_ice_lost (false);
      break;
    case GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED:
    case GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED:
      self->events_.on_ice_back ();
      break;
    default:
      break;
  }
}

void
WhepSession::on_connection_state (GObject *webrtc, GParamSpec *, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  GstWebRTCPeerConnectionState state;
  g_object_get (webrtc, "connection-state", &state, nullptr);
  GST_DEBUG ("peer connection state %d", state);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    bool first;
    {
      std::lock_guard<std::mutex> lock (self->lock_);
      first = !self->connected_;
      self->connected_ = true;
      self->waiting_key_ = true;
    }
    if (first) {
      /* Whatever was encoded before DTLS came up is gone: the picture starts with a key frame
       * now, not at the next GOP. */
      self->feed_.request_keyframe ();
      self->events_.on_connected ();
    }
  } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    self->events_.on_ice_lost (true);
  }
}

void
WhepSession::push (GstBuffer *au, GstCaps *caps)
{
  bool want_key = false;
  last_unit_us_ = g_get_monotonic_time ();
  {
    std::lock_guard<std::mutex> lock (lock_);
    if (stopped_ || !connected_)
      return;
    bool key = !GST_BUFFER_FLAG_IS_SET (au, GST_BUFFER_FLAG_DELTA_UNIT);
    if (waiting_key_ && !key)
      return;
    if (gst_app_src_get_current_level_bytes (GST_APP_SRC (appsrc_)) >= MAX_QUEUED_BYTES) {
      /* The viewer's pipeline is behind: skip to a fresh key frame rather than queue. */
      waiting_key_ = true;
      want_key = true;
    } else {
      GstCaps *rtp_caps = nullptr;
      gsize bytes = 0;
      /* Payloaded once for every session of the camera; a copy of its own for this one. */
      GstBufferList *packets = packetizer_->packets (au, caps, &rtp_caps, &bytes);
      if (packets) {
        waiting_key_ = false;
        if (rtp_caps && (!caps_ || !gst_caps_is_equal (rtp_caps, caps_))) {
          gst_caps_replace (&caps_, rtp_caps);
          gst_app_src_set_caps (GST_APP_SRC (appsrc_), rtp_caps);
        }
        gst_app_src_push_buffer_list (GST_APP_SRC (appsrc_), packets);
        frames_sent_++;
        bytes_sent_ += bytes;
      }
      gst_clear_caps (&rtp_caps);
    }
  }
  if (want_key)
    feed_.request_keyframe ();
}

GstPadProbeReturn
WhepSession::on_upstream_event (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (event);
  /* A viewer's PLI or FIR, turned into a force-key-unit event by webrtcbin's RTP session. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM && s &&
      gst_structure_has_name (s, "GstForceKeyUnit"))
    static_cast<WhepSession *> (data)->feed_.request_keyframe ();
  return GST_PAD_PROBE_OK;
}

GstBusSyncReply
WhepSession::on_bus (GstBus *, GstMessage *message, gpointer data)
{
  auto *self = static_cast<WhepSession *> (data);
  if (GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = nullptr;
    g_autofree gchar *debug = nullptr;
    gst_message_parse_error (message, &err, &debug);
    GST_WARNING ("WebRTC session error: %s (%s)", err->message, debug ? debug : "");
    self->fail (err->message);
    self->events_.on_ice_lost (true);
  }
  return GST_BUS_DROP;
}

}  // namespace cr
