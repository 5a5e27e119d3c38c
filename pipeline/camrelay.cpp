/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: relays JPEG frames from WebSocket cameras to MJPEG viewers.
 *
 * The program reads a configuration (or uses the built-in legacy default), runs one GStreamer
 * pipeline per camera on one shared HTTP/WebSocket server, and serves /status, /metrics and /view
 * beside the streams. See configs/default.conf for every setting. SIGHUP reads the config file
 * again and applies the difference camera by camera (see reload()).
 *
 * Exit codes: 0 after SIGINT/SIGTERM, --check, --print-pipeline, --help or --version;
 * 1 when it cannot run (port in use, plugin missing); 2 for a bad command line or configuration. */
#define G_LOG_DOMAIN "camrelay"

#include "camera.h"
#include "camrelay-config.h"
#include "crredact.h"
#include "crserver.h"
#include "crredact.h"
#include "elementfields.h"
#include "events.h"
#include "pages.h"
#include "prebuilt.h"
#include "recordings.h"
#include "recordingstore.h"
#include "relayconfig.h"
#include "webrtcviewers.h"

#include <glib-unix.h>
#include <gst/gst.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

namespace {

/* How long a stop waits for viewers to receive the end of their responses. */
const gint64 DRAIN_TIMEOUT_US = 500 * G_TIME_SPAN_MILLISECOND;

enum ExitCode
{
  EXIT_OK = 0,
  EXIT_CANNOT_RUN = 1,
  EXIT_BAD_CONFIG = 2,
};

struct Options
{
  gchar *config = nullptr;
  gint port = -1;
  gboolean check = FALSE;
  gboolean print_pipeline = FALSE;
  gboolean version = FALSE;

  ~Options () { g_free (config); }
};

/* The plugin is found through GST_PLUGIN_PATH or GStreamer's own directories; failing that, the
 * program looks beside itself in the build tree and in the directory it was installed with. */
bool
ensure_plugin ()
{
  auto present = [] {
    g_autoptr (GstElementFactory) f = gst_element_factory_find (camrelay::elements::WSJPEGSRC);
    return f != nullptr;
  };
  if (present ())
    return true;

  std::vector<std::string> dirs;
  g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", nullptr);
  if (exe) {
    g_autofree gchar *dir = g_path_get_dirname (exe);
    g_autofree gchar *build = g_build_filename (dir, "..", "plugins", nullptr);
    g_autofree gchar *canon = g_canonicalize_filename (build, nullptr);
    dirs.emplace_back (canon);
  }
  dirs.emplace_back (CAMRELAY_PLUGINDIR);
  for (const auto & d : dirs) {
    if (g_file_test (d.c_str (), G_FILE_TEST_IS_DIR) &&
        gst_registry_scan_path (gst_registry_get (), d.c_str ()) && present ())
      return true;
  }
  return present ();
}

bool
is_loopback (const std::string & address)
{
  if (address == "localhost")
    return true;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address.c_str ());
  return inet && g_inet_address_get_is_loopback (inet);
}

bool
is_wildcard (const std::string & address)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (address.c_str ());
  return inet && g_inet_address_get_is_any (inet);
}

/* "http://HOST:PORT" for log lines: a wildcard address is shown as this machine's name. */
std::string
base_url (const camrelay::Config & config, guint port, bool tls, bool websocket)
{
  std::string host =
      is_wildcard (config.server.address) ? g_get_host_name () : config.server.address;
  if (host.find (':') != std::string::npos)
    host = "[" + host + "]";
  const char *scheme = websocket ? (tls ? "wss" : "ws") : (tls ? "https" : "http");
  return std::string (scheme) + "://" + host + ":" + std::to_string (port);
}

std::string
startup_line (const camrelay::Config & config, const cr::Server & server)
{
  std::string http = base_url (config, server.port (), server.tls (), false);
  std::string ws = base_url (config, server.port (), server.tls (), true);
  std::string line = std::string ("camrelay ") + CAMRELAY_VERSION + " listening on " +
      config.server.address + " port " + std::to_string (server.port ()) + ":";
  for (const auto & c : config.cameras) {
    line += " camera " + c.name + (c.pulled () ? " pulls " + c.source_shown : " takes frames on");
    for (const auto & p : c.routes_ingest)
      line += " " + ws + p;
    if (c.routes_ingest.empty () && !c.pulled ())
      line += " (none)";
    if (!c.routes_stream.empty ())
      line += ", streams " + http + c.routes_stream;
    if (!c.routes_snapshot.empty ())
      line += ", snapshot " + http + c.routes_snapshot;
    line += ";";
  }
  line +=
      " status " + http + "/status, metrics " + http + "/metrics, viewer page " + http + "/view";
  return line;
}

void
warn_open_ingest (const camrelay::Config & config, guint port)
{
  if (is_loopback (config.server.address))
    return;
  std::string open;
  for (const auto & c : config.cameras) {
    if (!c.has_secret && !c.routes_ingest.empty ())
      open += (open.empty () ? "" : ", ") + c.name;
  }
  if (!open.empty ())
    g_warning ("listening on %s beyond this machine with no ingest secret for camera %s: "
               "anyone who reaches port %u can send pictures (set secret= in the [camera] section)",
        config.server.address.c_str (), open.c_str (), port);
}

void
print_check (const camrelay::Config & config)
{
  printf ("# %s: configuration OK, %zu camera%s on %s port %u\n", config.origin ().c_str (),
      config.cameras.size (), config.cameras.size () == 1 ? "" : "s",
      config.server.address.c_str (), config.server.port);
  for (const auto & c : config.cameras) {
    std::string ingest;
    for (const auto & p : c.routes_ingest)
      ingest += (ingest.empty () ? "" : " ") + p;
    if (c.pulled ())
      ingest = "(none; pulls " + c.source_shown + (c.on_demand ? " on demand)" : ")");
    printf ("# [camera %s] ingest %s, stream %s, snapshot %s, placeholder %s\n", c.name.c_str (),
        ingest.empty () ? "(none)" : ingest.c_str (),
        c.routes_stream.empty () ? "(none)" : c.routes_stream.c_str (),
        c.routes_snapshot.empty () ? "(none)" : c.routes_snapshot.c_str (),
        c.placeholder_file.empty () ? "(none)" : c.placeholder_file.c_str ());
    /* The journal keeps what the unit's ExecStartPre prints: --print-pipeline is the one place
     * the lines come with their secrets. */
    printf ("%s\n", cr::redact_text (c.line.command ()).c_str ());
  }
  if (config.mqtt.enabled ())
    printf ("# [mqtt] broker %s, topics %s/NAME/..., discovery %s\n",
        config.mqtt.broker_shown.c_str (), config.mqtt.topic_prefix.c_str (),
        config.mqtt.discovery_prefix.empty () ? "off" : config.mqtt.discovery_prefix.c_str ());
  for (const auto & url : config.events.urls)
    printf ("# [events] webhook %s%s\n", cr::redact_url (url).c_str (),
        config.events.secret.empty () ? "" : " (signed)");
}

/* The elements must have found the program's server: its port, its pages, its access rules. */
bool
same_server (const std::vector<std::unique_ptr<camrelay::Camera>> & cameras, guint port)
{
  for (const auto & c : cameras) {
    for (guint p : c->bound_ports ()) {
      if (p != 0 && p != port)
        return false;
    }
  }
  return true;
}

/* Every log line passes through cr::redact_text() on its way out: GStreamer's elements, GLib and
 * libsoup quote URLs and pipeline descriptions (gst_parse_launch logs the whole description at
 * INFO) whose credentials belong in the pipeline, not in the journal. */
GLogWriterOutput
write_redacted_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer)
{
  if (g_log_writer_default_would_drop (level, nullptr)) {
    /* Cheap for the debug lines nobody asked for; the domain is checked below with the rest. */
    const char *domain = nullptr;
    for (gsize i = 0; i < n_fields; i++) {
      if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
        domain = static_cast<const char *> (fields[i].value);
    }
    if (g_log_writer_default_would_drop (level, domain))
      return G_LOG_WRITER_HANDLED;
  }
  std::vector<GLogField> copy (fields, fields + n_fields);
  std::string message;
  for (auto & f : copy) {
    if (g_strcmp0 (f.key, "MESSAGE") == 0 && f.value) {
      message = f.length < 0
          ? cr::redact_text (static_cast<const char *> (f.value))
          : cr::redact_text (std::string_view (static_cast<const char *> (f.value), f.length));
      f.value = message.c_str ();
      f.length = -1;
    }
  }
  return g_log_writer_default (level, copy.data (), copy.size (), nullptr);
}

/* GStreamer's debug log (GST_DEBUG=...), as gst_debug_log_default formats it, without colours,
 * to GST_DEBUG_FILE when set (as GStreamer does), to stderr otherwise. */
void
gst_log_redacted (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message, gpointer out)
{
  if (level > gst_debug_category_get_threshold (category))
    return;
  g_autofree gchar *text =
      gst_debug_log_get_line (category, level, file, function, line, object, message);
  fputs (cr::redact_text (text).c_str (), static_cast<FILE *> (out));
}

/* After gst_init(), which installs the default. */
void
redact_gst_debug_log ()
{
  FILE *out = stderr;
  const char *path = g_getenv ("GST_DEBUG_FILE");
  if (path && *path && g_strcmp0 (path, "-") != 0) {
    if (FILE *f = fopen (path, "w")) {
      setvbuf (f, nullptr, _IOLBF, 0);
      out = f; /* open for the life of the process, as GStreamer keeps its own */
    }
  } else if (g_strcmp0 (path, "-") == 0) {
    out = stdout;
  }
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (gst_log_redacted, out, nullptr);
}

using CameraList = std::vector<std::unique_ptr<camrelay::Camera>>;

/* What runs, and what a reload needs to change it. Main thread. */
struct Relay
{
  std::string file; /* "" = the built-in default */
  gint port_override = -1;
  camrelay::Config config; /* the running configuration */
  std::shared_ptr<cr::Server> server;
  CameraList cameras;
  camrelay::PageContext ctx;
  camrelay::RecordingStore recordings;
  std::unique_ptr<camrelay::Notifier> notifier;    /* MQTT and webhooks */
  std::unique_ptr<camrelay::WebRtcViewers> webrtc; /* POST /whep/NAME */
};

/* A camera whose changes of state reach the notifier. */
std::unique_ptr<camrelay::Camera>
make_camera (Relay & r, const camrelay::CameraConfig & config)
{
  auto camera = std::make_unique<camrelay::Camera> (config);
  std::string name = config.name;
  camera->set_state_listener ([&r, name] (const std::string & state) {
    if (r.notifier)
      r.notifier->camera_state (name, state);
  });
  camera->set_motion_listener ([&r, name] (bool on, double area, gint64 time_us) {
    if (r.notifier)
      r.notifier->camera_motion (name, on, area, time_us);
  });
  camera->set_recording_error_listener (
      [&r, name] (const std::string & reason, const std::string & location) {
        if (r.notifier)
          r.notifier->camera_recording_error (name, reason, location);
      });
  return camera;
}

void
notify_cameras (Relay & r)
{
  std::vector<camrelay::Camera *> list;
  for (auto & c : r.cameras)
    list.push_back (c.get ());
  if (r.notifier)
    r.notifier->set_cameras (list);
}

/* Ends the cameras' streams: viewers that keep reading get the end of their response, one that
 * does not read is disconnected when the time is up; then the pipelines stop (cameras get a
 * WebSocket close). */
void
stop_cameras (const std::vector<camrelay::Camera *> & cameras)
{
  for (auto *c : cameras)
    c->begin_stop ();
  gint64 deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
  auto drained = [&cameras] {
    for (auto *c : cameras) {
      if (!c->drained ())
        return false;
    }
    return true;
  };
  while (!drained () && g_get_monotonic_time () < deadline)
    g_usleep (5000);
}

void
set_null (gpointer pipeline, gpointer)
{
  gst_element_set_state (GST_ELEMENT (pipeline), GST_STATE_NULL);
}

void
set_null_and_unref (gpointer pipeline, gpointer)
{
  set_null (pipeline, nullptr);
  gst_object_unref (pipeline);
}

/* GStreamer's leaks tracer lists every object alive at exit: there, the pipelines are freed. */
bool
leaks_traced ()
{
  const gchar *tracers = g_getenv ("GST_TRACERS");
  return tracers && strstr (tracers, "leaks");
}

/* At exit, once viewers have had the end of their responses: thousands of pipelines go to NULL
 * from a few pooled threads at once instead of one after the other in the main thread (each is
 * a few dozen elements' state changes; nothing orders one camera's stop after another's). Returns
 * once every pipeline is NULL: recordings are finalised, routes removed, sockets closed, nothing
 * is left running.
 *
 * The stopped pipelines are not freed: that frees each one's dozen elements and two dozen pads
 * one by one (bin removals, pad unlinks, their structure-change messages and signals), 110 µs
 * of CPU a pipeline, 0.55 s at 5,000 cameras (40% of the pool's work), for memory the process hands
 * back as it ends. They stay referenced from a list held to the end, so leak checkers find them
 * reachable; the elements' finalize code is still run by the element suites and by reloads,
 * which free the pipelines they stop, and here under GStreamer's leaks tracer. */
void
stop_pipelines_at_exit (CameraList & cameras)
{
  static auto *stopped = new std::vector<GstElement *> ();
  const bool keep = !leaks_traced ();
  GFunc stop = keep ? set_null : set_null_and_unref;
  gint threads = CLAMP (static_cast<gint> (g_get_num_processors ()), 2, 4);
  GThreadPool *pool = g_thread_pool_new (stop, nullptr, threads, TRUE, nullptr);
  for (auto & c : cameras) {
    GstElement *pipeline = c->stop_at_exit ();
    if (!pipeline)
      continue;
    if (keep)
      stopped->push_back (pipeline);
    if (!pool) {
      stop (pipeline, nullptr);
      continue;
    }
    g_thread_pool_push (pool, pipeline, nullptr);
  }
  if (pool)
    g_thread_pool_free (pool, FALSE, TRUE);
}

void
record_reload (Relay & r, bool applied, const std::string & what, const std::string & restart)
{
  r.server->invoke_sync ([&] {
    (applied ? r.ctx.reloads_applied : r.ctx.reloads_refused)++;
    r.ctx.last_reload = cr::redact_text (what);
    r.ctx.last_reload_us = g_get_real_time ();
    if (applied)
      r.ctx.restart_needed = restart;
  });
}

/* The WHEP endpoints follow the cameras: a removed or changed camera's sessions end. */
void
set_webrtc_cameras (Relay & r, const CameraList & cameras)
{
  std::vector<camrelay::Camera *> list;
  for (auto & c : cameras)
    list.push_back (c.get ());
  std::string error;
  if (!r.webrtc->set_cameras (list, error))
    g_warning ("WebRTC: %s", error.c_str ());
}

/* SIGHUP: reads the file as --check would and refuses it whole on any error. Otherwise cameras
 * added start, removed ones stop, changed ones restart, and unchanged ones are not touched (their
 * camera stays connected, their viewers see no gap). [server] settings cannot change under
 * running connections: a change is reported as needing a restart and the cameras keep running on
 * the running server settings. */
void
reload (Relay & r)
{
  camrelay::Config fresh;
  std::string message;
  bool ok = false;
  /* The checked pipelines of the cameras that change start as they are; the rest are dropped. */
  camrelay::prebuilt_keep (true);
  if (r.file.empty ()) {
    message = "camrelay was started without --config: there is no file to read again";
  } else if (camrelay::load_config (r.file, fresh, message)) {
    if (r.port_override >= 0)
      fresh.server.port = r.port_override;
    ok = camrelay::resolve_config (fresh, message);
  }
  std::string restart;
  if (ok) {
    restart = camrelay::server_changes (r.config.server, fresh.server);
    if (!restart.empty ()) {
      g_warning ("reload: [server] %s changed in %s: that needs a restart of camrelay; the "
                 "running [server] settings stay",
          restart.c_str (), r.file.c_str ());
      fresh.server = r.config.server;
      ok = camrelay::resolve_config (fresh, message);
    }
  }
  if (!ok) {
    g_warning ("reload refused, the running configuration stays: %s", message.c_str ());
    camrelay::prebuilt_keep (false);
    record_reload (r, false, "refused: " + message, "");
    return;
  }

  std::map<std::string, std::unique_ptr<camrelay::Camera>> old;
  for (auto & c : r.cameras)
    old[c->name ()] = std::move (c);
  CameraList next;
  std::vector<camrelay::Camera *> to_start;
  size_t changed = 0, unchanged = 0, added = 0;
  for (const auto & cc : fresh.cameras) {
    auto it = old.find (cc.name);
    if (it != old.end () && camrelay::same_camera (it->second->config (), cc)) {
      next.push_back (std::move (it->second));
      old.erase (it);
      unchanged++;
      continue;
    }
    (it != old.end () ? changed : added)++;
    next.push_back (make_camera (r, cc));
    to_start.push_back (next.back ().get ());
  }
  /* Left in @old: the cameras removed or changed; they free their paths before the new ones. The
   * viewers of a removed camera get the end of their responses; those of a changed one stay,
   * taken over by its new pipeline (mjpeghttpsink keep-viewers). */
  std::vector<camrelay::Camera *> to_stop, removed;
  for (auto & [name, c] : old) {
    to_stop.push_back (c.get ());
    bool kept = std::any_of (fresh.cameras.begin (), fresh.cameras.end (),
        [&name] (const camrelay::CameraConfig & cc) { return cc.name == name; });
    if (!kept)
      removed.push_back (c.get ());
  }
  stop_cameras (removed);
  r.server->invoke_sync ([&] {
    r.ctx.cameras.clear ();
    for (auto & c : next)
      r.ctx.cameras.push_back (c.get ());
  });
  set_webrtc_cameras (r, next);
  for (auto *c : to_stop)
    c->stop (std::find (removed.begin (), removed.end (), c) == removed.end ());
  old.clear ();
  r.cameras = std::move (next);
  if (r.config.mqtt.broker != fresh.mqtt.broker || r.config.events.urls != fresh.events.urls ||
      r.config.events.secret != fresh.events.secret)
    g_warning ("reload: [mqtt] and [events] changes need a restart of camrelay; the running "
               "ones stay");
  fresh.mqtt = r.config.mqtt;
  fresh.events = r.config.events;
  r.config = std::move (fresh);
  r.recordings.configure (r.config);
  notify_cameras (r);
  for (auto *c : to_start)
    c->start ();
  camrelay::prebuilt_keep (false);

  std::string what = "applied: " + std::to_string (added) + " added, " +
      std::to_string (to_stop.size () - changed) + " removed, " + std::to_string (changed) +
      " changed, " + std::to_string (unchanged) + " unchanged";
  g_message ("reloaded %s: %s", r.file.c_str (), what.c_str () + strlen ("applied: "));
  record_reload (r, true, what, restart);
}

gboolean
on_reload_signal (gpointer relay)
{
  g_message ("SIGHUP: reading the configuration again");
  reload (*static_cast<Relay *> (relay));
  return G_SOURCE_CONTINUE;
}

gboolean
on_quit_signal (gpointer loop)
{
  g_message ("stopping");
  g_main_loop_quit (static_cast<GMainLoop *> (loop));
  return G_SOURCE_CONTINUE;
}

int
run (Relay & r)
{
  camrelay::Config & config = r.config;
  cr::ServerOptions options;
  options.viewer_user = config.server.viewer_user;
  options.viewer_password = config.server.viewer_password;
  if (config.server.metrics_open_on_loopback)
    options.open_on_loopback = { "/metrics" };
  options.tls_certificate = config.server.tls_certificate;
  options.tls_key = config.server.tls_key;

  /* The program holds the server for its whole life: the pipelines acquire the same one, so the
   * options above apply to them and the port stays open while a pipeline is rebuilt. */
  g_autoptr (GError) error = nullptr;
  r.server = cr::Server::acquire (config.server.address, config.server.port, &error, &options);
  if (!r.server) {
    g_printerr ("camrelay: %s\n", error->message);
    return EXIT_CANNOT_RUN;
  }
  cr::Server & server = *r.server;

  CameraList & cameras = r.cameras;
  camrelay::PageContext & ctx = r.ctx;
  ctx.started_real_us = g_get_real_time ();
  ctx.started_mono_us = g_get_monotonic_time ();
  r.recordings.configure (config);
  ctx.recordings = &r.recordings;
  for (const auto & c : config.cameras) {
    cameras.push_back (make_camera (r, c));
    ctx.cameras.push_back (cameras.back ().get ());
  }
  std::string notify_error;
  r.notifier = camrelay::Notifier::create (config,
      base_url (config, server.port (), server.tls (), false), notify_error);
  if (!r.notifier) {
    g_printerr ("camrelay: %s\n", notify_error.c_str ());
    return EXIT_CANNOT_RUN;
  }
  ctx.notifier = r.notifier.get ();
  notify_cameras (r);
  std::unique_ptr<camrelay::Pages> pages = camrelay::Pages::create (server, ctx, &error);
  if (!pages) {
    g_printerr ("camrelay: %s\n", error->message);
    return EXIT_CANNOT_RUN;
  }
  std::unique_ptr<camrelay::Recordings> recording_pages =
      camrelay::Recordings::create (server, ctx, config.recordings.dir, &error);
  if (!recording_pages) {
    g_printerr ("camrelay: %s\n", error->message);
    return EXIT_CANNOT_RUN;
  }

  r.webrtc = std::make_unique<camrelay::WebRtcViewers> (r.server, config.server);
  set_webrtc_cameras (r, cameras);
  ctx.webrtc = r.webrtc.get ();

  g_autoptr (GMainLoop) loop = g_main_loop_new (nullptr, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_quit_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  guint sighup = g_unix_signal_add (SIGHUP, on_reload_signal, &r);
  guint sampler = g_timeout_add_seconds (
      1,
      [] (gpointer data) -> gboolean {
        for (auto & c : *static_cast<CameraList *> (data))
          c->sample ();
        return G_SOURCE_CONTINUE;
      },
      &cameras);

  for (auto & c : cameras)
    c->start ();
  camrelay::prebuilt_keep (false);
  if (!same_server (cameras, server.port ())) {
    g_printerr ("camrelay: the camera pipelines listen on another port than the program: the "
                "plugin does not share the program's server (libcamrelay-server must be one shared "
                "library for both; is an old libgstcamrelay.so first on GST_PLUGIN_PATH?)\n");
    return EXIT_CANNOT_RUN;
  }
  g_message ("%s", startup_line (config, server).c_str ());
  warn_open_ingest (config, server.port ());

  g_main_loop_run (loop);

  g_source_remove (sampler);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sighup);
  std::vector<camrelay::Camera *> all;
  for (auto & c : cameras)
    all.push_back (c.get ());
  stop_cameras (all);
  recording_pages.reset ();
  pages.reset ();
  r.webrtc.reset ();
  r.notifier.reset ();
  stop_pipelines_at_exit (cameras);
  cameras.clear ();
  r.recordings.stop ();
  /* Route removals the server thread has not applied yet hold it: applied now, the server goes
   * here, its thread joined, rather than on its own while the process exits. */
  r.server->invoke_sync ([] {});
  r.server.reset ();
  return EXIT_OK;
}

}  // namespace

int
main (int argc, char **argv)
{
  /* Blocks of 1 MiB and more (a pulled camera's part that never ends, merged by its demuxer up to
   * the frame limit) come from mmap and go back to the system when freed. glibc's default raises
   * that threshold to the largest block freed so far, after which such blocks stay in a thread's
   * malloc arena for good: +8 MB per failed try of such a camera, in as many arenas as threads. */
#if defined(__GLIBC__)
  mallopt (M_MMAP_THRESHOLD, 1024 * 1024);
#endif
  Options opt;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &opt.config,
        "Read the configuration from FILE (without it: the built-in legacy setup)", "FILE" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &opt.port,
        "Listen on port N instead of the configured one (0 = any free port)", "N" },
    { "check", 0, 0, G_OPTION_ARG_NONE, &opt.check,
        "Check the configuration and placeholder files, print the pipelines, exit 0 (or 2)",
        nullptr },
    { "print-pipeline", 0, 0, G_OPTION_ARG_NONE, &opt.print_pipeline,
        "Print each camera's pipeline as a gst-launch-1.0 command line and exit", nullptr },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &opt.version, "Print the version and exit", nullptr },
    { nullptr },
  };

  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (write_redacted_log, nullptr, nullptr);
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- relay JPEG frames from WebSocket cameras to MJPEG viewers");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_option_context_set_description (context,
      "Without --config camrelay behaves like the legacy server: port 3001, cameras on\n"
      "ws://HOST:3001/ws and ws://HOST:3001/, viewers on http://HOST:3001/, placeholder.jpg\n"
      "from the working directory. Beside the streams it serves /status (JSON), /metrics\n"
      "(Prometheus) and /view (a page showing every camera).\n"
      "Configuration: " CAMRELAY_SYSCONFDIR "/default.conf documents every key.\n");

  g_autoptr (GError) error = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("camrelay: %s (see camrelay --help)\n", error->message);
    return EXIT_BAD_CONFIG;
  }
  redact_gst_debug_log ();
  if (argc > 1) {
    g_printerr ("camrelay: unexpected argument \"%s\" (see camrelay --help)\n", argv[1]);
    return EXIT_BAD_CONFIG;
  }
  if (opt.version) {
    g_autofree gchar *gst = gst_version_string ();
    printf ("camrelay %s (%s)\n", CAMRELAY_VERSION, gst);
    return EXIT_OK;
  }
  if (opt.port > 65535 || opt.port < -1) {
    g_printerr ("camrelay: --port %d: expected 0 to 65535\n", opt.port);
    return EXIT_BAD_CONFIG;
  }

  if (!ensure_plugin ()) {
    g_printerr ("camrelay: the camrelay GStreamer plugin (libgstcamrelay.so) was not found; "
                "set GST_PLUGIN_PATH to the directory that holds it\n");
    return EXIT_CANNOT_RUN;
  }

  camrelay::Config config;
  std::string message;
  if (opt.config) {
    if (!camrelay::load_config (opt.config, config, message)) {
      g_printerr ("camrelay: %s\n", message.c_str ());
      return EXIT_BAD_CONFIG;
    }
  } else {
    config = camrelay::default_config ();
  }
  if (opt.port >= 0)
    config.server.port = opt.port;
  /* The program's run starts the pipelines the check builds (prebuilt.h). */
  camrelay::prebuilt_keep (!opt.check && !opt.print_pipeline);
  if (!camrelay::resolve_config (config, message)) {
    camrelay::prebuilt_keep (false);
    g_printerr ("camrelay: %s\n", message.c_str ());
    return EXIT_BAD_CONFIG;
  }

  if (opt.print_pipeline) {
    for (const auto & c : config.cameras)
      printf ("%s\n", c.line.command ().c_str ());
    return EXIT_OK;
  }
  if (opt.check) {
    print_check (config);
    return EXIT_OK;
  }
  Relay relay;
  relay.file = opt.config ? opt.config : "";
  relay.port_override = opt.port;
  relay.config = std::move (config);
  int code = run (relay);
  camrelay::prebuilt_keep (false);
  /* Waits for GStreamer's pooled threads, so that the process ends with only its main thread:
   * nothing is left half-way when exit() runs (leak checkers stop every thread to look). */
  gst_deinit ();
  return code;
}
