/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: why a pulled HTTP camera gave no frame (see crpullreason.h). */
#include "crpullreason.h"

#include "crredact.h"

#include <libsoup/soup.h>

#include <cstring>

namespace cr {

namespace {

/* A probe reads at most this much of an answer's head. */
constexpr gsize PROBE_HEAD_LIMIT = 64 * 1024;
/* Redirects a probe follows to say where they lead. */
constexpr int PROBE_REDIRECTS = 5;
/* RFC 2046: a boundary has 1 to 70 characters. */
constexpr gsize MAX_BOUNDARY = 70;

std::string
lower (std::string s)
{
  for (char & c : s)
    c = g_ascii_tolower (c);
  return s;
}

/* At most @max bytes of @s as printable ASCII, the rest as '.', for quoting what a camera sent. */
std::string
printable (const std::string & s, gsize max = 24)
{
  std::string out;
  for (gsize i = 0; i < s.size () && i < max; i++)
    out += g_ascii_isprint (s[i]) ? s[i] : '.';
  return out;
}

std::string
with_thousands (guint64 n)
{
  std::string digits = std::to_string (n), out;
  for (gsize i = 0; i < digits.size (); i++) {
    if (i > 0 && (digits.size () - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

bool
is_http_url (const std::string & url)
{
  return g_str_has_prefix (url.c_str (), "http://") || g_str_has_prefix (url.c_str (), "https://");
}

std::string
compressed_reason (const PullAnswer & a)
{
  return "the camera compresses its answer (Content-Encoding: " + printable (a.content_encoding) +
      ") though camrelay asked for none; no camera does that";
}

/* The boundary parameter of a multipart Content-Type; "" if there is none. */
std::string
boundary_of (const std::string & content_type)
{
  std::string l = lower (content_type);
  gsize at = l.find ("boundary=");
  if (at == std::string::npos)
    return "";
  std::string b = content_type.substr (at + 9);
  gsize end = b.find (';');
  if (end != std::string::npos)
    b = b.substr (0, end);
  if (b.size () >= 2 && b.front () == '"' && b.back () == '"')
    b = b.substr (1, b.size () - 2);
  return b;
}

bool
has_empty_parts (const std::string & head)
{
  std::string l = lower (head);
  return l.find ("content-length: 0\r\n") != std::string::npos ||
      l.find ("content-length:0\r\n") != std::string::npos ||
      l.find ("\r\n\r\n\r\n--") != std::string::npos;
}

/* Why the bytes of an answer are not pictures, from its headers and first bytes. */
std::string
body_reason (const PullAnswer & a, const std::string & said)
{
  if (!a.content_encoding.empty () && lower (a.content_encoding) != "identity")
    return compressed_reason (a);
  if (a.body_bytes == 0)
    return answer_reason (a, false);
  std::string type = lower (a.content_type);
  if (g_str_has_prefix (type.c_str (), "multipart/")) {
    std::string boundary = boundary_of (a.content_type);
    if (boundary.size () > MAX_BOUNDARY)
      return "the camera's multipart boundary is " + with_thousands (boundary.size ()) +
          " characters long (at most 70 are allowed)";
    if (has_empty_parts (a.head))
      return "the camera sends multipart parts with no data (Content-Length: 0)";
    if (a.head.find ("--") == std::string::npos)
      return "no multipart boundary in the camera's answer (Content-Type: " +
          printable (a.content_type, 60) + ")";
    return "the camera's MJPEG parts are malformed (" + said + ")";
  }
  std::string shown = a.content_type.empty () ? "none" : printable (a.content_type, 60);
  return "the camera's answer is neither MJPEG (multipart/x-mixed-replace) nor a JPEG picture "
         "(Content-Type: " +
      shown + ", starting \"" + printable (a.head) + "\")";
}

/* "Redirect to: X" in souphttpsrc's debug text. */
std::string
redirect_target (const PullAnswer & a, const gchar *debug)
{
  if (!a.location.empty ())
    return a.location;
  if (!debug)
    return "";
  const char *at = strstr (debug, "Redirect to: ");
  if (!at)
    return "";
  std::string target = at + strlen ("Redirect to: ");
  gsize end = target.find_first_of ("\r\n ");
  if (end != std::string::npos)
    target = target.substr (0, end);
  return target == "(NULL)" ? "" : redact_url (target);
}

std::string
status_reason (const GError *error, const gchar *debug, const PullAnswer & a, bool has_user)
{
  guint status = a.status;
  std::string phrase = error->message && g_utf8_validate (error->message, -1, nullptr)
      ? printable (error->message, 60)
      : "";
  std::string code = "HTTP " + std::to_string (status) + (phrase.empty () ? "" : " " + phrase);
  if (status == 401)
    return has_user
        ? "the camera refuses the user name and password of the source URL (" + code + ")"
        : "the camera asks for a login (" + code + "): put user:password@ in the source URL";
  if (status == 403)
    return "the camera refuses access (" + code + ")";
  if (status == 404)
    return "the camera has no such page (" + code + "): check the path of the source URL";
  if (status >= 300 && status < 400) {
    std::string target = redirect_target (a, debug);
    if (target.empty ())
      return "the camera answered a redirect without a usable Location (" + code + ")";
    /* A relative Location leads back to the same camera. */
    if (g_uri_peek_scheme (target.c_str ()) && !is_http_url (target))
      return "the camera redirects to " + target + " (" + code +
          "): camrelay follows redirects to http:// and https:// only";
    return "the camera redirects again and again (" + code + ", last to " + target +
        "; more than 20 redirects)";
  }
  if (status >= 500)
    return "the camera answered " + code + ": it is failing or busy";
  if (status)
    return "the camera answered " + code;
  return "";
}

}  // namespace

void
PullAnswer::add_body (const guint8 *data, gsize size)
{
  body_bytes += size;
  if (head.size () < HEAD_BYTES)
    head.append (reinterpret_cast<const char *> (data), MIN (size, HEAD_BYTES - head.size ()));
}

std::string
compression_refused (const PullAnswer & a)
{
  if (a.content_encoding.empty () || lower (a.content_encoding) == "identity")
    return "";
  return compressed_reason (a);
}

bool
is_generic_stream_error (const GError *error)
{
  return g_error_matches (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED);
}

std::string
http_error_reason (const GError *error, const gchar *debug, const PullAnswer & answer,
    bool has_user)
{
  if (error->domain == GST_RESOURCE_ERROR) {
    /* souphttpsrc resumed a broken response with a Range request: no live stream allows that. */
    if (error->code == GST_RESOURCE_ERROR_SEEK)
      return "the camera closed the connection in the middle of a frame";
    if (answer.status >= 300)
      return status_reason (error, debug, answer, has_user);
    return "";
  }
  if (error->domain == GST_STREAM_ERROR &&
      (error->code == GST_STREAM_ERROR_TYPE_NOT_FOUND ||
          error->code == GST_STREAM_ERROR_WRONG_TYPE || error->code == GST_STREAM_ERROR_DEMUX ||
          error->code == GST_STREAM_ERROR_CODEC_NOT_FOUND))
    return body_reason (answer, printable (error->message ? error->message : "", 80));
  return "";
}

std::string
stall_reason (const PullAnswer & a, GstClockTime timeout)
{
  /* "10 s", "1.5 s", whatever the locale. */
  gchar seconds[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (seconds, sizeof (seconds), "%g", static_cast<double> (timeout) / GST_SECOND);
  std::string prefix = std::string ("no frame from the camera for ") + seconds + " s";
  if (!a.content_encoding.empty () && lower (a.content_encoding) != "identity")
    return compressed_reason (a);
  if (a.body_bytes == 0)
    return prefix + ": it answered, then sent nothing";
  if (a.snapshot)
    return prefix + ": the snapshot was still arriving (" + with_thousands (a.body_bytes) +
        " bytes so far)";
  if (g_str_has_prefix (lower (a.content_type).c_str (), "multipart/") && has_empty_parts (a.head))
    return "the camera sends multipart parts with no data (Content-Length: 0)";
  return prefix + ": " + with_thousands (a.body_bytes) +
      " bytes arrived without a complete frame (too slow, or not pictures)";
}

std::string
answer_reason (const PullAnswer & a, bool broke)
{
  if (!a.answered)
    return "";
  if (!a.content_encoding.empty () && lower (a.content_encoding) != "identity")
    return compressed_reason (a);
  if (a.body_bytes == 0)
    return "the camera answered (HTTP " + std::to_string (a.status) +
        ") but its answer ended before any data: " +
        (broke ? "the connection broke, or its chunked encoding is broken"
               : "it closed the connection, or its chunked encoding is broken");
  return "";
}

/* ---------------------------------------------------------------------------------------------- */
/* The probe */

namespace {

struct ProbeRead
{
  std::string bytes;
  bool eof = false;
  bool timed_out = false;
  std::string error;
};

/* Reads until the end of the headers, for @timeout_s at most in all (a byte every second must
 * not keep it going). */
ProbeRead
read_head (GInputStream *in, guint timeout_s, GCancellable *cancellable)
{
  ProbeRead r;
  char buf[4096];
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  while (r.bytes.size () < PROBE_HEAD_LIMIT && r.bytes.find ("\r\n\r\n") == std::string::npos &&
      r.bytes.find ("\n\n") == std::string::npos) {
    if (g_get_monotonic_time () >= deadline) {
      r.timed_out = true;
      break;
    }
    g_autoptr (GError) error = nullptr;
    gssize n = g_input_stream_read (in, buf, sizeof buf, cancellable, &error);
    if (n > 0) {
      r.bytes.append (buf, n);
      continue;
    }
    if (n == 0)
      r.eof = true;
    else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      r.timed_out = true;
    else
      r.error = error->message;
    break;
  }
  return r;
}

std::string probe (const std::string & url, guint timeout_s, GCancellable *cancellable, int hops);

/* What the head of a plain-HTTP answer says, for a camera that libsoup could not read. */
std::string
judge_head (const ProbeRead & r, const std::string & url, bool https, guint timeout_s,
    GCancellable *cancellable, int hops)
{
  const std::string & b = r.bytes;
  bool http = g_str_has_prefix (b.c_str (), "HTTP/");
  if (https) {
    if (http)
      return "the camera speaks plain HTTP on an https:// URL: use http://";
    return "the TLS connection to the camera failed (a certificate that is not trusted, or a "
           "camera that does not speak TLS)";
  }
  if (b.empty ()) {
    if (r.timed_out)
      return "the camera accepts connections but does not answer (nothing in " +
          std::to_string (timeout_s) + " s)";
    if (!r.error.empty ())
      return "the connection to the camera broke before it answered (" + r.error + ")";
    return "the camera closed the connection without answering";
  }
  if (b[0] == 0x15 || b[0] == 0x16)
    return "the camera speaks TLS: use an https:// URL";
  if (b.size () < 5 && strncmp (b.c_str (), "HTTP/", b.size ()) == 0)
    return "the camera answers too slowly (" + std::to_string (b.size ()) + " bytes in " +
        std::to_string (timeout_s) + " s)";
  if (!http)
    return "the camera's answer is not HTTP (no status line, as from an HTTP/0.9 server or "
           "another protocol; it starts \"" +
        printable (b) + "\")";
  guint status = 0;
  if (b.size () < 12 || !g_ascii_isdigit (b[9]) || !g_ascii_isdigit (b[10]) ||
      !g_ascii_isdigit (b[11]) || sscanf (b.c_str () + 9, "%3u", &status) != 1)
    return "the camera's answer is not HTTP (a malformed status line: \"" + printable (b, 40) +
        "\")";
  bool complete = b.find ("\r\n\r\n") != std::string::npos || b.find ("\n\n") != std::string::npos;
  if (!complete) {
    if (b.size () >= PROBE_HEAD_LIMIT)
      return "the camera's answer headers are larger than 64 KiB";
    if (r.timed_out)
      return "the camera answers too slowly (" + with_thousands (b.size ()) +
          " bytes of headers in " + std::to_string (timeout_s) + " s)";
    return "the camera closed the connection in the middle of its answer's headers";
  }
  if (status >= 300 && status < 400 && hops < PROBE_REDIRECTS) {
    std::string l = lower (b);
    gsize at = l.find ("\nlocation:");
    if (at != std::string::npos) {
      gsize start = b.find_first_not_of (" \t", at + 10);
      gsize end = b.find_first_of ("\r\n", start);
      std::string target = b.substr (start, end - start);
      g_autoptr (GUri) base = g_uri_parse (url.c_str (), G_URI_FLAGS_ENCODED, nullptr);
      g_autoptr (GUri) next = base
          ? g_uri_parse_relative (base, target.c_str (), G_URI_FLAGS_ENCODED, nullptr)
          : nullptr;
      g_autofree gchar *next_url = next ? g_uri_to_string (next) : nullptr;
      if (next_url && is_http_url (next_url))
        return "the camera redirects to " + redact_url (next_url) + ": " +
            probe (next_url, timeout_s, cancellable, hops + 1);
    }
  }
  return "the camera's HTTP answer is malformed (it starts \"" + printable (b, 40) + "\")";
}

std::string
probe (const std::string & url, guint timeout_s, GCancellable *cancellable, int hops)
{
  g_autoptr (GUri) uri = g_uri_parse (url.c_str (), G_URI_FLAGS_ENCODED, nullptr);
  if (!uri || !g_uri_get_host (uri))
    return "cannot connect to the camera (not a URL)";
  bool https = g_strcmp0 (g_uri_get_scheme (uri), "https") == 0;
  gint port = g_uri_get_port (uri);
  if (port <= 0)
    port = https ? 443 : 80;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, timeout_s);
  g_autoptr (GError) error = nullptr;
  g_autoptr (GSocketConnection) conn =
      g_socket_client_connect_to_host (client, g_uri_get_host (uri), port, cancellable, &error);
  if (!conn)
    return std::string ("cannot connect to the camera (") + error->message + ")";
  /* No credentials: whatever the answer, its first line says whether it is HTTP. */
  std::string path = g_uri_get_path (uri);
  if (path.empty ())
    path = "/";
  if (g_uri_get_query (uri))
    path += std::string ("?") + g_uri_get_query (uri);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + g_uri_get_host (uri) + ":" +
      std::to_string (port) + "\r\nUser-Agent: " + pull_user_agent () +
      "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  if (!g_output_stream_write_all (out, request.data (), request.size (), nullptr, cancellable,
          &error))
    return std::string ("the connection to the camera broke before it answered (") +
        error->message + ")";
  ProbeRead r =
      read_head (g_io_stream_get_input_stream (G_IO_STREAM (conn)), timeout_s, cancellable);
  return judge_head (r, url, https, timeout_s, cancellable, hops);
}

gboolean
on_request_queued (GSignalInvocationHint *, guint n_params, const GValue *params, gpointer)
{
  if (n_params < 2 || !G_VALUE_HOLDS (&params[1], SOUP_TYPE_MESSAGE))
    return TRUE;
  auto *msg = SOUP_MESSAGE (g_value_get_object (&params[1]));
  SoupMessageHeaders *headers = msg ? soup_message_get_request_headers (msg) : nullptr;
  const char *agent = headers ? soup_message_headers_get_one (headers, "User-Agent") : nullptr;
  if (agent && g_str_equal (agent, pull_user_agent ()) &&
      soup_message_headers_get_one (headers, "Range"))
    soup_message_headers_remove (headers, "Range");
  return TRUE;
}

}  // namespace

std::string
probe_http_camera (const std::string & url, guint timeout_s, GCancellable *cancellable)
{
  return probe (url, timeout_s, cancellable, 0);
}

std::string
cause_key (const std::string & reason)
{
  std::string key;
  for (gsize i = 0; i < reason.size (); i++) {
    bool digit = g_ascii_isdigit (reason[i]) ||
        (reason[i] == ',' && i > 0 && g_ascii_isdigit (reason[i - 1]) && i + 1 < reason.size () &&
            g_ascii_isdigit (reason[i + 1]));
    if (!digit)
      key += reason[i];
    else if (key.empty () || key.back () != '#')
      key += '#';
  }
  return key;
}

const char *
pull_user_agent ()
{
  return "camrelay/" VERSION " (GStreamer souphttpsrc)";
}

void
strip_range_requests ()
{
  static gsize installed = 0;
  if (g_once_init_enter (&installed)) {
    /* Signals exist once the class does; souphttpsrc may not have made a session yet. */
    g_type_class_ref (SOUP_TYPE_SESSION);
    guint id = g_signal_lookup ("request-queued", SOUP_TYPE_SESSION);
    if (id)
      g_signal_add_emission_hook (id, 0, on_request_queued, nullptr, nullptr);
    g_once_init_leave (&installed, 1);
  }
}

}  // namespace cr
