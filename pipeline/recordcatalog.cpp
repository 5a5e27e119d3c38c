/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the recordings on disk, listed and indexed (see recordcatalog.h). */
#define G_LOG_DOMAIN "camrelay"
#include "recordcatalog.h"

#include "crrecordlayout.h"

#include <sys/stat.h>

#include <algorithm>

namespace camrelay {

namespace {

/* Full frame indexes kept: a player or a time-lapse walks a few segments at a time. */
const gsize MAX_INDEXES = 64;

std::vector<std::string>
dir_names (const std::string & path)
{
  std::vector<std::string> names;
  g_autoptr (GDir) d = g_dir_open (path.c_str (), 0, nullptr);
  if (!d)
    return names;
  while (const char *name = g_dir_read_name (d))
    names.push_back (name);
  std::sort (names.begin (), names.end ());
  return names;
}

}  // namespace

bool
Catalog::safe_name (const std::string & camera)
{
  return !camera.empty () && camera != "." && camera != ".." &&
      camera.find ('/') == std::string::npos && camera.find ('\0') == std::string::npos;
}

bool
Catalog::refresh (const std::string & path, Entry & e)
{
  struct stat st;
  if (stat (path.c_str (), &st) != 0 || !S_ISREG (st.st_mode))
    return false;
  gint64 mtime_ns = static_cast<gint64> (st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (e.used && e.size == static_cast<guint64> (st.st_size) && e.mtime_ns == mtime_ns)
    return true;
  auto index = std::make_shared<cr::record::SegmentIndex> ();
  std::string error;
  if (!cr::record::read_segment_index (path, *index, error))
    index->frames.clear ();
  e.size = static_cast<guint64> (st.st_size);
  e.mtime_ns = mtime_ns;
  e.frames = index->frames.size ();
  e.first_ms = e.frames ? index->frames.front ().ts_ms : 0;
  e.last_ms = e.frames ? index->frames.back ().ts_ms : 0;
  e.index.reset (); /* a listing needs the summary only; index() keeps the few in use */
  e.used = ++clock_;
  return true;
}

void
Catalog::drop_oldest_index ()
{
  gsize count = 0;
  Entry *oldest = nullptr;
  for (auto & [fp, folder] : folders_) {
    for (auto & [rp, e] : folder) {
      if (!e.index)
        continue;
      count++;
      if (!oldest || e.used < oldest->used)
        oldest = &e;
    }
  }
  if (count > MAX_INDEXES && oldest)
    oldest->index.reset ();
}

void
Catalog::list_day (const std::string & folder_path, const std::string & day, gint64 day_s,
    Folder & folder, std::vector<Segment> & out)
{
  std::string day_path = folder_path + "/" + day;
  /* What this day held before: names no longer on disk are forgotten. */
  auto lo = folder.lower_bound (day + "/");
  auto hi = folder.lower_bound (day + "0"); /* '0' follows '/' */
  Folder before;
  before.insert (std::make_move_iterator (lo), std::make_move_iterator (hi));
  folder.erase (lo, hi);

  for (const auto & name : dir_names (day_path)) {
    gint64 start = 0;
    if (!cr::record::parse_segment_name (name.c_str (), day_s, start))
      continue;
    std::string relpath = day + "/" + name;
    auto it = before.find (relpath);
    Entry e = it != before.end () ? std::move (it->second) : Entry ();
    std::string path = day_path + "/" + name;
    if (!refresh (path, e))
      continue;
    Entry & kept = folder[relpath] = std::move (e);
    if (kept.frames == 0)
      continue;
    Segment s;
    s.start_s = start;
    s.relpath = relpath;
    s.path = path;
    s.bytes = kept.size;
    s.frames = kept.frames;
    s.first_ms = kept.first_ms;
    s.last_ms = kept.last_ms;
    out.push_back (std::move (s));
  }
}

std::vector<Segment>
Catalog::segments (const std::string & camera, bool timelapse, gint64 from_s, gint64 to_s)
{
  std::vector<Segment> out;
  if (!safe_name (camera))
    return out;
  std::string folder_path = dir_ + "/" + camera;
  if (timelapse)
    folder_path += std::string ("/") + cr::record::TIMELAPSE_DIR;
  Folder & folder = folders_[folder_path];

  std::vector<std::string> days = dir_names (folder_path);
  for (const auto & day : days) {
    gint64 day_s = 0;
    if (!cr::record::parse_day_dir_name (day.c_str (), day_s))
      continue;
    /* A segment may start the day before the span and run into it. */
    if (day_s + 86400 < from_s - 86400 || day_s > to_s)
      continue;
    list_day (folder_path, day, day_s, folder, out);
  }
  /* Days removed from disk (retention) are forgotten too. */
  for (auto it = folder.begin (); it != folder.end ();) {
    std::string day = it->first.substr (0, it->first.find ('/'));
    if (!std::binary_search (days.begin (), days.end (), day))
      it = folder.erase (it);
    else
      ++it;
  }
  std::sort (out.begin (), out.end (),
      [] (const Segment & a, const Segment & b) { return a.start_s < b.start_s; });
  return out;
}

std::shared_ptr<const cr::record::SegmentIndex>
Catalog::index (const Segment & segment)
{
  std::string folder_path =
      segment.path.substr (0, segment.path.size () - segment.relpath.size () - 1);
  Entry & e = folders_[folder_path][segment.relpath];
  if (!refresh (segment.path, e))
    return nullptr;
  e.used = ++clock_;
  if (!e.index) {
    auto index = std::make_shared<cr::record::SegmentIndex> ();
    std::string error;
    if (!cr::record::read_segment_index (segment.path, *index, error))
      return nullptr;
    e.index = std::move (index);
    drop_oldest_index ();
  }
  return e.index;
}

}  // namespace camrelay
