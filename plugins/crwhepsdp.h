/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: what the endpoint reads from an offer and mends in an answer, as pure functions
 * over GstSDPMessage, so they are tested without a network. */
#pragma once

#include <gst/sdp/sdp.h>

#include <string>
#include <vector>

namespace cr {

struct H264Choice
{
  guint pt = 0;
  /* The offer's profile-level-id for that payload type ("42e01f"), or "" if it gave none. */
  std::string profile_level_id;
};

/* Picks the H.264 payload type camrelay answers in the offer's first video m-line: only
 * packetization-mode=1 (rtph264pay aggregates and fragments), constrained baseline (42e0xx) first,
 * then baseline (4200xx), main (4d00xx), then any other. False with @why when there is none. */
bool whep_pick_h264 (const GstSDPMessage *offer, H264Choice *choice, std::string *why);

/* The answer as text: the ICE candidates gathered (@candidates, "candidate:..." lines) added to
 * every m-line that carries none, and with @announce set, the address of every host candidate
 * replaced by it (1:1 NAT, containers: the address the viewer can reach). */
std::string whep_answer_text (const GstSDPMessage *answer,
    const std::vector<std::string> & candidates, const std::string & announce);

/* "candidate:F C udp P ADDR PORT typ host ..." with its address replaced when it is a host
 * candidate; other candidates unchanged. */
std::string whep_announce_candidate (const std::string & candidate, const std::string & announce);

}  // namespace cr
