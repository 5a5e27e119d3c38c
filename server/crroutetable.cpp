/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the route table. Adding and removing camera, stream and page routes (from any
 * thread, applied in the server thread) and looking them up. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crserverimpl.h"

#include "cringest-private.h"
#include "crpage.h"
#include "crserver-private.h"

namespace cr {

namespace {

/* How long a queued route change waits for the next ones before the server thread applies them
 * (queue_route_change). */
constexpr gint64 ROUTE_BATCH_US = 2000;

/* What add_ingest hands out: removing the route is dropping it. */
class IngestHandle : public IngestRoute
{
public:
  IngestHandle (std::shared_ptr<ServerImpl> server, std::shared_ptr<IngestRouteImpl> route)
    : server_ (std::move (server)), route_ (std::move (route))
  {}
  ~IngestHandle () override { server_->remove_ingest (route_); }
  IngestStats stats () const override { return route_->stats (); }

private:
  std::shared_ptr<ServerImpl> server_;
  std::shared_ptr<IngestRouteImpl> route_;
};

/* What add_page hands out: removing the page is dropping it. */
class PageHandle : public PageRoute
{
public:
  PageHandle (std::shared_ptr<ServerImpl> server, std::shared_ptr<PageRouteImpl> page)
    : server_ (std::move (server)), page_ (std::move (page))
  {}
  ~PageHandle () override { server_->remove_page (page_); }

private:
  std::shared_ptr<ServerImpl> server_;
  std::shared_ptr<PageRouteImpl> page_;
};

std::vector<std::string>
stream_paths (const StreamSettings & settings)
{
  std::vector<std::string> paths{ settings.path };
  if (!settings.snapshot_path.empty ())
    paths.push_back (settings.snapshot_path);
  return paths;
}

}  // namespace

bool
ServerImpl::claim (std::map<std::string, const void *> & table,
    const std::vector<std::string> & paths, const void *owner, std::string *taken)
{
  std::lock_guard<std::mutex> lock (claims_lock_);
  for (const auto & path : paths) {
    if (table.count (path)) {
      *taken = path;
      return false;
    }
  }
  for (const auto & path : paths)
    table[path] = owner;
  return true;
}

void
ServerImpl::unclaim (std::map<std::string, const void *> & table,
    const std::vector<std::string> & paths, const void *owner)
{
  std::lock_guard<std::mutex> lock (claims_lock_);
  for (const auto & path : paths) {
    auto it = table.find (path);
    if (it != table.end () && it->second == owner)
      table.erase (it);
  }
}

void
ServerImpl::queue_route_change (RouteChange change)
{
  {
    std::lock_guard<std::mutex> lock (changes_lock_);
    changes_.push_back (std::move (change));
    /* The server thread is woken once per batch, not once per change: thousands come at once. */
    if (changes_.size () > 1)
      return;
  }
  /* Woken a moment later, so that the changes queued meanwhile join this batch: when thousands
   * of cameras stop (two changes each, from a few threads at once), the server thread emptied the
   * queue as fast as it filled and was woken for nearly every change (an eventfd write, the
   * caller preempted; 12% of the samples of a stop of 5,000 cameras in the server thread, 5%
   * with this). Nothing waits on it: a request, an invoke or a published frame applies the queue
   * first. Never later than a wake-up already due. */
  std::lock_guard<std::mutex> lock (pending_lock_);
  if (wake_ && g_source_get_ready_time (wake_) == -1)
    g_source_set_ready_time (wake_, g_get_monotonic_time () + ROUTE_BATCH_US);
}

void
ServerImpl::apply_route_changes ()
{
  std::vector<RouteChange> changes;
  {
    std::lock_guard<std::mutex> lock (changes_lock_);
    if (changes_.empty ())
      return;
    changes.swap (changes_);
  }
  for (auto & change : changes)
    apply_route_change (change);
}

void
ServerImpl::apply_route_change (RouteChange & change)
{
  switch (change.kind) {
    case RouteChange::Kind::ADD_INGEST:
      register_ingest (change.ingest.get ());
      break;
    case RouteChange::Kind::REMOVE_INGEST:
      change.ingest->detach ();
      break;
    case RouteChange::Kind::ADD_STREAM:
      attach_stream (*change.stream);
      break;
    case RouteChange::Kind::REMOVE_STREAM:
      detach_stream (change.stream, change.keep_viewers_ms);
      break;
    case RouteChange::Kind::ADD_PAGE:
      register_page (change.page.get ());
      break;
    case RouteChange::Kind::REMOVE_PAGE:
      unregister_page (change.page.get ());
      break;
  }
}

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
  auto route = std::make_shared<IngestRouteImpl> (*this, settings, listener, next_id ());
  std::string taken;
  if (!claim (ingest_claims_, settings.paths, route.get (), &taken)) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
        "another camera already uses the WebSocket path %s on port %u", taken.c_str (), port_);
    return nullptr;
  }
  queue_route_change ({ RouteChange::Kind::ADD_INGEST, route, nullptr, nullptr });
  return std::make_unique<IngestHandle> (shared_from_this (), std::move (route));
}

void
ServerImpl::remove_ingest (const std::shared_ptr<IngestRouteImpl> & route)
{
  route->silence ();
  unclaim (ingest_claims_, route->settings ().paths, route.get ());
  queue_route_change ({ RouteChange::Kind::REMOVE_INGEST, route, nullptr, nullptr });
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
  std::string taken;
  if (!claim (http_claims_, stream_paths (settings), stream.get (), &taken)) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
        "the path %s is already served on port %u", taken.c_str (), port_);
    return nullptr;
  }
  queue_route_change ({ RouteChange::Kind::ADD_STREAM, nullptr, stream, nullptr });
  return stream;
}

/* Server thread. */
void
ServerImpl::attach_stream (StreamImpl & stream)
{
  stream.attach ();
  /* Viewers of a stream removed from this path a moment ago carry on here. */
  auto parked = parked_.find (stream.settings ().path);
  if (parked != parked_.end ()) {
    Parked p = std::move (parked->second);
    parked_.erase (parked);
    if (p.timer) {
      g_source_destroy (p.timer);
      g_source_unref (p.timer);
    }
    stream.adopt_viewers (*p.stream);
    p.stream->detach ();
  }
}

void
ServerImpl::remove_stream (const std::shared_ptr<Stream> & stream, guint keep_viewers_ms)
{
  auto impl = std::static_pointer_cast<StreamImpl> (stream);
  impl->silence ();
  unclaim (http_claims_, stream_paths (impl->settings ()), impl.get ());
  queue_route_change (
      { RouteChange::Kind::REMOVE_STREAM, nullptr, impl, nullptr, keep_viewers_ms });
}

/* Server thread. */
void
ServerImpl::detach_stream (const std::shared_ptr<StreamImpl> & impl, guint keep_viewers_ms)
{
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
  /* Streams published to may have been added a moment ago. */
  static_cast<ServerImpl *> (self)->apply_route_changes ();
  static_cast<ServerImpl *> (self)->fan_out_pending ();
  return G_SOURCE_CONTINUE;
}

StreamImpl *
ServerImpl::stream_by_id (guint64 id) const
{
  auto it = streams_.find (id);
  return it == streams_.end () ? nullptr : it->second;
}

PageRouteImpl::PageRouteImpl (PageSettings settings, PageHandler handler)
  : settings_ (std::move (settings)), handler_ (std::move (handler))
{}

void
PageRouteImpl::handle (SoupServerMessage *msg, const char *path, GHashTable *query)
{
  /* The handler may remove its own page: the queued removal and this keep it alive meanwhile. */
  auto self = shared_from_this ();
  std::lock_guard<std::recursive_mutex> lock (handler_lock_);
  if (handler_)
    handler_ (msg, path, query);
}

void
PageRouteImpl::silence ()
{
  std::lock_guard<std::recursive_mutex> lock (handler_lock_);
  handler_ = nullptr;
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
  auto page = std::make_shared<PageRouteImpl> (settings, std::move (handler));
  std::string taken;
  if (!claim (http_claims_, { path }, page.get (), &taken)) {
    g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_ROUTE_TAKEN,
        "the path %s is already served on port %u", path.c_str (), port_);
    return nullptr;
  }
  queue_route_change ({ RouteChange::Kind::ADD_PAGE, nullptr, nullptr, page });
  return std::make_unique<PageHandle> (shared_from_this (), std::move (page));
}

void
ServerImpl::remove_page (const std::shared_ptr<PageRouteImpl> & page)
{
  page->silence ();
  unclaim (http_claims_, { page->settings_.path }, page.get ());
  queue_route_change ({ RouteChange::Kind::REMOVE_PAGE, nullptr, nullptr, page });
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
