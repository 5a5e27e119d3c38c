/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end: /view's way back in time, used in headless Chromium through the DevTools protocol
 * as a person would (pick a moment, a speed, Watch; then Live), with a screenshot kept in
 * $CAMRELAY_SCREENSHOT_DIR when set (tests/e2e/screenshots/view-back-in-time.png was made so). */
#include "crmkvwriter.h"
#include "crrecordlayout.h"
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace {

using namespace crtest;

const gint64 START = 1796565780; /* 2026-12-06T14:03:00Z */

/* One page of a headless Chromium, driven over its DevTools WebSocket. */
class Browser
{
public:
  explicit Browser (const std::string & url)
  {
    proc_ =
        std::make_unique<Process> (std::vector<std::string>{ "chromium", "--headless",
                                       "--no-sandbox", "--disable-gpu", "--window-size=1024,768",
                                       "--remote-debugging-port=0", "--remote-allow-origins=*",
                                       "--user-data-dir=" + profile_.path (), url },
            Env{ { "TZ", "UTC" } });
  }

  bool connect ()
  {
    if (!proc_->wait_for_output ("DevTools listening on ws://127.0.0.1:", 30000))
      return false;
    std::smatch m;
    std::string out = proc_->output ();
    if (!std::regex_search (out, m, std::regex ("DevTools listening on ws://127.0.0.1:([0-9]+)/")))
      return false;
    guint port = std::stoul (m[1]);
    std::string page;
    wait_until (
        [&] {
          std::string list = http_get (port, "/json/list").text ();
          std::smatch p;
          if (std::regex_search (list, p,
                  std::regex ("\"webSocketDebuggerUrl\": "
                              "\"ws://127.0.0.1:[0-9]+(/devtools/page/[A-Za-z0-9]+)\"")))
            page = p[1];
          return !page.empty ();
        },
        20000);
    if (page.empty ())
      return false;
    ws_ = std::make_unique<WsClient> (port, page);
    return ws_->status () == 101;
  }

  /* Evaluates @expression in the page; the JSON text of its value ("" on failure). */
  std::string eval (const std::string & expression)
  {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, ++id_);
    json_builder_set_member_name (b, "method");
    json_builder_add_string_value (b, "Runtime.evaluate");
    json_builder_set_member_name (b, "params");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "expression");
    json_builder_add_string_value (b, ("JSON.stringify((() => {" + expression + "})())").c_str ());
    json_builder_set_member_name (b, "returnByValue");
    json_builder_add_boolean_value (b, TRUE);
    json_builder_end_object (b);
    json_builder_end_object (b);
    JsonObject *result = call (b);
    if (!result || !json_object_has_member (result, "result"))
      return "";
    JsonObject *r = json_object_get_object_member (result, "result");
    return str_member (r, "value");
  }

  /* A PNG of the window. */
  Bytes screenshot ()
  {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, ++id_);
    json_builder_set_member_name (b, "method");
    json_builder_add_string_value (b, "Page.captureScreenshot");
    json_builder_end_object (b);
    JsonObject *result = call (b);
    if (!result)
      return {};
    gsize len = 0;
    g_autofree guchar *png = g_base64_decode (str_member (result, "data").c_str (), &len);
    return Bytes (png, png + len);
  }

private:
  /* Sends the command built in @b and returns its "result" (owned by last_). */
  JsonObject *call (JsonBuilder *b)
  {
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    json_generator_set_root (gen, root);
    g_autofree gchar *text = json_generator_to_data (gen, nullptr);
    if (!ws_->send_text (text))
      return nullptr;
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    while (g_get_monotonic_time () < deadline) {
      WsClient::Frame f;
      if (!ws_->read_frame (f, 20000))
        return nullptr;
      last_ = std::make_unique<Json> (std::string (f.payload.begin (), f.payload.end ()));
      if (last_->ok () && int_member (last_->root (), "id") == id_)
        return json_object_has_member (last_->root (), "result")
            ? json_object_get_object_member (last_->root (), "result")
            : nullptr;
    }
    return nullptr;
  }

  TempDir profile_;
  std::unique_ptr<Process> proc_;
  std::unique_ptr<WsClient> ws_;
  std::unique_ptr<Json> last_;
  int id_ = 0;
};

/* The colour at the middle of the camera's picture, as "[r,g,b]". */
const char CENTRE_COLOUR[] =
    "const img = document.querySelector('figure[data-camera=\"cam\"] img');"
    "if (!img.naturalWidth) return null;"
    "const c = document.createElement('canvas'); c.width = 64; c.height = 48;"
    "const x = c.getContext('2d'); x.drawImage(img, 0, 0, 64, 48);"
    "return Array.from(x.getImageData(32, 24, 1, 1).data.slice(0, 3));";

bool
near (const std::string & rgb_json, int r, int g, int b)
{
  int R = -1, G = -1, B = -1;
  if (sscanf (rgb_json.c_str (), "[%d,%d,%d]", &R, &G, &B) != 3)
    return false;
  return std::abs (R - r) <= 24 && std::abs (G - g) <= 24 && std::abs (B - b) <= 24;
}

TEST (RecordingsView, APersonWatchesTheRecordingAtASpeedAndGoesBackToLive)
{
  ASSERT_TRUE (installed ("chromium"));
  Relay relay;
  ASSERT_TRUE (relay.start ("[recordings]\ndir = rec\n[camera cam]\nrecord = true\n"));
  /* What was recorded: a green picture, a frame a second for a minute. */
  Bytes green = make_solid_jpeg (0x00b000);
  std::string path = relay.dir.path () + "/rec/cam/" + cr::record::segment_relpath (START);
  g_autofree gchar *parent = g_path_get_dirname (path.c_str ());
  g_mkdir_with_parents (parent, 0755);
  cr::record::MkvWriter w;
  ASSERT_EQ (w.open (path, START, 640, 480), 0);
  for (int i = 0; i < 60; i++)
    w.write_frame (i * 1000, green.data (), green.size ());
  w.finish ();
  std::string green_path = relay.dir.write ("green.jpg", green);
  Bytes ref;
  int rw = 0, rh = 0;
  ASSERT_TRUE (decode_rgb (green_path, ref, &rw, &rh));

  Browser browser (relay.url ("/view"));
  ASSERT_TRUE (browser.connect ());
  ASSERT_TRUE (wait_until (
      [&] { return browser.eval ("return !!document.querySelector('form.back')") == "true"; },
      20000));
  /* Live first: the placeholder (no camera is connected), not green. */
  ASSERT_TRUE (wait_until ([&] { return browser.eval (CENTRE_COLOUR) != "null"; }, 20000));
  EXPECT_FALSE (near (browser.eval (CENTRE_COLOUR), ref[0], ref[1], ref[2]));
  /* The day's time-lapse link follows the chosen day. */
  std::string href = browser.eval (
      "const f = document.querySelector('form.back'); f.elements.at.value = '2026-12-06T14:03:10';"
      "f.elements.at.dispatchEvent(new Event('change')); return "
      "f.querySelector('a.timelapse').href");
  EXPECT_NE (href.find ("/recordings/cam/"
                        "timelapse.mp4?from=2026-12-06T00:00:00.000Z&to=2026-12-07T00:00:00.000Z"),
      std::string::npos)
      << href;
  /* What it links to plays in Chromium's <video>: H.264, yuv420p, the camera's size. */
  browser.eval ("const v = document.createElement('video'); v.id = 'day'; v.muted = true;"
                "v.src = document.querySelector('form.back a.timelapse').href;"
                "document.body.append(v); return true");
  const char *played = "const v = document.getElementById('day'); return v.error ? "
                       "'error ' + v.error.code + ' ' + v.error.message : "
                       "v.readyState >= 2 && v.videoWidth == 640 && v.videoHeight == 480";
  EXPECT_TRUE (wait_until ([&] { return browser.eval (played) == "true"; }, 30000))
      << browser.eval (played);
  browser.eval ("document.getElementById('day').remove(); return true");

  /* Pick 14:03:10, 4x, Watch: the recording plays in the picture. */
  browser.eval ("const f = document.querySelector('form.back'); f.elements.speed.value = '4';"
                "f.requestSubmit(); return true");
  EXPECT_TRUE (
      wait_until ([&] { return near (browser.eval (CENTRE_COLOUR), ref[0], ref[1], ref[2]); },
          20000))
      << browser.eval (CENTRE_COLOUR);
  EXPECT_NE (browser.eval ("return document.querySelector('figure[data-camera=\"cam\"] img').src")
                 .find ("/recordings/cam/play?from=2026-12-06T14%3A03%3A10.000Z&speed=4"),
      std::string::npos);
  EXPECT_EQ (browser.eval (
                 "return document.querySelector('figure[data-camera=\"cam\"] .state').textContent"),
      "\"recorded \u00d74\"");
  Bytes png = browser.screenshot ();
  EXPECT_GT (png.size (), 1000u);
  if (const char *keep = g_getenv ("CAMRELAY_SCREENSHOT_DIR")) {
    std::string file = std::string (keep) + "/view-back-in-time.png";
    g_file_set_contents (file.c_str (), reinterpret_cast<const char *> (png.data ()), png.size (),
        nullptr);
  }

  /* Live again: the placeholder comes back. */
  browser.eval ("document.querySelector('form.back').elements.live.click(); return true");
  EXPECT_TRUE (wait_until (
      [&] {
        std::string c = browser.eval (CENTRE_COLOUR);
        return c != "null" && !near (c, ref[0], ref[1], ref[2]);
      },
      20000));
}

}  // namespace
