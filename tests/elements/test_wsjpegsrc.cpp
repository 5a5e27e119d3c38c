/* wsjpegsrc under GstHarness, fed by libsoup's WebSocket client (a real, independent client). */
#include "netclient.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/check/gstharness.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <memory>

namespace {

using crtest::Bytes;

struct HarnessDeleter
{
  void operator() (GstHarness * h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

/* A camera made of libsoup's client, driven from a private main context. */
class SoupCamera
{
public:
  SoupCamera (guint port, const std::string & path, const std::string & header = "")
  {
    context_ = g_main_context_new ();
    g_main_context_push_thread_default (context_);
    session_ = soup_session_new ();
    g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u%s", port, path.c_str ());
    SoupMessage *msg = soup_message_new ("GET", url);
    if (!header.empty ())
      soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization",
          header.c_str ());
    soup_session_websocket_connect_async (session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
        nullptr,[](GObject * source, GAsyncResult * res, gpointer data) {
          auto *self = static_cast<SoupCamera *> (data);
          self->conn_ = soup_session_websocket_connect_finish (SOUP_SESSION (source), res,
              &self->error_);
          self->done_ = true;
        }, this);
    g_object_unref (msg);
    iterate_until ([this] { return done_; });
    if (conn_) {
      g_signal_connect (conn_, "closed", G_CALLBACK (+[](SoupWebsocketConnection *, gpointer d) {
                static_cast<SoupCamera *> (d)->closed_ = true;
              }), this);
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
    return iterate_until ([this] {
          return soup_websocket_connection_get_state (conn_) != SOUP_WEBSOCKET_STATE_OPEN;
        }, ms);
  }
  void pump (int ms)
  {
    gint64 end = g_get_monotonic_time () + ms * 1000;
    while (g_get_monotonic_time () < end)
      g_main_context_iteration (context_, FALSE) || (g_usleep (500), true);
  }
  template <typename Pred> bool iterate_until (Pred pred, int ms = 5000)
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
  GstStructure *wait_message (SoupCamera * cam, const char *name, int ms = 5000)
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
  for (const auto &f : frames) {
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
  /* Hold the streaming thread: the first frame stays in flight, the queue fills up. */
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  gulong probe = gst_pad_add_probe (src, static_cast<GstPadProbeType>
      (GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM | GST_PAD_PROBE_TYPE_BUFFER), nullptr, nullptr, nullptr);
  SoupCamera cam (port, "/");
  for (const auto &f : frames)
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
  EXPECT_NE (std::string (soup_websocket_connection_get_close_data (old_cam.conn ())).find
      ("replaced"), std::string::npos);
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
  g_autoptr (GstElement) pipeline = gst_parse_launch (
      "wsjpegsrc address=127.0.0.1 port=0 paths=/a ! fakesink "
      "wsjpegsrc address=127.0.0.1 port=0 paths=/b,/a ! fakesink", nullptr);
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
  g_autofree gchar *desc = g_strdup_printf (
      "wsjpegsrc address=127.0.0.1 port=%u ! fakesink", port);
  g_autoptr (GstElement) holder = gst_parse_launch (desc, nullptr);
  ASSERT_NE (gst_element_set_state (holder, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  /* Same port, another address: a different server, and the kernel refuses the bind. */
  g_autofree gchar *desc2 = g_strdup_printf ("wsjpegsrc address=0.0.0.0 port=%u ! fakesink",
      port);
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

}  // namespace
