/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: an MQTT client that keeps a set of retained topics published.
 *
 * The caller (the main thread) says what each topic should hold; the publisher sends the latest
 * value of every topic that changed, and everything again after each (re)connection. Only the
 * latest value per topic waits, so memory stays bounded whatever the broker does: at most
 * MAX_PENDING messages sit in libmosquitto's queue, the rest waits here as "latest value".
 *
 * Library: Debian's libmosquitto (the Eclipse Mosquitto project's own client, packaged and kept
 * up to date by Debian with the broker the tests run), MQTT 3.1.1 with a Last Will, TLS through
 * OpenSSL, and a plain non-blocking socket loop (mosquitto_loop) that this class runs in its own
 * thread: no MQTT call ever runs on a GStreamer streaming thread, and a slow broker only makes
 * that thread wait. Its own loop_forever is not used because it gives up for good after a DNS
 * or TLS error; this loop retries every failure, 1 s to 30 s apart.
 *
 * Threads: set(), flush() and the destructor in the main thread; stats() from any thread; the
 * libmosquitto callbacks in the client thread. Lock order: lock_ before libmosquitto's own. */
#pragma once

#include "relayconfig.h"

#include <glib.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;

namespace camrelay {

struct MqttStats
{
  std::string broker; /* without credentials */
  bool connected = false;
  guint64 published = 0; /* messages handed to the socket */
  guint64 connects = 0;
  guint queued = 0;         /* messages waiting: in libmosquitto's queue or not yet handed over */
  guint64 queued_bytes = 0; /* their payloads */
  std::string last_error;
};

class MqttPublisher
{
public:
  /* @will_topic gets "online" (retained) on every connection and "offline" as the Last Will and
   * at a clean stop. */
  static std::unique_ptr<MqttPublisher> create (const MqttConfig & config,
      const std::string & client_id, const std::string & will_topic, std::string & error);
  ~MqttPublisher ();
  MqttPublisher (const MqttPublisher &) = delete;
  MqttPublisher & operator= (const MqttPublisher &) = delete;

  /* Main thread: @topic should hold @payload (retained unless @retain is false; an empty retained
   * payload removes the topic from the broker). Sent at once when connected, else on connection. */
  void set (const std::string & topic, const std::string & payload, bool retain = true);
  MqttStats stats () const;

private:
  MqttPublisher () = default;
  struct Entry
  {
    std::string payload;
    bool retain = true;
    bool dirty = true;
  };

  void flush ();
  void run ();
  void wait_backoff (guint ms);
  void note_failure (const std::string & cause);
  static void on_connect (struct mosquitto *, void *self, int rc);
  static void on_disconnect (struct mosquitto *, void *self, int rc);
  static void on_publish (struct mosquitto *, void *self, int mid);

  struct mosquitto *mosq_ = nullptr;
  MqttConfig config_;
  std::string will_topic_;
  guint timer_ = 0;

  /* Guards the fields below; held around mosquitto_publish() so that on_publish() finds the
   * message id it is told about. */
  mutable std::mutex lock_;
  std::map<std::string, Entry> topics_;
  std::vector<std::string> dirty_; /* topics in the order they changed; each once */
  guint64 seen_connects_ = 0;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool connected_ = false;
  guint64 connects_ = 0;
  guint64 published_ = 0;
  std::map<int, gsize> pending_; /* message id -> payload size, until written */
  gsize pending_bytes_ = 0;
  std::string last_error_;
  std::string logged_cause_;
  std::thread thread_;
};

}  // namespace camrelay
