/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 6455 server-side frame parser, free of I/O so that it can be fuzzed.
 *
 * The parser hands out the memory the next bytes should be read into (write_window): a small
 * staging area while a frame header is expected, or the message buffer itself while a payload is
 * being read, so a camera's JPEG goes from the socket into the buffer that becomes the GstBuffer
 * with no copy in between. Limits are enforced from the frame header, before any payload is
 * buffered.
 */
#pragma once

#include <glib.h>

#include <string>

namespace cr {

enum WsCloseCode : guint16
{
  WS_CLOSE_NORMAL = 1000,
  WS_CLOSE_GOING_AWAY = 1001,
  WS_CLOSE_PROTOCOL_ERROR = 1002,
  WS_CLOSE_UNSUPPORTED_DATA = 1003,
  WS_CLOSE_NO_STATUS = 1005,
  WS_CLOSE_ABNORMAL = 1006,
  WS_CLOSE_BAD_DATA = 1007,
  WS_CLOSE_POLICY_VIOLATION = 1008,
  WS_CLOSE_TOO_BIG = 1009,
  WS_CLOSE_SERVER_ERROR = 1011,
};

class WsParserEvents
{
public:
  virtual ~WsParserEvents () = default;
  /* A complete binary message; transfer full. */
  virtual void ws_binary (GBytes *message) = 0;
  /* A complete, valid UTF-8 text message (not NUL-terminated). */
  virtual void ws_text (const char *text, gsize len) = 0;
  virtual void ws_ping (const guint8 *payload, gsize len) = 0;
  virtual void ws_pong (const guint8 *payload, gsize len) = 0;
  /* The peer's close frame; code is WS_CLOSE_NO_STATUS when it carried none. */
  virtual void ws_close (guint16 code, const std::string & reason) = 0;
};

struct WsLimits
{
  guint64 max_binary = 4 * 1024 * 1024;
  guint64 max_text = 64 * 1024;
};

class WsParser
{
public:
  WsParser (WsParserEvents & events, const WsLimits & limits);
  ~WsParser ();
  WsParser (const WsParser &) = delete;
  WsParser & operator= (const WsParser &) = delete;

  /* Where the next incoming bytes go, and how many fit. Never empty while the parser is healthy. */
  void write_window (guint8 **data, gsize *len);

  /* The window and, while a payload is read straight into its buffer, the staging area behind
   * it (*@next_len 0 otherwise): one vectored read then takes the end of a frame and the start of
   * the next one, instead of a read for each and a third to find the socket empty. commit() takes
   * bytes written across both. */
  void write_windows (guint8 **data, gsize *len, guint8 **next, gsize *next_len);

  /* @n bytes were written into the window: parse them. Returns false once the stream broke the
   * protocol or a limit; error_code()/error_reason() then say what to send in the close frame. */
  bool commit (gsize n);

  /* Copies @len bytes through the windows; for tests and fuzzing. Same result as commit. */
  bool feed (const guint8 *data, gsize len);

  bool failed () const { return error_code_ != 0; }
  guint16 error_code () const { return error_code_; }
  const std::string & error_reason () const { return error_reason_; }

  /* Bytes of the message being assembled (0 between messages). */
  guint64 pending_message_bytes () const { return msg_len_; }
  /* True while part of a frame has arrived and the rest has not. */
  bool in_frame () const { return state_ == State::PAYLOAD || st_end_ > st_start_; }

private:
  enum class State
  {
    HEADER,
    PAYLOAD
  };

  bool parse_staged ();
  bool parse_header ();
  bool begin_payload ();
  bool finish_frame ();
  bool deliver_message ();
  bool deliver_control ();
  bool fail (guint16 code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
  void reset_message ();

  WsParserEvents & events_;
  WsLimits limits_;

  State state_ = State::HEADER;

  /* Staging area for headers (and the first bytes of small payloads read along with them). */
  static constexpr gsize STAGING = 4096;
  guint8 staging_[STAGING];
  gsize st_start_ = 0; /* first unparsed byte */
  gsize st_end_ = 0;   /* end of valid bytes */

  /* Current frame */
  bool fin_ = false;
  guint8 opcode_ = 0;
  guint8 mask_[4] = { 0, 0, 0, 0 };
  guint64 payload_len_ = 0;
  guint64 payload_got_ = 0;
  guint8 *payload_dst_ = nullptr; /* where this frame's payload lands */

  /* Current data message (possibly fragmented) */
  guint8 msg_opcode_ = 0; /* 1 text, 2 binary, 0 none in progress */
  guint8 *msg_buf_ = nullptr;
  guint64 msg_len_ = 0;
  guint64 msg_cap_ = 0;

  guint8 control_[125];

  guint16 error_code_ = 0;
  std::string error_reason_;
};

/* Builds an unmasked server frame (FIN set) into @out. */
void ws_build_frame (std::string & out, guint8 opcode, const void *payload, gsize len);
void ws_build_close (std::string & out, guint16 code, const std::string & reason);

/* RFC 6455 7.4: may this code appear in a close frame received from a peer? */
bool ws_close_code_valid (guint16 code);

}  // namespace cr
