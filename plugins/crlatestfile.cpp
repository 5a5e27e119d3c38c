/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the latest-file writer of mjpeghttpsink (see crlatestfile.h). Logs in the
 * mjpeghttpsink debug category, with the element as the object. */
#include "crlatestfile.h"

GST_DEBUG_CATEGORY_EXTERN (cr_mjpeg_http_sink_debug);
#define GST_CAT_DEFAULT cr_mjpeg_http_sink_debug

namespace cr {

LatestFileWriter::LatestFileWriter (GstElement *owner, std::string path)
  : owner_ (owner), path_ (std::move (path)), thread_ ([this] { run (); })
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

void
LatestFileWriter::write (GBytes *frame)
{
  gsize size;
  const gchar *data = static_cast<const gchar *> (g_bytes_get_data (frame, &size));
  g_autoptr (GError) error = nullptr;
  /* g_file_set_contents writes a temporary file and renames it over the target. */
  if (!g_file_set_contents_full (path_.c_str (), data, size, G_FILE_SET_CONTENTS_CONSISTENT, 0644,
          &error))
    GST_WARNING_OBJECT (owner_, "could not write %s: %s", path_.c_str (), error->message);
}

}  // namespace cr
