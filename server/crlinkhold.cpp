/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the thin-link rule (see crlinkhold.h). */
#include "crlinkhold.h"

namespace cr {

LinkVerdict
judge_link (const LinkLook & look, gsize next_size)
{
  const guint64 allowed = next_size / 8;
  if (look.unacked <= allowed)
    return LinkVerdict::SEND;
  if (look.unsent > allowed)
    return LinkVerdict::WAIT_WINDOW;
  if (!look.proven)
    return LinkVerdict::WAIT_FLIGHT;
  const gint64 lag = look.min_rtt_us + LINK_QUEUE_US;
  if (look.srtt_us > lag || look.sent_ago_us > lag)
    return LinkVerdict::WAIT_FLIGHT;
  return LinkVerdict::SEND;
}

bool
hold_was_quick (gint64 held_us, gint64 min_rtt_us)
{
  return held_us <= MAX (min_rtt_us, 0) + LINK_QUEUE_US;
}

}  // namespace cr
