/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: small helpers for libsoup responses shared by every route. */
#pragma once

#include <libsoup/soup.h>

namespace cr {

void set_plain_response (SoupServerMessage *msg, guint status, const char *text);
bool method_is (SoupServerMessage *msg, const char *method);
void close_after_response (SoupServerMessage *msg);

}  // namespace cr
