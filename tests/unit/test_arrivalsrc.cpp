/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cr::ArrivalSrc, the output side of wsjpegsrc and pulljpegsrc: each frame leaves stamped with
 * the running time of its arrival on the pipeline's clock (whatever times it came with), through
 * a queue that keeps the newest frames and never blocks the thread that pushes. */
#include "crarrivalsrc.h"

#include <gst/app/gstappsink.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gtest/gtest.h>

#include <memory>

/* A bin that is nothing but its ArrivalSrc, as the two elements are on their output side. */
#define TEST_TYPE_ARRIVAL_BIN (test_arrival_bin_get_type ())
G_DECLARE_FINAL_TYPE (TestArrivalBin, test_arrival_bin, TEST, ARRIVAL_BIN, GstBin)

struct _TestArrivalBin
{
  GstBin parent;
  cr::ArrivalSrc *arrival;
};

G_DEFINE_TYPE (TestArrivalBin, test_arrival_bin, GST_TYPE_BIN);

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

static void
test_arrival_bin_finalize (GObject *object)
{
  delete TEST_ARRIVAL_BIN (object)->arrival;
  G_OBJECT_CLASS (test_arrival_bin_parent_class)->finalize (object);
}

static void
test_arrival_bin_class_init (TestArrivalBinClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_arrival_bin_finalize;
  gst_element_class_add_static_pad_template (GST_ELEMENT_CLASS (klass), &src_template);
}

static void
test_arrival_bin_init (TestArrivalBin *self)
{
  self->arrival = new cr::ArrivalSrc ();
  self->arrival->build (GST_BIN (self), 2);
}

namespace {

GstBuffer *
frame (guint8 mark, GstClockTime pts = GST_CLOCK_TIME_NONE)
{
  GstBuffer *buffer = gst_buffer_new_allocate (nullptr, 16, nullptr);
  gst_buffer_memset (buffer, 0, mark, 16);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = pts == GST_CLOCK_TIME_NONE ? pts : GST_SECOND / 10;
  return buffer;
}

guint8
mark_of (GstBuffer *buffer)
{
  guint8 mark = 0;
  gst_buffer_extract (buffer, 0, &mark, 1);
  return mark;
}

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};

TEST (ArrivalSrc, StampsEachFrameWithTheRunningTimeOfItsArrival)
{
  GstElement *bin = GST_ELEMENT (g_object_new (TEST_TYPE_ARRIVAL_BIN, nullptr));
  cr::ArrivalSrc *arrival = TEST_ARRIVAL_BIN (bin)->arrival;
  std::unique_ptr<GstHarness, HarnessDeleter> h (
      gst_harness_new_with_element (bin, nullptr, "src"));
  gst_object_unref (bin);
  gst_harness_use_testclock (h.get ());
  gst_harness_play (h.get ());
  gst_element_set_base_time (bin, 2 * GST_SECOND);

  /* Whatever times a frame came with (a camera's own, a camera element's), it leaves with
   * its arrival: clock 5 s, base time 2 s. */
  ASSERT_TRUE (gst_harness_set_time (h.get (), 5 * GST_SECOND));
  arrival->push (arrival->stamp (frame (1, 42 * GST_SECOND)));
  GstBuffer *out = gst_harness_pull (h.get ());
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (GST_BUFFER_PTS (out), 3 * GST_SECOND);
  EXPECT_FALSE (GST_BUFFER_DTS_IS_VALID (out));
  EXPECT_FALSE (GST_BUFFER_DURATION_IS_VALID (out));
  gst_buffer_unref (out);

  ASSERT_TRUE (gst_harness_set_time (h.get (), 5 * GST_SECOND + 250 * GST_MSECOND));
  arrival->push (arrival->stamp (frame (2)));
  out = gst_harness_pull (h.get ());
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (GST_BUFFER_PTS (out), 3 * GST_SECOND + 250 * GST_MSECOND);
  EXPECT_EQ (mark_of (out), 2);
  gst_buffer_unref (out);
}

TEST (ArrivalSrc, AFrameSharedElsewhereIsNotChanged)
{
  GstElement *bin = GST_ELEMENT (g_object_new (TEST_TYPE_ARRIVAL_BIN, nullptr));
  cr::ArrivalSrc *arrival = TEST_ARRIVAL_BIN (bin)->arrival;
  std::unique_ptr<GstHarness, HarnessDeleter> h (
      gst_harness_new_with_element (bin, nullptr, "src"));
  gst_object_unref (bin);
  gst_harness_use_testclock (h.get ());
  gst_harness_play (h.get ());
  ASSERT_TRUE (gst_harness_set_time (h.get (), GST_SECOND));

  GstBuffer *kept = frame (7, 9 * GST_SECOND);
  GstBuffer *stamped = arrival->stamp (gst_buffer_ref (kept));
  EXPECT_NE (stamped, kept);
  EXPECT_EQ (GST_BUFFER_PTS (kept), 9 * GST_SECOND) << "someone else's buffer was restamped";
  EXPECT_EQ (GST_BUFFER_PTS (stamped), GST_SECOND - gst_element_get_base_time (bin));
  gst_buffer_unref (stamped);
  gst_buffer_unref (kept);
}

TEST (ArrivalSrc, WithoutAClockAFrameHasNoTime)
{
  GstElement *bin = GST_ELEMENT (g_object_new (TEST_TYPE_ARRIVAL_BIN, nullptr));
  gst_object_ref_sink (bin);
  GstBuffer *stamped = TEST_ARRIVAL_BIN (bin)->arrival->stamp (frame (1, GST_SECOND));
  EXPECT_FALSE (GST_BUFFER_PTS_IS_VALID (stamped));
  gst_buffer_unref (stamped);
  gst_object_unref (bin);
}

/* A pipeline that does not take frames (here: not playing yet) costs the pusher nothing: the
 * queue keeps the newest two and says when it is full, so the element can count the drop. */
TEST (ArrivalSrc, AFullQueueDropsItsOldestFrameWithoutBlocking)
{
  GstElement *pipeline = gst_pipeline_new (nullptr);
  GstElement *bin = GST_ELEMENT (g_object_new (TEST_TYPE_ARRIVAL_BIN, nullptr));
  GstElement *sink = gst_element_factory_make ("appsink", nullptr);
  ASSERT_NE (sink, nullptr);
  g_object_set (sink, "sync", FALSE, nullptr);
  gst_bin_add_many (GST_BIN (pipeline), bin, sink, nullptr);
  ASSERT_TRUE (gst_element_link (bin, sink));
  cr::ArrivalSrc *arrival = TEST_ARRIVAL_BIN (bin)->arrival;
  ASSERT_EQ (gst_element_set_state (pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_NO_PREROLL);

  EXPECT_FALSE (arrival->full ());
  arrival->push (frame (1));
  EXPECT_FALSE (arrival->full ());
  arrival->push (frame (2));
  EXPECT_TRUE (arrival->full ());
  arrival->push (frame (3)); /* returns at once: frame 1 goes */
  EXPECT_TRUE (arrival->full ());

  ASSERT_NE (gst_element_set_state (pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  for (guint8 want : { 2, 3 }) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
    ASSERT_NE (sample, nullptr) << "frame " << int (want) << " never came";
    EXPECT_EQ (mark_of (gst_sample_get_buffer (sample)), want);
    gst_sample_unref (sample);
  }
  GstSample *extra = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 100 * GST_MSECOND);
  EXPECT_EQ (extra, nullptr) << "the oldest frame was kept";
  if (extra)
    gst_sample_unref (extra);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

}  // namespace
