/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recordings read back with ffprobe and ffmpeg (see recordprobe.h). */
#include "recordprobe.h"

#include "crrecordlayout.h"
#include "subprocess.h"

#include <algorithm>
#include <sstream>

namespace crtest {

namespace {

/* "key=value" out of a compact ffprobe line ("packet|pts_time=0.1|size=12"). */
std::string
field (const std::string & line, const std::string & key)
{
  std::string needle = "|" + key + "=";
  auto at = line.find (needle);
  if (at == std::string::npos)
    return "";
  at += needle.size ();
  return line.substr (at, line.find ('|', at) - at);
}

}  // namespace

std::vector<ProbedSegment>
probe_segments (const std::string & folder, std::string *error)
{
  std::vector<ProbedSegment> out;
  g_autoptr (GDir) days = g_dir_open (folder.c_str (), 0, nullptr);
  while (const gchar *day = days ? g_dir_read_name (days) : nullptr) {
    std::string day_path = folder + "/" + day;
    g_autoptr (GDir) files = g_dir_open (day_path.c_str (), 0, nullptr);
    while (const gchar *name = files ? g_dir_read_name (files) : nullptr) {
      ProbedSegment seg;
      if (!cr::record::parse_segment_relpath (std::string (day) + "/" + name, seg.start))
        continue;
      seg.path = day_path + "/" + name;
      out.push_back (seg);
    }
  }
  std::sort (out.begin (), out.end (),
      [] (const ProbedSegment & a, const ProbedSegment & b) { return a.start < b.start; });
  for (auto & seg : out) {
    RunResult r = run ({ "ffprobe", "-v", "error", "-show_packets", "-show_entries",
        "packet=pts_time,size:format=duration", "-of", "compact", seg.path });
    if (r.code != 0 && error)
      *error += seg.path + ": " + r.output + "\n";
    std::istringstream lines (r.output);
    std::string line;
    while (std::getline (lines, line)) {
      if (g_str_has_prefix (line.c_str (), "packet|")) {
        ProbedPacket p;
        p.pts = g_ascii_strtod (field (line, "pts_time").c_str (), nullptr);
        p.size = g_ascii_strtoll (field (line, "size").c_str (), nullptr, 10);
        seg.packets.push_back (p);
      } else if (g_str_has_prefix (line.c_str (), "format|")) {
        std::string d = field (line, "duration");
        seg.duration = d.empty () || d == "N/A" ? -1 : g_ascii_strtod (d.c_str (), nullptr);
      }
    }
  }
  return out;
}

std::string
decode_errors (const std::string & path)
{
  /* Every frame decoded at its own timestamp: without passthrough and the input's time base,
   * ffmpeg would squeeze a variable-rate recording into a guessed constant rate and complain
   * about frames a millisecond apart landing on one tick of it. */
  RunResult r = run ({ "ffmpeg", "-nostdin", "-v", "error", "-i", path, "-fps_mode", "passthrough",
      "-enc_time_base", "-1", "-f", "null", "-" });
  return r.code == 0 ? r.output : "exit " + std::to_string (r.code) + ": " + r.output;
}

std::vector<guint8>
first_packet (const std::string & path)
{
  TempDir dir;
  std::string out = dir.file ("first.jpg");
  run ({ "ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-frames:v", "1", "-c",
      "copy", "-f", "mjpeg", out });
  gchar *data = nullptr;
  gsize size = 0;
  std::vector<guint8> bytes;
  if (g_file_get_contents (out.c_str (), &data, &size, nullptr))
    bytes.assign (data, data + size);
  g_free (data);
  return bytes;
}

}  // namespace crtest
