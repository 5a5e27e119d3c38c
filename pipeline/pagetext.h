/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: numbers and JSON written straight into the text of /status and /metrics,
 * which write tens of thousands of them at thousands of cameras. */
#pragma once

#include "camera.h"
#include "elementfields.h"
#include "jsontext.h"

#include <glib.h>

#include <array>
#include <string>
#include <string_view>

namespace camrelay::pagetext {

/* Reasons jpegvalidate counts, by name; always reported, so a dashboard sees zeros rather than
 * gaps. */
std::array<std::pair<const char *, guint64>, G_N_ELEMENTS (elements::REJECT_REASONS)> rejections (
    const CameraStatus & st);

void append_number (std::string & out, guint64 n);

/* @v with @decimals digits after the point, as printf's "%.Nf" in the C locale. */
void append_fixed (std::string & out, double v, int decimals);

/* As g_date_time_format_iso8601() writes a UTC time ("2026-12-06T11:24:44.123456Z", the fraction
 * only when there is one), without a GDateTime per call; "" for none. */
std::string iso_time (gint64 real_us);

std::string format_double (double v, int decimals);

/* A small JSON writer: commas and escaping, nothing else. */
class Json
{
public:
  Json & begin_object ()
  {
    value_prefix ();
    out_ += '{';
    first_ = true;
    return *this;
  }
  Json & end_object ()
  {
    out_ += '}';
    first_ = false;
    return *this;
  }
  Json & begin_array ()
  {
    value_prefix ();
    out_ += '[';
    first_ = true;
    return *this;
  }
  Json & end_array ()
  {
    out_ += ']';
    first_ = false;
    return *this;
  }

  Json & key (std::string_view k)
  {
    if (!first_)
      out_ += ',';
    string_literal (k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }

  Json & str (std::string_view s)
  {
    value_prefix ();
    string_literal (s);
    return *this;
  }
  Json & str_or_null (std::string_view s) { return s.empty () ? null () : str (s); }
  Json & null ()
  {
    value_prefix ();
    out_ += "null";
    return *this;
  }
  Json & boolean (bool b)
  {
    value_prefix ();
    out_ += b ? "true" : "false";
    return *this;
  }
  Json & number (guint64 n)
  {
    value_prefix ();
    append_number (out_, n);
    return *this;
  }
  Json & number (double d, int decimals)
  {
    value_prefix ();
    append_fixed (out_, d, decimals);
    return *this;
  }

  const std::string & text () const { return out_; }

private:
  void value_prefix ()
  {
    if (!after_key_ && !first_)
      out_ += ',';
    after_key_ = false;
    first_ = false;
  }

  void string_literal (std::string_view s) { append_json_string (out_, s); }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace camrelay::pagetext
