/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: masking of credentials in URLs and free text (see crredact.h). */
#include "crredact.h"

#include <glib.h>

#include <array>

namespace cr {

namespace {

/* Names (lower case, '-' for '_') of query parameters and settings that carry credentials, as
 * IP camera firmware (Hikvision, Dahua, Foscam, Reolink, Axis, Amcrest...) and web APIs name them.
 */
constexpr std::array<std::string_view, 24> SECRET_NAMES = {
  "user",
  "username",
  "usr",
  "login",
  "loginuse",
  "pwd",
  "pass",
  "passwd",
  "password",
  "loginpas",
  "token",
  "access-token",
  "auth",
  "authorization",
  "key",
  "apikey",
  "api-key",
  "secret",
  "signature",
  "sig",
  "session",
  "sessionid",
  "user-pw",
  "viewer-password",
};

/* Setting suffixes that make any NAME=VALUE secret (e.g. "rtsp-password=", "camera-secret="). */
constexpr std::array<std::string_view, 4> SECRET_SUFFIXES = { "password", "secret", "token",
  "-pw" };

bool
ends_with (std::string_view s, std::string_view suffix)
{
  return s.size () >= suffix.size () && s.substr (s.size () - suffix.size ()) == suffix;
}

std::string
normalized (std::string_view name)
{
  std::string n (name);
  for (char & c : n)
    c = c == '_' ? '-' : g_ascii_tolower (c);
  return n;
}

bool
is_scheme_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '-' || c == '.';
}

/* Where a URL that starts at @start ends in free text: the first space, quote or angle bracket. */
size_t
url_end (std::string_view text, size_t start)
{
  size_t i = start;
  while (i < text.size () && !g_ascii_isspace (text[i]) && text[i] != '"' && text[i] != '\'' &&
      text[i] != '<' && text[i] != '>' && text[i] != '`')
    i++;
  return i;
}

std::string
redact_query (std::string_view query)
{
  std::string out;
  out.reserve (query.size ());
  size_t at = 0;
  while (at <= query.size ()) {
    size_t amp = query.find_first_of ("&;", at);
    size_t end = amp == std::string_view::npos ? query.size () : amp;
    std::string_view pair = query.substr (at, end - at);
    size_t eq = pair.find ('=');
    if (eq != std::string_view::npos && eq + 1 < pair.size () &&
        is_secret_name (pair.substr (0, eq))) {
      out.append (pair.substr (0, eq + 1));
      out.append (REDACTED);
    } else {
      out.append (pair);
    }
    if (amp == std::string_view::npos)
      break;
    out.push_back (query[amp]);
    at = amp + 1;
  }
  return out;
}

}  // namespace

bool
is_secret_name (std::string_view name)
{
  std::string n = normalized (name);
  for (std::string_view s : SECRET_NAMES) {
    if (n == s)
      return true;
  }
  for (std::string_view s : SECRET_SUFFIXES) {
    if (ends_with (n, s))
      return true;
  }
  return false;
}

std::string
redact_url (std::string_view url)
{
  size_t colon = url.find (':');
  if (colon == std::string_view::npos || colon == 0)
    return std::string (url);
  for (size_t i = 0; i < colon; i++) {
    if (!is_scheme_char (url[i]))
      return std::string (url);
  }
  std::string out (url.substr (0, colon + 1));
  size_t at = colon + 1;
  if (url.substr (at, 2) == "//") {
    size_t authority_end = url.find_first_of ("/?#", at + 2);
    if (authority_end == std::string_view::npos)
      authority_end = url.size ();
    std::string_view authority = url.substr (at + 2, authority_end - at - 2);
    size_t userinfo = authority.rfind ('@');
    out.append ("//");
    out.append (userinfo == std::string_view::npos ? authority : authority.substr (userinfo + 1));
    at = authority_end;
  }
  size_t query = url.find ('?', at);
  size_t fragment = url.find ('#', at);
  if (query == std::string_view::npos || (fragment != std::string_view::npos && fragment < query)) {
    out.append (url.substr (at));
    return out;
  }
  size_t query_end = fragment == std::string_view::npos ? url.size () : fragment;
  out.append (url.substr (at, query + 1 - at));
  out.append (redact_query (url.substr (query + 1, query_end - query - 1)));
  out.append (url.substr (query_end));
  return out;
}

std::string
redact_text (std::string_view text)
{
  std::string out;
  out.reserve (text.size ());
  size_t verbatim_from = 0; /* text[verbatim_from, i) was copied to the end of out as it is */
  size_t i = 0;
  while (i < text.size ()) {
    /* A URL: SCHEME "://" ...; its scheme was already copied verbatim, so take it back. */
    if (text.compare (i, 3, "://") == 0) {
      size_t start = i;
      while (start > verbatim_from && is_scheme_char (text[start - 1]))
        start--;
      out.resize (out.size () - (i - start));
      size_t end = url_end (text, i);
      out.append (redact_url (text.substr (start, end - start)));
      i = verbatim_from = end;
      continue;
    }
    /* NAME=VALUE with a secret NAME: mask VALUE, quoted or not. */
    if (text[i] == '=') {
      size_t start = i;
      while (start > verbatim_from &&
          (g_ascii_isalnum (text[start - 1]) || text[start - 1] == '-' || text[start - 1] == '_'))
        start--;
      if (start < i && is_secret_name (text.substr (start, i - start))) {
        out.push_back ('=');
        size_t v = i + 1;
        if (v < text.size () && (text[v] == '"' || text[v] == '\'')) {
          char quote = text[v];
          size_t close = text.find (quote, v + 1);
          out.push_back (quote);
          out.append (REDACTED);
          out.push_back (quote);
          i = close == std::string_view::npos ? text.size () : close + 1;
        } else {
          size_t end = v;
          while (end < text.size () && !g_ascii_isspace (text[end]) && text[end] != '&' &&
              text[end] != ',' && text[end] != ';' && text[end] != ')')
            end++;
          if (end > v)
            out.append (REDACTED);
          i = end;
        }
        verbatim_from = i;
        continue;
      }
    }
    out.push_back (text[i]);
    i++;
  }
  return out;
}

}  // namespace cr
