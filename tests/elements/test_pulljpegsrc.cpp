/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pulljpegsrc through GstHarness: frames pulled from an HTTP camera (tests/e2e/pull/mjpegserver.py
 * run with /usr/bin/python3) leave one buffer per frame, byte for byte; a camera that is away or
 * broken never ends or fails the element's stream, is tried again, and is reported once per
 * change; active=false closes it; credentials never come back out. */
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

using namespace crtest;

namespace {

/* mjpegserver.py on a free port, serving a few real JPEGs. */
struct Camera
{
  TempDir dir;
  guint port = 0;
  std::unique_ptr<Process> proc;
  std::vector<Bytes> frames = make_jpegs (5);

  bool start (const std::vector<std::string> & extra = {})
  {
    for (gsize i = 0; i < frames.size (); i++)
      dir.write ("frames/" + std::to_string (10 + i) + ".jpg", frames[i]);
    port = free_port ();
    std::vector<std::string> argv{ "/usr/bin/python3",
      source_path ("tests/e2e/pull/mjpegserver.py"), std::to_string (port), dir.file ("frames"),
      "--fps", "20" };
    argv.insert (argv.end (), extra.begin (), extra.end ());
    proc = std::make_unique<Process> (argv);
    return proc->wait_for_output ("listening");
  }
  std::string url () const { return "http://127.0.0.1:" + std::to_string (port) + "/"; }
};

struct Harness
{
  GstHarness *h;
  GstBus *bus;

  explicit Harness (const std::string & location)
  {
    h = gst_harness_new ("pulljpegsrc");
    bus = gst_bus_new ();
    gst_element_set_bus (h->element, bus);
    g_object_set (h->element, "location", location.c_str (), nullptr);
  }
  ~Harness ()
  {
    gst_harness_teardown (h);
    gst_object_unref (bus);
  }

  std::string stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (h->element, "stats", &s, nullptr);
    std::string out;
    if (const GValue *v = s ? gst_structure_get_value (s, field) : nullptr) {
      g_autofree gchar *text =
          G_VALUE_HOLDS_STRING (v) ? g_value_dup_string (v) : gst_value_serialize (v);
      out = text ? text : "";
    }
    if (s)
      gst_structure_free (s);
    return out;
  }

  /* The next buffer within @timeout_ms, or nullptr. */
  GstBuffer *pull (int timeout_ms = 10000)
  {
    GstBuffer *b = nullptr;
    wait_until ([&] { return (b = gst_harness_try_pull (h)) != nullptr; }, timeout_ms);
    return b;
  }

  /* Every "pulljpegsrc-state" posted so far, as "state: reason"; errors and EOS as such. */
  std::vector<std::string> messages ()
  {
    std::vector<std::string> out;
    while (GstMessage *m = gst_bus_pop (bus)) {
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
        out.push_back ("ERROR");
      const GstStructure *s = gst_message_get_structure (m);
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT &&
          gst_structure_has_name (s, "pulljpegsrc-state"))
        out.push_back (std::string (gst_structure_get_string (s, "state")) + ": " +
            gst_structure_get_string (s, "reason"));
      gst_message_unref (m);
    }
    return out;
  }
};

bool
no_events_but (GstHarness *h, std::initializer_list<GstEventType> allowed)
{
  while (GstEvent *e = gst_harness_try_pull_event (h)) {
    bool ok = false;
    for (GstEventType t : allowed)
      ok = ok || GST_EVENT_TYPE (e) == t;
    gst_event_unref (e);
    if (!ok)
      return false;
  }
  return true;
}

}  // namespace

TEST (PullJpegSrc, ChunkedPartsWithoutLengthLeaveOneBufferPerFrame)
{
  Camera cam;
  ASSERT_TRUE (cam.start (
      { "--chunked", "--no-length", "--header-boundary=\"--b\"", "--body-boundary=--b" }));
  Harness h (cam.url ());
  gst_harness_play (h.h);
  std::set<Bytes> sent (cam.frames.begin (), cam.frames.end ());
  for (int i = 0; i < 8; i++) {
    GstBuffer *b = h.pull ();
    ASSERT_NE (b, nullptr) << "frame " << i;
    EXPECT_TRUE (sent.count (bytes_of (b))) << "buffer " << i << " is not one whole frame";
    EXPECT_TRUE (GST_BUFFER_PTS_IS_VALID (b));
    gst_buffer_unref (b);
  }
  EXPECT_EQ (h.stat ("state"), "streaming");
  EXPECT_EQ (h.stat ("location"), cam.url ());
}

TEST (PullJpegSrc, CameraAwayIsRetriedQuietlyAndNeverEndsTheStream)
{
  guint port = free_port ();
  Harness h ("http://127.0.0.1:" + std::to_string (port) + "/");
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return std::stoi ("0" + h.stat ("reconnects")) >= 2; }, 10000));
  std::vector<std::string> msgs = h.messages ();
  /* connecting, then one line for the failure however many tries it took. */
  ASSERT_EQ (msgs.size (), 2u);
  EXPECT_EQ (msgs[0], "connecting: ");
  EXPECT_EQ (msgs[1].rfind ("retrying: cannot connect", 0), 0u) << msgs[1];
  EXPECT_TRUE (no_events_but (h.h, { GST_EVENT_STREAM_START, GST_EVENT_CAPS, GST_EVENT_SEGMENT }))
      << "an end-of-stream left the element";
  EXPECT_EQ (h.stat ("state"), "retrying");
}

TEST (PullJpegSrc, CameraThatComesBackIsStreamedAgain)
{
  Camera cam;
  guint port = free_port ();
  Harness h ("http://127.0.0.1:" + std::to_string (port) + "/");
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return h.stat ("state") == "retrying"; }));
  cam.port = port;
  for (gsize i = 0; i < cam.frames.size (); i++)
    cam.dir.write ("frames/" + std::to_string (10 + i) + ".jpg", cam.frames[i]);
  cam.proc = std::make_unique<Process> (
      std::vector<std::string>{ "/usr/bin/python3", source_path ("tests/e2e/pull/mjpegserver.py"),
          std::to_string (port), cam.dir.file ("frames") });
  ASSERT_TRUE (cam.proc->wait_for_output ("listening"));
  GstBuffer *b = h.pull (20000);
  ASSERT_NE (b, nullptr);
  gst_buffer_unref (b);
  std::vector<std::string> msgs = h.messages ();
  ASSERT_FALSE (msgs.empty ());
  EXPECT_EQ (msgs.back (), "streaming: ");
}

TEST (PullJpegSrc, EndlessPartIsCutAtMaxFrameSize)
{
  Camera cam;
  ASSERT_TRUE (cam.start ({ "--endless-part" }));
  Harness h (cam.url ());
  g_object_set (h.h->element, "max-frame-size", static_cast<guint64> (1024 * 1024), nullptr);
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return h.stat ("state") == "retrying"; }, 20000));
  EXPECT_NE (h.stat ("last-error").find ("without a complete frame"), std::string::npos)
      << h.stat ("last-error");
  EXPECT_EQ (gst_harness_buffers_in_queue (h.h), 0u);
}

TEST (PullJpegSrc, CameraThatStallsMidPartIsGivenUpAfterIoTimeout)
{
  Camera cam;
  ASSERT_TRUE (cam.start ({ "--stall-after", "3" }));
  Harness h (cam.url ());
  g_object_set (h.h->element, "io-timeout", 1u, nullptr);
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return std::stoi ("0" + h.stat ("reconnects")) >= 1; }, 20000));
  EXPECT_NE (h.stat ("last-error").find ("no frame from the camera for 1 s"), std::string::npos)
      << h.stat ("last-error");
  /* It is tried again and its first frames come through again. */
  EXPECT_TRUE (wait_until ([&] { return std::stoi ("0" + h.stat ("frames")) >= 6; }, 20000));
}

TEST (PullJpegSrc, InactiveMeansClosed)
{
  Camera cam;
  ASSERT_TRUE (cam.start ());
  Harness h (cam.url ());
  g_object_set (h.h->element, "active", FALSE, nullptr);
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return h.stat ("state") == "idle"; }));
  g_usleep (500000);
  EXPECT_EQ (gst_harness_try_pull (h.h), nullptr);
  g_object_set (h.h->element, "active", TRUE, nullptr);
  GstBuffer *b = h.pull ();
  ASSERT_NE (b, nullptr);
  gst_buffer_unref (b);
  g_object_set (h.h->element, "active", FALSE, nullptr);
  EXPECT_TRUE (wait_until ([&] { return h.stat ("state") == "idle"; }));
}

TEST (PullJpegSrc, CredentialsNeverComeBackOut)
{
  GstElement *e = gst_element_factory_make ("pulljpegsrc", nullptr);
  ASSERT_NE (e, nullptr);
  g_object_set (e, "location", "rtsp://admin:hunter2@cam.local:554/live", nullptr);
  g_autofree gchar *location = nullptr;
  g_object_get (e, "location", &location, nullptr);
  EXPECT_STREQ (location, "rtsp://cam.local:554/live");
  GstStructure *s = nullptr;
  g_object_get (e, "stats", &s, nullptr);
  g_autofree gchar *text = gst_structure_to_string (s);
  EXPECT_EQ (std::string (text).find ("hunter2"), std::string::npos) << text;
  gst_structure_free (s);
  gst_object_unref (e);
}

TEST (PullJpegSrc, UnknownSchemeFailsToStart)
{
  GstElement *e = gst_element_factory_make ("pulljpegsrc", nullptr);
  g_object_set (e, "location", "ftp://cam/x", nullptr);
  EXPECT_EQ (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}
