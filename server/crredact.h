/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: secrets kept out of everything a person reads (logs, errors, /status, /metrics, /view,
 * --check). A secret is shown only where it must be to work: the URL handed to the camera and the
 * --print-pipeline lines. Pure string work, no allocation beyond the result, byte-for-byte outside
 * what is masked (a URL is never decoded and encoded again). */
#pragma once

#include <string>
#include <string_view>

namespace cr {

/* What stands in for a masked value. */
inline constexpr const char *REDACTED = "***";

/* True for a query parameter or setting name that carries a credential as IP cameras and their
 * firmware name them: user, pwd, password, token, key, secret, auth, signature... (ASCII
 * case-insensitive, '-' and '_' alike). */
bool is_secret_name (std::string_view name);

/* @url with its userinfo removed (http://user:pw@host/ -> http://host/) and the values of
 * credential-looking query parameters replaced by REDACTED (?user=admin&pwd=x&res=vga ->
 * ?user=***&pwd=***&res=vga). Anything that is not a URL comes back unchanged. */
std::string redact_url (std::string_view url);

/* @text (a log line, an error message, a pipeline description) with every URL in it passed through
 * redact_url(), and the value of every NAME=VALUE whose NAME is a secret setting
 * (viewer-password=, secret=, user-pw=, password=, token= ...; quoted or not) replaced by REDACTED.
 */
std::string redact_text (std::string_view text);

}  // namespace cr
