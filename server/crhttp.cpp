/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: small helpers for libsoup responses shared by every route. */
#include "crhttp.h"

#include <cstring>

namespace cr {

void
set_plain_response (SoupServerMessage *msg, guint status, const char *text)
{
  soup_server_message_set_status (msg, status, nullptr);
  g_autofree gchar *body = g_strdup_printf ("%s\n", text);
  gsize len = strlen (body);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE,
      static_cast<const char *> (g_steal_pointer (&body)), len);
}

void
close_after_response (SoupServerMessage *msg)
{
  /* A refused WebSocket client (firmware, python-websockets) waits for the connection to end
   * rather than for the next response; end it. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
      "close");
}

bool
method_is (SoupServerMessage *msg, const char *method)
{
  return g_strcmp0 (soup_server_message_get_method (msg), method) == 0;
}

}  // namespace cr
