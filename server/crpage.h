/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: PageRouteImpl, one registered plain page (status, metrics, viewer page). */
#pragma once

#include "crserver.h"

#include <memory>
#include <mutex>
#include <string>

namespace cr {

class ServerImpl;

/* Owned by the handle add_page returns and by the server's queue of route changes. */
class PageRouteImpl : public std::enable_shared_from_this<PageRouteImpl>
{
public:
  PageRouteImpl (PageSettings settings, PageHandler handler);

  /* The largest body taken with @method; 0 = none. */
  gsize max_body (const char *method) const;

  /* Server thread: runs the handler unless the page was removed. */
  void handle (SoupServerMessage *msg, const char *path, GHashTable *query);
  /* Any thread: the handler is not called any more once this returns (it waits for a call in
   * progress; a handler may remove its own page). */
  void silence ();

  PageSettings settings_;

private:
  std::recursive_mutex handler_lock_;
  PageHandler handler_; /* empty once silenced */
};

}  // namespace cr
