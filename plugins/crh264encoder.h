/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one camera's JPEG → H.264 encoder, a private pipeline that exists only while needed.
 *
 *   appsrc (leaky, 2 frames) ! jpegdec ! videoconvert ! video/x-raw,format=I420 !
 *   x264enc tune=zerolatency speed-preset=superfast threads=1 option-string=partitions=none !
 *   video/x-h264,profile=constrained-baseline !
 *   h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink
 *
 * It runs in its own streaming thread (appsrc's), so the camera's thread only hands a frame over
 * (a reference, no copy of the bytes) and never waits for a decode or an encode; when the encoder
 * falls behind, the oldest waiting JPEG is dropped before it is decoded. Each access unit goes to
 * the output callback in that thread. Errors go to the failure callback (once); the owner then
 * destroys the encoder from another thread.
 */
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace cr::h264 {

struct EncoderSettings
{
  guint bitrate_kbps = 0; /* 0 = from the picture size (bitrate_for_size) */
  guint key_int_max = 30; /* frames between key frames at most */
  /* The frame rate the encoder's rate control assumes. Frames keep their own times, but x264
   * holds every frame back until the next one arrives when told the rate is variable (it needs
   * the next timestamp for the frame's duration): a camera's measured rate is given instead. */
  guint nominal_fps = 10;
};

/* The bitrate (kbit/s) used for a picture of @width × @height when none is set. */
guint bitrate_for_size (int width, int height);

struct EncoderStats
{
  std::atomic<guint64> frames_decoded{ 0 };
  std::atomic<guint64> frames_encoded{ 0 };
  std::atomic<guint64> bytes_encoded{ 0 };
  std::atomic<guint64> encode_ns_last{ 0 }; /* decode + convert + encode of the last frame */
  std::atomic<guint64> encode_ns_avg{ 0 };  /* the same, averaged (EWMA, 1/8) */
  std::atomic<guint> bitrate_kbps{ 0 };     /* what the encoder was given */
};

class Encoder
{
public:
  /* In the encoder's streaming thread: one access unit and its caps, both borrowed. */
  using Output = std::function<void (GstBuffer *au, GstCaps *caps)>;
  /* In whatever thread saw it: what went wrong, once. */
  using Failure = std::function<void (const std::string & why)>;

  /* Builds and starts the pipeline; nullptr with @error set if it cannot be. */
  static std::unique_ptr<Encoder> start (const EncoderSettings & settings, Output output,
      Failure failure, std::string & error);
  /* Stops the pipeline (joins its thread): never call from the output callback. */
  ~Encoder ();

  /* Hands one JPEG over (any thread): a new buffer sharing @jpeg's memory, stamped now. */
  void push (GstBuffer *jpeg, GstCaps *caps);
  /* The next frame becomes a key frame with SPS and PPS. */
  void request_keyframe ();

  const EncoderStats & stats () const { return *stats_; }

  Encoder (const Encoder &) = delete;
  Encoder & operator= (const Encoder &) = delete;

  struct Parts;

private:
  Encoder () = default;
  std::unique_ptr<Parts> parts_;
  std::shared_ptr<EncoderStats> stats_;
};

}  // namespace cr::h264
