/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the delays between tries (see crbackoff.h). */
#include "crbackoff.h"

#include <algorithm>

namespace cr {

Backoff::Backoff (const BackoffSettings & settings) : Backoff (settings, g_random_int ()) {}

Backoff::Backoff (const BackoffSettings & settings, guint32 seed)
  : settings_ (settings), current_ms_ (settings.initial_ms), random_ (seed)
{
  settings_.max_ms = std::max (settings_.max_ms, settings_.initial_ms);
  settings_.factor = std::max (settings_.factor, 1u);
  settings_.jitter = std::clamp (settings_.jitter, 0.0, 1.0);
}

guint
Backoff::next_ms ()
{
  guint delay = current_ms_;
  guint64 grown = static_cast<guint64> (current_ms_) * settings_.factor;
  current_ms_ = static_cast<guint> (std::min<guint64> (grown, settings_.max_ms));
  if (settings_.jitter > 0.0) {
    std::uniform_real_distribution<double> part (0.0, settings_.jitter);
    delay -= static_cast<guint> (delay * part (random_));
  }
  return delay;
}

guint
Backoff::next_ms_after (gint64 ran_us)
{
  if (settings_.reset_after_us > 0 && ran_us >= settings_.reset_after_us)
    reset ();
  return next_ms ();
}

void
Backoff::reset ()
{
  current_ms_ = settings_.initial_ms;
}

}  // namespace cr
