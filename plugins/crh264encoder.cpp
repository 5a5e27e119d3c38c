/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one camera's JPEG → H.264 encoder in a private pipeline (see crh264encoder.h). */
#include "crh264encoder.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <algorithm>
#include <mutex>

GST_DEBUG_CATEGORY_EXTERN (cr_h264_relay_sink_debug);
#define GST_CAT_DEFAULT cr_h264_relay_sink_debug

namespace cr::h264 {

/* JPEG frames waiting for the encoder at most: more means it falls behind, and the oldest go. */
static const guint64 MAX_WAITING = 2;

guint
bitrate_for_size (int width, int height)
{
  /* width x height / 680 kbit/s: 451 for VGA, 1355 for 720p, 3049 for 1080p. Measured on the
   * benchmark's VGA scene (noise and motion, 29.5 KB JPEGs at 10 fps = 2.36 Mbit/s of MJPEG):
   * SSIM 0.901 against the source at about 1/5.3 of the MJPEG bytes with superfast and
   * partitions=none (ultrafast needs ~480 kbit/s for SSIM 0.90, over a fifth); see
   * docs/PERFORMANCE.md, "H.264". */
  if (width <= 0 || height <= 0)
    return 451;
  guint64 kbps = static_cast<guint64> (width) * static_cast<guint64> (height) / 680;
  return static_cast<guint> (std::clamp<guint64> (kbps, 64, 20000));
}

struct Encoder::Parts
{
  GstElement *pipeline = nullptr;
  GstElement *appsrc = nullptr;
  GstElement *x264 = nullptr;
  GstPad *appsink_pad = nullptr; /* where force-key-unit goes upstream from */
  Output output;
  Failure failure;
  std::shared_ptr<EncoderStats> stats;
  bool auto_bitrate = true;
  std::atomic<bool> failed{ false };
  std::atomic<gint64> frame_in_us{ 0 }; /* monotonic: when the frame being encoded was decoded */

  guint nominal_fps = 10;

  std::mutex push_lock; /* guards the two below (pushes may come from two threads) */
  GstCaps *src_caps = nullptr;
  GstClockTime last_pts = GST_CLOCK_TIME_NONE;

  ~Parts ()
  {
    if (pipeline) {
      gst_element_set_state (pipeline, GST_STATE_NULL);
      gst_object_unref (pipeline);
    }
    if (appsink_pad)
      gst_object_unref (appsink_pad);
    gst_clear_caps (&src_caps);
  }

  void fail (const std::string & why)
  {
    if (!failed.exchange (true) && failure)
      failure (why);
  }
};

namespace {

/* The pipeline's messages: an error is reported once, the rest dropped (nobody pops this bus). */
GstBusSyncReply
on_bus_message (GstBus *, GstMessage *msg, gpointer user_data)
{
  auto *parts = static_cast<Encoder::Parts *> (user_data);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = nullptr;
    g_autofree gchar *debug = nullptr;
    gst_message_parse_error (msg, &err, &debug);
    GST_WARNING ("encoder error: %s (%s)", err->message, debug ? debug : "");
    parts->fail (err->message);
  }
  return GST_BUS_DROP;
}

/* jpegdec's sink: a frame starts being worked on. */
GstPadProbeReturn
on_frame_in (GstPad *, GstPadProbeInfo *, gpointer user_data)
{
  static_cast<Encoder::Parts *> (user_data)->frame_in_us = g_get_monotonic_time ();
  return GST_PAD_PROBE_OK;
}

/* jpegdec's source: a frame was decoded. */
GstPadProbeReturn
on_frame_decoded (GstPad *, GstPadProbeInfo *, gpointer user_data)
{
  static_cast<Encoder::Parts *> (user_data)->stats->frames_decoded++;
  return GST_PAD_PROBE_OK;
}

/* x264enc's sink: the picture size arrives before the encoder is set up for it, so an automatic
 * bitrate is chosen here. */
GstPadProbeReturn
on_raw_caps (GstPad *, GstPadProbeInfo *info, gpointer user_data)
{
  auto *parts = static_cast<Encoder::Parts *> (user_data);
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (event) != GST_EVENT_CAPS || !parts->auto_bitrate)
    return GST_PAD_PROBE_OK;
  GstCaps *caps;
  gst_event_parse_caps (event, &caps);
  gint width = 0, height = 0;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "width", &width);
  gst_structure_get_int (s, "height", &height);
  guint kbps = bitrate_for_size (width, height);
  g_object_set (parts->x264, "bitrate", kbps, nullptr);
  parts->stats->bitrate_kbps = kbps;
  GST_DEBUG ("%dx%d: %u kbit/s", width, height, kbps);
  return GST_PAD_PROBE_OK;
}

/* x264enc's source: one frame encoded; the time since it entered jpegdec is what it cost (all of
 * it runs in this one thread, and zerolatency gives each frame out before the next comes in). */
GstPadProbeReturn
on_frame_encoded (GstPad *, GstPadProbeInfo *, gpointer user_data)
{
  auto *parts = static_cast<Encoder::Parts *> (user_data);
  gint64 in = parts->frame_in_us;
  if (in == 0)
    return GST_PAD_PROBE_OK;
  guint64 ns = static_cast<guint64> (g_get_monotonic_time () - in) * 1000;
  EncoderStats & st = *parts->stats;
  guint64 avg = st.encode_ns_avg;
  st.encode_ns_last = ns;
  st.encode_ns_avg = avg == 0 ? ns : avg - avg / 8 + ns / 8;
  return GST_PAD_PROBE_OK;
}

GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  auto *parts = static_cast<Encoder::Parts *> (user_data);
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (sink);
  if (!sample)
    return GST_FLOW_EOS;
  GstBuffer *au = gst_sample_get_buffer (sample);
  GstCaps *caps = gst_sample_get_caps (sample);
  if (!au || !caps)
    return GST_FLOW_OK;
  parts->stats->frames_encoded++;
  parts->stats->bytes_encoded += gst_buffer_get_size (au);
  parts->output (au, caps);
  return GST_FLOW_OK;
}

void
add_probe (GstElement *element, const char *pad_name, GstPadProbeType type,
    GstPadProbeCallback callback, Encoder::Parts *parts)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (element, pad_name);
  gst_pad_add_probe (pad, type, callback, parts, nullptr);
}

}  // namespace

std::unique_ptr<Encoder>
Encoder::start (const EncoderSettings & settings, Output output, Failure failure,
    std::string & error)
{
  g_autoptr (GError) err = nullptr;
  GstElement *pipeline = gst_parse_launch_full (
      "appsrc name=src format=time is-live=true leaky-type=downstream ! "
      "jpegdec name=dec ! videoconvert ! video/x-raw,format=I420,colorimetry=bt601 ! "
      "x264enc name=enc tune=zerolatency speed-preset=superfast threads=1 byte-stream=true "
      "option-string=partitions=none ! "
      "video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 ! "
      "video/x-h264,stream-format=byte-stream,alignment=au ! "
      "appsink name=out sync=false async=false enable-last-sample=false max-buffers=1",
      nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!pipeline) {
    error = std::string ("cannot build the H.264 encoder: ") +
        (err ? err->message : "unknown error") +
        " (x264enc is in Debian's gstreamer1.0-plugins-ugly)";
    return nullptr;
  }

  std::unique_ptr<Encoder> encoder (new Encoder ());
  encoder->stats_ = std::make_shared<EncoderStats> ();
  encoder->parts_ = std::make_unique<Parts> ();
  Parts *parts = encoder->parts_.get ();
  parts->pipeline = pipeline;
  parts->output = std::move (output);
  parts->failure = std::move (failure);
  parts->stats = encoder->stats_;
  parts->auto_bitrate = settings.bitrate_kbps == 0;
  parts->nominal_fps = MAX (settings.nominal_fps, 1u);

  /* The elements stay alive as long as the pipeline, which holds them. */
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) dec = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  parts->appsrc = src;
  parts->x264 = enc;
  parts->appsink_pad = gst_element_get_static_pad (out, "sink");

  gst_app_src_set_max_buffers (GST_APP_SRC (src), MAX_WAITING);
  g_object_set (enc, "key-int-max", settings.key_int_max, nullptr);
  if (!parts->auto_bitrate) {
    g_object_set (enc, "bitrate", settings.bitrate_kbps, nullptr);
    parts->stats->bitrate_kbps = settings.bitrate_kbps;
  }

  add_probe (dec, "sink", GST_PAD_PROBE_TYPE_BUFFER, on_frame_in, parts);
  add_probe (dec, "src", GST_PAD_PROBE_TYPE_BUFFER, on_frame_decoded, parts);
  add_probe (enc, "sink", GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_raw_caps, parts);
  add_probe (enc, "src", GST_PAD_PROBE_TYPE_BUFFER, on_frame_encoded, parts);

  GstAppSinkCallbacks callbacks = {};
  callbacks.new_sample = on_new_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (out), &callbacks, parts, nullptr);

  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, on_bus_message, parts, nullptr);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    error = "cannot start the H.264 encoder";
    return nullptr;
  }
  return encoder;
}

Encoder::~Encoder () = default;

void
Encoder::push (GstBuffer *jpeg, GstCaps *caps)
{
  Parts *parts = parts_.get ();
  /* A new buffer on the same memory: the camera's buffer is shared with other branches and keeps
   * its own timestamps. */
  GstBuffer *frame = gst_buffer_copy_region (jpeg, GST_BUFFER_COPY_MEMORY, 0, -1);
  GstClockTime now = gst_element_get_current_running_time (parts->pipeline);
  std::lock_guard<std::mutex> guard (parts->push_lock);
  if (caps && (!parts->src_caps || !gst_caps_is_equal (caps, parts->src_caps))) {
    /* The measured rate, not 0/1 (variable): see EncoderSettings::nominal_fps. */
    GstCaps *nominal = gst_caps_copy (caps);
    gst_caps_set_simple (nominal, "framerate", GST_TYPE_FRACTION, parts->nominal_fps, 1, nullptr);
    gst_app_src_set_caps (GST_APP_SRC (parts->appsrc), nominal);
    gst_caps_replace (&parts->src_caps, caps);
    gst_caps_unref (nominal);
  }
  /* Strictly increasing, as the encoder wants them. */
  if (!GST_CLOCK_TIME_IS_VALID (now))
    now = 0;
  if (GST_CLOCK_TIME_IS_VALID (parts->last_pts) && now <= parts->last_pts)
    now = parts->last_pts + GST_MSECOND;
  parts->last_pts = now;
  GST_BUFFER_PTS (frame) = now;
  GST_BUFFER_DTS (frame) = now;
  gst_app_src_push_buffer (GST_APP_SRC (parts->appsrc), frame);
}

void
Encoder::request_keyframe ()
{
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);
  /* Pushed upstream from appsink's pad: h264parse passes it on to x264enc. */
  gst_pad_push_event (parts_->appsink_pad, event);
}

}  // namespace cr::h264
