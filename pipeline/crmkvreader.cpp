/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: reads back recorded segments (see crmkvreader.h). */
#include "crmkvreader.h"

#include "crmkvids.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cr {
namespace record {

namespace {

using namespace mkv;

const guint64 UNKNOWN = G_MAXUINT64;

/* The Segment's children: in a Cluster of unknown size, one of these ends the Cluster. */
bool
is_level1 (guint32 id)
{
  switch (id) {
    case ID_CLUSTER:
    case ID_SEEKHEAD:
    case ID_INFO:
    case ID_TRACKS:
    case ID_CUES:
    case ID_ATTACHMENTS:
    case ID_CHAPTERS:
    case ID_TAGS:
      return true;
    default:
      return false;
  }
}

struct Header
{
  guint32 id = 0;
  guint64 size = 0; /* UNKNOWN for EBML's "unknown" */
  guint64 data = 0; /* file offset of the element's data */
};

class Walker
{
public:
  Walker (int fd, guint64 file_size) : fd_ (fd), size_ (file_size) {}

  /* The element header at @pos; false at the end of the file or on a malformed header. */
  bool header (guint64 pos, Header & h)
  {
    guint8 b[12];
    if (pos >= size_)
      return false;
    gsize want = MIN (sizeof (b), size_ - pos);
    ssize_t n = pread (fd_, b, want, static_cast<off_t> (pos));
    if (n <= 0)
      return false;
    gsize len = static_cast<gsize> (n);
    /* ID: 1 to 4 bytes, its length in the leading zero bits of the first byte (marker kept). */
    int id_len = b[0] & 0x80 ? 1 : b[0] & 0x40 ? 2 : b[0] & 0x20 ? 3 : b[0] & 0x10 ? 4 : 0;
    if (id_len == 0 || static_cast<gsize> (id_len) >= len)
      return false;
    h.id = 0;
    for (int i = 0; i < id_len; i++)
      h.id = (h.id << 8) | b[i];
    /* Size: 1 to 8 bytes, marker removed; all ones is "unknown". */
    guint8 first = b[id_len];
    int size_len = 1;
    while (size_len <= 8 && !(first & (0x80 >> (size_len - 1))))
      size_len++;
    if (size_len > 8 || static_cast<gsize> (id_len + size_len) > len)
      return false;
    guint64 value = first & (0xFF >> size_len);
    bool all_ones = value == (0xFFu >> size_len);
    for (int i = 1; i < size_len; i++) {
      value = (value << 8) | b[id_len + i];
      all_ones = all_ones && b[id_len + i] == 0xFF;
    }
    h.size = all_ones ? UNKNOWN : value;
    h.data = pos + id_len + size_len;
    return true;
  }

  /* An unsigned integer element's value (at most 8 bytes). */
  bool uint (const Header & h, guint64 & value)
  {
    guint8 b[8];
    if (h.size == UNKNOWN || h.size > 8 || h.data + h.size > size_)
      return false;
    if (pread (fd_, b, h.size, static_cast<off_t> (h.data)) != static_cast<ssize_t> (h.size))
      return false;
    value = 0;
    for (guint64 i = 0; i < h.size; i++)
      value = (value << 8) | b[i];
    return true;
  }

  /* A SimpleBlock's first bytes: track 1 (a 1-byte number), its 16-bit relative time, flags. */
  bool block (const Header & h, gint16 & rel_ms, bool & usable)
  {
    guint8 b[4];
    if (h.size < 4 || pread (fd_, b, 4, static_cast<off_t> (h.data)) != 4)
      return false;
    rel_ms = static_cast<gint16> ((b[1] << 8) | b[2]);
    usable = b[0] == 0x81 && (b[3] & 0x06) == 0; /* track 1, no lacing */
    return true;
  }

  guint64 size () const { return size_; }

private:
  int fd_;
  guint64 size_;
};

/* Walks one Cluster starting at @h; returns where the walk goes on (the next level-1 element). */
guint64
walk_cluster (Walker & w, const Header & cluster, SegmentIndex & index, bool & complete)
{
  guint64 end = cluster.size == UNKNOWN ? w.size () : cluster.data + cluster.size;
  guint64 pos = cluster.data;
  guint64 cluster_ts = 0;
  Header h;
  while (pos < end) {
    if (!w.header (pos, h)) {
      complete = false;
      return w.size ();
    }
    if (cluster.size == UNKNOWN && is_level1 (h.id))
      return pos;
    if (h.size == UNKNOWN || h.data + h.size > w.size ()) {
      /* The frame being written (or cut off by a crash): everything before it stands. */
      complete = false;
      return w.size ();
    }
    if (h.id == ID_CLUSTER_TIMESTAMP) {
      w.uint (h, cluster_ts);
    } else if (h.id == ID_SIMPLE_BLOCK) {
      gint16 rel = 0;
      bool usable = false;
      if (w.block (h, rel, usable) && usable) {
        gint64 ts = static_cast<gint64> (cluster_ts) + rel;
        index.frames.push_back (
            { static_cast<guint64> (MAX (ts, 0)), h.data + 4, static_cast<guint32> (h.size - 4) });
      }
    }
    pos = h.data + h.size;
  }
  return pos;
}

}  // namespace

bool
read_segment_index (int fd, guint64 file_size, SegmentIndex & index, std::string & error)
{
  Walker w (fd, file_size);
  index = SegmentIndex ();
  Header h;
  if (!w.header (0, h) || h.id != ID_EBML || h.size == UNKNOWN) {
    error = "not a Matroska file (no EBML header)";
    return false;
  }
  guint64 pos = h.data + h.size;
  if (!w.header (pos, h) || h.id != ID_SEGMENT) {
    error = "not a Matroska file (no Segment after the EBML header)";
    return false;
  }
  guint64 end = h.size == UNKNOWN ? file_size : MIN (file_size, h.data + h.size);
  pos = h.data;
  bool complete = true;
  while (pos < end && complete) {
    if (!w.header (pos, h))
      break;
    if (h.id == ID_CLUSTER) {
      pos = walk_cluster (w, h, index, complete);
    } else if (h.size == UNKNOWN) {
      break; /* only Clusters and the Segment may be open-ended */
    } else {
      pos = h.data + h.size; /* SeekHead, Info, Tracks, Cues, Void: not needed */
    }
  }
  index.scanned = MIN (pos, file_size);
  return true;
}

bool
read_segment_index (const std::string & path, SegmentIndex & index, std::string & error)
{
  int fd = open (path.c_str (), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string ("cannot open: ") + g_strerror (errno);
    return false;
  }
  off_t size = lseek (fd, 0, SEEK_END);
  bool ok = size >= 0 && read_segment_index (fd, static_cast<guint64> (size), index, error);
  if (size < 0)
    error = std::string ("cannot read: ") + g_strerror (errno);
  close (fd);
  return ok;
}

}  // namespace record
}  // namespace cr
