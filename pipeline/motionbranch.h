/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a camera's motion branch in its generated pipeline.
 *
 *   ... ! jpegvalidate ! tee name=rec ! jpegfallback ! ... ! mjpeghttpsink ...
 *       rec. ! jpegmotion name=motion camera=NAME threshold=... min-area=... mask=... hold=...
 *
 * On the same tee as the recording branches (recordbranch.h), after jpegvalidate: only accepted
 * live frames are looked at, never the placeholder. jpegmotion needs no queue: it only leaves
 * each frame for its analysis thread, so it never holds up the viewers. A camera without
 * motion = true has no such branch and pays nothing. */
#pragma once

#include "pipelinegen.h"

namespace camrelay {

/* The name of the motion element in a camera's pipeline. */
inline constexpr char MOTION_NAME[] = "motion";

/* At the end of the line: the motion branch (nothing without motion = true). */
bool emit_motion_branch (const CameraConfig & c, Emitter & e);

}  // namespace camrelay
