/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers for the camrelay program's end-to-end suites. */
#include "e2e.h"

#include <map>

#include "wait.h"

namespace crtest {

std::string
program_path ()
{
  if (const char *p = g_getenv ("CAMRELAY_PROGRAM"))
    return p;
  return build_path ("pipeline/camrelay");
}

static std::vector<std::string>
prepend (const std::string & first, const std::vector<std::string> & rest)
{
  std::vector<std::string> out{ first };
  out.insert (out.end (), rest.begin (), rest.end ());
  return out;
}

static Env
with_log_defaults (Env env)
{
  env.emplace ("G_MESSAGES_DEBUG", "camrelay");
  return env;
}

Camrelay::Camrelay (const std::vector<std::string> & args, const Env & env, const std::string & cwd)
  : Process (prepend (program_path (), args), with_log_defaults (env), cwd)
{}

bool
Camrelay::started (int timeout_ms)
{
  if (!wait_for_output (" listening on ", timeout_ms))
    return false;
  /* "... listening on ADDRESS port N: ..." */
  std::string out = output ();
  gsize at = out.find (" listening on ");
  gsize p = out.find (" port ", at);
  if (p == std::string::npos)
    return false;
  port_ = static_cast<guint> (g_ascii_strtoull (out.c_str () + p + 6, nullptr, 10));
  return port_ != 0;
}

bool
Relay::start (const std::string & config, const std::vector<std::string> & extra)
{
  dir.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
  conf = dir.write ("camrelay.conf", "[server]\naddress = 127.0.0.1\n" + config);
  std::vector<std::string> args{ "--config", conf, "--port", "0" };
  args.insert (args.end (), extra.begin (), extra.end ());
  proc = std::make_unique<Camrelay> (args, Env{}, dir.path ());
  if (!proc->started ())
    return false;
  port = proc->port ();
  return true;
}

std::string
Relay::url (const std::string & path, const char *scheme) const
{
  return std::string (scheme) + "://127.0.0.1:" + std::to_string (port) + path;
}

/* ---------------------------------------------------------------------------------------------- */

Json::Json (const std::string & text)
{
  parser_ = json_parser_new ();
  if (json_parser_load_from_data (parser_, text.c_str (), text.size (), nullptr))
    root_ = json_parser_get_root (parser_);
}

Json::~Json ()
{
  g_clear_object (&parser_);
}

JsonObject *
Json::root () const
{
  return root_ && JSON_NODE_HOLDS_OBJECT (root_) ? json_node_get_object (root_) : nullptr;
}

JsonObject *
Json::camera (const std::string & name) const
{
  JsonObject *r = root ();
  if (!r || !json_object_has_member (r, "cameras"))
    return nullptr;
  JsonArray *cams = json_object_get_array_member (r, "cameras");
  for (guint i = 0; cams && i < json_array_get_length (cams); i++) {
    JsonObject *c = json_array_get_object_element (cams, i);
    if (c && g_strcmp0 (json_object_get_string_member (c, "name"), name.c_str ()) == 0)
      return c;
  }
  return nullptr;
}

std::string
str_member (JsonObject *o, const char *name)
{
  if (!o || !json_object_has_member (o, name) || json_object_get_null_member (o, name))
    return "(null)";
  return json_object_get_string_member (o, name);
}

gint64
int_member (JsonObject *o, const char *name)
{
  return o && json_object_has_member (o, name) ? json_object_get_int_member (o, name) : -1;
}

gint64
camera_int (const Relay & relay, const char *camera, const char *field)
{
  Json j (relay.status_text ());
  return int_member (j.camera (camera), field);
}

/* ---------------------------------------------------------------------------------------------- */

Sender::Sender (WsClient & cam, std::vector<Bytes> frames, double fps, int count)
  : cam_ (cam), frames_ (std::move (frames)), fps_ (fps), count_ (count),
    thread_ ([this] { run (); })
{}

void
Sender::stop ()
{
  stop_ = true;
  if (thread_.joinable ())
    thread_.join ();
}

void
Sender::run ()
{
  gint64 start = g_get_monotonic_time ();
  for (int i = 0; !stop_ && (count_ == 0 || i < count_); i++) {
    if (!cam_.send_binary (frames_[i % frames_.size ()])) {
      failed_ = true;
      return;
    }
    sent_ = i + 1;
    if (fps_ > 0) {
      gint64 next = start + static_cast<gint64> ((i + 1) * 1e6 / fps_);
      while (!stop_ && g_get_monotonic_time () < next)
        g_usleep (2000);
    }
  }
}

gint64
frames_settled (const Relay & relay, const char *camera)
{
  Json j (relay.status_text ());
  JsonObject *c = j.camera (camera);
  return int_member (c, "frames_accepted") + int_member (c, "frames_rejected") +
      int_member (c, "frames_dropped");
}

bool
send_settled (const Relay & relay, WsClient & cam, const char *camera, const Bytes & frame)
{
  gint64 before = frames_settled (relay, camera);
  return cam.send_binary (frame) &&
      wait_until ([&] { return frames_settled (relay, camera) == before + 1; });
}

std::vector<int>
read_until_last (MjpegReader & viewer, const std::vector<Bytes> & sent, int *others, int timeout_ms)
{
  std::map<Bytes, int> index;
  for (gsize i = 0; i < sent.size (); i++)
    index[sent[i]] = static_cast<int> (i);
  std::vector<int> seen;
  *others = 0;
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  Bytes part;
  while (g_get_monotonic_time () < deadline) {
    int left = static_cast<int> ((deadline - g_get_monotonic_time ()) / 1000);
    if (!viewer.next_part (part, MAX (left, 1)))
      break;
    auto it = index.find (part);
    if (it == index.end ()) {
      (*others)++;
      continue;
    }
    seen.push_back (it->second);
    if (it->second == static_cast<int> (sent.size ()) - 1)
      break;
  }
  return seen;
}

}  // namespace crtest
