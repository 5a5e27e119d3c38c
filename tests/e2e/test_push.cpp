/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wsjpegsink against the real program: a gst-launch-1.0 line makes a test source a camera of a
 * camrelay, and one camrelay pushes a camera on to a second one. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <memory>

using namespace crtest;

namespace {

/* The camera's state and accepted frames in the relay's /status. */
bool
live_with_frames (const Relay & relay, const char *camera, gint64 frames)
{
  Json j (relay.status_text ());
  JsonObject *c = j.camera (camera);
  return str_member (c, "state") == "live" && int_member (c, "frames_accepted") >= frames;
}

}  // namespace

/* The README's recipe: any GStreamer source, jpegenc, wsjpegsink, and it is a camera. */
TEST (Push, GstLaunchLineIsACameraOfTheProgram)
{
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera pi]\nmin-size = 0\n")) << relay.proc->output ();
  Process launch ({ "gst-launch-1.0", "videotestsrc", "is-live=true", "pattern=ball", "!",
                      "video/x-raw,width=320,height=240,framerate=10/1", "!", "jpegenc", "!",
                      "wsjpegsink", "location=" + relay.url ("/ws/pi", "ws") },
      gst_child_env ());
  ASSERT_TRUE (wait_until ([&] { return live_with_frames (relay, "pi", 10); }, 20000))
      << launch.output () << relay.status_text ();
  MjpegReader viewer (relay.port, "/stream/pi");
  ASSERT_EQ (viewer.status (), 200);
  Bytes placeholder = read_file (relay.dir.file ("placeholder.jpg"));
  Bytes part, previous;
  int live = 0;
  for (int i = 0; i < 10 && viewer.next_part (part, 5000); i++) {
    if (part != placeholder && part != previous)
      live++;
    previous = part;
  }
  EXPECT_GE (live, 8) << "a moving test picture, frame after frame";
}

/* A camrelay forwards a camera to another one: its pipeline tees the validated frames into
 * wsjpegsink, and the second relay's viewers get the camera's own bytes. */
TEST (Push, OneCamrelayPushesACameraOnToAnother)
{
  Relay second;
  ASSERT_TRUE (second.start ("[camera cam]\nmin-size = 0\n")) << second.proc->output ();
  Relay first;
  ASSERT_TRUE (first.start ("[camera cam]\npipeline = wsjpegsrc paths=/ws/cam ! jpegvalidate "
                            "min-size=0 ! tee name=t ! queue ! jpegfallback ! multipartmux ! "
                            "mjpeghttpsink path=/stream/cam t. ! queue leaky=downstream "
                            "max-size-buffers=2 ! wsjpegsink location=" +
      second.url ("/ws/cam", "ws") + "\n"))
      << first.proc->output ();

  Bytes frame = make_solid_jpeg (0x3080C0, 320, 240);
  WsClient camera (first.port, "/ws/cam");
  ASSERT_EQ (camera.status (), 101);
  Sender sender (camera, { frame }, 5);
  ASSERT_TRUE (wait_until ([&] { return live_with_frames (second, "cam", 5); }, 20000))
      << first.proc->output () << second.status_text ();
  MjpegReader far (second.port, "/stream/cam"), near (first.port, "/stream/cam");
  Bytes part;
  ASSERT_TRUE (far.next_part (part, 5000));
  EXPECT_EQ (part, frame) << "the camera's bytes, passed on untouched";
  ASSERT_TRUE (near.next_part (part, 5000));
  EXPECT_EQ (part, frame);
}
