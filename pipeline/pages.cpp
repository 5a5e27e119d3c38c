/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /status, /metrics and /view. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"

#include "jsontext.h"

#include "viewback.h"

#include "camrelay-config.h"
#include "recordingstore.h"

#include <cstring>
#include <set>

namespace camrelay {

namespace {

using elements::Field;

/* Reasons jpegvalidate counts; always reported, so a dashboard sees zeros rather than gaps. */
std::map<std::string, guint64>
rejections (const CameraStatus & st)
{
  std::map<std::string, guint64> out;
  for (Field r : elements::REJECT_REASONS)
    out[elements::name (r)] = st.counter (r);
  return out;
}

std::string
iso_time (gint64 real_us)
{
  if (real_us <= 0)
    return "";
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (real_us / G_USEC_PER_SEC);
  if (!t)
    return "";
  g_autoptr (GDateTime) precise = g_date_time_add (t, real_us % G_USEC_PER_SEC);
  g_autofree gchar *s = g_date_time_format_iso8601 (precise);
  return s ? s : "";
}

std::string
format_double (double v, int decimals)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree gchar *fmt = g_strdup_printf ("%%.%df", decimals);
  return g_ascii_formatd (buf, sizeof (buf), fmt, v);
}

/* A small JSON writer: commas and escaping, nothing else. */
class Json
{
public:
  Json & begin_object ()
  {
    value_prefix ();
    out_ += '{';
    first_ = true;
    return *this;
  }
  Json & end_object ()
  {
    out_ += '}';
    first_ = false;
    return *this;
  }
  Json & begin_array ()
  {
    value_prefix ();
    out_ += '[';
    first_ = true;
    return *this;
  }
  Json & end_array ()
  {
    out_ += ']';
    first_ = false;
    return *this;
  }

  Json & key (const std::string & k)
  {
    if (!first_)
      out_ += ',';
    string_literal (k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  Json & str (const std::string & s)
  {
    value_prefix ();
    string_literal (s);
    return *this;
  }
  Json & str_or_null (const std::string & s) { return s.empty () ? null () : str (s); }
  Json & null ()
  {
    value_prefix ();
    out_ += "null";
    return *this;
  }
  Json & boolean (bool b)
  {
    value_prefix ();
    out_ += b ? "true" : "false";
    return *this;
  }
  Json & number (guint64 n)
  {
    value_prefix ();
    out_ += std::to_string (n);
    return *this;
  }
  Json & number (double d, int decimals)
  {
    value_prefix ();
    out_ += format_double (d, decimals);
    return *this;
  }

  const std::string & text () const { return out_; }

private:
  void value_prefix ()
  {
    if (!after_key_ && !first_)
      out_ += ',';
    after_key_ = false;
    first_ = false;
  }

  void string_literal (const std::string & s) { append_json_string (out_, s); }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

/* "http://host:port" as the client reached us, from the request's Host. */
void
request_bases (SoupServerMessage *msg, bool tls, std::string & http, std::string & ws)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = uri ? g_uri_get_host (uri) : nullptr;
  gint port = uri ? g_uri_get_port (uri) : -1;
  std::string h = host ? host : "localhost";
  if (h.find (':') != std::string::npos && h[0] != '[')
    h = "[" + h + "]";
  if (port > 0)
    h += ":" + std::to_string (port);
  http = std::string (tls ? "https://" : "http://") + h;
  ws = std::string (tls ? "wss://" : "ws://") + h;
}

void
respond (SoupServerMessage *msg, const char *content_type, const std::string & body)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, body.data (),
      body.size ());
}

std::vector<CameraStatus>
collect (const PageContext & ctx)
{
  std::vector<CameraStatus> out;
  for (const Camera *c : ctx.cameras)
    out.push_back (c->status ());
  return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* Prometheus text format                                                                         */

class Metrics
{
public:
  void family (const char *name, const char *type, const char *help)
  {
    name_ = name;
    out_ += std::string ("# HELP ") + name + " " + help + "\n";
    out_ += std::string ("# TYPE ") + name + " " + type + "\n";
  }

  void sample (const std::vector<std::pair<std::string, std::string>> & labels,
      const std::string & value)
  {
    out_ += name_;
    if (!labels.empty ()) {
      out_ += '{';
      bool first = true;
      for (const auto & [k, v] : labels) {
        out_ += (first ? "" : ",") + k + "=\"" + escape (v) + "\"";
        first = false;
      }
      out_ += '}';
    }
    out_ += " " + value + "\n";
  }

  void camera (const std::string & camera, guint64 value)
  {
    sample ({ { "camera", camera } }, std::to_string (value));
  }

  void camera (const std::string & camera, double value)
  {
    sample ({ { "camera", camera } }, format_double (value, 3));
  }

  const std::string & text () const { return out_; }

private:
  static std::string escape (const std::string & v)
  {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"')
        out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  }

  std::string out_;
  std::string name_;
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
  j.key ("oldest").str_or_null (iso_time (disk.oldest * G_USEC_PER_SEC));
  j.key ("newest").str_or_null (iso_time (disk.newest * G_USEC_PER_SEC));
  if (r.last_error.empty ()) {
    j.key ("last_error").null ();
  } else {
    j.key ("last_error").begin_object ();
    j.key ("message").str (r.last_error);
    j.key ("at").str (iso_time (r.last_error_us));
    j.end_object ();
  }
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
  j.key ("since").str_or_null (m.since_us ? iso_time (m.since_us) : "");
  j.key ("last_start").str_or_null (m.last_start_us ? iso_time (m.last_start_us) : "");
  j.key ("last_end").str_or_null (m.last_end_us ? iso_time (m.last_end_us) : "");
  j.key ("last_area").number (m.last_area, 4);
  j.key ("events").number (st.counter (Field::MotionEvents));
  j.key ("frames_analysed").number (st.counter (Field::MotionAnalysed));
  j.key ("frames_skipped").number (st.counter (Field::MotionSkipped));
  j.key ("light_changes").number (st.counter (Field::MotionLightChanges));
  j.key ("decode_errors").number (st.counter (Field::MotionDecodeErrors));
  j.end_object ();
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
  j.end_object ();
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
            std::to_string (st.recorder_counter (tl, c.field)));
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
          std::to_string (tl ? sums[i].timelapse.bytes : sums[i].record.bytes));
  }
  m.family ("camrelay_camera_recording_segments", "gauge", "Segment files on disk.");
  for (gsize i = 0; i < cameras.size (); i++) {
    for (bool tl : { false, true })
      m.sample ({ { "camera", cameras[i].name }, { "kind", kinds[tl] } },
          std::to_string (tl ? sums[i].timelapse.segments : sums[i].record.segments));
  }
  m.family ("camrelay_camera_recording_oldest_timestamp_seconds", "gauge",
      "Start of the oldest recording on disk, in Unix time (absent without one).");
  for (gsize i = 0; i < cameras.size (); i++) {
    for (bool tl : { false, true }) {
      gint64 oldest = tl ? sums[i].timelapse.oldest : sums[i].record.oldest;
      if (oldest)
        m.sample ({ { "camera", cameras[i].name }, { "kind", kinds[tl] } },
            std::to_string (oldest));
    }
  }
  RecordingStore::Totals t = store.totals ();
  guint64 free = 0, total = 0;
  if (store.disk_space (free, total)) {
    m.family ("camrelay_recordings_disk_free_bytes", "gauge",
        "Free bytes on the file system holding the recordings.");
    m.sample ({}, std::to_string (free));
  }
  m.family ("camrelay_recordings_disk_bytes", "gauge", "Bytes of every recording on disk.");
  m.sample ({}, std::to_string (t.bytes));
  m.family ("camrelay_recordings_deleted_segments_total", "counter",
      "Segments retention deleted, by reason: keep (age) or max-disk (total size).");
  m.sample ({ { "reason", "keep" } }, std::to_string (t.deleted_keep));
  m.sample ({ { "reason", "max-disk" } }, std::to_string (t.deleted_max_disk));
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

void
notify_metrics (Metrics & m, const PageContext & ctx)
{
  NotifyStatus n = ctx.notifier ? ctx.notifier->status () : NotifyStatus ();
  if (n.mqtt) {
    m.family ("camrelay_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    m.sample ({}, n.mqtt_stats.connected ? "1" : "0");
    m.family ("camrelay_mqtt_messages_published_total", "counter",
        "MQTT messages written to the broker's connection.");
    m.sample ({}, std::to_string (n.mqtt_stats.published));
    m.family ("camrelay_mqtt_queued_bytes", "gauge",
        "Bytes of MQTT messages waiting for the broker (bounded: only the newest value of each "
        "topic waits).");
    m.sample ({}, std::to_string (n.mqtt_stats.queued_bytes));
  }
  if (n.webhooks.empty ())
    return;
  m.family ("camrelay_webhook_queue_length", "gauge", "Events waiting for a webhook URL.");
  for (const auto & w : n.webhooks)
    m.sample ({ { "url", w.url } }, std::to_string (w.queued));
  m.family ("camrelay_webhook_events_total", "counter",
      "Webhook events by outcome: delivered, failed (an attempt, tried again) or dropped (the "
      "queue was full).");
  for (const auto & w : n.webhooks) {
    m.sample ({ { "url", w.url }, { "result", "delivered" } }, std::to_string (w.delivered));
    m.sample ({ { "url", w.url }, { "result", "failed" } }, std::to_string (w.failed));
    m.sample ({ { "url", w.url }, { "result", "dropped" } }, std::to_string (w.dropped));
  }
}

void
page_status (const PageContext & ctx, SoupServerMessage *msg, bool tls)
{
  std::string http, ws;
  request_bases (msg, tls, http, ws);
  respond (msg, "application/json", status_json (ctx, collect (ctx), http, ws));
}

}  // namespace

/* ---------------------------------------------------------------------------------------------- */

std::string
status_json (const PageContext & ctx, const std::vector<CameraStatus> & cameras,
    const std::string & base, const std::string & ws_base)
{
  gint64 now_real = g_get_real_time ();
  gint64 now_mono = g_get_monotonic_time ();
  Json j;
  j.begin_object ();
  j.key ("program").str (CAMRELAY_PACKAGE);
  j.key ("version").str (CAMRELAY_VERSION);
  j.key ("started").str (iso_time (ctx.started_real_us));
  j.key ("uptime_seconds").number ((now_mono - ctx.started_mono_us) / 1e6, 3);
  j.key ("reloads").begin_object ();
  j.key ("applied").number (ctx.reloads_applied);
  j.key ("refused").number (ctx.reloads_refused);
  j.key ("last").str_or_null (ctx.last_reload);
  j.key ("last_time").str_or_null (ctx.last_reload_us ? iso_time (ctx.last_reload_us) : "");
  j.key ("restart_needed").str_or_null (ctx.restart_needed);
  j.end_object ();
  recordings_json (j, ctx);
  notify_json (j, ctx);
  j.key ("cameras").begin_array ();
  for (const auto & st : cameras) {
    j.begin_object ();
    j.key ("name").str (st.name);
    j.key ("state").str (st.state);
    j.key ("since").str (iso_time (st.since_us));
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
      j.key ("at").str (iso_time (st.last_error_us));
      j.end_object ();
    }
    recording_json (j, ctx, st);
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
  return j.text () + "\n";
}

std::string
metrics_text (const PageContext & ctx, const std::vector<CameraStatus> & cameras)
{
  Metrics m;
  m.family ("camrelay_build_info", "gauge", "Always 1; the version label says which camrelay.");
  m.sample ({ { "version", CAMRELAY_VERSION } }, "1");
  m.family ("camrelay_start_time_seconds", "gauge", "When camrelay started, in Unix time.");
  m.sample ({}, format_double (ctx.started_real_us / 1e6, 3));
  m.family ("camrelay_uptime_seconds", "gauge", "Seconds since camrelay started.");
  m.sample ({}, format_double ((g_get_monotonic_time () - ctx.started_mono_us) / 1e6, 3));

  m.family ("camrelay_config_reloads_total", "counter",
      "Configuration reloads (SIGHUP) by outcome: applied, or refused with the running "
      "configuration kept.");
  m.sample ({ { "result", "applied" } }, std::to_string (ctx.reloads_applied));
  m.sample ({ { "result", "refused" } }, std::to_string (ctx.reloads_refused));
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
      m.sample ({ { "camera", st.name }, { "reason", reason } }, std::to_string (count));
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
  motion_metrics (m, cameras);
  return m.text ();
}

static std::string
html_escape (const std::string & s)
{
  g_autofree gchar *e = g_markup_escape_text (s.c_str (), -1);
  return e;
}

std::string
view_html (const std::vector<CameraStatus> & cameras)
{
  std::string figures;
  for (const auto & st : cameras) {
    std::string name = html_escape (st.name);
    figures += "<figure data-camera=\"" + name + "\">";
    if (st.stream_path.empty ())
      figures += "<div class=\"nostream\">no stream</div>";
    else
      figures += "<img src=\"" + html_escape (st.stream_path) + "\" alt=\"" + name + "\">";
    figures += "<figcaption><span class=\"name\">" + name + "</span><span class=\"state " +
        html_escape (st.state) + "\">" + html_escape (st.state) + "</span><span class=\"motion\"" +
        (st.motion.active ? "" : " hidden") + ">motion</span><span class=\"info\"></span>" +
        (st.source.empty () ? std::string ()
                            : "<span class=\"source\">" + html_escape (st.source) + "</span>") +
        "</figcaption>" + back_in_time_controls (st) + "</figure>\n";
  }
  figures += back_in_time_script ();

  static const char *head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camrelay</title>
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee}
header{display:flex;justify-content:space-between;align-items:baseline;padding:8px 14px}
h1{margin:0;font-size:16px}
#server{color:#999;font-size:12px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px;padding:0 12px 12px}
figure{margin:0;background:#000;border-radius:6px;overflow:hidden}
img,.nostream{display:block;width:100%;aspect-ratio:4/3;max-height:calc(100vh - 90px);object-fit:contain;background:#000}
.nostream{display:flex;align-items:center;justify-content:center;color:#777}
figcaption{display:flex;gap:8px;align-items:center;padding:6px 10px;background:#222}
.name{font-weight:600}
.state{padding:0 8px;border-radius:9px;font-size:12px;background:#555}
.state.live{background:#1a7f37}
.state.placeholder{background:#9a6700}
.state.restarting,.state.offline{background:#a40e26}
.motion{padding:0 8px;border-radius:9px;font-size:12px;background:#cf222e;font-weight:600}
.motion[hidden]{display:none}
.info{margin-left:auto;color:#aaa;font-size:12px}
.source{color:#777;font-size:11px;overflow-wrap:anywhere}
</style>
</head>
<body>
<header><h1>camrelay</h1><span id="server"></span></header>
<main>
)html";

  static const char *tail = R"html(</main>
<script>
"use strict";
function ago(s) {
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
/* A stream that failed (a restart, a network hiccup) is opened again after a pause. */
function reopenOnError(img) {
  img.addEventListener("error", () => {
    if (!img.isConnected) return;
    setTimeout(() => { img.src = img.src.split("?")[0] + "?t=" + Date.now(); }, 2000);
  });
}
function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}
/* The figure the page is served with, for a camera a reload added. */
function newFigure(c) {
  const fig = document.createElement("figure");
  fig.dataset.camera = c.name;
  let pic;
  if (c.paths.stream) {
    pic = document.createElement("img");
    pic.alt = c.name;
    pic.src = c.paths.stream;
    reopenOnError(pic);
  } else {
    pic = Object.assign(document.createElement("div"), {className: "nostream", textContent: "no stream"});
  }
  const cap = document.createElement("figcaption");
  const motion = span("motion", "motion");
  motion.hidden = true;
  cap.append(span("name", c.name), span("state " + c.state, c.state), motion, span("info", ""));
  if (c.source && c.source !== "websocket") cap.append(span("source", c.source));
  fig.append(pic, cap);
  return fig;
}
/* Cameras a reload added get a figure, removed ones lose theirs (and their stream). */
function followCameras(cameras) {
  const names = new Set(cameras.map(c => c.name));
  for (const fig of document.querySelectorAll("figure[data-camera]")) {
    if (names.has(fig.dataset.camera)) continue;
    const img = fig.querySelector("img");
    if (img) img.src = "";
    fig.remove();
  }
  const main = document.querySelector("main");
  for (const c of cameras) {
    if (!document.querySelector('figure[data-camera="' + c.name + '"]'))
      main.append(newFigure(c));
  }
}
async function refresh() {
  try {
    const r = await fetch("/status", {cache: "no-store"});
    const s = await r.json();
    document.getElementById("server").textContent =
      "camrelay " + s.version + ", up " + ago(s.uptime_seconds);
    followCameras(s.cameras);
    for (const c of s.cameras) {
      const fig = document.querySelector('figure[data-camera="' + c.name + '"]');
      if (!fig) continue;
      const state = fig.querySelector(".state");
      const img = fig.querySelector("img");
      /* A rebuilt pipeline ended the old response: open the stream again. */
      if (img && !fig.dataset.past && fig.dataset.restarts !== undefined &&
          fig.dataset.restarts != c.restarts)
        img.src = c.paths.stream + "?t=" + Date.now();
      fig.dataset.restarts = c.restarts;
      fig.querySelector(".motion").hidden = !(c.motion && c.motion.active);
      if (!fig.dataset.past) {
        state.textContent = c.state;
        state.className = "state " + c.state;
      }
      fig.querySelector(".info").textContent =
        (c.connected ? c.frames_per_second.toFixed(1) + " fps from " + (c.peer || c.source) :
         c.source_state ? "source " + c.source_state + " (" + c.source_reconnects + " reconnects)" :
         "no camera") +
        " \u00b7 " + c.viewers + " watching \u00b7 " + c.state + " for " + ago(c.seconds_in_state);
    }
  } catch (e) {
    document.getElementById("server").textContent = "camrelay is not answering";
  }
}
for (const img of document.querySelectorAll("img")) reopenOnError(img);
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

  return std::string (head) + figures + tail;
}

/* ---------------------------------------------------------------------------------------------- */

std::unique_ptr<Pages>
Pages::create (cr::Server & server, const PageContext & ctx, GError **error)
{
  std::unique_ptr<Pages> pages (new Pages ());
  bool tls = server.tls ();
  const PageContext *c = &ctx;

  auto add = [&] (const char *path, cr::PageHandler handler) {
    auto route = server.add_page (path, std::move (handler), error);
    if (!route)
      return false;
    pages->routes_.push_back (std::move (route));
    return true;
  };

  bool ok = add ("/status",
                [c, tls] (SoupServerMessage *msg, const char *, GHashTable *) {
                  page_status (*c, msg, tls);
                }) &&
      add ("/metrics",
          [c] (SoupServerMessage *msg, const char *, GHashTable *) {
            respond (msg, "text/plain; version=0.0.4; charset=utf-8",
                metrics_text (*c, collect (*c)));
          }) &&
      add ("/view", [c] (SoupServerMessage *msg, const char *, GHashTable *) {
        respond (msg, "text/html; charset=utf-8", view_html (collect (*c)));
      });
  if (!ok)
    return nullptr;
  return pages;
}

Pages::~Pages () = default;

}  // namespace camrelay
