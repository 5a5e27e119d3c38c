/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: file names as the program keeps them (absolute, so that a pipeline and a
 * printed gst-launch line mean the same file from any working directory). */
#pragma once

#include <glib.h>

#include <string>

namespace camrelay {

/* @path made absolute against the working directory, with "." and ".." resolved. */
inline std::string
absolute_path (const std::string & path)
{
  g_autofree gchar *abs = g_canonicalize_filename (path.c_str (), nullptr);
  return abs;
}

}  // namespace camrelay
