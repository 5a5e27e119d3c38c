/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the recording settings ([recordings] and a camera's record keys) and how
 * their values are written (ages like "7d", sizes like "20G"). */
#pragma once

#include <glib.h>

#include <string>

namespace camrelay {

struct RecordingsConfig
{
  /* Absolute; "" until load_config() resolves the default (recordings/ beside the config file,
   * or in the working directory without one). */
  std::string dir;
  guint segment = 60;            /* seconds per file */
  gint64 keep = 7 * 24 * 3600;   /* seconds; 0 = no age limit */
  guint64 max_disk = 0;          /* bytes for every recording together; 0 = no limit */
  double timelapse_interval = 0; /* the cameras' default; 0 = no time-lapse */
};

/* "90" or "90s", "30m", "12h", "7d", "2w" -> seconds. False if it is not one. */
bool parse_age (const std::string & text, gint64 & seconds);

/* "1048576", "512K", "500M", "20G", "2T" (powers of 1024; "G", "GB" and "GiB" alike) -> bytes. */
bool parse_size (const std::string & text, guint64 & bytes);

/* Where a camera's recordings go: DIR/NAME, and its time-lapse: DIR/NAME/timelapse. */
std::string record_location (const RecordingsConfig & r, const std::string & camera);
std::string timelapse_location (const RecordingsConfig & r, const std::string & camera);

}  // namespace camrelay
