/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a camera's motion branch (see motionbranch.h). */
#include "motionbranch.h"

#include "recordbranch.h"

#include <gst/gst.h>

#include <cmath>

namespace camrelay {

bool
emit_motion_branch (const CameraConfig & c, Emitter & e)
{
  if (!c.motion)
    return true;
  char area[G_ASCII_DTOSTR_BUF_SIZE], fps[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_dtostr (area, sizeof area, c.motion_min_area);
  g_ascii_dtostr (fps, sizeof fps, c.motion_max_fps);
  g_autofree gchar *hold_ns = g_strdup_printf ("%" G_GUINT64_FORMAT,
      static_cast<guint64> (std::llround (c.motion_hold * GST_SECOND)));
  e.token (std::string (BRANCH_TEE_NAME) + ".");
  return e.element ("jpegmotion") && e.prop ("name", MOTION_NAME, "motion", true) &&
      e.prop ("camera", c.name, "motion", true) &&
      e.prop ("threshold", std::to_string (c.motion_threshold), "motion-threshold") &&
      e.prop ("min-area", area, "motion-min-area") &&
      e.prop ("mask", c.motion_mask, "motion-mask") && e.prop ("hold", hold_ns, "motion-hold") &&
      e.prop ("max-fps", fps, "motion-max-fps");
}

}  // namespace camrelay
