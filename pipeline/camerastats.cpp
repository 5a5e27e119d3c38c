/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: reading a camera's elements for /status, /metrics and /view. */
#define G_LOG_DOMAIN "camrelay"

#include "camerastats.h"

#include "camera.h"
#include "crredact.h"

namespace camrelay {

using elements::Field;

/* A jpegrecordsink's state into @r and its counters into @counters. */
static void
read_recorder (GstElement *sink, bool timelapse, CameraStatus::Recorder & r,
    CameraCounters & counters)
{
  Stats s (sink);
  if (!s)
    return;
  counters.add (s.get (), elements::JPEGRECORDSINK, timelapse);
  auto text = [&s] (Field f) {
    const gchar *v = s.string (f);
    return std::string (v ? v : "");
  };
  r.state = text (Field::RecordState);
  r.reason = text (Field::RecordReason);
  r.last_error = text (Field::RecordLastError);
  s.int64 (Field::RecordLastErrorTime, &r.last_error_us);
}

/* An h264relaysink's figures into @h and its counters into @counters. */
static void
read_h264 (GstElement *sink, CameraStatus::H264 & h, CameraCounters & counters)
{
  Stats s (sink);
  if (!s)
    return;
  counters.add (s.get (), elements::H264RELAYSINK);
  h.present = true;
  s.uint (Field::H264ConsumersRtsp, &h.consumers_rtsp);
  s.uint (Field::H264ConsumersWebrtc, &h.consumers_webrtc);
  s.uint (Field::H264RtspViewers, &h.rtsp_viewers);
  s.uint (Field::H264EncodeTime, &h.encode_ns);
  s.uint (Field::H264Bitrate, &h.bitrate_kbps);
  gboolean running = FALSE;
  s.boolean (Field::H264EncoderRunning, &running);
  h.encoder_running = running;
}

void
Camera::add_counters (CameraCounters & into) const
{
  Elements e;
  {
    std::lock_guard<std::mutex> guard (lock_);
    e = elements_.ref ();
  }
  into.add (Stats (e.src).get (), elements::WSJPEGSRC);
  into.add (Stats (e.h264).get (), elements::H264RELAYSINK);
  into.add (Stats (e.motion).get (), elements::JPEGMOTION);
  into.add (Stats (e.record).get (), elements::JPEGRECORDSINK, false);
  into.add (Stats (e.timelapse).get (), elements::JPEGRECORDSINK, true);
  into.add (Stats (e.validate).get (), elements::JPEGVALIDATE);
  into.add (Stats (e.fallback).get (), elements::JPEGFALLBACK);
  into.add (Stats (e.sink).get (), elements::MJPEGHTTPSINK);
  into.add (Stats (e.pull).get (), elements::PULLJPEGSRC);
  e.clear ();
}

CameraStatus
Camera::status () const
{
  CameraStatus st;
  Elements e;
  {
    std::lock_guard<std::mutex> guard (lock_);
    st.state = state_;
    st.since_us = since_us_;
    st.connected = connected_;
    st.peer = peer_;
    st.fps = fps_;
    st.counters = base_;
    st.restarts = restarts_;
    st.last_error = last_error_;
    st.last_error_us = last_error_us_;
    e = elements_.ref ();
    st.motion = motion_;
  }
  st.motion.enabled = config_.motion || e.motion != nullptr;
  st.counters.add (Stats (e.motion).get (), elements::JPEGMOTION);
  read_recorder (e.record, false, st.record, st.counters);
  read_h264 (e.h264, st.h264, st.counters);
  read_recorder (e.timelapse, true, st.timelapse, st.counters);
  /* Each element's stats read once: /status of a thousand cameras reads four thousand. */
  Stats src (e.src), sink (e.sink), pull (e.pull);
  st.counters.add (src.get (), elements::WSJPEGSRC);
  st.counters.add (Stats (e.validate).get (), elements::JPEGVALIDATE);
  st.counters.add (Stats (e.fallback).get (), elements::JPEGFALLBACK);
  st.counters.add (sink.get (), elements::MJPEGHTTPSINK);
  st.counters.add (pull.get (), elements::PULLJPEGSRC);

  /* The elements know best whether a camera is connected and how many viewers there are now. */
  gboolean connected = FALSE;
  if (src.boolean (Field::SrcConnected, &connected)) {
    st.connected = connected;
    const gchar *peer = src.string (Field::SrcPeer);
    st.peer = connected && peer ? peer : "";
  }
  sink.uint (Field::SinkViewers, &st.viewers);
  if (config_.pulled ()) {
    st.source = config_.source_shown;
    st.source_state = "starting";
    st.source_reconnects = st.counter (Field::PullReconnects);
  }
  if (pull) {
    const gchar *state = pull.string (Field::PullState);
    const gchar *error = pull.string (Field::PullLastError);
    const gchar *location = pull.string (Field::PullLocation);
    st.source_state = state ? state : "";
    /* The element hides the URL's userinfo only; query credentials are masked here. */
    st.source_error = cr::redact_text (error ? error : "");
    if (location)
      st.source = cr::redact_url (location);
    st.connected = st.source_state == elements::PULL_STREAMING;
  }
  e.clear ();

  st.name = config_.name;
  st.ingest_paths = config_.routes_ingest;
  st.stream_path = config_.routes_stream;
  st.snapshot_path = config_.routes_snapshot;
  return st;
}

}  // namespace camrelay
