/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: time-lapse MP4 files (see timelapse.h). */
#define G_LOG_DOMAIN "camrelay"
#include "timelapse.h"

#include "fileresponse.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

#include <glib/gstdio.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace camrelay {

namespace {

/* A line in the log every this often while a job runs. */
const gint64 PROGRESS_US = 5 * G_USEC_PER_SEC;

/* The period of progress lines: PROGRESS_US, or CAMRELAY_TIMELAPSE_PROGRESS_MS (a test's hook:
 * it sees the lines of a job that takes a second, not five). */
gint64
progress_period_us ()
{
  const char *ms = g_getenv ("CAMRELAY_TIMELAPSE_PROGRESS_MS");
  return ms ? g_ascii_strtoll (ms, nullptr, 10) * 1000 : PROGRESS_US;
}

/* Width and height from a JPEG's SOF; false if there is none in the first bytes. */
bool
jpeg_size (const guint8 *d, gsize n, guint & width, guint & height)
{
  gsize i = 2;
  while (i + 9 < n) {
    if (d[i] != 0xFF) {
      i++;
      continue;
    }
    guint8 m = d[i + 1];
    if (m == 0xFF) {
      i++;
      continue;
    }
    gsize len = (d[i + 2] << 8) | d[i + 3];
    if ((m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      height = (d[i + 5] << 8) | d[i + 6];
      width = (d[i + 7] << 8) | d[i + 8];
      return width && height;
    }
    i += 2 + len;
  }
  return false;
}

bool
read_frame (int & fd, std::string & open_path, const TimelapseFrame & f, GstBuffer *& buf)
{
  if (open_path != f.path) {
    if (fd >= 0)
      close (fd);
    fd = open (f.path.c_str (), O_RDONLY | O_CLOEXEC);
    open_path = f.path;
  }
  if (fd < 0)
    return false;
  gpointer data = g_malloc (f.size);
  if (pread (fd, data, f.size, static_cast<off_t> (f.offset)) != static_cast<ssize_t> (f.size)) {
    g_free (data);
    return false;
  }
  buf = gst_buffer_new_wrapped (data, f.size);
  return true;
}

}  // namespace

struct TimelapseMaker::Job
{
  std::string key, what, tmp, out;
  std::vector<TimelapseFrame> frames;
  guint fps;
  std::weak_ptr<TimelapseMaker> maker;
};

TimelapseMaker::TimelapseMaker (std::string cache_dir, GMainContext *context)
  : dir_ (std::move (cache_dir)), context_ (g_main_context_ref (context))
{
  progress_us_ = progress_period_us ();
  pool_ = g_thread_pool_new (run_job, this, 1, FALSE, nullptr);
}

TimelapseMaker::~TimelapseMaker ()
{
  g_atomic_int_set (&cancelled_, 1);
  g_thread_pool_free (pool_, TRUE, TRUE); /* the running job stops at its next frame */
  for (auto & [key, msgs] : waiting_)
    for (SoupServerMessage *m : msgs)
      g_object_unref (m);
  g_main_context_unref (context_);
}

void
TimelapseMaker::request (SoupServerMessage *msg, const std::string & what,
    std::vector<TimelapseFrame> frames, guint fps)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  std::string head = std::to_string (fps) + "\n";
  g_checksum_update (sum, reinterpret_cast<const guchar *> (head.data ()), head.size ());
  for (const auto & f : frames) {
    std::string line =
        f.path + " " + std::to_string (f.offset) + " " + std::to_string (f.size) + "\n";
    g_checksum_update (sum, reinterpret_cast<const guchar *> (line.data ()), line.size ());
  }
  std::string key = g_checksum_get_string (sum);
  std::string out = dir_ + "/" + key + ".mp4";
  if (g_file_test (out.c_str (), G_FILE_TEST_IS_REGULAR)) {
    serve_file (msg, out, "video/mp4");
    return;
  }
  soup_server_message_pause (msg);
  auto & w = waiting_[key];
  w.push_back (SOUP_SERVER_MESSAGE (g_object_ref (msg)));
  if (w.size () > 1)
    return; /* its job is already on the way */
  g_mkdir_with_parents (dir_.c_str (), 0755);
  auto *job = new Job{ key, what, out + ".part", out, std::move (frames), fps, weak_from_this () };
  g_thread_pool_push (pool_, job, nullptr);
}

/* Worker thread. */
void
TimelapseMaker::run_job (gpointer data, gpointer user)
{
  auto *job = static_cast<Job *> (data);
  auto *self = static_cast<TimelapseMaker *> (user);
  gint64 started = g_get_monotonic_time ();
  bool ok = false;
  guint width = 0, height = 0;
  int fd = -1;
  std::string open_path;
  GstBuffer *first = nullptr;
  if (!job->frames.empty () && read_frame (fd, open_path, job->frames[0], first)) {
    GstMapInfo map;
    if (gst_buffer_map (first, &map, GST_MAP_READ)) {
      jpeg_size (map.data, map.size, width, height);
      gst_buffer_unmap (first, &map);
    }
  }
  if (first && width && height) {
    /* Even sizes: 4:2:0 chroma needs them. */
    g_autofree gchar *desc = g_strdup_printf (
        "appsrc name=src format=time block=true max-bytes=8000000 caps=image/jpeg,framerate=%u/1 "
        "! jpegdec ! videoconvert ! videoscale "
        "! video/x-raw,format=I420,colorimetry=bt601,width=%u,height=%u,pixel-aspect-ratio=1/1 "
        "! x264enc speed-preset=ultrafast ! video/x-h264,profile=constrained-baseline "
        "! mp4mux faststart=true ! filesink name=sink",
        job->fps, MAX (2u, width & ~1u), MAX (2u, height & ~1u));
    g_autoptr (GError) error = nullptr;
    GstElement *pipeline = gst_parse_launch (desc, &error);
    if (pipeline) {
      g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
      g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
      g_object_set (sink, "location", job->tmp.c_str (), nullptr);
      gst_element_set_state (pipeline, GST_STATE_PLAYING);
      GstClockTime step = gst_util_uint64_scale_int (GST_SECOND, 1, job->fps);
      gint64 last_log = started;
      gsize pushed = 0;
      for (gsize i = 0; i < job->frames.size () && !g_atomic_int_get (&self->cancelled_); i++) {
        GstBuffer *buf = nullptr;
        if (i == 0) {
          buf = first;
          first = nullptr;
        } else if (!read_frame (fd, open_path, job->frames[i], buf)) {
          continue; /* deleted meanwhile: the others still make a time-lapse */
        }
        GST_BUFFER_PTS (buf) = pushed * step;
        GST_BUFFER_DURATION (buf) = step;
        if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK)
          break;
        pushed++;
        gint64 now = g_get_monotonic_time ();
        if (now - last_log >= self->progress_us_) {
          g_message ("time-lapse of %s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " frames encoded",
              job->what.c_str (), i + 1, job->frames.size ());
          last_log = now;
        }
      }
      gst_app_src_end_of_stream (GST_APP_SRC (src));
      g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
      g_autoptr (GstMessage) m = gst_bus_timed_pop_filtered (bus, 10 * 60 * GST_SECOND,
          static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
      ok = m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS && pushed > 0 &&
          !g_atomic_int_get (&self->cancelled_);
      if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
        g_autoptr (GError) err = nullptr;
        gst_message_parse_error (m, &err, nullptr);
        g_warning ("time-lapse of %s failed: %s", job->what.c_str (), err->message);
      }
      gst_element_set_state (pipeline, GST_STATE_NULL);
      gst_object_unref (pipeline);
    } else {
      g_warning ("time-lapse of %s: %s", job->what.c_str (), error->message);
    }
  }
  if (first)
    gst_buffer_unref (first);
  if (fd >= 0)
    close (fd);
  ok = ok && g_rename (job->tmp.c_str (), job->out.c_str ()) == 0;
  if (!ok)
    g_unlink (job->tmp.c_str ());
  else
    g_message ("time-lapse of %s: %" G_GSIZE_FORMAT " frames in %.1f s", job->what.c_str (),
        job->frames.size (), (g_get_monotonic_time () - started) / 1e6);

  struct Done
  {
    Job *job;
    bool ok;
  };
  g_main_context_invoke_full (
      self->context_, G_PRIORITY_DEFAULT,
      [] (gpointer d) -> gboolean {
        auto *done = static_cast<Done *> (d);
        if (auto maker = done->job->maker.lock ())
          maker->job_done (done->job, done->ok);
        return G_SOURCE_REMOVE;
      },
      new Done{ job, ok },
      [] (gpointer d) {
        auto *done = static_cast<Done *> (d);
        delete done->job;
        delete done;
      });
}

/* Server thread. */
void
TimelapseMaker::job_done (Job *job, bool ok)
{
  auto it = waiting_.find (job->key);
  if (it == waiting_.end ())
    return;
  std::vector<SoupServerMessage *> msgs = std::move (it->second);
  waiting_.erase (it);
  for (SoupServerMessage *m : msgs) {
    if (ok) {
      serve_file (m, job->out, "video/mp4");
    } else {
      const char text[] = "the time-lapse could not be made (see the log)\n";
      soup_server_message_set_status (m, SOUP_STATUS_INTERNAL_SERVER_ERROR, nullptr);
      soup_server_message_set_response (m, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, text,
          sizeof (text) - 1);
    }
    soup_server_message_unpause (m);
    g_object_unref (m);
  }
  prune ();
}

void
TimelapseMaker::prune ()
{
  std::vector<std::pair<gint64, std::string>> files;
  g_autoptr (GDir) d = g_dir_open (dir_.c_str (), 0, nullptr);
  if (!d)
    return;
  while (const char *name = g_dir_read_name (d)) {
    if (!g_str_has_suffix (name, ".mp4"))
      continue;
    std::string path = dir_ + "/" + name;
    struct stat st;
    if (stat (path.c_str (), &st) == 0)
      files.emplace_back (static_cast<gint64> (st.st_mtime), path);
  }
  if (files.size () <= MAX_CACHED)
    return;
  std::sort (files.begin (), files.end ());
  for (gsize i = 0; i + MAX_CACHED < files.size (); i++)
    g_unlink (files[i].second.c_str ());
}

}  // namespace camrelay
