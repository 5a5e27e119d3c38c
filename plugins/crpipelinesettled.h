/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: whether an element's pipeline and its sinks have settled in PLAYING. */
#pragma once

#include <gst/gst.h>

namespace cr {

/* Whether the top-level bin holding @element, and every sink in it, is PLAYING with no state
 * change pending. Until then a sink may be waiting to preroll with a buffer from a streaming
 * thread upstream, holding that thread: stopping the element that owns it would wait for it, and
 * with it anything that needs the same pads. Any thread. */
bool pipeline_settled (GstElement *element);

}  // namespace cr
