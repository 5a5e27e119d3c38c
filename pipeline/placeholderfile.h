/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: finding a placeholder picture and making sure it is a JPEG. */
#pragma once

#include "relayconfig.h"

#include <string>

namespace camrelay {

/* Looks for @given (a relative name in each of placeholder_search_dirs() in turn) and checks that
 * it is a JPEG. Returns false with @why when it is missing or not a JPEG; @found is then the
 * absolute path of the file found, if any. */
bool find_placeholder (const Config & config, const std::string & given, std::string & found,
    std::string & why);

}  // namespace camrelay
