/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the checks of a camera's finished pipeline description. */
#pragma once

#include "configreport.h"
#include "relayconfig.h"

namespace camrelay {

/* Parses @c.line as the program will, checks that its network elements are on the [server]
 * address and port, and reads back the paths they will serve into @c.routes_*. */
bool check_line (const Config & config, CameraConfig & c, Reporter & report);

/* Two cameras (or a camera and one of the program's pages) may not claim one path. */
bool check_paths (const Config & config, Reporter & report);

}  // namespace camrelay
