/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a Matroska writer for recorded JPEG frames, one file per segment.
 *
 * Why not splitmuxsink + matroskamux: splitmuxsink hands every fragment the pipeline's running
 * time, so the second file of a run starts at 60 s, not at 0, and no property puts a file's time 0
 * on the wall-clock second in its name (offset-to-zero would drop the sub-second part); and a
 * write error (a full disk) in its filesink is a pipeline error, which would restart the camera
 * and cut its viewers. Writing the few Matroska elements by hand costs ~150 lines and keeps both.
 *
 * Layout (crash-safe by construction: every frame is written as it comes, sizes that are not known
 * yet are EBML's "unknown", and what finish() adds only makes a finished file nicer):
 *
 *   EBML header (DocType matroska)
 *   Segment (size unknown until finish)
 *     Void, replaced by a SeekHead pointing at the Cues at finish
 *     Info: TimestampScale 1 ms, DateUTC = the file's time 0, MuxingApp/WritingApp camrelay,
 *           a Void replaced by Duration (the last frame's timestamp) at finish
 *     Tracks: one video track, number 1, V_MJPEG, PixelWidth/PixelHeight of the first frame
 *     Cluster (size unknown while open, patched when the next one starts), at most 1 s long:
 *       Timestamp, then one SimpleBlock (keyframe) per frame holding the JPEG bytes unchanged
 *     ...
 *     Cues: one CuePoint per cluster (written at finish)
 *
 * After kill -9 a file plays up to its last frame; only Duration and Cues are missing. No fsync:
 * frames reach the page cache with one writev each, which a process crash does not lose. */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace cr {
namespace record {

class MkvWriter
{
public:
  MkvWriter () = default;
  ~MkvWriter ();
  MkvWriter (const MkvWriter &) = delete;
  MkvWriter & operator= (const MkvWriter &) = delete;

  /* Creates @path (never overwriting an existing file) and writes the header; @start_unix_s is
   * the file's time 0. Returns 0 or an errno value (EEXIST when the file exists). */
  int open (const std::string & path, gint64 start_unix_s, guint width, guint height);
  /* Appends one frame at @ts_ms milliseconds after time 0 (moved to 1 ms after the previous one
   * if it is not later).
   * Returns 0 or an errno value; on error the file is cut back to its last whole frame. */
  int write_frame (guint64 ts_ms, const guint8 *data, gsize size);
  /* Writes Cues and the sizes and Duration, and closes the file. Returns 0 or an errno value
   * (the file is closed and playable either way). */
  int finish ();

  bool is_open () const { return fd_ >= 0; }
  const std::string & path () const { return path_; }
  guint64 frames () const { return frames_; }
  /* The file's size now. */
  guint64 size () const { return end_; }

private:
  struct Cue
  {
    guint64 ts_ms;
    guint64 position; /* of the Cluster, from the start of the Segment's data */
  };

  int append (const std::vector<guint8> & head, const guint8 *data, gsize size);
  int patch (guint64 offset, const std::vector<guint8> & bytes);
  void close_cluster ();

  int fd_ = -1;
  std::string path_;
  guint64 end_ = 0;          /* bytes written so far = the next write's offset */
  guint64 segment_data_ = 0; /* where the Segment's data starts */
  guint64 seekhead_void_ = 0;
  guint64 duration_void_ = 0;
  gint64 cluster_pos_ = -1; /* offset of the open Cluster's size field, -1 = none */
  guint64 cluster_ts_ = 0;
  guint64 last_ts_ = 0;
  guint64 frames_ = 0;
  std::vector<Cue> cues_;
};

}  // namespace record
}  // namespace cr
