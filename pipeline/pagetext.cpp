/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: numbers and JSON written straight into page text. */
#include "pagetext.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>

namespace camrelay::pagetext {

using elements::Field;

/* Reasons jpegvalidate counts, by name; always reported, so a dashboard sees zeros rather than
 * gaps. */
std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)>
rejections (const CameraStatus & st)
{
  static const auto sorted = [] {
    std::array<Field, G_N_ELEMENTS (elements::REJECT_REASONS)> f;
    std::copy (std::begin (elements::REJECT_REASONS), std::end (elements::REJECT_REASONS),
        f.begin ());
    std::sort (f.begin (), f.end (),
        [] (Field a, Field b) { return strcmp (elements::name (a), elements::name (b)) < 0; });
    return f;
  }();
  std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)> out;
  for (gsize i = 0; i < sorted.size (); i++)
    out[i] = { elements::name (sorted[i]), st.counter (sorted[i]) };
  return out;
}

/* Numbers straight into the text: /metrics and /status write tens of thousands of them. */
void
append_number (std::string & out, guint64 n)
{
  char buf[24];
  auto r = std::to_chars (buf, buf + sizeof (buf), n);
  out.append (buf, r.ptr);
}

/* @v with @decimals digits after the point, as printf's "%.Nf" in the C locale. */
void
append_fixed (std::string & out, double v, int decimals)
{
  char buf[64];
  auto r = std::to_chars (buf, buf + sizeof (buf), v, std::chars_format::fixed, decimals);
  if (r.ec == std::errc ()) {
    out.append (buf, r.ptr);
    return;
  }
  char fmt[8];
  g_snprintf (fmt, sizeof (fmt), "%%.%df", decimals);
  out += g_ascii_formatd (buf, sizeof (buf), fmt, v);
}

/* As g_date_time_format_iso8601() writes a UTC time ("2026-12-06T11:24:44.123456Z", the fraction
 * only when there is one), without a GDateTime per call. */
std::string
iso_time (gint64 real_us)
{
  if (real_us <= 0)
    return "";
  time_t secs = static_cast<time_t> (real_us / G_USEC_PER_SEC);
  int usec = static_cast<int> (real_us % G_USEC_PER_SEC);
  struct tm tm;
  if (!gmtime_r (&secs, &tm) || tm.tm_year + 1900 > 9999)
    return "";
  char buf[40];
  if (usec)
    g_snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
  else
    g_snprintf (buf, sizeof (buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string
format_double (double v, int decimals)
{
  std::string out;
  append_fixed (out, v, decimals);
  return out;
}

}  // namespace camrelay::pagetext
