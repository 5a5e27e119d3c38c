/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: motion in a stream of small greyscale pictures (see crmotiondetect.h). */
#include "crmotiondetect.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace cr {
namespace motion {

namespace {

/* How fast the background follows the scene, per analysed picture: quickly where nothing moves
 * (light drift), slowly where something does (a parked car becomes scenery in ~40 s at the default
 * 2.5 analysed frames a second). */
const float LEARN_STILL = 0.1f;
const float LEARN_MOVING = 0.01f;

bool
parse_number (const char *text, double *out)
{
  gchar *end = nullptr;
  g_autofree gchar *stripped = g_strstrip (g_strdup (text));
  if (!*stripped)
    return false;
  *out = g_ascii_strtod (stripped, &end);
  return end && !*end && std::isfinite (*out) && *out >= 0;
}

}  // namespace

bool
parse_mask (const std::string & text, std::vector<Rect> & rects, std::string & error)
{
  rects.clear ();
  g_auto (GStrv) parts = g_strsplit (text.c_str (), ";", -1);
  for (gchar **p = parts; *p; p++) {
    g_autofree gchar *part = g_strstrip (g_strdup (*p));
    if (!*part)
      continue;
    g_auto (GStrv) nums = g_strsplit (part, ",", -1);
    double v[4];
    if (g_strv_length (nums) != 4 || !parse_number (nums[0], &v[0]) ||
        !parse_number (nums[1], &v[1]) || !parse_number (nums[2], &v[2]) ||
        !parse_number (nums[3], &v[3])) {
      error = std::string ("\"") + part +
          "\" is not a rectangle x,y,w,h (four numbers from 0, in fractions of the picture if all "
          "are at most 1, else in pixels)";
      return false;
    }
    Rect r{ v[0], v[1], v[2], v[3], v[0] <= 1 && v[1] <= 1 && v[2] <= 1 && v[3] <= 1 };
    if (r.w <= 0 || r.h <= 0) {
      error = std::string ("\"") + part + "\" is an empty rectangle";
      return false;
    }
    rects.push_back (r);
  }
  return true;
}

void
Detector::configure (const Settings & settings)
{
  settings_ = settings;
  reset ();
}

void
Detector::build_mask (guint full_width, guint full_height)
{
  masked_.assign (static_cast<gsize> (width_) * height_, 0);
  const double sx = full_width ? static_cast<double> (width_) / full_width : 1;
  const double sy = full_height ? static_cast<double> (height_) / full_height : 1;
  for (const Rect & r : settings_.mask) {
    /* In the small picture's pixels; a pixel is masked when its centre is inside. */
    double x0 = r.fractions ? r.x * width_ : r.x * sx;
    double y0 = r.fractions ? r.y * height_ : r.y * sy;
    double x1 = x0 + (r.fractions ? r.w * width_ : r.w * sx);
    double y1 = y0 + (r.fractions ? r.h * height_ : r.h * sy);
    for (guint y = 0; y < height_; y++) {
      if (y + 0.5 < y0 || y + 0.5 > y1)
        continue;
      for (guint x = 0; x < width_; x++) {
        if (x + 0.5 >= x0 && x + 0.5 <= x1)
          masked_[static_cast<gsize> (y) * width_ + x] = 1;
      }
    }
  }
  counted_ = static_cast<guint> (std::count (masked_.begin (), masked_.end (), 0));
}

Verdict
Detector::analyse (const guint8 *pixels, guint width, guint height, guint full_width,
    guint full_height)
{
  Verdict v;
  const gsize n = static_cast<gsize> (width) * height;
  if (width != width_ || height != height_) {
    width_ = width;
    height_ = height;
    background_.assign (pixels, pixels + n);
    build_mask (full_width, full_height);
    v.learning = true;
    return v;
  }
  if (counted_ == 0)
    return v; /* all masked */

  /* The light: the picture as gain x background + offset, fitted by least squares over the
   * unmasked pixels, then again without the pixels that fit badly (a moving object), so light
   * drift, exposure steps and a lamp's glow are taken off before pixels are compared. */
  const int threshold = static_cast<int> (settings_.threshold);
  double gain = 1, offset = 0;
  guint raw_changed = 0;
  for (gsize i = 0; i < n; i++) {
    if (!masked_[i] && std::fabs (pixels[i] - background_[i]) > threshold)
      raw_changed++;
  }
  for (int pass = 0; pass < 2; pass++) {
    double sb = 0, sp = 0, sbb = 0, sbp = 0, count = 0;
    for (gsize i = 0; i < n; i++) {
      if (masked_[i])
        continue;
      const double b = background_[i], p = pixels[i];
      if (pass > 0 && std::fabs (p - (gain * b + offset)) > threshold)
        continue;
      sb += b;
      sp += p;
      sbb += b * b;
      sbp += b * p;
      count++;
    }
    const double var = count * sbb - sb * sb;
    if (count < 2 || var < 1e-6 * count * count)
      break; /* a flat picture: offset only */
    gain = std::clamp ((count * sbp - sb * sp) / var, 0.25, 4.0);
    offset = (sp - gain * sb) / count;
  }

  guint changed = 0;
  for (gsize i = 0; i < n; i++) {
    const double expected = gain * background_[i] + offset;
    const bool moved = std::fabs (pixels[i] - expected) > threshold;
    if (moved && !masked_[i])
      changed++;
    background_[i] += (pixels[i] - background_[i]) * (moved ? LEARN_MOVING : LEARN_STILL);
  }
  v.area = static_cast<double> (changed) / counted_;
  if (static_cast<double> (raw_changed) / counted_ > settings_.light_change ||
      v.area > settings_.light_change) {
    /* Most of the picture at once: light, not something moving. Start again from here. */
    v.light_change = true;
    background_.assign (pixels, pixels + n);
    return v;
  }
  v.motion = v.area >= settings_.min_area;
  return v;
}

}  // namespace motion
}  // namespace cr
