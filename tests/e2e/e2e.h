/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the camrelay program's end-to-end suites (the shared ones are in tests/common): the
 * real binary started with a config in a temporary directory, its /status read as JSON, and a
 * camera that sends at a steady pace from its own thread. */
#pragma once

#include "netclient.h"
#include "subprocess.h"

#include <json-glib/json-glib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace crtest {

/* The camrelay binary: $CAMRELAY_PROGRAM, else $CAMRELAY_BUILD_ROOT/pipeline/camrelay. */
std::string program_path ();

/* camrelay started with @args; port() is the one its start-up line names. */
class Camrelay : public Process
{
public:
  explicit Camrelay (const std::vector<std::string> & args, const Env & env = {},
      const std::string & cwd = "");
  /* Waits for the start-up line; false if it did not come. */
  bool started (int timeout_ms = 20000);
  guint port () const { return port_; }

private:
  guint port_ = 0;
};

/* camrelay with a config file in a temporary directory (next to a copy of placeholder.jpg),
 * listening on 127.0.0.1 on a port of its choosing. */
struct Relay
{
  TempDir dir;
  std::string conf;
  std::unique_ptr<Camrelay> proc;
  guint port = 0;

  /* @config follows a "[server] address = 127.0.0.1" section. */
  bool start (const std::string & config, const std::vector<std::string> & extra = {});
  std::string url (const std::string & path, const char *scheme = "http") const;
  std::string status_text () const { return http_get (port, "/status").text (); }
};

/* Parses @text; the returned node is owned by the Json object. */
class Json
{
public:
  explicit Json (const std::string & text);
  ~Json ();
  Json (const Json &) = delete;
  Json & operator= (const Json &) = delete;
  bool ok () const { return root_ != nullptr; }
  JsonObject *root () const;
  /* The camera object named @name in "cameras", or nullptr. */
  JsonObject *camera (const std::string & name) const;

private:
  JsonParser *parser_ = nullptr;
  JsonNode *root_ = nullptr;
};

/* A string member; "(null)" if @o is null or the member is missing or null. */
std::string str_member (JsonObject *o, const char *name);
/* An integer member; -1 if @o is null or the member is missing. */
gint64 int_member (JsonObject *o, const char *name);
/* The integer @field of @camera in the relay's /status; -1 if missing. */
gint64 camera_int (const Relay & relay, const char *camera, const char *field);

/* Sends frames from its own thread, paced like a camera, until stopped or @count are sent
 * (0: no limit; frames are sent round and round). @fps = 0: back to back. */
class Sender
{
public:
  Sender (WsClient & cam, std::vector<Bytes> frames, double fps, int count = 0);
  ~Sender () { stop (); }
  Sender (const Sender &) = delete;
  Sender & operator= (const Sender &) = delete;

  void stop ();
  int sent () const { return sent_; }
  bool failed () const { return failed_; }

private:
  void run ();

  WsClient & cam_;
  std::vector<Bytes> frames_;
  double fps_;
  int count_;
  std::atomic<bool> stop_{ false };
  std::atomic<int> sent_{ 0 };
  std::atomic<bool> failed_{ false };
  std::thread thread_;
};

/* Frames camrelay has dealt with for @camera: accepted, rejected, or dropped while its pipeline
 * was busy. */
gint64 frames_settled (const Relay & relay, const char *camera);

/* Sends @frame and waits until camrelay has dealt with it, so that the next frame cannot push it
 * out of wsjpegsrc's short queue: the counts a test expects are then exact. */
bool send_settled (const Relay & relay, WsClient & cam, const char *camera, const Bytes & frame);

/* Reads parts until @sent's last frame arrives. Returns the index in @sent of every part that is
 * one of them; other parts (the placeholder) only count in @others. */
std::vector<int> read_until_last (MjpegReader & viewer, const std::vector<Bytes> & sent,
    int *others, int timeout_ms = 20000);

}  // namespace crtest
