/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the delays between tries of something that keeps failing (a camera's pipeline, a pulled
 * camera, a WebSocket push link, an MQTT broker, a webhook).
 *
 * The first delay is initial_ms, each next one factor times the last, up to max_ms, forever; a
 * success starts again at initial_ms. A try that ran for reset_after_us before it failed counts as
 * a success, so a camera that streams for a while and then drops is tried again at once, while one
 * that fails each time soon after it starts is tried less and less often.
 *
 * jitter (0 to 1) shortens each delay by a random part of up to that fraction, so that many
 * clients that failed together (a relay restarted under a thousand cameras) do not come back
 * together; 0 keeps the delays exact.
 *
 * Not thread-safe: each owner keeps its backoff with the state it already guards. */
#pragma once

#include <glib.h>

#include <random>

namespace cr {

struct BackoffSettings
{
  guint initial_ms = 1000;
  guint max_ms = 30000;
  guint factor = 2;
  double jitter = 0.0;
  gint64 reset_after_us = 0; /* 0 = only reset() starts over */
};

class Backoff
{
public:
  explicit Backoff (const BackoffSettings & settings = BackoffSettings ());
  /* @seed makes the jitter repeatable (tests). */
  Backoff (const BackoffSettings & settings, guint32 seed);

  /* The delay before the next try; the one after it grows by the factor. */
  guint next_ms ();
  /* The same after a try that ran @ran_us before failing: a long enough run starts over first. */
  guint next_ms_after (gint64 ran_us);
  /* A success: the next delay is initial_ms again. */
  void reset ();

private:
  BackoffSettings settings_;
  guint current_ms_;
  std::minstd_rand random_;
};

}  // namespace cr
