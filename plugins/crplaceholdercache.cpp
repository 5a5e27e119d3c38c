/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the process-wide placeholder cache (see crplaceholdercache.h). */
#include "crplaceholdercache.h"

#include "crjpegdecode.h"
#include "jpegcheck.h"

#include <glib/gstdio.h>

#include <map>
#include <mutex>

namespace cr {

namespace {

/* One checked placeholder file, shared by every element showing it. */
struct CachedPlaceholder
{
  /* The file as it was read: a change to any of these means read it again. */
  guint64 device = 0, inode = 0, mtime = 0, size = 0;
  GstBuffer *image = nullptr;         /* SOI..EOI, with tables: what viewers get; never written */
  const guint8 *image_data = nullptr; /* image's bytes */
  gsize image_size = 0;
  guint width = 0, height = 0;
};

std::mutex cache_lock;

/* Under cache_lock. Lives as long as the process: a few entries, one per distinct file. */
std::map<std::string, CachedPlaceholder> &
entries ()
{
  static auto *cache = new std::map<std::string, CachedPlaceholder> ();
  return *cache;
}

guint64
mtime_ns (const GStatBuf & st)
{
  return (guint64) st.st_mtim.tv_sec * G_GUINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
}

bool
same_file (const CachedPlaceholder & entry, const GStatBuf & st)
{
  return entry.device == (guint64) st.st_dev && entry.inode == (guint64) st.st_ino &&
      entry.mtime == mtime_ns (st) && entry.size == (guint64) st.st_size;
}

/* The checks a live frame gets from jpegvalidate decode-check=true, without its
 * size limits: the structural walk, then a full decode. Padding after EOI, which
 * some tools write as cameras do, is tolerated the same way (up to 4 KiB). */
JpegCheckResult
check_placeholder (const guint8 *data, gsize size)
{
  JpegCheckLimits limits;
  limits.min_size = 0;
  limits.max_size = 0;
  limits.max_width = 0;
  limits.max_height = 0;
  JpegCheckResult res = jpeg_check (data, size, limits);
  if (res.ok ()) {
    JpegDecoder decoder;
    if (!decoder.decode (data, res.image_size, res.detail, sizeof (res.detail)))
      res.reason = JpegReject::DecodeFailed;
  }
  return res;
}

/* Under cache_lock. */
bool
take_cached (const std::string & path, const GStatBuf & st, PlaceholderImage & out)
{
  auto it = entries ().find (path);
  if (it == entries ().end () || !same_file (it->second, st))
    return false;
  out.image = gst_buffer_ref (it->second.image);
  out.data = it->second.image_data;
  out.size = it->second.image_size;
  out.width = it->second.width;
  out.height = it->second.height;
  return true;
}

/* The cache outlives every element on purpose: GStreamer's leaks tracer is told so, and lists
 * only real leaks. */
void
mark_kept_for_the_process (GstBuffer *image)
{
  GST_MINI_OBJECT_FLAG_SET (image, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
  for (guint i = 0; i < gst_buffer_n_memory (image); i++)
    GST_MINI_OBJECT_FLAG_SET (gst_buffer_peek_memory (image, i),
        GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
}

/* Under cache_lock. */
void
keep (const std::string & path, const GStatBuf & st, const PlaceholderImage & image)
{
  CachedPlaceholder & entry = entries ()[path];
  gst_clear_buffer (&entry.image);
  entry.device = st.st_dev;
  entry.inode = st.st_ino;
  entry.mtime = mtime_ns (st);
  entry.size = st.st_size;
  entry.image = gst_buffer_ref (image.image);
  mark_kept_for_the_process (entry.image);
  entry.image_data = image.data;
  entry.image_size = image.size;
  entry.width = image.width;
  entry.height = image.height;
}

}  // namespace

PlaceholderImage
load_placeholder (const std::string & path)
{
  PlaceholderImage out;
  GStatBuf st;
  bool stat_ok = g_stat (path.c_str (), &st) == 0;
  if (stat_ok) {
    std::lock_guard<std::mutex> guard (cache_lock);
    if (take_cached (path, st, out))
      return out;
  }

  g_autoptr (GError) error = nullptr;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path.c_str (), FALSE, &error);
  if (!file) {
    bool missing = g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    out.error = missing ? GST_RESOURCE_ERROR_NOT_FOUND : GST_RESOURCE_ERROR_OPEN_READ;
    out.message = missing ? "Placeholder image \"" + path + "\" does not exist."
                          : "Could not read placeholder image \"" + path + "\".";
    out.detail = error->message;
    return out;
  }

  auto *data = reinterpret_cast<const guint8 *> (g_mapped_file_get_contents (file));
  JpegCheckResult res = check_placeholder (data, g_mapped_file_get_length (file));
  if (!res.ok ()) {
    out.error = GST_RESOURCE_ERROR_FAILED;
    out.message = "Placeholder image \"" + path + "\" is not a usable JPEG file (" +
        jpeg_reject_nick (res.reason) + ").";
    out.detail = res.detail;
    return out;
  }

  /* What a camera's frame would become in jpegvalidate: padding cut, tables added. */
  gsize size = jpeg_repaired_size (res);
  auto *image = static_cast<guint8 *> (g_malloc (size));
  jpeg_write_repaired (data, res, image);
  out.image = gst_buffer_new_wrapped (image, size);
  out.data = image;
  out.size = size;
  out.width = res.info.width;
  out.height = res.info.height;
  out.read_now = true;
  if (stat_ok) {
    std::lock_guard<std::mutex> guard (cache_lock);
    keep (path, st, out);
  }
  return out;
}

void
post_placeholder_error (GstElement *element, const PlaceholderImage & image)
{
  gst_element_message_full (element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR, image.error,
      g_strdup (image.message.c_str ()), g_strdup (image.detail.c_str ()), __FILE__, GST_FUNCTION,
      __LINE__);
}

}  // namespace cr
