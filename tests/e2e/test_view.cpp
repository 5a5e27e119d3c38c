/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /view in a real browser: headless Chromium shows the frame a test camera sent. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include "camrelay-config.h"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <thread>

using namespace crtest;

namespace {

const guint32 COLOUR = 0xC82896; /* a magenta nothing else on the page uses */

class ViewTest : public ::testing::Test
{
protected:
  void SetUp () override
  {
    chromium_ = g_find_program_in_path ("chromium");
    if (!chromium_)
      FAIL () << "chromium (Debian package chromium) is not installed"
                 " (tools/bootstrap --tests installs it)";
    dir_.write ("placeholder.jpg", read_file (source_path ("placeholder.jpg")));
    /* A single-colour frame is small: let it through. */
    std::string conf = dir_.write ("camrelay.conf",
        "[server]\naddress = 127.0.0.1\n"
        "[camera cam]\nmin-size = 0\n[camera idle]\n");
    relay_ =
        std::make_unique<Camrelay> (std::vector<std::string>{ "--config", conf, "--port", "0" },
            std::map<std::string, std::string>{}, dir_.path ());
    ASSERT_TRUE (relay_->started ()) << relay_->output ();
    port_ = relay_->port ();

    frame_ = make_solid_jpeg (COLOUR);
    ASSERT_FALSE (frame_.empty ());
    camera_ = std::make_unique<WsClient> (port_, "/ws/cam");
    ASSERT_EQ (camera_->status (), 101);
    sender_ = std::thread ([this] {
      while (!stop_ && camera_->send_binary (frame_))
        g_usleep (100000);
    });
    ASSERT_TRUE (wait_until ([this] {
      Json j (http_get (port_, "/status").text ());
      JsonObject *c = j.camera ("cam");
      return c && g_strcmp0 (json_object_get_string_member (c, "state"), "live") == 0;
    }));
  }

  void TearDown () override
  {
    stop_ = true;
    if (sender_.joinable ())
      sender_.join ();
    g_free (chromium_);
  }

  /* Runs headless Chromium on /view with @extra arguments. */
  RunResult chromium (const std::vector<std::string> & extra)
  {
    TempDir profile;
    std::vector<std::string> argv{ chromium_, "--headless", "--no-sandbox", "--disable-gpu",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--no-first-run", "--user-data-dir=" + profile.path (), "--window-size=1024,768",
      "--hide-scrollbars" };
    argv.insert (argv.end (), extra.begin (), extra.end ());
    argv.push_back ("http://127.0.0.1:" + std::to_string (port_) + "/view");
    /* Chromium writes below $HOME even with a profile directory of its own. */
    return run (argv, 120000, { { "HOME", profile.path () } });
  }

  TempDir dir_;
  std::unique_ptr<Camrelay> relay_;
  guint port_ = 0;
  Bytes frame_;
  std::unique_ptr<WsClient> camera_;
  std::thread sender_;
  std::atomic<bool> stop_{ false };
  gchar *chromium_ = nullptr;
};

}  // namespace

TEST_F (ViewTest, ScreenshotShowsTheCamerasFrame)
{
  /* The colour as a decoder sees it after JPEG's colour conversion. */
  std::string jpeg = dir_.write ("frame.jpg", frame_);
  Bytes ref;
  int rw = 0, rh = 0;
  ASSERT_TRUE (decode_rgb (jpeg, ref, &rw, &rh));
  int cr = ref[0], cg = ref[1], cb = ref[2];

  std::string png = dir_.file ("view.png");
  RunResult r = chromium ({ "--screenshot=" + png });
  ASSERT_EQ (r.code, 0) << r.output;
  Bytes rgb;
  int w = 0, h = 0;
  ASSERT_TRUE (decode_rgb (png, rgb, &w, &h)) << r.output;
  EXPECT_EQ (w, 1024);
  EXPECT_EQ (h, 768);
  gsize match = 0;
  for (gsize i = 0; i + 2 < rgb.size (); i += 3) {
    if (std::abs (rgb[i] - cr) <= 24 && std::abs (rgb[i + 1] - cg) <= 24 &&
        std::abs (rgb[i + 2] - cb) <= 24)
      match++;
  }
  /* Two cameras side by side: the live one covers a good part of the window. */
  double share = static_cast<double> (match) / (w * h);
  EXPECT_GT (share, 0.10) << "the camera's colour covers " << share * 100 << "% of the page";
}

TEST_F (ViewTest, PageShowsNamesAndStateFromStatus)
{
  RunResult r = chromium ({ "--virtual-time-budget=3000", "--dump-dom" });
  ASSERT_EQ (r.code, 0) << r.output;
  const std::string & dom = r.output;
  EXPECT_NE (dom.find ("<figure data-camera=\"cam\""), std::string::npos) << dom;
  EXPECT_NE (dom.find ("<figure data-camera=\"idle\""), std::string::npos) << dom;
  EXPECT_NE (dom.find ("<img src=\"/stream/cam\""), std::string::npos) << dom;
  EXPECT_NE (dom.find ("<span class=\"state live\">live</span>"), std::string::npos) << dom;
  EXPECT_NE (dom.find ("<span class=\"state placeholder\">placeholder</span>"), std::string::npos)
      << dom;
  /* Written by the page's script from /status. */
  EXPECT_NE (dom.find (std::string ("camrelay ") + CAMRELAY_VERSION + ", up "), std::string::npos)
      << dom;
  EXPECT_NE (dom.find ("fps from " + camera_->local_address ()), std::string::npos) << dom;
  EXPECT_NE (dom.find ("no camera"), std::string::npos) << dom;
}

TEST_F (ViewTest, PageIsSelfContained)
{
  HttpResponse page = http_get (port_, "/view");
  ASSERT_EQ (page.status, 200);
  EXPECT_EQ (page.header ("content-type"), "text/html; charset=utf-8");
  std::string html = page.text ();
  for (const char *external : { "http://", "https://", "src=\"//", "<link", "@import" })
    EXPECT_EQ (html.find (external), std::string::npos) << external;
}

/* A page left open follows reloads: a camera added to the file appears with its stream, a removed
 * one goes, without reloading the page (WebKitGTK in a real window under Xvfb). */
TEST (ViewReload, OpenPageFollowsCamerasAddedAndRemoved)
{
  ASSERT_TRUE (installed ("xvfb-run"));
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera cam]\n[camera gone]\n")) << relay.proc->output ();
  TempDir home;
  Process page ({ "xvfb-run", "-a", "/usr/bin/python3",
                    source_path ("tests/e2e/clients/webkit_figures.py"), relay.url ("/view") },
      { { "HOME", home.path () } });
  ASSERT_TRUE (page.wait_for_output ("cameras: cam,gone\n", 60000)) << page.output ();

  relay.dir.write ("camrelay.conf", "[server]\naddress = 127.0.0.1\n[camera cam]\n[camera new]\n");
  relay.proc->send_signal (SIGHUP);
  ASSERT_TRUE (relay.proc->wait_for_output ("1 added, 1 removed", 10000)) << relay.proc->output ();
  EXPECT_TRUE (page.wait_for_output ("cameras: cam,new\n", 20000)) << page.output ();
  /* The new figure shows the new camera's stream: the page opened it. */
  EXPECT_TRUE (wait_until ([&] { return camera_int (relay, "new", "viewers") == 1; }))
      << relay.status_text ();
}
