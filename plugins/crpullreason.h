/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: why a pulled HTTP camera gave no frame, in words a user can act on.
 *
 * souphttpsrc reports most failures as "Internal data stream error": libsoup's own reason (refused,
 * not HTTP, headers too big, not TLS) stays in its debug log. pulljpegsrc keeps what each try saw
 * (the answer's status and headers, the first bytes of its body) and this module turns that into a
 * reason; when nothing was answered, it looks at the camera once more with a plain request of its
 * own (probe_http_camera) to say whether it could not be reached, did not answer, or answered
 * something that is not HTTP. It also keeps souphttpsrc from asking a live stream for a byte range
 * after a connection breaks mid-frame (no camera serves one; the next try starts afresh). */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <string>

namespace cr {

/* What one try at an HTTP camera saw. */
struct PullAnswer
{
  bool answered = false; /* a status line and headers arrived */
  guint status = 0;
  std::string content_type;
  std::string content_encoding;
  std::string location;     /* of a redirect, credentials masked */
  std::string head;         /* the first bytes of the body, at most HEAD_BYTES */
  guint64 body_bytes = 0;   /* all of the body so far */
  bool range_retry = false; /* souphttpsrc tried to resume with a Range request */
  bool snapshot = false;    /* an image/jpeg answer */

  static constexpr gsize HEAD_BYTES = 4096;
  void add_body (const guint8 *data, gsize size);
};

/* The reason for an error that souphttpsrc posted, or "" to keep the caller's own. @has_user: the
 * URL carries credentials. */
std::string http_error_reason (const GError *error, const gchar *debug, const PullAnswer & answer,
    bool has_user);

/* True if souphttpsrc's error says only that its stream stopped, with no cause of its own. */
bool is_generic_stream_error (const GError *error);

/* The reason to refuse an answer with a Content-Encoding other than identity, or "". */
std::string compression_refused (const PullAnswer & answer);

/* The reason for a try that saw no frame for @timeout (ns), from what arrived. */
std::string stall_reason (const PullAnswer & answer, GstClockTime timeout);

/* The reason for a stream that ended (or, @broke, broke off) after its answer, from what
 * arrived; "" if there is nothing more to say than that. */
std::string answer_reason (const PullAnswer & answer, bool broke);

/* Connects to @url (credentials not sent) with a plain HTTP/1.1 GET and says what it finds:
 * cannot connect, no answer, an answer that is not HTTP, plain HTTP on an https:// URL, headers
 * that do not end. @timeout_s bounds each step; @cancellable stops it. */
std::string probe_http_camera (const std::string & url, guint timeout_s, GCancellable *cancellable);

/* @reason with its numbers left out: two reasons with the same key are one cause, worth one log
 * line. */
std::string cause_key (const std::string & reason);

/* The User-Agent of pulljpegsrc's souphttpsrc: how strip_range_requests() knows its requests. */
const char *pull_user_agent ();

/* Installs, once per process, the hook that removes the Range header souphttpsrc adds when it
 * resumes a broken response, for requests made with pull_user_agent(). */
void strip_range_requests ();

}  // namespace cr
