/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: numbers and JSON written straight into the text of /status and /metrics,
 * which write tens of thousands of them at thousands of cameras. */
#pragma once

#include "camera.h"
#include "elementfields.h"
#include "jsontext.h"

#include <glib.h>

#include <array>
#include <cstring>
#include <string>
#include <string_view>

namespace camrelay::pagetext {

/* Reasons jpegvalidate counts, by name; always reported, so a dashboard sees zeros rather than
 * gaps. */
std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)> rejections (
    const CameraStatus & st);

/* @v with @decimals digits after the point, as printf's "%.Nf" in the C locale. */
void append_fixed (std::string & out, double v, int decimals);

/* As g_date_time_format_iso8601() writes a UTC time ("2026-12-06T11:24:44.123456Z", the fraction
 * only when there is one), without a GDateTime per call; "" for none. */
std::string iso_time (gint64 real_us);
/* The same into @buf (at least ISO_TIME_MAX bytes); returns its length, 0 for none. */
constexpr gsize ISO_TIME_MAX = 32;
gsize write_iso_time (char *buf, gint64 real_us);

/* One growing buffer both pages write into: each piece is a bounds check and a copy, inline, so
 * that tens of thousands of pieces per page cost no call each (std::string::append is one). */
class Text
{
public:
  Text ();
  ~Text ();
  Text (const Text &) = delete;
  Text & operator= (const Text &) = delete;

  /* Room for @n more bytes; write them, then advance (@n). */
  char *room (gsize n)
  {
    if (G_UNLIKELY (size_ - len_ < n))
      grow (n);
    return buf_ + len_;
  }
  void advance (gsize n) { len_ += n; }

  void put (char c) { *room (1) = c, len_++; }
  void put (std::string_view s)
  {
    memcpy (room (s.size ()), s.data (), s.size ());
    len_ += s.size ();
  }
  /* A literal: its length is known at compile time, so the copy is a few moves. */
  template<gsize N> void lit (const char (&s)[N])
  {
    memcpy (room (N - 1), s, N - 1);
    len_ += N - 1;
  }
  void number (guint64 n);
  void number (gint64 n);
  void fixed (double v, int decimals);
  /* An ISO 8601 UTC time (see iso_time()); nothing for none. */
  void time (gint64 real_us) { len_ += write_iso_time (room (ISO_TIME_MAX), real_us); }
  /* A JSON string literal (see append_json_string()). */
  void json_string (std::string_view s);

  /* The text without a copy, for libsoup to send; the writer is empty afterwards. */
  GBytes *take_bytes ();

private:
  void grow (gsize n);

  /* g_realloc'ed, not zero-filled as a std::string's resize would: len_ of size_ bytes written. */
  char *buf_ = nullptr;
  gsize size_ = 0;
  gsize len_ = 0;
};

/* A small JSON writer: commas and escaping, nothing else. */
class Json
{
public:
  Json & begin_object ()
  {
    value_prefix ();
    out_.put ('{');
    first_ = true;
    return *this;
  }
  Json & end_object ()
  {
    out_.put ('}');
    first_ = false;
    return *this;
  }
  Json & begin_array ()
  {
    value_prefix ();
    out_.put ('[');
    first_ = true;
    return *this;
  }
  Json & end_array ()
  {
    out_.put (']');
    first_ = false;
    return *this;
  }

  /* A key written in the program: ASCII that needs no escaping, copied as it is in one go. */
  template<gsize N> Json & key (const char (&k)[N])
  {
    char *p = out_.room (N + 3);
    gsize n = 0;
    if (!first_)
      p[n++] = ',';
    p[n++] = '"';
    memcpy (p + n, k, N - 1);
    n += N - 1;
    p[n++] = '"';
    p[n++] = ':';
    out_.advance (n);
    after_key_ = true;
    return *this;
  }
  /* A key from data: escaped. */
  Json & key (std::string_view k)
  {
    if (!first_)
      out_.put (',');
    out_.json_string (k);
    out_.put (':');
    after_key_ = true;
    return *this;
  }

  Json & str (std::string_view s)
  {
    value_prefix ();
    out_.json_string (s);
    return *this;
  }
  Json & str_or_null (std::string_view s) { return s.empty () ? null () : str (s); }
  /* An ISO 8601 time as a string, null for none (0). */
  Json & time_or_null (gint64 real_us) { return time (real_us, true); }
  /* The same, "" for none. */
  Json & time (gint64 real_us, bool null_for_none = false)
  {
    value_prefix ();
    char buf[ISO_TIME_MAX];
    gsize n = write_iso_time (buf, real_us);
    if (!n && null_for_none) {
      out_.lit ("null");
      return *this;
    }
    char *p = out_.room (n + 2);
    p[0] = '"';
    memcpy (p + 1, buf, n);
    p[n + 1] = '"';
    out_.advance (n + 2);
    return *this;
  }
  Json & null ()
  {
    value_prefix ();
    out_.lit ("null");
    return *this;
  }
  Json & boolean (bool b)
  {
    value_prefix ();
    if (b)
      out_.lit ("true");
    else
      out_.lit ("false");
    return *this;
  }
  Json & number (guint64 n)
  {
    value_prefix ();
    out_.number (n);
    return *this;
  }
  Json & number (double d, int decimals)
  {
    value_prefix ();
    out_.fixed (d, decimals);
    return *this;
  }

  /* The text written so far; the writer is empty afterwards. */
  GBytes *take_bytes () { return out_.take_bytes (); }
  Text & out () { return out_; }

private:
  void value_prefix ()
  {
    if (!after_key_ && !first_)
      out_.put (',');
    after_key_ = false;
    first_ = false;
  }

  Text out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace camrelay::pagetext
