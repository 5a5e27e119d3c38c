/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay end to end: SIGHUP reads the config file again. Cameras added start, removed ones stop
 * (their viewers' responses end, their camera gets a close frame), changed ones restart, and an
 * unchanged camera's viewer loses nothing; a file with an error changes nothing. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <thread>

using namespace crtest;

namespace {

const JpegSpec BALL{ 640, 480, 85, "ball" };

const char *const HEADER = "[server]\naddress = 127.0.0.1\n";

gint64
reloads (const Relay & relay, const char *outcome)
{
  Json status (relay.status_text ());
  if (!status.ok ())
    return -1;
  JsonObject *r = json_object_get_object_member (status.root (), "reloads");
  return int_member (r, outcome);
}

TEST (Reload, AddsRemovesAndChangesCamerasWhileAnUnchangedOneLosesNothing)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera keep]\n[camera gone]\n[camera changed]\ntimeout = 5\n"))
      << relay.proc->output ();

  std::vector<Bytes> frames = make_jpegs (60, BALL);
  WsClient keep_cam (relay.port, "/ws/keep");
  WsClient gone_cam (relay.port, "/ws/gone");
  WsClient changed_cam (relay.port, "/ws/changed");
  ASSERT_EQ (keep_cam.status (), 101);
  ASSERT_EQ (gone_cam.status (), 101);
  ASSERT_EQ (changed_cam.status (), 101);
  ASSERT_TRUE (gone_cam.send_binary (frames[0]));
  MjpegReader gone_viewer (relay.port, "/stream/gone");
  ASSERT_EQ (gone_viewer.status (), 200);

  Sender sender (keep_cam, frames, 20, frames.size ());
  ASSERT_TRUE (wait_until ([&] { return camera_int (relay, "keep", "frames_received") >= 2; }))
      << relay.status_text ();
  /* Joins a live stream: from here on every part must be the next frame. */
  MjpegReader keep_viewer (relay.port, "/stream/keep");
  ASSERT_EQ (keep_viewer.status (), 200);
  int others = 0;
  std::vector<int> seen;
  std::thread reader ([&] { seen = read_until_last (keep_viewer, frames, &others); });

  g_usleep (500 * 1000);
  relay.dir.write ("camrelay.conf",
      std::string (HEADER) + "[camera keep]\n[camera changed]\ntimeout = 3\n[camera added]\n");
  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("1 added, 1 removed, 1 changed, 1 unchanged", 10000))
      << relay.proc->output ();
  reader.join ();
  sender.stop ();

  /* The unchanged camera: same connection, every frame, in order, no placeholder. */
  EXPECT_FALSE (sender.failed ());
  EXPECT_EQ (sender.sent (), static_cast<int> (frames.size ()));
  ASSERT_FALSE (seen.empty ());
  for (gsize i = 1; i < seen.size (); i++)
    ASSERT_EQ (seen[i], seen[i - 1] + 1) << "gap after frame " << seen[i - 1];
  EXPECT_EQ (seen.back (), static_cast<int> (frames.size ()) - 1);
  EXPECT_EQ (others, 0) << "placeholder parts in the unchanged camera's stream";
  EXPECT_EQ (camera_int (relay, "keep", "frames_received"), static_cast<gint64> (frames.size ()));

  /* The removed camera: its viewer's response ends, its camera gets a close frame, its URLs go. */
  EXPECT_TRUE (gone_viewer.wait_closed (5000));
  EXPECT_GT (gone_cam.wait_close (nullptr, 5000), 0);
  EXPECT_EQ (http_get (relay.port, "/stream/gone").status, 404);

  /* The changed camera restarted: its camera was let go, its stream is back. */
  EXPECT_GT (changed_cam.wait_close (nullptr, 5000), 0);
  EXPECT_EQ (http_get (relay.port, "/snapshot/changed.jpg").status, 200);

  /* The added camera runs. */
  EXPECT_TRUE (wait_until ([&] {
    return http_get (relay.port, "/snapshot/added.jpg").status == 200;
  })) << relay.proc->output ();
  WsClient added_cam (relay.port, "/ws/added");
  EXPECT_EQ (added_cam.status (), 101);

  EXPECT_TRUE (wait_until ([&] { return reloads (relay, "applied") == 1; }));
  EXPECT_EQ (reloads (relay, "refused"), 0);
  EXPECT_NE (http_get (relay.port, "/metrics")
                 .text ()
                 .find ("camrelay_config_reloads_total{result=\"applied\"} 1"),
      std::string::npos);
}

TEST (Reload, AFileWithAnErrorIsRefusedWholeAndTheCamerasCarryOn)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n")) << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (2, BALL);
  WsClient cam (relay.port, "/ws/a");
  ASSERT_EQ (cam.status (), 101);
  ASSERT_TRUE (send_settled (relay, cam, "a", frames[0]));
  MjpegReader viewer (relay.port, "/stream/a");
  ASSERT_EQ (viewer.status (), 200);
  /* The frame may reach the sink just after the viewer joined: the placeholder comes first. */
  Bytes part;
  for (int i = 0; i < 5 && viewer.next_part (part) && part != frames[0]; i++)
    ;
  ASSERT_EQ (part, frames[0]);

  /* A new camera and a broken one: nothing of it may apply. */
  relay.dir.write ("camrelay.conf",
      std::string (HEADER) + "[camera a]\n[camera b]\ntimeout = soon\n");
  Process check ({ program_path (), "--config", relay.conf, "--check" });
  EXPECT_EQ (check.wait (20000), 2);
  /* Its one line, "camrelay: MESSAGE" (the output is collected by a thread of its own). */
  ASSERT_TRUE (check.wait_for_output ("\n", 5000)) << check.output ();
  std::string expected = check.output ();
  gsize at = expected.find ("camrelay: ");
  ASSERT_NE (at, std::string::npos) << expected;
  expected = expected.substr (at + strlen ("camrelay: "));
  expected = expected.substr (0, expected.find ('\n'));

  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("reload refused", 10000)) << relay.proc->output ();
  EXPECT_NE (relay.proc->output ().find (expected), std::string::npos)
      << "not the --check message: " << expected << "\n"
      << relay.proc->output ();

  EXPECT_TRUE (wait_until ([&] { return reloads (relay, "refused") == 1; }));
  EXPECT_EQ (reloads (relay, "applied"), 0);
  EXPECT_EQ (http_get (relay.port, "/stream/b").status, 404);
  /* Same camera connection, same viewer, the next frame comes through. */
  ASSERT_TRUE (cam.send_binary (frames[1]));
  int repeats = 0;
  while (viewer.next_part (part) && part == frames[0])
    repeats++;
  EXPECT_EQ (part, frames[1]) << "after " << repeats << " repeats of the first frame";
  EXPECT_EQ (camera_int (relay, "a", "frames_received"), 2);
}

/* [server] settings cannot change under running connections: reported, not half-applied. */
TEST (Reload, ServerChangesAreReportedAsNeedingARestart)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\n")) << relay.proc->output ();
  relay.dir.write ("camrelay.conf",
      std::string (HEADER) + "viewer-user = u\nviewer-password = p\n[camera a]\n");
  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("needs a restart", 10000)) << relay.proc->output ();
  EXPECT_TRUE (wait_until ([&] { return reloads (relay, "applied") == 1; }));
  Json status (relay.status_text ());
  ASSERT_TRUE (status.ok ());
  JsonObject *r = json_object_get_object_member (status.root (), "reloads");
  EXPECT_EQ (str_member (r, "restart_needed"), "viewer-user, viewer-password");
  /* Streams stay open as before. */
  EXPECT_EQ (http_get (relay.port, "/snapshot/a.jpg").status, 200);
}

/* Every key of a section counts: on-demand changes no element of the pipeline, yet the camera
 * must run as the file now says. */
TEST (Reload, ChangingOnlyOnDemandRestartsTheCamera)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera p]\nsource = http://127.0.0.1:9/snap.jpg\n"))
      << relay.proc->output ();
  relay.dir.write ("camrelay.conf",
      std::string (HEADER) +
          "[camera p]\nsource = http://127.0.0.1:9/snap.jpg\non-demand = true\n");
  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("0 added, 0 removed, 1 changed, 0 unchanged", 10000))
      << relay.proc->output ();
  /* Closed now until somebody watches. */
  EXPECT_TRUE (wait_until ([&] {
    Json j (relay.status_text ());
    return str_member (j.camera ("p"), "source_state") == "idle";
  })) << relay.status_text ();
}

/* The same placeholder path with new bytes: the cameras showing it restart and show the new
 * picture; a camera with another placeholder is not touched. */
TEST (Reload, ANewPlaceholderPictureApplies)
{
  Relay relay;
  relay.dir.write ("other.jpg", read_file (source_path ("placeholder.jpg")));
  ASSERT_TRUE (relay.start ("[camera a]\n[camera b]\nplaceholder = other.jpg\n"))
      << relay.proc->output ();
  Bytes old_picture = read_file (relay.dir.file ("placeholder.jpg"));
  ASSERT_EQ (http_get (relay.port, "/snapshot/a.jpg").body, old_picture);
  Bytes new_picture = make_jpegs (1, JpegSpec{ 320, 240, 80, "snow" })[0];
  relay.dir.write ("placeholder.jpg", new_picture);
  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("0 added, 0 removed, 1 changed, 1 unchanged", 10000))
      << relay.proc->output ();
  EXPECT_TRUE (wait_until ([&] {
    return http_get (relay.port, "/snapshot/a.jpg").body == new_picture;
  })) << "camera a still shows the old placeholder";
}

/* A changed camera restarts its pipeline, but its viewers stay on the same response, as when a
 * camera reconnects: the placeholder, then the live frames of the new pipeline. */
TEST (Reload, AChangedCamerasViewersStayConnected)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera a]\ntimeout = 5\n")) << relay.proc->output ();
  std::vector<Bytes> frames = make_jpegs (4, BALL);
  auto cam = std::make_unique<WsClient> (relay.port, "/ws/a");
  ASSERT_EQ (cam->status (), 101);
  ASSERT_TRUE (send_settled (relay, *cam, "a", frames[0]));
  MjpegReader viewer (relay.port, "/stream/a");
  ASSERT_EQ (viewer.status (), 200);
  Bytes part;
  for (int i = 0; i < 5 && viewer.next_part (part) && part != frames[0]; i++)
    ;
  ASSERT_EQ (part, frames[0]);

  relay.dir.write ("camrelay.conf", std::string (HEADER) + "[camera a]\ntimeout = 3\n");
  relay.proc->send_signal (SIGHUP);
  EXPECT_TRUE (relay.proc->wait_for_output ("0 added, 0 removed, 1 changed, 0 unchanged", 10000))
      << relay.proc->output ();
  /* The old pipeline let the camera go; it connects again to the new one and sends. */
  EXPECT_GT (cam->wait_close (nullptr, 5000), 0);
  cam = std::make_unique<WsClient> (relay.port, "/ws/a");
  ASSERT_EQ (cam->status (), 101);
  Sender sender (*cam, { frames[1], frames[2], frames[3] }, 10, 0);
  /* The same response goes on: the placeholder, then the new pipeline's live frames. */
  Bytes placeholder = read_file (relay.dir.file ("placeholder.jpg"));
  bool live = false, saw_placeholder = false;
  for (int i = 0; i < 50 && !live; i++) {
    ASSERT_TRUE (viewer.next_part (part, 10000))
        << "the viewer's response ended after the restart (part " << i << ")";
    saw_placeholder = saw_placeholder || part == placeholder;
    live = part == frames[1] || part == frames[2] || part == frames[3];
  }
  EXPECT_TRUE (saw_placeholder);
  EXPECT_TRUE (live);
  EXPECT_FALSE (viewer.ended ());
}

}  // namespace
