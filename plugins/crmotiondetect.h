/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: motion in a stream of small greyscale pictures (jpegmotion's analysis, no GStreamer).
 *
 * The way motion (the daemon) and Frigate do it, on pictures decoded at 1/8 scale: a running
 * average of the scene is the background; a pixel has changed when it differs from the
 * background by more than `threshold` (0-255) once the picture's overall change of light (a gain
 * and an offset fitted over the whole picture) is taken off, so slow light drift and a camera's
 * exposure steps are not motion; a picture has motion when the changed pixels cover at least
 * `min_area` of the part not masked out. When more than `light_change` of it changes at once (a
 * light switched on or off, the sun behind a cloud, an infrared cut filter), that is not motion:
 * the background is learnt again from that picture.
 *
 * Masks: rectangles "x,y,w,h;x,y,w,h;..." excluded from the analysis. A rectangle whose four
 * numbers are all at most 1 is in fractions of the picture's width and height ("0,0,1,0.1" is
 * the top tenth, e.g. a timestamp overlay); any other is in pixels of the full picture
 * ("0,0,640,48"). */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace cr {
namespace motion {

struct Rect
{
  double x = 0, y = 0, w = 0, h = 0;
  bool fractions = false;
};

/* Parses @text into @rects; false with a message in @error on a bad one. "" is no mask. */
bool parse_mask (const std::string & text, std::vector<Rect> & rects, std::string & error);

struct Settings
{
  guint threshold = 25;
  double min_area = 0.01;
  double light_change = 0.6;
  std::vector<Rect> mask;
};

struct Verdict
{
  double area = 0;     /* fraction of the unmasked picture that changed */
  bool motion = false; /* area >= min_area, and not a change of light */
  bool light_change = false;
  bool learning = false; /* the first picture (or a new size): nothing to compare with yet */
};

class Detector
{
public:
  void configure (const Settings & settings);
  /* One picture, @width x @height grey bytes, of a frame @full_width x @full_height big. */
  Verdict analyse (const guint8 *pixels, guint width, guint height, guint full_width,
      guint full_height);
  void reset () { width_ = height_ = 0; }

private:
  void build_mask (guint full_width, guint full_height);

  Settings settings_;
  guint width_ = 0, height_ = 0;
  std::vector<float> background_;
  std::vector<guint8> masked_; /* 1 = excluded */
  guint counted_ = 0;          /* pixels not masked */
};

}  // namespace motion
}  // namespace cr
