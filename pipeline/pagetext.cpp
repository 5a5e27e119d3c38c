/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: numbers and JSON written straight into page text. */
#include "pagetext.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>

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

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days), as gmtime_r
 * gives it, without its lock and time-zone bookkeeping. */
static void
civil_from_days (gint64 z, gint64 & y, unsigned & m, unsigned & d)
{
  z += 719468;
  const gint64 era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned> (z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<gint64> (yoe) + era * 400 + (m <= 2);
}

static char *
digits (char *p, unsigned v, int n)
{
  for (int i = n - 1; i >= 0; i--, v /= 10)
    p[i] = static_cast<char> ('0' + v % 10);
  return p + n;
}

/* As g_date_time_format_iso8601() writes a UTC time ("2026-12-06T11:24:44.123456Z", the fraction
 * only when there is one). */
gsize
write_iso_time (char *buf, gint64 real_us)
{
  if (real_us <= 0)
    return 0;
  const gint64 secs = real_us / G_USEC_PER_SEC;
  const unsigned usec = static_cast<unsigned> (real_us % G_USEC_PER_SEC);
  const gint64 days = secs / 86400;
  const unsigned sod = static_cast<unsigned> (secs % 86400);
  gint64 year;
  unsigned month, day;
  civil_from_days (days, year, month, day);
  if (year > 9999)
    return 0;
  char *p = digits (buf, static_cast<unsigned> (year), 4);
  *p++ = '-';
  p = digits (p, month, 2);
  *p++ = '-';
  p = digits (p, day, 2);
  *p++ = 'T';
  p = digits (p, sod / 3600, 2);
  *p++ = ':';
  p = digits (p, sod / 60 % 60, 2);
  *p++ = ':';
  p = digits (p, sod % 60, 2);
  if (usec) {
    *p++ = '.';
    p = digits (p, usec, 6);
  }
  *p++ = 'Z';
  return static_cast<gsize> (p - buf);
}

std::string
iso_time (gint64 real_us)
{
  char buf[ISO_TIME_MAX];
  return std::string (buf, write_iso_time (buf, real_us));
}

/* Page buffers given back once libsoup has sent them, and reused: a fresh buffer per request (2 MB
 * for /status at 1,000 cameras, 7 MB for /metrics) cost a page fault per 4 KiB and the unmapping
 * afterwards, a tenth of the request's CPU (perf). One is kept, up to 8 MiB (1,000 cameras' pages),
 * so that 5,000 cameras' 33 MB of /metrics are not held between requests. */
namespace {

constexpr gsize POOL_BUFFERS = 1;
constexpr gsize POOL_MAX_BYTES = 8 * 1024 * 1024;
constexpr gsize FIRST_BYTES = 64 * 1024;

struct Buffer
{
  char *data;
  gsize size;
};

/* Plain data, never destroyed: libsoup may give a body back while the program exits, and the kept
 * buffer stays reachable from here (no leak for LeakSanitizer). */
GMutex pool_lock;
Buffer pool[POOL_BUFFERS];
gsize pooled = 0;

void
give_back (Buffer b)
{
  if (b.size <= POOL_MAX_BYTES) {
    g_mutex_lock (&pool_lock);
    const bool kept = pooled < POOL_BUFFERS;
    if (kept)
      pool[pooled++] = b;
    g_mutex_unlock (&pool_lock);
    if (kept)
      return;
  }
  g_free (b.data);
}

}  // namespace

Text::Text ()
{
  g_mutex_lock (&pool_lock);
  if (pooled) {
    const Buffer & b = pool[--pooled];
    buf_ = b.data;
    size_ = b.size;
  }
  g_mutex_unlock (&pool_lock);
  if (!buf_)
    grow (FIRST_BYTES);
}

Text::~Text ()
{
  if (buf_)
    give_back ({ buf_, size_ });
}

GBytes *
Text::take_bytes ()
{
  auto *b = new Buffer{ buf_, size_ };
  GBytes *bytes = g_bytes_new_with_free_func (
      buf_, len_,
      [] (gpointer data) {
        std::unique_ptr<Buffer> owned (static_cast<Buffer *> (data));
        give_back (*owned);
      },
      b);
  buf_ = nullptr;
  size_ = len_ = 0;
  return bytes;
}

void
Text::grow (gsize n)
{
  size_ = MAX (size_ * 2, len_ + n);
  buf_ = static_cast<char *> (g_realloc (buf_, size_));
}

void
Text::number (guint64 n)
{
  char *p = room (20);
  auto r = std::to_chars (p, p + 20, n);
  len_ += static_cast<gsize> (r.ptr - p);
}

void
Text::number (gint64 n)
{
  char *p = room (20);
  auto r = std::to_chars (p, p + 20, n);
  len_ += static_cast<gsize> (r.ptr - p);
}

void
Text::fixed (double v, int decimals)
{
  char buf[64];
  auto r = std::to_chars (buf, buf + sizeof (buf), v, std::chars_format::fixed, decimals);
  if (r.ec == std::errc ()) {
    put (std::string_view (buf, static_cast<gsize> (r.ptr - buf)));
    return;
  }
  std::string slow;
  append_fixed (slow, v, decimals);
  put (slow);
}

void
Text::json_string (std::string_view s)
{
  /* Names, paths and URLs need no escape: checked, then copied in one go. */
  gsize i = 0;
  while (i < s.size ()) {
    unsigned char c = static_cast<unsigned char> (s[i]);
    if (c < 0x20 || c == '"' || c == '\\')
      break;
    i++;
  }
  if (i == s.size ()) {
    char *p = room (s.size () + 2);
    p[0] = '"';
    memcpy (p + 1, s.data (), s.size ());
    p[s.size () + 1] = '"';
    len_ += s.size () + 2;
    return;
  }
  std::string escaped;
  append_json_string (escaped, s);
  put (escaped);
}

}  // namespace camrelay::pagetext
