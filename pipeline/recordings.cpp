/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /recordings/ (see recordings.h). */
#define G_LOG_DOMAIN "camrelay"
#include "recordings.h"

#include "crrecordlayout.h"
#include "fileresponse.h"
#include "jsontext.h"
#include "playback.h"
#include "recordcatalog.h"
#include "timelapse.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>

namespace camrelay {

namespace {

const char PREFIX[] = "/recordings/";

void
answer (SoupServerMessage *msg, guint status, const char *type, const std::string & body)
{
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body.data (), body.size ());
}

void
refuse (SoupServerMessage *msg, guint status, const std::string & text)
{
  answer (msg, status, "text/plain; charset=utf-8", text + "\n");
}

std::string
url_escape (const std::string & s)
{
  g_autofree gchar *e = g_uri_escape_string (s.c_str (), nullptr, FALSE);
  return e;
}

const char *
query_value (GHashTable *query, const char *key)
{
  return query ? static_cast<const char *> (g_hash_table_lookup (query, key)) : nullptr;
}

/* The frame at or just before @t_us in the segment holding @t_us: the latest segment whose first
 * frame is at or before @t_us (a segment's second after its last frame may overlap the next
 * segment's start, whose frames are then the nearer ones). */
bool
frame_at (Catalog & catalog, const std::string & camera, gint64 t_us, Segment & seg,
    cr::record::FrameRef & frame)
{
  gint64 t_s = t_us / G_USEC_PER_SEC;
  bool found = false;
  for (const auto & s : catalog.segments (camera, false, t_s, t_s)) { /* by start */
    /* Within a segment: from its first frame to a second after its last. */
    if (t_us < s.first_us () || t_us >= s.last_us () + G_USEC_PER_SEC)
      continue;
    auto index = catalog.index (s);
    if (!index || index->frames.empty ())
      continue;
    const cr::record::FrameRef *best = nullptr;
    for (const auto & f : index->frames) {
      if (s.start_s * G_USEC_PER_SEC + static_cast<gint64> (f.ts_ms) * 1000 > t_us)
        break;
      best = &f;
    }
    if (!best)
      continue;
    seg = s;
    frame = *best;
    found = true;
  }
  return found;
}

std::string
listing_json (Catalog & catalog, const std::string & camera)
{
  std::string base = PREFIX + url_escape (camera) + "/";
  std::string out = "{\"camera\":" + json_string (camera) + ",\"segments\":[";
  bool first = true;
  for (const auto & s : catalog.segments (camera, false)) {
    out += std::string (first ? "" : ",") +
        "\n{\"start\":" + json_string (format_iso8601 (s.first_us ())) +
        ",\"end\":" + json_string (format_iso8601 (s.last_us ())) +
        ",\"frames\":" + std::to_string (s.frames) + ",\"bytes\":" + std::to_string (s.bytes) +
        ",\"url\":" + json_string (base + s.relpath) + "}";
    first = false;
  }
  out += "],\n\"timelapse\":";
  auto tl = catalog.segments (camera, true);
  guint64 count = 0;
  for (const auto & s : tl)
    count += s.frames;
  if (tl.empty ())
    out += "null";
  else
    out += "{\"first\":" + json_string (format_iso8601 (tl.front ().first_us ())) +
        ",\"last\":" + json_string (format_iso8601 (tl.back ().last_us ())) +
        ",\"count\":" + std::to_string (count) + "}";
  return out + "}\n";
}

/* A time-lapse at most this long is made (~55 min at 30 fps; a year at a frame an hour). */
const gsize MAX_TIMELAPSE_FRAMES = 100000;

/* The frames of a time-lapse over [@from_us, @to_us]: the time-lapse recording's, or when it has
 * none there, the recording thinned to the first frame of every @every_us. */
std::vector<TimelapseFrame>
timelapse_frames (Catalog & catalog, const std::string & camera, gint64 from_us, gint64 to_us,
    gint64 every_us)
{
  std::vector<TimelapseFrame> out;
  for (bool timelapse : { true, false }) {
    gint64 last_slot = G_MININT64;
    for (const auto & s :
        catalog.segments (camera, timelapse, from_us / G_USEC_PER_SEC, to_us / G_USEC_PER_SEC)) {
      if (s.last_us () < from_us || s.first_us () > to_us)
        continue;
      auto index = catalog.index (s);
      if (!index)
        continue;
      for (const auto & f : index->frames) {
        gint64 us = s.start_s * G_USEC_PER_SEC + static_cast<gint64> (f.ts_ms) * 1000;
        if (us < from_us || us > to_us)
          continue;
        if (!timelapse) {
          gint64 slot = us / every_us;
          if (slot == last_slot)
            continue;
          last_slot = slot;
        }
        out.push_back ({ s.path, f.offset, f.size });
        if (out.size () > MAX_TIMELAPSE_FRAMES)
          return out;
      }
    }
    if (!out.empty ())
      break;
  }
  return out;
}

/* An optional number query value within [@lo, @hi]; false if present and not one. */
bool
query_number (GHashTable *query, const char *key, double lo, double hi, double & value)
{
  const char *text = query_value (query, key);
  if (!text)
    return true;
  char *end = nullptr;
  double v = g_ascii_strtod (text, &end);
  if (!*text || *end || !std::isfinite (v) || v < lo || v > hi)
    return false;
  value = v;
  return true;
}

}  // namespace

bool
parse_iso8601 (const char *text, gint64 & unix_us)
{
  if (!text || !*text || strlen (text) > 64)
    return false;
  std::string t (text);
  /* "+01:00" arrives as " 01:00" when the client did not escape the "+". */
  auto space = t.find (' ');
  if (space != std::string::npos && space > 10)
    t[space] = '+';
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (t.c_str (), utc);
  if (!dt)
    return false;
  unix_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return true;
}

std::string
format_iso8601 (gint64 unix_us)
{
  gint64 s_part =
      unix_us >= 0 ? unix_us / G_USEC_PER_SEC : -((-unix_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (s_part);
  if (!dt)
    return "";
  unix_us -= s_part * G_USEC_PER_SEC;
  g_autofree gchar *s = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  char frac[16];
  g_snprintf (frac, sizeof (frac), ".%03d+00:00", static_cast<int> ((unix_us / 1000) % 1000));
  return std::string (s) + frac;
}

std::unique_ptr<Recordings>
Recordings::create (cr::Server & server, const PageContext & ctx, const std::string & dir,
    GError **error)
{
  std::unique_ptr<Recordings> r (new Recordings ());
  r->ctx_ = &ctx;
  r->context_ = server.context ();
  r->catalog_ = std::make_shared<Catalog> (dir);
  r->timelapse_ =
      std::make_shared<TimelapseMaker> (dir + "/" + TIMELAPSE_CACHE_DIR, server.context ());
  Recordings *self = r.get ();
  r->route_ = server.add_page (
      PREFIX,
      [self] (SoupServerMessage *msg, const char *path, GHashTable *query) {
        self->handle (msg, path, query);
      },
      error);
  if (!r->route_)
    return nullptr;
  return r;
}

Recordings::~Recordings ()
{
  route_.reset (); /* no handler runs after this */
  timelapse_.reset ();
}

void
Recordings::handle (SoupServerMessage *msg, const char *path, GHashTable *query)
{
  /* PREFIX NAME [/ rest], NAME percent-decoded; never a path on disk by itself. */
  std::string p (path);
  std::string rest = p.substr (strlen (PREFIX));
  auto slash = rest.find ('/');
  std::string escaped = rest.substr (0, slash);
  rest = slash == std::string::npos ? "" : rest.substr (slash + 1);
  g_autofree gchar *decoded = g_uri_unescape_string (escaped.c_str (), nullptr);
  std::string camera = decoded ? decoded : "";
  if (!Catalog::safe_name (camera)) {
    refuse (msg, SOUP_STATUS_BAD_REQUEST, "not a camera name");
    return;
  }
  bool known = false;
  for (const Camera *c : ctx_->cameras)
    known = known || c->name () == camera;
  if (!known) {
    refuse (msg, SOUP_STATUS_NOT_FOUND, "no camera named " + camera);
    return;
  }

  if (rest.empty ()) {
    answer (msg, SOUP_STATUS_OK, "application/json", listing_json (*catalog_, camera));
    return;
  }
  if (rest == "frame.jpg") {
    gint64 t = 0;
    if (!parse_iso8601 (query_value (query, "t"), t)) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST,
          "give the moment as ?t= in ISO 8601, e.g. ?t=2026-12-06T14:03:00Z");
      return;
    }
    Segment seg;
    cr::record::FrameRef f;
    if (!frame_at (*catalog_, camera, t, seg, f)) {
      refuse (msg, SOUP_STATUS_NOT_FOUND, "nothing recorded at " + format_iso8601 (t));
      return;
    }
    int fd = open (seg.path.c_str (), O_RDONLY | O_CLOEXEC);
    gpointer data = g_malloc (f.size);
    bool ok = fd >= 0 &&
        pread (fd, data, f.size, static_cast<off_t> (f.offset)) == static_cast<ssize_t> (f.size);
    if (fd >= 0)
      close (fd);
    if (!ok) {
      g_free (data);
      refuse (msg, SOUP_STATUS_NOT_FOUND, "the recording is gone");
      return;
    }
    gint64 us = seg.start_s * G_USEC_PER_SEC + static_cast<gint64> (f.ts_ms) * 1000;
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    soup_message_headers_replace (h, "X-Timestamp", format_iso8601 (us).c_str ());
    soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
    soup_server_message_set_response (msg, "image/jpeg", SOUP_MEMORY_TAKE,
        static_cast<const char *> (data), f.size);
    return;
  }
  if (rest == "play") {
    PlayRequest req;
    req.camera = camera;
    if (!parse_iso8601 (query_value (query, "from"), req.from_us)) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST,
          "give the start as ?from= in ISO 8601, e.g. ?from=2026-12-06T14:03:00Z");
      return;
    }
    const char *speed = query_value (query, "speed");
    if (speed) {
      char *end = nullptr;
      req.speed = g_ascii_strtod (speed, &end);
      if (!*speed || *end || !std::isfinite (req.speed) || req.speed < 0.25 || req.speed > 64) {
        refuse (msg, SOUP_STATUS_BAD_REQUEST, "speed must be a number from 0.25 to 64");
        return;
      }
    }
    SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
    req.with_length =
        cr::choose_part_layout (query_value (query, "content-length"),
            soup_message_headers_get_one (h, "User-Agent"),
            soup_message_headers_get_one (h, "Sec-Fetch-Dest")) == cr::PartLayout::CONTENT_LENGTH;
    if (!start_playback (catalog_, msg, req))
      refuse (msg, SOUP_STATUS_NOT_FOUND, "nothing recorded from " + format_iso8601 (req.from_us));
    return;
  }
  if (rest == "timelapse.mp4") {
    gint64 to = g_get_real_time (), from = 0;
    const char *to_text = query_value (query, "to"), *from_text = query_value (query, "from");
    if ((to_text && !parse_iso8601 (to_text, to)) ||
        (from_text && !parse_iso8601 (from_text, from))) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST,
          "give from= and to= in ISO 8601, e.g. "
          "?from=2026-12-06T00:00:00Z&to=2026-12-07T00:00:00Z");
      return;
    }
    if (!from_text)
      from = to - G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC;
    double fps = 30, every = 60;
    if (!query_number (query, "fps", 1, 120, fps) || fps != std::floor (fps)) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST, "fps must be a whole number from 1 to 120");
      return;
    }
    if (!query_number (query, "every", 0.1, 86400, every)) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST, "every must be a number of seconds from 0.1 to 86400");
      return;
    }
    if (to <= from) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST, "to must come after from");
      return;
    }
    auto frames = timelapse_frames (*catalog_, camera, from, to,
        static_cast<gint64> (every * G_USEC_PER_SEC));
    if (frames.empty ()) {
      refuse (msg, SOUP_STATUS_NOT_FOUND,
          "nothing recorded from " + format_iso8601 (from) + " to " + format_iso8601 (to));
      return;
    }
    if (frames.size () > MAX_TIMELAPSE_FRAMES) {
      refuse (msg, SOUP_STATUS_BAD_REQUEST,
          "more than " + std::to_string (MAX_TIMELAPSE_FRAMES) +
              " frames in that span: ask for a shorter one (or a larger every=)");
      return;
    }
    timelapse_->request (msg, camera + " " + format_iso8601 (from) + " to " + format_iso8601 (to),
        std::move (frames), static_cast<guint> (fps));
    return;
  }
  /* A segment: [timelapse/]YYYY-MM-DD/HH-MM-SS.mkv, rebuilt from its parsed time. */
  bool timelapse = g_str_has_prefix (rest.c_str (), "timelapse/");
  std::string relpath = timelapse ? rest.substr (strlen ("timelapse/")) : rest;
  gint64 start = 0;
  if (!cr::record::parse_segment_relpath (relpath, start) ||
      cr::record::segment_relpath (start) != relpath) {
    refuse (msg, SOUP_STATUS_NOT_FOUND, "no such recording");
    return;
  }
  std::string file = catalog_->dir () + "/" + camera + "/" +
      (timelapse ? std::string (cr::record::TIMELAPSE_DIR) + "/" : "") +
      cr::record::segment_relpath (start);
  serve_file (msg, file, "video/x-matroska");
}

}  // namespace camrelay
