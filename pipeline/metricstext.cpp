/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the /metrics text, Prometheus' exposition format. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"
#include "pagetext.h"

#include "camrelay-config.h"
#include "recordingstore.h"
#include "webrtcviewers.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <set>
#include <string_view>
#include <type_traits>

namespace camrelay {

using namespace pagetext;
using elements::Field;

namespace {

/* ---------------------------------------------------------------------------------------------- */
/* Prometheus text format                                                                         */

class Metrics
{
public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void family (const char *name, const char *type, const char *help)
  {
    name_ = name;
    camera_prefix_ = std::string (name) + "{camera=\"";
    out_.lit ("# HELP ");
    out_.put (name);
    out_.put (' ');
    out_.put (help);
    out_.lit ("\n# TYPE ");
    out_.put (name);
    out_.put (' ');
    out_.put (type);
    out_.put ('\n');
  }

  void sample (Labels labels, std::string_view value)
  {
    begin (labels);
    out_.put (value);
    out_.put ('\n');
  }
  /* Any integer, written as std::to_string would. */
  template<typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  void sample (Labels labels, T value)
  {
    begin (labels);
    if constexpr (std::is_signed_v<T>)
      out_.number (static_cast<gint64> (value));
    else
      out_.number (static_cast<guint64> (value));
    out_.put ('\n');
  }
  /* @value as "%.Nf" with N = 0 for a whole number, 6 otherwise. */
  void sample_figure (Labels labels, double value)
  {
    begin (labels);
    out_.fixed (value, value == std::floor (value) ? 0 : 6);
    out_.put ('\n');
  }
  void sample_fixed (Labels labels, double value, int decimals)
  {
    begin (labels);
    out_.fixed (value, decimals);
    out_.put ('\n');
  }

  /* The samples of every camera: the family's "name{camera=\"" once, not piece by piece. */
  void camera (std::string_view camera, guint64 value)
  {
    begin_camera (camera);
    out_.number (value);
    out_.put ('\n');
  }

  void camera (std::string_view camera, double value)
  {
    begin_camera (camera);
    out_.fixed (value, 3);
    out_.put ('\n');
  }

  GBytes *take_bytes () { return out_.take_bytes (); }

private:
  /* "name{k="v",...} ": the sample up to its value. */
  void begin (Labels labels)
  {
    auto label = labels.begin ();
    if (label == labels.end ()) {
      out_.put (name_);
      out_.put (' ');
      return;
    }
    /* A camera's sample: the family's "name{camera=\"" written once per family. */
    if (label->first == "camera") {
      out_.put (camera_prefix_);
      append_escaped (label->second);
      out_.put ('"');
      ++label;
    } else {
      out_.put (name_);
      out_.put ('{');
    }
    for (bool first = label == labels.begin (); label != labels.end (); ++label, first = false) {
      if (!first)
        out_.put (',');
      out_.put (label->first);
      out_.lit ("=\"");
      append_escaped (label->second);
      out_.put ('"');
    }
    out_.lit ("} ");
  }

  void begin_camera (std::string_view camera)
  {
    out_.put (camera_prefix_);
    append_escaped (camera);
    out_.lit ("\"} ");
  }

  /* A label value: backslash, double quote and line feed escaped. */
  void append_escaped (std::string_view v)
  {
    bool plain = true;
    for (char c : v)
      plain = plain && c != '\\' && c != '"' && c != '\n';
    if (plain) {
      out_.put (v);
      return;
    }
    for (char c : v) {
      if (c == '\\' || c == '"')
        out_.put ('\\');
      if (c == '\n') {
        out_.lit ("\\n");
        continue;
      }
      out_.put (c);
    }
  }

  Text out_;
  std::string_view name_;
  std::string camera_prefix_;
};

struct CounterMetric
{
  const char *name;
  Field key;
  const char *help;
};

const CounterMetric COUNTERS[] = {
  { "camrelay_camera_connections_total", Field::SrcConnections,
      "WebSocket connections accepted from the camera." },
  { "camrelay_camera_received_frames_total", Field::SrcMessages,
      "Binary messages (candidate frames) received from the camera." },
  { "camrelay_camera_received_bytes_total", Field::SrcBytes,
      "Bytes of binary messages received from the camera." },
  { "camrelay_camera_text_messages_total", Field::SrcTextMessages,
      "Text messages (greetings) received from the camera and ignored." },
  { "camrelay_camera_refused_messages_total", Field::SrcRefusedMessages,
      "Messages refused while arriving for exceeding max-message-size (64 KiB for text)." },
  { "camrelay_camera_unauthorized_total", Field::SrcUnauthorized,
      "Camera connections refused for a missing or wrong secret." },
  { "camrelay_camera_protocol_errors_total", Field::SrcProtocolErrors,
      "Camera connections closed for breaking the WebSocket protocol (close code 1002)." },
  { "camrelay_camera_invalid_utf8_total", Field::SrcInvalidUtf8,
      "Camera connections closed for text that is not UTF-8 (close code 1007)." },
  { "camrelay_camera_connections_lost_total", Field::SrcConnectionsLost,
      "Camera connections that ended without a close handshake (1006), e.g. in the middle of a "
      "frame." },
  { "camrelay_camera_takeovers_total", Field::SrcTakeovers,
      "Camera connections closed because a newer one took over the same camera." },
  { "camrelay_camera_pings_total", Field::SrcPings,
      "Ping frames received from the camera (a flood is answered with fewer pongs)." },
  { "camrelay_camera_dropped_frames_total", Field::SrcDropped,
      "Received frames dropped because the pipeline was busy." },
  { "camrelay_camera_accepted_frames_total", Field::ValidateAccepted,
      "Frames that passed validation." },
  { "camrelay_camera_trimmed_frames_total", Field::ValidateTrimmed,
      "Accepted frames with encoder padding after EOI (at most 4 KiB), handed on without it." },
  { "camrelay_camera_dht_inserted_frames_total", Field::ValidateDhtInserted,
      "Accepted frames without Huffman tables, handed on with the standard ones (JPEG Annex K)." },
  { "camrelay_camera_switches_total", Field::FallbackSwitches,
      "Switches between the live stream and the placeholder." },
  { "camrelay_camera_placeholder_frames_total", Field::FallbackPlaceholderFrames,
      "Placeholder frames sent to viewers." },
  { "camrelay_viewer_connections_total", Field::SinkViewersTotal,
      "Viewers ever accepted on the stream." },
  { "camrelay_viewers_refused_total", Field::SinkViewersRefused,
      "Viewers refused with 503 over max-viewers." },
  { "camrelay_viewers_stalled_total", Field::SinkViewersStalled,
      "Viewers disconnected because their connection accepted nothing for too long." },
  { "camrelay_sent_frames_total", Field::SinkPartsSent, "Frames completely written to viewers." },
  { "camrelay_skipped_frames_total", Field::SinkPartsSkipped, "Frames that slow viewers skipped." },
  { "camrelay_sent_bytes_total", Field::SinkBytesSent, "Bytes written to viewers." },
  { "camrelay_snapshots_total", Field::SinkSnapshots, "Snapshot requests answered." },
};

void
webrtc_metrics (Metrics & m, const std::vector<CameraStatus> & cameras)
{
  struct Family
  {
    const char *name, *type, *help;
    guint64 (*value) (const cr::WhepStats &);
  };
  const Family families[] = {
    { "camrelay_camera_webrtc_sessions", "gauge", "WebRTC (WHEP) sessions of the camera now.",
        [] (const cr::WhepStats & w) { return guint64 (w.sessions); } },
    { "camrelay_camera_webrtc_sessions_total", "counter", "WebRTC sessions answered.",
        [] (const cr::WhepStats & w) { return w.sessions_total; } },
    { "camrelay_camera_webrtc_refused_total", "counter",
        "WebRTC offers refused because the camera had max-viewers sessions.",
        [] (const cr::WhepStats & w) { return w.refused; } },
    { "camrelay_camera_webrtc_failed_total", "counter",
        "WebRTC sessions ended by ICE failure, a timeout or a stopped feed.",
        [] (const cr::WhepStats & w) { return w.failed; } },
    { "camrelay_camera_webrtc_bad_offers_total", "counter",
        "WHEP requests refused as no SDP offer camrelay can answer (400, 415).",
        [] (const cr::WhepStats & w) { return w.bad_offers; } },
    { "camrelay_camera_webrtc_sent_bytes_total", "counter",
        "RTP bytes sent to the camera's WebRTC viewers.",
        [] (const cr::WhepStats & w) { return w.bytes_sent; } },
  };
  for (const auto & f : families) {
    m.family (f.name, f.type, f.help);
    for (size_t i = 0; i < cameras.size (); i++)
      m.camera (cameras[i].name, f.value (cameras[i].webrtc));
  }
}

/* Motion figures of the cameras with motion = true. */
static void
motion_metrics (Metrics & m, const std::vector<CameraStatus> & cameras)
{
  m.family ("camrelay_camera_motion", "gauge",
      "1 while motion goes on (between motion-start and motion-end), for cameras with motion on.");
  for (const auto & st : cameras) {
    if (st.motion.enabled)
      m.camera (st.name, static_cast<guint64> (st.motion.active));
  }
  const struct
  {
    const char *name;
    Field field;
    const char *help;
  } counters[] = {
    { "camrelay_camera_motion_events_total", Field::MotionEvents,
        "Motion events (motion-starts)." },
    { "camrelay_camera_motion_analysed_frames_total", Field::MotionAnalysed,
        "Frames looked at for motion." },
    { "camrelay_camera_motion_skipped_frames_total", Field::MotionSkipped,
        "Frames not looked at for motion: beyond its rate cap, or replaced by a newer one while "
        "the analysis thread was busy." },
    { "camrelay_camera_motion_light_changes_total", Field::MotionLightChanges,
        "Changes of most of the picture at once, taken as light rather than motion." },
  };
  for (const auto & c : counters) {
    m.family (c.name, "counter", c.help);
    for (const auto & st : cameras) {
      if (st.motion.enabled)
        m.camera (st.name, st.counter (c.field));
    }
  }
}

void
h264_metrics (Metrics & m, const std::vector<CameraStatus> & cameras)
{
  m.family ("camrelay_camera_h264_consumers", "gauge",
      "Consumers of the camera's H.264 encoder by protocol: rtsp is 1 while any RTSP viewer "
      "plays (they share one), webrtc one per peer.");
  for (const auto & st : cameras) {
    if (!st.h264.present)
      continue;
    m.sample ({ { "camera", st.name }, { "protocol", "rtsp" } }, st.h264.consumers_rtsp);
    m.sample ({ { "camera", st.name }, { "protocol", "webrtc" } }, st.h264.consumers_webrtc);
  }
  struct
  {
    const char *name;
    const char *type;
    const char *help;
    double (*value) (const CameraStatus &);
  } figures[] = {
    { "camrelay_camera_rtsp_viewers", "gauge", "RTSP viewers playing the camera now.",
        [] (const CameraStatus & st) { return static_cast<double> (st.h264.rtsp_viewers); } },
    { "camrelay_camera_h264_encoder_running", "gauge",
        "1 while the camera's H.264 encoder runs (somebody watches, or did within the linger).",
        [] (const CameraStatus & st) { return st.h264.encoder_running ? 1.0 : 0.0; } },
    { "camrelay_camera_h264_encode_seconds", "gauge",
        "Time to decode a JPEG and encode it to H.264, per frame, recent average.",
        [] (const CameraStatus & st) { return st.h264.encode_ns / 1e9; } },
    { "camrelay_camera_h264_encoded_frames_total", "counter", "Frames encoded to H.264.",
        [] (const CameraStatus & st) {
          return static_cast<double> (st.counter (Field::H264FramesEncoded));
        } },
    { "camrelay_camera_h264_encoder_starts_total", "counter",
        "Times the camera's H.264 encoder started (its first viewer after a pause).",
        [] (const CameraStatus & st) {
          return static_cast<double> (st.counter (Field::H264EncoderStarts));
        } },
  };
  for (const auto & f : figures) {
    m.family (f.name, f.type, f.help);
    for (const auto & st : cameras) {
      if (st.h264.present)
        m.sample_figure ({ { "camera", st.name } }, f.value (st));
    }
  }
  m.family ("camrelay_camera_sent_bytes_total", "counter",
      "Bytes sent to the camera's viewers by protocol (mjpeg: the HTTP stream; rtsp, webrtc: "
      "H.264 access units handed to them, before RTP packetisation).");
  for (const auto & st : cameras) {
    m.sample ({ { "camera", st.name }, { "protocol", "mjpeg" } },
        st.counter (Field::SinkBytesSent));
    if (!st.h264.present)
      continue;
    m.sample ({ { "camera", st.name }, { "protocol", "rtsp" } },
        st.counter (Field::H264BytesOutRtsp));
    m.sample ({ { "camera", st.name }, { "protocol", "webrtc" } },
        st.counter (Field::H264BytesOutWebrtc));
  }
}

void
recording_metrics (Metrics & m, const PageContext & ctx, const std::vector<CameraStatus> & cameras)
{
  const char *kinds[] = { "record", "timelapse" };
  m.family ("camrelay_camera_recording_state", "gauge",
      "1 for the recorder's state (kind record: every frame, timelapse: the time-lapse): "
      "off, idle, recording or paused; reason says why it is paused (e.g. disk full).");
  for (const auto & st : cameras) {
    for (bool tl : { false, true }) {
      const CameraStatus::Recorder & r = tl ? st.timelapse : st.record;
      m.sample ({ { "camera", st.name }, { "kind", kinds[tl] }, { "state", r.state },
                    { "reason", r.reason } },
          "1");
    }
  }
  struct
  {
    const char *name;
    Field field;
    const char *help;
  } counters[] = {
    { "camrelay_camera_recorded_frames_total", Field::RecordFrames, "Frames written to disk." },
    { "camrelay_camera_recorded_bytes_total", Field::RecordBytes,
        "Bytes written to disk (frames and their Matroska framing)." },
    { "camrelay_camera_recording_skipped_frames_total", Field::RecordSkipped,
        "Frames not recorded while recording was paused (disk full, write error)." },
    { "camrelay_camera_recording_errors_total", Field::RecordErrors,
        "Writes that failed and paused recording." },
  };
  for (const auto & c : counters) {
    m.family (c.name, "counter", c.help);
    for (const auto & st : cameras) {
      for (bool tl : { false, true })
        m.sample ({ { "camera", st.name }, { "kind", kinds[tl] } },
            st.recorder_counter (tl, c.field));
    }
  }
  if (!ctx.recordings)
    return;
  const RecordingStore & store = *ctx.recordings;
  std::vector<RecordingStore::Summary> sums;
  for (const auto & st : cameras)
    sums.push_back (store.summary (st.name));
  m.family ("camrelay_camera_recording_disk_bytes", "gauge", "Bytes of recordings on disk.");
  for (gsize i = 0; i < cameras.size (); i++) {
    for (bool tl : { false, true })
      m.sample ({ { "camera", cameras[i].name }, { "kind", kinds[tl] } },
          tl ? sums[i].timelapse.bytes : sums[i].record.bytes);
  }
  m.family ("camrelay_camera_recording_segments", "gauge", "Segment files on disk.");
  for (gsize i = 0; i < cameras.size (); i++) {
    for (bool tl : { false, true })
      m.sample ({ { "camera", cameras[i].name }, { "kind", kinds[tl] } },
          tl ? sums[i].timelapse.segments : sums[i].record.segments);
  }
  m.family ("camrelay_camera_recording_oldest_timestamp_seconds", "gauge",
      "Start of the oldest recording on disk, in Unix time (absent without one).");
  for (gsize i = 0; i < cameras.size (); i++) {
    for (bool tl : { false, true }) {
      gint64 oldest = tl ? sums[i].timelapse.oldest : sums[i].record.oldest;
      if (oldest)
        m.sample ({ { "camera", cameras[i].name }, { "kind", kinds[tl] } }, oldest);
    }
  }
  RecordingStore::Totals t = store.totals ();
  guint64 free = 0, total = 0;
  if (store.disk_space (free, total)) {
    m.family ("camrelay_recordings_disk_free_bytes", "gauge",
        "Free bytes on the file system holding the recordings.");
    m.sample ({}, free);
  }
  m.family ("camrelay_recordings_disk_bytes", "gauge", "Bytes of every recording on disk.");
  m.sample ({}, t.bytes);
  m.family ("camrelay_recordings_deleted_segments_total", "counter",
      "Segments retention deleted, by reason: keep (age) or max-disk (total size).");
  m.sample ({ { "reason", "keep" } }, t.deleted_keep);
  m.sample ({ { "reason", "max-disk" } }, t.deleted_max_disk);
  m.family ("camrelay_recordings_cache_bytes", "gauge",
      "Bytes of the time-lapse MP4 cache (counted in camrelay_recordings_disk_bytes).");
  m.sample ({}, t.cache_bytes);
}

void
notify_metrics (Metrics & m, const PageContext & ctx)
{
  NotifyStatus n = ctx.notifier ? ctx.notifier->status () : NotifyStatus ();
  if (n.mqtt) {
    m.family ("camrelay_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    m.sample ({}, n.mqtt_stats.connected ? "1" : "0");
    m.family ("camrelay_mqtt_messages_published_total", "counter",
        "MQTT messages written to the broker's connection.");
    m.sample ({}, n.mqtt_stats.published);
    m.family ("camrelay_mqtt_queued_bytes", "gauge",
        "Bytes of MQTT messages waiting for the broker (bounded: only the newest value of each "
        "topic waits).");
    m.sample ({}, n.mqtt_stats.queued_bytes);
  }
  if (n.webhooks.empty ())
    return;
  m.family ("camrelay_webhook_queue_length", "gauge", "Events waiting for a webhook URL.");
  for (const auto & w : n.webhooks)
    m.sample ({ { "url", w.url } }, w.queued);
  m.family ("camrelay_webhook_events_total", "counter",
      "Webhook events by outcome: delivered, failed (an attempt, tried again) or dropped (the "
      "queue was full).");
  for (const auto & w : n.webhooks) {
    m.sample ({ { "url", w.url }, { "result", "delivered" } }, w.delivered);
    m.sample ({ { "url", w.url }, { "result", "failed" } }, w.failed);
    m.sample ({ { "url", w.url }, { "result", "dropped" } }, w.dropped);
  }
}

}  // namespace

GBytes *
metrics_text (const PageContext & ctx, const std::vector<CameraStatus> & cameras)
{
  Metrics m;
  m.family ("camrelay_build_info", "gauge", "Always 1; the version label says which camrelay.");
  m.sample ({ { "version", CAMRELAY_VERSION } }, "1");
  m.family ("camrelay_start_time_seconds", "gauge", "When camrelay started, in Unix time.");
  m.sample_fixed ({}, ctx.started_real_us / 1e6, 3);
  m.family ("camrelay_uptime_seconds", "gauge", "Seconds since camrelay started.");
  m.sample_fixed ({}, (g_get_monotonic_time () - ctx.started_mono_us) / 1e6, 3);

  m.family ("camrelay_config_reloads_total", "counter",
      "Configuration reloads (SIGHUP) by outcome: applied, or refused with the running "
      "configuration kept.");
  m.sample ({ { "result", "applied" } }, ctx.reloads_applied);
  m.sample ({ { "result", "refused" } }, ctx.reloads_refused);
  m.family ("camrelay_config_restart_needed", "gauge",
      "1 while the configuration file has [server] changes that only a restart applies.");
  m.sample ({}, ctx.restart_needed.empty () ? "0" : "1");
  notify_metrics (m, ctx);

  m.family ("camrelay_camera_up", "gauge",
      "1 while the camera's pipeline runs, 0 while it is being restarted after an error.");
  for (const auto & st : cameras)
    m.camera (st.name, static_cast<guint64> (st.state != "restarting" && st.state != "starting"));
  m.family ("camrelay_camera_live", "gauge",
      "1 while viewers see the camera's own frames, 0 while they see the placeholder.");
  for (const auto & st : cameras)
    m.camera (st.name, static_cast<guint64> (st.state == "live"));
  m.family ("camrelay_camera_connected", "gauge", "1 while a camera is connected.");
  for (const auto & st : cameras)
    m.camera (st.name, static_cast<guint64> (st.connected));
  m.family ("camrelay_camera_state_change_timestamp_seconds", "gauge",
      "When the camera last changed between live, placeholder and restarting, in Unix time.");
  for (const auto & st : cameras)
    m.camera (st.name, st.since_us / 1e6);
  m.family ("camrelay_camera_received_frames_per_second", "gauge",
      "Frames received per second, averaged over the last few seconds.");
  for (const auto & st : cameras)
    m.camera (st.name, st.fps);
  m.family ("camrelay_viewers", "gauge", "Viewers connected to the camera's stream now.");
  for (const auto & st : cameras)
    m.camera (st.name, static_cast<guint64> (st.viewers));

  for (const auto & c : COUNTERS) {
    m.family (c.name, "counter", c.help);
    for (const auto & st : cameras)
      m.camera (st.name, st.counter (c.key));
  }
  m.family ("camrelay_camera_rejected_frames_total", "counter",
      "Frames jpegvalidate rejected, by reason.");
  for (const auto & st : cameras) {
    for (const auto & [reason, count] : rejections (st))
      m.sample ({ { "camera", st.name }, { "reason", reason } }, count);
  }
  m.family ("camrelay_camera_placeholder_seconds_total", "counter",
      "Seconds the placeholder was shown instead of the camera.");
  for (const auto & st : cameras)
    m.camera (st.name, st.counter (Field::FallbackTimeOnPlaceholder) / 1e9);
  m.family ("camrelay_camera_source_info", "gauge",
      "1 for each pulled camera; the source label is its URL without credentials, state its "
      "state (connecting, streaming, retrying, idle).");
  for (const auto & st : cameras) {
    if (!st.source.empty ())
      m.sample ({ { "camera", st.name }, { "source", st.source }, { "state", st.source_state } },
          "1");
  }
  m.family ("camrelay_camera_source_reconnects_total", "counter",
      "Times a pulled camera's connection failed and was tried again.");
  for (const auto & st : cameras) {
    if (!st.source.empty ())
      m.camera (st.name, st.source_reconnects);
  }
  m.family ("camrelay_camera_pipeline_restarts_total", "counter",
      "Times the camera's pipeline failed and was rebuilt.");
  for (const auto & st : cameras)
    m.camera (st.name, st.restarts);
  recording_metrics (m, ctx, cameras);
  webrtc_metrics (m, cameras);
  h264_metrics (m, cameras);
  motion_metrics (m, cameras);
  return m.take_bytes ();
}

}  // namespace camrelay
