/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: recordings over HTTP, behind the viewer credentials like every page.
 *
 *   GET /recordings/NAME                  JSON: segments (start, end, frames, bytes, url) and the
 *                                         time-lapse frames' span (first, last, count)
 *   GET /recordings/NAME/DAY/TIME.mkv     a segment (also NAME/timelapse/DAY/TIME.mkv), with Range
 *   GET /recordings/NAME/frame.jpg?t=T    the frame recorded at or just before T, its bytes as sent
 *   GET /recordings/NAME/play?from=T&speed=N   multipart/x-mixed-replace at N times the recorded
 * pace GET /recordings/NAME/timelapse.mp4?from=&to=&fps=   H.264 MP4, made once and cached
 *
 * Times are ISO 8601 (an offset or Z; none means UTC). Only cameras of the running configuration
 * are served, and every path on disk is built from parsed names (crrecordlayout.h), never from the
 * request's text. */
#pragma once

#include "crserver.h"
#include "pages.h"

#include <memory>
#include <string>

namespace camrelay {

class Catalog;
class TimelapseMaker;

/* "2026-12-06T14:03:00Z", "…+01:00", "…T14:03:00.250" (UTC) -> Unix microseconds. A space
 * where the offset's "+" was (an unescaped "+" in a query string) is read as "+". */
bool parse_iso8601 (const char *text, gint64 & unix_us);
/* Unix microseconds -> "2026-12-06T14:03:00.250+00:00". */
std::string format_iso8601 (gint64 unix_us);

class Recordings
{
public:
  /* Registers /recordings/ on @server; @ctx (the running cameras) must outlive this object.
   * @dir: [recordings] dir. */
  static std::unique_ptr<Recordings> create (cr::Server & server, const PageContext & ctx,
      const std::string & dir, GError **error);
  ~Recordings ();

private:
  Recordings () = default;
  void handle (SoupServerMessage *msg, const char *path, GHashTable *query);

  const PageContext *ctx_ = nullptr;
  GMainContext *context_ = nullptr;
  std::shared_ptr<Catalog> catalog_;
  std::shared_ptr<TimelapseMaker> timelapse_;
  std::unique_ptr<cr::PageRoute> route_;
};

}  // namespace camrelay
