/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: pipeline descriptions as gst-launch-1.0 tokens. */
#include "launchline.h"

#include <cstring>

namespace camrelay {

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Characters that need no quoting, neither for gst-launch nor for a POSIX shell. */
static bool
is_plain_char (char c)
{
  return g_ascii_isalnum (c) || strchr ("/._,:+@%=-", c) != nullptr;
}

static bool
is_plain (const std::string & s)
{
  if (s.empty ())
    return false;
  for (char c : s) {
    if (!is_plain_char (c))
      return false;
  }
  return true;
}

bool
tokenize_description (const std::string & description, std::vector<std::string> & tokens,
    std::string & error)
{
  std::vector<std::string> raw;
  gsize i = 0, n = description.size ();
  while (i < n) {
    while (i < n && is_space (description[i]))
      i++;
    if (i >= n)
      break;
    std::string token;
    char quote = 0;
    while (i < n && (quote || !is_space (description[i]))) {
      char c = description[i];
      token += c;
      if (c == '\\' && i + 1 < n) {
        token += description[++i];
      } else if (quote && c == quote) {
        quote = 0;
      } else if (!quote && (c == '"' || c == '\'')) {
        quote = c;
      }
      i++;
    }
    if (quote) {
      error = std::string ("unterminated ") + (quote == '"' ? "double" : "single") + " quote";
      return false;
    }
    raw.push_back (token);
  }

  /* gst-launch accepts "name = value" and "name= value"; keep each property one token. */
  tokens.clear ();
  for (gsize k = 0; k < raw.size (); k++) {
    std::string t = raw[k];
    while (k + 1 < raw.size () && (t.back () == '=' || raw[k + 1][0] == '=') && t != "!" &&
        raw[k + 1] != "!") {
      t += raw[++k];
    }
    tokens.push_back (t);
  }
  return true;
}

std::string
gst_quote (const std::string & value)
{
  if (is_plain (value))
    return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string
gst_unquote (const std::string & value)
{
  std::string out;
  char quote = 0;
  for (gsize i = 0; i < value.size (); i++) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size ()) {
      out += value[++i];
    } else if (quote && c == quote) {
      quote = 0;
    } else if (!quote && (c == '"' || c == '\'')) {
      quote = c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string
shell_quote (const std::string & token)
{
  if (token == "!" || is_plain (token))
    return token;
  g_autofree gchar *quoted = g_shell_quote (token.c_str ());
  return quoted;
}

static bool
is_identifier (const std::string & s, const char *extra)
{
  if (s.empty () || !(g_ascii_isalpha (s[0]) || s[0] == '_'))
    return false;
  for (char c : s) {
    if (!g_ascii_isalnum (c) && c != '_' && !strchr (extra, c))
      return false;
  }
  return true;
}

bool
split_property (const std::string & token, std::string & name, std::string & value)
{
  gsize eq = token.find ('=');
  if (eq == std::string::npos || eq == 0)
    return false;
  std::string n = token.substr (0, eq);
  if (!is_identifier (n, "-:%"))
    return false;
  name = n;
  value = token.substr (eq + 1);
  return true;
}

bool
is_element_token (const std::string & token)
{
  return is_identifier (token, "-+");
}

std::string
LaunchLine::description () const
{
  std::string out;
  for (const auto & t : tokens) {
    if (!out.empty ())
      out += ' ';
    out += t;
  }
  return out;
}

std::string
LaunchLine::command () const
{
  std::string out;
  if (!plugin_path.empty ())
    out = "GST_PLUGIN_PATH=" + shell_quote (plugin_path) + " ";
  out += "gst-launch-1.0";
  for (const auto & t : tokens)
    out += " " + shell_quote (t);
  return out;
}

}  // namespace camrelay
