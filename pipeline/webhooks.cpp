/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: webhooks, one bounded queue per URL, sent from a thread of their own. */
#define G_LOG_DOMAIN "camrelay"

#include "webhooks.h"

#include "camrelay-config.h"
#include "crbackoff.h"
#include "crredact.h"

#include <libsoup/soup.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

namespace camrelay {

namespace {

struct Event
{
  std::string name;
  std::string body;
};

}  // namespace

/* One URL. The queue, counters and in_flight are under Impl::lock; the rest is the thread's. */
struct Target
{
  std::string url;
  std::string shown;
  std::deque<Event> queue; /* the front one is being sent while in_flight */
  bool in_flight = false;
  guint64 delivered = 0, failed = 0, dropped = 0;
  std::string last_error;
  std::string logged_error;

  SoupMessage *msg = nullptr;
  GSource *retry = nullptr;
  cr::Backoff backoff; /* 1 s … 30 s */
  Webhooks::Impl *impl = nullptr;
};

struct Webhooks::Impl
{
  EventsConfig config;
  mutable std::mutex lock;
  std::vector<std::unique_ptr<Target>> targets;
  bool kick_pending = false;
  bool stopping = false;

  GMainContext *context = nullptr;
  GMainLoop *loop = nullptr;
  GCancellable *cancellable = nullptr;
  SoupSession *session = nullptr; /* the webhook thread's */
  std::thread thread;

  void attach_idle (GSourceFunc func);
  void kick ();
  void run ();
  void pump ();
  void send (Target & t, const Event & e);
  void finish (Target & t, bool ok, const std::string & error);
  static void on_sent (GObject *source, GAsyncResult *result, gpointer target);
};

/* Never g_main_context_invoke(): while the thread is not running the loop, it would run the
 * function right here, in the caller's thread. */
void
Webhooks::Impl::attach_idle (GSourceFunc func)
{
  GSource *s = g_idle_source_new ();
  g_source_set_callback (s, func, this, nullptr);
  g_source_attach (s, context);
  g_source_unref (s);
}

void
Webhooks::Impl::kick ()
{
  {
    std::lock_guard<std::mutex> guard (lock);
    if (kick_pending)
      return;
    kick_pending = true;
  }
  attach_idle ([] (gpointer self) -> gboolean {
    auto *impl = static_cast<Impl *> (self);
    {
      std::lock_guard<std::mutex> guard (impl->lock);
      impl->kick_pending = false;
    }
    impl->pump ();
    return G_SOURCE_REMOVE;
  });
}

/* Starts a delivery for every URL that has an event waiting and is neither busy nor waiting to
 * try again. */
void
Webhooks::Impl::pump ()
{
  for (auto & t : targets) {
    Event e;
    {
      std::lock_guard<std::mutex> guard (lock);
      if (stopping || t->in_flight || t->retry || t->queue.empty ())
        continue;
      t->in_flight = true;
      e = t->queue.front ();
    }
    send (*t, e);
  }
}

void
Webhooks::Impl::send (Target & t, const Event & e)
{
  t.msg = soup_message_new (SOUP_METHOD_POST, t.url.c_str ());
  SoupMessageHeaders *h = soup_message_get_request_headers (t.msg);
  soup_message_headers_append (h, "X-Camrelay-Event", e.name.c_str ());
  if (!config.secret.empty ()) {
    g_autofree gchar *hmac = g_compute_hmac_for_data (G_CHECKSUM_SHA256,
        reinterpret_cast<const guchar *> (config.secret.data ()), config.secret.size (),
        reinterpret_cast<const guchar *> (e.body.data ()), e.body.size ());
    std::string signature = std::string ("sha256=") + hmac;
    soup_message_headers_append (h, "X-Camrelay-Signature", signature.c_str ());
  }
  g_autoptr (GBytes) body = g_bytes_new (e.body.data (), e.body.size ());
  soup_message_set_request_body_from_bytes (t.msg, "application/json", body);
  soup_session_send_and_read_async (session, t.msg, G_PRIORITY_DEFAULT, cancellable, on_sent, &t);
}

void
Webhooks::Impl::on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  auto *t = static_cast<Target *> (data);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GBytes) answer =
      soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  guint status = soup_message_get_status (t->msg);
  std::string why;
  if (error)
    why = error->message;
  else if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    why = "answered " + std::to_string (status) + " " +
        (soup_message_get_reason_phrase (t->msg) ? soup_message_get_reason_phrase (t->msg) : "");
  g_clear_object (&t->msg);
  t->impl->finish (*t, why.empty (), why);
}

void
Webhooks::Impl::finish (Target & t, bool ok, const std::string & error)
{
  bool log_failure = false, log_recovery = false;
  {
    std::lock_guard<std::mutex> guard (lock);
    t.in_flight = false;
    if (stopping)
      return;
    if (ok) {
      /* The queue may have dropped the front meanwhile only if it was not in flight. */
      if (!t.queue.empty ())
        t.queue.pop_front ();
      t.delivered++;
      t.backoff.reset ();
      log_recovery = !t.logged_error.empty ();
      t.logged_error.clear ();
    } else {
      t.failed++;
      t.last_error = error;
      log_failure = t.logged_error != error;
      t.logged_error = error;
    }
  }
  if (log_recovery)
    g_message ("webhook %s: delivering again", t.shown.c_str ());
  if (ok) {
    pump ();
    return;
  }
  if (log_failure)
    g_warning ("webhook %s: %s; trying again 1 s to 30 s apart, keeping the newest %u events",
        t.shown.c_str (), error.c_str (), config.queue_size);
  t.retry = g_timeout_source_new (t.backoff.next_ms ());
  g_source_set_callback (
      t.retry,
      [] (gpointer data) -> gboolean {
        auto *t = static_cast<Target *> (data);
        g_clear_pointer (&t->retry, g_source_unref);
        t->impl->pump ();
        return G_SOURCE_REMOVE;
      },
      &t, nullptr);
  g_source_attach (t.retry, context);
}

void
Webhooks::Impl::run ()
{
  g_main_context_push_thread_default (context);
  g_autofree gchar *agent = g_strdup_printf ("camrelay/%s", CAMRELAY_VERSION);
  session = soup_session_new_with_options ("timeout", config.timeout, "user-agent", agent, nullptr);
  pump ();
  g_main_loop_run (loop);

  /* Stopping: cancel what is in flight and let the cancelled requests finish. */
  g_cancellable_cancel (cancellable);
  auto busy = [this] {
    for (auto & t : targets) {
      if (t->msg)
        return true;
    }
    return false;
  };
  while (busy ())
    g_main_context_iteration (context, TRUE);
  for (auto & t : targets) {
    if (t->retry) {
      g_source_destroy (t->retry);
      g_clear_pointer (&t->retry, g_source_unref);
    }
  }
  g_clear_object (&session);
  g_main_context_pop_thread_default (context);
}

Webhooks::Webhooks (const EventsConfig & config) : impl_ (std::make_unique<Impl> ())
{
  Impl & i = *impl_;
  i.config = config;
  for (const auto & url : config.urls) {
    auto t = std::make_unique<Target> ();
    t->url = url;
    t->shown = cr::redact_url (url);
    t->impl = &i;
    i.targets.push_back (std::move (t));
  }
  i.context = g_main_context_new ();
  i.loop = g_main_loop_new (i.context, FALSE);
  i.cancellable = g_cancellable_new ();
  i.thread = std::thread (&Impl::run, &i);
}

Webhooks::~Webhooks ()
{
  Impl & i = *impl_;
  {
    std::lock_guard<std::mutex> guard (i.lock);
    i.stopping = true;
  }
  i.attach_idle ([] (gpointer self) -> gboolean {
    g_main_loop_quit (static_cast<Impl *> (self)->loop);
    return G_SOURCE_REMOVE;
  });
  i.thread.join ();
  g_main_loop_unref (i.loop);
  g_main_context_unref (i.context);
  g_object_unref (i.cancellable);
}

void
Webhooks::post (const std::string & event, const std::string & body)
{
  {
    std::lock_guard<std::mutex> guard (impl_->lock);
    for (auto & t : impl_->targets) {
      t->queue.push_back ({ event, body });
      /* Full: the oldest waiting event goes (not the one being sent). */
      while (t->queue.size () > impl_->config.queue_size) {
        t->queue.erase (t->queue.begin () + (t->in_flight ? 1 : 0));
        t->dropped++;
      }
    }
  }
  impl_->kick ();
}

std::vector<WebhookStats>
Webhooks::stats () const
{
  std::vector<WebhookStats> out;
  std::lock_guard<std::mutex> guard (impl_->lock);
  for (const auto & t : impl_->targets) {
    WebhookStats s;
    s.url = t->shown;
    s.queued = t->queue.size ();
    s.delivered = t->delivered;
    s.failed = t->failed;
    s.dropped = t->dropped;
    s.last_error = t->last_error;
    out.push_back (s);
  }
  return out;
}

}  // namespace camrelay
