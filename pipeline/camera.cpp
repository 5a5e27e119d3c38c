/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: one camera's pipeline at run time. */
#define G_LOG_DOMAIN "camrelay"

#include "camera.h"

#include "bushub.h"
#include "crredact.h"
#include "elementfields.h"
#include "prebuilt.h"
#include "recordbranch.h"

#include <utility>

namespace camrelay {

using elements::Field;

/* A failed pipeline is built again 1 s, 2 s … 30 s later; one that ran this long before failing
 * starts again after the shortest delay. */
static const gint64 HEALTHY_RUN_US = 30 * G_USEC_PER_SEC;
/* At most one log line about rejected frames per camera in this time. */
static const gint64 REJECT_LOG_INTERVAL_US = 10 * G_USEC_PER_SEC;
/* on-demand: a pulled camera is closed this long after the last viewer left. */
static const gint64 DEMAND_LINGER_US = 5 * G_USEC_PER_SEC;
/* A rebuilt pipeline (a reload that changed the camera, a restart after an error) carries on with
 * the viewers of the old one if it comes within this time; they see the placeholder meanwhile. */
static const guint64 KEEP_VIEWERS_NS = 10 * GST_SECOND;
/* on-demand: a snapshot asked for while the camera is closed waits this long at most for its
 * first frame (a camera answers within a second or two; one that does not gets the placeholder). */
static const guint64 SNAPSHOT_WAIT_NS = 5 * GST_SECOND;
/* The frame rate is averaged over this much history. */
static const gint64 FPS_WINDOW_US = 5 * G_USEC_PER_SEC;

static GstElement *
ref_or_null (GstElement *e)
{
  return e ? GST_ELEMENT (gst_object_ref (e)) : nullptr;
}

std::array<GstElement **, 9>
Camera::Elements::slots ()
{
  return { &src, &validate, &fallback, &sink, &pull, &record, &timelapse, &h264, &motion };
}

Camera::Elements
Camera::Elements::ref () const
{
  Elements e = *this;
  for (GstElement **slot : e.slots ())
    *slot = ref_or_null (*slot);
  return e;
}

void
Camera::Elements::clear ()
{
  for (GstElement **slot : slots ()) {
    if (*slot)
      gst_object_unref (*slot);
    *slot = nullptr;
  }
}

Camera::Camera (const CameraConfig & config)
  : config_ (config), backoff_ ({ 1000, 30000, 2, 0.0, HEALTHY_RUN_US })
{
  since_us_ = g_get_real_time ();
  /* Counters start at zero with the program: frames that arrive before the first sample count. */
  samples_.push_back ({ g_get_monotonic_time (), 0 });
}

Camera::~Camera ()
{
  stop ();
  gst_clear_buffer (&latest_);
}

void
Camera::set_state (const std::string & state)
{
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (state_ == state)
      return;
    state_ = state;
    since_us_ = g_get_real_time ();
  }
  if (state_listener_)
    state_listener_ (state);
}

/* Streaming thread: only a reference is swapped; the MQTT snapshot is sent from elsewhere. */
GstPadProbeReturn
Camera::on_live_frame (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *self = static_cast<Camera *> (data);
  GstBuffer *frame = gst_buffer_ref (GST_PAD_PROBE_INFO_BUFFER (info));
  std::lock_guard<std::mutex> guard (self->lock_);
  gst_clear_buffer (&self->latest_);
  self->latest_ = frame;
  self->latest_seq_++;
  return GST_PAD_PROBE_OK;
}

GstBuffer *
Camera::latest_frame (guint64 *seq) const
{
  std::lock_guard<std::mutex> guard (lock_);
  *seq = latest_seq_;
  return latest_ ? gst_buffer_ref (latest_) : nullptr;
}

GstElement *
Camera::h264_sink () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return ref_or_null (elements_.h264);
}

/* A pipeline's own bus keeps a socket pair for gst_bus_add_watch and gst_bus_poll, which the
 * program never uses (bushub.h takes every message in a sync handler, and keeps the first error
 * for a failed start): two descriptors a camera, 10,000 at 5,000 cameras, closed one by one when
 * the process ends. This bus has none. */
static void
use_bus_without_descriptors (GstElement *pipeline)
{
  g_autoptr (GstBus) bus = GST_BUS (g_object_new (GST_TYPE_BUS, "enable-async", FALSE, nullptr));
  gst_object_ref_sink (bus);
  gst_element_set_bus (pipeline, bus);
}

bool
Camera::build (std::string & error)
{
  /* The first start takes the pipeline the config check built (prebuilt.h). */
  GstElement *parsed = prebuilt_take (config_.line.description ());
  if (!parsed) {
    g_autoptr (GError) gerror = nullptr;
    parsed = gst_parse_launch_full (config_.line.description ().c_str (), nullptr,
        GST_PARSE_FLAG_FATAL_ERRORS, &gerror);
    if (!parsed) {
      error = std::string ("cannot build the pipeline: ") + (gerror ? gerror->message : "?");
      return false;
    }
    parsed = GST_ELEMENT (gst_object_ref_sink (parsed));
  }
  GstElement *pipeline = parsed;
  if (!GST_IS_PIPELINE (parsed)) {
    pipeline = GST_ELEMENT (gst_object_ref_sink (gst_pipeline_new (nullptr)));
    gst_bin_add (GST_BIN (pipeline), parsed);
    gst_object_unref (parsed);
  }
  std::string name = "camera-" + config_.name;
  gst_object_set_name (GST_OBJECT (pipeline), name.c_str ());
  use_bus_without_descriptors (pipeline);
  pipeline_ = pipeline;

  /* The first element of each camrelay kind is the one /status reports on. */
  Elements found;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline_));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    auto *el = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (el);
    const gchar *factory = f ? GST_OBJECT_NAME (f) : "";
    GstElement **slot = nullptr;
    if (g_str_equal (factory, elements::WSJPEGSRC))
      slot = &found.src;
    else if (g_str_equal (factory, elements::JPEGVALIDATE))
      slot = &found.validate;
    else if (g_str_equal (factory, elements::JPEGFALLBACK))
      slot = &found.fallback;
    else if (g_str_equal (factory, elements::MJPEGHTTPSINK))
      slot = &found.sink;
    else if (g_str_equal (factory, elements::PULLJPEGSRC))
      slot = &found.pull;
    else if (g_str_equal (factory, elements::JPEGRECORDSINK))
      slot = g_str_equal (GST_OBJECT_NAME (el), TIMELAPSE_SINK_NAME) ? &found.timelapse
                                                                     : &found.record;
    else if (g_str_equal (factory, elements::H264RELAYSINK))
      slot = &found.h264;
    else if (g_str_equal (factory, elements::JPEGMOTION))
      slot = &found.motion;
    /* The iterator goes from sinks to sources; keep the one nearest the source. */
    if (slot) {
      if (*slot)
        gst_object_unref (*slot);
      *slot = ref_or_null (el);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);

  {
    std::lock_guard<std::mutex> guard (lock_);
    elements_.clear ();
    elements_ = found;
    connected_ = false;
    peer_.clear ();
  }

  if (found.sink)
    g_object_set (found.sink, elements::KEEP_VIEWERS, KEEP_VIEWERS_NS, nullptr);
  /* A camera with nothing connected holds no thread: thousands may be configured. */
  if (found.src)
    g_object_set (found.src, elements::STOP_WHEN_IDLE, TRUE, nullptr);

  if (found.validate && config_.mqtt_snapshot_interval > 0) {
    g_autoptr (GstPad) pad = gst_element_get_static_pad (found.validate, "src");
    if (pad)
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_live_frame, this, nullptr);
  }

  /* on-demand: closed until a viewer comes (see on_wanted); a snapshot meanwhile waits for the
   * camera's first frame. */
  if (found.pull && config_.on_demand) {
    demand_open_ = false;
    g_object_set (found.pull, elements::ACTIVE, FALSE, nullptr);
    if (found.sink)
      g_object_set (found.sink, elements::SNAPSHOT_WAIT, SNAPSHOT_WAIT_NS, nullptr);
  }

  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline_);
  bus_watch_ = bus_watch (bus, [this] (GstMessage *message) { on_bus_message (message); });
  return true;
}

void
Camera::start ()
{
  std::string error;
  started_us_ = g_get_monotonic_time ();
  if (!build (error)) {
    handle_error (error);
    return;
  }
  g_debug ("camera %s: starting %s", config_.name.c_str (),
      cr::redact_text (config_.line.description ()).c_str ());

  if (gst_element_set_state (pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The element that failed said why on the bus; take the reason from there. */
    g_autoptr (GstMessage) msg = bus_first_error (bus_watch_);
    std::string cause = "the pipeline could not start";
    if (msg) {
      g_autoptr (GError) gerror = nullptr;
      g_autofree gchar *debug = nullptr;
      gst_message_parse_error (msg, &gerror, &debug);
      cause = gerror->message;
      if (debug)
        cause += std::string (" (") + debug + ")";
    }
    handle_error (cause);
    return;
  }
  /* Not on the pipeline's PLAYING message: a live pipeline only gets there once its sinks have
   * data, which without a jpegfallback waits for the camera. */
  std::string state = running_state ();
  set_state (state);
  g_debug ("camera %s: pipeline started, %s", config_.name.c_str (), state.c_str ());
}

/* The state of a running pipeline: jpegfallback's choice, else whether a camera is connected. */
std::string
Camera::running_state () const
{
  GstElement *fallback;
  std::string state;
  {
    std::lock_guard<std::mutex> guard (lock_);
    fallback = ref_or_null (elements_.fallback);
    state = connected_ ? elements::ACTIVE_LIVE : "offline";
  }
  {
    Stats s (fallback);
    if (s) {
      const gchar *active = s.string (Field::FallbackActive);
      state = active ? active : elements::ACTIVE_PLACEHOLDER;
    }
  }
  if (fallback)
    gst_object_unref (fallback);
  return state;
}

void
Camera::teardown ()
{
  GstElement *pipeline = release_pipeline ();
  if (!pipeline)
    return;
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

GstElement *
Camera::release_pipeline (bool keep_counters)
{
  if (!pipeline_)
    return nullptr;
  /* Counters are read while the elements still run: stopping resets some of them. */
  CameraCounters last;
  if (keep_counters)
    add_counters (last);
  /* What a stopped pipeline saw is over. */
  bool moving;
  {
    std::lock_guard<std::mutex> guard (lock_);
    moving = motion_.active;
  }
  if (moving)
    set_motion (false, 0, g_get_real_time ());
  {
    std::lock_guard<std::mutex> guard (lock_);
    base_ += last;
    elements_.clear ();
    connected_ = false;
    peer_.clear ();
    fps_ = 0;
    received_ = 0;
  }
  bus_unwatch (bus_watch_);
  return std::exchange (pipeline_, nullptr);
}

void
Camera::begin_stop ()
{
  stopping_ = true;
  cancel_restart ();
  /* The end of stream ends viewers' responses cleanly; a camera nobody watches needs none, and
   * thousands of idle cameras stop at once without it. */
  if (pipeline_ && !drained ())
    gst_element_send_event (pipeline_, gst_event_new_eos ());
}

bool
Camera::drained () const
{
  GstElement *sink;
  {
    std::lock_guard<std::mutex> guard (lock_);
    sink = ref_or_null (elements_.sink);
  }
  guint viewers = 0;
  Stats (sink).uint (Field::SinkViewers, &viewers);
  if (sink)
    gst_object_unref (sink);
  return viewers == 0;
}

void
Camera::stop (bool keep_viewers)
{
  cancel_restart ();
  if (!keep_viewers)
    let_viewers_go ();
  teardown ();
}

GstElement *
Camera::stop_at_exit ()
{
  cancel_restart ();
  let_viewers_go ();
  /* Nobody reads the counters after this: not read (a stats structure from each element). */
  return release_pipeline (false);
}

void
Camera::cancel_restart ()
{
  if (restart_source_) {
    g_source_remove (restart_source_);
    restart_source_ = 0;
  }
}

/* Nothing comes after this pipeline: its viewers must not wait for one. */
void
Camera::let_viewers_go ()
{
  std::lock_guard<std::mutex> guard (lock_);
  if (elements_.sink)
    g_object_set (elements_.sink, elements::KEEP_VIEWERS, G_GUINT64_CONSTANT (0), nullptr);
}

void
Camera::handle_error (const std::string & raw_cause)
{
  /* GStreamer's messages quote URLs and descriptions; this one reaches the log and /status. */
  const std::string cause = cr::redact_text (raw_cause);
  const guint delay_ms = backoff_.next_ms_after (g_get_monotonic_time () - started_us_);
  g_warning ("camera %s: %s; restarting its pipeline in %u s", config_.name.c_str (),
      cause.c_str (), delay_ms / 1000);
  teardown ();
  {
    std::lock_guard<std::mutex> guard (lock_);
    restarts_++;
    last_error_ = cause;
    last_error_us_ = g_get_real_time ();
  }
  set_state ("restarting");
  if (restart_source_)
    g_source_remove (restart_source_);
  restart_source_ = g_timeout_add (delay_ms, on_restart, this);
}

gboolean
Camera::on_restart (gpointer data)
{
  auto *self = static_cast<Camera *> (data);
  self->restart_source_ = 0;
  g_info ("camera %s: starting its pipeline again", self->config_.name.c_str ());
  self->start ();
  return G_SOURCE_REMOVE;
}

void
Camera::on_bus_message (GstMessage *message)
{
  Camera *self = this;
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) error = nullptr;
      g_autofree gchar *debug = nullptr;
      gst_message_parse_error (message, &error, &debug);
      g_autofree gchar *source = gst_object_get_path_string (GST_MESSAGE_SRC (message));
      std::string cause = std::string (error->message) + " (" + source +
          (debug ? std::string (": ") + debug : "") + ")";
      /* handle_error() removes this watch: no later message of this pipeline reaches us. */
      self->handle_error (cause);
      return;
    }
    case GST_MESSAGE_WARNING: {
      g_autoptr (GError) error = nullptr;
      g_autofree gchar *debug = nullptr;
      gst_message_parse_warning (message, &error, &debug);
      g_warning ("camera %s: %s", self->config_.name.c_str (),
          cr::redact_text (error->message).c_str ());
      break;
    }
    case GST_MESSAGE_EOS:
      if (!self->stopping_)
        self->handle_error ("the pipeline ended (end of stream)");
      return;
    case GST_MESSAGE_ELEMENT:
      self->handle_element_message (message);
      break;
    default:
      break;
  }
}

void
Camera::handle_element_message (GstMessage *message)
{
  const GstStructure *s = gst_message_get_structure (message);
  const char *name = config_.name.c_str ();
  bool have_fallback;
  {
    std::lock_guard<std::mutex> guard (lock_);
    have_fallback = elements_.fallback != nullptr;
  }

  if (gst_structure_has_name (s, elements::MSG_CONNECTED)) {
    const gchar *peer = gst_structure_get_string (s, elements::name (Field::ConnectedPeer));
    const gchar *path = gst_structure_get_string (s, elements::name (Field::ConnectedPath));
    {
      std::lock_guard<std::mutex> guard (lock_);
      connected_ = true;
      peer_ = peer ? peer : "";
    }
    g_info ("camera %s: %s connected on %s", name, peer, path);
    if (!have_fallback)
      set_state (elements::ACTIVE_LIVE);
  } else if (gst_structure_has_name (s, elements::MSG_DISCONNECTED)) {
    const gchar *peer = gst_structure_get_string (s, elements::name (Field::DisconnectedPeer));
    const gchar *reason = gst_structure_get_string (s, elements::name (Field::DisconnectedReason));
    guint code = 0;
    gst_structure_get_uint (s, elements::name (Field::DisconnectedCode), &code);
    bool current;
    {
      /* A camera that took over posts its "connected" before the old one's "disconnected". */
      std::lock_guard<std::mutex> guard (lock_);
      current = peer && peer_ == peer;
      if (current) {
        connected_ = false;
        peer_.clear ();
      }
    }
    g_info ("camera %s: %s disconnected (%u%s%s)", name, peer, code, reason && *reason ? " " : "",
        reason ? reason : "");
    if (current && !have_fallback)
      set_state ("offline");
  } else if (gst_structure_has_name (s, elements::MSG_SWITCHED)) {
    const gchar *active = gst_structure_get_string (s, elements::name (Field::SwitchedActive));
    const gchar *reason = gst_structure_get_string (s, elements::name (Field::SwitchedReason));
    if (!active)
      return;
    set_state (active);
    if (g_str_equal (active, elements::ACTIVE_LIVE) && config_.on_demand)
      set_snapshot_wait (0);
    if (g_str_equal (active, elements::ACTIVE_LIVE))
      g_info ("camera %s: live (%s)", name, reason ? reason : "");
    else
      g_info ("camera %s: showing the placeholder (%s)", name, reason ? reason : "");
  } else if (gst_structure_has_name (s, elements::MSG_WANTED)) {
    on_wanted ();
  } else if (gst_structure_has_name (s, elements::MSG_REJECTED)) {
    handle_rejected (s);
  } else if (gst_structure_has_name (s, elements::MSG_RECORD_STATE)) {
    handle_record_state (s);
  } else if (gst_structure_has_name (s, elements::MSG_MOTION_START)) {
    handle_motion (s, true);
  } else if (gst_structure_has_name (s, elements::MSG_MOTION_END)) {
    handle_motion (s, false);
  } else if (gst_structure_has_name (s, elements::MSG_PULL_STATE)) {
    /* pulljpegsrc posts a state once per change, not once per try: each is worth a line. */
    const gchar *loc = gst_structure_get_string (s, elements::name (Field::PullStateLocation));
    const gchar *state = gst_structure_get_string (s, elements::name (Field::PullStateState));
    const gchar *why = gst_structure_get_string (s, elements::name (Field::PullStateReason));
    std::string location = cr::redact_url (loc ? loc : "");
    std::string reason = cr::redact_text (why ? why : "");
    if (g_strcmp0 (state, elements::PULL_RETRYING) == 0)
      g_warning ("camera %s: source %s failed: %s; retrying (1 s to 30 s apart) until it answers",
          name, location.c_str (), reason.c_str ());
    else
      g_info ("camera %s: source %s %s", name, location.c_str (), state);
  }
}

/* jpegvalidate reports at most once a second per reason; a camera sending garbage for hours
 * still deserves fewer lines than that. */
void
Camera::handle_rejected (const GstStructure *s)
{
  gint64 now = g_get_monotonic_time ();
  guint64 suppressed = 0, size = 0, count = 0;
  gst_structure_get_uint64 (s, elements::name (Field::RejectedSuppressed), &suppressed);
  gst_structure_get_uint64 (s, elements::name (Field::RejectedSize), &size);
  gst_structure_get_uint64 (s, elements::name (Field::RejectedCount), &count);
  if (last_reject_log_us_ && now - last_reject_log_us_ < REJECT_LOG_INTERVAL_US) {
    rejects_unlogged_ += 1 + suppressed;
    return;
  }
  last_reject_log_us_ = now;
  guint64 unlogged = rejects_unlogged_ + suppressed;
  rejects_unlogged_ = 0;
  const gchar *reason = gst_structure_get_string (s, elements::name (Field::RejectedReason));
  const gchar *detail = gst_structure_get_string (s, elements::name (Field::RejectedDetail));
  g_warning ("camera %s: rejected a %" G_GUINT64_FORMAT "-byte frame as %s: %s "
             "(%" G_GUINT64_FORMAT " %s for this reason; %" G_GUINT64_FORMAT
             " rejections not logged since the last line)",
      config_.name.c_str (), size, reason ? reason : "?", detail ? detail : "", count,
      count == 1 ? "frame" : "frames", unlogged);
}

/* jpegrecordsink posts a state once per change (its first frame, a pause and its cause, the
 * frame that ends a pause): each is worth a line. */
void
Camera::handle_record_state (const GstStructure *s)
{
  const gchar *state = gst_structure_get_string (s, elements::name (Field::RecordStateState));
  const gchar *reason = gst_structure_get_string (s, elements::name (Field::RecordStateReason));
  const gchar *location = gst_structure_get_string (s, elements::name (Field::RecordStateLocation));
  const bool paused = g_strcmp0 (state, elements::RECORD_PAUSED) == 0;
  if (paused)
    g_warning ("camera %s: recording to %s paused: %s; the stream goes on, recording resumes "
               "by itself",
        config_.name.c_str (), location, reason ? reason : "");
  else
    g_info ("camera %s: recording to %s", config_.name.c_str (), location);
  /* A recording-error event when it stops writing, not at each new file it fails on. */
  const std::string where = location ? location : "";
  if (!paused) {
    recordings_paused_.erase (where);
  } else if (recordings_paused_.insert (where).second && recording_error_listener_) {
    recording_error_listener_ (reason ? reason : "", where);
  }
}

/* jpegmotion's motion-start and motion-end, from the camera's own element only. */
void
Camera::handle_motion (const GstStructure *s, bool on)
{
  gint64 time_us = g_get_real_time ();
  double area = 0;
  gst_structure_get_int64 (s, elements::name (on ? Field::MotionStartTime : Field::MotionEndTime),
      &time_us);
  gst_structure_get_double (s, elements::name (on ? Field::MotionStartArea : Field::MotionEndArea),
      &area);
  set_motion (on, area, time_us);
}

void
Camera::set_motion (bool on, double area, gint64 time_us)
{
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (motion_.active == on)
      return;
    motion_.active = on;
    motion_.since_us = time_us;
    (on ? motion_.last_start_us : motion_.last_end_us) = time_us;
    if (on || area > 0)
      motion_.last_area = area;
  }
  g_info ("camera %s: motion %s (%.1f%% of the picture)", config_.name.c_str (),
      on ? "started" : "ended", area * 100);
  if (config_.record_motion) {
    /* record = motion: the recording sink keeps its pre-roll until told, and its post-roll. */
    GstElement *record;
    {
      std::lock_guard<std::mutex> guard (lock_);
      record = ref_or_null (elements_.record);
    }
    if (record) {
      g_object_set (record, elements::OPEN, on ? TRUE : FALSE, nullptr);
      gst_object_unref (record);
    }
  }
  if (motion_listener_)
    motion_listener_ (on, area, time_us);
}

void
Camera::sample ()
{
  /* Only the frame counter, and for a camera that pushes only while one is connected (its
   * frames come from nowhere else): a thousand idle cameras are sampled every second. */
  GstElement *src;
  guint64 received;
  const bool pulled = config_.pulled ();
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (pulled)
      src = ref_or_null (elements_.pull);
    else
      src = connected_ ? ref_or_null (elements_.src) : nullptr;
    received = received_;
  }
  const Field frames_field = pulled ? Field::PullFrames : Field::SrcMessages;
  Stats (src).uint64 (frames_field, &received);
  if (src)
    gst_object_unref (src);
  gint64 t = g_get_monotonic_time ();
  guint64 frames;
  {
    std::lock_guard<std::mutex> guard (lock_);
    frames = received + base_.get (frames_field);
  }
  update_demand ();
  samples_.push_back ({ t, frames });
  while (samples_.size () > 2 && t - samples_[1].time_us >= FPS_WINDOW_US)
    samples_.pop_front ();
  double fps = 0;
  const Sample & first = samples_.front ();
  if (samples_.size () >= 2 && t > first.time_us && frames >= first.frames)
    fps = (frames - first.frames) * 1e6 / (t - first.time_us);
  std::lock_guard<std::mutex> guard (lock_);
  fps_ = fps;
  if (pulled ? elements_.pull != nullptr : elements_.src != nullptr)
    received_ = received;
}

/* on-demand: a pulled camera is open while a viewer watches or a snapshot was asked for, and
 * closed DEMAND_LINGER_US after the last one. Main thread, from sample(). */
void
Camera::update_demand ()
{
  if (!config_.on_demand)
    return;
  GstElement *sink;
  {
    std::lock_guard<std::mutex> guard (lock_);
    sink = ref_or_null (elements_.sink);
  }
  guint viewers = 0;
  guint64 snapshots = 0;
  {
    Stats s (sink);
    s.uint (Field::SinkViewers, &viewers);
    s.uint64 (Field::SinkSnapshots, &snapshots);
  }
  if (sink)
    gst_object_unref (sink);
  gint64 now = g_get_monotonic_time ();
  if (viewers > 0 || snapshots != snapshots_seen_)
    last_demand_us_ = now;
  snapshots_seen_ = snapshots;
  bool want = last_demand_us_ && now - last_demand_us_ < DEMAND_LINGER_US;
  if (want != demand_open_)
    open_source (want, want ? "a viewer wants it" : "no viewer for a few seconds");
}

/* on-demand: mjpeghttpsink says a viewer or a snapshot request has just come (before serving
 * it): the camera opens now rather than at the next sample. Main thread (bus watch). */
void
Camera::on_wanted ()
{
  if (!config_.on_demand)
    return;
  last_demand_us_ = g_get_monotonic_time ();
  if (!demand_open_)
    open_source (true, "a viewer wants it");
}

void
Camera::open_source (bool open, const char *why)
{
  GstElement *pull;
  {
    std::lock_guard<std::mutex> guard (lock_);
    pull = ref_or_null (elements_.pull);
  }
  if (!pull)
    return;
  demand_open_ = open;
  g_info ("camera %s: %s the source (%s)", config_.name.c_str (), open ? "opening" : "closing",
      why);
  /* Closed: the next snapshot waits for the first frame of the camera it opens. */
  if (!open)
    set_snapshot_wait (SNAPSHOT_WAIT_NS);
  g_object_set (pull, elements::ACTIVE, open ? TRUE : FALSE, nullptr);
  gst_object_unref (pull);
}

void
Camera::set_snapshot_wait (guint64 ns)
{
  GstElement *sink;
  {
    std::lock_guard<std::mutex> guard (lock_);
    sink = ref_or_null (elements_.sink);
  }
  if (!sink)
    return;
  g_object_set (sink, elements::SNAPSHOT_WAIT, ns, nullptr);
  gst_object_unref (sink);
}

std::vector<guint>
Camera::bound_ports () const
{
  std::vector<guint> ports;
  std::lock_guard<std::mutex> guard (lock_);
  for (GstElement *e : { elements_.src, elements_.sink }) {
    guint port = 0;
    if (e)
      g_object_get (e, elements::BOUND_PORT, &port, nullptr);
    ports.push_back (port);
  }
  return ports;
}

}  // namespace camrelay
