/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract between the camrelay program and the elements: every name the program reads
 * (pipeline/elementfields.h: factories, properties, "stats" fields, element messages and their
 * fields) is published by the real elements, with the type the program reads it as.
 *
 * The elements run as the program runs them, made by GStreamer from their factories: a camera
 * (a real WebSocket client) connects, sends a broken frame and a good one, and hangs up, so that
 * every message the program listens to is posted; the "stats" structures are read while the
 * pipeline plays. The names come from the program's own list, so a name added there is checked
 * here without a change to this file. */
#include "elementfields.h"

#include "findelement.h"
#include "netclient.h"
#include "subprocess.h"
#include "testjpeg.h"
#include "wait.h"

#include <gst/gst.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

namespace el = camrelay::elements;

/* What the elements published while a camera came, sent two frames and went. */
struct Published
{
  bool ran = false;
  std::string failure;                            /* why the run did not get through */
  std::map<std::string, GstStructure *> stats;    /* by factory, read while playing */
  std::map<std::string, GstStructure *> messages; /* the first of each name */
  std::string active_before_first_frame;          /* jpegfallback stats "active" at start-up */
};

Published published;

GstStructure *
read_stats (GstElement *pipeline, const char *factory)
{
  GstElement *e = crtest::find_by_factory (pipeline, factory);
  if (!e)
    return nullptr;
  GstStructure *s = nullptr;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), el::STATS))
    g_object_get (e, el::STATS, &s, nullptr);
  gst_object_unref (e);
  return s;
}

/* Element messages on @bus until every name in el::MESSAGES has come or @timeout_ms pass. */
void
collect_messages (GstBus *bus, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000LL;
  while (published.messages.size () < G_N_ELEMENTS (el::MESSAGES)) {
    gint64 left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return;
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
        static_cast<GstMessageType> (GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR));
    if (!msg)
      return;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) error = nullptr;
      gst_message_parse_error (msg, &error, nullptr);
      published.failure = std::string ("the pipeline failed: ") + error->message;
      return;
    }
    const GstStructure *s = gst_message_get_structure (msg);
    for (const char *name : el::MESSAGES) {
      if (gst_structure_has_name (s, name) && !published.messages.count (name))
        published.messages[name] = gst_structure_copy (s);
    }
  }
}

/* The program's default pipeline, on 127.0.0.1, with the camera's frames of any size. */
void
run_elements ()
{
  published.ran = true;
  /* The recording branch as the program hangs it off a camera that records. */
  static crtest::TempDir recordings;
  std::string description = std::string (el::WSJPEGSRC) + " address=127.0.0.1 port=0 paths=/ws ! " +
      el::JPEGVALIDATE + " min-size=0 ! tee name=rec ! " + el::JPEGFALLBACK + " placeholder=\"" +
      crtest::source_path ("placeholder.jpg") + "\" ! tee name=h264tee ! multipartmux ! " +
      el::MJPEGHTTPSINK + " address=127.0.0.1 port=0 rec. ! queue ! " + el::JPEGRECORDSINK +
      " location=\"" + recordings.file ("cam") + "\" " +
      /* The H.264 branch as the program hangs it after jpegfallback (RTSP off: no port). */
      "h264tee. ! " + el::H264RELAYSINK + " " +
      /* The motion branch, told to see motion in any change and end it at once. */
      "rec. ! " + el::JPEGMOTION + " light-change=1 min-area=0.0001 threshold=1 hold=0 max-fps=0 " +
      /* A pulled camera that cannot be reached still posts its state and has its stats. */
      el::PULLJPEGSRC + " location=http://127.0.0.1:1/ ! fakesink sync=false async=false";
  g_autoptr (GError) error = nullptr;
  GstElement *parsed = gst_parse_launch (description.c_str (), &error);
  if (!parsed) {
    published.failure = "cannot build " + description + ": " + error->message;
    return;
  }
  g_autoptr (GstElement) pipeline = GST_ELEMENT (gst_object_ref_sink (parsed));
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    published.failure = "the pipeline does not start";
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return;
  }
  if (GstStructure *s = read_stats (pipeline, el::JPEGFALLBACK)) {
    const gchar *active = gst_structure_get_string (s, el::name (el::Field::FallbackActive));
    published.active_before_first_frame = active ? active : "";
    gst_structure_free (s);
  }

  guint port = 0;
  GstElement *src = crtest::find_by_factory (pipeline, el::WSJPEGSRC);
  crtest::wait_until (
      [&] {
        g_object_get (src, el::BOUND_PORT, &port, nullptr);
        return port != 0;
      },
      10000);
  gst_object_unref (src);
  if (port == 0) {
    published.failure = "wsjpegsrc never listened";
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return;
  }

  {
    /* A viewer's request (mjpeghttpsink-wanted), answered at once: the stream is at "/". */
    crtest::http_get (port, "/", "", 2000);
    crtest::WsClient camera (port, "/ws");
    if (camera.status () != 101) {
      published.failure = "the camera was not upgraded: HTTP " + std::to_string (camera.status ());
    } else {
      /* A broken frame (jpegvalidate-rejected), then a good one (jpegfallback-switched). */
      camera.send_binary (crtest::Bytes (6000, 0x42));
      camera.send_binary (crtest::make_jpegs (1)[0]);
      /* The stats are read once both frames are through, while the camera is still there. */
      bool through = crtest::wait_until (
          [&] {
            GstStructure *v = read_stats (pipeline, el::JPEGVALIDATE);
            GstStructure *f = read_stats (pipeline, el::JPEGFALLBACK);
            guint64 accepted = 0, rejected = 0;
            const gchar *active = nullptr;
            if (v) {
              gst_structure_get_uint64 (v, el::name (el::Field::ValidateAccepted), &accepted);
              gst_structure_get_uint64 (v, el::name (el::Field::ValidateRejected), &rejected);
            }
            if (f)
              active = gst_structure_get_string (f, el::name (el::Field::FallbackActive));
            bool done = accepted == 1 && rejected == 1 && g_strcmp0 (active, el::ACTIVE_LIVE) == 0;
            if (v)
              gst_structure_free (v);
            if (f)
              gst_structure_free (f);
            return done;
          },
          10000);
      if (!through)
        published.failure = "the frames did not get through jpegvalidate and jpegfallback";
      /* Another picture (a ball on black after snow, grey at 1/8 scale): motion-start and
       * motion-end. */
      camera.send_binary (crtest::make_jpegs (1, { 640, 480, 85, "ball" })[0]);
    }
    for (const char *factory : el::FACTORIES)
      published.stats[factory] = read_stats (pipeline, factory);
    camera.close_and_hang_up ();
  }
  /* Every message the program reads, the camera's disconnection included. */
  collect_messages (bus, 10000);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

class Contract : public ::testing::Test
{
protected:
  static void SetUpTestSuite ()
  {
    if (!published.ran)
      run_elements ();
  }

  static void TearDownTestSuite ()
  {
    for (auto & [name, s] : published.stats) {
      if (s)
        gst_structure_free (s);
    }
    for (auto & [name, s] : published.messages)
      gst_structure_free (s);
    published.stats.clear ();
    published.messages.clear ();
  }
};

std::string
type_name (GType type)
{
  return type ? g_type_name (type) : "(none)";
}

template<gsize N>
bool
listed (const char *const (&list)[N], const char *name)
{
  for (const char *n : list) {
    if (g_str_equal (n, name))
      return true;
  }
  return false;
}

TEST (ContractList, EveryFieldIsListedOnceUnderItsOwner)
{
  for (const auto & f : el::FIELDS) {
    if (f.source == el::Source::Stats)
      EXPECT_TRUE (listed (el::FACTORIES, f.owner))
          << f.name << ": " << f.owner << " is not a listed factory";
    else
      EXPECT_TRUE (listed (el::MESSAGES, f.owner))
          << f.name << ": " << f.owner << " is not a listed message";
    int seen = 0;
    for (const auto & g : el::FIELDS)
      seen +=
          g.source == f.source && g_str_equal (g.owner, f.owner) && g_str_equal (g.name, f.name);
    EXPECT_EQ (seen, 1) << f.owner << " " << f.name;
  }
}

TEST (ContractList, CounterKeysAreFactoryDotField)
{
  EXPECT_EQ (el::counter_key (el::Field::SrcMessages), "wsjpegsrc.messages");
  EXPECT_EQ (el::counter_key (el::Field::FallbackTimeOnPlaceholder),
      "jpegfallback.time-on-placeholder");
}

TEST (ContractElements, EveryFactoryIsRegistered)
{
  for (const char *factory : el::FACTORIES) {
    g_autoptr (GstElementFactory) f = gst_element_factory_find (factory);
    EXPECT_NE (f, nullptr) << "the program looks for the element " << factory;
  }
}

TEST (ContractElements, EveryPropertyUsedHasItsTypeAndAccess)
{
  for (const auto & p : el::PROPERTIES) {
    GstElement *e = gst_element_factory_make (p.factory, nullptr);
    ASSERT_NE (e, nullptr) << p.factory;
    gst_object_ref_sink (e);
    GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (e), p.name);
    const char *use = p.access == el::READ ? "reads" : "sets";
    EXPECT_NE (pspec, nullptr) << p.factory << " has no property " << p.name << " (the program "
                               << use << " it)";
    if (pspec) {
      EXPECT_EQ (pspec->flags & p.access, p.access)
          << p.factory << " " << p.name << ": the program " << use << " it";
      EXPECT_EQ (type_name (pspec->value_type), type_name (p.type ()))
          << p.factory << " " << p.name << ": the program reads it as " << type_name (p.type ());
    }
    gst_object_unref (e);
  }
}

TEST_F (Contract, TheElementsRanWithACamera)
{
  EXPECT_EQ (published.failure, "");
  EXPECT_EQ (published.active_before_first_frame, el::ACTIVE_PLACEHOLDER);
}

TEST_F (Contract, EveryStatsFieldIsPublishedWithItsType)
{
  for (const auto & f : el::FIELDS) {
    if (f.source != el::Source::Stats)
      continue;
    GstStructure *s = published.stats[f.owner];
    ASSERT_NE (s, nullptr) << f.owner << " published no \"stats\" structure";
    const GValue *v = gst_structure_get_value (s, f.name);
    EXPECT_NE (v, nullptr) << f.owner << " \"stats\" has no field \"" << f.name
                           << "\" (the program reads it as " << type_name (f.type) << ")";
    if (v) {
      EXPECT_EQ (type_name (G_VALUE_TYPE (v)), type_name (f.type))
          << f.owner << " stats " << f.name;
    }
  }
}

TEST_F (Contract, EveryMessageIsPostedWithItsFields)
{
  for (const char *name : el::MESSAGES)
    EXPECT_TRUE (published.messages.count (name)) << "no element posted \"" << name << "\"";
  for (const auto & f : el::FIELDS) {
    if (f.source != el::Source::Message || !published.messages.count (f.owner))
      continue;
    const GstStructure *s = published.messages[f.owner];
    const GValue *v = gst_structure_get_value (s, f.name);
    EXPECT_NE (v, nullptr) << "\"" << f.owner << "\" has no field \"" << f.name
                           << "\" (the program reads it as " << type_name (f.type) << ")";
    if (v) {
      EXPECT_EQ (type_name (G_VALUE_TYPE (v)), type_name (f.type)) << f.owner << " " << f.name;
    }
  }
}

/* The program tells live from placeholder by these values. */
TEST_F (Contract, JpegfallbackSaysLiveInTheWordsTheProgramReads)
{
  auto it = published.messages.find (el::MSG_SWITCHED);
  ASSERT_NE (it, published.messages.end ());
  const gchar *active = gst_structure_get_string (it->second, el::name (el::Field::SwitchedActive));
  EXPECT_STREQ (active, el::ACTIVE_LIVE);
  GstStructure *stats = published.stats[el::JPEGFALLBACK];
  ASSERT_NE (stats, nullptr);
  EXPECT_STREQ (gst_structure_get_string (stats, el::name (el::Field::FallbackActive)),
      el::ACTIVE_LIVE);
}

}  // namespace
