/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /status, /metrics and /view as routes of the server; their bodies are
 * written by statusjson.cpp, metricstext.cpp and viewpage.cpp. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"

#include "webrtcviewers.h"

#include <algorithm>

namespace camrelay {

namespace {

/* "http://host:port" as the client reached us, from the request's Host. */
void
request_bases (SoupServerMessage *msg, bool tls, std::string & http, std::string & ws)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *host = uri ? g_uri_get_host (uri) : nullptr;
  gint port = uri ? g_uri_get_port (uri) : -1;
  std::string h = host ? host : "localhost";
  if (h.find (':') != std::string::npos && h[0] != '[')
    h = "[" + h + "]";
  if (port > 0)
    h += ":" + std::to_string (port);
  http = std::string (tls ? "https://" : "http://") + h;
  ws = std::string (tls ? "wss://" : "ws://") + h;
}

void
respond (SoupServerMessage *msg, const char *content_type, const std::string & body)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, body.data (),
      body.size ());
}

/* @body (transfer full) sent as it is: megabytes at thousands of cameras, not copied again. */
void
respond (SoupServerMessage *msg, const char *content_type, GBytes *body)
{
  g_autoptr (GBytes) owned = body;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_STATIC, nullptr, 0);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), owned);
}

std::vector<CameraStatus>
collect (const PageContext & ctx)
{
  std::vector<CameraStatus> out;
  out.reserve (ctx.cameras.size ());
  for (const Camera *c : ctx.cameras) {
    out.push_back (c->status ());
    if (ctx.webrtc)
      out.back ().webrtc = ctx.webrtc->stats (c);
  }
  return out;
}

void
page_status (const PageContext & ctx, SoupServerMessage *msg, bool tls)
{
  std::string http, ws;
  request_bases (msg, tls, http, ws);
  respond (msg, "application/json", status_json (ctx, collect (ctx), http, ws));
}

}  // namespace

/* ---------------------------------------------------------------------------------------------- */

std::unique_ptr<Pages>
Pages::create (cr::Server & server, const PageContext & ctx, GError **error)
{
  std::unique_ptr<Pages> pages (new Pages ());
  bool tls = server.tls ();
  const PageContext *c = &ctx;

  auto add = [&] (const char *path, cr::PageHandler handler) {
    auto route = server.add_page (path, std::move (handler), error);
    if (!route)
      return false;
    pages->routes_.push_back (std::move (route));
    return true;
  };

  bool ok = add ("/status",
                [c, tls] (SoupServerMessage *msg, const char *, GHashTable *) {
                  page_status (*c, msg, tls);
                }) &&
      add ("/metrics",
          [c] (SoupServerMessage *msg, const char *, GHashTable *) {
            respond (msg, "text/plain; version=0.0.4; charset=utf-8",
                metrics_text (*c, collect (*c)));
          }) &&
      add ("/view", [c] (SoupServerMessage *msg, const char *, GHashTable *query) {
        const char *only =
            query ? static_cast<const char *> (g_hash_table_lookup (query, "camera")) : nullptr;
        std::vector<CameraStatus> cameras = collect (*c);
        if (only &&
            std::none_of (cameras.begin (), cameras.end (),
                [only] (const CameraStatus & st) { return st.name == only; })) {
          soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
          soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC,
              "no such camera\n", 15);
          return;
        }
        respond (msg, "text/html; charset=utf-8", view_html (cameras, only ? only : ""));
      });
  if (!ok)
    return nullptr;
  return pages;
}

Pages::~Pages () = default;

}  // namespace camrelay
