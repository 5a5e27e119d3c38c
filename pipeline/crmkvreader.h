/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: reads back the segments jpegrecordsink writes (crmkvwriter.h, the on-disk
 * contract in crrecordlayout.h): where each frame's JPEG bytes lie and at what time.
 *
 * A small EBML walk, not a demuxer: it reads element headers only (the EBML header, the Segment,
 * each Cluster's Timestamp and each SimpleBlock's first four bytes) and seeks over every payload,
 * so indexing a 60 s segment at 5 fps costs ~600 reads of 16 bytes, not 3 MB. Sizes that are
 * still "unknown" (the segment being written, or one cut by kill -9) are fine: the walk stops at
 * the last frame whose bytes are all in the file. GLib only. */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace cr {
namespace record {

struct FrameRef
{
  guint64 ts_ms = 0;  /* after the file's time 0 (the second in its name) */
  guint64 offset = 0; /* of the JPEG bytes in the file */
  guint32 size = 0;
};

struct SegmentIndex
{
  std::vector<FrameRef> frames; /* in file order (the writer never goes back in time) */
  guint64 scanned = 0;          /* file bytes the walk covered */
};

/* Indexes the file open as @fd, @file_size bytes long. False with @error if it does not start
 * like a Matroska file (EBML header, then a Segment); a truncated file is not an error. Blocks of
 * tracks other than 1 and laced blocks (camrelay writes neither) are skipped. */
bool read_segment_index (int fd, guint64 file_size, SegmentIndex & index, std::string & error);

/* The same for @path. */
bool read_segment_index (const std::string & path, SegmentIndex & index, std::string & error);

}  // namespace record
}  // namespace cr
