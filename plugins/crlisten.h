/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the listening side that wsjpegsrc and mjpeghttpsink share: where to listen (address
 * and port properties), the shared server's settings (TLS, viewer credentials, request timeout) as
 * properties, the port actually bound, and holding the shared server from READY to NULL. */
#pragma once

#include "crserver.h"

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace cr {

/* Both elements number these properties first, so one implementation serves both. */
enum ListenProperty
{
  LISTEN_PROP_ADDRESS = 1,
  LISTEN_PROP_PORT,
  LISTEN_PROP_BOUND_PORT,
  LISTEN_PROP_TLS_CERTIFICATE,
  LISTEN_PROP_TLS_KEY,
  LISTEN_PROP_VIEWER_USER,
  LISTEN_PROP_VIEWER_PASSWORD,
  LISTEN_PROP_OPEN_ON_LOOPBACK,
  LISTEN_PROP_REQUEST_TIMEOUT,
  LISTEN_PROP_LAST
};

struct ListenSettings
{
  std::string address = "0.0.0.0";
  guint port = 3001;
  /* Every element on one address and port must carry the same options: the server they share
   * refuses an element whose options differ from its own. */
  ServerOptions options;
};

void listen_install_properties (GObjectClass *klass);

/* The server for @settings, or nullptr after posting an error that says who (@purpose, e.g.
 * "cameras") could not listen where, and why (e.g. which option differs from the server's). */
std::shared_ptr<Server> listen_acquire (GstElement *element, const ListenSettings & settings,
    const char *purpose);

/* One element's listening side: its listen settings and, from NULL→READY to READY→NULL, the
 * shared server. Safe from any thread. Its lock is never held while calling out, so it nests
 * with no other lock. */
class Listener
{
public:
  /* True if @prop_id is a listen property; then it was handled. */
  bool set_property (guint prop_id, const GValue *value);
  bool get_property (guint prop_id, GValue *value) const;

  /* The lifecycle both elements share, for their change_state: the server is held from
   * NULL→READY (acquired for @purpose, e.g. "cameras") to READY→NULL, and the element's own route
   * on it from READY→PAUSED (@start; false = failure, after posting an error) to PAUSED→READY
   * (@stop), around @parent_class's change_state. */
  GstStateChangeReturn change_state (GstElement *element, GstStateChange transition,
      GstElementClass *parent_class, const char *purpose, const std::function<bool ()> & start,
      const std::function<void ()> & stop);

  /* NULL→READY: acquires the server, or posts the error and returns false. */
  bool open (GstElement *element, const char *purpose);
  /* READY→NULL: lets the server go (the last element to do so closes the port). Waits for the
   * server thread then, so call it with no lock held that a server callback takes. */
  void close ();

  std::shared_ptr<Server> server () const;

private:
  mutable std::mutex lock_;
  ListenSettings settings_;
  std::shared_ptr<Server> server_;
};

}  // namespace cr
