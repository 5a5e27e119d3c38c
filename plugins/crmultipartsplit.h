/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: cuts multipartmux output back into its parts, for mjpeghttpsink.
 *
 * multipartmux writes every frame as a header block ("--BOUNDARY\r\nContent-Type: ...\r\n
 * Content-Length: N\r\n\r\n"), the frame and a CRLF, each pushed as a buffer of its own, so taking
 * a part's body out of the adapter returns the original frame buffer without a copy. No element
 * and no thread here: the sink feeds it the buffers it renders, and a unit test can do the same.
 */
#pragma once

#include <gst/base/gstadapter.h>

#include <string>

namespace cr {

class MultipartSplitter
{
public:
  MultipartSplitter ();
  ~MultipartSplitter ();
  MultipartSplitter (const MultipartSplitter &) = delete;
  MultipartSplitter & operator= (const MultipartSplitter &) = delete;

  enum class Result
  {
    PART,          /* a part's body was returned */
    NEED_DATA,     /* push more */
    NOT_MULTIPART, /* the input is not multipart data as multipartmux makes it */
  };

  /* Forgets a partial part (new caps); parts must open with "--@boundary" from now on. */
  void reset (const std::string & boundary);
  /* Forgets a partial part (a flush) and keeps the boundary. */
  void clear ();

  /* @buffer: transfer full. */
  void push (GstBuffer *buffer);
  /* The next complete part's body in @body (transfer full), or why there is none. */
  Result next (GstBuffer **body);

  const std::string & boundary () const { return boundary_; }
  /* The Content-Type header of the part most recently returned; "image/jpeg" until a part has
   * one. */
  const std::string & content_type () const { return content_type_; }

private:
  bool parse_header (const char *block, gsize len, gsize *length);

  GstAdapter *adapter_;
  std::string boundary_;
  std::string content_type_ = "image/jpeg";
  gsize body_left_ = 0; /* the body's length while in_body_ */
  bool in_body_ = false;
};

}  // namespace cr
