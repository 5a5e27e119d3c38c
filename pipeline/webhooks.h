/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: webhooks. Each event is POSTed as JSON to every configured URL, in order,
 * signed with "X-Camrelay-Signature: sha256=<hex HMAC-SHA256 of the body>" when a secret is set
 * (the scheme GitHub uses for its webhooks).
 *
 * Each URL has its own bounded queue and sends one event at a time: a failed delivery (an error
 * status, a refused connection, no answer within the timeout) is tried again 1 s, 2 s ... 30 s
 * later, so events arrive in order; when the queue is full the oldest waiting event is dropped
 * and counted. The HTTP client (a SoupSession) lives in a thread of its own with its own
 * GMainContext: a receiver that hangs costs that thread a timeout and nothing else.
 *
 * Threads: post() and stats() from any thread; everything else in the webhook thread. */
#pragma once

#include "relayconfig.h"

#include <glib.h>

#include <memory>
#include <string>
#include <vector>

namespace camrelay {

struct WebhookStats
{
  std::string url; /* without credentials */
  guint queued = 0;
  guint64 delivered = 0;
  guint64 failed = 0; /* attempts that failed (each is tried again) */
  guint64 dropped = 0;
  std::string last_error;
};

class Webhooks
{
public:
  explicit Webhooks (const EventsConfig & config);
  ~Webhooks ();
  Webhooks (const Webhooks &) = delete;
  Webhooks & operator= (const Webhooks &) = delete;

  /* Queues @body (a JSON object) for every URL; @event names it in X-Camrelay-Event. */
  void post (const std::string & event, const std::string & body);
  std::vector<WebhookStats> stats () const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace camrelay
