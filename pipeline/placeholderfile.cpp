/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the placeholder picture a camera's jpegfallback shows, found in the search
 * directories and checked before any pipeline runs. */
#include "placeholderfile.h"

#include "abspath.h"
#include "camrelay-config.h"

namespace camrelay {

namespace {

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

}  // namespace

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

}  // namespace camrelay
