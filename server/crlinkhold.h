/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: whether a viewer's next part should wait for its link (crstream.cpp's
 * Viewer::hold_for_link asks; the figures come from the kernel). A pure function, so that the rule
 * can be tested against the figures a loopback viewer, a thin link and a long path give. */
#pragma once

#include <glib.h>

namespace cr {

/* What one look at a viewer's TCP connection found. */
struct LinkLook
{
  guint64 unacked = 0;    /* written, not acknowledged yet (SIOCOUTQ): unsent or on its way */
  guint64 unsent = 0;     /* of those, not sent yet (the peer's window is full) */
  gint64 srtt_us = 0;     /* the kernel's smoothed round-trip time (tcpi_rtt); 0 = unknown */
  gint64 min_rtt_us = 0;  /* the least round-trip time seen on the connection (tcpi_min_rtt) */
  gint64 sent_ago_us = 0; /* since the previous part's last byte went into the socket */
  bool proven = false;    /* the link delivered quickly FAST_LOOKS times in a row */
};

enum class LinkVerdict
{
  SEND,        /* the link is free, or its backlog is no sign of a slow link */
  WAIT_WINDOW, /* unsent bytes: wait until the socket has sent them (EPOLLOUT) */
  WAIT_FLIGHT, /* bytes on their way through a slow link: look again later */
};

/* Queueing delay beyond the path's own round trip that a link may show and still count as fast:
 * a part sent behind bytes that take no longer than this waits no longer than this. */
constexpr gint64 LINK_QUEUE_US = 20 * 1000;

/* The next part (@next_size bytes) waits while more than an eighth of it is still unsent or
 * unacknowledged, so that it goes out when the previous one has nearly arrived and queues behind
 * almost nothing. A link that has proven fast is not held for bytes merely unacknowledged (a
 * receiver that keeps up acknowledges a part when it reads it, and a camera at thousands of frames
 * a second writes the next part long before): only while its round-trip time shows a queue
 * (srtt more than LINK_QUEUE_US above the least seen) or the bytes have been on their way longer
 * than that. An unproven link (a new viewer, a thin link) is held for any bytes in flight: early
 * on, the kernel's round-trip time says nothing yet (a token bucket lets its burst through at line
 * rate). */
LinkVerdict judge_link (const LinkLook & look, gsize next_size);

/* A hold that ended @held_us after it began shows a fast link: the bytes took no longer than the
 * path's own round trip (@min_rtt_us) plus LINK_QUEUE_US. */
bool hold_was_quick (gint64 held_us, gint64 min_rtt_us);

}  // namespace cr
