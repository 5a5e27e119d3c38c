/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: reading the key file. Each key of [server] and [camera NAME] is read, parsed
 * and checked on its own (type, range, URL-path syntax, keys that go together); whatever needs
 * GStreamer or other files comes later, in resolve_config(). */
#include "relayconfig.h"

#include "abspath.h"
#include "configreport.h"
#include "crmotiondetect.h"
#include "crredact.h"
#include "crserver.h"

#include <gio/gio.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

namespace camrelay {

namespace {

const char *const SERVER_KEYS[] = {
  "address",
  "port",
  "viewer-user",
  "viewer-password",
  "metrics-open-on-loopback",
  "tls-certificate",
  "tls-key",
  "webrtc-ports",
  "webrtc-address",
  "stun-server",
  "turn-server",
  "rtsp-port",
};

const char *const CAMERA_KEYS[] = {
  "ingest-paths",
  "stream-path",
  "snapshot-path",
  "placeholder",
  "timeout",
  "placeholder-fps",
  "min-size",
  "max-size",
  "max-message-size",
  "max-viewers",
  "decode-check",
  "secret",
  "latest-file",
  "latest-file-sync",
  "pipeline",
  "source",
  "snapshot-interval",
  "on-demand",
  "io-timeout",
  "tls-ca",
  "tls-pinned-certificate",
  "record",
  "keep",
  "timelapse-interval",
  "mqtt-snapshot-interval",
  "h264-bitrate",
  "motion",
  "motion-threshold",
  "motion-min-area",
  "motion-mask",
  "motion-hold",
  "pre-roll",
  "post-roll",
  "motion-max-fps",
};

const char *const RECORDINGS_KEYS[] = { "dir", "segment", "keep", "max-disk",
  "timelapse-interval" };

const char *const MQTT_KEYS[] = {
  "broker",
  "ca-file",
  "topic-prefix",
  "client-id",
  "discovery-prefix",
  "node",
  "public-url",
  "keep-alive",
};

const char *const EVENTS_KEYS[] = { "url", "secret", "queue-size", "timeout" };

/* Keys that only mean something for a camera that pushes frames over WebSocket. */
const char *const PUSH_ONLY_KEYS[] = { "ingest-paths", "max-message-size", "secret" };

/* A pulled camera's URL: checks it and gives it in @shown as people may see it (no userinfo, no
 * credential values). The URL itself goes to pulljpegsrc as written: parsed ENCODED, nothing in
 * it is decoded and written back. */
bool
valid_source (const std::string & source, std::string & shown, std::string & why)
{
  g_autoptr (GError) error = nullptr;
  g_autoptr (GUri) uri = g_uri_parse (source.c_str (),
      static_cast<GUriFlags> (G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD), &error);
  if (!uri) {
    why = "\"" + cr::redact_url (source) + "\" is not websocket or a URL (" +
        cr::redact_text (error->message) + ")";
    return false;
  }
  std::string scheme = g_uri_get_scheme (uri);
  bool v4l2 = scheme == "v4l2";
  if (scheme != "http" && scheme != "https" && scheme != "rtsp" && scheme != "rtsps" &&
      scheme != "rtspt" && !v4l2) {
    why = "\"" + scheme +
        ":\" is not a source camrelay knows (websocket, http://, https://, "
        "rtsp://, rtsps://, rtspt:// or v4l2:///dev/videoN)";
    return false;
  }
  if (v4l2) {
    const gchar *path = g_uri_get_path (uri);
    if (!path || path[0] != '/' || (g_uri_get_host (uri) && *g_uri_get_host (uri))) {
      why = "a V4L2 source names the device after three slashes, e.g. v4l2:///dev/video0";
      return false;
    }
  } else if (!g_uri_get_host (uri) || !*g_uri_get_host (uri)) {
    why = "\"" + cr::redact_url (source) + "\" has no host";
    return false;
  }
  shown = cr::redact_url (source);
  return true;
}

/* A camera's TLS trust file (tls-ca, tls-pinned-certificate): only for https:// and rtsps://,
 * PEM certificates GLib reads; made absolute, so that it means the same file from anywhere. */
bool
valid_certificates (const std::string & source, std::string & file, std::string & why)
{
  if (!g_str_has_prefix (source.c_str (), "https:") &&
      !g_str_has_prefix (source.c_str (), "rtsps:")) {
    why = "only applies to an https:// or rtsps:// source";
    return false;
  }
  file = absolute_path (file);
  g_autoptr (GError) error = nullptr;
  GList *list = g_tls_certificate_list_new_from_file (file.c_str (), &error);
  if (!list) {
    why = "cannot read " + file + " as PEM certificates" +
        (error ? std::string (": ") + error->message : std::string (" (none in it)"));
    return false;
  }
  g_list_free_full (list, g_object_unref);
  return true;
}

bool
valid_camera_name (const std::string & name)
{
  if (name.empty () || name.size () > 64 || !g_ascii_isalnum (name[0]))
    return false;
  for (char c : name) {
    if (!g_ascii_isalnum (c) && c != '-' && c != '_')
      return false;
  }
  return true;
}

/* A URL path as the server routes it: absolute, nothing that would end or split it. */
bool
valid_path (const std::string & path, std::string & why)
{
  if (path.empty () || path[0] != '/') {
    why = "\"" + path + "\" must start with /";
    return false;
  }
  for (char c : path) {
    if (g_ascii_isspace (c) || g_ascii_iscntrl (c) || c == '?' || c == '#' || c == ',' ||
        c == '"' || c == '\\') {
      why = "\"" + path + "\" may not contain spaces, ?, #, commas, quotes or backslashes";
      return false;
    }
  }
  return true;
}

bool
parse_uint (const std::string & text, guint64 min, guint64 max, guint64 & out)
{
  return g_ascii_string_to_unsigned (text.c_str (), 10, min, max, &out, nullptr);
}

bool
parse_bool (const std::string & text, bool & out)
{
  if (text == "true" || text == "1" || text == "yes") {
    out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "no") {
    out = false;
    return true;
  }
  return false;
}

std::string
describe_range (guint64 min, guint64 max)
{
  return "expected a whole number from " + std::to_string (min) + " to " + std::to_string (max);
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading keys                                                                                   */

class SectionReader
{
public:
  SectionReader (GKeyFile *kf, std::string section, Reporter & report)
    : kf_ (kf), section_ (std::move (section)), report_ (report)
  {}

  bool has (const char *key) const
  {
    return g_key_file_has_key (kf_, section_.c_str (), key, nullptr);
  }

  /* The value with GKeyFile's escapes (\s, \n, ...) applied. */
  bool string (const char *key, std::string & out)
  {
    if (!has (key))
      return true;
    g_autoptr (GError) error = nullptr;
    g_autofree gchar *v = g_key_file_get_string (kf_, section_.c_str (), key, &error);
    if (!v)
      return report_.fail (section_, key, error->message);
    out = v;
    return true;
  }

  bool uint (const char *key, guint64 min, guint64 max, guint64 & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      if (parse_uint (v, min, max, out))
        return "";
      return describe_range (min, max) + ", got \"" + v + "\"";
    });
  }

  template<typename T> bool uint_as (const char *key, guint64 min, guint64 max, T & out)
  {
    guint64 v = out;
    if (!uint (key, min, max, v))
      return false;
    out = static_cast<T> (v);
    return true;
  }

  bool boolean (const char *key, bool & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      if (parse_bool (v, out))
        return "";
      return "expected true or false, got \"" + v + "\"";
    });
  }

  /* A rate in frames a second, 0.1 to 100. */
  bool fps (const char *key, double & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      gchar *end = nullptr;
      double d = g_ascii_strtod (v.c_str (), &end);
      if (v.empty () || !end || *end || !std::isfinite (d) || d < 0.1 || d > 100)
        return "expected frames a second from 0.1 to 100, got \"" + v + "\"";
      out = d;
      return "";
    });
  }

  /* true, false or motion (@motion set). */
  bool record_mode (const char *key, bool & out, bool & motion)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      motion = v == "motion";
      if (motion) {
        out = true;
        return "";
      }
      if (parse_bool (v, out))
        return "";
      return "expected true, false or motion, got \"" + v + "\"";
    });
  }

  bool seconds (const char *key, double min, double max, double & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      gchar *end = nullptr;
      errno = 0;
      double d = g_ascii_strtod (v.c_str (), &end);
      if (v.empty () || errno || !end || *end || !std::isfinite (d) || d < min || d > max) {
        g_autofree gchar *range = g_strdup_printf ("expected a number of seconds from %g "
                                                   "to %g",
            min, max);
        return std::string (range) + ", got \"" + v + "\"";
      }
      out = d;
      return "";
    });
  }

  /* A fraction from @min to 1, e.g. 0.01 (1%). */
  bool fraction (const char *key, double min, double & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      gchar *end = nullptr;
      errno = 0;
      double d = g_ascii_strtod (v.c_str (), &end);
      if (v.empty () || errno || !end || *end || !std::isfinite (d) || d < min || d > 1) {
        g_autofree gchar *range = g_strdup_printf ("expected a fraction of the picture from %g "
                                                   "to 1 (0.01 = 1%%)",
            min);
        return std::string (range) + ", got \"" + v + "\"";
      }
      out = d;
      return "";
    });
  }

  bool age (const char *key, gint64 & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      return parse_age (v, out)
          ? ""
          : "expected an age such as 90s, 30m, 12h, 7d or 0 (no limit), got \"" + v + "\"";
    });
  }

  bool size (const char *key, guint64 & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      return parse_size (v, out)
          ? ""
          : "expected a size such as 500M, 20G, 2T or 0 (no limit), got \"" + v + "\"";
    });
  }

  bool path (const char *key, bool allow_empty, std::string & out)
  {
    return parsed (key, [&] (const std::string & v) -> std::string {
      std::string why;
      if (!(allow_empty && v.empty ()) && !valid_path (v, why))
        return why;
      out = v;
      return "";
    });
  }

  bool unknown_keys (const char *const *known, gsize n_known, const char *what)
  {
    gsize n = 0;
    g_auto (GStrv) keys = g_key_file_get_keys (kf_, section_.c_str (), &n, nullptr);
    for (gsize i = 0; i < n; i++) {
      bool ok = false;
      for (gsize k = 0; k < n_known; k++)
        ok = ok || g_strcmp0 (keys[i], known[k]) == 0;
      if (!ok) {
        std::string list;
        for (gsize k = 0; k < n_known; k++)
          list += (k ? ", " : "") + std::string (known[k]);
        return report_.fail (section_, keys[i],
            std::string ("unknown key (a ") + what + " section knows " + list + ")");
      }
    }
    return true;
  }

  /* Every key with its value as written (before any parsing). */
  std::vector<std::pair<std::string, std::string>> values () const
  {
    std::vector<std::pair<std::string, std::string>> out;
    g_auto (GStrv) keys = g_key_file_get_keys (kf_, section_.c_str (), nullptr, nullptr);
    for (gchar **k = keys; k && *k; k++) {
      g_autofree gchar *v = g_key_file_get_value (kf_, section_.c_str (), *k, nullptr);
      out.emplace_back (*k, v ? v : "");
    }
    return out;
  }

  std::vector<std::string> keys () const
  {
    std::vector<std::string> out;
    g_auto (GStrv) keys = g_key_file_get_keys (kf_, section_.c_str (), nullptr, nullptr);
    for (gchar **k = keys; k && *k; k++)
      out.emplace_back (*k);
    return out;
  }

private:
  /* A key the file sets, handed to @parse as text; @parse stores the value and returns "", or
   * returns why the text is wrong. A key the file leaves out keeps its default. */
  template<typename Parse> bool parsed (const char *key, Parse parse)
  {
    std::string v;
    if (!has (key))
      return true;
    if (!string (key, v))
      return false;
    std::string why = parse (v);
    if (!why.empty ())
      return report_.fail (section_, key, why);
    return true;
  }

  GKeyFile *kf_;
  std::string section_;
  Reporter & report_;
};

/* [server] webrtc-ports = MIN-MAX, webrtc-address, stun-server, turn-server. */
bool
read_webrtc (SectionReader & r, ServerConfig & s, Reporter & report)
{
  std::string ports;
  if (!r.string ("webrtc-ports", ports) || !r.string ("webrtc-address", s.webrtc_address) ||
      !r.string ("stun-server", s.stun_server) || !r.string ("turn-server", s.turn_server))
    return false;
  if (!ports.empty ()) {
    unsigned lo = 0, hi = 0;
    char end = 0;
    if (sscanf (ports.c_str (), "%u-%u%c", &lo, &hi, &end) != 2 || lo < 1 || hi > 65535 || lo > hi)
      return report.fail ("server", "webrtc-ports",
          "\"" + ports + "\" is not a UDP port range such as 50000-50100");
    s.webrtc_min_port = lo;
    s.webrtc_max_port = hi;
  }
  if (!s.webrtc_address.empty ()) {
    g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (s.webrtc_address.c_str ());
    if (!inet)
      return report.fail ("server", "webrtc-address",
          "\"" + s.webrtc_address + "\" is not an IP address (the one viewers reach camrelay at)");
  }
  if (!s.stun_server.empty () && !g_str_has_prefix (s.stun_server.c_str (), "stun://"))
    return report.fail ("server", "stun-server", "a STUN server is written stun://HOST:PORT");
  if (!s.turn_server.empty () && !g_str_has_prefix (s.turn_server.c_str (), "turn://") &&
      !g_str_has_prefix (s.turn_server.c_str (), "turns://"))
    return report.fail ("server", "turn-server",
        "a TURN server is written turn://USER:PASSWORD@HOST:PORT (or turns://)");
  return true;
}

bool
read_server (GKeyFile *kf, ServerConfig & s, Reporter & report)
{
  SectionReader r (kf, "server", report);
  if (!r.unknown_keys (SERVER_KEYS, G_N_ELEMENTS (SERVER_KEYS), "[server]"))
    return false;
  if (!r.string ("address", s.address) || !r.uint_as ("port", 0, 65535, s.port) ||
      !r.string ("viewer-user", s.viewer_user) ||
      !r.string ("viewer-password", s.viewer_password) ||
      !r.boolean ("metrics-open-on-loopback", s.metrics_open_on_loopback) ||
      !r.string ("tls-certificate", s.tls_certificate) || !r.string ("tls-key", s.tls_key) ||
      !r.uint_as ("rtsp-port", 0, 65535, s.rtsp_port))
    return false;

  std::string host = s.address == "localhost" ? "127.0.0.1" : s.address;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host.c_str ());
  if (!inet)
    return report.fail ("server", "address",
        "\"" + s.address + "\" is not an IP address (use e.g. 0.0.0.0, ::, 127.0.0.1)");
  if (s.viewer_user.find (':') != std::string::npos)
    return report.fail ("server", "viewer-user", "may not contain a colon (HTTP Basic auth)");
  if (s.viewer_user.empty () != s.viewer_password.empty ())
    return report.fail ("server", s.viewer_user.empty () ? "viewer-user" : "viewer-password",
        "viewer-user and viewer-password go together: set both, or neither");
  if (s.tls_certificate.empty () != s.tls_key.empty ())
    return report.fail ("server", s.tls_certificate.empty () ? "tls-certificate" : "tls-key",
        "tls-certificate and tls-key go together: set both, or neither");
  return read_webrtc (r, s, report);
}

/* motion, motion-threshold, motion-min-area, motion-mask, motion-hold. */
bool
read_motion (SectionReader & r, const std::string & section, CameraConfig & c, Reporter & report)
{
  if (!r.boolean ("motion", c.motion) ||
      !r.uint_as ("motion-threshold", 1, 255, c.motion_threshold) ||
      !r.fraction ("motion-min-area", 0.0001, c.motion_min_area) ||
      !r.string ("motion-mask", c.motion_mask) ||
      !r.seconds ("motion-hold", 0, 3600, c.motion_hold) ||
      !r.fps ("motion-max-fps", c.motion_max_fps) || !r.seconds ("pre-roll", 0, 3600, c.pre_roll) ||
      !r.seconds ("post-roll", 0, 3600, c.post_roll))
    return false;
  /* record = motion watches for motion unless told otherwise, which cannot work. */
  if (c.record_motion) {
    if (r.has ("motion") && !c.motion)
      return report.fail (section, "motion",
          "record = motion needs motion detection: leave motion out or set it to true");
    c.motion = true;
  }
  for (const char *key : { "pre-roll", "post-roll" }) {
    if (r.has (key) && !c.record_motion)
      return report.fail (section, key, "only applies with record = motion");
  }
  std::vector<cr::motion::Rect> rects;
  std::string why;
  if (!cr::motion::parse_mask (c.motion_mask, rects, why))
    return report.fail (section, "motion-mask", why);
  return true;
}

bool
read_camera (GKeyFile *kf, const std::string & name, CameraConfig & c, Reporter & report)
{
  std::string section = "camera " + name;
  SectionReader r (kf, section, report);
  if (!valid_camera_name (name))
    return report.fail (section, "",
        "camera names may use letters, digits, - and _ "
        "(they appear in URLs and metrics), starting with a letter or digit");
  if (!r.unknown_keys (CAMERA_KEYS, G_N_ELEMENTS (CAMERA_KEYS), "[camera NAME]"))
    return false;

  c.name = name;
  c.keys_set = r.keys ();
  c.section_values = r.values ();
  c.ingest_paths = { "/ws/" + name };
  c.stream_path = "/stream/" + name;
  c.snapshot_path = "/snapshot/" + name + ".jpg";

  if (r.has ("ingest-paths")) {
    std::string list;
    if (!r.string ("ingest-paths", list))
      return false;
    c.ingest_paths = cr::split_list (list);
    if (c.ingest_paths.empty ())
      return report.fail (section, "ingest-paths", "give at least one path, e.g. /ws/" + name);
    std::set<std::string> seen;
    for (const auto & p : c.ingest_paths) {
      std::string why;
      if (!valid_path (p, why))
        return report.fail (section, "ingest-paths", why);
      if (!seen.insert (p).second)
        return report.fail (section, "ingest-paths", p + " is listed twice");
    }
  }
  if (!r.path ("stream-path", false, c.stream_path) ||
      !r.path ("snapshot-path", true, c.snapshot_path) ||
      !r.string ("placeholder", c.placeholder) || !r.seconds ("timeout", 0.001, 1e6, c.timeout) ||
      !r.uint_as ("placeholder-fps", 1, 30, c.placeholder_fps) ||
      !r.uint_as ("min-size", 0, G_MAXUINT, c.min_size) ||
      !r.uint_as ("max-size", 0, G_MAXUINT, c.max_size) ||
      !r.uint_as ("max-message-size", 1024, G_MAXUINT32, c.max_message_size) ||
      !r.uint_as ("max-viewers", 0, G_MAXINT, c.max_viewers) ||
      !r.boolean ("decode-check", c.decode_check) || !r.string ("secret", c.secret) ||
      !r.string ("latest-file", c.latest_file) ||
      !r.boolean ("latest-file-sync", c.latest_file_sync) || !r.string ("pipeline", c.pipeline) ||
      !r.seconds ("snapshot-interval", 0.01, 3600, c.snapshot_interval) ||
      !r.boolean ("on-demand", c.on_demand) || !r.uint_as ("io-timeout", 1, 3600, c.io_timeout) ||
      !r.string ("tls-ca", c.tls_ca) ||
      !r.string ("tls-pinned-certificate", c.tls_pinned_certificate) ||
      !r.record_mode ("record", c.record, c.record_motion) || !r.age ("keep", c.keep) ||
      !r.seconds ("timelapse-interval", 0, 86400, c.timelapse_interval) ||
      !r.seconds ("mqtt-snapshot-interval", 0, 86400, c.mqtt_snapshot_interval) ||
      !r.uint_as ("h264-bitrate", 0, 100000, c.h264_bitrate) ||
      !read_motion (r, section, c, report))
    return false;

  if (r.has ("source")) {
    std::string source;
    if (!r.string ("source", source))
      return false;
    if (source != "websocket") {
      std::string why;
      if (!valid_source (source, c.source_shown, why))
        return report.fail (section, "source", why);
      c.source = source;
    }
  }
  if (!c.pulled ()) {
    for (const char *key :
        { "snapshot-interval", "on-demand", "io-timeout", "tls-ca", "tls-pinned-certificate" }) {
      if (r.has (key))
        return report.fail (section, key,
            "only applies to a pulled source (source = http://..., "
            "rtsp://... or v4l2://...); this camera pushes over WebSocket");
    }
  } else {
    for (const char *key : PUSH_ONLY_KEYS) {
      if (r.has (key))
        return report.fail (section, key,
            "has no effect with source = " + c.source_shown +
                " (the camera is pulled, not pushing over WebSocket)");
    }
    if (r.has ("snapshot-interval") && !g_str_has_prefix (c.source.c_str (), "http"))
      return report.fail (section, "snapshot-interval",
          "only applies to an http:// or "
          "https:// snapshot URL");
    for (auto [key, file] : { std::pair{ "tls-ca", &c.tls_ca },
             std::pair{ "tls-pinned-certificate", &c.tls_pinned_certificate } }) {
      std::string why;
      if (r.has (key) && !valid_certificates (c.source, *file, why))
        return report.fail (section, key, why);
    }
    c.ingest_paths.clear ();
  }

  if (c.placeholder.empty ())
    return report.fail (section, "placeholder", "give the path of a JPEG file");
  if (c.max_size != 0 && c.min_size > c.max_size)
    return report.fail (section, "min-size",
        "is larger than max-size (" + std::to_string (c.max_size) + ")");
  if (c.stream_path == c.snapshot_path)
    return report.fail (section, "snapshot-path",
        c.snapshot_path + " is also the stream-path; give the snapshot its own path");
  if (!c.pipeline.empty ()) {
    for (const auto & key : c.keys_set) {
      if (key != "pipeline" && key != "mqtt-snapshot-interval")
        return report.fail (section, key,
            "has no effect with pipeline= (set it as a property "
            "in the description instead)");
    }
  }
  return true;
}

/* [recordings]: where and how long recordings are kept; @file's folder holds them by default. */
bool
read_recordings (GKeyFile *kf, const std::string & file, RecordingsConfig & rc, Reporter & report)
{
  SectionReader r (kf, "recordings", report);
  if (!r.unknown_keys (RECORDINGS_KEYS, G_N_ELEMENTS (RECORDINGS_KEYS), "[recordings]"))
    return false;
  std::string dir = "recordings";
  if (!r.string ("dir", dir) || !r.uint_as ("segment", 1, 3600, rc.segment) ||
      !r.age ("keep", rc.keep) || !r.size ("max-disk", rc.max_disk) ||
      !r.seconds ("timelapse-interval", 0, 86400, rc.timelapse_interval))
    return false;
  if (dir.empty ())
    return report.fail ("recordings", "dir", "give a folder, e.g. /var/lib/camrelay/recordings");
  /* A relative folder is beside the config file, like the file's other paths. */
  g_autofree gchar *folder = g_path_get_dirname (file.c_str ());
  g_autofree gchar *base = g_canonicalize_filename (folder, nullptr);
  g_autofree gchar *abs = g_canonicalize_filename (dir.c_str (), base);
  rc.dir = abs;
  return true;
}

/* An MQTT topic level or prefix: no wildcards, no empty levels at either end. */
bool
valid_topic (const std::string & t)
{
  return !t.empty () && t.find_first_of ("+#") == std::string::npos && t.front () != '/' &&
      t.back () != '/' && g_utf8_validate (t.c_str (), -1, nullptr);
}

bool
read_mqtt (GKeyFile *kf, MqttConfig & m, Reporter & report)
{
  SectionReader r (kf, "mqtt", report);
  if (!r.unknown_keys (MQTT_KEYS, G_N_ELEMENTS (MQTT_KEYS), "[mqtt]"))
    return false;
  if (!r.string ("broker", m.broker) || !r.string ("ca-file", m.ca_file) ||
      !r.string ("topic-prefix", m.topic_prefix) || !r.string ("client-id", m.client_id) ||
      !r.string ("discovery-prefix", m.discovery_prefix) || !r.string ("node", m.node) ||
      !r.string ("public-url", m.public_url) || !r.uint_as ("keep-alive", 5, 3600, m.keep_alive))
    return false;
  if (m.broker.empty ())
    return report.fail ("mqtt", "broker",
        "give the broker's URL, e.g. mqtt://user:password@192.168.1.2:1883");
  g_autoptr (GError) error = nullptr;
  g_autoptr (GUri) uri = g_uri_parse (m.broker.c_str (), G_URI_FLAGS_HAS_PASSWORD, &error);
  if (!uri)
    return report.fail ("mqtt", "broker",
        "\"" + cr::redact_url (m.broker) + "\" is not a URL (" + error->message + ")");
  std::string scheme = g_uri_get_scheme (uri);
  if (scheme != "mqtt" && scheme != "mqtts")
    return report.fail ("mqtt", "broker", "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]");
  if (!g_uri_get_host (uri) || !*g_uri_get_host (uri))
    return report.fail ("mqtt", "broker", "the URL has no host");
  m.tls = scheme == "mqtts";
  m.host = g_uri_get_host (uri);
  m.port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : (m.tls ? 8883 : 1883);
  m.user = g_uri_get_user (uri) ? g_uri_get_user (uri) : "";
  m.password = g_uri_get_password (uri) ? g_uri_get_password (uri) : "";
  m.broker_shown = cr::redact_url (m.broker);
  if (!m.ca_file.empty () && !m.tls)
    return report.fail ("mqtt", "ca-file", "only applies to an mqtts:// broker");
  if (!valid_topic (m.topic_prefix))
    return report.fail ("mqtt", "topic-prefix",
        "expected a topic such as camrelay (no +, #, leading or trailing /)");
  if (!m.discovery_prefix.empty () && !valid_topic (m.discovery_prefix))
    return report.fail ("mqtt", "discovery-prefix",
        "expected a topic such as homeassistant, or nothing to turn discovery off");
  if (!m.node.empty () && (!valid_topic (m.node) || m.node.find ('/') != std::string::npos))
    return report.fail ("mqtt", "node", "expected a name without +, # or /");
  return true;
}

bool
read_events (GKeyFile *kf, EventsConfig & e, Reporter & report)
{
  SectionReader r (kf, "events", report);
  if (!r.unknown_keys (EVENTS_KEYS, G_N_ELEMENTS (EVENTS_KEYS), "[events]"))
    return false;
  std::string urls;
  if (!r.string ("url", urls) || !r.string ("secret", e.secret) ||
      !r.uint_as ("queue-size", 1, 100000, e.queue_size) ||
      !r.uint_as ("timeout", 1, 3600, e.timeout))
    return false;
  /* Several URLs: separated by ; (a GKeyFile list) or white space, never by commas, which a
   * URL's query may hold. */
  g_auto (GStrv) parts = g_strsplit_set (urls.c_str (), "; \t", -1);
  for (gchar **p = parts; *p; p++) {
    if (!**p)
      continue;
    g_autoptr (GUri) uri = g_uri_parse (*p, G_URI_FLAGS_HAS_PASSWORD, nullptr);
    const gchar *scheme = uri ? g_uri_get_scheme (uri) : "";
    if (!uri || (g_strcmp0 (scheme, "http") && g_strcmp0 (scheme, "https")) ||
        !g_uri_get_host (uri) || !*g_uri_get_host (uri))
      return report.fail ("events", "url",
          "\"" + cr::redact_url (*p) + "\" is not an http:// or https:// URL");
    e.urls.emplace_back (*p);
  }
  if (e.urls.empty ())
    return report.fail ("events", "url",
        "give at least one http:// or https:// URL (several: separated by ;)");
  return true;
}

}  // namespace

bool
load_config (const std::string & file, Config & config, std::string & error)
{
  config = Config ();
  config.file = file;
  Reporter report (config, error);

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) gerror = nullptr;
  if (!g_key_file_load_from_file (kf, file.c_str (), G_KEY_FILE_NONE, &gerror))
    return report.fail ("", "", gerror->message);

  if (!read_recordings (kf, file, config.recordings, report))
    return false;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, nullptr);
  for (gchar **g = groups; *g; g++) {
    std::string group = *g;
    if (group == "server") {
      if (!read_server (kf, config.server, report))
        return false;
    } else if (group == "recordings") {
      /* Read above, before the cameras. */
    } else if (group == "mqtt") {
      if (!read_mqtt (kf, config.mqtt, report))
        return false;
    } else if (group == "events") {
      if (!read_events (kf, config.events, report))
        return false;
    } else if (g_str_has_prefix (group.c_str (), "camera ")) {
      std::string name = group.substr (strlen ("camera "));
      g_strstrip (&name[0]);
      name = name.c_str ();
      CameraConfig c;
      if (!read_camera (kf, name, c, report))
        return false;
      config.cameras.push_back (c);
    } else {
      return report.fail (group, "",
          "unknown section (expected [server], [recordings], [mqtt], [events] or [camera NAME])");
    }
  }
  /* A file that only sets up the server runs the legacy single camera. */
  if (config.cameras.empty ())
    config.cameras = default_config ().cameras;
  return true;
}

}  // namespace camrelay
