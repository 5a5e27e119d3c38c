/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay end to end, "be told": camera online/offline over MQTT with Home Assistant discovery,
 * and webhooks. A real Mosquitto broker (Debian's mosquitto, on a free port of 127.0.0.1 with a
 * config file written here), a real subscriber (mosquitto_sub) and a real webhook receiver
 * (Python's http.server, tests/e2e/clients/webhook_receiver.py). */
#include "e2e.h"
#include "motionscene.h"
#include "testjpeg.h"
#include "wait.h"

#include <glib/gstdio.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

using namespace crtest;

namespace {

const char *const NODE = "testnode";

/* A Mosquitto broker on 127.0.0.1, anonymous clients allowed (credentials are accepted too). */
struct Broker
{
  TempDir dir;
  guint port = 0;
  std::unique_ptr<Process> proc;

  /* @extra: more lines for the listener, e.g. certfile and keyfile. */
  bool start (guint on_port = 0, const std::string & extra = "")
  {
    port = on_port ? on_port : free_port ();
    std::string conf = dir.write ("mosquitto.conf",
        "listener " + std::to_string (port) + " 127.0.0.1\nallow_anonymous true\n" + extra);
    proc = std::make_unique<Process> (std::vector<std::string>{ "mosquitto", "-c", conf });
    return wait_until ([&] {
      int fd = connect_loopback (port);
      if (fd >= 0)
        close (fd);
      return fd >= 0;
    });
  }
  void stop () { proc.reset (); }
};

struct Message
{
  std::string topic;
  bool retained = false;
  Bytes payload;
  std::string text () const { return std::string (payload.begin (), payload.end ()); }
};

/* mosquitto_sub on every topic, each message printed as "TOPIC RETAIN HEX". */
class Subscriber
{
public:
  /* @cafile: connect with TLS, trusting that certificate. */
  explicit Subscriber (guint port, const std::string & cafile = "")
    : port_ (port), proc_ ([&] {
        std::vector<std::string> argv{ "mosquitto_sub", "-h", "127.0.0.1", "-p",
          std::to_string (port), "-t", "#", "-F", "%t %r %x" };
        if (!cafile.empty ())
          argv.insert (argv.end (), { "--cafile", cafile });
        return argv;
      }())
  {}

  /* True once the subscription is in place (a message of our own came back). */
  bool ready ()
  {
    return wait_until ([&] {
      run ({ "mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string (port_), "-t", "probe/ready",
               "-m", "x" },
          5000);
      return find ("probe/ready", "x") >= 0;
    });
  }

  std::vector<Message> messages () const
  {
    std::vector<Message> out;
    std::istringstream in (proc_.output ());
    std::string line;
    while (std::getline (in, line)) {
      std::istringstream fields (line);
      Message m;
      std::string retain, hex;
      if (!(fields >> m.topic >> retain))
        continue;
      fields >> hex;
      m.retained = retain == "1";
      for (gsize i = 0; i + 1 < hex.size (); i += 2)
        m.payload.push_back (static_cast<guint8> (std::stoi (hex.substr (i, 2), nullptr, 16)));
      out.push_back (m);
    }
    return out;
  }

  /* The index of the first message on @topic from @from on (with @payload unless nullptr). */
  int find (const std::string & topic, const char *payload, int from = 0) const
  {
    std::vector<Message> all = messages ();
    for (gsize i = from; i < all.size (); i++) {
      if (all[i].topic == topic && (!payload || all[i].text () == payload))
        return static_cast<int> (i);
    }
    return -1;
  }

  int wait_for (const std::string & topic, const char *payload, int from = 0,
      int timeout_ms = 10000) const
  {
    int at = -1;
    wait_until ([&] { return (at = find (topic, payload, from)) >= 0; }, timeout_ms);
    return at;
  }

  /* The last message on @topic, or an empty one. */
  Message last (const std::string & topic) const
  {
    Message found;
    for (const auto & m : messages ())
      if (m.topic == topic)
        found = m;
    return found;
  }

  int count () const { return static_cast<int> (messages ().size ()); }
  std::string output () const { return proc_.output (); }

private:
  guint port_;
  Process proc_;
};

/* The webhook receiver: one entry per POST, its signature checked by Python. */
class Receiver
{
public:
  /* @down_while: answer 503 while this file exists. */
  explicit Receiver (const std::string & secret, bool hang = false,
      const std::string & down_while = "")
    : proc_ ([&] {
        std::vector<std::string> argv{ "/usr/bin/python3",
          source_path ("tests/e2e/clients/webhook_receiver.py"), "--secret", secret };
        if (hang)
          argv.push_back ("--hang");
        if (!down_while.empty ())
          argv.insert (argv.end (), { "--down-while", down_while });
        return argv;
      }())
  {
    if (proc_.wait_for_output ("READY ", 10000))
      wait_until ([&] {
        auto at = proc_.output ().find ("READY ");
        port_ = std::atoi (proc_.output ().c_str () + at + 6);
        return proc_.output ().find ('\n', at) != std::string::npos;
      });
  }
  std::string url () const { return "http://127.0.0.1:" + std::to_string (port_) + "/hook"; }

  struct Event
  {
    std::string signature;
    std::string body;
  };
  std::vector<Event> events () const
  {
    std::vector<Event> out;
    std::istringstream in (proc_.output ());
    std::string line;
    while (std::getline (in, line)) {
      if (line.rfind ("EVENT ", 0) != 0)
        continue;
      gsize sp = line.find (' ', 6);
      out.push_back ({ line.substr (6, sp - 6), line.substr (sp + 1) });
    }
    return out;
  }
  std::string output () const { return proc_.output (); }

private:
  Process proc_;
  guint port_ = 0;
};

std::string
discovery_topic (const char *component, const std::string & camera, const char *object)
{
  return std::string ("homeassistant/") + component + "/camrelay_" + NODE + "_" + camera + "/" +
      object + "/config";
}

std::string
mqtt_section (const Broker & broker, const std::string & extra = "")
{
  return "[mqtt]\nbroker = mqtt://ha:s3cretpw@127.0.0.1:" + std::to_string (broker.port) +
      "\nnode = " + NODE + "\nkeep-alive = 5\n" + extra;
}

/* The keys Home Assistant's MQTT discovery needs of every entity camrelay announces
 * (home-assistant.io/integrations/mqtt: availability, unique_id, device with identifiers). */
void
expect_common_keys (JsonObject *o, const std::string & camera, const std::string & base)
{
  ASSERT_NE (o, nullptr);
  EXPECT_NE (str_member (o, "unique_id"), "(null)");
  EXPECT_NE (str_member (o, "name"), "(null)");
  JsonArray *availability = json_object_get_array_member (o, "availability");
  ASSERT_NE (availability, nullptr);
  ASSERT_EQ (json_array_get_length (availability), 1u);
  JsonObject *a = json_array_get_object_element (availability, 0);
  EXPECT_EQ (str_member (a, "topic"), std::string ("camrelay/") + NODE + "/status");
  EXPECT_EQ (str_member (a, "payload_available"), "online");
  EXPECT_EQ (str_member (a, "payload_not_available"), "offline");
  JsonObject *d = json_object_get_object_member (o, "device");
  ASSERT_NE (d, nullptr);
  JsonArray *ids = json_object_get_array_member (d, "identifiers");
  ASSERT_NE (ids, nullptr);
  ASSERT_EQ (json_array_get_length (ids), 1u);
  EXPECT_EQ (json_array_get_string_element (ids, 0),
      std::string ("camrelay_") + NODE + "_" + camera);
  EXPECT_EQ (str_member (d, "name"), camera);
  EXPECT_EQ (str_member (d, "manufacturer"), "camrelay");
  EXPECT_NE (str_member (d, "model"), "(null)");
  EXPECT_NE (str_member (d, "sw_version"), "(null)");
  EXPECT_EQ (str_member (d, "configuration_url"), base + "/view");
}

std::string
everything_shown (const Relay & relay)
{
  return relay.proc->output () + relay.status_text () + http_get (relay.port, "/metrics").text ();
}

}  // namespace

/* Discovery, retained states, the live/offline changes on time, and the same changes as signed
 * webhooks, in order. */
TEST (Notify, DiscoveryStatesAndSignedWebhooks)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Subscriber sub (broker.port);
  ASSERT_TRUE (sub.ready ()) << sub.output ();
  Receiver receiver ("topsecret");
  Relay relay;
  const std::string base = "http://cams.example:3001";
  ASSERT_TRUE (relay.start (mqtt_section (broker, "public-url = " + base + "/\n") +
      "[events]\nurl = " + receiver.url () + "\nsecret = topsecret\n" +
      "[camera front]\ntimeout = 1\nmqtt-snapshot-interval = 0.2\n"
      "[camera back]\n"))
      << relay.proc->output ();

  /* Availability, states and discovery, all retained: a subscriber that comes later has them. */
  ASSERT_GE (sub.wait_for (std::string ("camrelay/") + NODE + "/status", "online"), 0)
      << relay.proc->output () << sub.output ();
  ASSERT_GE (sub.wait_for (discovery_topic ("camera", "front", "snapshot"), nullptr), 0);
  ASSERT_GE (sub.wait_for (discovery_topic ("sensor", "back", "fps"), nullptr), 0);
  Subscriber late (broker.port);
  ASSERT_TRUE (late.ready ());
  for (const std::string & topic : { std::string ("camrelay/") + NODE + "/status",
           std::string ("camrelay/front/state"), std::string ("camrelay/back/state"),
           discovery_topic ("binary_sensor", "front", "connectivity"),
           discovery_topic ("sensor", "front", "fps"),
           discovery_topic ("camera", "front", "snapshot"),
           discovery_topic ("binary_sensor", "back", "connectivity") })
    EXPECT_TRUE (late.last (topic).retained) << topic << " is not retained\n" << late.output ();
  EXPECT_EQ (late.last ("camrelay/front/state").text (), "offline");
  EXPECT_EQ (late.last (discovery_topic ("camera", "back", "snapshot")).text (), "")
      << "no camera entity without mqtt-snapshot-interval";

  Json binary (late.last (discovery_topic ("binary_sensor", "front", "connectivity")).text ());
  expect_common_keys (binary.root (), "front", base);
  EXPECT_EQ (str_member (binary.root (), "device_class"), "connectivity");
  EXPECT_EQ (str_member (binary.root (), "state_topic"), "camrelay/front/state");
  EXPECT_EQ (str_member (binary.root (), "payload_on"), "live");
  EXPECT_EQ (str_member (binary.root (), "payload_off"), "offline");
  Json fps (late.last (discovery_topic ("sensor", "front", "fps")).text ());
  expect_common_keys (fps.root (), "front", base);
  EXPECT_EQ (str_member (fps.root (), "state_topic"), "camrelay/front/attributes");
  EXPECT_EQ (str_member (fps.root (), "unit_of_measurement"), "fps");
  EXPECT_EQ (str_member (fps.root (), "state_class"), "measurement");
  EXPECT_EQ (str_member (fps.root (), "value_template"), "{{ value_json.fps }}");
  Json camera (late.last (discovery_topic ("camera", "front", "snapshot")).text ());
  expect_common_keys (camera.root (), "front", base);
  EXPECT_EQ (str_member (camera.root (), "topic"), "camrelay/front/snapshot");
  EXPECT_NE (str_member (binary.root (), "unique_id"), str_member (fps.root (), "unique_id"));

  /* The camera starts: "live" at once. */
  std::vector<Bytes> frames = make_jpegs (20, { 640, 480, 85, "ball" });
  WsClient cam (relay.port, "/ws/front");
  ASSERT_EQ (cam.status (), 101);
  int mark = sub.count ();
  gint64 t0 = g_get_monotonic_time ();
  auto sender = std::make_unique<Sender> (cam, frames, 10);
  ASSERT_GE (sub.wait_for ("camrelay/front/state", "live", mark), 0) << relay.proc->output ();
  EXPECT_LT (g_get_monotonic_time () - t0, G_USEC_PER_SEC) << "live later than a second";

  /* Its snapshot is one of its own frames; its attributes count them. */
  int snap = sub.wait_for ("camrelay/front/snapshot", nullptr, mark);
  ASSERT_GE (snap, 0);
  EXPECT_NE (std::find (frames.begin (), frames.end (), sub.messages ()[snap].payload),
      frames.end ());
  EXPECT_TRUE (wait_until ([&] {
    Json a (sub.last ("camrelay/front/attributes").text ());
    return a.ok () && int_member (a.root (), "frames_accepted") > 0 &&
        json_object_get_double_member (a.root (), "fps") > 0;
  })) << sub.last ("camrelay/front/attributes").text ();

  /* It stops sending: "offline" within timeout + 1 s; it comes back: "live" at once. */
  sender.reset ();
  mark = sub.count ();
  t0 = g_get_monotonic_time ();
  ASSERT_GE (sub.wait_for ("camrelay/front/state", "offline", mark), 0);
  RecordProperty ("offline_ms", static_cast<int> ((g_get_monotonic_time () - t0) / 1000));
  EXPECT_LT (g_get_monotonic_time () - t0, 2 * G_USEC_PER_SEC)
      << "offline later than timeout + 1 s";
  mark = sub.count ();
  t0 = g_get_monotonic_time ();
  ASSERT_TRUE (cam.send_binary (frames[0]));
  ASSERT_GE (sub.wait_for ("camrelay/front/state", "live", mark), 0);
  RecordProperty ("back_live_ms", static_cast<int> ((g_get_monotonic_time () - t0) / 1000));
  EXPECT_LT (g_get_monotonic_time () - t0, G_USEC_PER_SEC) << "live later than a second";

  /* The webhook saw the same: online, offline, online, signed, in order. */
  ASSERT_TRUE (wait_until ([&] { return receiver.events ().size () >= 3; }))
      << receiver.output () << relay.proc->output ();
  std::vector<Receiver::Event> events = receiver.events ();
  ASSERT_EQ (events.size (), 3u) << receiver.output ();
  const char *expected[] = { "online", "offline", "online" };
  gint64 seq = 0;
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ (events[i].signature, "valid") << events[i].body;
    Json e (events[i].body);
    ASSERT_TRUE (e.ok ()) << events[i].body;
    EXPECT_EQ (str_member (e.root (), "camera"), "front");
    EXPECT_EQ (str_member (e.root (), "event"), expected[i]);
    EXPECT_NE (str_member (e.root (), "time"), "(null)");
    EXPECT_GT (int_member (e.root (), "seq"), seq);
    seq = int_member (e.root (), "seq");
  }

  /* /status: the broker connected and counting, the webhook delivered; no password anywhere. */
  Json status (relay.status_text ());
  JsonObject *mqtt = json_object_get_object_member (status.root (), "mqtt");
  ASSERT_NE (mqtt, nullptr) << relay.status_text ();
  EXPECT_TRUE (json_object_get_boolean_member (mqtt, "connected"));
  EXPECT_GT (int_member (mqtt, "messages_published"), 8);
  EXPECT_EQ (str_member (mqtt, "broker"), "mqtt://127.0.0.1:" + std::to_string (broker.port));
  JsonArray *hooks = json_object_get_array_member (status.root (), "webhooks");
  ASSERT_EQ (json_array_get_length (hooks), 1u);
  EXPECT_EQ (int_member (json_array_get_object_element (hooks, 0), "delivered"), 3);
  EXPECT_NE (http_get (relay.port, "/metrics").text ().find ("camrelay_mqtt_connected 1"),
      std::string::npos);
  std::string shown = everything_shown (relay) +
      run ({ program_path (), "--config", relay.conf, "--check" }).output;
  EXPECT_EQ (shown.find ("s3cretpw"), std::string::npos) << shown;
  EXPECT_EQ (shown.find ("topsecret"), std::string::npos);

  /* A camera with nothing going on: its attributes were published once, never again. */
  int idle = 0;
  for (const auto & m : sub.messages ())
    idle += m.topic == "camrelay/back/attributes";
  EXPECT_EQ (idle, 1) << "attributes published while nothing changed";

  /* A clean stop says "offline" itself (the Last Will is for a camrelay that vanishes). */
  mark = sub.count ();
  EXPECT_EQ (relay.proc->stop (SIGTERM, 10000), 0) << relay.proc->output ();
  EXPECT_GE (sub.wait_for (std::string ("camrelay/") + NODE + "/status", "offline", mark), 0);
}

/* The broker restarts (its retained messages gone): camrelay connects again within its backoff
 * and publishes everything again, with one log line per change. Then camrelay is killed: the
 * broker says "offline" for it, by its Last Will. */
TEST (Notify, RepublishedAfterABrokerRestartAndOfflineByTheLastWill)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Relay relay;
  ASSERT_TRUE (relay.start (mqtt_section (broker) + "[camera a]\n")) << relay.proc->output ();
  const std::string status_topic = std::string ("camrelay/") + NODE + "/status";
  {
    Subscriber sub (broker.port);
    ASSERT_GE (sub.wait_for (status_topic, "online"), 0) << relay.proc->output ();
  }

  guint port = broker.port;
  broker.stop ();
  ASSERT_TRUE (relay.proc->wait_for_output ("mqtt: broker", 10000)) << relay.proc->output ();
  g_usleep (2500 * 1000); /* camrelay tries again meanwhile, refused each time */
  Broker again;
  ASSERT_TRUE (again.start (port));
  gint64 t0 = g_get_monotonic_time ();
  Subscriber sub (port);
  ASSERT_GE (sub.wait_for (status_topic, "online", 0, 10000), 0) << relay.proc->output ();
  RecordProperty ("reconnect_ms", static_cast<int> ((g_get_monotonic_time () - t0) / 1000));
  EXPECT_LT (g_get_monotonic_time () - t0, 5 * G_USEC_PER_SEC) << "slower than the backoff";
  EXPECT_GE (sub.wait_for ("camrelay/a/state", "offline"), 0);
  EXPECT_GE (sub.wait_for (discovery_topic ("binary_sensor", "a", "connectivity"), nullptr), 0);
  std::string log = relay.proc->output ();
  gsize refused = 0;
  for (gsize at = log.find ("Connection refused"); at != std::string::npos;
       at = log.find ("Connection refused", at + 1))
    refused++;
  EXPECT_EQ (refused, 1u) << "one log line per change of cause:\n" << log;
  EXPECT_NE (log.find ("mqtt: connected"), log.rfind ("mqtt: connected")) << log;

  int mark = sub.count ();
  relay.proc->send_signal (SIGKILL);
  t0 = g_get_monotonic_time ();
  ASSERT_GE (sub.wait_for (status_topic, "offline", mark, 10000), 0) << sub.output ();
  RecordProperty ("last_will_ms", static_cast<int> ((g_get_monotonic_time () - t0) / 1000));
  EXPECT_LT (g_get_monotonic_time () - t0, 8 * G_USEC_PER_SEC) << "later than 1.5 keep-alives";
}

/* A reload that removes a camera empties its discovery topics: Home Assistant drops its
 * entities; the cameras that stay keep theirs. */
TEST (Notify, AReloadRemovingACameraEmptiesItsDiscoveryTopics)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Subscriber sub (broker.port);
  ASSERT_TRUE (sub.ready ());
  Relay relay;
  ASSERT_TRUE (relay.start (mqtt_section (broker) + "[camera keep]\n[camera gone]\n"))
      << relay.proc->output ();
  const std::string gone = discovery_topic ("binary_sensor", "gone", "connectivity");
  ASSERT_GE (sub.wait_for (gone, nullptr), 0) << relay.proc->output ();
  ASSERT_GE (sub.wait_for (discovery_topic ("sensor", "gone", "fps"), nullptr), 0);
  int mark = sub.count ();

  relay.dir.write ("camrelay.conf",
      "[server]\naddress = 127.0.0.1\n" + mqtt_section (broker) + "[camera keep]\n");
  relay.proc->send_signal (SIGHUP);
  ASSERT_TRUE (relay.proc->wait_for_output ("1 removed", 10000)) << relay.proc->output ();
  EXPECT_GE (sub.wait_for (gone, "", mark), 0) << sub.output ();
  EXPECT_GE (sub.wait_for (discovery_topic ("sensor", "gone", "fps"), "", mark), 0);
  EXPECT_GE (sub.wait_for ("camrelay/gone/state", "", mark), 0);

  Subscriber late (broker.port);
  ASSERT_TRUE (late.ready ());
  EXPECT_EQ (late.find (gone, nullptr), -1) << "still retained";
  EXPECT_GE (late.find (discovery_topic ("binary_sensor", "keep", "connectivity"), nullptr), 0);
}

namespace {

gint64
rss_kib (int pid)
{
  std::ifstream in ("/proc/" + std::to_string (pid) + "/status");
  std::string line;
  while (std::getline (in, line)) {
    if (line.rfind ("VmRSS:", 0) == 0)
      return std::atoll (line.c_str () + 6);
  }
  return -1;
}

}  // namespace

/* A webhook receiver that never answers and a broker that stops reading (SIGSTOP) while two
 * cameras stream large frames with MQTT snapshots and a third one flaps between live and offline:
 * every frame still reaches the viewer in order and on time, and what waits stays bounded. */
TEST (Notify, AHangingReceiverAndAStoppedBrokerDelayNoFrame)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Receiver receiver ("", true);
  Relay relay;
  ASSERT_TRUE (relay.start (mqtt_section (broker) + "[events]\nurl = " + receiver.url () +
      "\ntimeout = 2\nqueue-size = 4\n"
      "[camera a]\nmqtt-snapshot-interval = 0.05\n"
      "[camera b]\nmqtt-snapshot-interval = 0.05\n"
      "[camera flap]\ntimeout = 0.2\n"))
      << relay.proc->output ();
  ASSERT_TRUE (wait_until ([&] {
    Json s (relay.status_text ());
    JsonObject *m = s.ok () ? json_object_get_object_member (s.root (), "mqtt") : nullptr;
    return m && json_object_get_boolean_member (m, "connected");
  })) << relay.status_text ();

  broker.proc->send_signal (SIGSTOP);
  std::vector<Bytes> frames = make_jpegs (96, { 960, 540, 90, "snow" });
  gint64 rss_before = rss_kib (relay.proc->pid ());

  WsClient cam_a (relay.port, "/ws/a");
  WsClient cam_b (relay.port, "/ws/b");
  WsClient cam_flap (relay.port, "/ws/flap");
  ASSERT_EQ (cam_a.status (), 101);
  ASSERT_EQ (cam_b.status (), 101);
  ASSERT_EQ (cam_flap.status (), 101);
  MjpegReader viewer (relay.port, "/stream/a");
  ASSERT_EQ (viewer.status (), 200);
  Sender sender_b (cam_b, frames, 12, frames.size ());
  Sender sender_a (cam_a, frames, 12, frames.size ());
  std::atomic<bool> flapping{ true };
  std::thread flap ([&] {
    /* One frame every 0.6 s with a 0.2 s timeout: online and offline events, over and over. */
    while (flapping) {
      cam_flap.send_binary (frames[0]);
      g_usleep (600 * 1000);
    }
  });

  /* Every frame of camera a, in order, none held back. */
  Bytes placeholder = read_file (relay.dir.file ("placeholder.jpg"));
  std::vector<int> seen;
  gint64 longest_gap = 0, last_us = g_get_monotonic_time ();
  Bytes part;
  while (seen.size () < frames.size () && viewer.next_part (part, 2000)) {
    if (part == placeholder)
      continue;
    gint64 now = g_get_monotonic_time ();
    if (!seen.empty ())
      longest_gap = std::max (longest_gap, now - last_us);
    last_us = now;
    auto it = std::find (frames.begin (), frames.end (), part);
    seen.push_back (it == frames.end () ? -1 : static_cast<int> (it - frames.begin ()));
  }
  flapping = false;
  flap.join ();
  ASSERT_EQ (seen.size (), frames.size ()) << relay.status_text ();
  for (gsize i = 0; i < seen.size (); i++)
    ASSERT_EQ (seen[i], static_cast<int> (i)) << "frame missing or out of order\n"
                                              << relay.status_text ();
  RecordProperty ("longest_gap_ms", static_cast<int> (longest_gap / 1000));
  EXPECT_LT (longest_gap, G_USEC_PER_SEC / 2) << "a frame held back";

  /* What waits is bounded: the webhook queue at its size (the oldest dropped), the MQTT topics
   * at their latest values. */
  Json status (relay.status_text ());
  JsonArray *hooks = json_object_get_array_member (status.root (), "webhooks");
  ASSERT_NE (hooks, nullptr) << relay.status_text ();
  JsonObject *hook = json_array_get_object_element (hooks, 0);
  EXPECT_LE (int_member (hook, "queued"), 4);
  EXPECT_GT (int_member (hook, "dropped"), 0) << relay.status_text ();
  EXPECT_EQ (int_member (hook, "delivered"), 0);
  JsonObject *mqtt = json_object_get_object_member (status.root (), "mqtt");
  EXPECT_LE (int_member (mqtt, "queued_bytes"), 8 * 1024 * 1024) << relay.status_text ();
  gint64 growth = rss_kib (relay.proc->pid ()) - rss_before;
  RecordProperty ("rss_growth_kib", static_cast<int> (growth));
#ifndef __SANITIZE_ADDRESS__
  /* (AddressSanitizer keeps freed memory in quarantine: there only camrelay's own count holds.) */
  EXPECT_LT (growth, 24 * 1024) << "KiB more memory while the broker and the receiver stall";
#endif
  broker.proc->send_signal (SIGCONT);
}

/* mqtts:// with ca-file: the broker's certificate checked against the given CA. */
TEST (Notify, MqttsWithACaFile)
{
  TempDir certs;
  std::string cert = certs.file ("cert.pem"), key = certs.file ("key.pem");
  ASSERT_EQ (run ({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                      key, "-out", cert },
                 30000)
                 .code,
      0);
  /* Run as root, mosquitto drops to its own user before it reads them. */
  for (const std::string & path : { certs.path (), cert, key })
    g_chmod (path.c_str (), path == certs.path () ? 0755 : 0644);
  Broker broker;
  ASSERT_TRUE (broker.start (0, "certfile " + cert + "\nkeyfile " + key + "\n"));
  Relay relay;
  ASSERT_TRUE (relay.start ("[mqtt]\nbroker = mqtts://127.0.0.1:" + std::to_string (broker.port) +
      "\nca-file = " + cert + "\nnode = " + NODE + "\n[camera a]\n"))
      << relay.proc->output ();
  Subscriber sub (broker.port, cert);
  EXPECT_GE (sub.wait_for (std::string ("camrelay/") + NODE + "/status", "online"), 0)
      << relay.proc->output () << sub.output ();
  EXPECT_GE (sub.wait_for ("camrelay/a/state", "offline"), 0);

  /* Another CA: the broker is not trusted, and camrelay says so (and streams on). */
  std::string other = certs.file ("other.pem"), other_key = certs.file ("other-key.pem");
  ASSERT_EQ (run ({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                      "-subj", "/CN=127.0.0.1", "-keyout", other_key, "-out", other },
                 30000)
                 .code,
      0);
  Relay untrusting;
  ASSERT_TRUE (untrusting.start ("[mqtt]\nbroker = mqtts://127.0.0.1:" +
      std::to_string (broker.port) + "\nca-file = " + other + "\nnode = other\n[camera a]\n"))
      << untrusting.proc->output ();
  EXPECT_TRUE (untrusting.proc->wait_for_output ("mqtt: broker", 10000))
      << untrusting.proc->output ();
  EXPECT_EQ (sub.find ("camrelay/other/status", nullptr), -1);
  /* Streams on: the placeholder is served once the camera's pipeline has published it. */
  EXPECT_TRUE (
      wait_until ([&] { return http_get (untrusting.port, "/snapshot/a.jpg").status == 200; },
          10000));
}

/* A receiver that is down (503) while a camera flaps: the events wait in a queue of queue-size,
 * the oldest dropped and counted; once it is back it gets what was kept, in order, the newest
 * event last. */
TEST (Notify, AReceiverThatIsDownGetsTheNewestEventsInOrder)
{
  TempDir flags;
  std::string down = flags.write ("down", "");
  Receiver receiver ("", false, down);
  Relay relay;
  ASSERT_TRUE (relay.start (
      "[events]\nurl = " + receiver.url () + "\nqueue-size = 3\n[camera flap]\ntimeout = 0.2\n"))
      << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (1, { 640, 480, 85, "ball" });
  WsClient cam (relay.port, "/ws/flap");
  ASSERT_EQ (cam.status (), 101);
  for (int i = 0; i < 6; i++) {
    ASSERT_TRUE (cam.send_binary (frames[0]));
    g_usleep (900 * 1000);
  }
  ASSERT_TRUE (wait_until ([&] { return receiver.output ().find ("DOWN ") != std::string::npos; }))
      << receiver.output ();
  std::remove (down.c_str ());

  /* Every event kept is delivered; the newest (the last "offline") is never the one dropped. */
  gint64 dropped = -1, queued = -1;
  ASSERT_TRUE (wait_until (
      [&] {
        Json s (relay.status_text ());
        JsonArray *hooks = s.ok () ? json_object_get_array_member (s.root (), "webhooks") : nullptr;
        if (!hooks || json_array_get_length (hooks) != 1)
          return false;
        JsonObject *h = json_array_get_object_element (hooks, 0);
        dropped = int_member (h, "dropped");
        queued = int_member (h, "queued");
        return queued == 0 && int_member (h, "delivered") > 0;
      },
      40000))
      << relay.status_text ();
  std::vector<Receiver::Event> events = receiver.events ();
  ASSERT_FALSE (events.empty ());
  gint64 seq = 0;
  for (const auto & e : events) {
    Json j (e.body);
    EXPECT_GT (int_member (j.root (), "seq"), seq) << "out of order: " << receiver.output ();
    seq = int_member (j.root (), "seq");
  }
  Json last (events.back ().body);
  EXPECT_EQ (str_member (last.root (), "event"), "offline");
  /* 12 events (6 x online, offline); 3 kept, the rest dropped. */
  EXPECT_EQ (seq, 12) << receiver.output ();
  EXPECT_EQ (static_cast<gint64> (events.size ()), 3);
  EXPECT_EQ (dropped, 12 - 3) << relay.status_text ();
}

/* A wrong [mqtt] or [events] key stops camrelay at start-up naming the section and the key, and
 * the message never shows the broker's password. */
TEST (Notify, ConfigErrorsNameTheKeyAndHideThePassword)
{
  struct Case
  {
    const char *text;
    const char *expected;
  };
  const Case cases[] = {
    { "[mqtt]\nbroker = http://u:pw1234@host\n", "[mqtt] broker: expected mqtt://" },
    { "[mqtt]\nbroker = mqtt://u:pw1234@\n", "[mqtt] broker:" },
    { "[mqtt]\nnode = x\n", "[mqtt] broker: give the broker's URL" },
    { "[mqtt]\nbroker = mqtt://u:pw1234@host\ntopic-prefix = a/#\n", "[mqtt] topic-prefix:" },
    { "[mqtt]\nbroker = mqtt://u:pw1234@host\nca-file = ca.pem\n",
        "[mqtt] ca-file: only applies to an mqtts:// broker" },
    { "[mqtt]\nbroker = mqtt://u:pw1234@host\nkeep-alive = 1\n", "[mqtt] keep-alive:" },
    { "[events]\nurl = ftp://u:pw1234@host/x\n", "[events] url: \"ftp://host/x\" is not" },
    { "[events]\nsecret = s\n", "[events] url: give at least one" },
    { "[events]\nurl = http://h/\nqueue-size = 0\n", "[events] queue-size:" },
    { "[camera a]\nmqtt-snapshot-interval = -1\n", "[camera a] mqtt-snapshot-interval:" },
  };
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  for (const Case & c : cases) {
    std::string conf = dir.write ("bad.conf", c.text);
    RunResult r = run ({ program_path (), "--config", conf, "--check" }, 30000);
    EXPECT_EQ (r.code, 2) << c.text << r.output;
    EXPECT_NE (r.output.find (c.expected), std::string::npos) << c.text << r.output;
    EXPECT_EQ (r.output.find ("pw1234"), std::string::npos) << r.output;
  }
}

/* ---- Motion (jpegmotion on the camera's tee) --------------------------------------------- */

namespace {

/* Frame @i of a camera watching a still scene with sensor grain (tests/common/motionscene.h). */
Bytes
still_scene (int i, double offset = 0)
{
  SceneFrame f;
  f.seed = 5000 + i;
  f.offset = offset;
  return scene_jpeg (f);
}

/* Sends @frames paced at @fps from this thread. */
void
send_paced (WsClient & cam, const std::vector<Bytes> & frames, double fps)
{
  const gint64 start = g_get_monotonic_time ();
  for (gsize i = 0; i < frames.size (); i++) {
    const gint64 due = start + static_cast<gint64> (i * 1e6 / fps);
    const gint64 now = g_get_monotonic_time ();
    if (due > now)
      g_usleep (due - now);
    ASSERT_TRUE (cam.send_binary (frames[i]));
  }
}

/* The webhook events named @name. */
std::vector<std::string>
bodies_of (const Receiver & receiver, const char *name)
{
  std::vector<std::string> out;
  for (const auto & e : receiver.events ()) {
    Json j (e.body);
    if (j.ok () && str_member (j.root (), "event") == name)
      out.push_back (e.body);
  }
  return out;
}

}  // namespace

/* A square crossing a camera's picture at 5 fps: motion-start within a second of its first
 * frame on MQTT (the motion binary_sensor's state topic, announced by discovery), as a signed
 * webhook, in /status, /metrics and /view; motion-end after the hold once the scene is still. */
TEST (Notify, MotionStartAndEndEverywhere)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Subscriber sub (broker.port);
  ASSERT_TRUE (sub.ready ()) << sub.output ();
  Receiver receiver ("topsecret");
  Relay relay;
  ASSERT_TRUE (relay.start (mqtt_section (broker) + "[events]\nurl = " + receiver.url () +
      "\nsecret = topsecret\n[camera porch]\nmotion = true\nmotion-hold = 1.5\n"
      "motion-mask = 0,0,1,0.05\n[camera back]\n"))
      << relay.proc->output ();

  /* Discovery: a motion binary_sensor for the camera with motion, none for the other. */
  ASSERT_GE (sub.wait_for (discovery_topic ("binary_sensor", "porch", "motion"), nullptr), 0)
      << sub.output ();
  ASSERT_GE (sub.wait_for ("camrelay/porch/motion", "OFF"), 0) << sub.output ();
  Json motion_entity (sub.last (discovery_topic ("binary_sensor", "porch", "motion")).text ());
  expect_common_keys (motion_entity.root (), "porch", relay.url (""));
  EXPECT_EQ (str_member (motion_entity.root (), "device_class"), "motion");
  EXPECT_EQ (str_member (motion_entity.root (), "state_topic"), "camrelay/porch/motion");
  EXPECT_EQ (str_member (motion_entity.root (), "payload_on"), "ON");
  EXPECT_EQ (str_member (motion_entity.root (), "payload_off"), "OFF");
  EXPECT_EQ (sub.find (discovery_topic ("binary_sensor", "back", "motion"), nullptr) >= 0
          ? sub.last (discovery_topic ("binary_sensor", "back", "motion")).text ()
          : "",
      "")
      << "no motion entity without motion = true";

  WsClient cam (relay.port, "/ws/porch");
  ASSERT_EQ (cam.status (), 101);
  std::vector<Bytes> still;
  for (int i = 0; i < 15; i++)
    still.push_back (still_scene (i));
  send_paced (cam, still, 5);
  EXPECT_TRUE (bodies_of (receiver, "motion-start").empty ()) << receiver.output ();

  /* The square crosses: 120 px, 40 px a frame, at 5 fps. */
  std::vector<Bytes> crossing;
  for (int x = 0; x + 120 <= 640; x += 40) {
    SceneFrame f;
    f.seed = 6000 + x;
    f.square = 120;
    f.square_x = x;
    f.square_y = 200;
    crossing.push_back (scene_jpeg (f));
  }
  int mark = sub.count ();
  const gint64 t0 = g_get_monotonic_time ();
  std::thread sender ([&] { send_paced (cam, crossing, 5); });
  int on = sub.wait_for ("camrelay/porch/motion", "ON", mark, 5000);
  const gint64 on_us = g_get_monotonic_time () - t0;
  bool webhook = wait_until ([&] { return !bodies_of (receiver, "motion-start").empty (); }, 5000);
  const gint64 hook_us = g_get_monotonic_time () - t0;
  /* Mid-crossing: /status and /metrics say so, /view shows the badge. */
  Json during (relay.status_text ());
  std::string metrics = http_get (relay.port, "/metrics").text ();
  std::string view = http_get (relay.port, "/view").text ();
  sender.join ();
  ASSERT_GE (on, 0) << sub.output () << relay.proc->output ();
  RecordProperty ("motion_mqtt_ms", static_cast<int> (on_us / 1000));
  RecordProperty ("motion_webhook_ms", static_cast<int> (hook_us / 1000));
  EXPECT_LE (on_us, G_USEC_PER_SEC) << "motion-start on MQTT more than a second after the square";
  ASSERT_TRUE (webhook) << receiver.output ();
  EXPECT_LE (hook_us, G_USEC_PER_SEC) << "motion-start webhook more than a second later";
  JsonObject *motion = json_object_get_object_member (during.camera ("porch"), "motion");
  ASSERT_NE (motion, nullptr) << relay.status_text ();
  EXPECT_TRUE (json_object_get_boolean_member (motion, "active"));
  EXPECT_EQ (int_member (motion, "events"), 1);
  EXPECT_GT (int_member (motion, "frames_analysed"), 5); /* every other frame, by default */
  EXPECT_TRUE (json_object_get_null_member (during.camera ("back"), "motion"));
  EXPECT_NE (metrics.find ("camrelay_camera_motion{camera=\"porch\"} 1"), std::string::npos)
      << metrics;
  EXPECT_EQ (metrics.find ("camrelay_camera_motion{camera=\"back\"}"), std::string::npos);
  EXPECT_NE (view.find ("<span class=\"motion\">motion</span>"), std::string::npos)
      << "no motion badge on /view";

  /* Still again: motion-end after the hold (1.5 s after the square's last frame). */
  mark = sub.count ();
  const gint64 last = g_get_monotonic_time ();
  std::vector<Bytes> after;
  for (int i = 0; i < 20; i++)
    after.push_back (still_scene (100 + i));
  std::thread still_sender ([&] { send_paced (cam, after, 5); });
  int off = sub.wait_for ("camrelay/porch/motion", "OFF", mark, 10000);
  const gint64 off_us = g_get_monotonic_time () - last;
  still_sender.join ();
  ASSERT_GE (off, 0) << sub.output ();
  EXPECT_GE (off_us, 1300000) << "motion-end before the hold";
  EXPECT_LE (off_us, 4000000);
  ASSERT_TRUE (wait_until ([&] { return !bodies_of (receiver, "motion-end").empty (); }))
      << receiver.output ();

  /* The webhooks: signed, in order, with the camera, the time and the area. */
  std::vector<Receiver::Event> events;
  for (const auto & e : receiver.events ()) {
    Json j (e.body);
    if (str_member (j.root (), "event").rfind ("motion", 0) == 0)
      events.push_back (e);
  }
  ASSERT_EQ (events.size (), 2u) << receiver.output ();
  for (int i = 0; i < 2; i++) {
    Json j (events[i].body);
    EXPECT_EQ (events[i].signature, "valid");
    EXPECT_EQ (str_member (j.root (), "camera"), "porch");
    EXPECT_EQ (str_member (j.root (), "event"), i == 0 ? "motion-start" : "motion-end");
    EXPECT_NE (str_member (j.root (), "time"), "(null)");
    double area = json_object_get_double_member (j.root (), "area");
    EXPECT_GT (area, 0.02) << events[i].body;
    EXPECT_LT (area, 0.2) << events[i].body;
  }
  /* Retained, for Home Assistant started later. */
  Subscriber late (broker.port);
  ASSERT_TRUE (late.ready ());
  EXPECT_TRUE (late.last (discovery_topic ("binary_sensor", "porch", "motion")).retained);
  EXPECT_TRUE (late.last ("camrelay/porch/motion").retained);
  EXPECT_EQ (late.last ("camrelay/porch/motion").text (), "OFF");

  Json after_status (relay.status_text ());
  motion = json_object_get_object_member (after_status.camera ("porch"), "motion");
  EXPECT_FALSE (json_object_get_boolean_member (motion, "active"));
  EXPECT_NE (str_member (motion, "last_end"), "(null)");
}

/* A still scene with sensor grain while the light drifts slowly (25 s at 5 fps; the 5-minute run
 * is in tests/bench/motion-bench.py): no motion event anywhere. */
TEST (Notify, StillNoisySceneWithLightDriftIsNoMotion)
{
  Broker broker;
  ASSERT_TRUE (broker.start ());
  Subscriber sub (broker.port);
  ASSERT_TRUE (sub.ready ()) << sub.output ();
  Receiver receiver ("topsecret");
  Relay relay;
  ASSERT_TRUE (relay.start (mqtt_section (broker) + "[events]\nurl = " + receiver.url () +
      "\n[camera porch]\nmotion = true\n"))
      << relay.proc->output ();
  ASSERT_GE (sub.wait_for ("camrelay/porch/motion", "OFF"), 0) << sub.output ();
  WsClient cam (relay.port, "/ws/porch");
  ASSERT_EQ (cam.status (), 101);
  const int n = 125;
  std::vector<Bytes> frames;
  for (int i = 0; i < n; i++)
    frames.push_back (still_scene (i, -30.0 * i / n)); /* dusk: 30 levels darker */
  send_paced (cam, frames, 5);
  ASSERT_TRUE (wait_until ([&] {
    Json s (relay.status_text ());
    JsonObject *m = json_object_get_object_member (s.camera ("porch"), "motion");
    return int_member (m, "frames_analysed") + int_member (m, "frames_skipped") >= n - 5;
  })) << relay.status_text ();
  Json status (relay.status_text ());
  JsonObject *motion = json_object_get_object_member (status.camera ("porch"), "motion");
  EXPECT_EQ (int_member (motion, "events"), 0);
  EXPECT_FALSE (json_object_get_boolean_member (motion, "active"));
  EXPECT_EQ (sub.find ("camrelay/porch/motion", "ON"), -1) << sub.output ();
  EXPECT_TRUE (bodies_of (receiver, "motion-start").empty ()) << receiver.output ();
}

/* Motion off costs nothing: a camera without motion = true gets no jpegmotion and no branch tee
 * in the pipeline camrelay runs (what --print-pipeline prints), so none of its frames is even
 * looked at; the camera with it gets exactly one. */
TEST (Notify, MotionOffAddsNoMotionBranch)
{
  TempDir dir;
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  const std::string conf =
      dir.write ("camrelay.conf", "[camera watched]\nmotion = true\n[camera plain]\n");
  RunResult print =
      run ({ program_path (), "--config", conf, "--print-pipeline" }, 60000, {}, dir.path ());
  ASSERT_EQ (print.code, 0) << print.output;
  std::string watched, plain;
  std::istringstream lines (print.output);
  for (std::string line; std::getline (lines, line);) {
    if (line.find ("paths=/ws/watched ") != std::string::npos)
      watched = line;
    if (line.find ("paths=/ws/plain ") != std::string::npos)
      plain = line;
  }
  ASSERT_FALSE (watched.empty ()) << print.output;
  ASSERT_FALSE (plain.empty ()) << print.output;
  auto count = [] (const std::string & text, const std::string & what) {
    gsize n = 0;
    for (gsize at = text.find (what); at != std::string::npos; at = text.find (what, at + 1))
      n++;
    return n;
  };
  EXPECT_EQ (count (watched, "jpegmotion"), 1u) << watched;
  EXPECT_EQ (count (watched, "tee name=rec "), 1u) << watched;
  EXPECT_EQ (count (plain, "jpegmotion"), 0u) << plain;
  EXPECT_EQ (count (plain, "tee name=rec "), 0u) << "a branch tee without motion: " << plain;
}

/* A recording that cannot be written (its folder is a file) is one signed "recording-error"
 * webhook with the reason, not one per file it then fails on; the stream goes on. */
TEST (Notify, ARecordingThatCannotWriteIsOneRecordingErrorWebhook)
{
  Receiver receiver ("topsecret");
  Relay relay;
  relay.dir.write ("recordings/cam", "a file where the camera's folder should be");
  ASSERT_TRUE (relay.start (
      "[events]\nurl = " + receiver.url () + "\nsecret = topsecret\n[camera cam]\nrecord = true\n"))
      << relay.proc->output ();
  WsClient cam (relay.port, "/ws/cam");
  ASSERT_EQ (cam.status (), 101);
  std::vector<Bytes> frames;
  for (int i = 0; i < 15; i++)
    frames.push_back (still_scene (i));
  send_paced (cam, frames, 5); /* 3 s: it fails on a new file every second */
  ASSERT_TRUE (wait_until ([&] { return !bodies_of (receiver, "recording-error").empty (); }))
      << receiver.output () << relay.proc->output ();
  /* It tried again on the next second's file, and failed again: still one webhook. */
  const std::string errors_metric =
      "camrelay_camera_recording_errors_total{camera=\"cam\",kind=\"record\"} ";
  std::string metrics;
  ASSERT_TRUE (wait_until ([&] {
    metrics = http_get (relay.port, "/metrics").text ();
    gsize at = metrics.find (errors_metric);
    return at != std::string::npos &&
        g_ascii_strtoull (metrics.c_str () + at + errors_metric.size (), nullptr, 10) >= 2;
  })) << "failed on one file only: "
      << metrics;
  ASSERT_TRUE (wait_until ([&] { return camera_int (relay, "cam", "frames_accepted") == 15; }))
      << relay.status_text ();
  std::vector<std::string> errors = bodies_of (receiver, "recording-error");
  ASSERT_EQ (errors.size (), 1u) << receiver.output ();
  Json e (errors[0]);
  EXPECT_EQ (str_member (e.root (), "camera"), "cam");
  EXPECT_NE (str_member (e.root (), "reason").find ("Not a directory"), std::string::npos)
      << errors[0];
  EXPECT_EQ (str_member (e.root (), "location"), relay.dir.file ("recordings/cam")) << errors[0];
  for (const auto & ev : receiver.events ())
    EXPECT_EQ (ev.signature, "valid") << ev.body;
}
