/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the process-wide registry of servers (Server::acquire lives in crregistry.cpp).
 */
#pragma once

namespace cr {

class ServerImpl;

/* Called by a dying server once its socket is closed: a new server may bind the port now. */
void registry_forget (const ServerImpl & server);

}  // namespace cr
