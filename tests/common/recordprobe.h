/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recordings as a player sees them: every segment of a recording folder read back with Debian's
 * ffprobe and ffmpeg (packets with their timestamps and sizes, the duration, decode errors, the
 * first frame's bytes), and file names read through crrecordlayout.h. */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace crtest {

struct ProbedPacket
{
  double pts = 0; /* seconds from the file's time 0 */
  gint64 size = 0;
};

struct ProbedSegment
{
  std::string path;
  gint64 start = 0;     /* Unix seconds, from the file name */
  double duration = -1; /* ffprobe's format duration; -1 = N/A */
  std::vector<ProbedPacket> packets;
  /* The packet's wall-clock time in Unix seconds: the file name plus its timestamp. */
  double wall (gsize i) const { return start + packets[i].pts; }
};

/* Every segment under @folder (FOLDER/YYYY-MM-DD/HH-MM-SS.mkv), oldest first; @error says what
 * ffprobe could not read. */
std::vector<ProbedSegment> probe_segments (const std::string & folder, std::string *error);

/* What `ffmpeg -v error -i FILE -f null -` prints (every frame at its own timestamp): "" for a
 * file that decodes cleanly. */
std::string decode_errors (const std::string & path);

/* The first video packet of @path, taken out with `ffmpeg -c copy`. */
std::vector<guint8> first_packet (const std::string & path);

}  // namespace crtest
