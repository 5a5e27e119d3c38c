/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a camera's recording branches (see recordbranch.h). */
#include "recordbranch.h"

#include <gst/gst.h>

#include <cmath>

namespace camrelay {

double
timelapse_interval (const Config & config, const CameraConfig & c)
{
  return c.timelapse_interval >= 0 ? c.timelapse_interval : config.recordings.timelapse_interval;
}

bool
records (const Config & config, const CameraConfig & c)
{
  return c.record || timelapse_interval (config, c) > 0;
}

bool
emit_record_tee (const Config & config, const CameraConfig & c, Emitter & e)
{
  if (!records (config, c) && !c.motion)
    return true;
  return e.element ("tee") &&
      e.prop ("name", BRANCH_TEE_NAME, c.motion ? "motion" : "record", true);
}

/* record = motion: the sink records only while the program holds it open (motion), with its
 * pre-roll and post-roll. */
static bool
emit_gate (const CameraConfig & c, Emitter & e)
{
  auto ns = [] (double seconds) {
    return std::to_string (static_cast<guint64> (std::llround (seconds * GST_SECOND)));
  };
  return e.prop ("gated", "true", "record", true) &&
      e.prop ("pre-roll", ns (c.pre_roll), "pre-roll", true) &&
      e.prop ("post-roll", ns (c.post_roll), "post-roll", true);
}

bool
emit_record_branches (const Config & config, const CameraConfig & c, Emitter & e)
{
  const RecordingsConfig & r = config.recordings;
  const std::string branch = std::string (BRANCH_TEE_NAME) + ".";
  if (c.record) {
    e.token (branch);
    if (!e.element ("jpegrecordsink") || !e.prop ("name", RECORD_SINK_NAME, "record", true) ||
        !e.prop ("location", record_location (r, c.name), "dir", true) ||
        !e.prop ("segment", seconds_as_ns (r.segment), "segment"))
      return false;
    if (c.record_motion && !emit_gate (c, e))
      return false;
  }
  double interval = timelapse_interval (config, c);
  if (interval > 0) {
    e.token (branch);
    /* A time-lapse file holds a UTC day. */
    if (!e.element ("jpegrecordsink") ||
        !e.prop ("name", TIMELAPSE_SINK_NAME, "timelapse-interval", true) ||
        !e.prop ("location", timelapse_location (r, c.name), "dir", true) ||
        !e.prop ("segment", seconds_as_ns (86400), "timelapse-interval", true) ||
        !e.prop ("interval", seconds_as_ns (interval), "timelapse-interval", true))
      return false;
  }
  return true;
}

}  // namespace camrelay
