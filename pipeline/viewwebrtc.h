/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /view plays a camera shown large (the page of one camera, /view?camera=NAME,
 * or the only camera) over WebRTC (POST /whep/NAME) when the browser can, and falls back to the
 * MJPEG stream by itself when WebRTC does not deliver a decoded frame within a few seconds or
 * stalls. The caption says which one plays and offers the other. The grid of several cameras
 * stays on MJPEG (many tiles must not start many encoders). Kept apart from pages.cpp, which
 * only places it. */
#pragma once

#include <string>

namespace camrelay {

/* The transport indicator and switch of a large figure's caption. */
std::string webrtc_view_controls ();

/* The style and script, once per page. */
std::string webrtc_view_script ();

}  // namespace camrelay
