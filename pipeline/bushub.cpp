/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: every camera pipeline's bus through one wake-up of the main context. */
#include "bushub.h"

#include "crreadysource.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <utility>

namespace camrelay {

class BusWatch
{
public:
  explicit BusWatch (std::function<void (GstMessage *)> handler) : handler (std::move (handler)) {}
  ~BusWatch ()
  {
    if (first_error)
      gst_message_unref (first_error);
  }
  void keep_error (GstMessage *message)
  {
    std::lock_guard<std::mutex> guard (lock);
    if (!first_error)
      first_error = gst_message_ref (message);
  }
  std::function<void (GstMessage *)> handler;
  std::atomic<bool> alive{ true }; /* written in the main thread, read by the sync handler */
  std::mutex lock;
  GstMessage *first_error = nullptr;
};

namespace {

using WatchPtr = std::shared_ptr<BusWatch>;

/* The messages of every watched bus, waiting for the main thread. */
class Hub
{
public:
  static Hub & get ()
  {
    static Hub *hub = new Hub (); /* for the process's life: sync handlers may still post */
    return *hub;
  }

  void push (const WatchPtr & watch, GstMessage *message)
  {
    std::lock_guard<std::mutex> guard (lock_);
    queue_.emplace_back (watch, gst_message_ref (message));
    if (queue_.size () == 1)
      g_source_set_ready_time (wake_, 0);
  }

private:
  Hub ()
  {
    wake_ = cr::ready_source_new (on_wake, this, "camrelay pipeline messages");
    g_source_attach (wake_, nullptr);
  }

  static gboolean on_wake (gpointer data)
  {
    static_cast<Hub *> (data)->dispatch ();
    return G_SOURCE_CONTINUE;
  }

  /* A handler may stop any camera (unwatch) or post more: the queue is taken first. */
  void dispatch ()
  {
    std::deque<std::pair<WatchPtr, GstMessage *>> batch;
    {
      std::lock_guard<std::mutex> guard (lock_);
      batch.swap (queue_);
    }
    for (auto & [watch, message] : batch) {
      if (watch->alive)
        watch->handler (message);
      gst_message_unref (message);
    }
  }

  GSource *wake_ = nullptr;
  std::mutex lock_;
  std::deque<std::pair<WatchPtr, GstMessage *>> queue_;
};

GstBusSyncReply
on_sync_message (GstBus *, GstMessage *message, gpointer data)
{
  const WatchPtr & watch = *static_cast<WatchPtr *> (data);
  switch (GST_MESSAGE_TYPE (message)) {
    case GST_MESSAGE_ERROR:
      watch->keep_error (message);
      if (watch->alive)
        Hub::get ().push (watch, message);
      break;
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_EOS:
    case GST_MESSAGE_ELEMENT:
      if (watch->alive)
        Hub::get ().push (watch, message);
      break;
    default:
      break;
  }
  /* A sync handler that drops a message releases it: each one kept its source alive (a pulled
   * camera's elements, posting on this bus, were all kept, try after try). */
  gst_message_unref (message);
  return GST_BUS_DROP;
}

}  // namespace

std::shared_ptr<BusWatch>
bus_watch (GstBus *bus, std::function<void (GstMessage *)> handler)
{
  auto watch = std::make_shared<BusWatch> (std::move (handler));
  Hub::get ();
  /* The bus frees its reference when it goes (with its pipeline). */
  gst_bus_set_sync_handler (bus, on_sync_message, new WatchPtr (watch),
      [] (gpointer data) { delete static_cast<WatchPtr *> (data); });
  return watch;
}

GstMessage *
bus_first_error (const std::shared_ptr<BusWatch> & watch)
{
  if (!watch)
    return nullptr;
  std::lock_guard<std::mutex> guard (watch->lock);
  return watch->first_error ? gst_message_ref (watch->first_error) : nullptr;
}

/* The sync handler stays (replacing it while a streaming thread may be calling it is not safe
 * on every GStreamer version); it stops queueing. */
void
bus_unwatch (std::shared_ptr<BusWatch> & watch)
{
  if (!watch)
    return;
  watch->alive = false;
  watch.reset ();
}

}  // namespace camrelay
