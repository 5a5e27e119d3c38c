/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a Matroska writer for recorded JPEG frames (see crmkvwriter.h). */
#include "crmkvwriter.h"

#include "crmkvids.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cr {
namespace record {

namespace {

using namespace mkv;

/* Reserved room: a SeekHead with one Seek is 26 bytes, a Duration 11. */
const gsize SEEKHEAD_ROOM = 32;
const gsize DURATION_ROOM = 11;
/* A cluster is closed once it spans this much (and SimpleBlock offsets are 16-bit anyway). */
const guint64 CLUSTER_MS = 1000;
/* Seconds from 1970-01-01 to 2001-01-01, Matroska's DateUTC origin. */
const gint64 MATROSKA_EPOCH = 978307200;

/* An 8-byte "unknown" size. */
const guint8 UNKNOWN_SIZE[8] = { 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };

using Bytes = std::vector<guint8>;

void
put_id (Bytes & b, guint32 id)
{
  for (int shift = 24; shift >= 0; shift -= 8) {
    if ((id >> shift) || shift == 0)
      b.push_back (static_cast<guint8> (id >> shift));
  }
}

/* A data size as an EBML variable-length integer, @len bytes (0: as short as it can be). */
void
put_size (Bytes & b, guint64 size, int len = 0)
{
  if (!len) {
    len = 1;
    while (len < 8 && size >= (G_GUINT64_CONSTANT (1) << (7 * len)) - 1)
      len++;
  }
  guint64 v = size | (G_GUINT64_CONSTANT (1) << (7 * len));
  for (int i = len - 1; i >= 0; i--)
    b.push_back (static_cast<guint8> (v >> (8 * i)));
}

void
put_uint (Bytes & b, guint32 id, guint64 value, int len = 0)
{
  if (!len) {
    len = 1;
    while (len < 8 && (value >> (8 * len)))
      len++;
  }
  put_id (b, id);
  put_size (b, len);
  for (int i = len - 1; i >= 0; i--)
    b.push_back (static_cast<guint8> (value >> (8 * i)));
}

void
put_string (Bytes & b, guint32 id, const char *s)
{
  put_id (b, id);
  put_size (b, strlen (s));
  b.insert (b.end (), s, s + strlen (s));
}

void
put_master (Bytes & b, guint32 id, const Bytes & content)
{
  put_id (b, id);
  put_size (b, content.size ());
  b.insert (b.end (), content.begin (), content.end ());
}

void
put_void (Bytes & b, gsize total)
{
  /* ID + 1-byte size + zeros. */
  b.push_back (ID_VOID);
  put_size (b, total - 2, 1);
  b.insert (b.end (), total - 2, 0);
}

Bytes
ebml_header ()
{
  Bytes h;
  put_uint (h, ID_EBML_VERSION, 1);
  put_uint (h, ID_EBML_READ_VERSION, 1);
  put_uint (h, ID_EBML_MAX_ID_LENGTH, 4);
  put_uint (h, ID_EBML_MAX_SIZE_LENGTH, 8);
  put_string (h, ID_DOCTYPE, "matroska");
  put_uint (h, ID_DOCTYPE_VERSION, 4);
  put_uint (h, ID_DOCTYPE_READ_VERSION, 2);
  Bytes b;
  put_master (b, ID_EBML, h);
  return b;
}

}  // namespace

MkvWriter::~MkvWriter ()
{
  if (is_open ())
    finish ();
}

int
MkvWriter::open (const std::string & path, gint64 start_unix_s, guint width, guint height)
{
  if (is_open ())
    finish ();
  int fd = ::open (path.c_str (), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  fd_ = fd;
  path_ = path;
  end_ = 0;
  cluster_pos_ = -1;
  cluster_ts_ = last_ts_ = frames_ = 0;
  cues_.clear ();

  Bytes b = ebml_header ();
  put_id (b, ID_SEGMENT);
  b.insert (b.end (), UNKNOWN_SIZE, UNKNOWN_SIZE + 8);
  segment_data_ = b.size ();
  seekhead_void_ = b.size ();
  put_void (b, SEEKHEAD_ROOM);

  Bytes info;
  put_uint (info, ID_TIMESTAMP_SCALE, 1000000);
  /* DateUTC: nanoseconds since 2001, signed, always 8 bytes. */
  put_uint (info, ID_DATE_UTC,
      static_cast<guint64> ((start_unix_s - MATROSKA_EPOCH) * G_GINT64_CONSTANT (1000000000)), 8);
  put_string (info, ID_MUXING_APP, "camrelay");
  put_string (info, ID_WRITING_APP, "camrelay");
  gsize duration_at = info.size ();
  put_void (info, DURATION_ROOM);
  put_id (b, ID_INFO);
  put_size (b, info.size ());
  duration_void_ = b.size () + duration_at;
  b.insert (b.end (), info.begin (), info.end ());

  Bytes video, entry, tracks;
  put_uint (video, ID_PIXEL_WIDTH, width);
  put_uint (video, ID_PIXEL_HEIGHT, height);
  put_uint (entry, ID_TRACK_NUMBER, 1);
  put_uint (entry, ID_TRACK_UID, 1);
  put_uint (entry, ID_TRACK_TYPE, 1); /* video */
  put_uint (entry, ID_FLAG_LACING, 0);
  put_string (entry, ID_CODEC_ID, "V_MJPEG");
  put_master (entry, ID_VIDEO, video);
  put_master (tracks, ID_TRACK_ENTRY, entry);
  put_master (b, ID_TRACKS, tracks);

  int err = append (b, nullptr, 0);
  if (err) {
    ::close (fd_);
    fd_ = -1;
    unlink (path.c_str ());
  }
  return err;
}

/* Writes @head then @data at the end; on failure cuts the file back to where it was. */
int
MkvWriter::append (const Bytes & head, const guint8 *data, gsize size)
{
  struct iovec iov[2] = {
    { const_cast<guint8 *> (head.data ()), head.size () },
    { const_cast<guint8 *> (data), size },
  };
  int n_iov = size ? 2 : 1;
  gsize total = head.size () + size, done = 0;
  while (done < total) {
    /* Skip what went out already (a short write, e.g. at the disk's last block). */
    struct iovec rest[2];
    int n = 0;
    gsize skip = done;
    for (int i = 0; i < n_iov; i++) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      rest[n].iov_base = static_cast<guint8 *> (iov[i].iov_base) + skip;
      rest[n].iov_len = iov[i].iov_len - skip;
      skip = 0;
      n++;
    }
    ssize_t w = writev (fd_, rest, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int err = w < 0 ? errno : ENOSPC;
      if (ftruncate (fd_, static_cast<off_t> (end_)) != 0 ||
          lseek (fd_, static_cast<off_t> (end_), SEEK_SET) < 0) {
        /* Nothing better to do: the file ends in a partial frame, which readers stop at. */
      }
      return err;
    }
    done += static_cast<gsize> (w);
  }
  end_ += total;
  return 0;
}

int
MkvWriter::patch (guint64 offset, const Bytes & bytes)
{
  ssize_t w = pwrite (fd_, bytes.data (), bytes.size (), static_cast<off_t> (offset));
  if (w == static_cast<ssize_t> (bytes.size ()))
    return 0;
  return w < 0 ? errno : EIO;
}

void
MkvWriter::close_cluster ()
{
  if (cluster_pos_ < 0)
    return;
  Bytes size;
  put_size (size, end_ - (cluster_pos_ + 8), 8);
  patch (cluster_pos_, size); /* if it fails the size stays unknown, which readers take too */
  cluster_pos_ = -1;
}

int
MkvWriter::write_frame (guint64 ts_ms, const guint8 *data, gsize size)
{
  if (!is_open ())
    return EBADF;
  /* Strictly increasing: frames that were stamped in the same millisecond (read from the socket
   * together) would otherwise share a timestamp, which players take for a broken stream. */
  if (frames_ && ts_ms <= last_ts_)
    ts_ms = last_ts_ + 1;
  Bytes head;
  bool new_cluster = cluster_pos_ < 0 || ts_ms - cluster_ts_ >= CLUSTER_MS;
  gint64 cluster_at = cluster_pos_;
  if (new_cluster) {
    close_cluster ();
    put_id (head, ID_CLUSTER);
    cluster_at = static_cast<gint64> (end_ + head.size ());
    head.insert (head.end (), UNKNOWN_SIZE, UNKNOWN_SIZE + 8);
    put_uint (head, ID_CLUSTER_TIMESTAMP, ts_ms);
  }
  const guint64 cts = new_cluster ? ts_ms : cluster_ts_;
  put_id (head, ID_SIMPLE_BLOCK);
  put_size (head, 4 + size);
  head.push_back (0x81); /* track 1 */
  gint16 rel = static_cast<gint16> (ts_ms - cts);
  head.push_back (static_cast<guint8> (static_cast<guint16> (rel) >> 8));
  head.push_back (static_cast<guint8> (rel & 0xFF));
  head.push_back (0x80); /* keyframe */

  const guint64 cluster_start = end_;
  int err = append (head, data, size);
  if (err)
    return err; /* a cluster it tried to start is cut off with the frame */
  if (new_cluster) {
    cluster_pos_ = cluster_at;
    cluster_ts_ = ts_ms;
    cues_.push_back ({ ts_ms, cluster_start - segment_data_ });
  }
  last_ts_ = ts_ms;
  frames_++;
  return 0;
}

int
MkvWriter::finish ()
{
  if (!is_open ())
    return 0;
  close_cluster ();
  int result = 0;

  Bytes cues;
  for (const auto & c : cues_) {
    Bytes pos, point;
    put_uint (pos, ID_CUE_TRACK, 1);
    put_uint (pos, ID_CUE_CLUSTER_POSITION, c.position);
    put_uint (point, ID_CUE_TIME, c.ts_ms);
    put_master (point, ID_CUE_TRACK_POSITIONS, pos);
    cues.insert (cues.end (), point.begin (), point.end ());
  }
  const guint64 cues_at = end_;
  Bytes element;
  put_master (element, ID_CUES, cues);
  bool cues_written = !cues_.empty () && append (element, nullptr, 0) == 0;

  if (cues_written) {
    Bytes seek, seekhead;
    put_uint (seek, ID_SEEK_ID, ID_CUES, 4);
    put_uint (seek, ID_SEEK_POSITION, cues_at - segment_data_, 8);
    put_master (seekhead, ID_SEEK, seek);
    Bytes b;
    put_master (b, ID_SEEKHEAD, seekhead);
    put_void (b, SEEKHEAD_ROOM - b.size ());
    result = result ? result : patch (seekhead_void_, b);
  }
  if (frames_) {
    Bytes d;
    put_id (d, ID_DURATION);
    put_size (d, 8);
    double ms = static_cast<double> (last_ts_);
    guint64 bits;
    memcpy (&bits, &ms, sizeof bits);
    for (int i = 7; i >= 0; i--)
      d.push_back (static_cast<guint8> (bits >> (8 * i)));
    result = result ? result : patch (duration_void_, d);
  }
  Bytes size;
  put_size (size, end_ - segment_data_, 8);
  result = result ? result : patch (segment_data_ - 8, size);
  if (::close (fd_) != 0 && !result)
    result = errno;
  fd_ = -1;
  return result;
}

}  // namespace record
}  // namespace cr
