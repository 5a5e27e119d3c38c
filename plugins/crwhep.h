/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: a camera's WebRTC viewers, signalled over the camrelay HTTP server as the WHEP
 * draft (draft-ietf-wish-whep) says and go2rtc, MediaMTX and OBS speak it:
 *
 *   POST   PATH              Content-Type: application/sdp, the viewer's offer (at most 64 KiB)
 *                            -> 201 Created, the answer (application/sdp, every host candidate in
 *                               it: no trickle), Location: PATH/<session id>
 *   DELETE PATH/<session id> -> 200, the session ends (404 for an unknown one)
 *   OPTIONS either           -> 204 with CORS headers, without credentials (browsers send
 *                               preflights without them); everything else asks for the viewer
 *                               credentials like every page.
 *
 * Each session is a WhepSession (its own pipeline) fed from the camera's shared encoder. Sessions
 * end on DELETE, when ICE fails or stays disconnected, when the viewer never connects, and when
 * the endpoint goes (the camera is removed).
 *
 * Threads: created and destroyed in any thread but the server's; all session bookkeeping runs in
 * the server thread, to which webrtcbin's threads hand their events over. */
#pragma once

#include "crserver.h"
#include "crwhepfeed.h"

#include <memory>
#include <string>

namespace cr {

struct WhepSettings
{
  std::string path; /* "/whep/NAME" */
  /* Sessions at once; further offers get 503 with Retry-After. */
  guint max_sessions = 20;
  guint min_port = 0; /* UDP port range of the ICE agents; 0 = any */
  guint max_port = 0;
  std::string announce_address;
  std::string stun_server;
  std::string turn_server;
  /* Bounded waits: ICE gathering before the answer, the viewer's connection after it, and a
   * disconnection before the session is given up. */
  guint gather_timeout_ms = 10000;
  guint connect_timeout_ms = 20000;
  guint disconnect_timeout_ms = 10000;
  /* A connected session that gets no access unit for this long ends: the camera's pipeline was
   * rebuilt (its encoder is another one now) or stopped. An offline camera's placeholder keeps
   * coming at its placeholder-fps, so only a real stop trips it. */
  guint feed_timeout_ms = 10000;
};

struct WhepStats
{
  guint sessions = 0;         /* now */
  guint connected = 0;        /* of those, media flowing */
  guint64 sessions_total = 0; /* answered */
  guint64 refused = 0;        /* 503 over max_sessions */
  guint64 bad_offers = 0;     /* 400 or 415: not an SDP offer camrelay can answer */
  guint64 failed = 0;         /* ended by ICE failure or timeout */
  guint64 bytes_sent = 0;     /* RTP bytes of every session, ended ones included */
};

class WhepEndpoint
{
public:
  /* Registers the routes on @server; @feed must outlive the endpoint. */
  static std::unique_ptr<WhepEndpoint> create (std::shared_ptr<Server> server,
      const WhepSettings & settings, H264Feed & feed, GError **error);
  /* Removes the routes and ends every session (their pipelines are down when it returns). */
  virtual ~WhepEndpoint () = default;
  virtual WhepStats stats () const = 0;
};

}  // namespace cr
