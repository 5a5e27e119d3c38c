/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a camera's recording branches in its generated pipeline.
 *
 *   ... ! jpegvalidate ! tee name=rec ! jpegfallback ! ... ! mjpeghttpsink ...
 *       rec. ! queue leaky=downstream ... ! jpegrecordsink name=record location=DIR/NAME
 *       rec. ! queue leaky=downstream ... ! jpegrecordsink name=timelapse
 * location=DIR/NAME/timelapse ...
 *
 * The tee sits after jpegvalidate, so only accepted live frames are recorded, never the
 * placeholder; each branch has its own leaky queue (its own thread), so a slow or full disk
 * drops recorded frames and never holds up the viewers. */
#pragma once

#include "pipelinegen.h"

namespace camrelay {

/* The tee after jpegvalidate that recording and motion branches hang off. */
inline constexpr char BRANCH_TEE_NAME[] = "rec";

/* The names of the recording sinks in a camera's pipeline (Camera reads their stats). */
inline constexpr char RECORD_SINK_NAME[] = "record";
inline constexpr char TIMELAPSE_SINK_NAME[] = "timelapse";

/* Whether @c records anything (every frame, or a time-lapse). */
bool records (const Config & config, const CameraConfig & c);
/* The time-lapse interval that applies to @c (0 = none). */
double timelapse_interval (const Config & config, const CameraConfig & c);

/* Right after jpegvalidate: the tee the branches hang off (nothing if @c records nothing and
 * watches for no motion). */
bool emit_record_tee (const Config & config, const CameraConfig & c, Emitter & e);
/* At the end of the line: the branches themselves. */
bool emit_record_branches (const Config & config, const CameraConfig & c, Emitter & e);

}  // namespace camrelay
