/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The recording reader (pipeline/crmkvreader, pipeline/recordcatalog) against files written by
 * the recording element's own writer (plugins/crmkvwriter): finished, still open, cut by a crash,
 * and not Matroska at all; and the catalogue noticing a segment that grew. */
#include "crmkvreader.h"
#include "crmkvwriter.h"
#include "recordcatalog.h"
#include "subprocess.h"
#include "testjpeg.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

using Bytes = std::vector<guint8>;

const gint64 START = 1796565780; /* 2026-12-06T14:03:00Z */

struct Written
{
  std::vector<Bytes> frames;
  std::vector<guint64> ts;
};

/* Writes @w's frames at their timestamps to @path; finished unless @leave_open. */
void
write_segment (const std::string & path, const Written & w, bool leave_open,
    cr::record::MkvWriter & writer)
{
  ASSERT_EQ (writer.open (path, START, 640, 480), 0);
  for (gsize i = 0; i < w.frames.size (); i++) {
    ASSERT_EQ (writer.write_frame (w.ts[i], w.frames[i].data (), w.frames[i].size ()), 0);
  }
  if (!leave_open) {
    ASSERT_EQ (writer.finish (), 0);
  }
}

Written
some_frames (int count, guint64 step_ms, guint64 first_ms = 250)
{
  crtest::JpegSpec spec;
  spec.pattern = "ball";
  Written w;
  w.frames = crtest::make_jpegs (count, spec);
  for (int i = 0; i < count; i++)
    w.ts.push_back (first_ms + i * step_ms);
  return w;
}

/* Every frame's bytes and time, as the reader finds them. */
void
expect_frames (const std::string & path, const cr::record::SegmentIndex & index, const Written & w,
    gsize count)
{
  Bytes file = crtest::read_file (path);
  ASSERT_EQ (index.frames.size (), count);
  for (gsize i = 0; i < count; i++) {
    const auto & f = index.frames[i];
    EXPECT_EQ (f.ts_ms, w.ts[i]) << "frame " << i;
    ASSERT_LE (f.offset + f.size, file.size ());
    EXPECT_EQ (Bytes (file.begin () + f.offset, file.begin () + f.offset + f.size), w.frames[i])
        << "frame " << i;
  }
}

TEST (MkvReader, FindsEveryFrameOfAFinishedSegmentAcrossClusters)
{
  crtest::TempDir dir;
  /* 3 fps for 4 s, a 20 s pause, then more: several clusters, timestamps past 16 bits of ms. */
  Written w = some_frames (14, 333);
  for (int i = 0; i < 6; i++)
    w.ts[8 + i] += 20000;
  std::string path = dir.file ("seg.mkv");
  cr::record::MkvWriter writer;
  write_segment (path, w, false, writer);
  cr::record::SegmentIndex index;
  std::string error;
  ASSERT_TRUE (cr::record::read_segment_index (path, index, error)) << error;
  expect_frames (path, index, w, w.frames.size ());
}

TEST (MkvReader, ReadsTheSegmentBeingWrittenAndOneCutOffMidFrame)
{
  crtest::TempDir dir;
  Written w = some_frames (6, 200);
  std::string path = dir.file ("open.mkv");
  cr::record::MkvWriter writer;
  write_segment (path, w, true, writer); /* sizes still "unknown", no Cues */
  cr::record::SegmentIndex index;
  std::string error;
  ASSERT_TRUE (cr::record::read_segment_index (path, index, error)) << error;
  expect_frames (path, index, w, 6);

  /* A crash in the middle of the last frame: the five before it stand. */
  ASSERT_EQ (truncate (path.c_str (), static_cast<off_t> (index.frames[5].offset + 100)), 0);
  ASSERT_TRUE (cr::record::read_segment_index (path, index, error)) << error;
  expect_frames (path, index, w, 5);
  writer.finish ();
}

TEST (MkvReader, RefusesWhatIsNotMatroska)
{
  crtest::TempDir dir;
  cr::record::SegmentIndex index;
  std::string error;
  std::string jpeg = dir.write ("x.mkv", crtest::make_solid_jpeg (0x336699));
  EXPECT_FALSE (cr::record::read_segment_index (jpeg, index, error));
  EXPECT_NE (error.find ("not a Matroska file"), std::string::npos) << error;
  EXPECT_FALSE (cr::record::read_segment_index (dir.file ("missing.mkv"), index, error));
  std::string empty = dir.write ("empty.mkv", std::string ());
  EXPECT_FALSE (cr::record::read_segment_index (empty, index, error));
}

/* The catalogue keeps a segment's summary until the file changes: the segment being written is
 * seen to grow, a finished one is not read again. */
TEST (RecordCatalog, ListsSegmentsInTimeOrderAndSeesTheOpenOneGrow)
{
  crtest::TempDir dir;
  std::string folder = dir.path () + "/cam/2026-12-06";
  ASSERT_EQ (g_mkdir_with_parents (folder.c_str (), 0755), 0);
  Written w = some_frames (4, 250);
  cr::record::MkvWriter first, open;
  ASSERT_EQ (first.open (folder + "/14-03-00.mkv", START, 640, 480), 0);
  for (int i = 0; i < 2; i++)
    first.write_frame (w.ts[i], w.frames[i].data (), w.frames[i].size ());
  first.finish ();
  ASSERT_EQ (open.open (folder + "/14-04-00.mkv", START + 60, 640, 480), 0);
  open.write_frame (0, w.frames[2].data (), w.frames[2].size ());
  dir.write ("cam/2026-12-06/notes.txt", std::string ("not a segment"));
  dir.write ("cam/2026-13-06/14-03-00.mkv", std::string ("not a day"));

  camrelay::Catalog catalog (dir.path ());
  auto list = catalog.segments ("cam", false);
  ASSERT_EQ (list.size (), 2u);
  EXPECT_EQ (list[0].relpath, "2026-12-06/14-03-00.mkv");
  EXPECT_EQ (list[0].frames, 2u);
  EXPECT_EQ (list[0].first_us (), START * G_USEC_PER_SEC + 250000);
  EXPECT_EQ (list[0].last_us (), START * G_USEC_PER_SEC + 500000);
  EXPECT_EQ (list[1].frames, 1u);

  open.write_frame (900, w.frames[3].data (), w.frames[3].size ());
  list = catalog.segments ("cam", false);
  ASSERT_EQ (list.size (), 2u);
  EXPECT_EQ (list[1].frames, 2u);
  EXPECT_EQ (list[1].last_us (), (START + 60) * G_USEC_PER_SEC + 900000);
  auto index = catalog.index (list[1]);
  ASSERT_TRUE (index);
  EXPECT_EQ (index->frames.size (), 2u);
  open.finish ();

  EXPECT_TRUE (catalog.segments ("../cam", false).empty ());
  EXPECT_TRUE (catalog.segments ("..", false).empty ());
  EXPECT_TRUE (catalog.segments ("nobody", false).empty ());
}

}  // namespace
