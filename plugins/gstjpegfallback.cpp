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
 * The placeholder is a still JPEG file, decoded once and repeated by imagefreeze at
 * #CrJpegFallback:placeholder-fps, re-encoded only while it is on screen.
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
#include "crjpegdecode.h"
#include "gstcamrelayelements.h"
#include "jpegcheck.h"

#include <exception>
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

  guint64 switches = 0;
  guint64 live_frames = 0;
  guint64 placeholder_frames = 0;
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
  Settings settings;
  State state;

  /* Children, made in init and never replaced: read without the lock. */
  GstElement *selector = nullptr;
  GstElement *filesrc = nullptr;
  GstElement *ratefilter = nullptr;
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
    if (st.active != CR_JPEG_FALLBACK_ACTIVE_LIVE)
      message =
          switch_to_locked (self, CR_JPEG_FALLBACK_ACTIVE_LIVE, "end-of-stream", running_time);
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

/* Raw placeholder ticks, before the encoder: while live frames are output
 * nobody would see them, so they are not encoded at all. */
static GstPadProbeReturn
on_placeholder_tick (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegFallback *self = CR_JPEG_FALLBACK (user_data);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  State & st = self->priv->state;

  if (st.active == CR_JPEG_FALLBACK_ACTIVE_LIVE)
    return GST_PAD_PROBE_DROP;
  st.placeholder_frames++;
  return GST_PAD_PROBE_OK;
}

static GstStructure *
make_stats (CrJpegFallback *self)
{
  GstClockTime now = current_running_time (self);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  const State & st = self->priv->state;

  GstClockTime on_placeholder = st.placeholder_total;
  if (st.active == CR_JPEG_FALLBACK_ACTIVE_PLACEHOLDER &&
      GST_CLOCK_TIME_IS_VALID (st.placeholder_since) && GST_CLOCK_TIME_IS_VALID (now) &&
      now > st.placeholder_since)
    on_placeholder += now - st.placeholder_since;

  return gst_structure_new ("jpegfallback-stats", "switches", G_TYPE_UINT64, st.switches,
      "time-on-placeholder", G_TYPE_UINT64, (guint64) on_placeholder, "live-frames", G_TYPE_UINT64,
      st.live_frames, "placeholder-frames", G_TYPE_UINT64, st.placeholder_frames, "active",
      G_TYPE_STRING, active_nick (st.active), nullptr);
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

/* selector.sink_0 <- sink ghost pad: live frames, untouched
 * selector.sink_1 <- filesrc ! jpegdec ! imagefreeze ! capsfilter ! jpegenc
 * Returns FALSE with @why set when a link fails: the element must not run
 * half-linked. */
static bool
assemble_children (CrJpegFallback *self, GstElement *selector, GstElement *filesrc, GstElement *dec,
    GstElement *freeze, GstElement *rate, GstElement *enc, std::string & why)
{
  CrJpegFallbackPrivate *priv = self->priv;

  /* Inactive input dropped at once, never held back to sync with the active one. */
  g_object_set (selector, "sync-streams", FALSE, "cache-buffers", FALSE, nullptr);
  g_object_set (freeze, "is-live", TRUE, nullptr);
  gst_bin_add_many (GST_BIN (self), selector, filesrc, dec, freeze, rate, enc, nullptr);
  /* filesrc made the bin look like a source; from outside it is a filter. */
  GST_OBJECT_FLAG_UNSET (self, GST_ELEMENT_FLAG_SOURCE);
  if (!gst_element_link_many (filesrc, dec, freeze, rate, enc, nullptr)) {
    why = "could not link filesrc ! jpegdec ! imagefreeze ! capsfilter ! jpegenc";
    return false;
  }

  priv->live_pad = gst_element_request_pad_simple (selector, "sink_%u");
  priv->placeholder_pad = gst_element_request_pad_simple (selector, "sink_%u");
  if (!priv->live_pad || !priv->placeholder_pad) {
    why = "input-selector gave no sink pad";
    return false;
  }
  g_autoptr (GstPad) enc_src = gst_element_get_static_pad (enc, "src");
  GstPadLinkReturn link =
      enc_src ? gst_pad_link (enc_src, priv->placeholder_pad) : GST_PAD_LINK_NOFORMAT;
  if (GST_PAD_LINK_FAILED (link)) {
    why = std::string ("could not link jpegenc to input-selector: ") + gst_pad_link_get_name (link);
    return false;
  }

  gst_pad_add_probe (priv->live_pad,
      (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST), on_live_data,
      self, nullptr);
  gst_pad_add_probe (priv->live_pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_live_event, self,
      nullptr);
  g_autoptr (GstPad) enc_sink = gst_element_get_static_pad (enc, "sink");
  gst_pad_add_probe (enc_sink, GST_PAD_PROBE_TYPE_BUFFER, on_placeholder_tick, self, nullptr);

  g_autoptr (GstPad) selector_src = gst_element_get_static_pad (selector, "src");
  add_ghost_pad (self, "sink", priv->live_pad);
  add_ghost_pad (self, "src", selector_src);

  priv->selector = selector;
  priv->filesrc = filesrc;
  priv->ratefilter = rate;
  return true;
}

/* A missing GStreamer plugin, or children that do not link, leave the element
 * unusable but harmless: it fails NULL→READY with an error saying so. */
static void
build_children (CrJpegFallback *self)
{
  GstElement *selector = make_child (self, "input-selector", "selector");
  GstElement *filesrc = make_child (self, "filesrc", "placeholder-file");
  GstElement *dec = make_child (self, "jpegdec", "placeholder-decoder");
  GstElement *freeze = make_child (self, "imagefreeze", "placeholder-freeze");
  GstElement *rate = make_child (self, "capsfilter", "placeholder-rate");
  GstElement *enc = make_child (self, "jpegenc", "placeholder-encoder");
  GstElement *all[] = { selector, filesrc, dec, freeze, rate, enc };

  bool complete = true;
  for (GstElement *e : all)
    complete = complete && e;
  if (complete) {
    std::string why;
    if (assemble_children (self, selector, filesrc, dec, freeze, rate, enc, why)) {
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

/* The checks a live frame gets from jpegvalidate decode-check=true, without its
 * size limits: the structural walk, then a full decode. Padding after EOI, which
 * some tools write as cameras do, is tolerated the same way (up to 4 KiB). */
static cr::JpegCheckResult
check_placeholder (const guint8 *data, gsize size)
{
  cr::JpegCheckLimits limits;
  limits.min_size = 0;
  limits.max_size = 0;
  limits.max_width = 0;
  limits.max_height = 0;
  cr::JpegCheckResult res = cr::jpeg_check (data, size, limits);
  if (res.ok ()) {
    cr::JpegDecoder decoder;
    if (!decoder.decode (data, res.image_size, res.detail, sizeof (res.detail)))
      res.reason = cr::JpegReject::DecodeFailed;
  }
  return res;
}

/* Reads and checks the placeholder file and points the branch at it. Posts an
 * error naming the path and returns FALSE when it cannot be used. */
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

  g_autoptr (GError) error = nullptr;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path.c_str (), FALSE, &error);
  if (!file) {
    if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Placeholder image \"%s\" does not exist.", path.c_str ()), ("%s", error->message));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Could not read placeholder image \"%s\".", path.c_str ()), ("%s", error->message));
    return FALSE;
  }

  auto *data = reinterpret_cast<const guint8 *> (g_mapped_file_get_contents (file));
  cr::JpegCheckResult res = check_placeholder (data, g_mapped_file_get_length (file));
  if (!res.ok ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
        ("Placeholder image \"%s\" is not a usable JPEG file (%s).", path.c_str (),
            cr::jpeg_reject_nick (res.reason)),
        ("%s", res.detail));
    return FALSE;
  }

  g_object_set (priv->filesrc, "location", path.c_str (), nullptr);
  g_autoptr (GstCaps) caps =
      gst_caps_new_simple ("video/x-raw", "framerate", GST_TYPE_FRACTION, (gint) fps, 1, nullptr);
  g_object_set (priv->ratefilter, "caps", caps, nullptr);
  return TRUE;
}

static void
reset_state (CrJpegFallback *self)
{
  CrJpegFallbackPrivate *priv = self->priv;
  std::lock_guard<std::mutex> guard (priv->lock);

  cancel_timeout_locked (priv->state);
  priv->state = State ();
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
            ("jpegfallback needs the GStreamer elements input-selector, "
             "filesrc, jpegdec, imagefreeze, capsfilter and jpegenc."),
            ("see the debug log for the one that is missing"));
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!prepare_placeholder (self))
        return GST_STATE_CHANGE_FAILURE;
      reset_state (self);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      std::lock_guard<std::mutex> guard (self->priv->lock);
      cancel_timeout_locked (self->priv->state);
      break;
    }
    default:
      break;
  }

  return GST_ELEMENT_CLASS (cr_jpeg_fallback_parent_class)
      ->change_state (GST_ELEMENT (self), transition);
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
