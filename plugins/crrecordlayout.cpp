/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: recording file names (see crrecordlayout.h). */
#include "crrecordlayout.h"

#include <cstdio>
#include <cstring>

namespace cr {
namespace record {

namespace {

const gint64 DAY = 24 * 3600;

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): no
 * timezone database, no locale, no allocation. */
gint64
days_from_civil (gint64 y, guint m, guint d)
{
  y -= m <= 2;
  const gint64 era = (y >= 0 ? y : y - 399) / 400;
  const guint yoe = static_cast<guint> (y - era * 400);
  const guint doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const guint doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<gint64> (doe) - 719468;
}

void
civil_from_days (gint64 z, gint64 & y, guint & m, guint & d)
{
  z += 719468;
  const gint64 era = (z >= 0 ? z : z - 146096) / 146097;
  const guint doe = static_cast<guint> (z - era * 146097);
  const guint yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<gint64> (yoe) + era * 400;
  const guint doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const guint mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

gint64
floor_div (gint64 a, gint64 b)
{
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Reads exactly @n digits. */
bool
digits (const char *& p, int n, guint & out)
{
  out = 0;
  for (int i = 0; i < n; i++, p++) {
    if (!g_ascii_isdigit (*p))
      return false;
    out = out * 10 + (*p - '0');
  }
  return true;
}

}  // namespace

std::string
day_dir_name (gint64 unix_seconds)
{
  gint64 y;
  guint m, d;
  civil_from_days (floor_div (unix_seconds, DAY), y, m, d);
  char buf[32];
  snprintf (buf, sizeof buf, "%04" G_GINT64_FORMAT "-%02u-%02u", y, m, d);
  return buf;
}

std::string
segment_relpath (gint64 unix_seconds)
{
  gint64 s = unix_seconds - floor_div (unix_seconds, DAY) * DAY;
  char buf[32];
  snprintf (buf, sizeof buf, "/%02d-%02d-%02d%s", static_cast<int> (s / 3600),
      static_cast<int> (s / 60 % 60), static_cast<int> (s % 60), SEGMENT_SUFFIX);
  return day_dir_name (unix_seconds) + buf;
}

bool
parse_day_dir_name (const char *name, gint64 & unix_seconds)
{
  const char *p = name;
  guint y, m, d;
  if (!digits (p, 4, y) || *p++ != '-' || !digits (p, 2, m) || *p++ != '-' || !digits (p, 2, d) ||
      *p)
    return false;
  if (m < 1 || m > 12 || d < 1 || d > 31)
    return false;
  gint64 days = days_from_civil (y, m, d);
  /* 2026-02-31 is not a day: it would come back as another name. */
  if (day_dir_name (days * DAY) != name)
    return false;
  unix_seconds = days * DAY;
  return true;
}

bool
parse_segment_name (const char *name, gint64 day_seconds, gint64 & unix_seconds)
{
  const char *p = name;
  guint h, m, s;
  if (!digits (p, 2, h) || *p++ != '-' || !digits (p, 2, m) || *p++ != '-' || !digits (p, 2, s) ||
      strcmp (p, SEGMENT_SUFFIX) != 0)
    return false;
  if (h > 23 || m > 59 || s > 59)
    return false;
  unix_seconds = day_seconds + h * 3600 + m * 60 + s;
  return true;
}

bool
parse_segment_relpath (const std::string & relpath, gint64 & unix_seconds)
{
  auto slash = relpath.find ('/');
  if (slash == std::string::npos)
    return false;
  gint64 day;
  return parse_day_dir_name (relpath.substr (0, slash).c_str (), day) &&
      parse_segment_name (relpath.c_str () + slash + 1, day, unix_seconds);
}

}  // namespace record
}  // namespace cr
