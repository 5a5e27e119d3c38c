/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Camera-like pictures for motion tests: a still scene (shapes and gradients, as a room or a
 * garden has them) seen by a noisy sensor (every frame its own grain, like an ESP32-CAM's VGA at
 * dusk), under a light that can drift or switch, with a square that can cross it. Encoded as
 * colour JPEGs (4:2:0 unless told) by libjpeg, as a camera's firmware would. */
#pragma once

#include <glib.h>

#include <vector>

namespace crtest {

struct SceneFrame
{
  int width = 640;
  int height = 480;
  int quality = 80;
  guint32 seed = 1;  /* the grain of this frame: give each frame its own */
  int noise = 12;    /* grain: each pixel +- this much (0-255) */
  double gain = 1.0; /* the light: every pixel x gain + offset */
  double offset = 0;
  /* A square of this size (pixels, 0 = none) with its top-left corner at (x, y), in grey
   * @square_grey, drawn over the scene (it is not lit by the light). */
  int square = 0;
  int square_x = 0, square_y = 0;
  int square_grey = 235;
  /* Luma sampling: 2x2 is 4:2:0 (most cameras), 2x1 4:2:2 (an OV2640's, so an ESP32-CAM's). */
  int h_samp = 2, v_samp = 2;
};

std::vector<guint8> scene_jpeg (const SceneFrame & frame);

}  // namespace crtest
