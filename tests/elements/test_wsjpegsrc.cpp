/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wsjpegsrc under GstHarness, fed by libsoup's WebSocket client (a real, independent client). */
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using crtest::Bytes;

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* Stopped before it goes, even when an assertion returns early. */
struct PipelineDeleter
{
  void operator() (GstElement *e) const
  {
    gst_element_set_state (e, GST_STATE_NULL);
    gst_object_unref (e);
  }
};
using Pipeline = std::unique_ptr<GstElement, PipelineDeleter>;

/* A camera made of libsoup's client, driven from a private main context. */
class SoupCamera
{
public:
  /* @tls: wss://, taking whatever certificate the server shows (the tests make their own). */
  SoupCamera (guint port, const std::string & path, const std::string & header = "",
      bool tls = false)
  {
    context_ = g_main_context_new ();
    g_main_context_push_thread_default (context_);
    session_ = soup_session_new ();
    /* The system's trust store is loaded once per process: here, not inside the first handshake
     * and its wait (over a second under ASan). */
    if (tls) {
      g_autoptr (GTlsDatabase) db =
          g_tls_backend_get_default_database (g_tls_backend_get_default ());
    }
    g_autofree gchar *url =
        g_strdup_printf ("%s://127.0.0.1:%u%s", tls ? "wss" : "ws", port, path.c_str ());
    SoupMessage *msg = soup_message_new ("GET", url);
    g_signal_connect (msg, "accept-certificate",
        G_CALLBACK (+[] (SoupMessage *, GTlsCertificate *, GTlsCertificateFlags,
                         gpointer) -> gboolean { return TRUE; }),
        nullptr);
    if (!header.empty ())
      soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization",
          header.c_str ());
    soup_session_websocket_connect_async (
        session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
        [] (GObject *source, GAsyncResult *res, gpointer data) {
          auto *self = static_cast<SoupCamera *> (data);
          self->conn_ =
              soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &self->error_);
          self->done_ = true;
        },
        this);
    g_object_unref (msg);
    iterate_until ([this] { return done_; });
    if (conn_) {
      g_signal_connect (conn_, "closed", G_CALLBACK (+[] (SoupWebsocketConnection *, gpointer d) {
        static_cast<SoupCamera *> (d)->closed_ = true;
      }),
          this);
    }
  }

  ~SoupCamera ()
  {
    if (conn_ && soup_websocket_connection_get_state (conn_) == SOUP_WEBSOCKET_STATE_OPEN) {
      soup_websocket_connection_close (conn_, 1000, nullptr);
      iterate_until ([this] { return closed_; }, 3000);
    }
    g_clear_object (&conn_);
    g_clear_object (&session_);
    g_clear_error (&error_);
    g_main_context_pop_thread_default (context_);
    g_main_context_unref (context_);
  }

  bool connected () const { return conn_ != nullptr; }
  SoupWebsocketConnection *conn () { return conn_; }

  void send (const Bytes & frame)
  {
    soup_websocket_connection_send_binary (conn_, frame.data (), frame.size ());
    pump (5);
  }
  void send_text (const char *text)
  {
    soup_websocket_connection_send_text (conn_, text);
    pump (5);
  }
  void close ()
  {
    soup_websocket_connection_close (conn_, 1000, "bye");
    iterate_until ([this] { return closed_; }, 3000);
  }
  bool wait_closed (int ms = 5000)
  {
    return iterate_until ([this] { return closed_; }, ms);
  }
  /* The server's close frame has arrived (libsoup then waits up to 5 s before "closed"). */
  bool wait_closing (int ms = 5000)
  {
    return iterate_until (
        [this] { return soup_websocket_connection_get_state (conn_) != SOUP_WEBSOCKET_STATE_OPEN; },
        ms);
  }
  void pump (int ms)
  {
    gint64 end = g_get_monotonic_time () + ms * 1000;
    while (g_get_monotonic_time () < end)
      g_main_context_iteration (context_, FALSE) || (g_usleep (500), true);
  }
  template<typename Pred> bool iterate_until (Pred pred, int ms = 5000)
  {
    return crtest::iterate_until (context_, pred, ms);
  }

private:
  GMainContext *context_ = nullptr;
  SoupSession *session_ = nullptr;
  SoupWebsocketConnection *conn_ = nullptr;
  GError *error_ = nullptr;
  bool done_ = false;
  bool closed_ = false;
};

class WsJpegSrcTest : public ::testing::Test
{
protected:
  void SetUp () override
  {
    h.reset (gst_harness_new ("wsjpegsrc"));
    g_object_set (h->element, "address", "127.0.0.1", "port", 0u, nullptr);
    gst_harness_use_systemclock (h.get ());
    bus = gst_bus_new ();
    gst_element_set_bus (h->element, bus);
    gst_harness_play (h.get ());
    g_object_get (h->element, "bound-port", &port, nullptr);
    ASSERT_NE (port, 0u);
  }
  void TearDown () override
  {
    h.reset ();
    gst_clear_object (&bus);
  }

  /* Pulls one buffer while letting the camera's context run. */
  GstBuffer *pull (SoupCamera & cam, int ms = 5000)
  {
    gint64 end = g_get_monotonic_time () + ms * 1000;
    while (g_get_monotonic_time () < end) {
      if (GstBuffer *b = gst_harness_try_pull (h.get ()))
        return b;
      cam.pump (2);
    }
    return nullptr;
  }

  GstStructure *stats ()
  {
    GstStructure *s = nullptr;
    g_object_get (h->element, "stats", &s, nullptr);
    return s;
  }

  guint64 stat (const char *field)
  {
    GstStructure *s = stats ();
    guint64 v = 0;
    gst_structure_get_uint64 (s, field, &v);
    gst_structure_free (s);
    return v;
  }

  /* The next element message named @name on the bus, or nullptr. */
  GstStructure *wait_message (SoupCamera *cam, const char *name, int ms = 5000)
  {
    gint64 end = g_get_monotonic_time () + ms * 1000;
    while (g_get_monotonic_time () < end) {
      GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
      if (m) {
        const GstStructure *s = gst_message_get_structure (m);
        GstStructure *copy = gst_structure_has_name (s, name) ? gst_structure_copy (s) : nullptr;
        gst_message_unref (m);
        if (copy)
          return copy;
        continue;
      }
      if (cam)
        cam->pump (2);
      else
        g_usleep (2000);
    }
    return nullptr;
  }

  Harness h;
  GstBus *bus = nullptr;
  guint port = 0;
};

TEST_F (WsJpegSrcTest, EachMessageBecomesOneTimestampedBufferWithTheSameBytes)
{
  auto frames = crtest::make_jpegs (5, { 320, 240 });
  SoupCamera cam (port, "/");
  ASSERT_TRUE (cam.connected ());
  cam.send_text ("hello from ESP32 camera stream!");

  GstClockTime last = 0;
  for (const auto & f : frames) {
    cam.send (f);
    GstBuffer *b = pull (cam);
    ASSERT_NE (b, nullptr);
    EXPECT_EQ (crtest::bytes_of (b), f);
    ASSERT_TRUE (GST_BUFFER_PTS_IS_VALID (b));
    EXPECT_GE (GST_BUFFER_PTS (b), last);
    last = GST_BUFFER_PTS (b);
    gst_buffer_unref (b);
  }
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  ASSERT_TRUE (caps);
  EXPECT_TRUE (gst_structure_has_name (gst_caps_get_structure (caps, 0), "image/jpeg"));

  EXPECT_EQ (stat ("messages"), 5u);
  EXPECT_EQ (stat ("text-messages"), 1u);
  EXPECT_EQ (stat ("connections"), 1u);
  GstStructure *s = stats ();
  gboolean connected = FALSE;
  gst_structure_get_boolean (s, "connected", &connected);
  EXPECT_TRUE (connected);
  gst_structure_free (s);
}

TEST_F (WsJpegSrcTest, BothLegacyPathsAreAccepted)
{
  auto frames = crtest::make_jpegs (2, { 160, 120 });
  {
    SoupCamera cam (port, "/ws");
    ASSERT_TRUE (cam.connected ());
    cam.send (frames[0]);
    GstBuffer *b = pull (cam);
    ASSERT_TRUE (b);
    gst_buffer_unref (b);
  }
  SoupCamera cam (port, "/");
  ASSERT_TRUE (cam.connected ());
  cam.send (frames[1]);
  GstBuffer *b = pull (cam);
  ASSERT_TRUE (b);
  EXPECT_EQ (crtest::bytes_of (b), frames[1]);
  gst_buffer_unref (b);
}

TEST_F (WsJpegSrcTest, ConnectAndDisconnectArePostedWithThePeer)
{
  SoupCamera cam (port, "/ws");
  ASSERT_TRUE (cam.connected ());
  GstStructure *c = wait_message (&cam, "wsjpegsrc-connected");
  ASSERT_TRUE (c);
  EXPECT_STREQ (gst_structure_get_string (c, "path"), "/ws");
  EXPECT_TRUE (g_str_has_prefix (gst_structure_get_string (c, "peer"), "127.0.0.1:"));
  gst_structure_free (c);

  cam.close ();
  GstStructure *d = wait_message (&cam, "wsjpegsrc-disconnected");
  ASSERT_TRUE (d);
  guint code = 0;
  gst_structure_get_uint (d, "code", &code);
  EXPECT_EQ (code, 1000u);
  gst_structure_free (d);
}

TEST_F (WsJpegSrcTest, ABusyPipelineDropsTheOldestFramesNotTheCamera)
{
  auto frames = crtest::make_jpegs (10, { 160, 120 });
  /* Hold the streaming thread: the first frame stays in flight, the queue fills up. Buffers only:
   * the stream begins (stream-start, caps, segment) when the camera connects. */
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  gulong probe = gst_pad_add_probe (src,
      static_cast<GstPadProbeType> (GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER), nullptr,
      nullptr, nullptr);
  SoupCamera cam (port, "/");
  for (const auto & f : frames)
    cam.send (f);
  ASSERT_TRUE (cam.iterate_until ([&] { return stat ("messages") == 10; }));
  gst_pad_remove_probe (src, probe);
  gst_object_unref (src);

  std::vector<Bytes> got;
  while (GstBuffer *b = pull (cam, 500)) {
    got.push_back (crtest::bytes_of (b));
    gst_buffer_unref (b);
  }
  /* The one in flight, then the newest two; the camera was never slowed down. */
  ASSERT_EQ (got.size (), 3u);
  EXPECT_EQ (got[0], frames[0]);
  EXPECT_EQ (got[1], frames[8]);
  EXPECT_EQ (got[2], frames[9]);
  EXPECT_EQ (stat ("dropped"), 7u);
}

TEST_F (WsJpegSrcTest, ANewerCameraTakesOver)
{
  auto frames = crtest::make_jpegs (2, { 160, 120 });
  SoupCamera old_cam (port, "/");
  ASSERT_TRUE (old_cam.connected ());
  SoupCamera new_cam (port, "/");
  ASSERT_TRUE (new_cam.connected ());
  ASSERT_TRUE (old_cam.wait_closing ());
  EXPECT_EQ (soup_websocket_connection_get_close_code (old_cam.conn ()), 1000);
  EXPECT_NE (std::string (soup_websocket_connection_get_close_data (old_cam.conn ()))
                 .find ("replaced"),
      std::string::npos);
  new_cam.send (frames[1]);
  GstBuffer *b = pull (new_cam);
  ASSERT_TRUE (b);
  EXPECT_EQ (crtest::bytes_of (b), frames[1]);
  gst_buffer_unref (b);
  EXPECT_EQ (stat ("takeovers"), 1u);
}

TEST_F (WsJpegSrcTest, OversizedMessagesAreRefusedWith1009)
{
  gst_element_set_state (h->element, GST_STATE_NULL);
  g_object_set (h->element, "max-message-size", static_cast<guint64> (10000), nullptr);
  gst_harness_play (h.get ());
  g_object_get (h->element, "bound-port", &port, nullptr);

  SoupCamera cam (port, "/");
  ASSERT_TRUE (cam.connected ());
  cam.send (Bytes (20000, 0xab));
  ASSERT_TRUE (cam.wait_closing ());
  EXPECT_EQ (soup_websocket_connection_get_close_code (cam.conn ()), 1009);
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr);
  EXPECT_EQ (stat ("refused-messages"), 1u);
}

TEST_F (WsJpegSrcTest, SecretIsCheckedAndNeverReadBack)
{
  gst_element_set_state (h->element, GST_STATE_NULL);
  g_object_set (h->element, "secret", "hunter2", nullptr);
  gst_harness_play (h.get ());
  g_object_get (h->element, "bound-port", &port, nullptr);
  g_autofree gchar *shown = nullptr;
  g_object_get (h->element, "secret", &shown, nullptr);
  EXPECT_STRNE (shown, "hunter2");

  EXPECT_FALSE (SoupCamera (port, "/").connected ());
  EXPECT_FALSE (SoupCamera (port, "/", "Bearer nope").connected ());
  EXPECT_TRUE (SoupCamera (port, "/", "Bearer hunter2").connected ());
  EXPECT_EQ (stat ("unauthorized"), 2u);
}

TEST (WsJpegSrc, TwoSourcesCannotShareAPath)
{
  g_autoptr (GstElement) pipeline =
      gst_parse_launch ("wsjpegsrc address=127.0.0.1 port=0 paths=/a ! fakesink "
                        "wsjpegsrc address=127.0.0.1 port=0 paths=/b,/a ! fakesink",
          nullptr);
  ASSERT_TRUE (pipeline);
  EXPECT_EQ (gst_element_set_state (pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) err = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  ASSERT_TRUE (err);
  g_autoptr (GError) error = nullptr;
  gst_message_parse_error (err, &error, nullptr);
  EXPECT_NE (std::string (error->message).find ("/a"), std::string::npos) << error->message;
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

TEST (WsJpegSrc, PortInUseIsAClearErrorAtStart)
{
  guint port = crtest::free_port ();
  g_autofree gchar *desc = g_strdup_printf ("wsjpegsrc address=127.0.0.1 port=%u ! fakesink", port);
  g_autoptr (GstElement) holder = gst_parse_launch (desc, nullptr);
  ASSERT_NE (gst_element_set_state (holder, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  /* Same port, another address: a different server, and the kernel refuses the bind. */
  g_autofree gchar *desc2 = g_strdup_printf ("wsjpegsrc address=0.0.0.0 port=%u ! fakesink", port);
  g_autoptr (GstElement) second = gst_parse_launch (desc2, nullptr);
  EXPECT_EQ (gst_element_set_state (second, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  g_autoptr (GstBus) bus = gst_element_get_bus (second);
  g_autoptr (GstMessage) err = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  ASSERT_TRUE (err);
  g_autoptr (GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_error (err, &error, &debug);
  EXPECT_NE (std::string (error->message).find ("Could not listen"), std::string::npos);
  EXPECT_NE (std::string (debug).find (std::to_string (port)), std::string::npos) << debug;
  gst_element_set_state (second, GST_STATE_NULL);
  gst_element_set_state (holder, GST_STATE_NULL);
}

/* What gst-inspect-1.0 shows users is what the element's class offers: none of appsrc's knobs
 * (block=true would stall the server thread every camera and viewer on the port shares). */
TEST (WsJpegSrc, OffersNoneOfAppsrcsPropertiesOrActions)
{
  GstElement *src = gst_element_factory_make ("wsjpegsrc", nullptr);
  ASSERT_TRUE (src);
  gst_object_ref_sink (src);
  GObjectClass *klass = G_OBJECT_GET_CLASS (src);
  EXPECT_FALSE (g_type_is_a (G_OBJECT_TYPE (src), GST_TYPE_APP_SRC));

  std::vector<std::string> shown;
  auto *appsrc_class = static_cast<GObjectClass *> (g_type_class_ref (GST_TYPE_APP_SRC));
  guint n = 0;
  GParamSpec **specs = g_object_class_list_properties (appsrc_class, &n);
  for (guint i = 0; i < n; i++) {
    /* "name" and "parent" belong to every GstObject. */
    if (specs[i]->owner_type == GST_TYPE_OBJECT)
      continue;
    if (g_object_class_find_property (klass, specs[i]->name))
      shown.push_back (specs[i]->name);
  }
  g_free (specs);
  guint *ids = g_signal_list_ids (GST_TYPE_APP_SRC, &n);
  for (guint i = 0; i < n; i++) {
    const gchar *name = g_signal_name (ids[i]);
    if (g_signal_lookup (name, G_OBJECT_TYPE (src)))
      shown.push_back (std::string (name) + " (signal)");
  }
  g_free (ids);
  g_type_class_unref (appsrc_class);

  std::string list;
  for (const auto & name : shown)
    list += name + " ";
  EXPECT_TRUE (shown.empty ()) << "appsrc's knobs on wsjpegsrc: " << list;
  /* Its own properties are all there. */
  for (const char *name : { "address", "port", "bound-port", "paths", "max-message-size", "secret",
           "stats", "tls-certificate", "tls-key", "viewer-user", "viewer-password",
           "open-on-loopback", "request-timeout" })
    EXPECT_TRUE (g_object_class_find_property (klass, name)) << name;
  gst_object_unref (src);
}

TEST (WsJpegSrc, IsALiveSourceOfJpegOnOneAlwaysPad)
{
  GstElement *src = gst_element_factory_make ("wsjpegsrc", nullptr);
  ASSERT_TRUE (src);
  gst_object_ref_sink (src);
  g_object_set (src, "address", "127.0.0.1", "port", 0u, nullptr);
  EXPECT_EQ (gst_element_set_state (src, GST_STATE_PAUSED), GST_STATE_CHANGE_NO_PREROLL);
  EXPECT_EQ (src->numpads, 1);
  g_autoptr (GstPad) pad = gst_element_get_static_pad (src, "src");
  ASSERT_TRUE (pad);
  EXPECT_EQ (GST_PAD_DIRECTION (pad), GST_PAD_SRC);
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, nullptr);
  g_autoptr (GstCaps) jpeg = gst_caps_from_string ("image/jpeg");
  EXPECT_TRUE (gst_caps_is_equal (caps, jpeg)) << gst_caps_to_string (caps);
  EXPECT_TRUE (GST_OBJECT_FLAG_IS_SET (src, GST_ELEMENT_FLAG_SOURCE));
  EXPECT_TRUE (g_str_has_prefix (gst_element_get_metadata (src, GST_ELEMENT_METADATA_KLASS),
      "Source/Network"));
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (src);
}

TEST (WsJpegSrc, ServerSettingsAreSetBeforeStartAndThePasswordIsNeverReadBack)
{
  GstElement *src = gst_element_factory_make ("wsjpegsrc", nullptr);
  ASSERT_TRUE (src);
  gst_object_ref_sink (src);
  GObjectClass *klass = G_OBJECT_GET_CLASS (src);
  for (const char *name : { "tls-certificate", "tls-key", "viewer-user", "viewer-password",
           "open-on-loopback", "request-timeout" }) {
    GParamSpec *spec = g_object_class_find_property (klass, name);
    ASSERT_TRUE (spec) << name;
    EXPECT_TRUE (spec->flags & GST_PARAM_MUTABLE_READY) << name;
    EXPECT_TRUE (spec->flags & G_PARAM_WRITABLE) << name;
  }
  EXPECT_FALSE (g_object_class_find_property (klass, "viewer-password")->flags & G_PARAM_READABLE);

  g_object_set (src, "viewer-user", "ann", "viewer-password", "hunter2", "open-on-loopback",
      "/metrics, /status", "request-timeout", static_cast<guint64> (3 * GST_SECOND), nullptr);
  g_autofree gchar *user = nullptr;
  g_autofree gchar *open = nullptr;
  guint64 timeout = 0;
  g_object_get (src, "viewer-user", &user, "open-on-loopback", &open, "request-timeout", &timeout,
      nullptr);
  EXPECT_STREQ (user, "ann");
  EXPECT_STREQ (open, "/metrics,/status");
  EXPECT_EQ (timeout, 3 * GST_SECOND);
  gst_object_unref (src);
}

/* A self-signed certificate for 127.0.0.1 in @dir. */
void
make_certificate (const crtest::TempDir & dir, std::string *cert, std::string *key)
{
  *cert = dir.file ("cert.pem");
  *key = dir.file ("key.pem");
  crtest::Process openssl ({ "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
      "1", "-subj", "/CN=127.0.0.1", "-keyout", *key, "-out", *cert });
  ASSERT_EQ (openssl.wait (30000), 0) << openssl.output ();
}

TEST (WsJpegSrc, WithACertificateCamerasConnectOverWssOnly)
{
  crtest::TempDir dir;
  std::string cert, key;
  ASSERT_NO_FATAL_FAILURE (make_certificate (dir, &cert, &key));
  Harness h (gst_harness_new ("wsjpegsrc"));
  g_object_set (h->element, "address", "127.0.0.1", "port", 0u, "tls-certificate", cert.c_str (),
      "tls-key", key.c_str (), nullptr);
  gst_harness_use_systemclock (h.get ());
  gst_harness_play (h.get ());
  guint port = 0;
  g_object_get (h->element, "bound-port", &port, nullptr);
  ASSERT_NE (port, 0u);

  EXPECT_FALSE (SoupCamera (port, "/").connected ()) << "plain ws:// on a TLS port";
  SoupCamera cam (port, "/", "", true);
  ASSERT_TRUE (cam.connected ());
  auto frames = crtest::make_jpegs (1, { 320, 240 });
  cam.send (frames[0]);
  GstBuffer *b = nullptr;
  ASSERT_TRUE (
      cam.iterate_until ([&] { return (b = gst_harness_try_pull (h.get ())) != nullptr; }));
  GstMapInfo map;
  ASSERT_TRUE (gst_buffer_map (b, &map, GST_MAP_READ));
  EXPECT_EQ (Bytes (map.data, map.data + map.size), frames[0]);
  gst_buffer_unmap (b, &map);
  gst_buffer_unref (b);
}

/* All elements on one address and port share one server, so they must agree on its settings.
 * Needs Server::acquire to refuse differing options (the server/ side of this change). */
TEST (WsJpegSrc, ElementsOnOnePortMustAgreeOnTheServerSettings)
{
  guint port = crtest::free_port ();
  auto launch = [port] (const char *user_a, const char *user_b) {
    g_autofree gchar *desc =
        g_strdup_printf ("wsjpegsrc address=127.0.0.1 port=%u paths=/a viewer-user=%s ! fakesink "
                         "wsjpegsrc address=127.0.0.1 port=%u paths=/b viewer-user=%s ! fakesink",
            port, user_a, port, user_b);
    return Pipeline (gst_parse_launch (desc, nullptr));
  };

  {
    Pipeline agree = launch ("ann", "ann");
    ASSERT_TRUE (agree);
    EXPECT_NE (gst_element_set_state (agree.get (), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }

  Pipeline differ = launch ("ann", "bob");
  ASSERT_TRUE (differ);
  EXPECT_EQ (gst_element_set_state (differ.get (), GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  g_autoptr (GstBus) bus = gst_element_get_bus (differ.get ());
  g_autoptr (GstMessage) err = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  ASSERT_TRUE (err) << "two elements on one port with different viewer-user both started";
  g_autoptr (GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_error (err, &error, &debug);
  g_autofree gchar *text =
      g_ascii_strdown ((std::string (error->message) + " " + (debug ? debug : "")).c_str (), -1);
  std::string said (text);
  EXPECT_NE (said.find ("viewer"), std::string::npos) << said;
  EXPECT_NE (said.find ("user"), std::string::npos) << said;
  GstElementFactory *from = GST_IS_ELEMENT (GST_MESSAGE_SRC (err))
      ? gst_element_get_factory (GST_ELEMENT (GST_MESSAGE_SRC (err)))
      : nullptr;
  EXPECT_TRUE (from && g_str_equal (GST_OBJECT_NAME (from), "wsjpegsrc"))
      << "the error does not come from the element: " << GST_OBJECT_NAME (GST_MESSAGE_SRC (err));
}

}  // namespace
