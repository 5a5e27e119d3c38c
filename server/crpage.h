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
  PageRouteImpl (std::shared_ptr<ServerImpl> server, std::string path, PageHandler handler);
  ~PageRouteImpl () override;

  std::shared_ptr<ServerImpl> server_;
  std::string path_;
  PageHandler handler_;
};

}  // namespace cr
