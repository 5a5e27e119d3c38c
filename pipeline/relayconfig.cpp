/* camrelay program: the configuration and the pipeline description it gives for each camera. */
#include "relayconfig.h"

#include "camrelay-config.h"
#include "crserver.h"

#include <gio/gio.h>
#include <gst/gst.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

namespace camrelay {

namespace {

const char *const SERVER_KEYS[] = {
  "address", "port", "viewer-user", "viewer-password", "metrics-open-on-loopback",
  "tls-certificate", "tls-key",
};

const char *const CAMERA_KEYS[] = {
  "ingest-paths", "stream-path", "snapshot-path", "placeholder", "timeout", "placeholder-fps",
  "min-size", "max-size", "max-message-size", "max-viewers", "decode-check", "secret",
  "latest-file", "pipeline",
};

/* URLs the program serves itself. */
const char *const PAGE_PATHS[] = { "/status", "/metrics", "/view" };

template<gsize N> bool
contains (const char *const (&list)[N], const std::string & key)
{
  for (const char *k : list) {
    if (key == k)
      return true;
  }
  return false;
}

/* Collects the first error as "ORIGIN: [SECTION] KEY: TEXT". */
class Reporter
{
public:
  Reporter (const Config & config, std::string & out) : origin_ (config.origin ()), out_ (out) { }

  bool fail (const std::string & section, const std::string & key, const std::string & text)
  {
    out_ = origin_ + ": ";
    if (!section.empty ())
      out_ += "[" + section + "] ";
    if (!key.empty ())
      out_ += key + ": ";
    out_ += text;
    return false;
  }

private:
  std::string origin_;
  std::string & out_;
};

bool
valid_camera_name (const std::string & name)
{
  if (name.empty () || name.size () > 64 || !g_ascii_isalnum (name[0]))
    return false;
  for (char c : name) {
    if (!g_ascii_isalnum (c) && c != '-' && c != '_')
      return false;
  }
  return true;
}

/* A URL path as the server routes it: absolute, nothing that would end or split it. */
bool
valid_path (const std::string & path, std::string & why)
{
  if (path.empty () || path[0] != '/') {
    why = "\"" + path + "\" must start with /";
    return false;
  }
  for (char c : path) {
    if (g_ascii_isspace (c) || g_ascii_iscntrl (c) || c == '?' || c == '#' || c == ',' ||
        c == '"' || c == '\\') {
      why = "\"" + path + "\" may not contain spaces, ?, #, commas, quotes or backslashes";
      return false;
    }
  }
  return true;
}

bool
parse_uint (const std::string & text, guint64 min, guint64 max, guint64 & out)
{
  return g_ascii_string_to_unsigned (text.c_str (), 10, min, max, &out, nullptr);
}

bool
parse_bool (const std::string & text, bool & out)
{
  if (text == "true" || text == "1" || text == "yes") {
    out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "no") {
    out = false;
    return true;
  }
  return false;
}

std::string
describe_range (guint64 min, guint64 max)
{
  return "expected a whole number from " + std::to_string (min) + " to " + std::to_string (max);
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading keys                                                                                   */

class SectionReader
{
public:
  SectionReader (GKeyFile * kf, std::string section, Reporter & report)
    : kf_ (kf), section_ (std::move (section)), report_ (report) { }

  bool has (const char *key) const
  {
    return g_key_file_has_key (kf_, section_.c_str (), key, nullptr);
  }

  /* The value with GKeyFile's escapes (\s, \n, ...) applied. */
  bool string (const char *key, std::string & out)
  {
    if (!has (key))
      return true;
    g_autoptr (GError) error = nullptr;
    g_autofree gchar *v = g_key_file_get_string (kf_, section_.c_str (), key, &error);
    if (!v)
      return report_.fail (section_, key, error->message);
    out = v;
    return true;
  }

  bool uint (const char *key, guint64 min, guint64 max, guint64 & out)
  {
    std::string v;
    if (!has (key))
      return true;
    if (!string (key, v))
      return false;
    if (!parse_uint (v, min, max, out))
      return report_.fail (section_, key, describe_range (min, max) + ", got \"" + v + "\"");
    return true;
  }

  template<typename T> bool uint_as (const char *key, guint64 min, guint64 max, T & out)
  {
    guint64 v = out;
    if (!uint (key, min, max, v))
      return false;
    out = static_cast<T> (v);
    return true;
  }

  bool boolean (const char *key, bool & out)
  {
    std::string v;
    if (!has (key))
      return true;
    if (!string (key, v))
      return false;
    if (!parse_bool (v, out))
      return report_.fail (section_, key, "expected true or false, got \"" + v + "\"");
    return true;
  }

  bool seconds (const char *key, double min, double max, double & out)
  {
    std::string v;
    if (!has (key))
      return true;
    if (!string (key, v))
      return false;
    gchar *end = nullptr;
    errno = 0;
    double d = g_ascii_strtod (v.c_str (), &end);
    if (v.empty () || errno || !end || *end || !std::isfinite (d) || d < min || d > max) {
      g_autofree gchar *range = g_strdup_printf ("expected a number of seconds from %g to %g",
          min, max);
      return report_.fail (section_, key, std::string (range) + ", got \"" + v + "\"");
    }
    out = d;
    return true;
  }

  bool path (const char *key, bool allow_empty, std::string & out)
  {
    std::string v;
    if (!has (key))
      return true;
    if (!string (key, v))
      return false;
    std::string why;
    if (!(allow_empty && v.empty ()) && !valid_path (v, why))
      return report_.fail (section_, key, why);
    out = v;
    return true;
  }

  bool unknown_keys (const char *const *known, gsize n_known, const char *what)
  {
    gsize n = 0;
    g_auto (GStrv) keys = g_key_file_get_keys (kf_, section_.c_str (), &n, nullptr);
    for (gsize i = 0; i < n; i++) {
      bool ok = false;
      for (gsize k = 0; k < n_known; k++)
        ok = ok || g_strcmp0 (keys[i], known[k]) == 0;
      if (!ok) {
        std::string list;
        for (gsize k = 0; k < n_known; k++)
          list += (k ? ", " : "") + std::string (known[k]);
        return report_.fail (section_, keys[i], std::string ("unknown key (a ") + what +
            " section knows " + list + ")");
      }
    }
    return true;
  }

  std::vector<std::string> keys () const
  {
    std::vector<std::string> out;
    g_auto (GStrv) keys = g_key_file_get_keys (kf_, section_.c_str (), nullptr, nullptr);
    for (gchar **k = keys; k && *k; k++)
      out.emplace_back (*k);
    return out;
  }

private:
  GKeyFile *kf_;
  std::string section_;
  Reporter & report_;
};

bool
read_server (GKeyFile * kf, ServerConfig & s, Reporter & report)
{
  SectionReader r (kf, "server", report);
  if (!r.unknown_keys (SERVER_KEYS, G_N_ELEMENTS (SERVER_KEYS), "[server]"))
    return false;
  if (!r.string ("address", s.address) || !r.uint_as ("port", 0, 65535, s.port) ||
      !r.string ("viewer-user", s.viewer_user) ||
      !r.string ("viewer-password", s.viewer_password) ||
      !r.boolean ("metrics-open-on-loopback", s.metrics_open_on_loopback) ||
      !r.string ("tls-certificate", s.tls_certificate) || !r.string ("tls-key", s.tls_key))
    return false;

  std::string host = s.address == "localhost" ? "127.0.0.1" : s.address;
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host.c_str ());
  if (!inet)
    return report.fail ("server", "address", "\"" + s.address +
        "\" is not an IP address (use e.g. 0.0.0.0, ::, 127.0.0.1)");
  if (s.viewer_user.find (':') != std::string::npos)
    return report.fail ("server", "viewer-user", "may not contain a colon (HTTP Basic auth)");
  if (s.viewer_user.empty () != s.viewer_password.empty ())
    return report.fail ("server", s.viewer_user.empty ()? "viewer-user" : "viewer-password",
        "viewer-user and viewer-password go together: set both, or neither");
  if (s.tls_certificate.empty () != s.tls_key.empty ())
    return report.fail ("server", s.tls_certificate.empty ()? "tls-certificate" : "tls-key",
        "tls-certificate and tls-key go together: set both, or neither");
  return true;
}

bool
read_camera (GKeyFile * kf, const std::string & name, CameraConfig & c, Reporter & report)
{
  std::string section = "camera " + name;
  SectionReader r (kf, section, report);
  if (!valid_camera_name (name))
    return report.fail (section, "", "camera names may use letters, digits, - and _ "
        "(they appear in URLs and metrics), starting with a letter or digit");
  if (!r.unknown_keys (CAMERA_KEYS, G_N_ELEMENTS (CAMERA_KEYS), "[camera NAME]"))
    return false;

  c.name = name;
  c.keys_set = r.keys ();
  c.ingest_paths = { "/ws/" + name };
  c.stream_path = "/stream/" + name;
  c.snapshot_path = "/snapshot/" + name + ".jpg";

  if (r.has ("ingest-paths")) {
    std::string list;
    if (!r.string ("ingest-paths", list))
      return false;
    c.ingest_paths = cr::split_list (list);
    if (c.ingest_paths.empty ())
      return report.fail (section, "ingest-paths", "give at least one path, e.g. /ws/" + name);
    std::set<std::string> seen;
    for (const auto &p : c.ingest_paths) {
      std::string why;
      if (!valid_path (p, why))
        return report.fail (section, "ingest-paths", why);
      if (!seen.insert (p).second)
        return report.fail (section, "ingest-paths", p + " is listed twice");
    }
  }
  if (!r.path ("stream-path", false, c.stream_path) ||
      !r.path ("snapshot-path", true, c.snapshot_path) ||
      !r.string ("placeholder", c.placeholder) ||
      !r.seconds ("timeout", 0.001, 1e6, c.timeout) ||
      !r.uint_as ("placeholder-fps", 1, 30, c.placeholder_fps) ||
      !r.uint_as ("min-size", 0, G_MAXUINT, c.min_size) ||
      !r.uint_as ("max-size", 0, G_MAXUINT, c.max_size) ||
      !r.uint_as ("max-message-size", 1024, G_MAXUINT32, c.max_message_size) ||
      !r.uint_as ("max-viewers", 0, G_MAXINT, c.max_viewers) ||
      !r.boolean ("decode-check", c.decode_check) ||
      !r.string ("secret", c.secret) ||
      !r.string ("latest-file", c.latest_file) ||
      !r.string ("pipeline", c.pipeline))
    return false;

  if (c.placeholder.empty ())
    return report.fail (section, "placeholder", "give the path of a JPEG file");
  if (c.max_size != 0 && c.min_size > c.max_size)
    return report.fail (section, "min-size", "is larger than max-size (" +
        std::to_string (c.max_size) + ")");
  if (c.stream_path == c.snapshot_path)
    return report.fail (section, "snapshot-path", c.snapshot_path +
        " is also the stream-path; give the snapshot its own path");
  if (!c.pipeline.empty ()) {
    for (const auto &key : c.keys_set) {
      if (key != "pipeline")
        return report.fail (section, key, "has no effect with pipeline= (set it as a property "
            "in the description instead)");
    }
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Building the description                                                                       */

std::string
absolute_path (const std::string & path)
{
  g_autofree gchar *abs = g_canonicalize_filename (path.c_str (), nullptr);
  return abs;
}

bool
is_jpeg_file (const std::string & path, std::string & why)
{
  gchar *data = nullptr;
  gsize len = 0;
  g_autoptr (GError) error = nullptr;
  if (!g_file_get_contents (path.c_str (), &data, &len, &error)) {
    why = error->message;
    return false;
  }
  bool ok = len > 4 && static_cast<guint8> (data[0]) == 0xFF &&
      static_cast<guint8> (data[1]) == 0xD8 && static_cast<guint8> (data[2]) == 0xFF;
  g_free (data);
  if (!ok)
    why = path + " is not a JPEG file";
  return ok;
}

/* A relative placeholder is looked for in each search directory in turn. */
bool
find_placeholder (const Config & config, const std::string & given, std::string & found,
    std::string & why)
{
  std::vector<std::string> candidates;
  if (g_path_is_absolute (given.c_str ())) {
    candidates.push_back (given);
  } else {
    for (const auto &dir : placeholder_search_dirs (config)) {
      g_autofree gchar *p = g_build_filename (dir.c_str (), given.c_str (), nullptr);
      candidates.emplace_back (p);
    }
  }
  for (const auto &c : candidates) {
    if (g_file_test (c.c_str (), G_FILE_TEST_IS_REGULAR)) {
      found = absolute_path (c);
      return is_jpeg_file (found, why);
    }
  }
  why = "cannot find " + given;
  if (!g_path_is_absolute (given.c_str ())) {
    why += " (looked in";
    for (const auto &dir : placeholder_search_dirs (config))
      why += " " + dir;
    why += ")";
  }
  return false;
}

/* Adds an element and its properties in gst-launch syntax, leaving out values that equal the
 * element's defaults so the line reads like one written by hand. */
class Emitter
{
public:
  Emitter (std::vector<std::string> & tokens, const std::string & section, Reporter & report)
    : tokens_ (tokens), section_ (section), report_ (report) { }

  ~Emitter ()
  {
    if (klass_)
      g_type_class_unref (klass_);
  }

  bool element (const char *factory_name)
  {
    if (klass_)
      g_type_class_unref (klass_);
    klass_ = nullptr;
    g_autoptr (GstElementFactory) factory = gst_element_factory_find (factory_name);
    if (factory) {
      GstPluginFeature *loaded = gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory));
      if (loaded) {
        GType type = gst_element_factory_get_element_type (GST_ELEMENT_FACTORY (loaded));
        klass_ = static_cast<GObjectClass *> (g_type_class_ref (type));
        gst_object_unref (loaded);
      }
    }
    if (!klass_)
      return report_.fail (section_, "", std::string ("the GStreamer element ") + factory_name +
          " is not installed");
    if (!tokens_.empty ())
      tokens_.emplace_back ("!");
    tokens_.emplace_back (factory_name);
    factory_ = factory_name;
    return true;
  }

  /* @raw: the value as text; @key: the config key it came from, for errors. */
  bool prop (const char *name, const std::string & raw, const char *key, bool always = false)
  {
    GParamSpec *pspec = g_object_class_find_property (klass_, name);
    if (!pspec)
      return report_.fail (section_, key, factory_ + " has no property " + name +
          " (is the camrelay plugin up to date?)");
    GValue value = G_VALUE_INIT;
    g_value_init (&value, G_PARAM_SPEC_VALUE_TYPE (pspec));
    bool ok = true;
    if (G_VALUE_HOLDS_STRING (&value))
      g_value_set_string (&value, raw.c_str ());
    else
      ok = gst_value_deserialize (&value, raw.c_str ());
    if (ok && g_param_value_validate (pspec, &value)) {
      g_value_unset (&value);
      return report_.fail (section_, key, "\"" + raw + "\" is out of range for " + factory_ +
          " " + name);
    }
    if (!ok) {
      g_value_unset (&value);
      return report_.fail (section_, key, "\"" + raw + "\" is not a valid " + name);
    }
    bool is_default = g_param_value_defaults (pspec, &value);
    g_value_unset (&value);
    if (!is_default || always)
      tokens_.push_back (std::string (name) + "=" + gst_quote (raw));
    return true;
  }

private:
  std::vector<std::string> & tokens_;
  std::string section_;
  Reporter & report_;
  GObjectClass *klass_ = nullptr;
  std::string factory_;
};

std::string
join (const std::vector<std::string> & list, const char *sep)
{
  std::string out;
  for (const auto &s : list)
    out += (out.empty ()? "" : sep) + s;
  return out;
}

bool
generate_line (const Config & config, CameraConfig & c, Reporter & report)
{
  const ServerConfig & s = config.server;
  std::string section = c.section ();
  std::vector<std::string> & t = c.line.tokens;
  t.clear ();
  Emitter e (t, section, report);
  g_autofree gchar *timeout_ns = g_strdup_printf ("%" G_GUINT64_FORMAT,
      static_cast<guint64> (std::llround (c.timeout * GST_SECOND)));

  return e.element ("wsjpegsrc") &&
      e.prop ("address", s.address, "address") &&
      e.prop ("port", std::to_string (s.port), "port") &&
      e.prop ("paths", join (c.ingest_paths, ","), "ingest-paths") &&
      e.prop ("max-message-size", std::to_string (c.max_message_size), "max-message-size") &&
      e.prop ("secret", c.secret, "secret") &&
      e.element ("jpegvalidate") &&
      e.prop ("min-size", std::to_string (c.min_size), "min-size") &&
      e.prop ("max-size", std::to_string (c.max_size), "max-size") &&
      e.prop ("decode-check", c.decode_check ? "true" : "false", "decode-check") &&
      e.element ("jpegfallback") &&
      e.prop ("placeholder", c.placeholder_file, "placeholder", true) &&
      e.prop ("placeholder-fps", std::to_string (c.placeholder_fps), "placeholder-fps") &&
      e.prop ("timeout", timeout_ns, "timeout") &&
      e.element ("multipartmux") &&
      e.element ("mjpeghttpsink") &&
      e.prop ("address", s.address, "address") &&
      e.prop ("port", std::to_string (s.port), "port") &&
      e.prop ("path", c.stream_path, "stream-path") &&
      e.prop ("snapshot-path", c.snapshot_path, "snapshot-path") &&
      e.prop ("max-viewers", std::to_string (c.max_viewers), "max-viewers") &&
      e.prop ("latest-file", c.latest_file, "latest-file");
}

bool
is_network_element (const std::string & factory)
{
  return factory == "wsjpegsrc" || factory == "mjpeghttpsink";
}

/* A pipeline= description, with every camrelay network element put on the [server] address and
 * port (so that it shares the program's server and its access rules) and every placeholder made
 * absolute. */
bool
rewrite_custom_line (const Config & config, CameraConfig & c, Reporter & report)
{
  std::string section = c.section ();
  std::vector<std::string> in;
  std::string why;
  if (!tokenize_description (c.pipeline, in, why))
    return report.fail (section, "pipeline", why);
  if (in.empty ())
    return report.fail (section, "pipeline", "is empty");

  std::vector<std::string> &out = c.line.tokens;
  out.clear ();
  for (gsize i = 0; i < in.size ();) {
    std::string factory = in[i];
    out.push_back (in[i++]);
    bool element = is_element_token (factory) &&
        (is_network_element (factory) || factory == "jpegfallback");
    if (!element)
      continue;

    bool have_placeholder = false;
    std::string name, value;
    for (; i < in.size () && split_property (in[i], name, value); i++) {
      if (is_network_element (factory) && (name == "address" || name == "port"))
        return report.fail (section, "pipeline", "leave " + name + "= out of " + factory +
            ": every camera shares the [server] address and port");
      if (factory == "jpegfallback" && name == "placeholder") {
        if (!find_placeholder (config, gst_unquote (value), c.placeholder_file, why))
          return report.fail (section, "pipeline", "jpegfallback placeholder: " + why);
        out.push_back ("placeholder=" + gst_quote (c.placeholder_file));
        have_placeholder = true;
        continue;
      }
      out.push_back (in[i]);
    }
    if (is_network_element (factory)) {
      /* Emitter::element() would add "!" and the name again; only its property logic is wanted. */
      std::vector<std::string> props;
      Emitter pe (props, section, report);
      if (!pe.element (factory.c_str ()) ||
          !pe.prop ("address", config.server.address, "pipeline") ||
          !pe.prop ("port", std::to_string (config.server.port), "pipeline"))
        return false;
      out.insert (out.end (), props.begin () + 1, props.end ());
    } else if (!have_placeholder) {
      if (!find_placeholder (config, "placeholder.jpg", c.placeholder_file, why))
        return report.fail (section, "pipeline", "jpegfallback placeholder: " + why);
      out.push_back ("placeholder=" + gst_quote (c.placeholder_file));
    }
  }
  return true;
}

std::string
plugin_dir_of (const char *feature)
{
  g_autoptr (GstPluginFeature) f = gst_registry_lookup_feature (gst_registry_get (), feature);
  if (!f)
    return "";
  g_autoptr (GstPlugin) plugin = gst_plugin_feature_get_plugin (f);
  if (!plugin || !gst_plugin_get_filename (plugin))
    return "";
  g_autofree gchar *dir = g_path_get_dirname (gst_plugin_get_filename (plugin));
  return dir;
}

/* gst-launch-1.0 in a fresh shell finds GStreamer's own plugins, and ours only if it lives beside
 * them or GST_PLUGIN_PATH says where. */
std::string
plugin_path_for_command ()
{
  std::string ours = plugin_dir_of ("wsjpegsrc");
  if (ours.empty () || ours == plugin_dir_of ("fakesink"))
    return "";
  const char *env = g_getenv ("GST_PLUGIN_PATH");
  if (env) {
    g_auto (GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
    for (gchar **d = dirs; *d; d++) {
      if (**d && absolute_path (*d) == ours)
        return env;
    }
  }
  return ours;
}

/* Parses the description as the program will, and reads back what the elements will serve. */
bool
check_line (const Config & config, CameraConfig & c, Reporter & report)
{
  std::string section = c.section ();
  const char *key = c.pipeline.empty ()? "" : "pipeline";
  g_autoptr (GError) error = nullptr;
  GstElement *parsed = gst_parse_launch_full (c.line.description ().c_str (), nullptr,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!parsed)
    return report.fail (section, key, std::string ("GStreamer cannot build this pipeline: ") +
        (error ? error->message : "unknown error"));
  g_autoptr (GstElement) top = GST_ELEMENT (gst_object_ref_sink (parsed));

  std::vector<GstElement *> elements;
  if (GST_IS_BIN (top)) {
    GstIterator *it = gst_bin_iterate_recurse (GST_BIN (top));
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      elements.push_back (GST_ELEMENT (gst_object_ref (g_value_get_object (&item))));
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
  } else {
    elements.push_back (GST_ELEMENT (gst_object_ref (top)));
  }

  bool ok = true;
  c.routes_ingest.clear ();
  c.routes_stream.clear ();
  c.routes_snapshot.clear ();
  for (GstElement *el : elements) {
    GstElementFactory *f = gst_element_get_factory (el);
    std::string factory = f ? GST_OBJECT_NAME (f) : "";
    if (ok && is_network_element (factory)) {
      g_autofree gchar *address = nullptr;
      guint port = 0;
      g_object_get (el, "address", &address, "port", &port, nullptr);
      if (config.server.address != address || config.server.port != port)
        ok = report.fail (section, key, factory + " is not on the [server] address and port; "
            "write elements, properties and ! separated by spaces");
    }
    if (ok && factory == "wsjpegsrc") {
      g_autofree gchar *paths = nullptr;
      g_autofree gchar *secret = nullptr;
      g_object_get (el, "paths", &paths, "secret", &secret, nullptr);
      for (const auto &p : cr::split_list (paths ? paths : ""))
        c.routes_ingest.push_back (p);
      c.has_secret = c.has_secret || (secret && *secret);
    } else if (ok && factory == "mjpeghttpsink") {
      g_autofree gchar *path = nullptr;
      g_autofree gchar *snapshot = nullptr;
      g_object_get (el, "path", &path, "snapshot-path", &snapshot, nullptr);
      if (c.routes_stream.empty ()) {
        c.routes_stream = path ? path : "";
        c.routes_snapshot = snapshot ? snapshot : "";
      }
    }
  }
  for (GstElement *el : elements)
    gst_object_unref (el);
  return ok;
}

/* Two cameras may not claim one path. Ingest (WebSocket) paths and HTTP paths are routed apart,
 * so one camera may, like the legacy server, take frames and serve viewers on "/". */
bool
check_paths (const Config & config, Reporter & report)
{
  std::map<std::string, std::string> ingest, http;
  for (const char *p : PAGE_PATHS)
    http[p] = "the program's own page";

  for (const auto &c : config.cameras) {
    std::string section = c.section ();
    bool custom = !c.pipeline.empty ();
    auto claim = [&](std::map<std::string, std::string> &table, const std::string & path,
        const char *key) {
      std::string who = "[" + section + "] " + (custom ? "pipeline" : key);
      auto [it, fresh] = table.emplace (path, who);
      if (!fresh)
        return report.fail (section, custom ? "pipeline" : key, path + " is already used by " +
            it->second);
      return true;
    };
    for (const auto &p : c.routes_ingest) {
      if (!claim (ingest, p, "ingest-paths"))
        return false;
    }
    if (!c.routes_stream.empty () && !claim (http, c.routes_stream, "stream-path"))
      return false;
    if (!c.routes_snapshot.empty () && !claim (http, c.routes_snapshot, "snapshot-path"))
      return false;
  }
  return true;
}

bool
check_tls (const Config & config, Reporter & report)
{
  const ServerConfig & s = config.server;
  if (s.tls_certificate.empty ())
    return true;
  for (auto [key, file] : { std::make_pair ("tls-certificate", &s.tls_certificate),
          std::make_pair ("tls-key", &s.tls_key) }) {
    if (!g_file_test (file->c_str (), G_FILE_TEST_IS_REGULAR))
      return report.fail ("server", key, "cannot find " + *file);
  }
  g_autoptr (GError) error = nullptr;
  g_autoptr (GTlsCertificate) cert = g_tls_certificate_new_from_files (
      s.tls_certificate.c_str (), s.tls_key.c_str (), &error);
  if (!cert)
    return report.fail ("server", "tls-certificate", error->message);
  return true;
}

}  // namespace

/* ---------------------------------------------------------------------------------------------- */

std::string
Config::origin () const
{
  return file.empty ()? "built-in default" : file;
}

std::vector<std::string>
placeholder_search_dirs (const Config & config)
{
  std::vector<std::string> dirs;
  g_autofree gchar *cwd = g_get_current_dir ();
  dirs.emplace_back (cwd);
  if (!config.file.empty ()) {
    g_autofree gchar *dir = g_path_get_dirname (config.file.c_str ());
    std::string abs = absolute_path (dir);
    if (abs != dirs.front ())
      dirs.push_back (abs);
  }
  dirs.emplace_back (CAMRELAY_DATADIR);
  return dirs;
}

Config
default_config ()
{
  Config config;
  CameraConfig c;
  c.name = "default";
  c.ingest_paths = { "/ws", "/" };
  c.stream_path = "/";
  c.snapshot_path = "/snapshot.jpg";
  config.cameras.push_back (c);
  return config;
}

bool
load_config (const std::string & file, Config & config, std::string & error)
{
  config = Config ();
  config.file = file;
  Reporter report (config, error);

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) gerror = nullptr;
  if (!g_key_file_load_from_file (kf, file.c_str (), G_KEY_FILE_NONE, &gerror))
    return report.fail ("", "", gerror->message);

  g_auto (GStrv) groups = g_key_file_get_groups (kf, nullptr);
  for (gchar **g = groups; *g; g++) {
    std::string group = *g;
    if (group == "server") {
      if (!read_server (kf, config.server, report))
        return false;
    } else if (g_str_has_prefix (group.c_str (), "camera ")) {
      std::string name = group.substr (strlen ("camera "));
      g_strstrip (&name[0]);
      name = name.c_str ();
      CameraConfig c;
      if (!read_camera (kf, name, c, report))
        return false;
      config.cameras.push_back (c);
    } else {
      return report.fail (group, "", "unknown section (expected [server] or [camera NAME])");
    }
  }
  /* A file that only sets up the server runs the legacy single camera. */
  if (config.cameras.empty ())
    config.cameras = default_config ().cameras;
  return true;
}

bool
resolve_config (Config & config, std::string & error)
{
  Reporter report (config, error);
  if (!check_tls (config, report))
    return false;

  std::string plugin_path = plugin_path_for_command ();
  for (auto &c : config.cameras) {
    std::string why;
    c.has_secret = false;
    if (c.pipeline.empty ()) {
      if (!find_placeholder (config, c.placeholder, c.placeholder_file, why))
        return report.fail (c.section (), "placeholder", why);
      if (!c.latest_file.empty ()) {
        c.latest_file = absolute_path (c.latest_file);
        g_autofree gchar *dir = g_path_get_dirname (c.latest_file.c_str ());
        if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
          return report.fail (c.section (), "latest-file", std::string ("the directory ") +
              dir + " does not exist");
      }
      if (!generate_line (config, c, report))
        return false;
    } else if (!rewrite_custom_line (config, c, report)) {
      return false;
    }
    c.line.plugin_path = plugin_path;
    if (!check_line (config, c, report))
      return false;
  }
  return check_paths (config, report);
}

}  // namespace camrelay
