/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a GstBuffer's bytes as a GBytes (see crbufferbytes.h). */
#include "crbufferbytes.h"

namespace cr {

namespace {

struct Mapped
{
  GstBuffer *buffer;
  GstMapInfo info;
};

void
unmap (gpointer data)
{
  auto *mapped = static_cast<Mapped *> (data);
  gst_buffer_unmap (mapped->buffer, &mapped->info);
  gst_buffer_unref (mapped->buffer);
  delete mapped;
}

}  // namespace

GBytes *
bytes_from_buffer (GstBuffer *buffer)
{
  auto *mapped = new Mapped{ gst_buffer_ref (buffer), GST_MAP_INFO_INIT };
  if (!gst_buffer_map (mapped->buffer, &mapped->info, GST_MAP_READ)) {
    gst_buffer_unref (mapped->buffer);
    delete mapped;
    return nullptr;
  }
  return g_bytes_new_with_free_func (mapped->info.data, mapped->info.size, unmap, mapped);
}

}  // namespace cr
