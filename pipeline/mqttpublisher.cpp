/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: an MQTT client that keeps a set of retained topics published. */
#define G_LOG_DOMAIN "camrelay"

#include "mqttpublisher.h"

#include "crbackoff.h"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>

namespace camrelay {

namespace {

/* What may sit in libmosquitto's queue while the broker does not read: a few snapshots' worth. */
const gsize MAX_PENDING = 64;
const gsize MAX_PENDING_BYTES = 2 * 1024 * 1024;
/* How often the main thread looks for a new connection (to publish everything again) and for
 * room in the queue. */
const guint FLUSH_INTERVAL_MS = 100;
/* How long a clean stop waits for "offline" to reach the broker. */
const gint64 STOP_GRACE_US = G_USEC_PER_SEC;

std::once_flag lib_once;

std::string
describe (int rc)
{
  std::string text = rc == MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc);
  /* libmosquitto's texts end with a full stop; the log line goes on after them. */
  if (!text.empty () && text.back () == '.')
    text.pop_back ();
  return text;
}

}  // namespace

std::unique_ptr<MqttPublisher>
MqttPublisher::create (const MqttConfig & config, const std::string & client_id,
    const std::string & will_topic, std::string & error)
{
  /* Once per process and never undone: mosquitto_lib_cleanup() would pull OpenSSL from under
   * any other user of it in the process. */
  std::call_once (lib_once, [] { mosquitto_lib_init (); });
  std::unique_ptr<MqttPublisher> p (new MqttPublisher ());
  p->config_ = config;
  p->will_topic_ = will_topic;
  p->mosq_ = mosquitto_new (client_id.c_str (), true, p.get ());
  if (!p->mosq_) {
    error = "[mqtt] cannot create the MQTT client: " + describe (MOSQ_ERR_ERRNO);
    return nullptr;
  }
  /* The client thread below runs the loop; publishing from the main thread only queues. */
  mosquitto_threaded_set (p->mosq_, true);
  int rc = mosquitto_will_set (p->mosq_, will_topic.c_str (), 7, "offline", 1, true);
  if (rc == MOSQ_ERR_SUCCESS && !config.user.empty ())
    rc = mosquitto_username_pw_set (p->mosq_, config.user.c_str (),
        config.password.empty () ? nullptr : config.password.c_str ());
  if (rc == MOSQ_ERR_SUCCESS && config.tls) {
    if (config.ca_file.empty ())
      rc = mosquitto_int_option (p->mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    else
      rc =
          mosquitto_tls_set (p->mosq_, config.ca_file.c_str (), nullptr, nullptr, nullptr, nullptr);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    error = "[mqtt] cannot set up the MQTT client: " + describe (rc);
    return nullptr;
  }
  mosquitto_connect_callback_set (p->mosq_, on_connect);
  mosquitto_disconnect_callback_set (p->mosq_, on_disconnect);
  mosquitto_publish_callback_set (p->mosq_, on_publish);

  p->set (will_topic, "online");
  p->timer_ = g_timeout_add (
      FLUSH_INTERVAL_MS,
      [] (gpointer self) -> gboolean {
        static_cast<MqttPublisher *> (self)->flush ();
        return G_SOURCE_CONTINUE;
      },
      p.get ());
  p->thread_ = std::thread (&MqttPublisher::run, p.get ());
  return p;
}

MqttPublisher::~MqttPublisher ()
{
  if (timer_)
    g_source_remove (timer_);
  {
    std::lock_guard<std::mutex> guard (lock_);
    stopping_ = true;
  }
  wake_.notify_all ();
  if (thread_.joinable ())
    thread_.join ();
  if (mosq_)
    mosquitto_destroy (mosq_);
}

void
MqttPublisher::set (const std::string & topic, const std::string & payload, bool retain)
{
  {
    std::lock_guard<std::mutex> guard (lock_);
    auto [it, fresh] = topics_.try_emplace (topic);
    Entry & e = it->second;
    if (!fresh && e.payload == payload && e.retain == retain)
      return;
    /* A dirty topic is already in dirty_ (an entry starts dirty). */
    if (fresh || !e.dirty)
      dirty_.push_back (topic);
    e.payload = payload;
    e.retain = retain;
    e.dirty = true;
  }
  flush ();
}

/* Sends the changed topics while the queue has room; after a new connection, all of them. */
void
MqttPublisher::flush ()
{
  std::lock_guard<std::mutex> guard (lock_);
  if (!connected_)
    return;
  if (connects_ != seen_connects_) {
    seen_connects_ = connects_;
    dirty_.clear ();
    dirty_.push_back (will_topic_);
    for (auto & [topic, e] : topics_) {
      e.dirty = true;
      if (topic != will_topic_)
        dirty_.push_back (topic);
    }
  }
  gsize done = 0;
  for (; done < dirty_.size (); done++) {
    if (pending_.size () >= MAX_PENDING || pending_bytes_ >= MAX_PENDING_BYTES)
      break;
    auto it = topics_.find (dirty_[done]);
    if (it == topics_.end () || !it->second.dirty)
      continue;
    Entry & e = it->second;
    int mid = 0;
    int rc = mosquitto_publish (mosq_, &mid, it->first.c_str (),
        static_cast<int> (e.payload.size ()), e.payload.data (), 0, e.retain);
    if (rc != MOSQ_ERR_SUCCESS)
      break; /* disconnected meanwhile: everything goes again on the next connection */
    e.dirty = false;
    pending_[mid] = e.payload.size ();
    pending_bytes_ += e.payload.size ();
  }
  dirty_.erase (dirty_.begin (), dirty_.begin () + done);
}

MqttStats
MqttPublisher::stats () const
{
  MqttStats s;
  std::lock_guard<std::mutex> guard (lock_);
  s.broker = config_.broker_shown;
  s.connected = connected_;
  s.published = published_;
  s.connects = connects_;
  s.queued = dirty_.size () + pending_.size ();
  s.queued_bytes = pending_bytes_;
  for (const auto & topic : dirty_) {
    auto it = topics_.find (topic);
    if (it != topics_.end ())
      s.queued_bytes += it->second.payload.size ();
  }
  s.last_error = last_error_;
  return s;
}

void
MqttPublisher::note_failure (const std::string & cause)
{
  std::lock_guard<std::mutex> guard (lock_);
  connected_ = false;
  last_error_ = cause;
  if (cause != logged_cause_) {
    logged_cause_ = cause;
    g_warning ("mqtt: broker %s: %s; trying again 1 s to 30 s apart (streaming carries on)",
        config_.broker_shown.c_str (), cause.c_str ());
  }
}

void
MqttPublisher::wait_backoff (guint ms)
{
  std::unique_lock<std::mutex> guard (lock_);
  wake_.wait_for (guard, std::chrono::milliseconds (ms), [this] { return stopping_; });
}

/* The client thread: connect, run the socket loop, and after any failure wait and connect again,
 * 1 s, 2 s ... 30 s apart (back to 1 s once a connection was accepted). */
void
MqttPublisher::run ()
{
  cr::Backoff backoff;
  auto stopping = [this] {
    std::lock_guard<std::mutex> guard (lock_);
    return stopping_;
  };
  while (!stopping ()) {
    int rc = mosquitto_connect_async (mosq_, config_.host.c_str (), static_cast<int> (config_.port),
        static_cast<int> (config_.keep_alive));
    while (rc == MOSQ_ERR_SUCCESS && !stopping ()) {
      rc = mosquitto_loop (mosq_, 100, 1);
      std::lock_guard<std::mutex> guard (lock_);
      if (connected_)
        backoff.reset ();
    }
    if (rc == MOSQ_ERR_SUCCESS)
      break; /* stopping while connected */
    note_failure (describe (rc));
    wait_backoff (backoff.next_ms ());
  }

  /* A clean stop: say "offline" ourselves (the broker sends the Last Will only when a client
   * vanishes), then disconnect. */
  bool connected;
  {
    std::lock_guard<std::mutex> guard (lock_);
    connected = connected_;
    pending_.clear ();
  }
  if (!connected)
    return;
  int mid = 0;
  {
    std::lock_guard<std::mutex> guard (lock_);
    if (mosquitto_publish (mosq_, &mid, will_topic_.c_str (), 7, "offline", 0, true) ==
        MOSQ_ERR_SUCCESS)
      pending_[mid] = 7;
  }
  gint64 deadline = g_get_monotonic_time () + STOP_GRACE_US;
  while (g_get_monotonic_time () < deadline) {
    {
      std::lock_guard<std::mutex> guard (lock_);
      if (pending_.empty ())
        break;
    }
    if (mosquitto_loop (mosq_, 50, 1) != MOSQ_ERR_SUCCESS)
      return;
  }
  mosquitto_disconnect (mosq_);
  mosquitto_loop (mosq_, 50, 1);
}

void
MqttPublisher::on_connect (struct mosquitto *, void *data, int rc)
{
  auto *self = static_cast<MqttPublisher *> (data);
  if (rc != 0) {
    self->note_failure (
        std::string ("the broker refused the connection: ") + mosquitto_connack_string (rc));
    return;
  }
  std::lock_guard<std::mutex> guard (self->lock_);
  self->connected_ = true;
  self->connects_++;
  self->pending_.clear (); /* what the last connection had queued is gone */
  self->pending_bytes_ = 0;
  self->last_error_.clear ();
  if (self->logged_cause_ != "connected") {
    self->logged_cause_ = "connected";
    g_message ("mqtt: connected to %s", self->config_.broker_shown.c_str ());
  }
}

void
MqttPublisher::on_disconnect (struct mosquitto *, void *data, int)
{
  auto *self = static_cast<MqttPublisher *> (data);
  std::lock_guard<std::mutex> guard (self->lock_);
  self->connected_ = false;
}

void
MqttPublisher::on_publish (struct mosquitto *, void *data, int mid)
{
  auto *self = static_cast<MqttPublisher *> (data);
  std::lock_guard<std::mutex> guard (self->lock_);
  auto it = self->pending_.find (mid);
  if (it == self->pending_.end ())
    return;
  self->pending_bytes_ -= it->second;
  self->pending_.erase (it);
  self->published_++;
}

}  // namespace camrelay
