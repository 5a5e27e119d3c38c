/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: access control. HTTP Basic for viewers (with paths left open to loopback
 * clients), a Bearer secret for cameras, compared in constant time. */
#include "crauth.h"

#include "crhttp.h"

#include <cstring>

namespace cr {

static bool
constant_time_equal (const std::string & a, const std::string & b)
{
  /* Compare digests so that the time taken depends on neither length nor content. */
  guint8 da[32], db[32];
  gsize la = sizeof (da), lb = sizeof (db);
  g_autoptr (GChecksum) ca = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GChecksum) cb = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ca, reinterpret_cast<const guchar *> (a.data ()), a.size ());
  g_checksum_update (cb, reinterpret_cast<const guchar *> (b.data ()), b.size ());
  g_checksum_get_digest (ca, da, &la);
  g_checksum_get_digest (cb, db, &lb);
  guint8 diff = 0;
  for (gsize i = 0; i < sizeof (da); i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}

bool
secrets_equal (const std::string & a, const std::string & b)
{
  return constant_time_equal (a, b);
}

bool
camera_authorized (SoupServerMessage *msg, GHashTable *query, const std::string & secret)
{
  if (secret.empty ())
    return true;
  const char *auth =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0) {
    g_autofree gchar *token = g_strstrip (g_strdup (auth + 7));
    if (secrets_equal (token, secret))
      return true;
  }
  /* Firmware that cannot set headers passes it in the URL. */
  if (query) {
    auto *token = static_cast<const char *> (g_hash_table_lookup (query, "token"));
    if (token && secrets_equal (token, secret))
      return true;
  }
  return false;
}

bool
viewer_authorized (SoupServerMessage *msg, const char *path, const ServerOptions & options)
{
  if (options.viewer_user.empty () && options.viewer_password.empty ())
    return true;
  for (const auto & open : options.open_on_loopback) {
    if (open == path && is_loopback_peer (msg))
      return true;
  }
  const char *auth =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  if (auth && g_ascii_strncasecmp (auth, "Basic ", 6) == 0) {
    gsize len = 0;
    g_autofree guchar *decoded = g_base64_decode (auth + 6, &len);
    std::string given (reinterpret_cast<const char *> (decoded), len);
    std::string expected = options.viewer_user + ":" + options.viewer_password;
    if (constant_time_equal (given, expected))
      return true;
  }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
      "Basic realm=\"camrelay\", charset=\"UTF-8\"");
  set_plain_response (msg, SOUP_STATUS_UNAUTHORIZED, "authentication required");
  return false;
}

bool
is_loopback_peer (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return false;
  GInetAddress *addr = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  if (g_inet_address_get_is_loopback (addr))
    return true;
  /* ::ffff:127.0.0.1 from a dual-stack listener */
  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *b = g_inet_address_to_bytes (addr);
    static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp (b, prefix, 12) == 0 && b[12] == 127;
  }
  return false;
}

}  // namespace cr
