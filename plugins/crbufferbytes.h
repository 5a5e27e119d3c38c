/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: a GstBuffer's bytes as a GBytes, without a copy.
 *
 * The server layer takes frames as GBytes (it knows no GStreamer); the elements that hand it
 * frames (mjpeghttpsink to viewers, wsjpegsink to its push client) share the buffer's memory:
 * the GBytes keeps the buffer mapped and referenced until its last user lets go. The other
 * direction is GStreamer's own gst_buffer_new_wrapped_bytes(). */
#pragma once

#include <gst/gst.h>

namespace cr {

/* Any thread. A new GBytes over @buffer's bytes (mapped for reading, so a buffer of several
 * memories is merged once by the map), or nullptr if it cannot be mapped. @buffer is not
 * consumed. */
GBytes *bytes_from_buffer (GstBuffer *buffer);

}  // namespace cr
