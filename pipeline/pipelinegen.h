/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the pipeline a camera's keys describe, written as gst-launch tokens.
 *
 * Each key becomes a property of one element; a value is checked against the element's own
 * property (type and range), and values equal to the element's default are left out, so that
 * --print-pipeline reads like a line written by hand. */
#pragma once

#include "configreport.h"
#include "relayconfig.h"

#include <glib-object.h>

#include <string>
#include <vector>

namespace camrelay {

/* Adds an element and its properties in gst-launch syntax to @tokens, leaving out values that
 * equal the element's defaults. */
class Emitter
{
public:
  Emitter (std::vector<std::string> & tokens, const std::string & section, Reporter & report)
    : tokens_ (tokens), section_ (section), report_ (report)
  {}
  ~Emitter ();
  Emitter (const Emitter &) = delete;
  Emitter & operator= (const Emitter &) = delete;

  /* Appends "!" (unless first) and @factory_name; false if GStreamer has no such element. */
  bool element (const char *factory_name);
  /* A property of the last element. @raw: the value as text; @key: the config key it came from,
   * for errors; @always: written even when it is the default. */
  bool prop (const char *name, const std::string & raw, const char *key, bool always = false);
  /* The [server] settings on the last element, a network one: every element that listens on one
   * address and port must carry the same settings (the elements refuse to share otherwise), and
   * a printed line must run with TLS and credentials as the program does. */
  bool listen_props (const ServerConfig & server);
  /* A token as it is, e.g. a branch of a named tee ("rec."), which the next element follows. */
  void token (const std::string & token) { tokens_.push_back (token); }

private:
  std::vector<std::string> & tokens_;
  std::string section_;
  Reporter & report_;
  GObjectClass *klass_ = nullptr;
  std::string factory_;
};

/* A time of the config (seconds, as users write them) as an element's property takes it:
 * nanoseconds (GstClockTime), as text. */
std::string seconds_as_ns (double seconds);
/* The name of a camera's h264relaysink in the generated pipeline, for its stats. */
inline constexpr char H264_SINK_NAME[] = "h264";

/* Fills @c.line.tokens from @c's keys (c.placeholder_file already found). */
bool generate_line (const Config & config, CameraConfig & c, Reporter & report);

}  // namespace camrelay
