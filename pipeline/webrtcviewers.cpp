/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the cameras' WHEP endpoints (see webrtcviewers.h). */
#define G_LOG_DOMAIN "camrelay"

#include "webrtcviewers.h"

#include "crh264feed.h"

namespace camrelay {

namespace {

/* WebRTC sessions per camera when its max-viewers sets no limit: each one is a small pipeline
 * with its own ICE, DTLS and RTP threads. */
const guint DEFAULT_MAX_SESSIONS = 32;

/* The camera's h264relaysink as a cr::H264Feed. A subscription stays with the element it was made
 * on: a rebuilt pipeline's new element is another encoder. */
class CameraFeed : public cr::H264Feed
{
public:
  explicit CameraFeed (const Camera & camera) : camera_ (camera) {}
  ~CameraFeed () override
  {
    for (auto & [id, sub] : subs_) {
      cr_h264_feed_unsubscribe (sub.first, sub.second);
      gst_object_unref (sub.first);
    }
  }

  guint64 subscribe (Callback callback) override
  {
    GstElement *sink = camera_.h264_sink ();
    if (!sink)
      return 0;
    auto *held = new Callback (std::move (callback));
    guint id = cr_h264_feed_subscribe (
        sink, "webrtc",
        [] (GstBuffer *au, GstCaps *caps, gpointer data) {
          (*static_cast<Callback *> (data)) (au, caps);
        },
        held, [] (gpointer data) { delete static_cast<Callback *> (data); });
    if (!id) {
      delete held;
      gst_object_unref (sink);
      return 0;
    }
    std::lock_guard<std::mutex> lock (lock_);
    subs_[++next_] = { sink, id };
    return next_;
  }

  void unsubscribe (guint64 id) override
  {
    std::pair<GstElement *, guint> sub{ nullptr, 0 };
    {
      std::lock_guard<std::mutex> lock (lock_);
      auto it = subs_.find (id);
      if (it == subs_.end ())
        return;
      sub = it->second;
      subs_.erase (it);
    }
    cr_h264_feed_unsubscribe (sub.first, sub.second);
    gst_object_unref (sub.first);
  }

  bool available () override
  {
    GstElement *sink = camera_.h264_sink ();
    if (sink)
      gst_object_unref (sink);
    return sink != nullptr;
  }

  void request_keyframe () override
  {
    GstElement *sink = camera_.h264_sink ();
    if (!sink)
      return;
    cr_h264_feed_request_keyframe (sink);
    gst_object_unref (sink);
  }

private:
  const Camera & camera_;
  std::mutex lock_;
  std::map<guint64, std::pair<GstElement *, guint>> subs_;
  guint64 next_ = 0;
};

}  // namespace

struct WebRtcViewers::Viewers
{
  std::unique_ptr<CameraFeed> feed;
  std::unique_ptr<cr::WhepEndpoint> endpoint; /* goes first: its sessions use the feed */
  ~Viewers () { endpoint.reset (); }
};

WebRtcViewers::WebRtcViewers (std::shared_ptr<cr::Server> server, const ServerConfig & config)
  : server_ (std::move (server))
{
  base_.min_port = config.webrtc_min_port;
  base_.max_port = config.webrtc_max_port;
  base_.announce_address = config.webrtc_address;
  base_.stun_server = config.stun_server;
  base_.turn_server = config.turn_server;
}

WebRtcViewers::~WebRtcViewers ()
{
  std::map<const Camera *, std::unique_ptr<Viewers>> all;
  {
    std::lock_guard<std::mutex> lock (lock_);
    all.swap (cameras_);
  }
}

bool
WebRtcViewers::set_cameras (const std::vector<Camera *> & cameras, std::string & error)
{
  std::map<const Camera *, std::unique_ptr<Viewers>> old;
  {
    std::lock_guard<std::mutex> lock (lock_);
    old.swap (cameras_);
  }
  std::map<const Camera *, std::unique_ptr<Viewers>> next;
  for (Camera *c : cameras) {
    auto it = old.find (c);
    if (it != old.end ()) {
      next[c] = std::move (it->second);
      old.erase (it);
    }
  }
  old.clear (); /* cameras gone: their sessions end, their paths are free */
  bool ok = true;
  for (Camera *c : cameras) {
    if (next.count (c))
      continue;
    auto v = std::make_unique<Viewers> ();
    v->feed = std::make_unique<CameraFeed> (*c);
    cr::WhepSettings s = base_;
    s.path = "/whep/" + c->name ();
    s.max_sessions = c->config ().max_viewers ? c->config ().max_viewers : DEFAULT_MAX_SESSIONS;
    g_autoptr (GError) err = nullptr;
    v->endpoint = cr::WhepEndpoint::create (server_, s, *v->feed, &err);
    if (!v->endpoint) {
      error = err->message;
      ok = false;
      continue;
    }
    next[c] = std::move (v);
  }
  std::lock_guard<std::mutex> lock (lock_);
  cameras_.swap (next);
  return ok;
}

cr::WhepStats
WebRtcViewers::stats (const std::string & name) const
{
  std::lock_guard<std::mutex> lock (lock_);
  for (const auto & [camera, v] : cameras_)
    if (camera->name () == name && v->endpoint)
      return v->endpoint->stats ();
  return {};
}

cr::WhepStats
WebRtcViewers::stats (const Camera *camera) const
{
  std::lock_guard<std::mutex> lock (lock_);
  auto it = cameras_.find (camera);
  return it != cameras_.end () && it->second->endpoint ? it->second->endpoint->stats ()
                                                       : cr::WhepStats{};
}

}  // namespace camrelay
