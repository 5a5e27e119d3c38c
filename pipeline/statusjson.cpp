/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the /status JSON. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"
#include "pagetext.h"

#include "camrelay-config.h"
#include "recordingstore.h"
#include "webrtcviewers.h"

#include <algorithm>
#include <set>

namespace camrelay {

using namespace pagetext;
using elements::Field;

namespace {

/* ---------------------------------------------------------------------------------------------- */
/* Recordings (jpegrecordsink and the RecordingStore)                                             */

void
recorder_json (Json & j, const CameraStatus & st, bool timelapse,
    const RecordingStore::Stream & disk)
{
  const CameraStatus::Recorder & r = timelapse ? st.timelapse : st.record;
  j.key ("state").str (r.state);
  j.key ("reason").str_or_null (r.reason);
  j.key ("frames_written").number (st.recorder_counter (timelapse, Field::RecordFrames));
  j.key ("bytes_written").number (st.recorder_counter (timelapse, Field::RecordBytes));
  j.key ("frames_skipped").number (st.recorder_counter (timelapse, Field::RecordSkipped));
  j.key ("segments_on_disk").number (disk.segments);
  j.key ("bytes_on_disk").number (disk.bytes);
  j.key ("oldest").time_or_null (disk.oldest * G_USEC_PER_SEC);
  j.key ("newest").time_or_null (disk.newest * G_USEC_PER_SEC);
  if (r.last_error.empty ()) {
    j.key ("last_error").null ();
  } else {
    j.key ("last_error").begin_object ();
    j.key ("message").str (r.last_error);
    j.key ("at").time (r.last_error_us);
    j.end_object ();
  }
}

/* A camera's WebRTC (WHEP) viewers: sessions now (and of those, connected), answered, refused
 * (over max-viewers), failed (ICE, timeouts, a stopped feed), RTP bytes sent. */
void
webrtc_json (Json & j, const CameraStatus & st)
{
  const cr::WhepStats & w = st.webrtc;
  j.key ("webrtc").begin_object ();
  j.key ("sessions").number (static_cast<guint64> (w.sessions));
  j.key ("connected").number (static_cast<guint64> (w.connected));
  j.key ("sessions_total").number (w.sessions_total);
  j.key ("refused").number (w.refused);
  j.key ("failed").number (w.failed);
  j.key ("bad_offers").number (w.bad_offers);
  j.key ("bytes_out").number (w.bytes_sent);
  j.end_object ();
}

/* A camera's "recording": every frame (state "off" unless record = true) and "timelapse". */
void
recording_json (Json & j, const PageContext & ctx, const CameraStatus & st)
{
  RecordingStore::Summary disk;
  if (ctx.recordings)
    disk = ctx.recordings->summary (st.name);
  j.key ("recording").begin_object ();
  recorder_json (j, st, false, disk.record);
  j.key ("timelapse").begin_object ();
  recorder_json (j, st, true, disk.timelapse);
  j.end_object ();
  j.end_object ();
}

/* A camera's "motion": null without motion = true. */
static void
motion_json (Json & j, const CameraStatus & st)
{
  j.key ("motion");
  if (!st.motion.enabled) {
    j.null ();
    return;
  }
  const CameraStatus::Motion & m = st.motion;
  j.begin_object ();
  j.key ("active").boolean (m.active);
  j.key ("since").time_or_null (m.since_us);
  j.key ("last_start").time_or_null (m.last_start_us);
  j.key ("last_end").time_or_null (m.last_end_us);
  j.key ("last_area").number (m.last_area, 4);
  j.key ("events").number (st.counter (Field::MotionEvents));
  j.key ("frames_analysed").number (st.counter (Field::MotionAnalysed));
  j.key ("frames_skipped").number (st.counter (Field::MotionSkipped));
  j.key ("light_changes").number (st.counter (Field::MotionLightChanges));
  j.key ("decode_errors").number (st.counter (Field::MotionDecodeErrors));
  j.end_object ();
}

/* The process-wide "recordings": where, how much, how much room is left, what retention did. */
void
recordings_json (Json & j, const PageContext & ctx)
{
  j.key ("recordings");
  if (!ctx.recordings) {
    j.null ();
    return;
  }
  const RecordingStore & store = *ctx.recordings;
  RecordingStore::Totals t = store.totals ();
  guint64 free = 0, total = 0;
  bool known = store.disk_space (free, total);
  j.begin_object ();
  j.key ("dir").str (store.dir ());
  j.key ("bytes_on_disk").number (t.bytes);
  j.key ("segments_on_disk").number (t.segments);
  j.key ("cache_bytes").number (t.cache_bytes);
  j.key ("keep_seconds").number (static_cast<guint64> (store.keep ()));
  j.key ("max_disk_bytes").number (store.max_disk ());
  if (known) {
    j.key ("disk_free_bytes").number (free);
    j.key ("disk_total_bytes").number (total);
  } else {
    j.key ("disk_free_bytes").null ();
    j.key ("disk_total_bytes").null ();
  }
  j.key ("deleted_segments").begin_object ();
  j.key ("keep").number (t.deleted_keep);
  j.key ("max_disk").number (t.deleted_max_disk);
  j.end_object ();
  j.key ("deleted_cached_timelapses").number (t.deleted_cache);
  j.end_object ();
}

/* ---------------------------------------------------------------------------------------------- */
/* H.264 (h264relaysink): RTSP and WebRTC viewers share one encoder per camera */

/* A camera's "h264": null without an H.264 branch. */
void
h264_json (Json & j, const CameraStatus & st)
{
  j.key ("h264");
  if (!st.h264.present) {
    j.null ();
    return;
  }
  const CameraStatus::H264 & h = st.h264;
  j.begin_object ();
  j.key ("consumers").begin_object ();
  j.key ("rtsp").number (static_cast<guint64> (h.consumers_rtsp));
  j.key ("webrtc").number (static_cast<guint64> (h.consumers_webrtc));
  j.end_object ();
  j.key ("rtsp_viewers").number (static_cast<guint64> (h.rtsp_viewers));
  j.key ("encoder_running").boolean (h.encoder_running);
  j.key ("encoder_starts").number (st.counter (Field::H264EncoderStarts));
  j.key ("encode_ms").number (h.encode_ns / 1e6, 3);
  j.key ("bitrate_kbps").number (static_cast<guint64> (h.bitrate_kbps));
  j.key ("frames_encoded").number (st.counter (Field::H264FramesEncoded));
  j.key ("bytes_encoded").number (st.counter (Field::H264BytesEncoded));
  j.key ("bytes_out").begin_object ();
  j.key ("mjpeg").number (st.counter (Field::SinkBytesSent));
  j.key ("rtsp").number (st.counter (Field::H264BytesOutRtsp));
  j.key ("webrtc").number (st.counter (Field::H264BytesOutWebrtc));
  j.end_object ();
  j.end_object ();
}

/* MQTT and webhooks (events.h): "mqtt" null when not configured, one object per webhook URL. */
void
notify_json (Json & j, const PageContext & ctx)
{
  NotifyStatus n = ctx.notifier ? ctx.notifier->status () : NotifyStatus ();
  j.key ("mqtt");
  if (!n.mqtt) {
    j.null ();
  } else {
    const MqttStats & m = n.mqtt_stats;
    j.begin_object ();
    j.key ("broker").str (m.broker);
    j.key ("connected").boolean (m.connected);
    j.key ("connects").number (m.connects);
    j.key ("messages_published").number (m.published);
    j.key ("queued").number (static_cast<guint64> (m.queued));
    j.key ("queued_bytes").number (m.queued_bytes);
    j.key ("last_error").str_or_null (m.last_error);
    j.end_object ();
  }
  j.key ("webhooks").begin_array ();
  for (const auto & w : n.webhooks) {
    j.begin_object ();
    j.key ("url").str (w.url);
    j.key ("queued").number (static_cast<guint64> (w.queued));
    j.key ("delivered").number (w.delivered);
    j.key ("failed").number (w.failed);
    j.key ("dropped").number (w.dropped);
    j.key ("last_error").str_or_null (w.last_error);
    j.end_object ();
  }
  j.end_array ();
}

}  // namespace

/* ---------------------------------------------------------------------------------------------- */

GBytes *
status_json (const PageContext & ctx, const std::vector<CameraStatus> & cameras,
    const std::string & base, const std::string & ws_base)
{
  gint64 now_real = g_get_real_time ();
  gint64 now_mono = g_get_monotonic_time ();
  Json j;
  j.begin_object ();
  j.key ("program").str (CAMRELAY_PACKAGE);
  j.key ("version").str (CAMRELAY_VERSION);
  j.key ("started").time (ctx.started_real_us);
  j.key ("uptime_seconds").number ((now_mono - ctx.started_mono_us) / 1e6, 3);
  j.key ("reloads").begin_object ();
  j.key ("applied").number (ctx.reloads_applied);
  j.key ("refused").number (ctx.reloads_refused);
  j.key ("last").str_or_null (ctx.last_reload);
  j.key ("last_time").time_or_null (ctx.last_reload_us);
  j.key ("restart_needed").str_or_null (ctx.restart_needed);
  j.end_object ();
  recordings_json (j, ctx);
  notify_json (j, ctx);
  j.key ("cameras").begin_array ();
  for (const auto & st : cameras) {
    j.begin_object ();
    j.key ("name").str (st.name);
    j.key ("state").str (st.state);
    j.key ("since").time (st.since_us);
    j.key ("seconds_in_state").number (MAX (0, now_real - st.since_us) / 1e6, 3);
    j.key ("connected").boolean (st.connected);
    j.key ("peer").str_or_null (st.peer);
    j.key ("frames_per_second").number (st.fps, 2);
    j.key ("frames_received").number (st.counter (Field::SrcMessages));
    j.key ("bytes_received").number (st.counter (Field::SrcBytes));
    j.key ("connections").number (st.counter (Field::SrcConnections));
    j.key ("messages_refused").number (st.counter (Field::SrcRefusedMessages));
    j.key ("protocol_errors").number (st.counter (Field::SrcProtocolErrors));
    j.key ("invalid_utf8").number (st.counter (Field::SrcInvalidUtf8));
    j.key ("connections_lost").number (st.counter (Field::SrcConnectionsLost));
    j.key ("unauthorized").number (st.counter (Field::SrcUnauthorized));
    j.key ("takeovers").number (st.counter (Field::SrcTakeovers));
    j.key ("text_messages").number (st.counter (Field::SrcTextMessages));
    j.key ("pings").number (st.counter (Field::SrcPings));
    j.key ("frames_dropped").number (st.counter (Field::SrcDropped));
    j.key ("frames_accepted").number (st.counter (Field::ValidateAccepted));
    j.key ("frames_rejected").number (st.counter (Field::ValidateRejected));
    j.key ("frames_trimmed").number (st.counter (Field::ValidateTrimmed));
    j.key ("frames_dht_inserted").number (st.counter (Field::ValidateDhtInserted));
    j.key ("rejected").begin_object ();
    for (const auto & [reason, count] : rejections (st))
      j.key (reason).number (count);
    j.end_object ();
    j.key ("viewers").number (static_cast<guint64> (st.viewers));
    j.key ("viewers_total").number (st.counter (Field::SinkViewersTotal));
    j.key ("frames_sent").number (st.counter (Field::SinkPartsSent));
    j.key ("bytes_out").number (st.counter (Field::SinkBytesSent));
    j.key ("snapshots").number (st.counter (Field::SinkSnapshots));
    j.key ("switches").number (st.counter (Field::FallbackSwitches));
    j.key ("seconds_on_placeholder")
        .number (st.counter (Field::FallbackTimeOnPlaceholder) / 1e9, 3);
    j.key ("restarts").number (st.restarts);
    /* A pulled camera: its URL (never with credentials), state and reconnects. */
    if (st.source.empty ()) {
      j.key ("source").str ("websocket");
    } else {
      j.key ("source").str (st.source);
      j.key ("source_state").str (st.source_state);
      j.key ("source_reconnects").number (st.source_reconnects);
      j.key ("source_error").str_or_null (st.source_error);
    }
    if (st.last_error.empty ()) {
      j.key ("last_error").null ();
    } else {
      j.key ("last_error").begin_object ();
      j.key ("message").str (st.last_error);
      j.key ("at").time (st.last_error_us);
      j.end_object ();
    }
    recording_json (j, ctx, st);
    webrtc_json (j, st);
    h264_json (j, st);
    motion_json (j, st);
    j.key ("paths").begin_object ();
    j.key ("ingest").begin_array ();
    for (const auto & p : st.ingest_paths)
      j.str (p);
    j.end_array ();
    j.key ("stream").str_or_null (st.stream_path);
    j.key ("snapshot").str_or_null (st.snapshot_path);
    j.end_object ();
    j.key ("urls").begin_object ();
    j.key ("ingest").begin_array ();
    for (const auto & p : st.ingest_paths)
      j.str (ws_base + p);
    j.end_array ();
    j.key ("stream").str_or_null (st.stream_path.empty () ? "" : base + st.stream_path);
    j.key ("snapshot").str_or_null (st.snapshot_path.empty () ? "" : base + st.snapshot_path);
    j.end_object ();
    j.end_object ();
  }
  j.end_array ();
  j.end_object ();
  j.out ().put ('\n');
  return j.take_bytes ();
}

}  // namespace camrelay
