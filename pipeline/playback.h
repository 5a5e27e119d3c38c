/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: a recording played back as the multipart stream viewers know.
 *
 * One Player per request, driven by one timer in the server's main context (no thread, no busy
 * loop): each frame goes out at its recorded time divided by the speed, one part in flight at a
 * time (a frame and its headers are all it holds), the newest frame that is due when a slow client
 * is ready again (like live viewers, it skips rather than lags). A pause of more than GAP_US in the
 * recording is skipped, not waited out. The response ends after the last recorded frame, once
 * nothing new has come for a while; the player goes as soon as its client does. */
#pragma once

#include "recordcatalog.h"

#include <libsoup/soup.h>

#include <memory>
#include <string>

namespace camrelay {

struct PlayRequest
{
  std::string camera;
  gint64 from_us = 0;
  double speed = 1.0;
  bool with_length = true; /* cr::PartLayout::CONTENT_LENGTH */
};

/* Recorded pauses longer than this are skipped. */
inline constexpr gint64 PLAYBACK_GAP_US = 5 * G_USEC_PER_SEC;

/* Takes @msg's response over (server thread). False (and nothing sent) if there is no frame at or
 * after @req.from_us. */
bool start_playback (std::shared_ptr<Catalog> catalog, SoupServerMessage *msg,
    const PlayRequest & req);

}  // namespace camrelay
