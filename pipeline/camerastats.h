/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: what /status, /metrics and /view show of one camera (CameraStatus), and the
 * reading of its elements' "stats" structures (Stats) that fills it. Camera::status() and
 * Camera::add_counters() are defined in camerastats.cpp; the camera's lifecycle stays in
 * camera.cpp. */
#pragma once

#include "cameracounters.h"
#include "crwhep.h"
#include "elementfields.h"

#include <gst/gst.h>

#include <string>
#include <vector>

namespace camrelay {

struct CameraStatus
{
  std::string name;
  /* "live", "placeholder" (jpegfallback shows its picture), "offline" (no jpegfallback and no
   * camera connected), "starting" or "restarting" (after an error). */
  std::string state;
  gint64 since_us = 0; /* g_get_real_time() of the last change of state */
  bool connected = false;
  std::string peer;
  double fps = 0; /* frames received per second, recent average */
  /* Counters summed over every pipeline this camera ran, one per guint64 "stats" field of its
   * elements (see counter() and recorder_counter()). */
  CameraCounters counters;
  guint viewers = 0;
  guint64 restarts = 0;
  std::string last_error;
  gint64 last_error_us = 0;

  /* A pulled camera (pulljpegsrc): its URL without credentials, "" for a pushing camera; its
   * state ("connecting", "streaming", "retrying", "idle"), reconnects and last failure. */
  std::string source;
  std::string source_state;
  guint64 source_reconnects = 0;
  std::string source_error;

  /* Recording (jpegrecordsink "record": every frame; "timelapse"): each one's state ("off"
   * without such a sink, "idle", "recording", "paused"), why it is paused, and its last error.
   * Their counters are in @counters (recorder_counter()). */
  struct Recorder
  {
    std::string state = "off";
    std::string reason;
    std::string last_error;
    gint64 last_error_us = 0;
  };
  Recorder record, timelapse;

  /* The H.264 branch (h264relaysink), present = the camera has one. Its counters are in @counters
   */
  struct H264
  {
    bool present = false;
    guint consumers_rtsp = 0;   /* one while any RTSP viewer plays: they share it */
    guint consumers_webrtc = 0; /* one per WebRTC peer */
    guint rtsp_viewers = 0;
    bool encoder_running = false;
    guint encode_ns = 0; /* decode + encode of a frame, recent average */
    guint bitrate_kbps = 0;
  };
  H264 h264;
  /* Motion detection (jpegmotion, motion = true): whether the camera has it, whether motion is
   * going on now and since when, the last event's start, end and largest changed area. Its
   * counters are in @counters as "jpegmotion.FIELD". */
  struct Motion
  {
    bool enabled = false;
    bool active = false;
    gint64 since_us = 0; /* g_get_real_time() of the last start or end; 0 = none yet */
    gint64 last_start_us = 0;
    gint64 last_end_us = 0;
    double last_area = 0;
  };
  Motion motion;
  /* WebRTC (WHEP) viewers: filled by the pages (webrtcviewers.h), zeros without any. */
  cr::WhepStats webrtc;

  std::vector<std::string> ingest_paths;
  std::string stream_path;
  std::string snapshot_path;

  /* A stats counter of the element that owns @field. */
  guint64 counter (elements::Field field) const { return counters.get (field); }
  /* A jpegrecordsink counter of the "record" or the "timelapse" sink. */
  guint64 recorder_counter (bool timelapse, elements::Field field) const
  {
    return counters.recorder (timelapse, field);
  }
};

/* An element's "stats" structure as the element built it (read into a value of our own, so the
 * structure is not copied once more); empty for no element or one without "stats". */
class Stats
{
public:
  using Field = elements::Field;

  explicit Stats (GstElement *element)
  {
    if (!element || !g_object_class_find_property (G_OBJECT_GET_CLASS (element), elements::STATS))
      return;
    g_value_init (&value_, GST_TYPE_STRUCTURE);
    g_object_get_property (G_OBJECT (element), elements::STATS, &value_);
  }
  ~Stats ()
  {
    if (G_IS_VALUE (&value_))
      g_value_unset (&value_);
  }
  Stats (const Stats &) = delete;
  Stats & operator= (const Stats &) = delete;

  const GstStructure *get () const
  {
    return G_IS_VALUE (&value_) ? static_cast<const GstStructure *> (g_value_get_boxed (&value_))
                                : nullptr;
  }
  explicit operator bool () const { return get () != nullptr; }

  /* A field by its quark; nullptr when absent or of another type. */
  const gchar *string (Field f) const
  {
    const GValue *v = value (f);
    return v && G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : nullptr;
  }
  bool boolean (Field f, gboolean *out) const
  {
    return read (f, G_TYPE_BOOLEAN, g_value_get_boolean, out);
  }
  bool uint (Field f, guint *out) const { return read (f, G_TYPE_UINT, g_value_get_uint, out); }
  bool uint64 (Field f, guint64 *out) const
  {
    return read (f, G_TYPE_UINT64, g_value_get_uint64, out);
  }
  bool int64 (Field f, gint64 *out) const { return read (f, G_TYPE_INT64, g_value_get_int64, out); }

private:
  const GValue *value (Field f) const
  {
    const GstStructure *s = get ();
    return s ? gst_structure_id_get_value (s, field_quark (f)) : nullptr;
  }
  /* @out untouched when the field is absent or of another type. */
  template<typename T> bool read (Field f, GType type, T (*getter) (const GValue *), T *out) const
  {
    const GValue *v = value (f);
    if (!v || G_VALUE_TYPE (v) != type)
      return false;
    *out = getter (v);
    return true;
  }

  GValue value_ = G_VALUE_INIT;
};

}  // namespace camrelay
