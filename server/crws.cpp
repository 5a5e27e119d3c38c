/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 6455 server-side frame parser; see crws.h. */
#include "crws.h"

#include <cstdarg>
#include <cstring>

namespace cr {

namespace {

enum : guint8
{
  OP_CONTINUATION = 0x0,
  OP_TEXT = 0x1,
  OP_BINARY = 0x2,
  OP_CLOSE = 0x8,
  OP_PING = 0x9,
  OP_PONG = 0xA,
};

bool
is_control (guint8 opcode)
{
  return (opcode & 0x8) != 0;
}

/* XOR @len bytes with the frame mask; @offset is how far into the payload @data starts.
 * Sixteen bytes a step (SSE2 on x86-64, NEON on ARM, through the compiler's vector extension):
 * every byte of every camera frame passes here, and at eight bytes a step unmasking was a quarter
 * of the process's instructions per frame. */
void
unmask (guint8 *data, gsize len, const guint8 mask[4], guint64 offset)
{
  typedef guint8 Vec16 __attribute__ ((vector_size (16)));
  guint8 rotated[16];
  for (int i = 0; i < 16; i++)
    rotated[i] = mask[(offset + i) & 3];
  Vec16 wide;
  memcpy (&wide, rotated, sizeof (wide));

  gsize i = 0;
  for (; i + 32 <= len; i += 32) {
    Vec16 a, b;
    memcpy (&a, data + i, 16);
    memcpy (&b, data + i + 16, 16);
    a ^= wide;
    b ^= wide;
    memcpy (data + i, &a, 16);
    memcpy (data + i + 16, &b, 16);
  }
  for (; i < len; i++)
    data[i] ^= rotated[i & 3];
}

}  // namespace

bool
ws_close_code_valid (guint16 code)
{
  if (code >= 3000 && code <= 4999)
    return true;
  switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
      return true;
    default:
      return false;
  }
}

void
ws_build_frame (std::string & out, guint8 opcode, const void *payload, gsize len)
{
  out.push_back (static_cast<char> (0x80 | opcode));
  if (len < 126) {
    out.push_back (static_cast<char> (len));
  } else if (len <= 0xffff) {
    out.push_back (126);
    out.push_back (static_cast<char> (len >> 8));
    out.push_back (static_cast<char> (len & 0xff));
  } else {
    out.push_back (127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back (static_cast<char> ((static_cast<guint64> (len) >> shift) & 0xff));
  }
  out.append (static_cast<const char *> (payload), len);
}

void
ws_build_close (std::string & out, guint16 code, const std::string & reason)
{
  /* Control payloads are limited to 125 bytes; cut the reason at a UTF-8 boundary. */
  std::string payload;
  payload.push_back (static_cast<char> (code >> 8));
  payload.push_back (static_cast<char> (code & 0xff));
  gsize room = 123;
  if (reason.size () <= room) {
    payload += reason;
  } else {
    const char *end = nullptr;
    g_utf8_validate (reason.data (), room, &end);
    payload.append (reason.data (), end - reason.data ());
  }
  ws_build_frame (out, OP_CLOSE, payload.data (), payload.size ());
}

WsParser::WsParser (WsParserEvents & events, const WsLimits & limits)
  : events_ (events), limits_ (limits)
{}

WsParser::~WsParser ()
{
  g_free (msg_buf_);
}

void
WsParser::reset_message ()
{
  g_free (msg_buf_);
  msg_buf_ = nullptr;
  msg_len_ = msg_cap_ = 0;
  msg_opcode_ = 0;
}

bool
WsParser::fail (guint16 code, const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  g_autofree gchar *text = g_strdup_vprintf (fmt, args);
  va_end (args);
  if (error_code_ == 0) {
    error_code_ = code;
    error_reason_ = text;
  }
  reset_message ();
  return false;
}

void
WsParser::write_window (guint8 **data, gsize *len)
{
  if (state_ == State::PAYLOAD && st_start_ == st_end_) {
    /* Straight into the payload's final place. */
    *data = payload_dst_ + payload_got_;
    *len = payload_len_ - payload_got_;
    return;
  }
  if (st_start_ == st_end_)
    st_start_ = st_end_ = 0;
  if (st_end_ == STAGING && st_start_ > 0) {
    memmove (staging_, staging_ + st_start_, st_end_ - st_start_);
    st_end_ -= st_start_;
    st_start_ = 0;
  }
  *data = staging_ + st_end_;
  *len = STAGING - st_end_;
}

void
WsParser::write_windows (guint8 **data, gsize *len, guint8 **next, gsize *next_len)
{
  write_window (data, len);
  *next = nullptr;
  *next_len = 0;
  if (state_ == State::PAYLOAD && st_start_ == st_end_) {
    st_start_ = st_end_ = 0;
    *next = staging_;
    *next_len = STAGING;
  }
}

bool
WsParser::commit (gsize n)
{
  if (failed ())
    return false;
  if (state_ == State::PAYLOAD && st_start_ == st_end_) {
    gsize in_payload =
        static_cast<gsize> (MIN (static_cast<guint64> (n), payload_len_ - payload_got_));
    payload_got_ += in_payload;
    if (payload_got_ == payload_len_ && !finish_frame ())
      return false;
    if (in_payload == n)
      return true;
    /* The rest went into the staging area behind the payload (write_windows). */
    st_start_ = 0;
    st_end_ = n - in_payload;
    return parse_staged ();
  }
  st_end_ += n;
  return parse_staged ();
}

bool
WsParser::feed (const guint8 *data, gsize len)
{
  while (len > 0) {
    guint8 *window;
    gsize room;
    write_window (&window, &room);
    gsize n = MIN (room, len);
    memcpy (window, data, n);
    data += n;
    len -= n;
    if (!commit (n))
      return false;
  }
  return !failed ();
}

/* Consumes as much of the staging area as possible: headers, and payload bytes that arrived with
 * them. */
bool
WsParser::parse_staged ()
{
  for (;;) {
    if (state_ == State::HEADER) {
      gsize before = st_start_;
      if (!parse_header ())
        return false;
      if (st_start_ == before)
        return true; /* need more bytes */
      continue;
    }
    gsize avail = st_end_ - st_start_;
    if (avail == 0)
      return true;
    gsize take =
        static_cast<gsize> (MIN (static_cast<guint64> (avail), payload_len_ - payload_got_));
    memcpy (payload_dst_ + payload_got_, staging_ + st_start_, take);
    st_start_ += take;
    payload_got_ += take;
    if (payload_got_ == payload_len_ && !finish_frame ())
      return false;
    if (state_ == State::PAYLOAD)
      return true; /* the rest of the payload is read directly */
  }
}

bool
WsParser::parse_header ()
{
  const guint8 *h = staging_ + st_start_;
  gsize avail = st_end_ - st_start_;
  if (avail < 2)
    return true;

  /* Judge what the first two bytes already tell, so a broken frame is refused at once instead of
   * waiting for a mask or length that may never come. */
  fin_ = (h[0] & 0x80) != 0;
  opcode_ = h[0] & 0x0f;
  guint8 len7 = h[1] & 0x7f;
  if (h[0] & 0x70)
    return fail (WS_CLOSE_PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)");
  if (!(h[1] & 0x80))
    return fail (WS_CLOSE_PROTOCOL_ERROR, "client frames must be masked");
  if (is_control (opcode_)) {
    if (opcode_ != OP_CLOSE && opcode_ != OP_PING && opcode_ != OP_PONG)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "unknown control opcode 0x%x", opcode_);
    if (!fin_)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
    if (len7 > 125)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "control frame longer than 125 bytes");
  } else if (opcode_ != OP_CONTINUATION && opcode_ != OP_TEXT && opcode_ != OP_BINARY) {
    return fail (WS_CLOSE_PROTOCOL_ERROR, "unknown data opcode 0x%x", opcode_);
  }

  gsize need = 2 + 4;
  if (len7 == 126)
    need += 2;
  else if (len7 == 127)
    need += 8;
  if (avail < need)
    return true;

  guint64 len = len7;
  gsize at = 2;
  if (len7 == 126) {
    len = (static_cast<guint64> (h[2]) << 8) | h[3];
    at = 4;
  } else if (len7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++)
      len = (len << 8) | h[2 + i];
    at = 10;
    if (len >> 63)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "payload length has its top bit set");
  }
  memcpy (mask_, h + at, 4);
  payload_len_ = len;
  payload_got_ = 0;
  st_start_ += need;

  if (!begin_payload ())
    return false;
  if (payload_len_ == 0)
    return finish_frame ();
  state_ = State::PAYLOAD;
  return true;
}

/* Checks the frame against the protocol and the limits, and decides where its payload goes. */
bool
WsParser::begin_payload ()
{
  if (is_control (opcode_)) {
    payload_dst_ = control_;
    return true;
  }

  if (opcode_ == OP_CONTINUATION) {
    if (msg_opcode_ == 0)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "continuation frame without a message to continue");
  } else if (opcode_ == OP_TEXT || opcode_ == OP_BINARY) {
    if (msg_opcode_ != 0)
      return fail (WS_CLOSE_PROTOCOL_ERROR, "new message started inside a fragmented one");
    msg_opcode_ = opcode_;
  }

  guint64 limit = msg_opcode_ == OP_BINARY ? limits_.max_binary : limits_.max_text;
  if (payload_len_ > limit || msg_len_ + payload_len_ > limit) {
    return fail (WS_CLOSE_TOO_BIG,
        "%s message of at least %" G_GUINT64_FORMAT
        " bytes exceeds the limit of %" G_GUINT64_FORMAT,
        msg_opcode_ == OP_BINARY ? "binary" : "text", msg_len_ + payload_len_, limit);
  }

  guint64 need = msg_len_ + payload_len_;
  if (need > msg_cap_ || msg_buf_ == nullptr) {
    /* Unfragmented messages (the normal case) get exactly their size; fragments grow geometrically
     * but never past the limit. */
    guint64 cap = msg_len_ == 0 && fin_ ? need : MAX (need, MIN (msg_cap_ * 2, limit));
    msg_buf_ = static_cast<guint8 *> (g_realloc (msg_buf_, MAX (cap, 1)));
    msg_cap_ = cap;
  }
  payload_dst_ = msg_buf_ + msg_len_;
  return true;
}

bool
WsParser::finish_frame ()
{
  unmask (payload_dst_, payload_len_, mask_, 0);
  state_ = State::HEADER;

  if (is_control (opcode_))
    return deliver_control ();

  msg_len_ += payload_len_;
  if (!fin_)
    return true;
  return deliver_message ();
}

bool
WsParser::deliver_message ()
{
  if (msg_opcode_ == OP_TEXT) {
    if (!g_utf8_validate_len (reinterpret_cast<const char *> (msg_buf_), msg_len_, nullptr))
      return fail (WS_CLOSE_BAD_DATA, "text message is not valid UTF-8");
    events_.ws_text (reinterpret_cast<const char *> (msg_buf_), msg_len_);
    reset_message ();
    return true;
  }

  GBytes *message;
  if (msg_len_ < msg_cap_ / 2) {
    /* A fragmented message that ended well below its buffer: don't pin the slack. */
    message = g_bytes_new (msg_buf_, msg_len_);
    g_free (msg_buf_);
  } else {
    message = g_bytes_new_take (msg_buf_, msg_len_);
  }
  msg_buf_ = nullptr;
  msg_len_ = msg_cap_ = 0;
  msg_opcode_ = 0;
  events_.ws_binary (message);
  return true;
}

bool
WsParser::deliver_control ()
{
  switch (opcode_) {
    case OP_PING:
      events_.ws_ping (control_, payload_len_);
      return true;
    case OP_PONG:
      events_.ws_pong (control_, payload_len_);
      return true;
    case OP_CLOSE: {
      if (payload_len_ == 0) {
        events_.ws_close (WS_CLOSE_NO_STATUS, "");
        return true;
      }
      if (payload_len_ == 1)
        return fail (WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
      guint16 code = (static_cast<guint16> (control_[0]) << 8) | control_[1];
      if (!ws_close_code_valid (code))
        return fail (WS_CLOSE_PROTOCOL_ERROR, "invalid close code %u", code);
      const char *reason = reinterpret_cast<const char *> (control_ + 2);
      if (!g_utf8_validate_len (reason, payload_len_ - 2, nullptr))
        return fail (WS_CLOSE_BAD_DATA, "close reason is not valid UTF-8");
      events_.ws_close (code, std::string (reason, payload_len_ - 2));
      return true;
    }
    default:
      return fail (WS_CLOSE_PROTOCOL_ERROR, "unknown control opcode 0x%x", opcode_);
  }
}

}  // namespace cr
