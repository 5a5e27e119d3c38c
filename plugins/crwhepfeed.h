/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: what a WHEP endpoint needs of a camera's H.264 encoder, which every WebRTC (and RTSP)
 * viewer of the camera shares: a way to be handed each encoded access unit, and a way to ask for a
 * key frame when a viewer joins or loses packets. The encoder element adapts its own fan-out to
 * this; tests feed it from x264enc directly. */
#pragma once

#include <gst/gst.h>

#include <functional>

namespace cr {

class H264Feed
{
public:
  /* Called in the encoder's streaming thread for every access unit (byte-stream, one AU per
   * buffer, DELTA_UNIT unset on key frames), with the caps it carries. Must not block. Both are
   * transfer none: ref what is kept. */
  using Callback = std::function<void (GstBuffer *au, GstCaps *caps)>;

  virtual ~H264Feed () = default;
  /* Starts the encoder if it is the first subscriber; returns an id for unsubscribe(), 0 if there
   * is no encoder to subscribe to. */
  virtual guint64 subscribe (Callback callback) = 0;
  /* Once this returns, no new call of @id's callback starts (one already running may finish). */
  virtual void unsubscribe (guint64 id) = 0;
  /* The next access unit will be a key frame (with SPS and PPS). */
  virtual void request_keyframe () = 0;
  /* False when there is no encoder to subscribe to (a pipeline without h264relaysink): offers
   * are then answered 503 before any session is made. */
  virtual bool available () { return true; }
};

}  // namespace cr
