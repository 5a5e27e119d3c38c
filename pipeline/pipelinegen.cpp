/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the generated pipeline of a camera (wsjpegsrc ! jpegvalidate ! jpegfallback !
 * multipartmux ! mjpeghttpsink, or pulljpegsrc first for a pulled camera; a tee after
 * jpegfallback to h264relaysink for RTSP and WebRTC), each key a property checked against the
 * element itself. */
#include "pipelinegen.h"

#include "motionbranch.h"
#include "recordbranch.h"

#include <gst/gst.h>

#include <algorithm>
#include <cmath>

namespace camrelay {

Emitter::~Emitter ()
{
  if (klass_)
    g_type_class_unref (klass_);
}

bool
Emitter::element (const char *factory_name)
{
  if (klass_)
    g_type_class_unref (klass_);
  klass_ = nullptr;
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (factory_name);
  if (factory) {
    GstPluginFeature *loaded = gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory));
    if (loaded) {
      GType type = gst_element_factory_get_element_type (GST_ELEMENT_FACTORY (loaded));
      klass_ = static_cast<GObjectClass *> (g_type_class_ref (type));
      gst_object_unref (loaded);
    }
  }
  if (!klass_)
    return report_.fail (section_, "",
        std::string ("the GStreamer element ") + factory_name + " is not installed");
  if (!tokens_.empty ())
    tokens_.emplace_back ("!");
  tokens_.emplace_back (factory_name);
  factory_ = factory_name;
  return true;
}

bool
Emitter::prop (const char *name, const std::string & raw, const char *key, bool always)
{
  GParamSpec *pspec = g_object_class_find_property (klass_, name);
  if (!pspec)
    return report_.fail (section_, key,
        factory_ + " has no property " + name + " (is the camrelay plugin up to date?)");
  GValue value = G_VALUE_INIT;
  g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
  bool ok = true;
  if (G_VALUE_HOLDS_STRING (&value))
    g_value_set_string (&value, raw.c_str ());
  else
    ok = gst_value_deserialize (&value, raw.c_str ());
  if (ok && g_param_value_validate (pspec, &value)) {
    g_value_unset (&value);
    return report_.fail (section_, key,
        "\"" + raw + "\" is out of range for " + factory_ + " " + name);
  }
  if (!ok) {
    g_value_unset (&value);
    return report_.fail (section_, key, "\"" + raw + "\" is not a valid " + name);
  }
  bool is_default = g_param_value_defaults (pspec, &value);
  g_value_unset (&value);
  if (!is_default || always)
    tokens_.push_back (std::string (name) + "=" + gst_quote (raw));
  return true;
}

bool
Emitter::listen_props (const ServerConfig & s)
{
  return prop ("address", s.address, "address") && prop ("port", std::to_string (s.port), "port") &&
      prop ("tls-certificate", s.tls_certificate, "tls-certificate") &&
      prop ("tls-key", s.tls_key, "tls-key") &&
      prop ("viewer-user", s.viewer_user, "viewer-user") &&
      prop ("viewer-password", s.viewer_password, "viewer-password") &&
      prop ("open-on-loopback", s.metrics_open_on_loopback ? "/metrics" : "",
          "metrics-open-on-loopback");
}

std::string
seconds_as_ns (double seconds)
{
  return std::to_string (static_cast<guint64> (std::llround (seconds * GST_SECOND)));
}

namespace {

std::string
join (const std::vector<std::string> & list, const char *sep)
{
  std::string out;
  for (const auto & s : list)
    out += (out.empty () ? "" : sep) + s;
  return out;
}

/* The H.264 branch: a tee after jpegfallback (so H.264 viewers see the placeholder too) whose
 * second branch is h264relaysink, the one encoder of the camera's RTSP and WebRTC viewers. Every
 * camera has it: rtsp-port = 0 turns RTSP off, not WebRTC (WHEP and /view find the element by
 * its name). Nothing is decoded until somebody watches, so an unwatched branch costs a buffer
 * reference per frame. */
const char H264_TEE_NAME[] = "h264tee";

bool
emit_h264_tee (Emitter & e)
{
  return e.element ("tee") && e.prop ("name", H264_TEE_NAME, "rtsp-port", true);
}

bool
emit_h264_branch (const Config & config, const CameraConfig & c, Emitter & e)
{
  const ServerConfig & s = config.server;
  e.token (std::string (H264_TEE_NAME) + ".");
  if (!e.element ("h264relaysink") || !e.prop ("name", H264_SINK_NAME, "rtsp-port", true) ||
      !e.prop ("bitrate", std::to_string (c.h264_bitrate), "h264-bitrate"))
    return false;
  if (s.rtsp_port == 0)
    return true; /* the element's default: no RTSP server */
  return e.prop ("rtsp-port", std::to_string (s.rtsp_port), "rtsp-port", true) &&
      e.prop ("rtsp-address", s.address, "address") &&
      e.prop ("rtsp-path", "/" + c.name, "rtsp-port", true) &&
      e.prop ("viewer-user", s.viewer_user, "viewer-user") &&
      e.prop ("viewer-password", s.viewer_password, "viewer-password");
}

}  // namespace

bool
generate_line (const Config & config, CameraConfig & c, Reporter & report)
{
  const ServerConfig & s = config.server;
  std::string section = c.section ();
  std::vector<std::string> & t = c.line.tokens;
  t.clear ();
  Emitter e (t, section, report);

  bool source_ok;
  if (c.pulled ()) {
    /* pulljpegsrc cuts a part that grows past its max-frame-size (16 MiB) to bound memory; a
     * larger max-size must still reach jpegvalidate to be judged there. */
    guint64 frame_limit = std::max<guint64> (16 * 1024 * 1024, c.max_size);
    source_ok = e.element ("pulljpegsrc") && e.prop ("location", c.source, "source", true) &&
        e.prop ("snapshot-interval", seconds_as_ns (c.snapshot_interval), "snapshot-interval") &&
        e.prop ("max-frame-size", std::to_string (frame_limit), "max-size") &&
        e.prop ("io-timeout", seconds_as_ns (c.io_timeout), "io-timeout") &&
        e.prop ("tls-ca", c.tls_ca, "tls-ca") &&
        e.prop ("tls-pinned-certificate", c.tls_pinned_certificate, "tls-pinned-certificate");
  } else {
    source_ok = e.element ("wsjpegsrc") && e.listen_props (s) &&
        e.prop ("paths", join (c.ingest_paths, ","), "ingest-paths") &&
        e.prop ("max-message-size", std::to_string (c.max_message_size), "max-message-size") &&
        e.prop ("secret", c.secret, "secret");
  }
  return source_ok && e.element ("jpegvalidate") &&
      e.prop ("min-size", std::to_string (c.min_size), "min-size") &&
      e.prop ("max-size", std::to_string (c.max_size), "max-size") &&
      e.prop ("decode-check", c.decode_check ? "true" : "false", "decode-check") &&
      emit_record_tee (config, c, e) && e.element ("jpegfallback") &&
      e.prop ("placeholder", c.placeholder_file, "placeholder", true) &&
      e.prop ("placeholder-fps", std::to_string (c.placeholder_fps), "placeholder-fps") &&
      e.prop ("timeout", seconds_as_ns (c.timeout), "timeout") && emit_h264_tee (e) &&
      e.element ("multipartmux") && e.element ("mjpeghttpsink") && e.listen_props (s) &&
      e.prop ("path", c.stream_path, "stream-path") &&
      e.prop ("snapshot-path", c.snapshot_path, "snapshot-path") &&
      e.prop ("max-viewers", std::to_string (c.max_viewers), "max-viewers") &&
      e.prop ("latest-file", c.latest_file, "latest-file") &&
      e.prop ("latest-file-sync", c.latest_file_sync ? "true" : "false", "latest-file-sync") &&
      emit_record_branches (config, c, e) && emit_h264_branch (config, c, e) &&
      emit_motion_branch (c, e);
}

}  // namespace camrelay
