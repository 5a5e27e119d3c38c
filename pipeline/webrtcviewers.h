/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: every camera's WebRTC viewers, `POST /whep/NAME` (WHEP, see
 * plugins/crwhep.h), fed from the camera's h264relaysink: the one encoder its RTSP and WebRTC
 * viewers share, reached through the element's action signals (plugins/crh264feed.h).
 *
 * A camera without an h264relaysink in its pipeline answers 503. A camera removed by a reload
 * takes its sessions with it; one whose pipeline is rebuilt keeps its endpoint, and its sessions
 * end when the old encoder's feed stops (the viewer's page asks again). */
#pragma once

#include "camera.h"
#include "crserver.h"
#include "crwhep.h"
#include "relayconfig.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace camrelay {

class WebRtcViewers
{
public:
  WebRtcViewers (std::shared_ptr<cr::Server> server, const ServerConfig & config);
  ~WebRtcViewers ();

  /* Main thread: endpoints for @cameras, ending those of cameras no longer in the list. Returns
   * false with @error if a path is taken. */
  bool set_cameras (const std::vector<Camera *> & cameras, std::string & error);
  /* Any thread: the WebRTC figures of camera @name (zeros if it has no endpoint). */
  cr::WhepStats stats (const std::string & name) const;
  /* Any thread: the same for @camera, found without comparing names (/status of thousands). */
  cr::WhepStats stats (const Camera *camera) const;

private:
  struct Viewers;
  std::shared_ptr<cr::Server> server_;
  cr::WhepSettings base_;
  guint default_max_ = 0;
  mutable std::mutex lock_;
  std::map<const Camera *, std::unique_ptr<Viewers>> cameras_;
};

}  // namespace camrelay
