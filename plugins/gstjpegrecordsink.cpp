/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-jpegrecordsink
 * @title: jpegrecordsink
 *
 * Records JPEG frames to disk without re-encoding: one Matroska file per segment in
 * `location/YYYY-MM-DD/HH-MM-SS.mkv` (UTC), named by the wall-clock second of its first frame.
 * A file's time 0 is that second and each frame is stamped with its arrival time (the buffer's
 * running time turned into wall-clock time), so a camera that sent 10 fps, paused, then sent
 * 2 fps plays back with exactly that timing, and a pause is a gap, not frozen frames. The frames
 * are the buffers' bytes, unchanged. See crrecordlayout.h and crmkvwriter.h for the contract.
 *
 * Segments end at multiples of `segment` of UTC time (at :00 for 60 s; at midnight for 86400 s).
 * `interval` keeps one frame per that much wall-clock time (a time-lapse). Both are nanoseconds,
 * as every time of a GStreamer element.
 *
 * A write that fails (a full disk, a folder it may not write) never fails the pipeline: the
 * element pauses, posts a "jpegrecordsink-state" message (state "paused", reason) once per change
 * of cause, drops frames, and tries again once a second (after a full disk only once there is
 * room again); it posts "jpegrecordsink-state" (state "recording") when it writes its first frame
 * and when it writes again after a pause. The message's "location" is the element's.
 *
 * `gated` records only around events: frames are let through while `open` is true (the
 * application sets it, e.g. on jpegmotion's motion-start and motion-end) and `post-roll` after it
 * turns false; meanwhile the last `pre-roll` of frames is kept in memory (at most 16 MiB) and
 * recorded, with their own arrival times, the moment it opens. Still without re-encoding.
 *
 * Frames are written by one thread shared by every jpegrecordsink of the process, a tenth of a
 * second after they arrive, never in the streaming thread (see crrecordspool.h): a slow or stuck
 * disk drops recorded frames (counted in "skipped") and never holds up the rest of the pipeline,
 * so no queue is needed before it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 wsjpegsrc ! jpegvalidate ! tee name=t ! queue ! jpegfallback
 * placeholder=placeholder.jpg ! \
 *     multipartmux ! mjpeghttpsink t. ! queue leaky=downstream max-size-buffers=30 ! \
 *     jpegrecordsink location=recordings/front
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,framerate=5/1 ! jpegenc ! \
 *     jpegrecordsink location=/tmp/rec/test segment=10000000000
 * ]|
 */
#include "gstjpegrecordsink.h"

#include "crmkvwriter.h"
#include "crrecordlayout.h"
#include "crrecordspool.h"
#include "gstcamrelayelements.h"
#include "jpegcheck.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#define DEFAULT_LOCATION  "recordings/camera"
#define DEFAULT_SEGMENT   (60 * GST_SECOND)
#define DEFAULT_INTERVAL  0
#define DEFAULT_GATED     FALSE
#define DEFAULT_OPEN      FALSE
#define DEFAULT_PRE_ROLL  (5 * GST_SECOND)
#define DEFAULT_POST_ROLL (10 * GST_SECOND)

/* After a failure, how long before the next try. */
static const gint64 RETRY_US = G_USEC_PER_SEC;
/* A full disk counts as having room again with this much free beyond two frames. */
static const guint64 ROOM_MARGIN = 64 * 1024;
/* What may wait for the writer thread before new frames are dropped (a slow or stuck disk): a
 * few seconds of a fast camera, bounded in bytes too. */
static const guint MAX_WAITING_FRAMES = 60;
static const gsize MAX_WAITING_BYTES = 16 * 1024 * 1024;
/* gated: the pre-roll frames kept in memory, bounded in bytes whatever the camera sends (5 s of
 * VGA at 25 fps is ~4 MiB). */
static const gsize MAX_PRE_ROLL_BYTES = 16 * 1024 * 1024;

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_SEGMENT,
  PROP_INTERVAL,
  PROP_GATED,
  PROP_OPEN,
  PROP_PRE_ROLL,
  PROP_POST_ROLL,
  PROP_STATS,
};

GST_DEBUG_CATEGORY_STATIC (cr_jpeg_record_sink_debug);
#define GST_CAT_DEFAULT cr_jpeg_record_sink_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

namespace {

struct Settings
{
  std::string location = DEFAULT_LOCATION;
  GstClockTime segment = DEFAULT_SEGMENT;   /* whole seconds count */
  GstClockTime interval = DEFAULT_INTERVAL; /* 0 = every frame */
  bool gated = DEFAULT_GATED;
  GstClockTime pre_roll = DEFAULT_PRE_ROLL;
  GstClockTime post_roll = DEFAULT_POST_ROLL;
};

/* A frame kept for the pre-roll. */
struct Held
{
  GstBuffer *buffer;
  GstClockTime wall;
};

enum class State
{
  Idle,      /* no file open: no frame yet, or stopped */
  Recording, /* a file is open */
  Paused,    /* the last write failed; frames are dropped until a retry works */
};

const char *
state_name (State s)
{
  switch (s) {
    case State::Recording:
      return "recording";
    case State::Paused:
      return "paused";
    default:
      return "idle";
  }
}

/* A message to post once the lock is released. */
struct Notice
{
  bool due = false;
  State state = State::Idle;
  std::string reason;
};

}  // namespace

struct CrJpegRecordSinkPrivate
{
  std::mutex lock; /* guards everything below */
  Settings settings;

  cr::record::MkvWriter writer;
  State state = State::Idle;
  std::string reason;   /* why it is paused */
  int paused_errno = 0; /* its cause */
  bool disk_full = false;
  gint64 retry_at_us = 0;      /* monotonic: the next try while paused */
  gint64 segment_start = 0;    /* Unix seconds: the open file's time 0 */
  gint64 segment_end = 0;      /* Unix seconds: the boundary that ends it */
  gint64 skip_until = 0;       /* Unix seconds: a file of this name existed; wait for the next */
  GstClockTime next_due = 0;   /* interval: the next wall time (ns) a frame is kept from */
  guint width = 0, height = 0; /* from the caps, 0 = unknown */

  guint64 frames = 0;
  guint64 bytes = 0;
  guint64 segments = 0;
  guint64 skipped = 0; /* frames not written: paused, or too many waiting for the disk */
  guint64 errors = 0;
  std::string last_error;
  gint64 last_error_us = 0; /* g_get_real_time () of it */

  cr::record::Spool *spool = nullptr; /* between start and stop */

  /* gated: whether frames are let through now, until when after a close (wall ns), and the
   * newest pre-roll frames, oldest first. */
  bool open = DEFAULT_OPEN;
  GstClockTime open_until = 0;
  std::deque<Held> held;
  gsize held_bytes = 0;
};

struct _CrJpegRecordSink
{
  GstBaseSink parent;
  CrJpegRecordSinkPrivate *priv;
};

#define cr_jpeg_record_sink_parent_class parent_class
G_DEFINE_TYPE (CrJpegRecordSink, cr_jpeg_record_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (jpegrecordsink, "jpegrecordsink", GST_RANK_NONE,
    CR_TYPE_JPEG_RECORD_SINK);

static void cr_jpeg_record_sink_finalize (GObject *object);
static void cr_jpeg_record_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_jpeg_record_sink_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static gboolean cr_jpeg_record_sink_start (GstBaseSink *sink);
static gboolean cr_jpeg_record_sink_stop (GstBaseSink *sink);
static gboolean cr_jpeg_record_sink_set_caps (GstBaseSink *sink, GstCaps *caps);
static gboolean cr_jpeg_record_sink_event (GstBaseSink *sink, GstEvent *event);
static GstFlowReturn cr_jpeg_record_sink_render (GstBaseSink *sink, GstBuffer *buffer);

static void
cr_jpeg_record_sink_class_init (CrJpegRecordSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  gobject_class->finalize = cr_jpeg_record_sink_finalize;
  gobject_class->set_property = cr_jpeg_record_sink_set_property;
  gobject_class->get_property = cr_jpeg_record_sink_get_property;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Folder of the recording: segments go to LOCATION/YYYY-MM-DD/HH-MM-SS.mkv (UTC), "
          "folders are made as needed",
          DEFAULT_LOCATION, ready));
  g_object_class_install_property (gobject_class, PROP_SEGMENT,
      g_param_spec_uint64 ("segment", "Segment",
          "Nanoseconds per file, in whole seconds: a file ends at each multiple of this time of "
          "UTC time (60000000000 = at every full minute, 86400000000000 = at midnight)",
          GST_SECOND, 86400 * GST_SECOND, DEFAULT_SEGMENT, ready));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint64 ("interval", "Interval",
          "Keep one frame per this many nanoseconds of wall-clock time, the first of each "
          "interval (a time-lapse); 0 = every frame",
          0, 366 * 86400 * GST_SECOND, DEFAULT_INTERVAL, ready));
  g_object_class_install_property (gobject_class, PROP_GATED,
      g_param_spec_boolean ("gated", "Gated",
          "Record only while open (e.g. during motion), with pre-roll before and post-roll after; "
          "false = every frame",
          DEFAULT_GATED, ready));
  g_object_class_install_property (gobject_class, PROP_OPEN,
      g_param_spec_boolean ("open", "Open",
          "With gated: true records from now on, the pre-roll's frames first; false records "
          "post-roll more and then stops (the application sets it, e.g. on motion-start and "
          "motion-end)",
          DEFAULT_OPEN,
          static_cast<GParamFlags> (
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  g_object_class_install_property (gobject_class, PROP_PRE_ROLL,
      g_param_spec_uint64 ("pre-roll", "Pre-roll",
          "With gated: nanoseconds of frames kept in memory (at most 16 MiB) and recorded when "
          "it opens",
          0, 3600 * GST_SECOND, DEFAULT_PRE_ROLL, ready));
  g_object_class_install_property (gobject_class, PROP_POST_ROLL,
      g_param_spec_uint64 ("post-roll", "Post-roll",
          "With gated: nanoseconds still recorded after it closes", 0, 3600 * GST_SECOND,
          DEFAULT_POST_ROLL, ready));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "state (idle, recording, paused), reason (why paused, \"\" otherwise), frames and "
          "bytes written, segments begun, skipped (frames not recorded: while paused, or with too "
          "many waiting for a slow disk), errors, "
          "last-error, last-error-time (Unix microseconds, 0 = never), file (the open segment, "
          "\"\" if none)",
          GST_TYPE_STRUCTURE, readonly));

  basesink_class->start = GST_DEBUG_FUNCPTR (cr_jpeg_record_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (cr_jpeg_record_sink_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (cr_jpeg_record_sink_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (cr_jpeg_record_sink_event);
  basesink_class->render = GST_DEBUG_FUNCPTR (cr_jpeg_record_sink_render);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "JPEG recording sink", "Sink/File/Video",
      "Records JPEG frames unchanged to Matroska segment files named by their wall-clock start, "
      "each frame at its arrival time",
      "camrelay developers");

  GST_DEBUG_CATEGORY_INIT (cr_jpeg_record_sink_debug, "jpegrecordsink", 0,
      "camrelay JPEG recording sink");
}

static void
cr_jpeg_record_sink_init (CrJpegRecordSink *self)
{
  self->priv = new CrJpegRecordSinkPrivate ();
  /* Frames are written as they come: no clock waits, and no preroll to hold a live pipeline. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (self), FALSE);
}

static void drop_held (CrJpegRecordSinkPrivate *priv);

static void
cr_jpeg_record_sink_finalize (GObject *object)
{
  drop_held (CR_JPEG_RECORD_SINK (object)->priv);
  delete CR_JPEG_RECORD_SINK (object)->priv;
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* ---------------------------------------------------------------------------------------------- */

/* The wall-clock time (ns since 1970) at which @buffer arrived: its PTS is the running time of
 * its arrival (wsjpegsrc, pulljpegsrc), so it arrived (running time now - PTS) before now. */
static GstClockTime
arrival_wall_time (CrJpegRecordSink *self, GstBuffer *buffer)
{
  GstClockTime real_now = static_cast<GstClockTime> (g_get_real_time ()) * GST_USECOND;
  GstBaseSink *base = GST_BASE_SINK (self);
  GstClockTime pts = GST_BUFFER_PTS (buffer);
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return real_now;
  GstClockTime running = gst_segment_to_running_time (&base->segment, GST_FORMAT_TIME, pts);
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock || !GST_CLOCK_TIME_IS_VALID (running))
    return real_now;
  GstClockTime now = gst_clock_get_time (clock);
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (self));
  GstClockTime running_now = now > base_time ? now - base_time : 0;
  GstClockTime age = running_now > running ? running_now - running : 0;
  return real_now > age ? real_now - age : 0;
}

static bool
has_room (const std::string & dir, guint64 need)
{
  struct statvfs vfs;
  if (statvfs (dir.c_str (), &vfs) != 0)
    return true; /* let the write say what is wrong */
  return static_cast<guint64> (vfs.f_bavail) * vfs.f_frsize >= need;
}

/* Closes the open file. Under the lock. */
static void
close_segment (CrJpegRecordSinkPrivate *priv)
{
  if (!priv->writer.is_open ())
    return;
  GST_DEBUG ("closing %s (%" G_GUINT64_FORMAT " frames)", priv->writer.path ().c_str (),
      priv->writer.frames ());
  priv->writer.finish ();
}

/* A failed write: pauses, and says so once per change of cause. Under the lock. */
static void
fail (CrJpegRecordSinkPrivate *priv, int err, const std::string & what, Notice & notice)
{
  close_segment (priv);
  priv->errors++;
  priv->disk_full = err == ENOSPC || err == EDQUOT;
  std::string reason = priv->disk_full ? "disk full: no space left for " + what
                                       : "cannot write " + what + ": " + g_strerror (err);
  priv->last_error = reason;
  priv->last_error_us = g_get_real_time ();
  priv->retry_at_us = g_get_monotonic_time () + RETRY_US;
  /* The cause is the error, not the text: every try names the file of its own second. */
  if (priv->state != State::Paused || priv->paused_errno != err) {
    notice = { true, State::Paused, reason };
    GST_WARNING ("recording paused: %s", reason.c_str ());
  }
  priv->state = State::Paused;
  priv->reason = reason;
  priv->paused_errno = err;
}

/* Opens the segment that starts at @second. Under the lock. */
static int
open_segment (CrJpegRecordSinkPrivate *priv, gint64 second, const guint8 *data, gsize size,
    std::string & path)
{
  const Settings & s = priv->settings;
  path = s.location + "/" + cr::record::segment_relpath (second);
  g_autofree gchar *dir = g_path_get_dirname (path.c_str ());
  if (g_mkdir_with_parents (dir, 0755) != 0)
    return errno;
  guint width = priv->width, height = priv->height;
  if (!width || !height) {
    cr::JpegCheckLimits any;
    any.min_size = any.max_size = 0;
    cr::JpegCheckResult res = cr::jpeg_check (data, size, any);
    width = res.info.width;
    height = res.info.height;
  }
  int err = priv->writer.open (path, second, width, height);
  if (err)
    return err;
  priv->segment_start = second;
  const gint64 segment_s = static_cast<gint64> (s.segment / GST_SECOND);
  priv->segment_end = (second / segment_s + 1) * segment_s;
  priv->segments++;
  GST_DEBUG ("recording to %s", path.c_str ());
  return 0;
}

/* Writes one frame that arrived at @wall (ns since 1970). Under the lock. */
static void
record_frame (CrJpegRecordSinkPrivate *priv, GstClockTime wall, const guint8 *data, gsize size,
    Notice & notice)
{
  const gint64 second = static_cast<gint64> (wall / GST_SECOND);
  if (priv->state == State::Paused) {
    gint64 now = g_get_monotonic_time ();
    if (now < priv->retry_at_us ||
        (priv->disk_full && !has_room (priv->settings.location, 2 * size + ROOM_MARGIN))) {
      priv->retry_at_us = MAX (priv->retry_at_us, now + (now >= priv->retry_at_us ? RETRY_US : 0));
      priv->skipped++;
      return;
    }
  }
  if (priv->writer.is_open () && (second >= priv->segment_end || second < priv->segment_start))
    close_segment (priv);
  if (!priv->writer.is_open ()) {
    if (second < priv->skip_until) {
      priv->skipped++;
      return;
    }
    std::string path;
    int err = open_segment (priv, second, data, size, path);
    if (err == EEXIST) {
      /* A file of this second exists (a restart within it): the next second gets a new one. */
      GST_INFO ("%s exists; recording from the next second", path.c_str ());
      priv->skip_until = second + 1;
      priv->skipped++;
      return;
    }
    if (err) {
      fail (priv, err, path, notice);
      priv->skipped++;
      return;
    }
  }
  guint64 ts_ms =
      (wall - static_cast<GstClockTime> (priv->segment_start) * GST_SECOND) / GST_MSECOND;
  const guint64 before = priv->writer.size ();
  int err = priv->writer.write_frame (ts_ms, data, size);
  if (err) {
    std::string path = priv->writer.path ();
    fail (priv, err, path, notice);
    priv->skipped++;
    return;
  }
  priv->frames++;
  priv->bytes += priv->writer.size () - before;
  if (priv->state != State::Recording) {
    if (priv->state == State::Paused)
      GST_INFO ("recording again after: %s", priv->reason.c_str ());
    notice = { true, State::Recording, "" };
    priv->state = State::Recording;
    priv->reason.clear ();
    priv->disk_full = false;
  }
}

static void
post_notice (CrJpegRecordSink *self, const Notice & notice)
{
  if (!notice.due)
    return;
  std::string location;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    location = self->priv->settings.location;
  }
  GstStructure *s = gst_structure_new ("jpegrecordsink-state", "state", G_TYPE_STRING,
      state_name (notice.state), "reason", G_TYPE_STRING, notice.reason.c_str (), "location",
      G_TYPE_STRING, location.c_str (), nullptr);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* The writer thread: one frame that arrived at @wall. */
static void
write_frame (gpointer owner, GstBuffer *buffer, GstClockTime wall)
{
  auto *self = CR_JPEG_RECORD_SINK (owner);
  CrJpegRecordSinkPrivate *priv = self->priv;
  GstMapInfo map;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READ))
    return;
  Notice notice;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    record_frame (priv, wall, map.data, map.size, notice);
  }
  gst_buffer_unmap (buffer, &map);
  post_notice (self, notice);
}

/* gated and closed: keeps @buffer for the pre-roll, dropping what is older than it. Under the
 * lock. */
static void
hold_frame (CrJpegRecordSinkPrivate *priv, GstBuffer *buffer, GstClockTime wall)
{
  const GstClockTime pre = priv->settings.pre_roll;
  if (pre > 0) {
    priv->held.push_back ({ gst_buffer_ref (buffer), wall });
    priv->held_bytes += gst_buffer_get_size (buffer);
  }
  while (!priv->held.empty () &&
      (priv->held.front ().wall + pre < wall || priv->held_bytes > MAX_PRE_ROLL_BYTES)) {
    priv->held_bytes -= gst_buffer_get_size (priv->held.front ().buffer);
    gst_buffer_unref (priv->held.front ().buffer);
    priv->held.pop_front ();
  }
}

static void
drop_held (CrJpegRecordSinkPrivate *priv)
{
  for (auto & h : priv->held)
    gst_buffer_unref (h.buffer);
  priv->held.clear ();
  priv->held_bytes = 0;
}

/* gated: opens (the pre-roll goes to the writer first, in order) or closes (post-roll from now).
 * Under the lock. */
static void
set_open (CrJpegRecordSink *self, bool open)
{
  CrJpegRecordSinkPrivate *priv = self->priv;
  if (open == priv->open)
    return;
  priv->open = open;
  GstClockTime now = static_cast<GstClockTime> (g_get_real_time ()) * GST_USECOND;
  if (!open) {
    priv->open_until = now + priv->settings.post_roll;
    return;
  }
  if (priv->spool) {
    for (auto & h : priv->held) {
      if (!priv->spool->push (self, write_frame, h.buffer, h.wall,
              MAX_WAITING_FRAMES + priv->held.size (), MAX_WAITING_BYTES + priv->held_bytes))
        priv->skipped++;
    }
  }
  drop_held (priv);
}

/* The streaming thread: the frame's arrival time is taken now, the write is the writer thread's
 * (see crrecordspool.h). */
static GstFlowReturn
cr_jpeg_record_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  auto *self = CR_JPEG_RECORD_SINK (sink);
  CrJpegRecordSinkPrivate *priv = self->priv;
  GstClockTime wall = arrival_wall_time (self, buffer);
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->settings.interval > 0) {
      /* The first frame of each interval of wall-clock time. */
      if (wall < priv->next_due)
        return GST_FLOW_OK;
      const GstClockTime interval = priv->settings.interval;
      priv->next_due = (wall / interval + 1) * interval;
    }
  }
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    if (priv->settings.gated && !priv->open && wall >= priv->open_until) {
      hold_frame (priv, buffer, wall);
      return GST_FLOW_OK;
    }
  }
  if (!priv->spool->push (self, write_frame, buffer, wall, MAX_WAITING_FRAMES, MAX_WAITING_BYTES)) {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->skipped++;
  }
  return GST_FLOW_OK;
}

static gboolean
cr_jpeg_record_sink_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  CrJpegRecordSinkPrivate *priv = CR_JPEG_RECORD_SINK (sink)->priv;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  gint width = 0, height = 0;
  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  if (priv->spool)
    priv->spool->flush (sink); /* the frames before the change go to the file of their size */
  std::lock_guard<std::mutex> guard (priv->lock);
  if (priv->writer.is_open () &&
      (static_cast<guint> (width) != priv->width || static_cast<guint> (height) != priv->height))
    close_segment (priv); /* a new size starts a new file, whose track says the new size */
  priv->width = MAX (width, 0);
  priv->height = MAX (height, 0);
  return TRUE;
}

static gboolean
cr_jpeg_record_sink_event (GstBaseSink *sink, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    CrJpegRecordSinkPrivate *priv = CR_JPEG_RECORD_SINK (sink)->priv;
    if (priv->spool)
      priv->spool->flush (sink);
    std::lock_guard<std::mutex> guard (priv->lock);
    close_segment (priv);
    if (priv->state == State::Recording)
      priv->state = State::Idle;
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

static gboolean
cr_jpeg_record_sink_start (GstBaseSink *sink)
{
  CR_JPEG_RECORD_SINK (sink)->priv->spool = &cr::record::Spool::acquire ();
  return TRUE;
}

static gboolean
cr_jpeg_record_sink_stop (GstBaseSink *sink)
{
  CrJpegRecordSinkPrivate *priv = CR_JPEG_RECORD_SINK (sink)->priv;
  if (priv->spool) {
    /* Everything handed over is written before the file is closed. */
    priv->spool->flush (sink);
    priv->spool = nullptr;
    cr::record::Spool::release ();
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  close_segment (priv);
  priv->state = State::Idle;
  priv->reason.clear ();
  priv->disk_full = false;
  priv->next_due = 0;
  priv->skip_until = 0;
  priv->open_until = 0;
  drop_held (priv);
  return TRUE;
}

/* ---------------------------------------------------------------------------------------------- */

static GstStructure *
make_stats (CrJpegRecordSinkPrivate *priv)
{
  std::lock_guard<std::mutex> guard (priv->lock);
  return gst_structure_new ("jpegrecordsink-stats", "state", G_TYPE_STRING,
      state_name (priv->state), "reason", G_TYPE_STRING, priv->reason.c_str (), "frames",
      G_TYPE_UINT64, priv->frames, "bytes", G_TYPE_UINT64, priv->bytes, "segments", G_TYPE_UINT64,
      priv->segments, "skipped", G_TYPE_UINT64, priv->skipped, "errors", G_TYPE_UINT64,
      priv->errors, "last-error", G_TYPE_STRING, priv->last_error.c_str (), "last-error-time",
      G_TYPE_INT64, priv->last_error_us, "file", G_TYPE_STRING,
      priv->writer.is_open () ? priv->writer.path ().c_str () : "", nullptr);
}

static void
cr_jpeg_record_sink_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrJpegRecordSinkPrivate *priv = CR_JPEG_RECORD_SINK (object)->priv;
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_GATED:
      priv->settings.gated = g_value_get_boolean (value);
      break;
    case PROP_OPEN:
      set_open (CR_JPEG_RECORD_SINK (object), g_value_get_boolean (value));
      break;
    case PROP_PRE_ROLL:
      priv->settings.pre_roll = g_value_get_uint64 (value);
      break;
    case PROP_POST_ROLL:
      priv->settings.post_roll = g_value_get_uint64 (value);
      break;
    case PROP_LOCATION: {
      const gchar *v = g_value_get_string (value);
      priv->settings.location = v && *v ? v : ".";
      break;
    }
    case PROP_SEGMENT:
      priv->settings.segment = g_value_get_uint64 (value);
      break;
    case PROP_INTERVAL:
      priv->settings.interval = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_jpeg_record_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrJpegRecordSinkPrivate *priv = CR_JPEG_RECORD_SINK (object)->priv;
  switch (prop_id) {
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (priv));
      return;
    default:
      break;
  }
  std::lock_guard<std::mutex> guard (priv->lock);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, priv->settings.location.c_str ());
      break;
    case PROP_SEGMENT:
      g_value_set_uint64 (value, priv->settings.segment);
      break;
    case PROP_INTERVAL:
      g_value_set_uint64 (value, priv->settings.interval);
      break;
    case PROP_GATED:
      g_value_set_boolean (value, priv->settings.gated);
      break;
    case PROP_OPEN:
      g_value_set_boolean (value, priv->open);
      break;
    case PROP_PRE_ROLL:
      g_value_set_uint64 (value, priv->settings.pre_roll);
      break;
    case PROP_POST_ROLL:
      g_value_set_uint64 (value, priv->settings.post_roll);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}
