/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the configuration and the pipeline description it gives for each camera.
 *
 * This file holds the built-in default and the order of the checks in resolve_config(); each
 * step lives in its own file: configfile.cpp reads the key file, placeholderfile.cpp finds the
 * pictures, pipelinegen.cpp and customline.cpp write the descriptions, linecheck.cpp checks them,
 * tlsfiles.cpp loads the certificate, pluginpath.cpp finds the plugin for printed lines. */
#include "relayconfig.h"

#include "abspath.h"
#include "configreport.h"
#include "customline.h"
#include "linecheck.h"
#include "pipelinegen.h"
#include "placeholderfile.h"
#include "pluginpath.h"
#include "tlsfiles.h"

#include <map>

namespace camrelay {

std::string
Config::origin () const
{
  return file.empty () ? "built-in default" : file;
}

Config
default_config ()
{
  Config config;
  config.recordings.dir = absolute_path ("recordings");
  CameraConfig c;
  c.name = "default";
  c.ingest_paths = { "/ws", "/" };
  c.stream_path = "/";
  c.snapshot_path = "/snapshot.jpg";
  config.cameras.push_back (c);
  return config;
}

/* SHA-256 of the file's bytes, "" for no file or one that cannot be read. */
static std::string
file_digest (const std::string & path)
{
  if (path.empty ())
    return "";
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path.c_str (), FALSE, nullptr);
  if (!mapped)
    return "";
  g_autofree gchar *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (g_mapped_file_get_contents (mapped)),
      g_mapped_file_get_length (mapped));
  return sum ? sum : "";
}

bool
resolve_config (Config & config, std::string & error)
{
  Reporter report (config, error);
  if (!check_tls (config, report))
    return false;

  std::string plugin_path = plugin_path_for_command ();
  /* Thousands of cameras share a placeholder file or two: each is read and hashed once. */
  std::map<std::string, std::string> digests;
  for (auto & c : config.cameras) {
    std::string why;
    c.has_secret = false;
    if (c.pipeline.empty ()) {
      if (!find_placeholder (config, c.placeholder, c.placeholder_file, why))
        return report.fail (c.section (), "placeholder", why);
      if (!c.latest_file.empty ()) {
        c.latest_file = absolute_path (c.latest_file);
        g_autofree gchar *dir = g_path_get_dirname (c.latest_file.c_str ());
        if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
          return report.fail (c.section (), "latest-file",
              std::string ("the directory ") + dir + " does not exist");
      }
      if (!generate_line (config, c, report))
        return false;
    } else if (!rewrite_custom_line (config, c, report)) {
      return false;
    }
    c.line.plugin_path = plugin_path;
    if (!check_line (config, c, report))
      return false;
    auto digest = digests.find (c.placeholder_file);
    if (digest == digests.end ())
      digest = digests.emplace (c.placeholder_file, file_digest (c.placeholder_file)).first;
    c.placeholder_digest = digest->second;
  }
  return check_paths (config, report);
}

bool
same_camera (const CameraConfig & a, const CameraConfig & b)
{
  return a.name == b.name && a.section_values == b.section_values &&
      a.placeholder_digest == b.placeholder_digest &&
      a.line.description () == b.line.description () && a.routes_ingest == b.routes_ingest &&
      a.routes_stream == b.routes_stream && a.routes_snapshot == b.routes_snapshot;
}

std::string
server_changes (const ServerConfig & running, const ServerConfig & file)
{
  std::string out;
  auto differs = [&out] (bool changed, const char *key) {
    if (changed)
      out += (out.empty () ? "" : ", ") + std::string (key);
  };
  differs (running.address != file.address, "address");
  differs (running.port != file.port, "port");
  differs (running.viewer_user != file.viewer_user, "viewer-user");
  differs (running.viewer_password != file.viewer_password, "viewer-password");
  differs (running.metrics_open_on_loopback != file.metrics_open_on_loopback,
      "metrics-open-on-loopback");
  differs (running.tls_certificate != file.tls_certificate, "tls-certificate");
  differs (running.tls_key != file.tls_key, "tls-key");
  differs (running.rtsp_port != file.rtsp_port, "rtsp-port");
  differs (running.webrtc_min_port != file.webrtc_min_port ||
          running.webrtc_max_port != file.webrtc_max_port,
      "webrtc-ports");
  differs (running.webrtc_address != file.webrtc_address, "webrtc-address");
  differs (running.stun_server != file.stun_server, "stun-server");
  differs (running.turn_server != file.turn_server, "turn-server");
  return out;
}

}  // namespace camrelay
