/* camrelay: the listening side that wsjpegsrc and mjpeghttpsink share: where to listen (address
 * and port properties), the port actually bound, and acquiring the shared server. */
#pragma once

#include "crserver.h"

#include <gst/gst.h>

#include <memory>
#include <string>

namespace cr {

/* Both elements number these properties first, so one implementation serves both. */
enum ListenProperty
{
  LISTEN_PROP_ADDRESS = 1,
  LISTEN_PROP_PORT,
  LISTEN_PROP_BOUND_PORT,
  LISTEN_PROP_LAST
};

struct ListenSettings
{
  std::string address = "0.0.0.0";
  guint port = 3001;
};

void listen_install_properties (GObjectClass * klass);

/* True if @prop_id is a listen property; then it was handled. Call with the element's lock held. */
bool listen_set_property (ListenSettings & settings, guint prop_id, const GValue * value);
bool listen_get_property (const ListenSettings & settings, const Server * server,
    guint prop_id, GValue * value);

/* The server for @settings, or nullptr after posting an error that says who (@purpose, e.g.
 * "cameras") could not listen where. */
std::shared_ptr<Server> listen_acquire (GstElement * element, const ListenSettings & settings,
    const char *purpose);

}  // namespace cr
