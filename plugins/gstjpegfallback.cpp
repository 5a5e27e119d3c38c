/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegfallback, a live JPEG stream with a placeholder picture for when it stalls. */

/**
 * SECTION:element-jpegfallback
 * @title: jpegfallback
 *
 * jpegfallback passes a live JPEG stream through untouched and shows a placeholder
 * picture while the stream is absent: from start-up until the first live frame, and
 * again whenever no live frame has arrived for #CrJpegFallback:timeout.
 *
 * Live frames are never decoded, copied or queued: the element's sink pad feeds an
 * input-selector directly, and the switch to the live input happens in a pad probe
 * before the first live frame reaches the selector, so that frame itself comes out.
 *
 * The placeholder is a still JPEG file, read and checked once per file for the whole
 * process (elements showing the same file share its bytes: crplaceholdercache). Its
 * branch is made of registered elements whose caps say what flows at every pad, and
 * which can be written out in gst-launch-1.0 as they are used here:
 * |[
 * stillframesrc ! imagefreeze is-live=true ! stilljpeg location=FILE framerate=FPS/1 !
 * input-selector.sink_1
 * ]|
 * stillframesrc (no thread of its own) hands imagefreeze one 1x1 GRAY8 raw frame when it
 * starts playing (and again after a flush); imagefreeze repeats it at
 * #CrJpegFallback:placeholder-fps and is the placeholder's clock; stilljpeg turns each
 * tick into the placeholder JPEG, a read-only memory over the shared bytes stamped with
 * the tick's timestamps, its src caps image/jpeg with the picture's width, height and
 * framerate (placeholder-fps). Nothing is decoded or encoded per frame.
 *
 * Threads. A downstream element that knows whether anybody watches (mjpeghttpsink) may
 * send an upstream custom event "camrelay-viewers" with a guint field "viewers" (and a
 * string "sender" where several sinks say it, behind a tee: their numbers are added up).
 * imagefreeze and stillframesrc, and with them imagefreeze's streaming thread, run only
 * while the placeholder shows, the element is PLAYING and that event has not said 0: a
 * camera nobody watches holds no thread for its placeholder, from its start on, and a
 * viewer coming starts the repetition. Without such an event (any other downstream) the
 * placeholder is repeated all the time. They are started and stopped by a pooled thread
 * or the one changing the element's state, never by a streaming thread.
 *
 * What becomes of imagefreeze's ticks is stilljpeg's to carry out: its drop property,
 * which the element sets under its lock whenever what is shown changes, refuses them
 * (FLUSHING, so imagefreeze's loop pauses itself) while live frames are output, while
 * nobody watches, outside PLAYING and while imagefreeze is being stopped; and stilljpeg
 * drops a tick stamped no later than the last picture it sent.
 *
 * The placeholder also goes out once at the start, after each switch to it and after a
 * flush, for the sink to keep (snapshots, the next viewer's first frame) and to show at
 * the very moment of a switch: stilljpeg's "push-picture" action, called by a pooled
 * thread, sends it from stilljpeg's src pad. Not from imagefreeze's thread, because a
 * camera nobody watches must not start one; not from stillframesrc's push, because
 * imagefreeze in between only stores what it gets. push-picture holds stilljpeg's sink
 * pad stream lock while it pushes, as a tick's chain call does: the frame never lands
 * between a tick's events and its buffer, and the frames reach the selector in the
 * order they took that lock (tested: JpegFallback.PlaceholderWithoutRepeatsLeavesThroughStillJpeg,
 * Still.PushPictureWaitsForATickOnItsWayOut).
 *
 * Pad probes observe (flushes and imagefreeze's first SEGMENT around imagefreeze),
 * count and switch the selector (live frames), end the stream (live EOS) and take the
 * viewers event; none waits, none drops a buffer and none touches caps.
 *
 * imagefreeze 1.22 divides by its frame rate in its loop while its PAUSED->READY zeroes
 * it: imagefreeze is stopped only once its first SEGMENT is out and its loop has paused
 * itself on a refused tick (or is parked on the clock).
 *
 * The timeout is a single clock wait on the pipeline clock at (newest arrival +
 * timeout), re-armed when it fires after a newer frame, so a camera sending
 * thousands of frames a second costs no clock traffic.
 *
 * Every switch posts an element message "jpegfallback-switched" with the fields
 * active ("live" or "placeholder"), reason ("first-frame", "timeout", "resumed",
 * or "end-of-stream": the live input ended while the placeholder showed),
 * running-time (guint64, ns) and switches (guint64, total so far), and notifies
 * #CrJpegFallback:active.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 wsjpegsrc ! jpegvalidate ! \
 *     jpegfallback placeholder=placeholder.jpg timeout=3000000000 ! \
 *     multipartmux ! mjpeghttpsink
 * ]| Serves the camera's frames, and placeholder.jpg once a second whenever the
 * camera has sent nothing for three seconds.
 */

#include "gstjpegfallback.h"
#include "crpipelinesettled.h"
#include "crplaceholdercache.h"
#include "gstcamrelayelements.h"
#include "crstatsquarks.h"
#include "gststillframesrc.h"
#include "gststilljpeg.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <string>

#define DEFAULT_PLACEHOLDER     "placeholder.jpg"
#define DEFAULT_PLACEHOLDER_FPS 1
#define MIN_PLACEHOLDER_FPS     1
#define MAX_PLACEHOLDER_FPS     30
#define DEFAULT_TIMEOUT         (5 * GST_SECOND)
#define MIN_TIMEOUT             GST_MSECOND
/* Keeps last arrival + timeout inside a GstClockTime. */
#define MAX_TIMEOUT ((guint64) G_MAXINT64)

enum
{
  PROP_0,
  PROP_PLACEHOLDER,
  PROP_PLACEHOLDER_FPS,
  PROP_TIMEOUT,
  PROP_ACTIVE,
  PROP_STATS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

#define VIEWERS_EVENT "camrelay-viewers"

GST_DEBUG_CATEGORY_STATIC (cr_jpeg_fallback_debug);
#define GST_CAT_DEFAULT cr_jpeg_fallback_debug

namespace {

/* What the user configured. */
struct Settings
{
  std::string placeholder = DEFAULT_PLACEHOLDER;
  guint placeholder_fps = DEFAULT_PLACEHOLDER_FPS;
  GstClockTime timeout = DEFAULT_TIMEOUT;
};

/* What happened since READY→PAUSED; reset there. */
struct State
{
  CrJpegFallbackActive active = CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER;
  bool seen_live = false;
  /* Clock time of the newest live frame. */
  GstClockTime last_arrival = GST_CLOCK_TIME_NONE;
  /* The one pending wait at last_arrival + timeout, or nullptr. */
  GstClockID timeout_id = nullptr;

  /* What downstream said about viewers ("camrelay-viewers"); unknown = somebody. Several
   * sinks behind a tee may say it (mjpeghttpsink, h264relaysink): by "sender", summed. */
  bool viewers_known = false;
  guint viewers = 0;
  std::map<std::string, guint> viewers_by_sender;
  /* The placeholder went out once (push-picture) since the last switch to it or flush. */
  bool placeholder_out = false;
  /* Between PAUSED->PLAYING and PLAYING->PAUSED: the placeholder may go out. */
  bool playing = false;
  /* PAUSED->READY has begun: nothing more goes out, imagefreeze stops. */
  bool stopping = false;
  /* Between FLUSH_START and FLUSH_STOP on imagefreeze's output: nothing goes out once. */
  bool flushing = false;
  /* imagefreeze was handed the placeholder and has not yet sent its SEGMENT: its loop is in the
   * stretch where it reads its frame rate without checking whether it is stopping, and
   * imagefreeze's own PAUSED->READY zeroes that rate (see wait_for_freeze_segment). */
  bool segment_owed = false;

  guint64 switches = 0;
  guint64 live_frames = 0;
  /* Running time the current placeholder stretch began, NONE while live. */
  GstClockTime placeholder_since = 0;
  /* Sum of the finished placeholder stretches. */
  GstClockTime placeholder_total = 0;
};

}  // namespace

struct CrJpegFallbackPrivate
{
  /* One lock for settings and state. Lock order: this lock, then input-selector's
   * own locks (its active pad is set under this lock, so that the decision and the
   * switch are one step), then the clock's (ids are created, waited on and
   * unscheduled under this lock). Neither calls back into this element with its
   * locks held: pad probes run before input-selector's chain function and clock
   * callbacks run with the clock unlocked. */
  std::mutex lock;
  /* imagefreeze's first SEGMENT went out (see wait_for_freeze_segment). */
  std::condition_variable segment_sent;
  Settings settings;
  State state;
  /* imagefreeze and stillframesrc are started: imagefreeze repeats the still frame. */
  bool repeating = false;
  /* stilljpeg passes imagefreeze's ticks (its drop property is FALSE): while repeating and
   * repeats are wanted (sync_gate_locked). */
  bool gate_open = false;
  /* The gate closed while imagefreeze ran: its loop may have paused itself on a refused tick, so
   * it is started afresh before it repeats again. */
  bool spoiled = false;
  /* A pooled thread is on its way to run update_placeholder(). */
  bool update_queued = false;
  /* Held by update_placeholder(): imagefreeze starts and stops, and single placeholder frames
   * go out, one at a time. Taken before lock. */
  std::mutex update_lock;

  /* Children, made in init and never replaced: read without the lock. */
  GstElement *selector = nullptr;
  GstElement *freeze = nullptr;
  /* Hands imagefreeze the raw still frame it repeats (the placeholder's clock) when it starts
   * playing; started and stopped with imagefreeze. */
  GstElement *tick_src = nullptr;
  /* Turns each of imagefreeze's ticks into the placeholder picture, drops them while no repeat is
   * wanted, and sends the picture once on request (stilljpeg). */
  GstElement *picture = nullptr;
  GstPad *live_pad = nullptr;
  GstPad *placeholder_pad = nullptr;
  /* FALSE when a GStreamer element jpegfallback needs is not installed. */
  bool complete = false;
  /* Why the children could not be linked, or empty: reported at NULL→READY. */
  std::string link_error;
};

struct _CrJpegFallback
{
  GstBin parent;
  CrJpegFallbackPrivate *priv;
};

G_DEFINE_TYPE (CrJpegFallback, cr_jpeg_fallback, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (jpegfallback, "jpegfallback", GST_RANK_NONE, CR_TYPE_JPEG_FALLBACK);

static void cr_jpeg_fallback_finalize (GObject *object);
static void cr_jpeg_fallback_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_jpeg_fallback_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_jpeg_fallback_change_state (GstElement *element,
    GstStateChange transition);
static void build_children (CrJpegFallback *self);

GType
cr_jpeg_fallback_active_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER, "The placeholder picture is output", "placeholder" },
    { CR_JPEG_FALLBACK_ACTIVE_LIVE, "Live frames are passed through", "live" },
    { 0, nullptr, nullptr },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("CrJpegFallbackActive", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void
cr_jpeg_fallback_class_init (CrJpegFallbackClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (cr_jpeg_fallback_debug, "jpegfallback", 0,
      "camrelay live JPEG stream with a placeholder picture");

  gobject_class->finalize = cr_jpeg_fallback_finalize;
  gobject_class->set_property = cr_jpeg_fallback_set_property;
  gobject_class->get_property = cr_jpeg_fallback_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_jpeg_fallback_change_state);

  properties[PROP_PLACEHOLDER] = g_param_spec_string ("placeholder", "Placeholder",
      "Path of the JPEG file shown while no live frame arrives; it is read and "
      "checked when the element starts",
      DEFAULT_PLACEHOLDER,
      (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  properties[PROP_PLACEHOLDER_FPS] = g_param_spec_uint ("placeholder-fps", "Placeholder FPS",
      "Frames per second at which the placeholder picture is repeated", MIN_PLACEHOLDER_FPS,
      MAX_PLACEHOLDER_FPS, DEFAULT_PLACEHOLDER_FPS,
      (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  properties[PROP_TIMEOUT] = g_param_spec_uint64 ("timeout", "Timeout",
      "Nanoseconds without a live frame after which the placeholder is shown; "
      "a change applies to the deadline already pending",
      MIN_TIMEOUT, MAX_TIMEOUT, DEFAULT_TIMEOUT,
      (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  properties[PROP_ACTIVE] = g_param_spec_enum ("active", "Active",
      "Which input is output: the placeholder (from start-up until the first "
      "live frame, and after a timeout) or live",
      CR_TYPE_JPEG_FALLBACK_ACTIVE, CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER,
      (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "A \"jpegfallback-stats\" structure: switches, time-on-placeholder (ns, "
      "including the current stretch), live-frames, placeholder-frames and "
      "active (\"live\" or \"placeholder\")",
      GST_TYPE_STRUCTURE, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  gst_element_class_set_static_metadata (element_class, "JPEG stream with placeholder fallback",
      "Filter/Video",
      "Passes live JPEG frames through untouched and repeats a placeholder "
      "picture while they stop arriving",
      "camrelay");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  gst_type_mark_as_plugin_api (CR_TYPE_JPEG_FALLBACK_ACTIVE, (GstPluginAPIFlags) 0);
}

static void
cr_jpeg_fallback_init (CrJpegFallback *self)
{
  self->priv = new CrJpegFallbackPrivate ();
  build_children (self);
}

static void
cr_jpeg_fallback_finalize (GObject *object)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (object);

  g_clear_object (&self->priv->live_pad);
  g_clear_object (&self->priv->placeholder_pad);
  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (cr_jpeg_fallback_parent_class)->finalize (object);
}

/* ---------------------------------------------------------------- helpers */

static const gchar *
active_nick (CrJpegFallbackActive active)
{
  return active == CR_JPEG_FALLBACK_ACTIVE_LIVE ? "live" : "placeholder";
}

static GstClockTime
deadline_of (GstClockTime last_arrival, GstClockTime timeout)
{
  return last_arrival + timeout;
}

/* The camera counts as live while its newest frame is younger than @timeout. */
static bool
live_is_healthy (GstClockTime last_arrival, GstClockTime timeout, GstClockTime now)
{
  return GST_CLOCK_TIME_IS_VALID (last_arrival) && GST_CLOCK_TIME_IS_VALID (now) &&
      now < deadline_of (last_arrival, timeout);
}

static GstClockTime
running_time_of (GstClockTime clock_time, GstClockTime base_time)
{
  if (!GST_CLOCK_TIME_IS_VALID (clock_time) || clock_time < base_time)
    return GST_CLOCK_TIME_NONE;
  return clock_time - base_time;
}

/* Running time now, or NONE outside PLAYING (base time is not meaningful there). */
static GstClockTime
current_running_time (CrJpegFallback *self)
{
  GstElement *element = GST_ELEMENT (self);

  GST_OBJECT_LOCK (self);
  bool playing = GST_STATE (element) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK (self);
  if (!playing)
    return GST_CLOCK_TIME_NONE;

  g_autoptr (GstClock) clock = gst_element_get_clock (element);
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  return running_time_of (gst_clock_get_time (clock), gst_element_get_base_time (element));
}

static gboolean on_timeout (GstClock *clock, GstClockTime time, GstClockID id, gpointer user_data);
static void queue_update_locked (CrJpegFallback *self);

static void
arm_timeout_locked (CrJpegFallback *self, GstClock *clock, GstClockTime deadline)
{
  State & st = self->priv->state;
  GstClockID id = gst_clock_new_single_shot_id (clock, deadline);

  /* The wait holds a reference on the element until the id is freed. */
  GstClockReturn ret = gst_clock_id_wait_async (id, on_timeout, gst_object_ref (self),
      (GDestroyNotify) gst_object_unref);
  if (ret != GST_CLOCK_OK) {
    GST_WARNING_OBJECT (self, "could not wait for %" GST_TIME_FORMAT ": %d",
        GST_TIME_ARGS (deadline), ret);
    gst_clock_id_unref (id);
    return;
  }
  st.timeout_id = id;
}

static void
cancel_timeout_locked (State & st)
{
  if (!st.timeout_id)
    return;
  gst_clock_id_unschedule (st.timeout_id);
  gst_clock_id_unref (st.timeout_id);
  st.timeout_id = nullptr;
}

/* Switches the selector and returns the element message announcing it. */
static GstMessage *
switch_to_locked (CrJpegFallback *self, CrJpegFallbackActive target, const gchar *reason,
    GstClockTime running_time)
{
  CrJpegFallbackPrivate *priv = self->priv;
  State & st = priv->state;

  g_object_set (priv->selector, "active-pad",
      target == CR_JPEG_FALLBACK_ACTIVE_LIVE ? priv->live_pad : priv->placeholder_pad, nullptr);

  if (target == CR_JPEG_FALLBACK_ACTIVE_LIVE) {
    if (GST_CLOCK_TIME_IS_VALID (st.placeholder_since) && GST_CLOCK_TIME_IS_VALID (running_time) &&
        running_time > st.placeholder_since)
      st.placeholder_total += running_time - st.placeholder_since;
    st.placeholder_since = GST_CLOCK_TIME_NONE;
  } else {
    st.placeholder_since = running_time;
    st.placeholder_out = false;
  }
  st.active = target;
  st.switches++;

  GST_INFO_OBJECT (self, "switched to %s (%s) at %" GST_TIME_FORMAT, active_nick (target), reason,
      GST_TIME_ARGS (running_time));

  GstStructure *s = gst_structure_new ("jpegfallback-switched", "active", G_TYPE_STRING,
      active_nick (target), "reason", G_TYPE_STRING, reason, "running-time", G_TYPE_UINT64,
      (guint64) running_time, "switches", G_TYPE_UINT64, st.switches, nullptr);
  return gst_message_new_element (GST_OBJECT (self), s);
}

/* Called with no lock held. */
static void
announce_switch (CrJpegFallback *self, GstMessage *message)
{
  gst_element_post_message (GST_ELEMENT (self), message);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATS]);
}

/* Fires at last arrival + timeout, possibly late, possibly after newer frames. */
static gboolean
on_timeout (GstClock *clock, GstClockTime time, GstClockID id, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  GstClockTime now = gst_clock_get_time (clock);
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (self));
  GstMessage *message = nullptr;

  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    State & st = self->priv->state;
    GstClockTime timeout = self->priv->settings.timeout;

    /* Cancelled or replaced while this callback was on its way. */
    if (id != st.timeout_id)
      return TRUE;
    gst_clock_id_unref (st.timeout_id);
    st.timeout_id = nullptr;

    if (live_is_healthy (st.last_arrival, timeout, now)) {
      arm_timeout_locked (self, clock, deadline_of (st.last_arrival, timeout));
    } else if (st.active == CR_JPEG_FALLBACK_ACTIVE_LIVE) {
      message = switch_to_locked (self, CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER, "timeout",
          running_time_of (now, base_time));
      queue_update_locked (self);
    }
  }

  if (message)
    announce_switch (self, message);
  return TRUE;
}

/* Runs for every live frame before input-selector sees it, so a switch to the
 * live input takes effect for this very frame. Kept short: it is the hot path. */
static GstPadProbeReturn
on_live_data (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  guint frames = 1;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    frames = gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime now = clock ? gst_clock_get_time (clock) : GST_CLOCK_TIME_NONE;
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (self));
  GstMessage *message = nullptr;

  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    State & st = self->priv->state;

    st.live_frames += frames;
    st.last_arrival = now;
    if (st.active != CR_JPEG_FALLBACK_ACTIVE_LIVE) {
      message = switch_to_locked (self, CR_JPEG_FALLBACK_ACTIVE_LIVE,
          st.seen_live ? "resumed" : "first-frame", running_time_of (now, base_time));
      st.seen_live = true;
      queue_update_locked (self);
    }
    /* Never re-armed per frame: a pending wait re-arms itself when it fires. */
    if (!st.timeout_id && clock && GST_CLOCK_TIME_IS_VALID (now))
      arm_timeout_locked (self, clock, deadline_of (now, self->priv->settings.timeout));
  }

  if (message)
    announce_switch (self, message);
  return GST_PAD_PROBE_OK;
}

/* The live stream ending means the element's stream ends. input-selector forwards EOS only from
 * its active pad, and then blocks that pad's thread until every input is EOS; the placeholder
 * branch never ends by itself. So: make the live pad active, and end the placeholder input too,
 * from another thread because that EOS blocks until the live one has arrived. Otherwise an EOS sent
 * to the pipeline while the placeholder shows (gst-launch-1.0 -e, an application stopping) would
 * never come out, or would hang the camera's thread. */
static GstPadProbeReturn
on_live_event (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  GST_DEBUG_OBJECT (self, "live stream ended: ending the output");
  GstClockTime running_time = current_running_time (self);
  GstMessage *message = nullptr;
  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    State & st = self->priv->state;
    /* The stream is over: no timeout may switch back to the placeholder now. */
    cancel_timeout_locked (st);
    if (st.active != CR_JPEG_FALLBACK_ACTIVE_LIVE) {
      message =
          switch_to_locked (self, CR_JPEG_FALLBACK_ACTIVE_LIVE, "end-of-stream", running_time);
      queue_update_locked (self);
    }
  }
  if (message)
    announce_switch (self, message);
  gst_element_call_async (
      GST_ELEMENT (self),
      [] (GstElement *element, gpointer) {
        CrJpegFallback *fallback = CR_JPEG_FALLBACK (element);
        gst_pad_send_event (fallback->priv->placeholder_pad, gst_event_new_eos ());
      },
      nullptr, nullptr);
  return GST_PAD_PROBE_OK;
}

/* Flushes through imagefreeze's output, either way: observed, never changed. After a flush,
 * downstream has lost the placeholder it held: it goes out again, once if nobody watches
 * (update_placeholder), and stillframesrc feeds a running imagefreeze again by itself. */
static GstPadProbeReturn
on_freeze_flush (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  GstEventType type = GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info));
  if (type == GST_EVENT_FLUSH_START) {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->state.flushing = true;
  } else if (type == GST_EVENT_FLUSH_STOP) {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->state.flushing = false;
    self->priv->state.placeholder_out = false;
    /* stillframesrc feeds imagefreeze again (if it runs): a first pass is on its way. */
    self->priv->state.segment_owed = self->priv->repeating;
    queue_update_locked (self);
  }
  return GST_PAD_PROBE_OK;
}

/* imagefreeze's SEGMENT ends the stretch wait_for_freeze_segment waits out. */
static GstPadProbeReturn
on_freeze_segment (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_SEGMENT) {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    self->priv->state.segment_owed = false;
    self->priv->segment_sent.notify_all ();
  }
  return GST_PAD_PROBE_OK;
}

/* Downstream tells how many viewers there are (see the element's description). */
static GstPadProbeReturn
on_upstream_event (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_UPSTREAM ||
      !gst_event_has_name (event, VIEWERS_EVENT))
    return GST_PAD_PROBE_OK;
  guint viewers = 0;
  const GstStructure *s = gst_event_get_structure (event);
  if (gst_structure_get_uint (s, "viewers", &viewers)) {
    const gchar *sender = gst_structure_get_string (s, "sender");
    std::lock_guard<std::mutex> guard (self->priv->lock);
    State & st = self->priv->state;
    st.viewers_known = true;
    st.viewers_by_sender[sender ? sender : ""] = viewers;
    st.viewers = 0;
    for (const auto & [who, n] : st.viewers_by_sender)
      st.viewers += n;
    viewers = st.viewers;
    queue_update_locked (self);
    GST_DEBUG_OBJECT (self, "%u viewer(s)", viewers);
  }
  return GST_PAD_PROBE_DROP;
}

static GstStructure *
make_stats (CrJpegFallback *self)
{
  GstClockTime now = current_running_time (self);
  /* Every placeholder frame leaves through stilljpeg: its ticks and the single ones. */
  guint64 placeholder_frames = 0;
  if (self->priv->picture)
    g_object_get (self->priv->picture, "frames-out", &placeholder_frames, nullptr);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  const State & st = self->priv->state;

  GstClockTime on_placeholder = st.placeholder_total;
  if (st.active == CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER &&
      GST_CLOCK_TIME_IS_VALID (st.placeholder_since) && GST_CLOCK_TIME_IS_VALID (now) &&
      now > st.placeholder_since)
    on_placeholder += now - st.placeholder_since;

  /* Names interned once: applications poll this for thousands of cameras (crstatsquarks.h). */
  enum
  {
    SWITCHES,
    TIME_ON_PLACEHOLDER,
    LIVE_FRAMES,
    PLACEHOLDER_FRAMES,
    ACTIVE,
    N_FIELDS
  };
  static const cr::StatsQuarks<N_FIELDS> q ("jpegfallback-stats",
      { "switches", "time-on-placeholder", "live-frames", "placeholder-frames", "active" });
  return gst_structure_new_id (q.name, q[SWITCHES], G_TYPE_UINT64, st.switches,
      q[TIME_ON_PLACEHOLDER], G_TYPE_UINT64, (guint64) on_placeholder, q[LIVE_FRAMES],
      G_TYPE_UINT64, st.live_frames, q[PLACEHOLDER_FRAMES], G_TYPE_UINT64, placeholder_frames,
      q[ACTIVE], G_TYPE_STRING, active_nick (st.active), nullptr);
}

static GstElement *
make_child (CrJpegFallback *self, const gchar *factory, const gchar *name)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    GST_ERROR_OBJECT (self, "GStreamer element '%s' is not installed", factory);
  return e;
}

static void
add_ghost_pad (CrJpegFallback *self, const gchar *name, GstPad *target)
{
  GstPadTemplate *templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self), name);
  GstPad *ghost = target ? gst_ghost_pad_new_from_template (name, target, templ)
                         : gst_ghost_pad_new_no_target_from_template (name, templ);
  gst_element_add_pad (GST_ELEMENT (self), ghost);
}

/* Links @a's src pad to @b's sink pad, or says why not in @why. */
static bool
link_children (GstElement *a, GstElement *b, std::string & why)
{
  g_autoptr (GstPad) src = gst_element_get_static_pad (a, "src");
  g_autoptr (GstPad) sink = gst_element_get_static_pad (b, "sink");
  GstPadLinkReturn link = src && sink ? gst_pad_link (src, sink) : GST_PAD_LINK_NOFORMAT;
  if (GST_PAD_LINK_FAILED (link)) {
    why = std::string ("could not link ") + GST_OBJECT_NAME (a) + " to " + GST_OBJECT_NAME (b) +
        ": " + gst_pad_link_get_name (link);
    return false;
  }
  return true;
}

/* selector.sink_0 <- sink ghost pad: live frames, untouched
 * selector.sink_1 <- stilljpeg <- imagefreeze <- stillframesrc: the placeholder picture, once per
 *                    tick of imagefreeze repeating a 1x1 raw frame, and once by push-picture
 * Returns FALSE with @why set when a link fails: the element must not run
 * half-linked. */
static bool
assemble_children (CrJpegFallback *self, GstElement *selector, GstElement *freeze,
    std::string & why)
{
  CrJpegFallbackPrivate *priv = self->priv;
  GstElement *tick_src =
      GST_ELEMENT (g_object_new (CR_TYPE_STILL_FRAME_SRC, "name", "placeholder-still", nullptr));
  GstElement *picture =
      GST_ELEMENT (g_object_new (CR_TYPE_STILL_JPEG, "name", "placeholder-picture", nullptr));

  /* Inactive input dropped at once, never held back to sync with the active one. */
  g_object_set (selector, "sync-streams", FALSE, "cache-buffers", FALSE, nullptr);
  g_object_set (freeze, "is-live", TRUE, nullptr);
  /* Started and stopped by the element itself (update_placeholder): imagefreeze holds a thread,
   * stillframesrc feeds it when it starts. */
  gst_element_set_locked_state (freeze, TRUE);
  gst_element_set_locked_state (tick_src, TRUE);
  /* Nothing repeats until update_placeholder starts imagefreeze. */
  g_object_set (picture, "drop", TRUE, nullptr);
  gst_bin_add_many (GST_BIN (self), selector, tick_src, freeze, picture, nullptr);
  /* stillframesrc and imagefreeze made the bin look like a source; from outside it is a filter. */
  GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_SOURCE);
  priv->selector = selector;
  priv->freeze = freeze;
  priv->tick_src = tick_src;
  priv->picture = picture;

  priv->live_pad = gst_element_request_pad_simple (selector, "sink_%u");
  priv->placeholder_pad = gst_element_request_pad_simple (selector, "sink_%u");
  if (!priv->live_pad || !priv->placeholder_pad) {
    why = "input-selector gave no sink pad";
    return false;
  }
  if (!link_children (tick_src, freeze, why) || !link_children (freeze, picture, why))
    return false;
  g_autoptr (GstPad) picture_src = gst_element_get_static_pad (picture, "src");
  GstPadLinkReturn link = gst_pad_link (picture_src, priv->placeholder_pad);
  if (GST_PAD_LINK_FAILED (link)) {
    why =
        std::string ("could not link stilljpeg to input-selector: ") + gst_pad_link_get_name (link);
    return false;
  }

  g_autoptr (GstPad) freeze_src = gst_element_get_static_pad (freeze, "src");
  gst_pad_add_probe (priv->live_pad,
      (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST), on_live_data,
      self, nullptr);
  gst_pad_add_probe (priv->live_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_live_event, self,
      nullptr);
  gst_pad_add_probe (freeze_src, GST_PAD_PROBE_TYPE_EVENT_FLUSH, on_freeze_flush, self, nullptr);
  gst_pad_add_probe (freeze_src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_freeze_segment, self,
      nullptr);

  g_autoptr (GstPad) selector_src = gst_element_get_static_pad (selector, "src");
  gst_pad_add_probe (selector_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream_event, self,
      nullptr);
  add_ghost_pad (self, "sink", priv->live_pad);
  add_ghost_pad (self, "src", selector_src);
  return true;
}

/* A missing GStreamer plugin, or children that do not link, leave the element
 * unusable but harmless: it fails NULL→READY with an error saying so. */
static void
build_children (CrJpegFallback *self)
{
  GstElement *selector = make_child (self, "input-selector", "selector");
  GstElement *freeze = make_child (self, "imagefreeze", "placeholder-freeze");
  GstElement *all[] = { selector, freeze };

  bool complete = true;
  for (GstElement *e : all)
    complete = complete && e;
  if (complete) {
    std::string why;
    if (assemble_children (self, selector, freeze, why)) {
      self->priv->complete = true;
      return;
    }
    GST_ERROR_OBJECT (self, "%s", why.c_str ());
    self->priv->link_error = why;
  } else {
    for (GstElement *e : all)
      if (e)
        gst_object_unref (gst_object_ref_sink (e));
  }
  add_ghost_pad (self, "sink", nullptr);
  add_ghost_pad (self, "src", nullptr);
}

/* ------------------------------------------------------ placeholder check */

/* Checks the placeholder file (or finds it in the process-wide cache, crplaceholdercache) and
 * hands it to stilljpeg, which takes it from the cache when it starts. Posts an error naming the
 * path and returns FALSE when it cannot be used. */
static gboolean
prepare_placeholder (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  std::string path;
  guint fps;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    path = priv->settings.placeholder;
    fps = priv->settings.placeholder_fps;
  }

  cr::PlaceholderImage p = cr::load_placeholder (path);
  if (!p.image) {
    cr::post_placeholder_error (GST_ELEMENT (self), p);
    return FALSE;
  }
  if (p.read_now)
    GST_INFO_OBJECT (self, "placeholder %s: %ux%u, %" G_GSIZE_FORMAT " bytes", path.c_str (),
        p.width, p.height, p.size);
  gst_buffer_unref (p.image);
  g_object_set (priv->picture, "location", path.c_str (), "framerate", (gint) fps, 1, nullptr);
  return TRUE;
}

/* ------------------------------------------------ placeholder out, repeated */

/* The running time now (also while the element is on its way to PLAYING), or NONE. */
static GstClockTime
running_time_now (CrJpegFallback *self)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock)
    return GST_CLOCK_TIME_NONE;
  return running_time_of (gst_clock_get_time (clock),
      gst_element_get_base_time (GST_ELEMENT (self)));
}

/* One placeholder frame out without imagefreeze (stilljpeg's push-picture, from this pooled
 * thread): what a camera nobody watches shows to the sink (a snapshot, the next viewer's first
 * frame), and the picture at the moment of a switch, before imagefreeze's first tick. */
static void
push_placeholder_once (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  GstClockTime now = running_time_now (self);
  GstClockTime pts;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    /* Stamped when the placeholder's stretch began (the start, or the switch), not when this
     * thread got to it: a live frame that arrived meanwhile is stamped earlier than now, and a
     * muxer downstream that began its segment with this frame (multipartmux does) would clip it
     * (under gst-launch the camera's first frame lost its part header that way). stilljpeg drops
     * imagefreeze's ticks stamped no later than this one: they repeat it. */
    GstClockTime since = priv->state.placeholder_since;
    pts = GST_CLOCK_TIME_IS_VALID (since) && (!GST_CLOCK_TIME_IS_VALID (now) || since <= now)
        ? since
        : now;
  }
  GstFlowReturn ret = cr_still_jpeg_push_picture (CR_STILL_JPEG (priv->picture), pts);
  GST_DEBUG_OBJECT (self, "placeholder out once: %s", gst_flow_get_name (ret));
}

static void quiesce_freeze (CrJpegFallback *self);

static void sync_gate_locked (CrJpegFallback *self);

/* imagefreeze, then stillframesrc, which hands it the still frame as it starts playing. */
static void
start_repeat (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  GST_DEBUG_OBJECT (self, "repeating the placeholder");
  if (gst_element_set_state (priv->freeze, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GST_WARNING_OBJECT (self, "imagefreeze did not start");
    gst_element_set_state (priv->freeze, GST_STATE_READY);
    return;
  }
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->repeating = true;
    priv->spoiled = false;
    priv->state.segment_owed = true;
    sync_gate_locked (self);
  }
  if (gst_element_set_state (priv->tick_src, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    GST_WARNING_OBJECT (self, "stillframesrc did not start");
}

static void
stop_repeat (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  GST_DEBUG_OBJECT (self, "no longer repeating the placeholder");
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->repeating = false;
    sync_gate_locked (self);
  }
  /* No more still frames (a flush would send one): then imagefreeze's streaming thread ends (its
   * wait on the clock is unscheduled). */
  gst_element_set_state (priv->tick_src, GST_STATE_READY);
  quiesce_freeze (self);
  gst_element_set_state (priv->freeze, GST_STATE_READY);
  std::lock_guard<std::mutex> guard (priv->lock);
  priv->spoiled = false;
}

/* Whether imagefreeze should run now. */
static bool
repeat_wanted_locked (const State & st)
{
  return st.playing && !st.stopping && st.active == CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER &&
      !(st.viewers_known && st.viewers == 0);
}

/* Whether the placeholder must go out once now (imagefreeze not running to do it). */
static bool
once_wanted_locked (const CrJpegFallbackPrivate *priv)
{
  const State & st = priv->state;
  return st.playing && !st.stopping && !st.flushing &&
      st.active == CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER && !st.placeholder_out &&
      !(priv->repeating && priv->gate_open && !priv->spoiled);
}

/* stilljpeg passes imagefreeze's ticks exactly while imagefreeze runs and repeats are wanted; the
 * decision is made here, under the lock, and carried out by stilljpeg's drop property, which
 * refuses ticks so that imagefreeze's loop pauses itself. */
static void
sync_gate_locked (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  bool open = priv->repeating && repeat_wanted_locked (priv->state);
  if (open == priv->gate_open || !priv->picture)
    return;
  priv->gate_open = open;
  if (!open && priv->repeating)
    priv->spoiled = true;
  g_object_set (priv->picture, "drop", !open, nullptr);
}

/* Whether update_placeholder has something to do. */
static bool
update_needed_locked (const CrJpegFallbackPrivate *priv)
{
  bool want = repeat_wanted_locked (priv->state);
  return want != priv->repeating || (want && priv->spoiled) || once_wanted_locked (priv);
}

/* Brings the placeholder in line with the state: out once if it must be, then imagefreeze
 * started or stopped. Called with no lock held, by the thread changing the element's state or a
 * pooled one; never by a streaming thread (stopping imagefreeze waits for its thread). */
static void
update_placeholder (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  std::lock_guard<std::mutex> update (priv->update_lock);
  bool once;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    priv->update_queued = false;
    once = once_wanted_locked (priv);
    if (once)
      priv->state.placeholder_out = true;
  }
  /* Through the sink, this may tell the element how many watch (on_upstream_event). */
  if (once)
    push_placeholder_once (self);
  bool want, repeating, spoiled, stopping;
  {
    std::lock_guard<std::mutex> guard (priv->lock);
    want = repeat_wanted_locked (priv->state);
    repeating = priv->repeating;
    spoiled = priv->spoiled;
    stopping = priv->state.stopping;
  }
  /* A repeat no longer wanted stops once the pipeline and its sinks are PLAYING (a tick may be
   * prerolling in a sink while the pipeline changes state, and the stop would wait for it); until
   * then the closed gate has paused imagefreeze's loop, so it costs no CPU, and the next change
   * stops it. One that must start afresh stops at once (the element is PLAYING: nothing
   * downstream prerolls). */
  if (repeating && (want ? spoiled : stopping || cr::pipeline_settled (GST_ELEMENT (self)))) {
    stop_repeat (self);
    repeating = false;
  }
  if (want && !repeating)
    start_repeat (self);
}

/* Something changed that may start or stop imagefreeze or want the placeholder out once: a pooled
 * thread sees to it, unless one is on its way. */
static void
queue_update_locked (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  sync_gate_locked (self);
  if (priv->update_queued || !update_needed_locked (priv))
    return;
  priv->update_queued = true;
  gst_element_call_async (
      GST_ELEMENT (self),
      [] (GstElement *e, gpointer) { update_placeholder (CR_JPEG_FALLBACK (e)); }, nullptr,
      nullptr);
}

/* imagefreeze (1.22) starts its loop when it gets the placeholder; the loop's first pass computes
 * its offset from the frame rate with the lock dropped in between, and imagefreeze's
 * PAUSED->READY resets the rate to 0/0 before stopping the loop: a stop right after a start
 * divided by zero there. So a stop first lets that pass reach its SEGMENT (microseconds; bounded,
 * and skipped when the loop is not running, e.g. paused after a failed negotiation). */
static void
wait_for_freeze_segment (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  g_autoptr (GstPad) freeze_src = gst_element_get_static_pad (priv->freeze, "src");
  const auto deadline = std::chrono::steady_clock::now () + std::chrono::seconds (1);
  std::unique_lock<std::mutex> guard (priv->lock);
  while (priv->state.segment_owed && gst_pad_get_task_state (freeze_src) == GST_TASK_STARTED) {
    if (priv->segment_sent.wait_until (guard,
            std::min (deadline,
                std::chrono::steady_clock::now () + std::chrono::milliseconds (5))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now () >= deadline) {
      GST_WARNING_OBJECT (self, "imagefreeze sent no segment within 1 s of its start");
      break;
    }
  }
}

/* imagefreeze's PAUSED->READY zeroes its frame rate before it stops its loop, and the loop reads
 * the rate without checking whether it is stopping in the stretch between the start of a pass
 * and its wait on the clock (wait_for_freeze_segment covers the first pass). A loop parked on the
 * clock, or one whose push failed, is safe to stop. stilljpeg refuses ticks by now (the gate is
 * closed: a loop about to push pauses itself), and the stop waits a moment for that pause; a loop
 * still running after it is parked on the clock: a pass takes microseconds. */
static void
quiesce_freeze (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  wait_for_freeze_segment (self);
  g_autoptr (GstPad) freeze_src = gst_element_get_static_pad (priv->freeze, "src");
  for (int i = 0; i < 6 && gst_pad_get_task_state (freeze_src) == GST_TASK_STARTED; i++)
    g_usleep (500);
}

static void
reset_state (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);

  cancel_timeout_locked (priv->state);
  priv->state = State ();
  sync_gate_locked (self);
  g_object_set (priv->selector, "active-pad", priv->placeholder_pad, nullptr);
}

/* ------------------------------------------------------------- properties */

static void
set_timeout (CrJpegFallback *self, GstClockTime timeout)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  std::lock_guard<std::mutex> guard (self->priv->lock);
  State & st = self->priv->state;

  self->priv->settings.timeout = timeout;
  /* Move the pending deadline, so a shorter timeout is not held up by it. */
  if (st.timeout_id && clock) {
    cancel_timeout_locked (st);
    arm_timeout_locked (self, clock, deadline_of (st.last_arrival, timeout));
  }
}

static void
cr_jpeg_fallback_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (object);
  CrJpegFallbackPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_PLACEHOLDER: {
      const gchar *path = g_value_get_string (value);
      std::lock_guard<std::mutex> guard (priv->lock);
      priv->settings.placeholder = path ? path : "";
      break;
    }
    case PROP_PLACEHOLDER_FPS: {
      std::lock_guard<std::mutex> guard (priv->lock);
      priv->settings.placeholder_fps = g_value_get_uint (value);
      break;
    }
    case PROP_TIMEOUT:
      set_timeout (self, g_value_get_uint64 (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_jpeg_fallback_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (object);
  CrJpegFallbackPrivate *priv = self->priv;

  switch (prop_id) {
    case PROP_PLACEHOLDER: {
      std::lock_guard<std::mutex> guard (priv->lock);
      g_value_set_string (value, priv->settings.placeholder.c_str ());
      break;
    }
    case PROP_PLACEHOLDER_FPS: {
      std::lock_guard<std::mutex> guard (priv->lock);
      g_value_set_uint (value, priv->settings.placeholder_fps);
      break;
    }
    case PROP_TIMEOUT: {
      std::lock_guard<std::mutex> guard (priv->lock);
      g_value_set_uint64 (value, priv->settings.timeout);
      break;
    }
    case PROP_ACTIVE: {
      std::lock_guard<std::mutex> guard (priv->lock);
      g_value_set_enum (value, priv->state.active);
      break;
    }
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

/* ----------------------------------------------------------- change_state */

static GstStateChangeReturn
change_state_unsafe (CrJpegFallback *self, GstStateChange transition)
{
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!self->priv->link_error.empty ()) {
        GST_ELEMENT_ERROR (self, CORE, PAD,
            ("jpegfallback could not link the elements of its placeholder "
             "branch."),
            ("%s", self->priv->link_error.c_str ()));
        return GST_STATE_CHANGE_FAILURE;
      }
      if (!self->priv->complete) {
        GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
            ("jpegfallback needs the GStreamer elements input-selector and "
             "imagefreeze."),
            ("see the debug log for the one that is missing"));
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!prepare_placeholder (self))
        return GST_STATE_CHANGE_FAILURE;
      reset_state (self);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED: {
      /* imagefreeze (locked) keeps running until PAUSED->READY: its thread may be waiting for
       * a sink that pauses first. */
      std::lock_guard<std::mutex> guard (self->priv->lock);
      self->priv->state.playing = false;
      sync_gate_locked (self);
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      std::lock_guard<std::mutex> guard (self->priv->lock);
      cancel_timeout_locked (self->priv->state);
      self->priv->state.stopping = true;
      sync_gate_locked (self);
    }
      update_placeholder (self);
      break;
    default:
      break;
  }

  GstStateChangeReturn ret = GST_ELEMENT_CLASS (cr_jpeg_fallback_parent_class)
                                 ->change_state (GST_ELEMENT (self), transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING: {
      /* The placeholder goes out once, from a pooled thread (a sink may still be prerolling);
       * imagefreeze starts after it only if downstream did not say, meanwhile, that nobody
       * watches: a camera nobody watches never starts a thread for its placeholder. */
      std::lock_guard<std::mutex> guard (self->priv->lock);
      self->priv->state.playing = true;
      queue_update_locked (self);
      break;
    }
    case GST_STATE_CHANGE_READY_TO_NULL:
      /* Locked: the bin leaves them alone. */
      if (self->priv->freeze)
        gst_element_set_state (self->priv->freeze, GST_STATE_NULL);
      if (self->priv->tick_src)
        gst_element_set_state (self->priv->tick_src, GST_STATE_NULL);
      break;
    default:
      break;
  }
  /* A live source of placeholder frames, whether or not imagefreeze runs now. */
  if (ret == GST_STATE_CHANGE_SUCCESS &&
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED ||
          transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED))
    ret = GST_STATE_CHANGE_NO_PREROLL;
  return ret;
}

static GstStateChangeReturn
cr_jpeg_fallback_change_state (GstElement *element, GstStateChange transition)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (element);

  /* C++ exceptions (allocation failures, really) stop here. */
  try {
    return change_state_unsafe (self, transition);
  } catch (const std::exception & e) {
    GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE, (nullptr), ("%s", e.what ()));
    return GST_STATE_CHANGE_FAILURE;
  }
}
