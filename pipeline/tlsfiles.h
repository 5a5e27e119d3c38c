/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the [server] TLS certificate and key, checked before anything listens. */
#pragma once

#include "configreport.h"
#include "relayconfig.h"

namespace camrelay {

/* True without TLS, or when both files exist and GLib loads them as a matching pair. */
bool check_tls (const Config & config, Reporter & report);

}  // namespace camrelay
