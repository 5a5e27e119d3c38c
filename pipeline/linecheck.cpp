/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: checking each camera's description through GStreamer (what the elements will
 * really serve, whatever the user wrote) and the URL paths of all cameras together. */
#include "linecheck.h"

#include "crserver.h"
#include "customline.h"
#include "elementfields.h"
#include "prebuilt.h"

#include <gst/gst.h>

#include <map>

namespace camrelay {

/* URLs the program serves itself. */
static const char *const PAGE_PATHS[] = { "/status", "/metrics", "/view" };

/* Parses the description as the program will, and reads back what the elements will serve. */
bool
check_line (const Config & config, CameraConfig & c, Reporter & report)
{
  std::string section = c.section ();
  const char *key = c.pipeline.empty () ? "" : "pipeline";
  g_autoptr (GError) error = nullptr;
  GstElement *parsed = gst_parse_launch_full (c.line.description ().c_str (), nullptr,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (!parsed)
    return report.fail (section, key,
        std::string ("GStreamer cannot build this pipeline: ") +
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
  /* Whether the camera holds a secret: credentials in its URL or an ingest secret. */
  c.has_secret = c.pulled () && c.source != c.source_shown;
  c.routes_ingest.clear ();
  c.routes_stream.clear ();
  c.routes_snapshot.clear ();
  for (GstElement *el : elements) {
    GstElementFactory *f = gst_element_get_factory (el);
    std::string factory = f ? GST_OBJECT_NAME (f) : "";
    if (ok && is_network_element (factory)) {
      g_autofree gchar *address = nullptr;
      guint port = 0;
      g_object_get (el, elements::ADDRESS, &address, elements::PORT, &port, nullptr);
      if (config.server.address != address || config.server.port != port)
        ok = report.fail (section, key,
            factory +
                " is not on the [server] address and port; "
                "write elements, properties and ! separated by spaces");
    }
    if (ok && factory == elements::WSJPEGSRC) {
      g_autofree gchar *paths = nullptr;
      g_autofree gchar *secret = nullptr;
      g_object_get (el, elements::PATHS, &paths, elements::SECRET, &secret, nullptr);
      for (const auto & p : cr::split_list (paths ? paths : ""))
        c.routes_ingest.push_back (p);
      c.has_secret = c.has_secret || (secret && *secret);
    } else if (ok && factory == elements::MJPEGHTTPSINK) {
      g_autofree gchar *path = nullptr;
      g_autofree gchar *snapshot = nullptr;
      g_object_get (el, elements::PATH, &path, elements::SNAPSHOT_PATH, &snapshot, nullptr);
      if (c.routes_stream.empty ()) {
        c.routes_stream = path ? path : "";
        c.routes_snapshot = snapshot ? snapshot : "";
      }
    }
  }
  for (GstElement *el : elements)
    gst_object_unref (el);
  /* The camera's first start runs this very pipeline rather than parsing the line again. */
  if (ok)
    prebuilt_put (c.line.description (), GST_ELEMENT (g_steal_pointer (&top)));
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

  for (const auto & c : config.cameras) {
    std::string section = c.section ();
    bool custom = !c.pipeline.empty ();
    auto claim = [&] (std::map<std::string, std::string> & table, const std::string & path,
                     const char *key) {
      std::string who = "[" + section + "] " + (custom ? "pipeline" : key);
      auto [it, fresh] = table.emplace (path, who);
      if (!fresh)
        return report.fail (section, custom ? "pipeline" : key,
            path + " is already used by " + it->second);
      return true;
    };
    for (const auto & p : c.routes_ingest) {
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

}  // namespace camrelay
