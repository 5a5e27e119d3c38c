/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: where recordings live on disk, and what their names mean (the on-disk contract).
 *
 *   DIR/NAME/YYYY-MM-DD/HH-MM-SS.mkv            every accepted frame (record = true)
 *   DIR/NAME/timelapse/YYYY-MM-DD/HH-MM-SS.mkv  one frame every timelapse-interval seconds
 *
 * Dates and times are UTC. A file is one segment, named by the wall-clock second of its first
 * frame: its Matroska time 0 is that whole second, and each frame's timestamp is its arrival time
 * minus that second (so a frame's wall-clock time is the name plus its timestamp, and the first
 * frame lies at 0.000 to 0.999 s). Every file is a streamable Matroska file with one V_MJPEG track
 * whose frames are the accepted JPEG bytes unchanged; see crmkvwriter.h for the layout.
 *
 * Shared by the recording element, the retention job and whatever serves recordings: build and
 * parse names only through these functions. GLib only. */
#pragma once

#include <glib.h>

#include <string>

namespace cr {
namespace record {

/* The folder of time-lapse segments inside a camera's folder. */
inline constexpr char TIMELAPSE_DIR[] = "timelapse";
inline constexpr char SEGMENT_SUFFIX[] = ".mkv";

/* "YYYY-MM-DD" of the UTC day holding @unix_seconds. */
std::string day_dir_name (gint64 unix_seconds);

/* "YYYY-MM-DD/HH-MM-SS.mkv": a segment starting at @unix_seconds, relative to its stream's
 * folder (DIR/NAME or DIR/NAME/timelapse). */
std::string segment_relpath (gint64 unix_seconds);

/* "YYYY-MM-DD" -> the Unix time of that day's midnight UTC; false if @name is not one. */
bool parse_day_dir_name (const char *name, gint64 & unix_seconds);

/* "HH-MM-SS.mkv" in the folder of the day starting at @day_seconds -> the segment's start in Unix
 * seconds; false if @name is not a segment's name. */
bool parse_segment_name (const char *name, gint64 day_seconds, gint64 & unix_seconds);

/* "YYYY-MM-DD/HH-MM-SS.mkv" -> the segment's start; false if it is not one. */
bool parse_segment_relpath (const std::string & relpath, gint64 & unix_seconds);

}  // namespace record
}  // namespace cr
