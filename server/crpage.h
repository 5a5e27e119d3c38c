/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: PageRouteImpl, one registered plain page (status, metrics, viewer page). */
#pragma once

#include "crserver.h"

#include <memory>
#include <string>

namespace cr {

class ServerImpl;

class PageRouteImpl : public PageRoute
{
public:
  PageRouteImpl (std::shared_ptr<ServerImpl> server, PageSettings settings, PageHandler handler);
  ~PageRouteImpl () override;

  /* The largest body taken with @method; 0 = none. */
  gsize max_body (const char *method) const;

  std::shared_ptr<ServerImpl> server_;
  PageSettings settings_;
  PageHandler handler_;
};

}  // namespace cr
