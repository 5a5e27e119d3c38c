/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: cuts multipartmux output back into its parts (see crmultipartsplit.h). */
#include "crmultipartsplit.h"

/* A multipart header block larger than this is not multipartmux output. */
#define MAX_PART_HEADER 4096

namespace cr {

MultipartSplitter::MultipartSplitter () : adapter_ (gst_adapter_new ()) {}

MultipartSplitter::~MultipartSplitter ()
{
  g_object_unref (adapter_);
}

void
MultipartSplitter::reset (const std::string & boundary)
{
  boundary_ = boundary;
  clear ();
}

void
MultipartSplitter::clear ()
{
  gst_adapter_clear (adapter_);
  in_body_ = false;
  body_left_ = 0;
}

void
MultipartSplitter::push (GstBuffer *buffer)
{
  gst_adapter_push (adapter_, buffer);
}

/* Parses "--boundary\r\nName: value\r\n...\r\n\r\n"; fills the part's Content-Type and length. */
bool
MultipartSplitter::parse_header (const char *block, gsize len, gsize *length)
{
  std::string text (block, len);
  std::string opening = "--" + boundary_ + "\r\n";
  if (text.compare (0, opening.size (), opening) != 0)
    return false;

  bool have_length = false;
  gsize pos = opening.size ();
  while (pos < text.size ()) {
    gsize eol = text.find ("\r\n", pos);
    if (eol == std::string::npos || eol == pos)
      break;
    std::string line = text.substr (pos, eol - pos);
    pos = eol + 2;
    gsize colon = line.find (':');
    if (colon == std::string::npos)
      continue;
    std::string name = line.substr (0, colon);
    g_autofree gchar *value = g_strstrip (g_strdup (line.c_str () + colon + 1));
    if (g_ascii_strcasecmp (name.c_str (), "Content-Type") == 0) {
      content_type_ = value;
    } else if (g_ascii_strcasecmp (name.c_str (), "Content-Length") == 0) {
      guint64 n;
      if (!g_ascii_string_to_unsigned (value, 10, 1, G_MAXUINT32, &n, nullptr))
        return false;
      *length = n;
      have_length = true;
    }
  }
  return have_length;
}

MultipartSplitter::Result
MultipartSplitter::next (GstBuffer **body)
{
  for (;;) {
    gsize avail = gst_adapter_available (adapter_);
    if (in_body_) {
      if (avail < body_left_)
        return Result::NEED_DATA;
      *body = gst_adapter_take_buffer (adapter_, body_left_);
      in_body_ = false;
      return Result::PART;
    }

    /* The CRLF that ends the previous part. */
    while (avail >= 2) {
      guint8 crlf[2];
      gst_adapter_copy (adapter_, crlf, 0, 2);
      if (crlf[0] != '\r' || crlf[1] != '\n')
        break;
      gst_adapter_flush (adapter_, 2);
      avail -= 2;
    }
    if (avail < 4)
      return Result::NEED_DATA;

    gssize end = gst_adapter_masked_scan_uint32 (adapter_, 0xffffffff, 0x0d0a0d0a, 0, avail);
    if (end < 0)
      return avail > MAX_PART_HEADER ? Result::NOT_MULTIPART : Result::NEED_DATA;

    gsize block = end + 4;
    const char *data = static_cast<const char *> (gst_adapter_map (adapter_, block));
    gsize length = 0;
    bool ok = parse_header (data, block, &length);
    gst_adapter_unmap (adapter_);
    if (!ok)
      return Result::NOT_MULTIPART;
    gst_adapter_flush (adapter_, block);
    in_body_ = true;
    body_left_ = length;
  }
}

}  // namespace cr
