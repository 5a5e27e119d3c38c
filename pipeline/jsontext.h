/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: JSON string literals, one escaping for /status, the event feeds (MQTT,
 * webhooks) and the recordings API. */
#pragma once

#include <string>
#include <string_view>

namespace camrelay {

/* Appends @s to @out as a JSON string literal, quotes included: '"', '\' and control characters
 * escaped, everything else (UTF-8 included) as it is. */
void append_json_string (std::string & out, std::string_view s);

/* @s as a JSON string literal. */
std::string json_string (std::string_view s);

}  // namespace camrelay
