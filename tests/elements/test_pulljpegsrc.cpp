/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pulljpegsrc through GstHarness: frames pulled from an HTTP camera (tests/e2e/pull/mjpegserver.py
 * run with /usr/bin/python3) leave one buffer per frame, byte for byte; a camera that is away or
 * broken never ends or fails the element's stream, is tried again, and is reported once per
 * change; active=false closes it; credentials never come back out. */
#include "findelement.h"
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
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
  /* Lines the server printed that start with @prefix (--print-requests), without it. */
  std::vector<std::string> printed (const std::string & prefix) const
  {
    std::vector<std::string> out;
    std::string text = proc->output ();
    for (gsize at = 0; at < text.size ();) {
      gsize end = text.find ('\n', at);
      if (end == std::string::npos)
        break;
      if (text.compare (at, prefix.size (), prefix) == 0)
        out.push_back (text.substr (at + prefix.size (), end - at - prefix.size ()));
      at = end + 1;
    }
    return out;
  }
};

/* Every element created in the process while it lives, by factory name, as GStreamer logs it
 * (GST_ELEMENT_FACTORY at INFO: "creating element \"qtdemux\" ..."), decodebin's included. */
class FactoryWatch
{
public:
  FactoryWatch ()
  {
    gst_debug_set_threshold_for_name ("GST_ELEMENT_FACTORY", GST_LEVEL_INFO);
    gst_debug_remove_log_function (gst_debug_log_default);
    gst_debug_add_log_function (log, this, nullptr);
  }
  ~FactoryWatch ()
  {
    gst_debug_remove_log_function_by_data (this);
    gst_debug_add_log_function (gst_debug_log_default, nullptr, nullptr);
    gst_debug_unset_threshold_for_name ("GST_ELEMENT_FACTORY");
  }
  bool created (const std::string & factory)
  {
    std::lock_guard<std::mutex> guard (lock_);
    return created_.count (factory) > 0;
  }

private:
  static void log (GstDebugCategory *category, GstDebugLevel, const gchar *, const gchar *, gint,
      GObject *, GstDebugMessage *message, gpointer data)
  {
    if (g_strcmp0 (gst_debug_category_get_name (category), "GST_ELEMENT_FACTORY") != 0)
      return;
    const gchar *text = gst_debug_message_get (message);
    const char *prefix = "creating element \"";
    if (!text || !g_str_has_prefix (text, prefix))
      return;
    std::string name = text + strlen (prefix);
    auto *self = static_cast<FactoryWatch *> (data);
    std::lock_guard<std::mutex> guard (self->lock_);
    self->created_.insert (name.substr (0, name.find ('"')));
  }
  std::mutex lock_;
  std::set<std::string> created_;
};

gint64
stat_int (const std::string & text)
{
  return text.empty () ? -1 : g_ascii_strtoll (text.c_str (), nullptr, 10);
}

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
  /* In nanoseconds, as every time of a GStreamer element and snapshot-interval beside it, and
   * written as a launch line writes it. */
  gst_util_set_object_arg (G_OBJECT (h.h->element), "io-timeout", "1500000000");
  gst_harness_play (h.h);
  ASSERT_TRUE (wait_until ([&] { return std::stoi ("0" + h.stat ("reconnects")) >= 1; }, 20000));
  EXPECT_NE (h.stat ("last-error").find ("no frame from the camera for 1.5 s"), std::string::npos)
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

/* What reaches the camera is what the user wrote: percent escapes in the path and the query stay
 * as they are (a password with an & in it, a path segment with an escaped /), and the userinfo is
 * decoded once for the login. Shown, the URL has neither the userinfo nor credential values. */
TEST (PullJpegSrc, UrlReachesTheCameraByteForByte)
{
  Camera cam;
  ASSERT_TRUE (cam.start ({ "--snapshot", "--auth", "us@er:p&ss:w", "--print-requests" }));
  /* Escapes of reserved characters only: libsoup writes %7E (an unreserved ~) as ~, which RFC
   * 3986 (6.2.2.2) makes the same URL. */
  const std::string target = "/a%2Fb/capture?pwd=p%26ss&token=a%2Bb&res=vga%20hd";
  std::string host = "127.0.0.1:" + std::to_string (cam.port);
  Harness h ("http://us%40er:p%26ss%3Aw@" + host + target);
  g_object_set (h.h->element, "snapshot-interval", 100 * GST_MSECOND, nullptr);
  gst_harness_play (h.h);
  GstBuffer *b = h.pull ();
  ASSERT_NE (b, nullptr) << h.stat ("last-error") << cam.proc->output ();
  gst_buffer_unref (b);
  std::vector<std::string> requests = cam.printed ("request: ");
  ASSERT_FALSE (requests.empty ());
  for (const auto & r : requests)
    EXPECT_EQ (r, "GET " + target + " HTTP/1.1");
  g_autofree gchar *basic = g_base64_encode (reinterpret_cast<const guchar *> ("us@er:p&ss:w"), 12);
  std::vector<std::string> auths = cam.printed ("authorization: ");
  ASSERT_FALSE (auths.empty ());
  EXPECT_EQ (auths.back (), std::string ("Basic ") + basic);
  const std::string shown = "http://" + host + "/a%2Fb/capture?pwd=***&token=***&res=vga%20hd";
  EXPECT_EQ (h.stat ("location"), shown);
  g_autofree gchar *location = nullptr;
  g_object_get (h.h->element, "location", &location, nullptr);
  EXPECT_EQ (std::string (location), shown);
}

/* The leaks tracer in a gst-launch-1.0 child that fetched a snapshot camera tens of times: no
 * try's bin of pulljpegsrc (nor any other bin) is left alive at exit. */
TEST (PullJpegSrc, NoTryOutlivesItself)
{
  Camera cam;
  ASSERT_TRUE (cam.start ({ "--snapshot", "--print-requests" }));
  Env env = gst_child_env ();
  env["GST_TRACERS"] = "leaks(filters=GstBin)";
  env["GST_DEBUG"] = "GST_TRACER:7";
  Process launch ({ "gst-launch-1.0", "pulljpegsrc", "location=" + cam.url () + "capture",
                      "snapshot-interval=20000000", "!", "fakesink" },
      env);
  ASSERT_TRUE (wait_until ([&] { return cam.printed ("sent: ").size () >= 30; }, 60000))
      << launch.output ();
  EXPECT_EQ (launch.stop (SIGINT, 30000), 0) << launch.output ();
  std::string out = launch.output ();
  /* The tracer ran (its record was registered), then listed what was alive at exit. */
  ASSERT_NE (out.find ("object-alive.class"), std::string::npos) << out;
  const std::string pipeline = "object-alive, type-name=(string)GstBin";
  gsize alive = 0;
  for (gsize at = out.find (pipeline); at != std::string::npos; at = out.find (pipeline, at + 1))
    alive++;
  EXPECT_EQ (alive, 0u) << out.substr (0, 4000);
}

/* A snapshot above max-frame-size is a rejected frame: never pushed (not even cut short), dropped
 * as it crosses the limit (the camera's bytes are not read to their end), tried again with a
 * growing backoff, reported once. With or without a Content-Length. */
TEST (PullJpegSrc, OversizedSnapshotIsRejectedWithGrowingBackoff)
{
  for (bool length : { true, false }) {
    Camera cam;
    std::vector<std::string> args{ "--snapshot", "--snapshot-size",
      std::to_string (64 * 1024 * 1024), "--print-requests" };
    if (!length)
      args.push_back ("--no-length");
    ASSERT_TRUE (cam.start (args));
    Harness h (cam.url () + "capture");
    g_object_set (h.h->element, "max-frame-size", static_cast<guint64> (1024 * 1024), nullptr);
    gint64 started = g_get_monotonic_time ();
    gst_harness_play (h.h);
    /* Tries at 0, 1, 3 and 7 s with the backoff; every second without it. */
    ASSERT_TRUE (wait_until ([&] { return stat_int (h.stat ("reconnects")) >= 4; }, 30000))
        << h.stat ("last-error");
    gint64 took_ms = (g_get_monotonic_time () - started) / 1000;
    EXPECT_GE (took_ms, 6000) << "the backoff did not grow (length " << length << ")";
    EXPECT_EQ (gst_harness_try_pull (h.h), nullptr) << "a cut snapshot was pushed";
    EXPECT_EQ (h.stat ("frames"), "0");
    EXPECT_NE (h.stat ("last-error").find ("larger than 1048576 bytes"), std::string::npos)
        << h.stat ("last-error");
    std::vector<std::string> msgs = h.messages ();
    ASSERT_EQ (msgs.size (), 2u) << (msgs.size () > 2 ? msgs[2] : "");
    EXPECT_EQ (msgs[0], "connecting: ");
    EXPECT_EQ (msgs[1].rfind ("retrying: the snapshot is larger", 0), 0u) << msgs[1];
    /* The answers were abandoned early: socket buffers hold a few MB, not the 64 MB body. */
    ASSERT_TRUE (wait_until ([&] { return cam.printed ("sent: ").size () >= 3; }, 10000));
    for (const auto & sent : cam.printed ("sent: "))
      EXPECT_LT (std::stoll (sent), 24LL * 1024 * 1024) << "length " << length;
  }
}

/* An HTTP camera that answers something else than MJPEG or a JPEG (a video file, text): a reason
 * naming what it answered, tried again with a growing backoff, and no demuxer or decoder plugged
 * for those bytes. */
TEST (PullJpegSrc, HttpAnswerThatIsNoCameraPlugsNothing)
{
  TempDir files;
  std::string mp4 = files.file ("clip.mp4"), mkv = files.file ("clip.mkv");
  for (const auto & [mux, file] : { std::pair{ "qtmux", mp4 }, std::pair{ "matroskamux", mkv } })
    ASSERT_EQ (run ({ "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=10", "!",
                        "video/x-raw,width=64,height=48", "!", "jpegenc", "!", mux, "!", "filesink",
                        "location=" + file })
                   .code,
        0);
  struct Case
  {
    std::string file, type, says;
  };
  const Case cases[] = {
    { mp4, "video/mp4", "the camera answered video/mp4; camrelay takes" },
    { mkv, "video/x-matroska", "the camera answered video/x-matroska; camrelay takes" },
    { mp4, "application/octet-stream",
        "the camera answered application/octet-stream (video/quicktime); camrelay takes" },
  };
  for (const auto & c : cases) {
    FactoryWatch watch;
    Camera cam;
    ASSERT_TRUE (cam.start ({ "--body-file", c.file, "--content-type", c.type }));
    Harness h (cam.url ());
    gint64 started = g_get_monotonic_time ();
    gst_harness_play (h.h);
    ASSERT_TRUE (wait_until ([&] { return stat_int (h.stat ("reconnects")) >= 3; }, 30000))
        << c.type << ": " << h.stat ("last-error");
    /* Tries at 0, 1 and 3 s. */
    EXPECT_GE (g_get_monotonic_time () - started, 2500 * 1000) << c.type;
    EXPECT_EQ (h.stat ("last-error").rfind (c.says, 0), 0u) << h.stat ("last-error");
    EXPECT_EQ (gst_harness_try_pull (h.h), nullptr) << c.type;
    EXPECT_TRUE (watch.created ("souphttpsrc")) << "the watch saw nothing";
    for (const char *plugged : { "qtdemux", "matroskademux", "jpegdec", "avdec_mjpeg" })
      EXPECT_FALSE (watch.created (plugged)) << c.type << ": " << plugged << " was plugged";
    std::vector<std::string> msgs = h.messages ();
    EXPECT_EQ (msgs.size (), 2u) << c.type;
  }
}

namespace {

/* A CA and a certificate it signed for 127.0.0.1, and a camera's self-signed certificate for a
 * name that is not the host's, made by openssl in @dir. */
bool
make_certificates (const TempDir & dir)
{
  auto ok = [&] (const std::vector<std::string> & argv) {
    RunResult r = run (argv, 60000, {}, dir.path ());
    if (r.code != 0)
      ADD_FAILURE () << r.output;
    return r.code == 0;
  };
  const std::vector<std::string> ec{ "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes" };
  auto req = [&] (std::vector<std::string> argv) {
    argv.insert (argv.begin () + 2, ec.begin (), ec.end ());
    return ok (argv);
  };
  dir.write ("leaf.ext", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  return req ({ "openssl", "req", "-x509", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=camrelay test CA" }) &&
      req ({ "openssl", "req", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
          "/CN=127.0.0.1" }) &&
      ok ({ "openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
          "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext" }) &&
      req ({ "openssl", "req", "-x509", "-keyout", "cam.key", "-out", "cam.pem", "-days", "2",
          "-subj", "/CN=IPCAM" });
}

}  // namespace

/* An https camera is trusted through the system's CAs, a CA file (tls-ca) or one pinned
 * certificate (tls-pinned-certificate); a certificate it cannot trust is named as the reason. */
TEST (PullJpegSrc, HttpsCameraTrustedByCaFileOrPinnedCertificate)
{
  TempDir pki;
  ASSERT_TRUE (make_certificates (pki));
  struct Case
  {
    const char *serves;
    const char *ca, *pinned;
    const char *refused; /* nullptr: frames come */
  };
  const Case cases[] = {
    { "leaf", "", "", "the camera's certificate is not trusted (signed by an unknown CA)" },
    { "leaf", "ca.pem", "", nullptr },
    { "cam", "", "cam.pem", nullptr },
    { "cam", "", "leaf.pem",
        "the camera's certificate is not trusted (signed by an unknown CA): "
        "it is not the pinned one" },
    { "cam", "cam.pem", "", "the camera's certificate is not trusted (issued for another host" },
  };
  for (const auto & c : cases) {
    std::string what = std::string (c.serves) + " ca=" + c.ca + " pinned=" + c.pinned;
    Camera cam;
    ASSERT_TRUE (cam.start ({ "--tls", pki.file (std::string (c.serves) + ".pem"),
        pki.file (std::string (c.serves) + ".key") }));
    Harness h ("https://127.0.0.1:" + std::to_string (cam.port) + "/");
    /* A first TLS handshake (GnuTLS loading the system's CAs) takes seconds in a sanitizer build
     * on a loaded machine. */
    g_object_set (h.h->element, "io-timeout", static_cast<GstClockTime> (60 * GST_SECOND), nullptr);
    if (*c.ca)
      g_object_set (h.h->element, "tls-ca", pki.file (c.ca).c_str (), nullptr);
    if (*c.pinned)
      g_object_set (h.h->element, "tls-pinned-certificate", pki.file (c.pinned).c_str (), nullptr);
    gst_harness_play (h.h);
    if (!c.refused) {
      GstBuffer *b = h.pull (60000);
      EXPECT_NE (b, nullptr) << what << ": " << h.stat ("last-error");
      if (b)
        gst_buffer_unref (b);
      continue;
    }
    ASSERT_TRUE (wait_until ([&] { return stat_int (h.stat ("reconnects")) >= 2; }, 60000)) << what;
    EXPECT_EQ (h.stat ("last-error").rfind (c.refused, 0), 0u)
        << what << ": " << h.stat ("last-error");
    EXPECT_EQ (gst_harness_try_pull (h.h), nullptr) << what;
  }
}

/* A file that holds no certificate fails the element's start with a message naming it. */
TEST (PullJpegSrc, UnreadableTlsFileFailsToStart)
{
  TempDir dir;
  std::string bad = dir.write ("bad.pem", "not a certificate\n");
  GstElement *e = gst_element_factory_make ("pulljpegsrc", nullptr);
  g_object_set (e, "location", "https://cam.local/", "tls-ca", bad.c_str (), nullptr);
  EXPECT_EQ (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

namespace {

/* pulljpegsrc ! fakesink in a pipeline of the application's, on a clock of its own choosing, as
 * the application sees it: its bus, and the camera's elements inside the element. */
struct AppPipeline
{
  GstElement *pipeline = nullptr;
  GstElement *src = nullptr;
  GstClock *clock = nullptr;

  explicit AppPipeline (const std::string & location)
  {
    pipeline = gst_pipeline_new ("app");
    src = gst_element_factory_make ("pulljpegsrc", nullptr);
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    /* PLAYING before the first frame: whether the camera answers is what is looked at. */
    g_object_set (sink, "async", FALSE, nullptr);
    g_object_set (src, "location", location.c_str (), nullptr);
    gst_bin_add_many (GST_BIN (pipeline), src, sink, nullptr);
    gst_element_link (src, sink);
    clock = GST_CLOCK (g_object_new (GST_TYPE_SYSTEM_CLOCK, "name", "app-clock", nullptr));
    gst_pipeline_use_clock (GST_PIPELINE (pipeline), clock);
  }
  ~AppPipeline ()
  {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
    gst_object_unref (clock);
  }

  std::string stat (const char *field)
  {
    GstStructure *s = nullptr;
    g_object_get (src, "stats", &s, nullptr);
    g_autofree gchar *text = nullptr;
    if (const GValue *v = s ? gst_structure_get_value (s, field) : nullptr)
      text = G_VALUE_HOLDS_STRING (v) ? g_value_dup_string (v) : gst_value_serialize (v);
    if (s)
      gst_structure_free (s);
    return text ? text : "";
  }

  /* The element of @factory inside the pipeline (the camera's, inside pulljpegsrc), or nullptr. */
  GstElement *find (const char *factory) { return crtest::find_by_factory (pipeline, factory); }

  /* The messages on the application's bus so far, of @types. */
  std::vector<GstMessage *> pop (GstMessageType types)
  {
    std::vector<GstMessage *> out;
    g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
    while (GstMessage *m = gst_bus_pop_filtered (bus, types))
      out.push_back (m);
    return out;
  }
};

}  // namespace

/* The camera's elements run inside the element, in the application's pipeline: on the clock and
 * with the base time the application chose, with the contexts it set, and what they say reaches
 * the application's bus as from them (a warning with its credential-looking values masked). */
TEST (PullJpegSrc, CameraRunsOnTheApplicationsClockContextsAndBus)
{
  Camera cam;
  ASSERT_TRUE (cam.start ());
  AppPipeline app (cam.url () + "?token=s3cret");
  GstContext *context = gst_context_new ("camrelay.test.app-context", TRUE);
  gst_element_set_context (app.pipeline, context);
  gst_context_unref (context);
  ASSERT_NE (gst_element_set_state (app.pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE (wait_until ([&] { return stat_int (app.stat ("frames")) >= 3; }, 20000))
      << app.stat ("last-error");
  g_autoptr (GstElement) http = app.find ("souphttpsrc");
  ASSERT_NE (http, nullptr) << "the camera's souphttpsrc is not in the application's pipeline";
  g_autoptr (GstClock) used = gst_element_get_clock (http);
  EXPECT_EQ (used, app.clock) << "the camera runs on a clock of its own";
  EXPECT_EQ (gst_element_get_base_time (http), gst_element_get_base_time (app.pipeline));
  g_autoptr (GstContext) seen = gst_element_get_context (http, "camrelay.test.app-context");
  EXPECT_NE (seen, nullptr) << "the application's context did not reach the camera's element";

  /* A warning of the camera's souphttpsrc, as an element posts one, quoting its URL. */
  GST_ELEMENT_WARNING (http, RESOURCE, READ, ("Slow camera"),
      ("GET %s?token=s3cret took long", cam.url ().c_str ()));
  std::vector<GstMessage *> warnings;
  ASSERT_TRUE (wait_until (
      [&] {
        warnings = app.pop (GST_MESSAGE_WARNING);
        return !warnings.empty ();
      },
      5000))
      << "the warning did not reach the application's bus";
  g_autoptr (GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_warning (warnings[0], &error, &debug);
  EXPECT_EQ (GST_MESSAGE_SRC (warnings[0]), GST_OBJECT (http));
  EXPECT_STREQ (error->message, "Slow camera");
  ASSERT_NE (debug, nullptr);
  EXPECT_EQ (std::string (debug).find ("s3cret"), std::string::npos) << debug;
  EXPECT_NE (std::string (debug).find ("token="), std::string::npos) << debug;
  for (GstMessage *m : warnings)
    gst_message_unref (m);
}

/* The camera's errors and its end are the element's to act on: it tries again, the application's
 * bus sees neither, and the application's pipeline plays on. */
TEST (PullJpegSrc, CameraErrorsAreRetriedNotPostedToTheApplication)
{
  Camera cam;
  ASSERT_TRUE (cam.start ({ "--status", "404" }));
  AppPipeline app (cam.url ());
  ASSERT_NE (gst_element_set_state (app.pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE (wait_until ([&] { return stat_int (app.stat ("reconnects")) >= 2; }, 20000))
      << app.stat ("last-error");
  EXPECT_NE (app.stat ("last-error").find ("404"), std::string::npos) << app.stat ("last-error");
  for (GstMessage *m : app.pop (GST_MESSAGE_ANY)) {
    EXPECT_NE (GST_MESSAGE_TYPE (m), GST_MESSAGE_ERROR)
        << "from " << GST_OBJECT_NAME (GST_MESSAGE_SRC (m));
    EXPECT_NE (GST_MESSAGE_TYPE (m), GST_MESSAGE_EOS);
    gst_message_unref (m);
  }
  GstState state = GST_STATE_NULL;
  EXPECT_EQ (gst_element_get_state (app.pipeline, &state, nullptr, 0), GST_STATE_CHANGE_SUCCESS);
  EXPECT_EQ (state, GST_STATE_PLAYING);
}

/* A live source: PAUSED closes the camera (its elements leave the element), PLAYING opens it
 * again and its frames come through again. */
TEST (PullJpegSrc, PausedClosesTheCameraPlayingOpensItAgain)
{
  Camera cam;
  ASSERT_TRUE (cam.start ());
  AppPipeline app (cam.url ());
  ASSERT_NE (gst_element_set_state (app.pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ASSERT_TRUE (wait_until ([&] { return stat_int (app.stat ("frames")) >= 3; }, 20000))
      << app.stat ("last-error");
  EXPECT_NE (gst_element_set_state (app.pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  EXPECT_EQ (app.stat ("state"), "idle");
  g_autoptr (GstElement) http = app.find ("souphttpsrc");
  EXPECT_EQ (http, nullptr) << "the camera is still open in PAUSED";
  gint64 paused_at = stat_int (app.stat ("frames"));
  ASSERT_NE (gst_element_set_state (app.pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  EXPECT_TRUE (wait_until ([&] { return stat_int (app.stat ("frames")) >= paused_at + 3; }, 20000))
      << app.stat ("last-error");
  EXPECT_EQ (app.stat ("state"), "streaming");
  EXPECT_EQ (stat_int (app.stat ("reconnects")), 0);
}
