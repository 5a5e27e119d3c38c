/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RTP payloader every WebRTC session of a camera shares (plugins/crwheppacketizer.h): each
 * session gets the same packets of an access unit, payloaded once, as buffers of its own, and they
 * decode to the camera's picture. */
#include "crwheppacketizer.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gtest/gtest.h>

#include <vector>

namespace {

const guint PT = 102;

/* Access units of a 320x240 test picture from x264enc, the first a key frame. */
std::vector<GstBuffer *>
encode (guint n, GstCaps **caps)
{
  std::vector<GstBuffer *> units;
  g_autofree gchar *line = g_strdup_printf (
      "videotestsrc num-buffers=%u pattern=ball ! video/x-raw,width=320,height=240,framerate=10/1 "
      "! "
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 byte-stream=true ! "
      "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false",
      n);
  g_autoptr (GError) err = nullptr;
  GstElement *pipeline = gst_parse_launch (line, &err);
  EXPECT_NE (pipeline, nullptr) << (err ? err->message : "");
  if (!pipeline)
    return units;
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (out), 10 * GST_SECOND)) {
    units.push_back (gst_buffer_ref (gst_sample_get_buffer (sample)));
    if (!*caps)
      *caps = gst_caps_ref (gst_sample_get_caps (sample));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return units;
}

struct Packet
{
  guint16 seq;
  guint8 pt;
  bool marker;
  std::vector<guint8> payload;
};

std::vector<Packet>
parse (GstBufferList *list)
{
  std::vector<Packet> packets;
  for (guint i = 0; i < gst_buffer_list_length (list); i++) {
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    EXPECT_TRUE (gst_rtp_buffer_map (gst_buffer_list_get (list, i), GST_MAP_READ, &rtp));
    auto *data = static_cast<guint8 *> (gst_rtp_buffer_get_payload (&rtp));
    packets.push_back ({ gst_rtp_buffer_get_seq (&rtp), gst_rtp_buffer_get_payload_type (&rtp),
        gst_rtp_buffer_get_marker (&rtp) != FALSE,
        std::vector<guint8> (data, data + gst_rtp_buffer_get_payload_len (&rtp)) });
    gst_rtp_buffer_unmap (&rtp);
  }
  return packets;
}

/* What a viewer's depayloader and decoder make of @lists: the number of pictures, their size. */
guint
decode (const std::vector<GstBufferList *> & lists, GstCaps *rtp_caps, int *width, int *height)
{
  g_autoptr (GError) err = nullptr;
  GstElement *pipeline = gst_parse_launch ("appsrc name=src format=time ! rtph264depay ! "
                                           "h264parse ! avdec_h264 ! appsink name=out sync=false",
      &err);
  EXPECT_NE (pipeline, nullptr) << (err ? err->message : "");
  if (!pipeline)
    return 0;
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_app_src_set_caps (GST_APP_SRC (src), rtp_caps);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (GstBufferList *list : lists)
    gst_app_src_push_buffer_list (GST_APP_SRC (src), gst_buffer_list_ref (list));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  guint pictures = 0;
  while (GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (out), 10 * GST_SECOND)) {
    GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
    gst_structure_get_int (s, "width", width);
    gst_structure_get_int (s, "height", height);
    pictures++;
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return pictures;
}

class WhepPacketizerTest : public ::testing::Test
{
protected:
  void SetUp () override
  {
    units_ = encode (3, &caps_);
    ASSERT_EQ (units_.size (), 3u);
    packetizer_ = cr::RtpPacketizer::create (PT);
    ASSERT_TRUE (packetizer_);
  }
  void TearDown () override
  {
    for (GstBuffer *b : units_)
      gst_buffer_unref (b);
    for (GstBufferList *l : lists_)
      gst_buffer_list_unref (l);
    gst_clear_caps (&caps_);
    gst_clear_caps (&rtp_caps_);
  }
  /* A session's packets of access unit @i, kept until the end of the test. */
  GstBufferList *packets (guint i)
  {
    GstCaps *rtp_caps = nullptr;
    gsize bytes = 0;
    GstBufferList *list = packetizer_->packets (units_[i], caps_, &rtp_caps, &bytes);
    EXPECT_NE (list, nullptr);
    if (list) {
      EXPECT_EQ (bytes, gst_buffer_list_calculate_size (list));
      lists_.push_back (list);
    }
    if (rtp_caps)
      gst_caps_replace (&rtp_caps_, rtp_caps);
    gst_clear_caps (&rtp_caps);
    return list;
  }

  std::vector<GstBuffer *> units_;
  GstCaps *caps_ = nullptr;
  GstCaps *rtp_caps_ = nullptr;
  std::shared_ptr<cr::RtpPacketizer> packetizer_;
  std::vector<GstBufferList *> lists_;
};

TEST_F (WhepPacketizerTest, EverySessionGetsTheSamePacketsOfAnAccessUnitPayloadedOnce)
{
  GstBufferList *a = packets (0);
  GstBufferList *b = packets (0);
  ASSERT_TRUE (a && b);
  std::vector<Packet> pa = parse (a), pb = parse (b);
  ASSERT_FALSE (pa.empty ());
  ASSERT_EQ (pa.size (), pb.size ());
  for (size_t i = 0; i < pa.size (); i++) {
    /* Payloaded twice, the second session's packets would carry the next sequence numbers. */
    EXPECT_EQ (pa[i].seq, pb[i].seq) << "packet " << i;
    EXPECT_EQ (pa[i].payload, pb[i].payload) << "packet " << i;
    EXPECT_EQ (pa[i].pt, PT);
  }
  EXPECT_TRUE (pa.back ().marker) << "the access unit's last packet carries the marker";
  /* The next access unit goes on from where this one ended. */
  std::vector<Packet> next = parse (packets (1));
  ASSERT_FALSE (next.empty ());
  EXPECT_EQ (next.front ().seq, guint16 (pa.back ().seq + 1));
}

TEST_F (WhepPacketizerTest, EachSessionHasBuffersOfItsOwn)
{
  GstBufferList *a = packets (0);
  GstBufferList *b = packets (0);
  ASSERT_TRUE (a && b);
  ASSERT_EQ (gst_buffer_list_length (a), gst_buffer_list_length (b));
  for (guint i = 0; i < gst_buffer_list_length (a); i++) {
    GstBuffer *pa = gst_buffer_list_get (a, i), *pb = gst_buffer_list_get (b, i);
    /* Shared buffers make webrtcbin's list copies contend on each packet (crwheppacketizer.cpp). */
    EXPECT_NE (pa, pb) << "packet " << i;
    EXPECT_NE (gst_buffer_peek_memory (pa, 0), gst_buffer_peek_memory (pb, 0)) << "packet " << i;
    EXPECT_EQ (gst_buffer_n_memory (pa), 1u) << "one block: SRTP reads it without merging";
  }
}

TEST_F (WhepPacketizerTest, ASessionsPacketsDecodeToThePicture)
{
  std::vector<GstBufferList *> session;
  for (guint i = 0; i < units_.size (); i++) {
    packets (i); /* another session asks first */
    session.push_back (packets (i));
  }
  ASSERT_NE (rtp_caps_, nullptr);
  int width = 0, height = 0;
  EXPECT_EQ (decode (session, rtp_caps_, &width, &height), units_.size ());
  EXPECT_EQ (width, 320);
  EXPECT_EQ (height, 240);
}

}  // namespace
