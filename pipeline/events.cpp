/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: camera events to MQTT (with Home Assistant discovery) and webhooks. */
#define G_LOG_DOMAIN "camrelay"

#include "events.h"

#include "jsontext.h"

#include "camrelay-config.h"
#include "elementfields.h"

namespace camrelay {

namespace {

/* Attributes change with every frame while a camera streams: at most one message this often. */
const gint64 ATTRIBUTES_INTERVAL_US = 3 * G_USEC_PER_SEC;
/* How often attributes and snapshots are looked at. */
const guint SAMPLE_INTERVAL_MS = 100;

std::string
iso_time (gint64 real_us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (real_us / G_USEC_PER_SEC);
  if (!t)
    return "";
  g_autofree gchar *s = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");
  char ms[8];
  g_snprintf (ms, sizeof (ms), ".%03d", static_cast<int> ((real_us / 1000) % 1000));
  return std::string (s) + ms + "Z";
}

/* Home Assistant's node_id and object_id allow [a-zA-Z0-9_-] only. */
std::string
id_safe (const std::string & s)
{
  std::string out = s;
  for (char & c : out) {
    if (!g_ascii_isalnum (c) && c != '_' && c != '-')
      c = '_';
  }
  return out;
}

std::string
number (double v, int decimals)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree gchar *fmt = g_strdup_printf ("%%.%df", decimals);
  return g_ascii_formatd (buf, sizeof (buf), fmt, v);
}

/* @v with at most @decimals decimals and no trailing zeros (0.047, not 0.0470): the form
 * JSON.stringify gives back, so a receiver that checks the signature of its re-serialised parse
 * (README's Node-RED example) gets the very bytes that were signed. */
std::string
shortest_number (double v, int decimals)
{
  std::string out = number (v, decimals);
  if (out.find ('.') != std::string::npos) {
    out.erase (out.find_last_not_of ('0') + 1);
    if (out.back () == '.')
      out.pop_back ();
  }
  return out == "-0" ? "0" : out;
}

bool
is_live (const std::string & state)
{
  return state == elements::ACTIVE_LIVE;
}

}  // namespace

std::string
event_json (const CameraEvent & e, guint64 seq, const std::string & node)
{
  std::string out = "{\"camera\":" + json_string (e.camera) +
      ",\"event\":" + json_string (e.event) + ",\"time\":" + json_string (iso_time (e.time_us)) +
      ",\"seq\":" + std::to_string (seq) + ",\"node\":" + json_string (node);
  for (const auto & [key, value] : e.fields)
    out += "," + json_string (key) + ":" + json_string (value);
  for (const auto & [key, value] : e.numbers)
    out += "," + json_string (key) + ":" + shortest_number (value, 4);
  return out + "}";
}

/* ---------------------------------------------------------------------------------------------- */

std::unique_ptr<Notifier>
Notifier::create (const Config & config, const std::string & base, std::string & error)
{
  std::unique_ptr<Notifier> n (new Notifier ());
  n->mqtt_ = config.mqtt;
  n->node_ = config.mqtt.node.empty () ? g_get_host_name () : config.mqtt.node;
  n->base_ = config.mqtt.public_url.empty () ? base : config.mqtt.public_url;
  while (!n->base_.empty () && n->base_.back () == '/')
    n->base_.pop_back ();
  if (config.mqtt.enabled ()) {
    std::string client_id =
        config.mqtt.client_id.empty () ? "camrelay-" + id_safe (n->node_) : config.mqtt.client_id;
    std::string will = config.mqtt.topic_prefix + "/" + n->node_ + "/status";
    n->publisher_ = MqttPublisher::create (config.mqtt, client_id, will, error);
    if (!n->publisher_)
      return nullptr;
  }
  if (!config.events.urls.empty ())
    n->webhooks_ = std::make_unique<Webhooks> (config.events);
  n->timer_ = g_timeout_add (
      SAMPLE_INTERVAL_MS,
      [] (gpointer self) -> gboolean {
        static_cast<Notifier *> (self)->sample ();
        return G_SOURCE_CONTINUE;
      },
      n.get ());
  return n;
}

Notifier::~Notifier ()
{
  if (timer_)
    g_source_remove (timer_);
}

std::string
Notifier::topic (const std::string & camera, const char *leaf) const
{
  return mqtt_.topic_prefix + "/" + camera + "/" + leaf;
}

void
Notifier::set_cameras (const std::vector<Camera *> & cameras)
{
  std::map<std::string, Tracked> next;
  for (Camera *c : cameras) {
    Tracked t;
    auto old = cameras_.find (c->name ());
    if (old != cameras_.end ())
      t = old->second;
    t.camera = c;
    std::string state = c->status ().state;
    /* A camera restarted by a reload is not live for a moment: said like any other change. */
    if (old != cameras_.end () && t.live && !is_live (state))
      emit ({ c->name (), "offline", g_get_real_time (), { { "state", state } } });
    t.live = is_live (state);
    next[c->name ()] = t;
  }
  for (const auto & [name, t] : cameras_) {
    if (!next.count (name))
      remove_discovery (name);
  }
  cameras_ = std::move (next);
  if (!publisher_)
    return;
  for (auto & [name, t] : cameras_) {
    publisher_->set (topic (name, "state"), t.live ? "live" : "offline");
    publisher_->set (topic (name, "motion"),
        t.camera->config ().motion ? (t.camera->status ().motion.active ? "ON" : "OFF") : "");
    publish_discovery (*t.camera);
  }
}

void
Notifier::camera_state (const std::string & camera, const std::string & state)
{
  auto it = cameras_.find (camera);
  if (it == cameras_.end ())
    return;
  Tracked & t = it->second;
  bool live = is_live (state);
  if (live == t.live)
    return;
  t.live = live;
  if (publisher_)
    publisher_->set (topic (camera, "state"), live ? "live" : "offline");
  emit ({ camera, live ? "online" : "offline", g_get_real_time (), { { "state", state } } });
}

void
Notifier::camera_motion (const std::string & camera, bool on, double area, gint64 time_us)
{
  if (!cameras_.count (camera))
    return;
  if (publisher_)
    publisher_->set (topic (camera, "motion"), on ? "ON" : "OFF");
  emit ({ camera, on ? "motion-start" : "motion-end", time_us, {}, { { "area", area } } });
}

void
Notifier::camera_recording_error (const std::string & camera, const std::string & reason,
    const std::string & location)
{
  if (!cameras_.count (camera))
    return;
  emit ({ camera, "recording-error", g_get_real_time (),
      { { "reason", reason }, { "location", location } } });
}

void
Notifier::emit (const CameraEvent & e)
{
  if (webhooks_)
    webhooks_->post (e.event, event_json (e, ++seq_, node_));
}

void
Notifier::sample ()
{
  if (!publisher_)
    return;
  for (auto & [name, t] : cameras_) {
    publish_attributes (t);
    publish_snapshot (t);
  }
}

void
Notifier::publish_attributes (Tracked & t)
{
  gint64 now = g_get_monotonic_time ();
  if (t.attributes_us && now - t.attributes_us < ATTRIBUTES_INTERVAL_US)
    return;
  CameraStatus st = t.camera->status ();
  std::string source_state =
      st.source.empty () ? (st.connected ? "connected" : "disconnected") : st.source_state;
  std::string json = "{\"state\":" + json_string (st.state) + ",\"fps\":" + number (st.fps, 1) +
      ",\"viewers\":" + std::to_string (st.viewers) +
      ",\"frames_accepted\":" + std::to_string (st.counter (elements::Field::ValidateAccepted)) +
      ",\"frames_rejected\":" + std::to_string (st.counter (elements::Field::ValidateRejected)) +
      ",\"source\":" + json_string (st.source.empty () ? "websocket" : st.source) +
      ",\"source_state\":" + json_string (source_state) + "}";
  /* Checked no more often than published: status() reads every element's stats. */
  t.attributes_us = now;
  if (json == t.attributes)
    return;
  t.attributes = json;
  publisher_->set (topic (st.name, "attributes"), json);
}

void
Notifier::publish_snapshot (Tracked & t)
{
  double interval = t.camera->config ().mqtt_snapshot_interval;
  gint64 now = g_get_monotonic_time ();
  if (interval <= 0 || (t.snapshot_us && now - t.snapshot_us < interval * G_USEC_PER_SEC))
    return;
  guint64 seq = 0;
  GstBuffer *frame = t.camera->latest_frame (&seq);
  if (!frame)
    return;
  if (seq != t.snapshot_seq) {
    t.snapshot_seq = seq;
    t.snapshot_us = now;
    GstMapInfo map;
    if (gst_buffer_map (frame, &map, GST_MAP_READ)) {
      /* Not retained: Home Assistant's MQTT camera shows the newest picture it received. */
      publisher_->set (topic (t.camera->name (), "snapshot"),
          std::string (reinterpret_cast<const char *> (map.data), map.size), false);
      gst_buffer_unmap (frame, &map);
    }
  }
  gst_buffer_unref (frame);
}

/* Home Assistant MQTT discovery: one device per camera with a connectivity binary_sensor, a
 * frame-rate sensor, with motion = true a motion binary_sensor and, with mqtt-snapshot-interval,
 * a camera entity. Keys as documented at
 * home-assistant.io/integrations/{binary_sensor,sensor,camera}.mqtt and mqtt/#discovery. */
void
Notifier::publish_discovery (const Camera & camera)
{
  if (mqtt_.discovery_prefix.empty ())
    return;
  const std::string & name = camera.name ();
  const std::string device_id = "camrelay_" + id_safe (node_) + "_" + id_safe (name);
  const std::string common =
      "\"availability\":[{\"topic\":" + json_string (mqtt_.topic_prefix + "/" + node_ + "/status") +
      ",\"payload_available\":\"online\",\"payload_not_available\":\"offline\"}]," +
      "\"device\":{\"identifiers\":[" + json_string (device_id) +
      "],\"name\":" + json_string (name) + ",\"manufacturer\":\"camrelay\",\"model\":" +
      json_string (camera.config ().pulled () ? "pulled camera" : "WebSocket camera") +
      ",\"sw_version\":" + json_string (CAMRELAY_VERSION) +
      ",\"configuration_url\":" + json_string (base_ + "/view") + "}";
  auto config_topic = [&] (const char *component, const char *object) {
    return mqtt_.discovery_prefix + "/" + component + "/" + device_id + "/" + object + "/config";
  };
  publisher_->set (config_topic ("binary_sensor", "connectivity"),
      "{\"name\":\"Connectivity\",\"unique_id\":" + json_string (device_id + "_connectivity") +
          ",\"device_class\":\"connectivity\",\"state_topic\":" +
          json_string (topic (name, "state")) +
          ",\"payload_on\":\"live\",\"payload_off\":\"offline\",\"json_attributes_topic\":" +
          json_string (topic (name, "attributes")) + "," + common + "}");
  publisher_->set (config_topic ("sensor", "fps"),
      "{\"name\":\"Frame rate\",\"unique_id\":" + json_string (device_id + "_fps") +
          ",\"state_topic\":" + json_string (topic (name, "attributes")) +
          ",\"value_template\":\"{{ value_json.fps }}\",\"unit_of_measurement\":\"fps\","
          "\"state_class\":\"measurement\",\"icon\":\"mdi:cctv\"," +
          common + "}");
  if (camera.config ().motion)
    publisher_->set (config_topic ("binary_sensor", "motion"),
        "{\"name\":\"Motion\",\"unique_id\":" + json_string (device_id + "_motion") +
            ",\"device_class\":\"motion\",\"state_topic\":" + json_string (topic (name, "motion")) +
            ",\"payload_on\":\"ON\",\"payload_off\":\"OFF\"," + common + "}");
  else
    publisher_->set (config_topic ("binary_sensor", "motion"), "");
  if (camera.config ().mqtt_snapshot_interval > 0)
    publisher_->set (config_topic ("camera", "snapshot"),
        "{\"name\":\"Snapshot\",\"unique_id\":" + json_string (device_id + "_snapshot") +
            ",\"topic\":" + json_string (topic (name, "snapshot")) + "," + common + "}");
  else
    publisher_->set (config_topic ("camera", "snapshot"), "");
}

/* A camera gone by a reload: its entities leave Home Assistant (an empty retained config), and
 * its retained state goes from the broker. */
void
Notifier::remove_discovery (const std::string & camera)
{
  if (!publisher_)
    return;
  publisher_->set (topic (camera, "state"), "");
  publisher_->set (topic (camera, "attributes"), "");
  publisher_->set (topic (camera, "motion"), "");
  if (mqtt_.discovery_prefix.empty ())
    return;
  const std::string device_id = "camrelay_" + id_safe (node_) + "_" + id_safe (camera);
  for (const char *entity : { "binary_sensor/%s/connectivity", "sensor/%s/fps",
           "camera/%s/snapshot", "binary_sensor/%s/motion" }) {
    g_autofree gchar *path = g_strdup_printf (entity, device_id.c_str ());
    publisher_->set (mqtt_.discovery_prefix + "/" + path + "/config", "");
  }
}

NotifyStatus
Notifier::status () const
{
  NotifyStatus s;
  s.mqtt = publisher_ != nullptr;
  if (publisher_)
    s.mqtt_stats = publisher_->stats ();
  if (webhooks_)
    s.webhooks = webhooks_->stats ();
  return s;
}

}  // namespace camrelay
