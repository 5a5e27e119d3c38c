/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: files as responses, with byte ranges (see fileresponse.h). */
#define G_LOG_DOMAIN "camrelay"
#include "fileresponse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace camrelay {

namespace {

const gsize PIECE = 64 * 1024;

void
plain (SoupServerMessage *msg, guint status, const std::string & text)
{
  std::string body = text + "\n";
  soup_server_message_set_status (msg, status, nullptr);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
      body.data (), body.size ());
}

enum class RangeAsk
{
  WHOLE,         /* no Range, or one we answer whole (several ranges, another unit, bad syntax) */
  PART,          /* one satisfiable range */
  UNSATISFIABLE, /* starts past the end */
};

bool
parse_number (const std::string & text, guint64 & value)
{
  if (text.empty () || text.size () > 19 ||
      text.find_first_not_of ("0123456789") != std::string::npos)
    return false;
  value = g_ascii_strtoull (text.c_str (), nullptr, 10);
  return true;
}

/* "bytes=first-last", "bytes=first-" or "bytes=-suffix" against a file of @size bytes. */
RangeAsk
parse_range (const char *header, guint64 size, guint64 & first, guint64 & last)
{
  if (!header)
    return RangeAsk::WHOLE;
  std::string h (header);
  if (h.compare (0, 6, "bytes=") != 0 || h.find (',') != std::string::npos)
    return RangeAsk::WHOLE;
  std::string spec = h.substr (6);
  auto dash = spec.find ('-');
  if (dash == std::string::npos)
    return RangeAsk::WHOLE;
  std::string a = spec.substr (0, dash), b = spec.substr (dash + 1);
  guint64 x = 0, y = 0;
  if (a.empty ()) {
    if (!parse_number (b, y))
      return RangeAsk::WHOLE;
    if (y == 0 || size == 0)
      return RangeAsk::UNSATISFIABLE;
    first = y >= size ? 0 : size - y;
    last = size - 1;
    return RangeAsk::PART;
  }
  if (!parse_number (a, x) || (!b.empty () && (!parse_number (b, y) || y < x)))
    return RangeAsk::WHOLE;
  if (x >= size)
    return RangeAsk::UNSATISFIABLE;
  first = x;
  last = b.empty () || y >= size ? size - 1 : y;
  return RangeAsk::PART;
}

/* The body in flight: the next piece is read when libsoup has written the previous one. */
struct FileBody
{
  FileBody (const FileBody &) = delete;
  FileBody & operator= (const FileBody &) = delete;
  int fd;
  guint64 pos, end; /* end exclusive */
  ~FileBody () { close (fd); }
};

/* Appends the next piece, or completes the body. A file cut shorter meanwhile (the writer trims
 * a half-written frame after a disk error) ends the connection: the promised length cannot be
 * kept. */
void
feed (SoupServerMessage *msg, FileBody & b)
{
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  if (b.pos >= b.end) {
    soup_message_body_complete (body);
    soup_server_message_unpause (msg);
    return;
  }
  gsize want = static_cast<gsize> (MIN (static_cast<guint64> (PIECE), b.end - b.pos));
  /* g_malloc: soup_message_body_append_take () releases it with g_free (). */
  g_autofree guint8 *piece = static_cast<guint8 *> (g_malloc (want));
  ssize_t n = pread (b.fd, piece, want, static_cast<off_t> (b.pos));
  if (n <= 0) {
    GSocket *socket = soup_server_message_get_socket (msg);
    if (socket)
      g_socket_shutdown (socket, TRUE, TRUE, nullptr);
    return;
  }
  b.pos += static_cast<guint64> (n);
  soup_message_body_append_take (body, static_cast<guint8 *> (g_steal_pointer (&piece)),
      static_cast<gsize> (n));
  soup_server_message_unpause (msg);
}

}  // namespace

void
serve_file (SoupServerMessage *msg, const std::string & path, const char *content_type)
{
  int fd = open (path.c_str (), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    if (fd >= 0)
      close (fd);
    plain (msg, SOUP_STATUS_NOT_FOUND, "no such recording");
    return;
  }
  std::unique_ptr<FileBody> file (new FileBody{ fd, 0, 0 });
  guint64 size = static_cast<guint64> (st.st_size);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Accept-Ranges", "bytes");
  guint64 first = 0, last = 0;
  const char *range =
      soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Range");
  switch (parse_range (range, size, first, last)) {
    case RangeAsk::UNSATISFIABLE: {
      g_autofree gchar *cr = g_strdup_printf ("bytes */%" G_GUINT64_FORMAT, size);
      soup_message_headers_replace (h, "Content-Range", cr);
      plain (msg, SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE, "the range starts past the end");
      return;
    }
    case RangeAsk::PART: {
      g_autofree gchar *cr =
          g_strdup_printf ("bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
              first, last, size);
      soup_message_headers_replace (h, "Content-Range", cr);
      soup_server_message_set_status (msg, SOUP_STATUS_PARTIAL_CONTENT, nullptr);
      file->pos = first;
      file->end = last + 1;
      break;
    }
    case RangeAsk::WHOLE:
      soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
      file->pos = 0;
      file->end = size;
      break;
  }
  soup_message_headers_replace (h, "Content-Type", content_type);
  soup_message_headers_set_content_length (h, static_cast<goffset> (file->end - file->pos));
  if (g_strcmp0 (soup_server_message_get_method (msg), "HEAD") == 0)
    return;

  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  soup_message_body_set_accumulate (body, FALSE);
  FileBody *b = file.release ();
  g_signal_connect_data (
      msg, "wrote-chunk", G_CALLBACK (+[] (SoupServerMessage *m, gpointer data) {
        feed (m, *static_cast<FileBody *> (data));
      }),
      b, [] (gpointer data, GClosure *) { delete static_cast<FileBody *> (data); },
      static_cast<GConnectFlags> (0));
  feed (msg, *b);
}

}  // namespace camrelay
