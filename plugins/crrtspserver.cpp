/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the process-wide RTSP servers, one per address and port (see crrtspserver.h). */
#include "crrtspserver.h"

#include "crh264feed.h"

#include <gst/app/gstappsrc.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <map>
#include <mutex>
#include <vector>

GST_DEBUG_CATEGORY_EXTERN (cr_h264_relay_sink_debug);
#define GST_CAT_DEFAULT cr_h264_relay_sink_debug

namespace cr::rtsp {

namespace {

/* What waits for the payloader at most: a stalled media pipeline drops the oldest (and the
 * viewers' decoders recover at the next key frame) instead of growing without bound. */
const guint64 MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/* The media pipeline of a mount: the feed's access units, payloaded as they come. */
const char *const MEDIA_LAUNCH =
    "( appsrc name=feed is-live=true format=time do-timestamp=true leaky-type=downstream ! "
    "rtph264pay name=pay0 pt=96 config-interval=-1 aggregate-mode=zero-latency )";

/* One feed subscription: the access units go into one media's appsrc. */
struct FeedTarget
{
  GstElement *appsrc = nullptr;
  GstCaps *caps = nullptr; /* what appsrc was given; only the encoder's thread touches it */

  ~FeedTarget ()
  {
    gst_clear_caps (&caps);
    gst_clear_object (&appsrc);
  }
};

void
push_access_unit (GstBuffer *au, GstCaps *caps, gpointer user_data)
{
  auto *target = static_cast<FeedTarget *> (user_data);
  if (!target->caps || !gst_caps_is_equal (caps, target->caps)) {
    gst_app_src_set_caps (GST_APP_SRC (target->appsrc), caps);
    gst_caps_replace (&target->caps, caps);
  }
  /* The same memory under new times: the media pipeline's running time, stamped by appsrc. */
  GstBuffer *buf = gst_buffer_copy_region (au,
      static_cast<GstBufferCopyFlags> (GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_MEMORY), 0,
      static_cast<gsize> (-1));
  GST_BUFFER_PTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  gst_app_src_push_buffer (GST_APP_SRC (target->appsrc), buf);
}

/* One mounted h264relaysink. */
struct Mount
{
  std::mutex lock;                      /* guards the two below */
  GstElement *sink = nullptr;           /* a reference while mounted; nullptr after */
  std::map<GstRTSPMedia *, guint> subs; /* feed subscription of each live media */
  std::string path;
  /* Its media factory is in gst-rtsp-server's mount points (ServerImpl::lock_). */
  bool in_mount_points = false;

  /* Takes the sink (a new reference), or nullptr once unmounted. */
  GstElement *ref_sink ()
  {
    std::lock_guard<std::mutex> guard (lock);
    return sink ? GST_ELEMENT (gst_object_ref (sink)) : nullptr;
  }
};

using MountPtr = std::shared_ptr<Mount>;

/* For signal handlers: a heap copy of the shared pointer, freed with the handler. */
void
free_mount_ref (gpointer data, GClosure *)
{
  delete static_cast<MountPtr *> (data);
}

/* The media is gone (its last viewer left): the feed may stop. */
void
on_media_unprepared (GstRTSPMedia *media, gpointer user_data)
{
  MountPtr & mount = *static_cast<MountPtr *> (user_data);
  GstElement *sink = nullptr;
  guint id = 0;
  {
    std::lock_guard<std::mutex> guard (mount->lock);
    auto it = mount->subs.find (media);
    if (it == mount->subs.end ())
      return;
    id = it->second;
    mount->subs.erase (it);
    if (mount->sink)
      sink = GST_ELEMENT (gst_object_ref (mount->sink));
  }
  GST_DEBUG ("%s: media unprepared, feed %u let go", mount->path.c_str (), id);
  if (sink) {
    cr_h264_feed_unsubscribe (sink, id);
    gst_object_unref (sink);
  }
}

/* A new shared media for the mount (the first viewer's DESCRIBE): it subscribes to the feed,
 * which starts the encoder and gives it the newest picture at once, so the media's caps (and
 * the SDP's sprop-parameter-sets) are known within one encode. */
void
on_media_configure (GstRTSPMediaFactory *, GstRTSPMedia *media, gpointer user_data)
{
  MountPtr & mount = *static_cast<MountPtr *> (user_data);
  g_autoptr (GstElement) bin = gst_rtsp_media_get_element (media);
  auto *target = new FeedTarget ();
  target->appsrc = gst_bin_get_by_name_recurse_up (GST_BIN (bin), "feed");
  g_object_set (target->appsrc, "max-bytes", MAX_QUEUED_BYTES, nullptr);
  std::lock_guard<std::mutex> guard (mount->lock);
  if (!mount->sink) {
    delete target;
    return;
  }
  guint id = cr_h264_feed_subscribe (mount->sink, "rtsp", push_access_unit, target,
      [] (gpointer data) { delete static_cast<FeedTarget *> (data); });
  mount->subs[media] = id;
  g_signal_connect_data (media, "unprepared", G_CALLBACK (on_media_unprepared),
      new MountPtr (mount), free_mount_ref, static_cast<GConnectFlags> (0));
  GST_DEBUG ("%s: new media, feed %u", mount->path.c_str (), id);
}

class ServerImpl;

/* gst-rtsp-server's mount points, which hear of a mount only when a viewer asks for it:
 * gst_rtsp_mount_points_add_factory() and _remove_factory() sort the whole table each time, so
 * five thousand cameras mounted up front cost minutes of start and stop (docs/PERFORMANCE.md,
 * "Threads and 5,000 idle cameras"). make_path() runs before every lookup of a request's path. */
struct CrRtspMountPoints
{
  GstRTSPMountPoints parent;
  ServerImpl *owner; /* outlives the RTSP thread, the only caller of make_path() */
};

struct CrRtspMountPointsClass
{
  GstRTSPMountPointsClass parent_class;
};

GType cr_rtsp_mount_points_get_type ();
G_DEFINE_TYPE (CrRtspMountPoints, cr_rtsp_mount_points, GST_TYPE_RTSP_MOUNT_POINTS)

gchar *cr_rtsp_mount_points_make_path (GstRTSPMountPoints *mounts, const GstRTSPUrl *url);

void
cr_rtsp_mount_points_class_init (CrRtspMountPointsClass *klass)
{
  GST_RTSP_MOUNT_POINTS_CLASS (klass)->make_path = cr_rtsp_mount_points_make_path;
}

void
cr_rtsp_mount_points_init (CrRtspMountPoints *)
{}

std::mutex registry_mutex;
std::map<std::pair<std::string, guint>, std::weak_ptr<ServerImpl>> registry;

class ServerImpl final : public Server
{
public:
  ServerImpl (const ServerSettings & settings) : settings_ (settings) {}
  ~ServerImpl () override;

  bool start (std::string & error);
  bool mount (const std::string & path, GstElement *sink, std::string & error) override;
  void unmount (const std::string & path) override;
  guint viewers (const std::string & path) override;
  guint bound_port () const override { return bound_port_; }

  const ServerSettings & settings () const { return settings_; }

private:
  static gpointer run (gpointer data);
  static void on_client_connected (GstRTSPServer *, GstRTSPClient *client, gpointer data);
  static void on_play_request (GstRTSPClient *client, GstRTSPContext *ctx, gpointer data);
  static void on_client_gone (GstRTSPClient *client, gpointer data);
  static void on_client_closed (GstRTSPClient *client, gpointer data);
  static void on_teardown_request (GstRTSPClient *client, GstRTSPContext *, gpointer data);
  MountPtr mount_for (const char *uri_path);

public:
  /* RTSP thread: the mount @uri_path asks for gets its factory, if it has none yet. */
  void add_factory_for (const char *uri_path);

private:
  /* Under lock_. */
  MountPtr mount_for_locked (const std::string & path);
  void add_factory (const MountPtr & mount);

  ServerSettings settings_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  GThread *thread_ = nullptr;
  GstRTSPServer *server_ = nullptr;
  GSource *source_ = nullptr;
  guint bound_port_ = 0;

  std::mutex lock_; /* guards the two below; never held while calling an h264relaysink */
  std::map<std::string, MountPtr> mounts_;
  std::map<GstRTSPClient *, std::string> playing_; /* viewer → mount path */
};

gpointer
ServerImpl::run (gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  g_main_context_push_thread_default (self->context_);
  g_main_loop_run (self->loop_);
  g_main_context_pop_thread_default (self->context_);
  return nullptr;
}

bool
ServerImpl::start (std::string & error)
{
  server_ = gst_rtsp_server_new ();
  auto *mount_points =
      static_cast<CrRtspMountPoints *> (g_object_new (cr_rtsp_mount_points_get_type (), nullptr));
  mount_points->owner = this;
  gst_rtsp_server_set_mount_points (server_, GST_RTSP_MOUNT_POINTS (mount_points));
  g_object_unref (mount_points);
  gst_rtsp_server_set_address (server_, settings_.address.c_str ());
  g_autofree gchar *service = g_strdup_printf ("%u", settings_.port);
  gst_rtsp_server_set_service (server_, service);
  /* Enough for a burst of viewers connecting at once. */
  gst_rtsp_server_set_backlog (server_, 256);
  if (!settings_.viewer_user.empty ()) {
    g_autoptr (GstRTSPAuth) auth = gst_rtsp_auth_new ();
    g_autoptr (GstRTSPToken) token =
        gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", nullptr);
    g_autofree gchar *basic = gst_rtsp_auth_make_basic (settings_.viewer_user.c_str (),
        settings_.viewer_password.c_str ());
    gst_rtsp_auth_add_basic (auth, basic, token);
    gst_rtsp_server_set_auth (server_, auth);
  }
  g_signal_connect (server_, "client-connected", G_CALLBACK (on_client_connected), this);

  g_autoptr (GError) err = nullptr;
  source_ = gst_rtsp_server_create_source (server_, nullptr, &err);
  if (!source_) {
    error = std::string ("cannot listen for RTSP on ") + settings_.address + ":" +
        std::to_string (settings_.port) + ": " + (err ? err->message : "unknown error");
    return false;
  }
  bound_port_ = static_cast<guint> (gst_rtsp_server_get_bound_port (server_));
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);
  g_source_attach (source_, context_);
  thread_ = g_thread_new ("camrelay-rtsp", run, this);
  GST_INFO ("RTSP server on %s:%u", settings_.address.c_str (), bound_port_);
  return true;
}

ServerImpl::~ServerImpl ()
{
  if (server_) {
    /* Viewers left on the server are let go: their connections close. */
    gst_rtsp_server_client_filter (
        server_,
        [] (GstRTSPServer *, GstRTSPClient *client, gpointer data) {
          g_signal_handlers_disconnect_by_data (client, data);
          return GST_RTSP_FILTER_REMOVE;
        },
        this);
    g_signal_handlers_disconnect_by_data (server_, this);
  }
  if (source_) {
    g_source_destroy (source_);
    g_source_unref (source_);
  }
  if (loop_) {
    g_main_loop_quit (loop_);
    g_thread_join (thread_);
    g_main_loop_unref (loop_);
  }
  if (context_)
    g_main_context_unref (context_);
  gst_clear_object (&server_);
}

void
ServerImpl::on_client_connected (GstRTSPServer *, GstRTSPClient *client, gpointer data)
{
  g_signal_connect (client, "play-request", G_CALLBACK (on_play_request), data);
  g_signal_connect (client, "teardown-request", G_CALLBACK (on_teardown_request), data);
  g_signal_connect (client, "closed", G_CALLBACK (on_client_closed), data);
}

/* The mount whose path @uri_path is or lies under ("/cam", "/cam/", "/cam/stream=0"). */
MountPtr
ServerImpl::mount_for (const char *uri_path)
{
  if (!uri_path)
    return nullptr;
  std::lock_guard<std::mutex> guard (lock_);
  return mount_for_locked (uri_path);
}

MountPtr
ServerImpl::mount_for_locked (const std::string & path)
{
  for (auto & [mount_path, mount] : mounts_) {
    if (path.compare (0, mount_path.size (), mount_path) == 0 &&
        (path.size () == mount_path.size () || path[mount_path.size ()] == '/'))
      return mount;
  }
  return nullptr;
}

/* A viewer starts playing: a key frame for it now, not at the next GOP. */
void
ServerImpl::on_play_request (GstRTSPClient *client, GstRTSPContext *ctx, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  MountPtr mount = self->mount_for (ctx->uri ? ctx->uri->abspath : nullptr);
  if (!mount)
    return;
  {
    std::lock_guard<std::mutex> guard (self->lock_);
    self->playing_[client] = mount->path;
  }
  if (GstElement *sink = mount->ref_sink ()) {
    cr_h264_feed_request_keyframe (sink);
    gst_object_unref (sink);
  }
}

void
ServerImpl::on_teardown_request (GstRTSPClient *client, GstRTSPContext *, gpointer data)
{
  on_client_gone (client, data);
}

void
ServerImpl::on_client_gone (GstRTSPClient *client, gpointer data)
{
  auto *self = static_cast<ServerImpl *> (data);
  std::lock_guard<std::mutex> guard (self->lock_);
  self->playing_.erase (client);
}

/* A viewer's connection closed: its sessions end with it. gst-rtsp-server keeps a UDP session
 * until its 60 s timeout (RTSP allows a client to stream on after closing the connection), which
 * would keep the shared media, and so the encoder, running for a viewer long gone; none of the
 * clients camrelay serves (ffmpeg, VLC, Home Assistant, Frigate) does that. */
void
ServerImpl::on_client_closed (GstRTSPClient *client, gpointer data)
{
  on_client_gone (client, data);
  std::vector<GstRTSPSession *> sessions;
  gst_rtsp_client_session_filter (
      client,
      [] (GstRTSPClient *, GstRTSPSession *sess, gpointer list) {
        static_cast<std::vector<GstRTSPSession *> *> (list)->push_back (
            GST_RTSP_SESSION (g_object_ref (sess)));
        return GST_RTSP_FILTER_KEEP;
      },
      &sessions);
  g_autoptr (GstRTSPSessionPool) pool = gst_rtsp_client_get_session_pool (client);
  for (GstRTSPSession *sess : sessions) {
    if (pool)
      gst_rtsp_session_pool_remove (pool, sess);
    g_object_unref (sess);
  }
}

bool
ServerImpl::mount (const std::string & path, GstElement *sink, std::string & error)
{
  auto mount = std::make_shared<Mount> ();
  mount->path = path;
  mount->sink = GST_ELEMENT (gst_object_ref (sink));
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (mounts_.count (path)) {
      error = "rtsp://…:" + std::to_string (bound_port_) + path + " is already served";
      gst_clear_object (&mount->sink);
      return false;
    }
    mounts_[path] = mount;
  }
  GST_INFO ("serving rtsp://%s:%u%s", settings_.address.c_str (), bound_port_, path.c_str ());
  return true;
}

void
ServerImpl::add_factory_for (const char *uri_path)
{
  if (!uri_path)
    return;
  std::lock_guard<std::mutex> guard (lock_);
  MountPtr mount = mount_for_locked (uri_path);
  if (mount && !mount->in_mount_points)
    add_factory (mount);
}

/* Under lock_, so that unmount() finds the factory if there is one. */
void
ServerImpl::add_factory (const MountPtr & mount)
{
  const std::string & path = mount->path;
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, MEDIA_LAUNCH);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  gst_rtsp_media_factory_set_protocols (factory,
      static_cast<GstRTSPLowerTrans> (GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP));
  if (!settings_.viewer_user.empty ())
    gst_rtsp_media_factory_add_role (factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
        G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE, nullptr);
  g_signal_connect_data (factory, "media-configure", G_CALLBACK (on_media_configure),
      new MountPtr (mount), free_mount_ref, static_cast<GConnectFlags> (0));
  g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points (server_);
  gst_rtsp_mount_points_add_factory (mounts, path.c_str (), factory); /* takes factory */
  mount->in_mount_points = true;
  GST_DEBUG ("%s: media factory added for its first viewer", path.c_str ());
}

void
ServerImpl::unmount (const std::string & path)
{
  MountPtr mount;
  {
    std::lock_guard<std::mutex> guard (lock_);
    auto it = mounts_.find (path);
    if (it == mounts_.end ())
      return;
    mount = it->second;
    mounts_.erase (it);
    if (mount->in_mount_points) {
      g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points (server_);
      gst_rtsp_mount_points_remove_factory (mounts, path.c_str ());
    }
  }

  /* The feed is let go now: the sink may go away while viewers' media still exist. */
  GstElement *sink;
  std::map<GstRTSPMedia *, guint> subs;
  {
    std::lock_guard<std::mutex> guard (mount->lock);
    sink = mount->sink;
    mount->sink = nullptr;
    subs.swap (mount->subs);
  }
  for (const auto & [media, id] : subs)
    cr_h264_feed_unsubscribe (sink, id);
  gst_clear_object (&sink);

  /* Its viewers are told so by their connection closing, rather than by a silent stream. */
  struct Kick
  {
    ServerImpl *self;
    std::string path;
  } kick{ this, path };
  gst_rtsp_server_client_filter (
      server_,
      [] (GstRTSPServer *, GstRTSPClient *client, gpointer data) {
        auto *k = static_cast<Kick *> (data);
        std::lock_guard<std::mutex> guard (k->self->lock_);
        auto it = k->self->playing_.find (client);
        if (it == k->self->playing_.end () || it->second != k->path)
          return GST_RTSP_FILTER_KEEP;
        k->self->playing_.erase (it);
        return GST_RTSP_FILTER_REMOVE;
      },
      &kick);
}

guint
ServerImpl::viewers (const std::string & path)
{
  std::lock_guard<std::mutex> guard (lock_);
  guint n = 0;
  for (const auto & [client, p] : playing_)
    n += p == path;
  return n;
}

gchar *
cr_rtsp_mount_points_make_path (GstRTSPMountPoints *mounts, const GstRTSPUrl *url)
{
  gchar *path =
      GST_RTSP_MOUNT_POINTS_CLASS (cr_rtsp_mount_points_parent_class)->make_path (mounts, url);
  auto *self = reinterpret_cast<CrRtspMountPoints *> (mounts);
  if (path && self->owner)
    self->owner->add_factory_for (path);
  return path;
}

}  // namespace

std::shared_ptr<Server>
Server::acquire (const ServerSettings & settings, std::string & error)
{
  std::lock_guard<std::mutex> guard (registry_mutex);
  auto key = std::make_pair (settings.address, settings.port);
  auto it = registry.find (key);
  if (it != registry.end ()) {
    if (auto running = it->second.lock ()) {
      const ServerSettings & have = running->settings ();
      if (have.viewer_user != settings.viewer_user ||
          have.viewer_password != settings.viewer_password) {
        error = "the RTSP server on " + settings.address + ":" + std::to_string (settings.port) +
            " already runs with other viewer credentials; every camera on one RTSP port "
            "must use the same";
        return nullptr;
      }
      return running;
    }
  }
  auto server = std::make_shared<ServerImpl> (settings);
  if (!server->start (error))
    return nullptr;
  registry[key] = server;
  return server;
}

}  // namespace cr::rtsp
