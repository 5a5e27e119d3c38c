/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the pages it serves beside the streams.
 *
 *   GET /status   JSON: per camera its state and since when, peer, frame rate, counters, viewers,
 *                 URLs; the server's uptime and version.
 *   GET /metrics  the same figures in the Prometheus text exposition format.
 *   GET /view     one self-contained HTML page showing every camera's stream with its state.
 *
 * The handlers run in the server thread; they only read Camera::status(). */
#pragma once

#include "camera.h"
#include "crserver.h"
#include "events.h"

#include <memory>
#include <string>
#include <vector>

namespace camrelay {

class RecordingStore;
class WebRtcViewers;

/* Changed only in the server thread (Server::invoke_sync), where the handlers read it. */
struct PageContext
{
  std::vector<const Camera *> cameras;
  gint64 started_real_us = 0;
  gint64 started_mono_us = 0;

  /* Configuration reloads (SIGHUP): applied, refused (the running configuration stayed). */
  guint64 reloads_applied = 0;
  guint64 reloads_refused = 0;
  gint64 last_reload_us = 0; /* g_get_real_time (), 0 = never */
  std::string last_reload;   /* "applied" or "refused: MESSAGE" */
  /* [server] settings changed in the file that only a restart applies ("" = none). */
  std::string restart_needed;
  /* The recordings on disk (set once at start-up; thread-safe to read). */
  const RecordingStore *recordings = nullptr;
  /* MQTT and webhooks; nullptr in tests of the pages alone. */
  const Notifier *notifier = nullptr;
  /* WebRTC viewers (WHEP); nullptr in tests of the pages alone. */
  const WebRtcViewers *webrtc = nullptr;
};

/* The page bodies, exposed for tests of their own (transfer full: libsoup sends them without a
 * copy). @base: "http://host:port" as the client sees the server; @ws_base likewise for WebSocket
 * URLs. */
GBytes *status_json (const PageContext & ctx, const std::vector<CameraStatus> & cameras,
    const std::string & base, const std::string & ws_base);
GBytes *metrics_text (const PageContext & ctx, const std::vector<CameraStatus> & cameras);
/* @only: the page of one camera (/view?camera=NAME), shown large; "" = every camera. */
std::string view_html (const std::vector<CameraStatus> & cameras, const std::string & only = "");

class Pages
{
public:
  /* Registers /status, /metrics and /view on @server; @ctx must outlive this object. */
  static std::unique_ptr<Pages> create (cr::Server & server, const PageContext & ctx,
      GError **error);
  ~Pages ();

private:
  Pages () = default;
  std::vector<std::unique_ptr<cr::PageRoute>> routes_;
};

}  // namespace camrelay
