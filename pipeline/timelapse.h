/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: time-lapse MP4 files, made once and served from a cache.
 *
 * The frames (chosen by the caller: the time-lapse recording, or the recording thinned) are
 * decoded and encoded to H.264 constrained baseline, yuv420p, in an MP4 with its index first
 * (plays in Chromium's <video> while it downloads), one output frame per input frame at @fps.
 * GStreamer does it in-process (jpegdec ! videoconvert ! videoscale ! x264enc ultrafast ! mp4mux
 * faststart): the program already runs GStreamer, so no ffmpeg binary is needed on the machine.
 *
 * One job at a time, in a worker thread (never the server thread); requests for the same frames
 * wait for the one job and are all answered from its file. The cache file is named by a hash of
 * the frames' places on disk and the rate, so it is found again as long as those frames exist;
 * once retention deletes them the name is never asked for again and the file ages out of the
 * cache (at most MAX_CACHED files, the oldest removed first). */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace camrelay {

/* The cache's folder, under the recordings' folder (retention counts it in max-disk). */
inline constexpr char TIMELAPSE_CACHE_DIR[] = ".cache/timelapse";

struct TimelapseFrame
{
  std::string path;
  guint64 offset;
  guint32 size;
};

class TimelapseMaker : public std::enable_shared_from_this<TimelapseMaker>
{
public:
  /* @cache_dir is created when needed; @context: the server's, where answers are given. */
  TimelapseMaker (std::string cache_dir, GMainContext *context);
  ~TimelapseMaker ();

  /* Server thread: answers @msg with the MP4 of @frames at @fps, from the cache or once the
   * job that makes it is done (the message waits, paused). @what names it in log lines. */
  void request (SoupServerMessage *msg, const std::string & what,
      std::vector<TimelapseFrame> frames, guint fps);

  /* Files kept in the cache. */
  static constexpr gsize MAX_CACHED = 32;

private:
  struct Job;
  static void run_job (gpointer job, gpointer self);
  void job_done (Job *job, bool ok);
  void prune ();

  std::string dir_;
  GMainContext *context_;
  GThreadPool *pool_ = nullptr;
  /* Server thread: the requests waiting for each file being made. */
  std::map<std::string, std::vector<SoupServerMessage *>> waiting_;
  volatile gint cancelled_ = 0;
  gint64 progress_us_ = 0; /* a log line this often while a job runs */
};

}  // namespace camrelay
