/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a file as an HTTP response, with single byte ranges (RFC 9110 14), read in
 * 64 KiB pieces as the client takes them: a player seeking in an hour of recording costs the
 * bytes it asks for, never the whole file in memory. A file still growing (the segment being
 * written) is served as long as it is when the request comes. Server thread only. */
#pragma once

#include <libsoup/soup.h>

#include <string>

namespace camrelay {

/* Answers @msg (GET or HEAD) with @path: 200, or 206 with Content-Range for one satisfiable
 * "Range: bytes=…" (several ranges are answered whole), 416 for an unsatisfiable one; always
 * Accept-Ranges: bytes. 404 if the file cannot be opened. */
void serve_file (SoupServerMessage *msg, const std::string & path, const char *content_type);

}  // namespace camrelay
