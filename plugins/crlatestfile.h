/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the latest-file writer of mjpeghttpsink.
 *
 * Writes the newest frame to a file, atomically (temporary file + rename), from its own thread:
 * disk I/O stays off both the streaming thread and the server thread, and a slow disk only means
 * fewer writes, never a stall. Frames offered while a write is in progress replace each other, so
 * only the newest one is written next.
 *
 * Readers need atomicity (never a half-written picture), which the rename gives. Durability (the
 * data on the disk before the rename, so that a power cut leaves the old picture rather than an
 * empty file) costs an fsync per frame, which on an SD card at 10 fps wears it and stalls other
 * writers: it is asked for with @sync.
 */
#pragma once

#include <gst/gst.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace cr {

class LatestFileWriter
{
public:
  /* @owner names the element in log lines; it outlives the writer. @sync: fsync each frame before
   * its rename. */
  LatestFileWriter (GstElement *owner, std::string path, bool sync);
  /* Waits for a write in progress; a frame not yet written is dropped. */
  ~LatestFileWriter ();
  LatestFileWriter (const LatestFileWriter &) = delete;
  LatestFileWriter & operator= (const LatestFileWriter &) = delete;

  /* Any thread. @frame is shared, not copied. */
  void offer (GBytes *frame);

  /* Writes attempted so far. */
  guint64 writes () const;

private:
  void run ();
  void write (GBytes *frame);

  GstElement *owner_;
  std::string path_;
  bool sync_;
  mutable std::mutex mutex_;
  std::condition_variable cond_;
  GBytes *pending_ = nullptr;
  bool stop_ = false;
  guint64 writes_ = 0;
  std::thread thread_;
};

}  // namespace cr
