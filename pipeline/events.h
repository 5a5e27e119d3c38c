/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: telling the outside world about cameras ("be told").
 *
 * Cameras report their state changes here (main thread); the notifier turns a change between
 * live and not live into a camera event and hands it to its outlets: MQTT (retained state,
 * attributes, snapshots, Home Assistant discovery; see mqttpublisher.h) and webhooks (see
 * webhooks.h). An event is {camera, event, time, ...}: "online", "offline", "motion-start" and
 * "motion-end" (with the changed "area") and "recording-error" (with its "reason" and the
 * recording's "location"; webhooks only). Neither
 * outlet does network work in the calling thread.
 *
 * Threads: everything in the main thread, except status(), which any thread may call. */
#pragma once

#include "camera.h"
#include "mqttpublisher.h"
#include "relayconfig.h"
#include "webhooks.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace camrelay {

struct CameraEvent
{
  std::string camera;
  std::string event;  /* "online", "offline", "motion-start", "motion-end", "recording-error" */
  gint64 time_us = 0; /* g_get_real_time () */
  /* Further string members of the JSON object, e.g. { "state", "placeholder" }. */
  std::vector<std::pair<std::string, std::string>> fields;
  /* Further number members, e.g. { "area", 0.047 }. */
  std::vector<std::pair<std::string, double>> numbers;
};

/* The webhook body of @e: {"camera":...,"event":...,"time":"ISO 8601",...}. */
std::string event_json (const CameraEvent & e, guint64 seq, const std::string & node);

struct NotifyStatus
{
  bool mqtt = false; /* configured */
  MqttStats mqtt_stats;
  std::vector<WebhookStats> webhooks;
};

class Notifier
{
public:
  /* @base: http(s)://HOST:PORT of this camrelay as others reach it. nullptr (with @error) if the
   * MQTT client cannot be set up. */
  static std::unique_ptr<Notifier> create (const Config & config, const std::string & base,
      std::string & error);
  ~Notifier ();

  /* The running cameras, at start and after each reload: discovery is published for each and
   * removed for cameras gone. */
  void set_cameras (const std::vector<Camera *> & cameras);
  /* A camera's state changed ("live", "placeholder", "offline", "restarting"...). */
  void camera_state (const std::string & camera, const std::string & state);
  /* A camera's motion started (@on) or ended, at @time_us (Unix µs), @area changed. */
  void camera_motion (const std::string & camera, bool on, double area, gint64 time_us);
  /* A camera's recording to @location paused (@reason): a "recording-error" webhook. */
  void camera_recording_error (const std::string & camera, const std::string & reason,
      const std::string & location);
  /* Any thread. */
  NotifyStatus status () const;

private:
  Notifier () = default;
  struct Tracked
  {
    Camera *camera = nullptr;
    bool live = false;
    std::string attributes;
    gint64 attributes_us = 0;
    gint64 snapshot_us = 0;
    guint64 snapshot_seq = 0;
  };
  void sample ();
  std::string topic (const std::string & camera, const char *leaf) const;
  void publish_discovery (const Camera & camera);
  void remove_discovery (const std::string & camera);
  void publish_attributes (Tracked & t);
  void publish_snapshot (Tracked & t);
  void emit (const CameraEvent & e);

  MqttConfig mqtt_;
  std::string node_;
  std::string base_;
  std::unique_ptr<MqttPublisher> publisher_;
  std::unique_ptr<Webhooks> webhooks_;
  std::map<std::string, Tracked> cameras_;
  guint64 seq_ = 0;
  guint timer_ = 0;
};

}  // namespace camrelay
