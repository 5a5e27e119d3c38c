/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the configuration (a GKeyFile, or the built-in legacy default) and the
 * pipeline description it gives for each camera.
 *
 * Loading happens in two steps: load_config() reads and checks every key; resolve_config() then
 * (after command-line overrides) finds the placeholder files, builds each camera's description,
 * parses it with GStreamer to prove that it can run, and checks that no two cameras claim the same
 * URL path. Every error names the file, the section and the key. */
#pragma once

#include "launchline.h"
#include "recordsettings.h"

#include <glib.h>

#include <string>
#include <vector>

namespace camrelay {

struct ServerConfig
{
  std::string address = "0.0.0.0";
  guint port = 3001;
  std::string viewer_user;
  std::string viewer_password;
  bool metrics_open_on_loopback = false;
  std::string tls_certificate;
  std::string tls_key;
  /* WebRTC (WHEP): the ICE agents' UDP ports (0 = any), the address host candidates announce
   * ("" = the interfaces' own), and STUN/TURN servers for viewers beyond the LAN. */
  guint webrtc_min_port = 0;
  guint webrtc_max_port = 0;
  std::string webrtc_address;
  std::string stun_server;
  std::string turn_server;
  guint rtsp_port = 8554; /* H.264 over RTSP (h264relaysink); 0 = off */
};

/* [mqtt]: where camera states, attributes and Home Assistant discovery are published. */
struct MqttConfig
{
  std::string broker;       /* as written, credentials included; "" = MQTT off */
  std::string broker_shown; /* without credentials, for logs, --check and /status */
  std::string host;
  guint port = 1883;
  bool tls = false; /* mqtts:// */
  std::string user;
  std::string password;
  std::string ca_file;
  std::string topic_prefix = "camrelay";
  std::string client_id;                          /* "" = camrelay-NODE */
  std::string discovery_prefix = "homeassistant"; /* "" = no discovery */
  std::string node;                               /* "" = this machine's name */
  std::string public_url;                         /* "" = http(s)://NODE-HOST:PORT */
  guint keep_alive = 30;                          /* seconds */

  bool enabled () const { return !broker.empty (); }
};

/* [events]: webhooks called on camera events. */
struct EventsConfig
{
  std::vector<std::string> urls;
  std::string secret; /* HMAC-SHA256 key for X-Camrelay-Signature; "" = unsigned */
  guint queue_size = 100;
  guint timeout = 10; /* seconds per attempt */
};

struct CameraConfig
{
  std::string name;
  /* Keys given explicitly in the file, for error messages and for pipeline= checks. */
  std::vector<std::string> keys_set;
  /* Every key = value of the section as the file gives it: a reload compares whole sections. */
  std::vector<std::pair<std::string, std::string>> section_values;

  std::vector<std::string> ingest_paths;
  std::string stream_path;
  std::string snapshot_path;
  std::string placeholder = "placeholder.jpg";
  double timeout = 5.0; /* seconds */
  guint placeholder_fps = 1;
  guint min_size = 5001;
  guint max_size = 4 * 1024 * 1024;
  guint64 max_message_size = 4 * 1024 * 1024;
  guint max_viewers = 0;
  bool decode_check = false;
  std::string secret;
  std::string latest_file;
  bool latest_file_sync = false; /* fsync before each rename (see crlatestfile.h) */
  std::string pipeline;          /* a complete description; empty = the generated one */
  /* Where frames come from: "" (websocket, pushed) or a URL pulled by pulljpegsrc. */
  std::string source;
  std::string source_shown;       /* the URL with its credentials masked (cr::redact_url) */
  double snapshot_interval = 1.0; /* seconds */
  bool on_demand = false;
  guint io_timeout = 10;              /* seconds without a frame before a reconnect */
  std::string tls_ca;                 /* PEM CA file for https/rtsps, absolute; "" = system's */
  std::string tls_pinned_certificate; /* PEM certificate accepted as it is, absolute */
  /* Recording (see recordsettings.h): every frame, and the time-lapse and age limit when they
   * differ from [recordings] (-1 = as there). */
  bool record = false;
  double timelapse_interval = -1;
  gint64 keep = -1;
  double mqtt_snapshot_interval = 0; /* seconds between MQTT snapshots; 0 = none */
  guint h264_bitrate = 0;            /* kbit/s of the H.264 encoder; 0 = from the picture size */
  /* Motion detection (jpegmotion on the camera's tee; see motionbranch.h). */
  bool motion = false;
  guint motion_threshold = 25;
  double motion_min_area = 0.01; /* fraction of the picture */
  std::string motion_mask;       /* "x,y,w,h;..." as jpegmotion takes it */
  double motion_hold = 5;        /* seconds */
  double motion_max_fps = 2.5;   /* frames analysed a second at most (see README "Motion") */
  /* record = motion: record (true) only around motion, with these seconds before and after. */
  bool record_motion = false;
  double pre_roll = 5;
  double post_roll = 10;

  bool pulled () const { return !source.empty (); }

  /* Filled by resolve_config(). */
  LaunchLine line;
  std::vector<std::string> routes_ingest; /* as the pipeline's elements report them */
  std::string routes_stream;
  std::string routes_snapshot;
  std::string placeholder_file;   /* absolute, "" without a jpegfallback */
  std::string placeholder_digest; /* of the file's bytes: a reload restarts on new content */
  bool has_secret = false;

  std::string section () const { return "camera " + name; }
};

struct Config
{
  /* The config file as given, or "" for the built-in default. */
  std::string file;
  ServerConfig server;
  RecordingsConfig recordings;
  MqttConfig mqtt;
  EventsConfig events;
  std::vector<CameraConfig> cameras;

  /* "FILE" or "built-in default": where an error message says the problem is. */
  std::string origin () const;
};

/* The legacy contract: one camera, port 3001, ingest on /ws and /, MJPEG on /. */
Config default_config ();

/* Reads @file. On error returns false with a message naming file, section and key. */
bool load_config (const std::string & file, Config & config, std::string & error);

/* Builds and checks every camera's pipeline (see above). Needs gst_init() and the plugin. */
bool resolve_config (Config & config, std::string & error);

/* For a reload: whether a resolved camera runs exactly as before: the same section, key by key
 * (on-demand, say, changes no element), the same pipeline and routes, the same placeholder bytes.
 */
bool same_camera (const CameraConfig & a, const CameraConfig & b);

/* For a reload: the [server] keys whose values differ, e.g. "port, tls-key"; "" if none. */
std::string server_changes (const ServerConfig & running, const ServerConfig & file);

/* Where a relative placeholder path is looked for, in order. */
std::vector<std::string> placeholder_search_dirs (const Config & config);

}  // namespace camrelay
