/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "jsontext.h"

#include <glib.h>

namespace camrelay {

void
append_json_string (std::string & out, std::string_view s)
{
  out += '"';
  /* Runs of characters that need no escape go in at once: names, paths and URLs are all of them. */
  gsize run = 0;
  for (gsize i = 0; i < s.size (); i++) {
    unsigned char c = static_cast<unsigned char> (s[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append (s.data () + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        char buf[8];
        g_snprintf (buf, sizeof (buf), "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append (s.data () + run, s.size () - run);
  out += '"';
}

std::string
json_string (std::string_view s)
{
  std::string out;
  append_json_string (out, s);
  return out;
}

}  // namespace camrelay
