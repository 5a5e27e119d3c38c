/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: access control. HTTP Basic for viewers, a Bearer secret for cameras, compared in
 * constant time. Server thread (the message functions) or any thread (secrets_equal). */
#pragma once

#include "crserver.h"

#include <libsoup/soup.h>

#include <string>

namespace cr {

/* True if @msg may see @path; otherwise sets the 401 answer with its Basic challenge. */
bool viewer_authorized (SoupServerMessage *msg, const char *path, const ServerOptions & options);
/* True if the camera presents @secret ("Authorization: Bearer" or "?token="), or @secret is "". */
bool camera_authorized (SoupServerMessage *msg, GHashTable *query, const std::string & secret);
/* Also over the IPv4-mapped IPv6 loopback of a dual-stack listener. */
bool is_loopback_peer (SoupServerMessage *msg);
bool secrets_equal (const std::string & a, const std::string & b);

}  // namespace cr
