/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cr::bytes_from_buffer, how mjpeghttpsink and wsjpegsink hand a frame to the server layer: the
 * frame's own memory, kept alive exactly as long as someone holds the GBytes, never a copy. */
#include "crbufferbytes.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

GstBuffer *
frame_of (gsize size, guint8 fill)
{
  GstBuffer *buffer = gst_buffer_new_allocate (nullptr, size, nullptr);
  gst_buffer_memset (buffer, 0, fill, size);
  return buffer;
}

TEST (BufferBytes, SharesTheFramesMemoryWithoutACopy)
{
  GstBuffer *buffer = frame_of (30000, 0xab);
  GBytes *bytes = cr::bytes_from_buffer (buffer);
  ASSERT_NE (bytes, nullptr);
  GstMapInfo map;
  ASSERT_TRUE (gst_buffer_map (buffer, &map, GST_MAP_READ));
  gsize size = 0;
  EXPECT_EQ (g_bytes_get_data (bytes, &size), map.data) << "the frame was copied";
  EXPECT_EQ (size, 30000u);
  gst_buffer_unmap (buffer, &map);
  g_bytes_unref (bytes);
  gst_buffer_unref (buffer);
}

TEST (BufferBytes, KeepsTheFrameAliveUntilTheLastUserLetsGo)
{
  GstBuffer *buffer = frame_of (6000, 0x5a);
  GBytes *bytes = cr::bytes_from_buffer (buffer);
  ASSERT_NE (bytes, nullptr);
  EXPECT_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (buffer), 2) << "the GBytes holds no reference";
  gst_buffer_ref (buffer); /* to watch it */
  gst_buffer_unref (buffer);
  gsize size = 0;
  auto *data = static_cast<const guint8 *> (g_bytes_get_data (bytes, &size));
  ASSERT_EQ (size, 6000u);
  EXPECT_EQ (data[0], 0x5a);
  EXPECT_EQ (data[5999], 0x5a);
  GBytes *second = g_bytes_ref (bytes); /* a second viewer of the same frame */
  g_bytes_unref (bytes);
  EXPECT_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (buffer), 2);
  g_bytes_unref (second);
  EXPECT_EQ (GST_MINI_OBJECT_REFCOUNT_VALUE (buffer), 1) << "the frame outlives its last user";
  /* Unmapped again: the buffer can be mapped for writing. */
  GstMapInfo map;
  EXPECT_TRUE (gst_buffer_map (buffer, &map, GST_MAP_WRITE));
  gst_buffer_unmap (buffer, &map);
  gst_buffer_unref (buffer);
}

TEST (BufferBytes, AFrameOfSeveralMemoriesComesAsOneRun)
{
  GstBuffer *buffer = frame_of (100, 0x11);
  gst_buffer_append (buffer, frame_of (50, 0x22));
  GBytes *bytes = cr::bytes_from_buffer (buffer);
  ASSERT_NE (bytes, nullptr);
  gsize size = 0;
  auto *data = static_cast<const guint8 *> (g_bytes_get_data (bytes, &size));
  ASSERT_EQ (size, 150u);
  EXPECT_EQ (data[99], 0x11);
  EXPECT_EQ (data[100], 0x22);
  g_bytes_unref (bytes);
  gst_buffer_unref (buffer);
}

}  // namespace
