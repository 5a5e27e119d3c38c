/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the recordings on disk and their retention (see recordingstore.h). */
#define G_LOG_DOMAIN "camrelay"

#include "recordingstore.h"

#include "crrecordlayout.h"
#include "recordbranch.h"
#include "timelapse.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace camrelay {

namespace {

/* Seconds between passes: a segment, within these bounds. */
const guint PASS_MIN_S = 1;
const guint PASS_MAX_S = 60;
/* Seconds a time-lapse segment may span (a UTC day). */
const gint64 TIMELAPSE_SEGMENT_S = 86400;

std::vector<std::string>
list_dir (const std::string & path)
{
  std::vector<std::string> names;
  g_autoptr (GDir) dir = g_dir_open (path.c_str (), 0, nullptr);
  if (!dir)
    return names;
  while (const gchar *name = g_dir_read_name (dir))
    names.emplace_back (name);
  std::sort (names.begin (), names.end ());
  return names;
}

bool
stat_file (const std::string & path, struct stat & st)
{
  return stat (path.c_str (), &st) == 0;
}

gint64
mtime_ns (const struct stat & st)
{
  return static_cast<gint64> (st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

RecordingStore::~RecordingStore ()
{
  stop ();
}

void
RecordingStore::configure (const Config & config)
{
  const RecordingsConfig & r = config.recordings;
  Settings s;
  s.dir = r.dir;
  s.segment = r.segment;
  s.keep = r.keep;
  s.max_disk = r.max_disk;
  for (const auto & c : config.cameras) {
    if (c.keep >= 0)
      s.camera_keep[c.name] = c.keep;
    s.active = s.active || records (config, c);
  }
  bool start = false;
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (!thread_.joinable ()) {
      dir_ = s.dir;
      start = true;
    } else if (s.dir != dir_) {
      g_warning ("reload: [recordings] dir changed to %s: that needs a restart of camrelay; "
                 "retention stays on %s",
          s.dir.c_str (), dir_.c_str ());
    }
    s.dir = dir_;
    settings_ = s;
    pending_ = true;
  }
  if (start)
    thread_ = std::thread ([this] { run (); });
  else
    wake_.notify_one ();
}

void
RecordingStore::stop ()
{
  {
    std::lock_guard<std::mutex> guard (lock_);
    stopping_ = true;
  }
  wake_.notify_one ();
  if (thread_.joinable ())
    thread_.join ();
}

void
RecordingStore::run ()
{
  std::unique_lock<std::mutex> guard (lock_);
  while (!stopping_) {
    pending_ = false;
    guard.unlock ();
    pass ();
    guard.lock ();
    guint interval = CLAMP (settings_.segment, PASS_MIN_S, PASS_MAX_S);
    wake_.wait_for (guard, std::chrono::seconds (interval),
        [this] { return stopping_ || pending_; });
  }
}

/* One day folder: names read again only when the folder changed; sizes of files already known
 * kept, except for the last two, which may still grow. */
void
RecordingStore::scan_day (const std::string & path, gint64 day, std::vector<Segment> & out)
{
  struct stat st;
  if (!stat_file (path, st))
    return;
  DayCache & cache = days_[path];
  if (cache.mtime_ns != mtime_ns (st)) {
    std::map<std::string, guint64> known;
    for (const auto & s : cache.segments)
      known[s.path] = s.size;
    cache.segments.clear ();
    cache.mtime_ns = mtime_ns (st);
    for (const auto & name : list_dir (path)) {
      gint64 start;
      if (!cr::record::parse_segment_name (name.c_str (), day, start))
        continue;
      std::string file = path + "/" + name;
      auto it = known.find (file);
      cache.segments.push_back ({ start, it == known.end () ? G_MAXUINT64 : it->second, file });
    }
  }
  const gsize n = cache.segments.size ();
  for (gsize i = 0; i < n; i++) {
    Segment & s = cache.segments[i];
    if (s.size == G_MAXUINT64 || i + 2 >= n) {
      struct stat fst;
      s.size = stat_file (s.path, fst) ? static_cast<guint64> (fst.st_size) : 0;
    }
  }
  out.insert (out.end (), cache.segments.begin (), cache.segments.end ());
}

void
RecordingStore::scan_stream (const std::string & path, std::vector<Segment> & out)
{
  for (const auto & name : list_dir (path)) {
    gint64 day;
    if (cr::record::parse_day_dir_name (name.c_str (), day))
      scan_day (path + "/" + name, day, out);
  }
}

/* The time-lapse MP4 cache: every file counts in @bytes; finished ones may go (@done). */
void
RecordingStore::scan_cache (const std::string & path, std::vector<Segment> & done, guint64 & bytes)
{
  for (const auto & name : list_dir (path)) {
    std::string file = path + "/" + name;
    struct stat st;
    if (!stat_file (file, st) || !S_ISREG (st.st_mode))
      continue;
    bytes += st.st_size;
    if (g_str_has_suffix (name.c_str (), ".mp4")) /* not a .part still being made */
      done.push_back (
          { static_cast<gint64> (st.st_mtime), static_cast<guint64> (st.st_size), file, true });
  }
}

void
RecordingStore::pass ()
{
  Settings s;
  {
    std::lock_guard<std::mutex> guard (lock_);
    s = settings_;
  }
  if (!s.active)
    return;
  struct Found
  {
    std::string camera;
    bool timelapse;
    std::vector<Segment> segments; /* by start */
  };
  std::vector<Found> streams;
  for (const auto & camera : list_dir (s.dir)) {
    std::string path = s.dir + "/" + camera;
    if (camera[0] == '.' || !g_file_test (path.c_str (), G_FILE_TEST_IS_DIR))
      continue;
    for (bool timelapse : { false, true }) {
      Found f{ camera, timelapse, {} };
      scan_stream (timelapse ? path + "/" + cr::record::TIMELAPSE_DIR : path, f.segments);
      if (!f.segments.empty ())
        streams.push_back (std::move (f));
    }
  }
  /* Forget the folders that are gone. */
  for (auto it = days_.begin (); it != days_.end ();) {
    if (!g_file_test (it->first.c_str (), G_FILE_TEST_IS_DIR))
      it = days_.erase (it);
    else
      ++it;
  }

  std::vector<Segment> cache;
  guint64 cache_bytes = 0;
  scan_cache (s.dir + "/" + TIMELAPSE_CACHE_DIR, cache, cache_bytes);

  /* What may go, oldest first within each stream: never a stream's newest segment. */
  const gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  std::vector<std::pair<const Segment *, bool>> doomed; /* segment, for max-disk */
  /* Full recordings and cached MP4s by age, then time-lapse segments. */
  std::vector<const Segment *> by_size[2];
  for (const auto & c : cache)
    by_size[0].push_back (&c);
  guint64 total = cache_bytes;
  for (const auto & f : streams) {
    gint64 keep = 0;
    if (!f.timelapse) {
      auto it = s.camera_keep.find (f.camera);
      keep = it != s.camera_keep.end () ? it->second : s.keep;
    }
    const gint64 span = f.timelapse ? TIMELAPSE_SEGMENT_S : s.segment;
    const gsize n = f.segments.size ();
    for (gsize i = 0; i < n; i++) {
      const Segment & seg = f.segments[i];
      total += seg.size;
      if (i + 1 == n)
        break;
      /* A segment ends at the next one's start, or at its boundary at the latest. */
      gint64 end = std::min (f.segments[i + 1].start, seg.start + span);
      if (keep > 0 && end <= now - keep)
        doomed.push_back ({ &seg, false });
      else
        by_size[f.timelapse].push_back (&seg);
    }
  }
  guint64 after_keep = total;
  for (const auto & d : doomed)
    after_keep -= d.first->size;
  if (s.max_disk > 0 && after_keep > s.max_disk) {
    for (auto & list : by_size) {
      std::sort (list.begin (), list.end (),
          [] (const Segment *a, const Segment *b) { return a->start < b->start; });
      for (const Segment *seg : list) {
        if (after_keep <= s.max_disk)
          break;
        doomed.push_back ({ seg, true });
        after_keep -= seg->size;
      }
    }
  }

  guint64 deleted_keep = 0, deleted_max = 0, deleted_cache = 0, freed = 0, freed_cache = 0;
  std::vector<std::string> gone;
  for (const auto & [seg, for_size] : doomed) {
    if (unlink (seg->path.c_str ()) != 0 && errno != ENOENT) {
      g_warning ("recordings: cannot delete %s: %s", seg->path.c_str (), g_strerror (errno));
      continue;
    }
    gone.push_back (seg->path);
    freed += seg->size;
    if (seg->cache) {
      /* Its folder stays: the time-lapse maker writes there without making it again. */
      deleted_cache++;
      freed_cache += seg->size;
      continue;
    }
    (for_size ? deleted_max : deleted_keep)++;
    g_autofree gchar *day = g_path_get_dirname (seg->path.c_str ());
    rmdir (day); /* only once empty; the recorder makes it again when it needs it */
  }
  if (!gone.empty ())
    g_message ("recordings: deleted %" G_GUINT64_FORMAT " segments and %" G_GUINT64_FORMAT
               " cached time-lapses (%.1f MiB): %" G_GUINT64_FORMAT
               " older than keep, %" G_GUINT64_FORMAT " to stay under max-disk",
        deleted_keep + deleted_max, deleted_cache, freed / 1048576.0, deleted_keep,
        deleted_max + deleted_cache);

  std::map<std::string, Summary> summaries;
  for (const auto & f : streams) {
    Stream & st = f.timelapse ? summaries[f.camera].timelapse : summaries[f.camera].record;
    for (const auto & seg : f.segments) {
      if (std::find (gone.begin (), gone.end (), seg.path) != gone.end ())
        continue;
      st.bytes += seg.size;
      st.segments++;
      st.oldest = st.oldest ? std::min (st.oldest, seg.start) : seg.start;
      st.newest = std::max (st.newest, seg.start);
    }
  }
  std::lock_guard<std::mutex> guard (lock_);
  summaries_ = std::move (summaries);
  totals_.bytes = total - freed;
  totals_.segments = 0;
  for (const auto & [name, sum] : summaries_)
    totals_.segments += sum.record.segments + sum.timelapse.segments;
  totals_.deleted_keep += deleted_keep;
  totals_.deleted_max_disk += deleted_max;
  totals_.cache_bytes = cache_bytes - freed_cache;
  totals_.deleted_cache += deleted_cache;
  totals_.passes++;
}

RecordingStore::Summary
RecordingStore::summary (const std::string & camera) const
{
  std::lock_guard<std::mutex> guard (lock_);
  auto it = summaries_.find (camera);
  return it == summaries_.end () ? Summary () : it->second;
}

RecordingStore::Totals
RecordingStore::totals () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return totals_;
}

guint64
RecordingStore::max_disk () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return settings_.max_disk;
}

gint64
RecordingStore::keep () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return settings_.keep;
}

bool
RecordingStore::disk_space (guint64 & free, guint64 & total) const
{
  struct statvfs vfs;
  std::string dir;
  {
    std::lock_guard<std::mutex> guard (lock_);
    dir = dir_;
  }
  if (dir.empty () || statvfs (dir.c_str (), &vfs) != 0)
    return false;
  free = static_cast<guint64> (vfs.f_bavail) * vfs.f_frsize;
  total = static_cast<guint64> (vfs.f_blocks) * vfs.f_frsize;
  return true;
}

}  // namespace camrelay
