/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the H.264 feed of an h264relaysink, for whatever serves it (RTSP, WebRTC, tests).
 *
 * An h264relaysink encodes its camera's JPEG frames to H.264 only while it has at least one
 * consumer. A consumer subscribes with a callback that receives every access unit the encoder
 * produces, from the first key frame on:
 *
 *   static void on_au (GstBuffer *au, GstCaps *caps, gpointer user) { ... }
 *   guint id = cr_h264_feed_subscribe (sink, "webrtc", on_au, peer, peer_free);
 *   ...
 *   cr_h264_feed_unsubscribe (sink, id);
 *
 * - @au is one access unit, Annex B byte-stream (start codes), SPS and PPS in front of every key
 *   frame; GST_BUFFER_FLAG_DELTA_UNIT is unset on key frames; PTS is the running time of the
 *   encoder's private pipeline (monotonic, nanoseconds). Every consumer receives the very same
 *   buffer (zero copy): it is borrowed for the call; take a reference to keep it, never write it.
 * - @caps: video/x-h264, stream-format=byte-stream, alignment=au, profile=constrained-baseline,
 *   width, height (borrowed likewise; the same pointer until the picture size changes).
 * - The callback runs in the encoder's streaming thread: hand work over, never block in it.
 *   It may call cr_h264_feed_unsubscribe and cr_h264_feed_request_keyframe.
 * - The first buffer a new consumer receives is a key frame: subscribing asks the encoder for
 *   one, so it comes with the next input frame (or at once, from the newest frame, when the
 *   encoder has to start).
 * - After cr_h264_feed_unsubscribe returns no new call starts; a call already running may still
 *   finish, and @destroy (may be NULL) runs on @user_data once none runs any more.
 * - @kind ("rtsp", "webrtc", ...) only labels the consumer in the sink's `stats`
 *   (consumers-KIND, bytes-out-KIND).
 *
 * These are the element's action signals ("subscribe", "unsubscribe", "request-keyframe"), so they
 * work from any code that has the element, linked to the plugin or not.
 */
#pragma once

#include <gst/gst.h>

/* One access unit for one consumer (see above). */
typedef void (*CrH264FeedFunc) (GstBuffer *au, GstCaps *caps, gpointer user_data);

/* Adds a consumer; returns its id (never 0), or 0 if @sink is no h264relaysink. */
static inline guint
cr_h264_feed_subscribe (GstElement *sink, const gchar *kind, CrH264FeedFunc func,
    gpointer user_data, GDestroyNotify destroy)
{
  guint id = 0;
  if (!g_signal_lookup ("subscribe", G_OBJECT_TYPE (sink)))
    return 0;
  g_signal_emit_by_name (sink, "subscribe", kind, (gpointer) func, user_data, (gpointer) destroy,
      &id);
  return id;
}

/* Removes consumer @id (unknown ids are ignored). The encoder stops `linger` after the last. */
static inline void
cr_h264_feed_unsubscribe (GstElement *sink, guint id)
{
  g_signal_emit_by_name (sink, "unsubscribe", id);
}

/* Asks the encoder for a key frame (with SPS and PPS) at the next input frame. */
static inline void
cr_h264_feed_request_keyframe (GstElement *sink)
{
  g_signal_emit_by_name (sink, "request-keyframe");
}
