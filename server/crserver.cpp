/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the free functions of the public API (crserver.h). */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserver.h"

namespace cr {

GQuark
server_error_quark ()
{
  return g_quark_from_static_string ("camrelay-server-error");
}

std::vector<std::string>
split_list (const std::string & text)
{
  std::vector<std::string> out;
  g_auto (GStrv) parts = g_strsplit_set (text.c_str (), ",;", -1);
  for (gchar **p = parts; *p; p++) {
    g_strstrip (*p);
    if (**p)
      out.emplace_back (*p);
  }
  return out;
}

std::string
format_address (GSocketAddress *address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return "unknown";
  auto *inet = G_INET_SOCKET_ADDRESS (address);
  g_autofree gchar *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  guint16 port = g_inet_socket_address_get_port (inet);
  if (g_inet_address_get_family (g_inet_socket_address_get_address (inet)) == G_SOCKET_FAMILY_IPV6)
    return std::string ("[") + host + "]:" + std::to_string (port);
  return std::string (host) + ":" + std::to_string (port);
}

}  // namespace cr
