/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: one camera's pipeline at run time.
 *
 * Each camera runs its own GstPipeline, watched on the main GMainContext. An error in it is logged
 * with its cause, the pipeline is torn down and built again after a delay that doubles from one
 * second up to thirty; the other cameras are not touched.
 *
 * Threads: start(), stop() and the bus watch run in the main thread. status() is called from the
 * server thread (the /status, /metrics and /view handlers): it copies the state kept under the
 * lock and reads the elements' "stats" properties, which are thread-safe. The lock is never held
 * while the pipeline changes state, because wsjpegsrc and mjpeghttpsink wait for the server thread
 * while they stop. Lock order: the camera's lock, then the elements' own (reading "stats"). */
#pragma once

#include "camerastats.h"
#include "crbackoff.h"
#include "elementfields.h"
#include "relayconfig.h"

#include <gst/gst.h>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace camrelay {

class BusWatch;

class Camera
{
public:
  explicit Camera (const CameraConfig & config);
  ~Camera ();
  Camera (const Camera &) = delete;
  Camera & operator= (const Camera &) = delete;

  const std::string & name () const { return config_.name; }
  const CameraConfig & config () const { return config_; }

  /* Main thread. Builds the pipeline and sets it playing; failures are retried with backoff. */
  void start ();
  /* Main thread, at shutdown: sends end-of-stream, so that mjpeghttpsink ends every viewer's
   * response with the closing boundary while the pipeline still runs. */
  void begin_stop ();
  /* Any thread: true once no viewer is still being sent the end of its response. */
  bool drained () const;
  /* Main thread. Stops the pipeline (cameras get a WebSocket close). Viewers still connected
   * are disconnected, or with @keep_viewers left waiting for the next pipeline on the same path
   * (the camera restarted by a reload). */
  void stop (bool keep_viewers = false);
  /* Main thread, at exit: stop() but for the pipeline's state change, left to the caller
   * (several pipelines go to NULL at once from other threads), and the counters, which nobody
   * reads any more. Returns the pipeline (transfer full), or nullptr if none runs. */
  GstElement *stop_at_exit ();
  /* Main thread, once a second: updates the frame rate. */
  void sample ();

  /* Any thread. */
  CameraStatus status () const;
  /* Any thread: the ports wsjpegsrc and mjpeghttpsink listen on (0 while not running). */
  std::vector<guint> bound_ports () const;

  /* Main thread: @listener hears every change of state, in the main thread (events.h). */
  void set_state_listener (std::function<void (const std::string & state)> listener)
  {
    state_listener_ = std::move (listener);
  }
  /* Main thread: @listener hears every motion-start (@on) and motion-end, in the main thread,
   * with the changed area and the time (Unix µs); a pipeline stopped in the middle of motion
   * ends it too. */
  void set_motion_listener (std::function<void (bool on, double area, gint64 time_us)> listener)
  {
    motion_listener_ = std::move (listener);
  }
  /* Main thread: @listener hears, in the main thread, each time a recording sink of the camera
   * goes from writing to paused (a full disk, a folder it cannot write), with why and its folder;
   * not again while it stays paused, whatever new file it then fails on. */
  void set_recording_error_listener (
      std::function<void (const std::string & reason, const std::string & location)> listener)
  {
    recording_error_listener_ = std::move (listener);
  }
  /* Any thread: the newest live frame (a reference, or nullptr) and its number, kept only with
   * mqtt-snapshot-interval > 0. */
  GstBuffer *latest_frame (guint64 *seq) const;
  /* Any thread: the running pipeline's h264relaysink (a reference), or nullptr without one. */
  GstElement *h264_sink () const;

private:
  struct Elements
  {
    GstElement *src = nullptr;       /* wsjpegsrc */
    GstElement *validate = nullptr;  /* jpegvalidate */
    GstElement *fallback = nullptr;  /* jpegfallback */
    GstElement *sink = nullptr;      /* mjpeghttpsink */
    GstElement *pull = nullptr;      /* pulljpegsrc */
    GstElement *record = nullptr;    /* jpegrecordsink name=record */
    GstElement *timelapse = nullptr; /* jpegrecordsink name=timelapse */
    GstElement *h264 = nullptr;      /* h264relaysink */
    GstElement *motion = nullptr;    /* jpegmotion */
    /* A copy holding a reference to each element, for reading them outside the lock. */
    Elements ref () const;
    void clear ();
    std::array<GstElement **, 9> slots ();
  };

  void on_bus_message (GstMessage *message);
  static gboolean on_restart (gpointer self);
  static GstPadProbeReturn on_live_frame (GstPad *pad, GstPadProbeInfo *info, gpointer self);

  bool build (std::string & error);
  void handle_error (const std::string & cause);
  void handle_element_message (GstMessage *message);
  void handle_rejected (const GstStructure *s);
  void handle_record_state (const GstStructure *s);
  void handle_motion (const GstStructure *s, bool on);
  void set_motion (bool on, double area, gint64 time_us);
  void teardown ();
  /* teardown() but for the pipeline's state change: returns it (transfer full), or nullptr.
   * With @keep_counters, what the pipeline counted is added to the camera's totals first. */
  GstElement *release_pipeline (bool keep_counters = true);
  void cancel_restart ();
  void let_viewers_go ();
  void set_state (const std::string & state);
  std::string running_state () const;
  void add_counters (CameraCounters & into) const;
  void update_demand ();
  void on_wanted ();
  void open_source (bool open, const char *why);
  void set_snapshot_wait (guint64 ns);

  CameraConfig config_;

  /* Main thread only. */
  GstElement *pipeline_ = nullptr;
  std::shared_ptr<BusWatch> bus_watch_; /* bushub.h */
  guint restart_source_ = 0;
  cr::Backoff backoff_;
  bool stopping_ = false;
  gint64 started_us_ = 0;
  gint64 last_reject_log_us_ = 0;
  guint64 rejects_unlogged_ = 0;
  struct Sample
  {
    gint64 time_us;
    guint64 frames;
  };
  std::deque<Sample> samples_;
  /* on-demand: when a viewer or a snapshot last wanted the camera, and the snapshots seen. */
  gint64 last_demand_us_ = 0;
  guint64 snapshots_seen_ = 0;
  bool demand_open_ = false;
  std::function<void (const std::string & state)> state_listener_;
  std::function<void (bool on, double area, gint64 time_us)> motion_listener_;
  std::function<void (const std::string & reason, const std::string & location)>
      recording_error_listener_;
  std::set<std::string> recordings_paused_; /* main thread: the folders of sinks now paused */

  /* Guards everything below. */
  mutable std::mutex lock_;
  Elements elements_;
  std::string state_ = "starting";
  gint64 since_us_ = 0;
  bool connected_ = false;
  std::string peer_;
  double fps_ = 0;
  guint64 received_ = 0; /* the running pipeline's frame count at the last sample */
  CameraCounters base_;  /* counters of the pipelines already torn down */
  guint64 restarts_ = 0;
  std::string last_error_;
  gint64 last_error_us_ = 0;
  CameraStatus::Motion motion_;
  GstBuffer *latest_ = nullptr; /* see latest_frame() */
  guint64 latest_seq_ = 0;
};

}  // namespace camrelay
