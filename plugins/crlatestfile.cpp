/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the latest-file writer of mjpeghttpsink (see crlatestfile.h). Logs in the
 * mjpeghttpsink debug category, with the element as the object. */
#include "crlatestfile.h"

#include <glib/gstdio.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_EXTERN (cr_mjpeg_http_sink_debug);
#define GST_CAT_DEFAULT cr_mjpeg_http_sink_debug

namespace cr {

LatestFileWriter::LatestFileWriter (GstElement *owner, std::string path, bool sync)
  : owner_ (owner), path_ (std::move (path)), sync_ (sync), thread_ ([this] { run (); })
{}

LatestFileWriter::~LatestFileWriter ()
{
  {
    std::lock_guard<std::mutex> guard (mutex_);
    stop_ = true;
  }
  cond_.notify_all ();
  thread_.join ();
  g_clear_pointer (&pending_, g_bytes_unref);
}

void
LatestFileWriter::offer (GBytes *frame)
{
  {
    std::lock_guard<std::mutex> guard (mutex_);
    if (pending_)
      g_bytes_unref (pending_);
    pending_ = g_bytes_ref (frame);
  }
  cond_.notify_one ();
}

guint64
LatestFileWriter::writes () const
{
  std::lock_guard<std::mutex> guard (mutex_);
  return writes_;
}

void
LatestFileWriter::run ()
{
  std::unique_lock<std::mutex> lock (mutex_);
  for (;;) {
    cond_.wait (lock, [this] { return stop_ || pending_; });
    if (stop_)
      return;
    GBytes *frame = pending_;
    pending_ = nullptr;
    lock.unlock ();
    write (frame);
    g_bytes_unref (frame);
    lock.lock ();
    writes_++;
  }
}

/* Writes all of @data to @fd; false with errno set on failure. */
static bool
write_all (int fd, const gchar *data, gsize size)
{
  while (size > 0) {
    ssize_t n = ::write (fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return false;
    data += n;
    size -= static_cast<gsize> (n);
  }
  return true;
}

/* A temporary file beside the target (the rename must not cross file systems), renamed over it:
 * a reader opens either the old picture or the new one, never part of one. */
void
LatestFileWriter::write (GBytes *frame)
{
  gsize size;
  const gchar *data = static_cast<const gchar *> (g_bytes_get_data (frame, &size));
  std::string tmp = path_ + ".XXXXXX";
  int fd = g_mkstemp_full (&tmp[0], O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    GST_WARNING_OBJECT (owner_, "could not write %s: %s", path_.c_str (), g_strerror (e));
    return;
  }
  const char *failed = nullptr;
  if (!write_all (fd, data, size))
    failed = "write";
  else if (sync_ && fsync (fd) != 0)
    failed = "fsync";
  int e = errno;
  if (close (fd) != 0 && !failed) {
    failed = "close";
    e = errno;
  }
  if (!failed && g_rename (tmp.c_str (), path_.c_str ()) != 0) {
    failed = "rename";
    e = errno;
  }
  if (failed) {
    GST_WARNING_OBJECT (owner_, "could not write %s (%s): %s", path_.c_str (), failed,
        g_strerror (e));
    g_unlink (tmp.c_str ());
  }
}

}  // namespace cr
