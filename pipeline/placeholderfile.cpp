/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the placeholder picture a camera's jpegfallback shows, found in the search
 * directories and checked by jpegvalidate before any pipeline runs. */
#include "placeholderfile.h"

#include "abspath.h"
#include "camrelay-config.h"
#include "elementfields.h"

#include <glib/gstdio.h>
#include <gst/gst.h>

#include <cerrno>
#include <map>

namespace camrelay {

namespace {

using elements::Field;

/* How long jpegvalidate may take over one picture (a decode of a large one included). */
const GstClockTime CHECK_TIMEOUT = 20 * GST_SECOND;

/* Runs @path through jpegvalidate as one frame, decoded too, since jpegfallback decodes its
 * placeholder: "filesrc ! queue ! jpegvalidate ! fakesink" to the end of the stream. The program
 * reaches the elements only through GStreamer, so this is how it asks the real validator; the
 * reason in @why is then the one jpegvalidate gives a camera's frame. The queue keeps the data
 * pushed, in one buffer of the file's size: jpegvalidate checks each buffer as a whole frame. */
bool
validate_jpeg (const std::string & path, std::string & why)
{
  GStatBuf st;
  if (g_stat (path.c_str (), &st) != 0) {
    why = "cannot read " + path + ": " + g_strerror (errno);
    return false;
  }
  if (st.st_size == 0) {
    why = path + " is empty";
    return false;
  }
  if (static_cast<guint64> (st.st_size) > G_MAXUINT) {
    why = path + " is too large for a picture";
    return false;
  }

  g_autoptr (GstElement) pipeline =
      GST_ELEMENT (gst_object_ref_sink (gst_pipeline_new ("placeholder-check")));
  GstElement *src = gst_element_factory_make ("filesrc", nullptr);
  GstElement *queue = gst_element_factory_make ("queue", nullptr);
  GstElement *validate = gst_element_factory_make (elements::JPEGVALIDATE, nullptr);
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  for (GstElement *e : { src, queue, validate, sink }) {
    if (e)
      gst_bin_add (GST_BIN (pipeline), e);
  }
  if (!src || !queue || !validate || !sink) {
    why = std::string ("cannot check ") + path + ": the GStreamer element " +
        (!validate       ? "jpegvalidate"
                : !src   ? "filesrc"
                : !queue ? "queue"
                         : "fakesink") +
        " is not installed";
    return false;
  }
  g_object_set (src, "location", path.c_str (), "blocksize", static_cast<guint> (st.st_size),
      nullptr);
  g_object_set (validate, elements::MIN_SIZE, 0u, elements::MAX_SIZE, 0u, elements::MAX_WIDTH,
      65535u, elements::MAX_HEIGHT, 65535u, elements::DECODE_CHECK, TRUE, nullptr);
  g_object_set (sink, "sync", FALSE, nullptr);
  if (!gst_element_link_many (src, queue, validate, sink, nullptr)) {
    why = "cannot check " + path + ": GStreamer cannot link filesrc ! queue ! jpegvalidate";
    return false;
  }

  std::string reason, detail, error;
  bool ended = false;
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (!ended && error.empty ()) {
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, CHECK_TIMEOUT,
        static_cast<GstMessageType> (GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    if (!msg) {
      error = "jpegvalidate gave no verdict in time";
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      ended = true;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) gerror = nullptr;
      gst_message_parse_error (msg, &gerror, nullptr);
      error = gerror ? gerror->message : "unknown error";
    } else if (gst_structure_has_name (gst_message_get_structure (msg), elements::MSG_REJECTED) &&
        reason.empty ()) {
      const GstStructure *s = gst_message_get_structure (msg);
      const gchar *r = gst_structure_get_string (s, elements::name (Field::RejectedReason));
      const gchar *d = gst_structure_get_string (s, elements::name (Field::RejectedDetail));
      reason = r ? r : "rejected";
      detail = d ? d : "";
    }
  }
  guint64 accepted = 0;
  GstStructure *stats = nullptr;
  g_object_get (validate, elements::STATS, &stats, nullptr);
  if (stats) {
    gst_structure_get_uint64 (stats, elements::name (Field::ValidateAccepted), &accepted);
    gst_structure_free (stats);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  /* A rejected frame also ends in an error (jpegparse saw no frame); the reason says more. */
  if (!reason.empty ())
    why = path + " is not a usable JPEG: " + reason + " (" + detail + ")";
  else if (!error.empty ())
    why = "cannot check " + path + ": " + error;
  else if (accepted == 0)
    why = path + " holds no picture";
  else
    return true;
  return false;
}

}  // namespace

/* validate_jpeg(), once per file as it is now: a thousand cameras usually share one picture. */
static bool
validate_jpeg_once (const std::string & path, std::string & why)
{
  struct Checked
  {
    guint64 device, inode, size, mtime_ns;
    bool ok;
    std::string why;
  };
  static std::map<std::string, Checked> checked;
  GStatBuf st;
  if (g_stat (path.c_str (), &st) != 0)
    return validate_jpeg (path, why);
  guint64 mtime_ns =
      (guint64) st.st_mtim.tv_sec * G_GUINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
  auto it = checked.find (path);
  if (it != checked.end () && it->second.device == (guint64) st.st_dev &&
      it->second.inode == (guint64) st.st_ino && it->second.size == (guint64) st.st_size &&
      it->second.mtime_ns == mtime_ns) {
    why = it->second.why;
    return it->second.ok;
  }
  bool ok = validate_jpeg (path, why);
  checked[path] = { (guint64) st.st_dev, (guint64) st.st_ino, (guint64) st.st_size, mtime_ns, ok,
    ok ? "" : why };
  return ok;
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
  /* The environment may name another data directory: a relocated install, or a test that must
   * not depend on what is installed on the machine. */
  const gchar *datadir = g_getenv ("CAMRELAY_DATADIR");
  dirs.emplace_back (datadir && *datadir ? datadir : CAMRELAY_DATADIR);
  return dirs;
}

bool
find_placeholder (const Config & config, const std::string & given, std::string & found,
    std::string & why)
{
  std::vector<std::string> candidates;
  if (g_path_is_absolute (given.c_str ())) {
    candidates.push_back (given);
  } else {
    for (const auto & dir : placeholder_search_dirs (config)) {
      g_autofree gchar *p = g_build_filename (dir.c_str (), given.c_str (), nullptr);
      candidates.emplace_back (p);
    }
  }
  for (const auto & c : candidates) {
    if (g_file_test (c.c_str (), G_FILE_TEST_IS_REGULAR)) {
      found = absolute_path (c);
      return validate_jpeg_once (found, why);
    }
  }
  why = "cannot find " + given;
  if (!g_path_is_absolute (given.c_str ())) {
    why += " (looked in";
    for (const auto & dir : placeholder_search_dirs (config))
      why += " " + dir;
    why += ")";
  }
  return false;
}

}  // namespace camrelay
