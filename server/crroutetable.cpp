/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the route table. Adding and removing camera, stream and page routes (from any
 * thread, applied in the server thread) and looking them up. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "cringest-private.h"
#include "crpage.h"
#include "crserver-private.h"

namespace cr {

std::unique_ptr<IngestRoute>
ServerImpl::add_ingest (const IngestSettings & settings, IngestListener *listener, GError **error)
{
  if (settings.paths.empty ()) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID, "no ingest path given");
    return nullptr;
  }
  for (const auto & path : settings.paths) {
    if (path.empty () || path[0] != '/') {
      g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
          "ingest path \"%s\" must start with /", path.c_str ());
      return nullptr;
    }
  }
  auto route =
      std::make_unique<IngestRouteImpl> (shared_from_this (), settings, listener, next_id ());
  bool ok = true;
  invoke_sync ([&] {
    for (const auto & path : settings.paths) {
      if (ingest_paths_.count (path)) {
        g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
            "another camera already uses the WebSocket path %s on port %u", path.c_str (), port_);
        ok = false;
        return;
      }
    }
    register_ingest (route.get ());
  });
  if (!ok)
    return nullptr;
  return route;
}

void
ServerImpl::register_ingest (IngestRouteImpl *route)
{
  for (const auto & path : route->settings ().paths)
    ingest_paths_[path] = route;
  ingests_[route->id ()] = route;
}

/* By key, not by walking the table: thousands of cameras stop at once. */
void
ServerImpl::unregister_ingest (IngestRouteImpl *route)
{
  for (const auto & path : route->settings ().paths) {
    auto it = ingest_paths_.find (path);
    if (it != ingest_paths_.end () && it->second == route)
      ingest_paths_.erase (it);
  }
  ingests_.erase (route->id ());
}

IngestRouteImpl *
ServerImpl::ingest_by_id (guint64 id) const
{
  auto it = ingests_.find (id);
  return it == ingests_.end () ? nullptr : it->second;
}

std::shared_ptr<Stream>
ServerImpl::add_stream (const StreamSettings & settings, GError **error)
{
  if (settings.path.empty () || settings.path[0] != '/' ||
      (!settings.snapshot_path.empty () && settings.snapshot_path[0] != '/')) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "stream and snapshot paths must start with /");
    return nullptr;
  }
  if (settings.path == settings.snapshot_path) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "the stream and its snapshot cannot share the path %s", settings.path.c_str ());
    return nullptr;
  }
  auto stream = std::make_shared<StreamImpl> (shared_from_this (), settings, next_id ());
  bool ok = true;
  invoke_sync ([&] {
    for (const auto & path : { settings.path, settings.snapshot_path }) {
      if (path.empty ())
        continue;
      if (stream_paths_.count (path) || snapshot_paths_.count (path) || pages_.count (path)) {
        g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
            "the path %s is already served on port %u", path.c_str (), port_);
        ok = false;
        return;
      }
    }
    stream->attach ();
    /* Viewers of a stream removed from this path a moment ago carry on here. */
    auto parked = parked_.find (settings.path);
    if (parked != parked_.end ()) {
      Parked p = std::move (parked->second);
      parked_.erase (parked);
      if (p.timer) {
        g_source_destroy (p.timer);
        g_source_unref (p.timer);
      }
      stream->adopt_viewers (*p.stream);
      p.stream->detach ();
    }
  });
  if (!ok)
    return nullptr;
  return stream;
}

void
ServerImpl::remove_stream (const std::shared_ptr<Stream> & stream, guint keep_viewers_ms)
{
  auto impl = std::static_pointer_cast<StreamImpl> (stream);
  invoke_sync ([&] {
    if (keep_viewers_ms == 0 || !impl->park ()) {
      impl->detach ();
      return;
    }
    /* One stream waits per path: an older one's viewers get their end now. */
    const std::string & path = impl->settings ().path;
    end_parking (path);
    Parked & p = parked_[path];
    p.stream = impl;
    p.timer = g_timeout_source_new (keep_viewers_ms);
    struct Wait
    {
      ServerImpl *self;
      std::string path;
    };
    g_source_set_callback (
        p.timer,
        [] (gpointer data) -> gboolean {
          /* The server is alive: the parked stream holds a reference to it. */
          auto *w = static_cast<Wait *> (data);
          auto it = w->self->parked_.find (w->path);
          if (it != w->self->parked_.end ()) {
            g_clear_pointer (&it->second.timer, g_source_unref);
            w->self->end_parking (w->path);
          }
          return G_SOURCE_REMOVE;
        },
        new Wait{ this, path }, [] (gpointer data) { delete static_cast<Wait *> (data); });
    g_source_attach (p.timer, context_);
  });
}

/* Server thread: the viewers parked on @path (if any) get the end of their responses. */
void
ServerImpl::end_parking (const std::string & path)
{
  auto it = parked_.find (path);
  if (it == parked_.end ())
    return;
  Parked p = std::move (it->second);
  parked_.erase (it);
  if (p.timer) {
    g_source_destroy (p.timer);
    g_source_unref (p.timer);
  }
  p.stream->detach ();
}

void
ServerImpl::register_stream (StreamImpl *stream)
{
  stream_paths_[stream->settings ().path] = stream;
  if (!stream->settings ().snapshot_path.empty ())
    snapshot_paths_[stream->settings ().snapshot_path] = stream;
  streams_[stream->id ()] = stream;
}

void
ServerImpl::unregister_stream (StreamImpl *stream)
{
  auto drop = [stream] (std::map<std::string, StreamImpl *> & m, const std::string & path) {
    auto it = m.find (path);
    if (it != m.end () && it->second == stream)
      m.erase (it);
  };
  drop (stream_paths_, stream->settings ().path);
  drop (snapshot_paths_, stream->settings ().snapshot_path);
  streams_.erase (stream->id ());
}

void
ServerImpl::fan_out_pending ()
{
  std::vector<guint64> ids;
  {
    std::lock_guard<std::mutex> lock (pending_lock_);
    ids.swap (pending_streams_);
  }
  for (guint64 id : ids) {
    auto it = streams_.find (id);
    if (it != streams_.end ())
      it->second->fan_out_pending ();
  }
}

void
ServerImpl::mark_pending (guint64 id)
{
  std::lock_guard<std::mutex> lock (pending_lock_);
  pending_streams_.push_back (id);
  if (pending_streams_.size () == 1 && wake_)
    g_source_set_ready_time (wake_, 0);
}

gboolean
ServerImpl::on_wake (gpointer self)
{
  static_cast<ServerImpl *> (self)->fan_out_pending ();
  return G_SOURCE_CONTINUE;
}

StreamImpl *
ServerImpl::stream_by_id (guint64 id) const
{
  auto it = streams_.find (id);
  return it == streams_.end () ? nullptr : it->second;
}

PageRouteImpl::PageRouteImpl (std::shared_ptr<ServerImpl> server, PageSettings settings,
    PageHandler handler)
  : server_ (std::move (server)), settings_ (std::move (settings)), handler_ (std::move (handler))
{}

PageRouteImpl::~PageRouteImpl ()
{
  server_->invoke_sync ([this] { server_->unregister_page (this); });
}

gsize
PageRouteImpl::max_body (const char *method) const
{
  if (!g_strcmp0 (method, "GET") || !g_strcmp0 (method, "HEAD"))
    return 0;
  for (const auto & m : settings_.methods)
    if (m == method)
      return settings_.max_body;
  return 0;
}

std::unique_ptr<PageRoute>
ServerImpl::add_page (const PageSettings & settings, PageHandler handler, GError **error)
{
  const std::string & path = settings.path;
  if (path.empty () || path[0] != '/') {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID, "page path \"%s\" must start with /",
        path.c_str ());
    return nullptr;
  }
  if (settings.methods.empty ()) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID, "page %s answers no method",
        path.c_str ());
    return nullptr;
  }
  if (settings.max_body > MAX_REQUEST_BODY) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_INVALID,
        "page %s: a request body may be at most %" G_GSIZE_FORMAT " bytes, not %" G_GSIZE_FORMAT,
        path.c_str (), MAX_REQUEST_BODY, settings.max_body);
    return nullptr;
  }
  auto page = std::make_unique<PageRouteImpl> (shared_from_this (), settings, std::move (handler));
  bool ok = true;
  invoke_sync ([&] {
    if (stream_paths_.count (path) || snapshot_paths_.count (path) || pages_.count (path)) {
      g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
          "the path %s is already served on port %u", path.c_str (), port_);
      ok = false;
      return;
    }
    register_page (page.get ());
  });
  if (!ok) {
    page->settings_.path.clear ();
    return nullptr;
  }
  return page;
}

std::map<std::string, PageRouteImpl *>::const_iterator
ServerImpl::find_page (const std::string & path) const
{
  auto exact = pages_.find (path);
  if (exact != pages_.end ())
    return exact;
  /* A page path ending in "/" serves its subtree: the longest such prefix of @path wins. */
  for (std::string::size_type slash = path.rfind ('/'); slash != std::string::npos && slash > 0;
       slash = path.rfind ('/', slash - 1)) {
    auto it = pages_.find (path.substr (0, slash + 1));
    if (it != pages_.end ())
      return it;
  }
  return pages_.end ();
}

void
ServerImpl::register_page (PageRouteImpl *page)
{
  pages_[page->settings_.path] = page;
}

void
ServerImpl::unregister_page (PageRouteImpl *page)
{
  auto it = pages_.find (page->settings_.path);
  if (it != pages_.end () && it->second == page)
    pages_.erase (it);
}

}  // namespace cr
