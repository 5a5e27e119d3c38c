/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the /view page's way back in time, for cameras that record: pick a moment,
 * watch from there at a speed (/recordings/NAME/play), jump back to live, download a day's
 * time-lapse (/recordings/NAME/timelapse.mp4). Kept apart from pages.cpp, which only places it. */
#pragma once

#include "camera.h"

#include <string>

namespace camrelay {

/* The controls under one camera's picture; "" for a camera that records nothing. */
std::string back_in_time_controls (const CameraStatus & camera);

/* The style and script the controls need, once per page. */
std::string back_in_time_script ();

}  // namespace camrelay
