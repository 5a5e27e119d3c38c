/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Wire formats shared by the load generator, its trivial server and its
 * self-test: SHA-1/base64 for the WebSocket handshake, RFC 6455 frame
 * headers, the benchmark tag carried in a JPEG comment segment, an HTTP
 * chunked-body decoder and a streaming multipart/x-mixed-replace reader.
 *
 * Nothing here allocates per frame or per read: the readers keep a few
 * hundred bytes of state per connection so that a thousand viewers fit in
 * a few megabytes and the load generator stays far cheaper than the server
 * it measures. */
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace bench {

/* CLOCK_MONOTONIC in nanoseconds: the clock of every timestamp in a tag. */
uint64_t now_ns ();

/* ---- Handshake helpers ------------------------------------------------- */

void sha1 (const void *data, size_t len, uint8_t out[20]);
std::string base64 (const uint8_t *data, size_t len);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2). */
std::string ws_accept_for (const std::string & key);

/* Value of header @name (case-insensitive) in an HTTP head, trimmed; empty
 * if absent. */
std::string header_value (const std::string & head, const char *name);
bool iequals_prefix (const char *s, size_t n, const char *prefix);

/* ---- RFC 6455 frames ---------------------------------------------------- */

enum WsOpcode : uint8_t
{
  kWsContinuation = 0x0,
  kWsText = 0x1,
  kWsBinary = 0x2,
  kWsClose = 0x8,
  kWsPing = 0x9,
  kWsPong = 0xA,
};

/* Writes a FIN frame header for @payload_len bytes into @dst (at most 14
 * bytes) and returns its length; @mask != nullptr adds the mask bit and
 * the 4 masking-key bytes (clients must mask, servers must not). */
size_t ws_write_header (uint8_t *dst, uint8_t opcode, uint64_t payload_len, const uint8_t *mask);
/* XORs @len bytes at @p with @mask, the key aligned on payload offset
 * @offset. */
void ws_apply_mask (uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset = 0);

/* Copies @len bytes from @src to @dst masking them on the way, the key
 * aligned on payload offset @offset: one pass over the frame instead of a
 * copy and a second pass. */
void ws_copy_masked (uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4],
    uint64_t offset = 0);

struct WsFrameHeader
{
  bool fin = false;
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = { 0, 0, 0, 0 };
  uint64_t payload_len = 0;
  size_t header_len = 0;
};

/* Parses a frame header at @p; returns false while fewer bytes than the
 * header needs are available. */
bool ws_parse_header (const uint8_t *p, size_t avail, WsFrameHeader *out);

/* ---- The benchmark tag -------------------------------------------------- */

/* A COM segment (FF FE, length, payload) inserted right after SOI:
 *   payload = "CRBENCH1" | camera u32 LE | reserved u32 | seq u64 LE |
 *             sent_ns u64 LE
 * Decoders skip COM segments, so the JPEG stays valid; Pillow keeps the
 * comment when it re-encodes (after its JFIF APP0), which is how the
 * legacy server's re-encoded parts stay identifiable. */
struct FrameTag
{
  uint32_t camera = 0;
  uint64_t seq = 0;
  uint64_t sent_ns = 0;
};

constexpr size_t kTagPayloadLen = 32;
constexpr size_t kTagSegmentLen = 4 + kTagPayloadLen;

void write_tag_segment (uint8_t *dst, const FrameTag & tag);
/* Walks the marker segments between SOI and SOS in @head looking for the
 * tag. */
bool find_tag (const uint8_t *head, size_t len, FrameTag *out);

/* ---- HTTP/1.1 chunked transfer coding ----------------------------------- */

class ChunkDecoder
{
public:
  using Sink = void (*) (void *ctx, const uint8_t *p, size_t n);

  /* Decodes @n bytes and hands each run of payload to @sink; returns false
   * on a malformed body (the decoder then stays failed). */
  bool feed (const uint8_t *p, size_t n, Sink sink, void *ctx);
  bool done () const { return state_ == State::kDone; }
  bool failed () const { return state_ == State::kError; }

private:
  enum class State
  {
    kSize,
    kExtension,
    kData,
    kDataEnd,
    kTrailer,
    kDone,
    kError
  };
  State state_ = State::kSize;
  uint64_t size_ = 0;
  int size_digits_ = 0;
  bool trailer_line_empty_ = true;
};

/* ---- multipart/x-mixed-replace ------------------------------------------ */

/* What the reader keeps of a part: its first bytes (enough for SOI, JFIF
 * APP0 and the tag), its last two bytes (EOI) and its size. */
constexpr size_t kPartHeadCap = 256;

struct PartInfo
{
  const uint8_t *head;
  size_t head_len;
  uint8_t tail[2];
  uint64_t size;
  bool had_content_length;
  /* Bytes were skipped on the strength of a size hint and the part did not
   * end where the hint said: its bytes cannot be trusted. */
  bool hint_mismatch;
  /* When the read that delivered the part's last byte returned. */
  uint64_t last_byte_ns;
};

/* Streaming reader for a multipart body, fed with whatever each read
 * returned. Parts may carry Content-Length (then they are counted, and may
 * be skipped on the socket) or not (then they end at CRLF "--" boundary).
 * The stream may start with a preamble, with or without CRLF before the
 * first boundary. */
class MultipartReader
{
public:
  using OnPart = std::function<void (const PartInfo &)>;
  /* Given the first kPartHeadCap bytes of a part without Content-Length,
   * its exact size if the caller knows it (it sent that very frame), else
   * 0. */
  using SizeHint = std::function<uint64_t (const uint8_t *head, size_t len)>;

  void reset (const std::string & boundary, OnPart on_part, SizeHint hint = nullptr);
  void feed (const uint8_t *p, size_t n, uint64_t t);

  /* Bytes of the current part the caller may discard unread (recv with
   * MSG_TRUNC): the head is kept and the last two bytes are always left
   * to be read, so EOI and the boundary after it are still checked.
   * Content-Length parts qualify, and parts whose size was hinted. */
  uint64_t skippable () const;
  void skipped (uint64_t n, uint64_t t);
  /* Whether the next bytes start a part whose body could be skipped once
   * its head is read: a caller can then read a little and skip the rest. */
  bool expects_skippable () const { return hint_worked_; }

  bool ended () const { return state_ == State::kEnd; }
  bool failed () const { return state_ == State::kError; }
  /* Bytes outside parts that were not boundaries or headers. */
  uint64_t junk_bytes () const { return junk_; }
  /* Where the current part is, for tests. */
  bool in_part () const { return state_ == State::kBodyLength || state_ == State::kBodyDelimited; }

private:
  enum class State
  {
    kSeek,
    kAfterBoundary,
    kHeaders,
    kBodyLength,
    kBodyDelimited,
    kEnd,
    kError
  };

  size_t seek_delimiter (const uint8_t *p, size_t n, uint64_t t, bool body);
  size_t after_boundary (const uint8_t *p, size_t n);
  size_t headers (const uint8_t *p, size_t n);
  size_t body_length (const uint8_t *p, size_t n, uint64_t t);
  void body_bytes (const uint8_t *p, size_t n, uint64_t t);
  void begin_part ();
  void end_part ();

  std::string delimiter_;
  OnPart on_part_;
  SizeHint hint_;
  uint64_t expected_ = 0;
  bool hint_tried_ = false;
  bool skipped_any_ = false;
  bool hint_worked_ = false;
  State state_ = State::kSeek;
  size_t matched_ = 0;
  std::string line_;
  int after_boundary_pos_ = 0;
  bool closing_ = false;
  int64_t content_length_ = -1;
  uint64_t remaining_ = 0;
  uint64_t junk_ = 0;
  /* The CRLF assumed before the first boundary is not junk if absent. */
  bool phantom_ = false;

  uint8_t head_[kPartHeadCap];
  size_t head_len_ = 0;
  uint8_t tail_[2] = { 0, 0 };
  uint64_t size_ = 0;
  uint64_t last_ns_ = 0;
};

/* Boundary parameter of a multipart Content-Type value; empty if none. */
std::string boundary_of (const std::string & content_type);

}  // namespace bench
