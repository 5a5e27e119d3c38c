/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "jsontext.h"

#include <glib.h>

namespace camrelay {

void
append_json_string (std::string & out, std::string_view s)
{
  out += '"';
  for (unsigned char c : s) {
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
      default:
        if (c < 0x20) {
          char buf[8];
          g_snprintf (buf, sizeof (buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char> (c);
        }
    }
  }
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
