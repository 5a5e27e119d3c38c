/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a camera's own pipeline= description, made to fit the program. */
#pragma once

#include "configreport.h"
#include "relayconfig.h"

#include <string>

namespace camrelay {

/* True for the camrelay elements that listen on the shared server (wsjpegsrc, mjpeghttpsink). */
bool is_network_element (const std::string & factory);

/* Fills @c.line.tokens from @c.pipeline: every camrelay network element put on the [server]
 * address and port (so that it shares the program's server and its access rules) and every
 * jpegfallback placeholder found and made absolute. */
bool rewrite_custom_line (const Config & config, CameraConfig & c, Reporter & report);

}  // namespace camrelay
