/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /status, /metrics and /view. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"

#include "jsontext.h"

#include "viewback.h"
#include "viewwebrtc.h"

#include "camrelay-config.h"
#include "recordingstore.h"
#include "webrtcviewers.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <set>
#include <string_view>

namespace camrelay {

namespace {

using elements::Field;

/* Reasons jpegvalidate counts, by name; always reported, so a dashboard sees zeros rather than
 * gaps. */
std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)>
rejections (const CameraStatus & st)
{
  static const auto sorted = [] {
    std::array<Field, G_N_ELEMENTS (elements::REJECT_REASONS)> f;
    std::copy (std::begin (elements::REJECT_REASONS), std::end (elements::REJECT_REASONS),
        f.begin ());
    std::sort (f.begin (), f.end (),
        [] (Field a, Field b) { return strcmp (elements::name (a), elements::name (b)) < 0; });
    return f;
  }();
  std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)> out;
  for (gsize i = 0; i < sorted.size (); i++)
    out[i] = { elements::name (sorted[i]), st.counter (sorted[i]) };
  return out;
}

/* Numbers straight into the text: /metrics and /status write tens of thousands of them. */
void
append_number (std::string & out, guint64 n)
{
  char buf[24];
  auto r = std::to_chars (buf, buf + sizeof (buf), n);
  out.append (buf, r.ptr);
}

/* @v with @decimals digits after the point, as printf's "%.Nf" in the C locale. */
void
append_fixed (std::string & out, double v, int decimals)
{
  char buf[64];
  auto r = std::to_chars (buf, buf + sizeof (buf), v, std::chars_format::fixed, decimals);
  if (r.ec == std::errc ()) {
    out.append (buf, r.ptr);
    return;
  }
  char fmt[8];
  g_snprintf (fmt, sizeof (fmt), "%%.%df", decimals);
  out += g_ascii_formatd (buf, sizeof (buf), fmt, v);
}

/* As g_date_time_format_iso8601() writes a UTC time ("2026-12-06T11:24:44.123456Z", the fraction
 * only when there is one), without a GDateTime per call. */
std::string
iso_time (gint64 real_us)
{
  if (real_us <= 0)
    return "";
  time_t secs = static_cast<time_t> (real_us / G_USEC_PER_SEC);
  int usec = static_cast<int> (real_us % G_USEC_PER_SEC);
  struct tm tm;
  if (!gmtime_r (&secs, &tm) || tm.tm_year + 1900 > 9999)
    return "";
  char buf[40];
  if (usec)
    g_snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
  else
    g_snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string
format_double (double v, int decimals)
{
  std::string out;
  append_fixed (out, v, decimals);
  return out;
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

  Json & key (std::string_view k)
  {
    if (!first_)
      out_ += ',';
    string_literal (k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  Json & str (std::string_view s)
  {
    value_prefix ();
    string_literal (s);
    return *this;
  }
  Json & str_or_null (std::string_view s) { return s.empty () ? null () : str (s); }
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
    append_number (out_, n);
    return *this;
  }
  Json & number (double d, int decimals)
  {
    value_prefix ();
    append_fixed (out_, d, decimals);
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

  void string_literal (std::string_view s) { append_json_string (out_, s); }

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
  out.reserve (ctx.cameras.size ());
  for (const Camera *c : ctx.cameras)
    out.push_back (c->status ());
  return out;
}

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
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample (Labels labels, std::string_view value)
  {
    begin (labels);
    out_ += value;
    out_ += '\n';
  }
  void sample (Labels labels, guint64 value)
  {
    begin (labels);
    append_number (out_, value);
    out_ += '\n';
  }

  /* The samples of every camera: the family's "name{camera=\"" once, not piece by piece. */
  void camera (std::string_view camera, guint64 value)
  {
    begin_camera (camera);
    append_number (out_, value);
    out_ += '\n';
  }

  void camera (std::string_view camera, double value)
  {
    begin_camera (camera);
    append_fixed (out_, value, 3);
    out_ += '\n';
  }

  const std::string & text () const { return out_; }

private:
  /* "name{k="v",...} ": the sample up to its value. */
  void begin (Labels labels)
  {
    out_ += name_;
    if (labels.size ()) {
      char sep = '{';
      for (const auto & [k, v] : labels) {
        out_ += sep;
        out_ += k;
        out_ += "=\"";
        append_escaped (v);
        out_ += '"';
        sep = ',';
      }
      out_ += '}';
    }
    out_ += ' ';
  }

  void begin_camera (std::string_view camera)
  {
    out_ += camera_prefix_;
    append_escaped (camera);
    out_.append ("\"} ", 3);
  }

  /* A label value: backslash, double quote and line feed escaped. */
  void append_escaped (std::string_view v)
  {
    bool plain = true;
    for (char c : v)
      plain = plain && c != '\\' && c != '"' && c != '\n';
    if (plain) {
      out_ += v;
      return;
    }
    for (char c : v) {
      if (c == '\\' || c == '"')
        out_ += '\\';
      if (c == '\n') {
        out_ += "\\n";
        continue;
      }
      out_ += c;
    }
  }

  std::string out_;
  const char *name_ = "";
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

/* A camera's WebRTC (WHEP) viewers: sessions now (and of those, connected), answered, refused
 * (over max-viewers), failed (ICE, timeouts, a stopped feed), RTP bytes sent. */
void
webrtc_json (Json & j, const PageContext & ctx, const CameraStatus & st)
{
  cr::WhepStats w = ctx.webrtc ? ctx.webrtc->stats (st.name) : cr::WhepStats{};
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

void
webrtc_metrics (Metrics & m, const PageContext & ctx, const std::vector<CameraStatus> & cameras)
{
  std::vector<cr::WhepStats> all;
  for (const auto & st : cameras)
    all.push_back (ctx.webrtc ? ctx.webrtc->stats (st.name) : cr::WhepStats{});
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
      m.camera (cameras[i].name, f.value (all[i]));
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

void
h264_metrics (Metrics & m, const std::vector<CameraStatus> & cameras)
{
  m.family ("camrelay_camera_h264_consumers", "gauge",
      "Consumers of the camera's H.264 encoder by protocol: rtsp is 1 while any RTSP viewer "
      "plays (they share one), webrtc one per peer.");
  for (const auto & st : cameras) {
    if (!st.h264.present)
      continue;
    m.sample ({ { "camera", st.name }, { "protocol", "rtsp" } },
        std::to_string (st.h264.consumers_rtsp));
    m.sample ({ { "camera", st.name }, { "protocol", "webrtc" } },
        std::to_string (st.h264.consumers_webrtc));
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
        m.sample ({ { "camera", st.name } },
            format_double (f.value (st), f.value (st) == std::floor (f.value (st)) ? 0 : 6));
    }
  }
  m.family ("camrelay_camera_sent_bytes_total", "counter",
      "Bytes sent to the camera's viewers by protocol (mjpeg: the HTTP stream; rtsp, webrtc: "
      "H.264 access units handed to them, before RTP packetisation).");
  for (const auto & st : cameras) {
    m.sample ({ { "camera", st.name }, { "protocol", "mjpeg" } },
        std::to_string (st.counter (Field::SinkBytesSent)));
    if (!st.h264.present)
      continue;
    m.sample ({ { "camera", st.name }, { "protocol", "rtsp" } },
        std::to_string (st.counter (Field::H264BytesOutRtsp)));
    m.sample ({ { "camera", st.name }, { "protocol", "webrtc" } },
        std::to_string (st.counter (Field::H264BytesOutWebrtc)));
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
  m.family ("camrelay_recordings_cache_bytes", "gauge",
      "Bytes of the time-lapse MP4 cache (counted in camrelay_recordings_disk_bytes).");
  m.sample ({}, std::to_string (t.cache_bytes));
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
    webrtc_json (j, ctx, st);
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
  webrtc_metrics (m, ctx, cameras);
  h264_metrics (m, cameras);
  motion_metrics (m, cameras);
  return m.text ();
}

static std::string
html_escape (const std::string & s)
{
  g_autofree gchar *e = g_markup_escape_text (s.c_str (), -1);
  return e;
}

/* @text escaped for a URL path segment. */
static std::string
path_escape (const std::string & text)
{
  g_autofree gchar *e = g_uri_escape_string (text.c_str (), nullptr, FALSE);
  return e;
}

std::string
view_html (const std::vector<CameraStatus> & cameras, const std::string & only)
{
  std::string figures;
  for (const auto & st : cameras) {
    if (!only.empty () && st.name != only)
      continue;
    std::string name = html_escape (st.name);
    /* Shown large: the page of one camera, or the only one. Large pictures play over WebRTC. */
    bool large = (!only.empty () || cameras.size () == 1) && !st.stream_path.empty ();
    figures += "<figure data-camera=\"" + name + "\"";
    if (large)
      figures += " class=\"large\" data-webrtc=\"/whep/" + html_escape (path_escape (st.name)) +
          "\" data-stream=\"" + html_escape (st.stream_path) + "\"";
    figures += ">";
    if (st.stream_path.empty ())
      figures += "<div class=\"nostream\">no stream</div>";
    else
      figures += std::string (large ? "<video muted autoplay playsinline hidden></video>" : "") +
          "<img src=\"" + html_escape (st.stream_path) + "\" alt=\"" + name + "\">";
    std::string title = large
        ? "<span class=\"name\">" + name + "</span>"
        : "<a class=\"name\" href=\"/view?camera=" + html_escape (path_escape (st.name)) +
            "\" title=\"open large\">" + name + "</a>";
    figures += "<figcaption>" + title + "<span class=\"state " + html_escape (st.state) + "\">" +
        html_escape (st.state) + "</span>" + (large ? webrtc_view_controls () : "") +
        "<span class=\"motion\"" + (st.motion.active ? "" : " hidden") +
        ">motion</span><span class=\"info\"></span>" +
        (st.source.empty () ? std::string ()
                            : "<span class=\"source\">" + html_escape (st.source) + "</span>") +
        "</figcaption>" + back_in_time_controls (st) + "</figure>\n";
  }
  figures += back_in_time_script ();
  figures += webrtc_view_script ();

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
a.name{color:inherit}
nav{padding:0 14px 8px}
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
const ONLY = document.querySelector("main").dataset.only || "";
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
    if (ONLY && c.name !== ONLY) continue;
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
      if (img && !fig.dataset.past && fig.dataset.transport !== "webrtc" &&
          fig.dataset.restarts !== undefined &&
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
        " \u00b7 " + c.viewers + " watching" +
        (c.webrtc && c.webrtc.sessions ? " + " + c.webrtc.sessions + " over WebRTC" : "") + " \u00b7 " + c.state + " for " + ago(c.seconds_in_state);
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

  std::string main = only.empty () ? "<main>\n"
                                   : "<nav><a class=\"back-to-all\" href=\"/view\">\u2190 all "
                                     "cameras</a></nav><main data-only=\"" +
          html_escape (only) + "\">\n";
  return std::string (head) + main + figures + tail;
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
      add ("/view", [c] (SoupServerMessage *msg, const char *, GHashTable *query) {
        const char *only =
            query ? static_cast<const char *> (g_hash_table_lookup (query, "camera")) : nullptr;
        std::vector<CameraStatus> cameras = collect (*c);
        if (only &&
            std::none_of (cameras.begin (), cameras.end (),
                [only] (const CameraStatus & st) { return st.name == only; })) {
          soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
          soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
              "no such camera\n", 15);
          return;
        }
        respond (msg, "text/html; charset=utf-8", view_html (cameras, only ? only : ""));
      });
  if (!ok)
    return nullptr;
  return pages;
}

Pages::~Pages () = default;

}  // namespace camrelay
