/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the one libsoup handler. Every request comes here and is dispatched by exact
 * path to a camera, stream, snapshot or page route, after the viewer check. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "crauth.h"
#include "crhttp.h"
#include "cringest-private.h"
#include "crpage.h"
#include "crserver-private.h"

namespace cr {

static bool
header_has_token (SoupMessageHeaders *headers, const char *name, const char *token)
{
  const char *value = soup_message_headers_get_list (headers, name);
  return value && soup_header_contains (value, token);
}

static bool
is_websocket_upgrade (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *upgrade = soup_message_headers_get_one (h, "Upgrade");
  return upgrade && g_ascii_strcasecmp (upgrade, "websocket") == 0 &&
      header_has_token (h, "Connection", "upgrade");
}

std::vector<std::string>
ServerImpl::methods_at (const std::string & path) const
{
  auto page = pages_.find (path);
  if (page != pages_.end ())
    return page->second->settings_.methods;
  if (stream_paths_.count (path) || snapshot_paths_.count (path))
    return { "GET", "HEAD" };
  if (ingest_paths_.count (path))
    return { "GET" }; /* the WebSocket upgrade */
  auto subtree = find_page (path);
  if (subtree != pages_.end ())
    return subtree->second->settings_.methods;
  return {};
}

bool
ServerImpl::method_allowed (SoupServerMessage *msg, const std::string & path) const
{
  std::vector<std::string> methods = methods_at (path);
  const char *method = soup_server_message_get_method (msg);
  for (const auto & m : methods)
    if (m == method)
      return true;
  std::string allow;
  for (const auto & m : methods)
    allow += (allow.empty () ? "" : ", ") + m;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
      allow.c_str ());
  std::string text = "allowed here: " + allow;
  set_plain_response (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, text.c_str ());
  return false;
}

void
ServerImpl::on_request (SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
    gpointer self)
{
  static_cast<ServerImpl *> (self)->route (msg, path, query);
}

void
ServerImpl::route (SoupServerMessage *msg, const char *path, GHashTable *query)
{
  apply_route_changes ();
  std::string p (path ? path : "/");

  if (is_websocket_upgrade (msg)) {
    auto it = ingest_paths_.find (p);
    if (it == ingest_paths_.end ()) {
      close_after_response (msg);
      set_plain_response (msg, SOUP_STATUS_NOT_FOUND, "no camera endpoint at this path");
      return;
    }
    it->second->handle_upgrade (msg, path, query);
    return;
  }

  auto stream = stream_paths_.find (p);
  auto snapshot = snapshot_paths_.find (p);
  auto page = find_page (p);
  bool served =
      stream != stream_paths_.end () || snapshot != snapshot_paths_.end () || page != pages_.end ();

  if (!served) {
    if (ingest_paths_.count (p)) {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Upgrade",
          "websocket");
      set_plain_response (msg, 426, "this is a camera endpoint: connect with a WebSocket");
      return;
    }
    set_plain_response (msg, SOUP_STATUS_NOT_FOUND, "not found");
    return;
  }
  if (!method_allowed (msg, p))
    return;
  bool open_preflight = stream == stream_paths_.end () && snapshot == snapshot_paths_.end () &&
      page->second->settings_.open_options && method_is (msg, "OPTIONS");
  if (!open_preflight && !viewer_authorized (msg, path, options_))
    return;

  if (stream != stream_paths_.end ())
    stream->second->handle_stream (msg, query);
  else if (snapshot != snapshot_paths_.end ())
    snapshot->second->handle_snapshot (msg);
  else {
    page->second->handle (msg, path, query);
  }
}

}  // namespace cr
