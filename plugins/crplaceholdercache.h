/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: jpegfallback's placeholder pictures, read and checked once per process.
 *
 * A placeholder file is checked as a live frame with decode-check=true would be (without size
 * limits) and repaired the same way (padding after EOI cut, missing Huffman tables added), then
 * kept for the life of the process: every jpegfallback showing the same file shares its bytes, and
 * a thousand cameras on the default placeholder cost one copy. A file is read again when its
 * device, inode, modification time or size changes (a new picture under the same path). */
#pragma once

#include <gst/gst.h>

#include <string>

namespace cr {

struct PlaceholderImage
{
  GstBuffer *image = nullptr;   /* transfer full; SOI..EOI with tables; never written */
  const guint8 *data = nullptr; /* image's bytes, alive as long as image */
  gsize size = 0;
  guint width = 0, height = 0;
  bool read_now = false; /* read from the file by this call rather than taken from the cache */

  /* When image is nullptr: why, for an element error naming the path. */
  GstResourceError error = GST_RESOURCE_ERROR_FAILED;
  std::string message; /* for users */
  std::string detail;  /* for developers */
};

/* Any thread. The checked picture of the file at @path, from the cache or read now. */
PlaceholderImage load_placeholder (const std::string & path);

/* Posts why @image could not be loaded (its image is nullptr) as an error message of @element:
 * the resource error naming the path, for users, and the detail, for developers. */
void post_placeholder_error (GstElement *element, const PlaceholderImage & image);

}  // namespace cr
