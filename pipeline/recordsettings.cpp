/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the recording settings (see recordsettings.h). */
#include "recordsettings.h"

#include "crrecordlayout.h"

#include <cstring>

namespace camrelay {

namespace {

/* A whole number followed by a unit from @units (with its factor); no unit = @units[0]. */
struct Unit
{
  const char *suffix;
  guint64 factor;
};

bool
parse_with_units (const std::string & text, const Unit *units, gsize n, guint64 & out)
{
  gsize digits = 0;
  while (digits < text.size () && g_ascii_isdigit (text[digits]))
    digits++;
  if (digits == 0 || digits > 15)
    return false;
  guint64 value = g_ascii_strtoull (text.substr (0, digits).c_str (), nullptr, 10);
  std::string unit = text.substr (digits);
  for (gsize i = 0; i < n; i++) {
    if (g_ascii_strcasecmp (unit.c_str (), units[i].suffix) == 0) {
      if (units[i].factor && value > G_MAXUINT64 / units[i].factor)
        return false;
      out = value * units[i].factor;
      return true;
    }
  }
  return false;
}

}  // namespace

bool
parse_age (const std::string & text, gint64 & seconds)
{
  static const Unit units[] = {
    { "", 1 },
    { "s", 1 },
    { "m", 60 },
    { "h", 3600 },
    { "d", 86400 },
    { "w", 7 * 86400 },
  };
  guint64 v = 0;
  if (!parse_with_units (text, units, G_N_ELEMENTS (units), v) || v > G_MAXINT64 / 2)
    return false;
  seconds = static_cast<gint64> (v);
  return true;
}

bool
parse_size (const std::string & text, guint64 & bytes)
{
  const guint64 K = 1024;
  static const Unit units[] = {
    { "", 1 },
    { "B", 1 },
    { "K", K },
    { "KB", K },
    { "KiB", K },
    { "M", K * K },
    { "MB", K * K },
    { "MiB", K * K },
    { "G", K * K * K },
    { "GB", K * K * K },
    { "GiB", K * K * K },
    { "T", K * K * K * K },
    { "TB", K * K * K * K },
    { "TiB", K * K * K * K },
  };
  return parse_with_units (text, units, G_N_ELEMENTS (units), bytes);
}

std::string
record_location (const RecordingsConfig & r, const std::string & camera)
{
  g_autofree gchar *path = g_build_filename (r.dir.c_str (), camera.c_str (), nullptr);
  return path;
}

std::string
timelapse_location (const RecordingsConfig & r, const std::string & camera)
{
  g_autofree gchar *path =
      g_build_filename (r.dir.c_str (), camera.c_str (), cr::record::TIMELAPSE_DIR, nullptr);
  return path;
}

}  // namespace camrelay
