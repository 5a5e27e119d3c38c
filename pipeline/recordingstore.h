/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the recordings on disk, as a whole: what each camera has (bytes, segments,
 * oldest), and retention, which deletes the oldest segments first by age (`keep`, per camera) and
 * by total size (`max-disk`).
 *
 * One thread for the process, waking every `segment` seconds (at most a minute apart): the
 * recording elements never scan anything. A pass reads only what changed since the last one: a
 * day folder is read again only when its modification time changed (a file was added or
 * deleted), and otherwise only its last two files (the one being written and the one just
 * closed) are looked at again. Names are read through crrecordlayout.h.
 *
 * Rules: `keep` deletes a full-recording segment once everything in it is older than the limit;
 * time-lapse segments are exempt from `keep` (a year of them is the point). `max-disk` counts
 * every file of both, and the time-lapse MP4 cache (TIMELAPSE_CACHE_DIR) too; over it, the
 * oldest full-recording segments and cached MP4s go first (a cached MP4 is as old as the moment
 * it was made: a day's time-lapse made today outlives last week's recording), then the oldest
 * time-lapse segments. The newest segment of each recording and time-lapse is never deleted (it
 * may be the one being written), nor an MP4 still being made.
 *
 * Nothing is looked at while no camera records (the default folder might hold someone else's
 * files).
 *
 * Threads: configure() from the main thread; summary(), totals() and disk_space() from any. */
#pragma once

#include "relayconfig.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace camrelay {

class RecordingStore
{
public:
  struct Stream
  {
    guint64 bytes = 0;
    guint64 segments = 0;
    gint64 oldest = 0; /* Unix seconds of the oldest segment's start; 0 = none */
    gint64 newest = 0; /* likewise of the newest */
  };
  struct Summary
  {
    Stream record, timelapse;
  };
  struct Totals
  {
    guint64 bytes = 0;
    guint64 segments = 0;
    guint64 deleted_keep = 0;     /* segments deleted for their age, since start */
    guint64 deleted_max_disk = 0; /* segments deleted to stay under max-disk */
    guint64 cache_bytes = 0;      /* of the time-lapse MP4 cache, part of bytes */
    guint64 deleted_cache = 0;    /* cached MP4s deleted to stay under max-disk, since start */
    guint64 passes = 0;
  };

  RecordingStore () = default;
  ~RecordingStore ();
  RecordingStore (const RecordingStore &) = delete;
  RecordingStore & operator= (const RecordingStore &) = delete;

  /* Takes the recording settings of @config (again, after a reload), starts the thread the first
   * time and runs a pass soon. */
  void configure (const Config & config);
  void stop ();

  Summary summary (const std::string & camera) const;
  Totals totals () const;
  const std::string & dir () const { return dir_; }
  guint64 max_disk () const;
  gint64 keep () const;
  /* Free and total bytes of the file system holding the recordings; false if it cannot be read
   * (e.g. the folder does not exist yet). */
  bool disk_space (guint64 & free, guint64 & total) const;

private:
  struct Segment
  {
    gint64 start; /* Unix seconds; for a cached MP4, when it was made */
    guint64 size;
    std::string path;
    bool cache = false;
  };
  struct DayCache
  {
    gint64 mtime_ns = -1;
    std::vector<Segment> segments; /* by start */
  };
  struct Settings
  {
    std::string dir;
    guint segment = 60;
    gint64 keep = 0;
    guint64 max_disk = 0;
    std::map<std::string, gint64> camera_keep;
    /* Whether any camera records: without one, a folder of that name is none of camrelay's. */
    bool active = false;
  };

  void run ();
  void pass ();
  void scan_stream (const std::string & path, std::vector<Segment> & out);
  void scan_day (const std::string & path, gint64 day, std::vector<Segment> & out);
  static void scan_cache (const std::string & path, std::vector<Segment> & done, guint64 & bytes);

  std::string dir_; /* set before the thread starts, then never changed */

  mutable std::mutex lock_; /* guards everything below */
  std::condition_variable wake_;
  bool stopping_ = false;
  bool pending_ = false;
  Settings settings_;
  std::map<std::string, Summary> summaries_;
  Totals totals_;
  std::thread thread_;

  /* The thread's own. */
  std::map<std::string, DayCache> days_;
};

}  // namespace camrelay
