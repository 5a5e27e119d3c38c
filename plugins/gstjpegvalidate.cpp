/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegvalidate
 *
 * SECTION:element-jpegvalidate
 * @title: jpegvalidate
 *
 * Treats every input buffer as exactly one candidate JPEG image, passes the
 * ones that are complete and well-formed on unchanged and drops the rest, so
 * that a torn or hostile frame from a camera never reaches a viewer and never
 * leaks into the next frame. Accepted frames leave through jpegparse as
 * `image/jpeg, parsed=true` with width and height in the caps.
 *
 * Every buffer is checked by cr::jpeg_check() (plugins/jpegcheck.h): size
 * limits, SOI at the start, a marker walk that must end with EOI, one SOF
 * with sane dimensions, at least one SOS.
 * With decode-check=true the frame is also decoded with libjpeg and rejected
 * on any error or corrupt-data warning.
 *
 * Two quirks of real cameras are mended rather than rejected, and counted:
 * up to 4 KiB of padding after EOI (Raspberry Pi, ArduCAM, esp32-camera) is
 * cut off, without a copy: the frame leaves as a sub-buffer of the same
 * memory ("trimmed"); padding that holds another SOI is two frames in one
 * buffer and rejected as "merged". A baseline or extended Huffman frame
 * without DHT (UVC webcams and other MJPEG sources, which rely on the tables
 * of JPEG Annex K) gets the standard tables inserted before its first SOS,
 * in a copy ("dht-inserted"), because some decoders (Safari) do not assume
 * them.
 *
 * Each rejection is counted in #CrJpegValidate:stats under its reason and
 * logged at DEBUG level; a WARNING log line and an element message
 * "jpegvalidate-rejected" (reason, detail, size, count, suppressed) are
 * emitted at most once per second per reason.
 *
 * ## What jpegparse sees
 *
 * jpegparse scans every byte of a frame for markers, which the check has
 * just done. A frame whose caps-defining segments (SOF, and what sets the
 * colourspace) equal those of the frame before it therefore leaves on
 * jpegparse's src pad without going through jpegparse: it would have left
 * as the same bytes under the same caps. The first frame, every frame that
 * changes the format, and every frame after new caps, a new segment or a
 * flush go through jpegparse. What downstream sees is the same either way
 * (and tested): jpegparse's caps and segment, every accepted frame in order
 * with the PTS it came in with, and a position query answered by the last
 * frame passed when upstream cannot answer it (jpegparse's own position
 * counts only the frames it parsed, so the element answers for it).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 wsjpegsrc ! jpegvalidate max-size=1048576 ! \
 *     jpegfallback placeholder=placeholder.jpg ! multipartmux ! mjpeghttpsink
 * ]|
 */
#include "gstjpegvalidate.h"

#include "crjpegdecode.h"
#include "gstcamrelayelements.h"
#include "jpegcheck.h"
#include "crstatsquarks.h"

#include <atomic>
#include <mutex>
#include <vector>

using cr::JpegReject;

#define DEFAULT_MIN_SIZE     5001
#define DEFAULT_MAX_SIZE     (4 * 1024 * 1024)
#define DEFAULT_MAX_WIDTH    8192
#define DEFAULT_MAX_HEIGHT   8192
#define DEFAULT_DECODE_CHECK FALSE

/* The largest dimension a JPEG frame header can hold. */
#define MAX_DIMENSION 65535

/* Warnings and element messages per reason are limited to one per interval. */
#define REPORT_INTERVAL_US G_USEC_PER_SEC

enum
{
  PROP_0,
  PROP_MIN_SIZE,
  PROP_MAX_SIZE,
  PROP_MAX_WIDTH,
  PROP_MAX_HEIGHT,
  PROP_DECODE_CHECK,
  PROP_STATS,
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg, parsed = (boolean) true"));

GST_DEBUG_CATEGORY_STATIC (cr_jpeg_validate_debug);
#define GST_CAT_DEFAULT cr_jpeg_validate_debug

namespace {

struct Settings
{
  cr::JpegCheckLimits limits;
  bool decode_check = DEFAULT_DECODE_CHECK;
};

struct ReasonState
{
  guint64 count = 0;
  /* Rejections not reported since the last warning/message. */
  guint64 suppressed = 0;
  bool reported = false;
  gint64 last_report_us = 0;
};

struct State
{
  guint64 accepted = 0;
  guint64 rejected = 0;
  guint64 bytes_accepted = 0;
  guint64 trimmed = 0;
  guint64 dht_inserted = 0;
  ReasonState reasons[cr::kJpegRejectCount];
};

}  // namespace

struct CrJpegValidatePrivate
{
  /* Guards settings and state; never held while calling into GStreamer
   * except to build the element message. */
  std::mutex lock;
  Settings settings;
  State state;

  /* Streaming thread only (under jpegparse's sink pad stream lock), so the
   * decoder for decode-check needs no lock. */
  cr::JpegDecoder decoder;
  /* PTS of the frames just accepted (one, or several from a buffer list),
   * put back on what jpegparse pushes for them, in order: see
   * cr_jpeg_validate_src_probe(). Cleared, not freed, for every input. */
  std::vector<GstClockTime> accepted_pts;
  gsize next_pts = 0;
  /* Format key of the last frame jpegparse processed, whose caps are current. */
  guint64 parsed_key = 0;
  bool parsed_key_valid = false;
  GstPad *parse_src = nullptr;
  /* PTS of the last frame that left, for position queries from any thread. */
  std::atomic<GstClockTime> last_pts{ GST_CLOCK_TIME_NONE };
};

struct _CrJpegValidate
{
  GstBin parent;

  /* jpegparse, or nullptr if gst-plugins-bad is missing. */
  GstElement *parse;
  CrJpegValidatePrivate *priv;
};

#define cr_jpeg_validate_parent_class parent_class
G_DEFINE_TYPE (CrJpegValidate, cr_jpeg_validate, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (jpegvalidate, "jpegvalidate", GST_RANK_NONE, CR_TYPE_JPEG_VALIDATE);

static void cr_jpeg_validate_finalize (GObject *object);
static void cr_jpeg_validate_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec);
static void cr_jpeg_validate_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec);
static GstStateChangeReturn cr_jpeg_validate_change_state (GstElement *element,
    GstStateChange transition);
static GstPadProbeReturn cr_jpeg_validate_sink_probe (GstPad *pad, GstPadProbeInfo *info,
    gpointer user_data);
static GstPadProbeReturn cr_jpeg_validate_src_probe (GstPad *pad, GstPadProbeInfo *info,
    gpointer user_data);
static gboolean cr_jpeg_validate_src_query (GstPad *pad, GstObject *parent, GstQuery *query);

static void
cr_jpeg_validate_class_init (CrJpegValidateClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const auto flags = static_cast<GParamFlags> (
      G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS);

  gobject_class->finalize = cr_jpeg_validate_finalize;
  gobject_class->set_property = cr_jpeg_validate_set_property;
  gobject_class->get_property = cr_jpeg_validate_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (cr_jpeg_validate_change_state);

  g_object_class_install_property (gobject_class, PROP_MIN_SIZE,
      g_param_spec_uint ("min-size", "Minimum Size",
          "Frames smaller than this many bytes are rejected; the legacy "
          "server ignored frames of 5000 bytes or less (0 = no minimum)",
          0, G_MAXUINT, DEFAULT_MIN_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint ("max-size", "Maximum Size",
          "Frames larger than this many bytes are rejected (0 = no limit)", 0, G_MAXUINT,
          DEFAULT_MAX_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_WIDTH,
      g_param_spec_uint ("max-width", "Maximum Width",
          "Frames wider than this many pixels are rejected as malformed", 1, MAX_DIMENSION,
          DEFAULT_MAX_WIDTH, flags));
  g_object_class_install_property (gobject_class, PROP_MAX_HEIGHT,
      g_param_spec_uint ("max-height", "Maximum Height",
          "Frames taller than this many pixels are rejected as malformed", 1, MAX_DIMENSION,
          DEFAULT_MAX_HEIGHT, flags));
  g_object_class_install_property (gobject_class, PROP_DECODE_CHECK,
      g_param_spec_boolean ("decode-check", "Decode Check",
          "Also decode every frame with libjpeg and reject it as "
          "decode-failed on any error or corrupt-data warning (costs a full "
          "decode per frame)",
          DEFAULT_DECODE_CHECK, flags));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "Counters since the element last started: accepted, rejected, "
          "bytes-accepted (as handed on), trimmed (accepted with padding after "
          "EOI cut off), dht-inserted (accepted with the standard Huffman "
          "tables put in) and one per rejection reason (too-small, too-large, "
          "not-jpeg, truncated, malformed, merged, decode-failed)",
          GST_TYPE_STRUCTURE,
          static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "JPEG frame validator",
      "Codec/Parser/Image",
      "Passes each buffer on only if it is one complete, well-formed JPEG "
      "image, and parses it",
      "camrelay <https://github.com/camrelay/camrelay>");

  GST_DEBUG_CATEGORY_INIT (cr_jpeg_validate_debug, "jpegvalidate", 0,
      "camrelay JPEG frame validator");
}

static void
cr_jpeg_validate_init (CrJpegValidate *self)
{
  GstElement *element = GST_ELEMENT (self);
  GstElementClass *klass = GST_ELEMENT_GET_CLASS (self);
  GstPad *sinkpad = gst_ghost_pad_new_no_target_from_template ("sink",
      gst_element_class_get_pad_template (klass, "sink"));
  GstPad *srcpad = gst_ghost_pad_new_no_target_from_template ("src",
      gst_element_class_get_pad_template (klass, "src"));

  self->priv = new CrJpegValidatePrivate ();

  gst_pad_set_query_function (srcpad, GST_DEBUG_FUNCPTR (cr_jpeg_validate_src_query));
  gst_element_add_pad (element, sinkpad);
  gst_element_add_pad (element, srcpad);

  /* Missing jpegparse is reported when going to READY, where an error can
   * be posted. */
  self->parse = gst_element_factory_make ("jpegparse", "parse");
  if (!self->parse)
    return;
  gst_bin_add (GST_BIN (self), self->parse);

  g_autoptr (GstPad) parse_sink = gst_element_get_static_pad (self->parse, "sink");
  g_autoptr (GstPad) parse_src = gst_element_get_static_pad (self->parse, "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (sinkpad), parse_sink);
  gst_ghost_pad_set_target (GST_GHOST_PAD (srcpad), parse_src);
  /* Borrowed: the pad lives as long as jpegparse, which lives as long as the bin. */
  self->priv->parse_src = parse_src;

  /* Validation is a probe on jpegparse's sink pad rather than an element of
   * its own: it only ever drops whole buffers, so it needs no pads, caps
   * negotiation, queries or events of its own, costs no extra pad push per
   * frame, and sits exactly where a rejected buffer would otherwise enter
   * jpegparse's adapter and get merged with the next frame. */
  gst_pad_add_probe (parse_sink,
      static_cast<GstPadProbeType> (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
      cr_jpeg_validate_sink_probe, self, nullptr);
  gst_pad_add_probe (parse_src, GST_PAD_PROBE_TYPE_BUFFER, cr_jpeg_validate_src_probe, self,
      nullptr);
}

static void
cr_jpeg_validate_finalize (GObject *object)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (object);

  delete self->priv;
  self->priv = nullptr;

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* Microseconds on the element's clock while it has one (the pipeline clock
 * in PLAYING, the GstTestClock in tests, which makes the rate limit
 * testable), else g_get_monotonic_time(). Only orders reports, so a switch
 * between the two is harmless: a backward jump just allows a report. */
static gint64
cr_jpeg_validate_now_us (CrJpegValidate *self)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));

  if (clock)
    return GST_TIME_AS_USECONDS (gst_clock_get_time (clock));
  return g_get_monotonic_time ();
}

static GstStructure *
cr_jpeg_validate_build_stats (const State & state)
{
  /* Names interned once: applications poll this for thousands of cameras (crstatsquarks.h). */
  enum
  {
    ACCEPTED,
    REJECTED,
    BYTES_ACCEPTED,
    TRIMMED,
    DHT_INSERTED,
    N_FIELDS
  };
  static const cr::StatsQuarks<N_FIELDS> q ("jpegvalidate-stats",
      { "accepted", "rejected", "bytes-accepted", "trimmed", "dht-inserted" });
  static const auto reasons = [] {
    std::array<GQuark, cr::kJpegRejectCount> r{};
    for (guint i = 1; i < cr::kJpegRejectCount; i++)
      r[i] = g_quark_from_static_string (cr::jpeg_reject_nick (static_cast<JpegReject> (i)));
    return r;
  }();
  GstStructure *s = gst_structure_new_id (q.name, q[ACCEPTED], G_TYPE_UINT64, state.accepted,
      q[REJECTED], G_TYPE_UINT64, state.rejected, q[BYTES_ACCEPTED], G_TYPE_UINT64,
      state.bytes_accepted, q[TRIMMED], G_TYPE_UINT64, state.trimmed, q[DHT_INSERTED],
      G_TYPE_UINT64, state.dht_inserted, nullptr);

  for (guint i = 1; i < cr::kJpegRejectCount; i++)
    gst_structure_id_set (s, reasons[i], G_TYPE_UINT64, state.reasons[i].count, nullptr);
  return s;
}

static void
cr_jpeg_validate_count_accepted (CrJpegValidate *self, gsize size, bool trimmed, bool dht_inserted)
{
  std::lock_guard<std::mutex> guard (self->priv->lock);

  self->priv->state.accepted++;
  self->priv->state.bytes_accepted += size;
  self->priv->state.trimmed += trimmed;
  self->priv->state.dht_inserted += dht_inserted;
}

/* What goes on for an accepted frame: @buf itself, a sub-buffer of its
 * memory without the padding after EOI, or, for a frame without Huffman
 * tables, a new buffer with them. @data maps @buf. */
static GstBuffer *
cr_jpeg_validate_mend (GstBuffer *buf, const guint8 *data, const cr::JpegCheckResult & res)
{
  const auto metadata = static_cast<GstBufferCopyFlags> (
      GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_META);

  if (res.dht_insert_at) {
    GstBuffer *out = gst_buffer_new_allocate (nullptr, cr::jpeg_repaired_size (res), nullptr);
    GstMapInfo map;

    if (!out || !gst_buffer_map (out, &map, GST_MAP_WRITE)) {
      gst_clear_buffer (&out);
      return nullptr;
    }
    cr::jpeg_write_repaired (data, res, map.data);
    gst_buffer_unmap (out, &map);
    gst_buffer_copy_into (out, buf, metadata, 0, -1);
    return out;
  }
  if (res.trailing)
    return gst_buffer_copy_region (buf,
        static_cast<GstBufferCopyFlags> (metadata | GST_BUFFER_COPY_MEMORY), 0, res.image_size);
  return gst_buffer_ref (buf);
}

static void
cr_jpeg_validate_count_rejected (CrJpegValidate *self, JpegReject reason, const char *detail,
    gsize size)
{
  const char *nick = cr::jpeg_reject_nick (reason);
  const gint64 now = cr_jpeg_validate_now_us (self);
  GstMessage *msg = nullptr;
  guint64 count, suppressed = 0;

  GST_DEBUG_OBJECT (self,
      "rejected a %" G_GSIZE_FORMAT "-byte frame as %s: "
      "%s",
      size, nick, detail);

  {
    std::lock_guard<std::mutex> guard (self->priv->lock);
    ReasonState & r = self->priv->state.reasons[static_cast<guint> (reason)];

    self->priv->state.rejected++;
    count = ++r.count;
    if (!r.reported || now < r.last_report_us || now - r.last_report_us >= REPORT_INTERVAL_US) {
      suppressed = r.suppressed;
      r.suppressed = 0;
      r.reported = true;
      r.last_report_us = now;
      msg = gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("jpegvalidate-rejected", "reason", G_TYPE_STRING, nick, "detail",
              G_TYPE_STRING, detail, "size", G_TYPE_UINT64, static_cast<guint64> (size), "count",
              G_TYPE_UINT64, count, "suppressed", G_TYPE_UINT64, suppressed, nullptr));
    } else {
      r.suppressed++;
    }
  }

  if (msg) {
    GST_WARNING_OBJECT (self,
        "rejected a %" G_GSIZE_FORMAT "-byte frame as "
        "%s: %s (%" G_GUINT64_FORMAT " %s so far, %" G_GUINT64_FORMAT
        " not reported since the last warning)",
        size, nick, detail, count, nick, suppressed);
    gst_element_post_message (GST_ELEMENT (self), msg);
  }
}

/* TRUE if the frame in *@buf may go on to jpegparse. Never modifies the
 * buffer; when the frame is accepted mended (trimmed, tables inserted),
 * *@buf is replaced by the buffer to hand on and its reference dropped. */
static bool
cr_jpeg_validate_check_buffer (CrJpegValidate *self, GstBuffer **bufp,
    guint64 *format_key = nullptr)
{
  CrJpegValidatePrivate *priv = self->priv;
  GstBuffer *buf = *bufp;
  GstBuffer *out = nullptr;
  Settings settings;
  GstMapInfo map;

  {
    std::lock_guard<std::mutex> guard (priv->lock);
    settings = priv->settings;
  }

  /* Zero-copy for the usual single-memory buffer; gst_buffer_map() merges a
   * multi-memory one into a temporary copy. */
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    cr_jpeg_validate_count_rejected (self, JpegReject::Malformed, "buffer cannot be mapped",
        gst_buffer_get_size (buf));
    return false;
  }

  cr::JpegCheckResult res = cr::jpeg_check (map.data, map.size, settings.limits);
  if (res.ok () && settings.decode_check &&
      !priv->decoder.decode (map.data, map.size, res.detail, sizeof (res.detail)))
    res.reason = JpegReject::DecodeFailed;
  if (res.ok ()) {
    out = cr_jpeg_validate_mend (buf, map.data, res);
    if (!out) {
      res.reason = JpegReject::Malformed;
      g_strlcpy (res.detail, "no memory for a copy with Huffman tables", sizeof (res.detail));
    }
  }
  const gsize size = map.size;
  gst_buffer_unmap (buf, &map);

  if (!res.ok ()) {
    cr_jpeg_validate_count_rejected (self, res.reason, res.detail, size);
    return false;
  }

  GST_LOG_OBJECT (self,
      "accepted %" G_GSIZE_FORMAT " bytes, %ux%u SOF%u, "
      "%u components, %u scans, %" G_GSIZE_FORMAT " bytes of padding cut "
      "off, %s, pts %" GST_TIME_FORMAT,
      size, res.info.width, res.info.height, res.info.sof_marker - 0xc0u, res.info.components,
      res.info.scans, res.trailing,
      res.dht_insert_at ? "standard Huffman tables inserted" : "own Huffman tables",
      GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
  cr_jpeg_validate_count_accepted (self, gst_buffer_get_size (out), res.trailing != 0,
      res.dht_insert_at != 0);
  priv->accepted_pts.push_back (GST_BUFFER_PTS (buf));
  gst_buffer_unref (buf);
  *bufp = out;
  if (format_key)
    *format_key = res.info.format_key;
  return true;
}

/* A list is rebuilt without its rejected buffers and with its mended ones;
 * the common case, where all pass as they are, leaves it untouched. */
static GstPadProbeReturn
cr_jpeg_validate_filter_list (CrJpegValidate *self, GstPadProbeInfo *info)
{
  GstBufferList *in = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
  const guint n = gst_buffer_list_length (in);
  GstBufferList *out = nullptr;

  for (guint i = 0; i < n; i++) {
    GstBuffer *orig = gst_buffer_list_get (in, i);
    GstBuffer *buf = gst_buffer_ref (orig);
    const bool ok = cr_jpeg_validate_check_buffer (self, &buf);

    if ((!ok || buf != orig) && !out) {
      out = gst_buffer_list_new_sized (n);
      for (guint j = 0; j < i; j++)
        gst_buffer_list_add (out, gst_buffer_ref (gst_buffer_list_get (in, j)));
    }
    if (ok && out) {
      gst_buffer_list_add (out, buf);
    } else {
      gst_buffer_unref (buf);
    }
  }

  if (!out)
    return GST_PAD_PROBE_OK;
  if (gst_buffer_list_length (out) == 0) {
    gst_buffer_list_unref (out);
    return GST_PAD_PROBE_DROP;
  }
  gst_buffer_list_unref (in);
  GST_PAD_PROBE_INFO_DATA (info) = out;
  return GST_PAD_PROBE_OK;
}

/* Dropping here returns GST_FLOW_OK upstream: a bad frame is the camera's
 * problem, not a reason to stop the pipeline. */
static GstPadProbeReturn
cr_jpeg_validate_sink_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (user_data);

  CrJpegValidatePrivate *priv = self->priv;
  priv->accepted_pts.clear ();
  priv->next_pts = 0;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    guint64 key = 0;
    if (!cr_jpeg_validate_check_buffer (self, &buf, &key))
      return GST_PAD_PROBE_DROP;
    GST_PAD_PROBE_INFO_DATA (info) = buf;
    /* jpegparse scans every byte of the entropy-coded data for markers, which jpeg_check() has
     * just done, and for a frame whose caps-defining segments equal the previous frame's it would
     * only hand the same buffer on under the same caps. So such frames skip it: at thousands of
     * frames a second that scan is half the cost of the live path. The first frame, and any
     * frame that changes the format, still goes through jpegparse and sets the caps. */
    if (priv->parsed_key_valid && key == priv->parsed_key &&
        gst_pad_has_current_caps (priv->parse_src)) {
      GST_PAD_PROBE_INFO_FLOW_RETURN (info) = gst_pad_push (priv->parse_src, buf);
      return GST_PAD_PROBE_HANDLED;
    }
    priv->parsed_key = key;
    priv->parsed_key_valid = true;
    return GST_PAD_PROBE_OK;
  }
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    priv->parsed_key_valid = false;
    return cr_jpeg_validate_filter_list (self, info);
  }
  /* New caps, a new segment or a flush: let jpegparse see the next frame again. */
  priv->parsed_key_valid = false;
  return GST_PAD_PROBE_OK;
}

/* jpegparse pushes each accepted frame, whole, from within the chain call
 * that brought it in, so the frames passing here are the ones just accepted,
 * in order. Their PTS is put back because GstBaseParse only takes an input
 * PTS that differs from the previous one: a frame carrying the same PTS as
 * the one before would otherwise leave with none. Memory stays shared; at
 * most the buffer's metadata is copied. */
static GstPadProbeReturn
cr_jpeg_validate_src_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  CrJpegValidatePrivate *priv = CR_JPEG_VALIDATE (user_data)->priv;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (priv->next_pts < priv->accepted_pts.size ()) {
    const GstClockTime pts = priv->accepted_pts[priv->next_pts++];
    if (GST_BUFFER_PTS (buf) != pts) {
      buf = gst_buffer_make_writable (buf);
      GST_BUFFER_PTS (buf) = pts;
      GST_PAD_PROBE_INFO_DATA (info) = buf;
    }
  }
  if (GST_BUFFER_PTS_IS_VALID (buf))
    priv->last_pts.store (GST_BUFFER_PTS (buf), std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

/* As GstBaseParse does: upstream's position if it has one, else the last frame's, in stream
 * time. jpegparse's own would lag behind the frames that skipped it. */
static gboolean
cr_jpeg_validate_position (CrJpegValidate *self, GstQuery *query)
{
  GstFormat format;
  gst_query_parse_position (query, &format, nullptr);
  if (format != GST_FORMAT_TIME)
    return FALSE;
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (GST_ELEMENT (self), "sink");
  if (gst_pad_peer_query (sinkpad, query))
    return TRUE;
  const GstClockTime pts = self->priv->last_pts.load (std::memory_order_relaxed);
  g_autoptr (GstEvent) event =
      gst_pad_get_sticky_event (self->priv->parse_src, GST_EVENT_SEGMENT, 0);
  if (!GST_CLOCK_TIME_IS_VALID (pts) || !event)
    return FALSE;
  const GstSegment *segment = nullptr;
  gst_event_parse_segment (event, &segment);
  const GstClockTime position = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, pts);
  if (!GST_CLOCK_TIME_IS_VALID (position))
    return FALSE;
  gst_query_set_position (query, GST_FORMAT_TIME, static_cast<gint64> (position));
  return TRUE;
}

static gboolean
cr_jpeg_validate_src_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (parent);
  if (GST_QUERY_TYPE (query) == GST_QUERY_POSITION && self->parse &&
      cr_jpeg_validate_position (self, query))
    return TRUE;
  return gst_pad_query_default (pad, parent, query);
}

static void
cr_jpeg_validate_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (object);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  Settings & settings = self->priv->settings;

  switch (prop_id) {
    case PROP_MIN_SIZE:
      settings.limits.min_size = g_value_get_uint (value);
      break;
    case PROP_MAX_SIZE:
      settings.limits.max_size = g_value_get_uint (value);
      break;
    case PROP_MAX_WIDTH:
      settings.limits.max_width = g_value_get_uint (value);
      break;
    case PROP_MAX_HEIGHT:
      settings.limits.max_height = g_value_get_uint (value);
      break;
    case PROP_DECODE_CHECK:
      settings.decode_check = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
cr_jpeg_validate_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (object);
  std::lock_guard<std::mutex> guard (self->priv->lock);
  const Settings & settings = self->priv->settings;

  switch (prop_id) {
    case PROP_MIN_SIZE:
      g_value_set_uint (value, settings.limits.min_size);
      break;
    case PROP_MAX_SIZE:
      g_value_set_uint (value, settings.limits.max_size);
      break;
    case PROP_MAX_WIDTH:
      g_value_set_uint (value, settings.limits.max_width);
      break;
    case PROP_MAX_HEIGHT:
      g_value_set_uint (value, settings.limits.max_height);
      break;
    case PROP_DECODE_CHECK:
      g_value_set_boolean (value, settings.decode_check);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, cr_jpeg_validate_build_stats (self->priv->state));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static GstStateChangeReturn
cr_jpeg_validate_change_state (GstElement *element, GstStateChange transition)
{
  CrJpegValidate *self = CR_JPEG_VALIDATE (element);

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!self->parse) {
        GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
            ("The jpegparse element is missing; install gst-plugins-bad."),
            ("gst_element_factory_make (\"jpegparse\") failed"));
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      std::lock_guard<std::mutex> guard (self->priv->lock);
      self->priv->state = State ();
      self->priv->last_pts = GST_CLOCK_TIME_NONE;
      break;
    }
    default:
      break;
  }

  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}
