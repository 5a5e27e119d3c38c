/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Camera-like pictures for motion tests (see motionscene.h). Not thread-safe: one test thread. */
#include "motionscene.h"

#include "testjpeg.h"

#include <cmath>

namespace crtest {

namespace {

/* The scene's own grey at (x, y), 30..200: a wall gradient, a few shapes, some texture. */
int
scene_grey (int x, int y, int width, int height)
{
  int v = 60 + 70 * y / height + 30 * x / width;
  if ((x / 80 + y / 60) % 3 == 0)
    v += 30; /* tiles */
  if (x > width / 5 && x < width / 3 && y > height / 2)
    v = 45; /* a dark cupboard */
  if ((x - width * 3 / 4) * (x - width * 3 / 4) + (y - height / 3) * (y - height / 3) <
      (height / 8) * (height / 8))
    v = 190;                                                           /* a lamp shade */
  v += static_cast<int> (8 * std::sin (x * 0.3) * std::cos (y * 0.2)); /* texture */
  return CLAMP (v, 30, 200);
}

/* The scene at @width x @height, made once. */
const std::vector<guint8> &
scene (int width, int height)
{
  static std::vector<guint8> made;
  static int made_w = 0, made_h = 0;
  if (made_w != width || made_h != height) {
    made.resize (static_cast<gsize> (width) * height);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++)
        made[static_cast<gsize> (y) * width + x] = scene_grey (x, y, width, height);
    }
    made_w = width;
    made_h = height;
  }
  return made;
}

}  // namespace

std::vector<guint8>
scene_jpeg (const SceneFrame & f)
{
  const std::vector<guint8> & grey = scene (f.width, f.height);
  guint32 state = f.seed * 2654435761u + 1; /* xorshift32: fast grain, its own per seed */
  auto grain = [&state, &f] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<int> (state % (2 * f.noise + 1)) - f.noise;
  };
  std::vector<guint8> rgb (static_cast<gsize> (f.width) * f.height * 3);
  for (int y = 0; y < f.height; y++) {
    for (int x = 0; x < f.width; x++) {
      const bool in_square = f.square > 0 && x >= f.square_x && x < f.square_x + f.square &&
          y >= f.square_y && y < f.square_y + f.square;
      double base = in_square ? f.square_grey
                              : grey[static_cast<gsize> (y) * f.width + x] * f.gain + f.offset;
      guint8 *px = &rgb[(static_cast<gsize> (y) * f.width + x) * 3];
      for (int c = 0; c < 3; c++) {
        /* A little colour, so that the chroma planes are not empty. */
        int v = static_cast<int> (std::lround (base)) + (c - 1) * 6;
        if (f.noise)
          v += grain ();
        px[c] = CLAMP (v, 0, 255);
      }
    }
  }
  LibjpegSpec spec;
  spec.width = f.width;
  spec.height = f.height;
  spec.quality = f.quality;
  spec.components = 3;
  spec.h_samp = f.h_samp;
  spec.v_samp = f.v_samp;
  return encode_pixels (spec, rgb);
}

}  // namespace crtest
