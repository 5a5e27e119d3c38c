/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: what is recorded for a camera, from the files on disk (crrecordlayout.h).
 *
 * A listing reads the day folders and stat()s each segment; a segment's frame count and span are
 * read once (crmkvreader.h) and kept until its size or mtime changes, so listing thousands of
 * finished segments costs a readdir and a stat each. Full frame indexes (offsets of every frame)
 * are kept for the few segments used last. Used from the server thread only: no lock. */
#pragma once

#include "crmkvreader.h"

#include <glib.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace camrelay {

struct Segment
{
  gint64 start_s = 0;  /* the second in its name: the file's time 0 */
  std::string relpath; /* "YYYY-MM-DD/HH-MM-SS.mkv" */
  std::string path;    /* absolute */
  guint64 bytes = 0;
  guint64 frames = 0;
  guint64 first_ms = 0, last_ms = 0; /* after time 0 */

  gint64 first_us () const
  {
    return start_s * G_USEC_PER_SEC + static_cast<gint64> (first_ms) * 1000;
  }
  gint64 last_us () const
  {
    return start_s * G_USEC_PER_SEC + static_cast<gint64> (last_ms) * 1000;
  }
};

class Catalog
{
public:
  /* @dir: the recordings folder ([recordings] dir). */
  explicit Catalog (std::string dir) : dir_ (std::move (dir)) {}

  const std::string & dir () const { return dir_; }

  /* Whether @camera is a name that can only mean a folder inside dir() (no "/", not "." or "..").
   */
  static bool safe_name (const std::string & camera);

  /* The segments of @camera (its time-lapse ones with @timelapse) holding at least one frame and
   * starting within a day before [@from_s, @to_s], in time order. */
  std::vector<Segment> segments (const std::string & camera, bool timelapse,
      gint64 from_s = G_MININT64 / 2, gint64 to_s = G_MAXINT64 / 2);

  /* Every frame's place in @segment (nullptr if it cannot be read any more). */
  std::shared_ptr<const cr::record::SegmentIndex> index (const Segment & segment);

private:
  struct Entry
  {
    guint64 size = 0;
    gint64 mtime_ns = 0;
    guint64 frames = 0, first_ms = 0, last_ms = 0;
    std::shared_ptr<const cr::record::SegmentIndex> index; /* only for the last few used */
    guint64 used = 0;
  };
  using Folder = std::map<std::string, Entry>; /* by relpath */

  void list_day (const std::string & folder_path, const std::string & day, gint64 day_s,
      Folder & folder, std::vector<Segment> & out);
  bool refresh (const std::string & path, Entry & e);
  void drop_oldest_index ();

  std::string dir_;
  std::map<std::string, Folder> folders_; /* by folder path */
  guint64 clock_ = 0;
};

}  // namespace camrelay
