/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Wire formats of the benchmark tools; see wire.h. */
#include "wire.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

namespace bench {

uint64_t
now_ns ()
{
  timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return uint64_t (ts.tv_sec) * 1000000000u + uint64_t (ts.tv_nsec);
}

/* ---- SHA-1 (FIPS 180-4), only for the 60-byte handshake string ---------- */

namespace {

uint32_t
rol (uint32_t v, int n)
{
  return (v << n) | (v >> (32 - n));
}

void
sha1_block (uint32_t h[5], const uint8_t *block)
{
  uint32_t w[80];
  for (int i = 0; i < 16; ++i)
    w[i] = uint32_t (block[4 * i]) << 24 | uint32_t (block[4 * i + 1]) << 16 |
        uint32_t (block[4 * i + 2]) << 8 | uint32_t (block[4 * i + 3]);
  for (int i = 16; i < 80; ++i)
    w[i] = rol (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; ++i) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    uint32_t t = rol (a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol (b, 30);
    b = a;
    a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

}  // namespace

void
sha1 (const void *data, size_t len, uint8_t out[20])
{
  uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
  const uint8_t *p = static_cast<const uint8_t *> (data);
  size_t full = len / 64;
  for (size_t i = 0; i < full; ++i)
    sha1_block (h, p + 64 * i);

  /* Padding: 0x80, zeros, then the bit length big-endian. */
  uint8_t tail[128] = { 0 };
  size_t rest = len - full * 64;
  memcpy (tail, p + full * 64, rest);
  tail[rest] = 0x80;
  size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = uint64_t (len) * 8;
  for (int i = 0; i < 8; ++i)
    tail[tail_len - 1 - i] = uint8_t (bits >> (8 * i));
  for (size_t off = 0; off < tail_len; off += 64)
    sha1_block (h, tail + off);

  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j)
      out[4 * i + j] = uint8_t (h[i] >> (24 - 8 * j));
}

std::string
base64 (const uint8_t *data, size_t len)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve ((len + 2) / 3 * 4);
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = uint32_t (data[i]) << 16;
    if (i + 1 < len)
      v |= uint32_t (data[i + 1]) << 8;
    if (i + 2 < len)
      v |= data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < len ? alphabet[v & 63] : '=';
  }
  return out;
}

std::string
ws_accept_for (const std::string & key)
{
  std::string s = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  uint8_t digest[20];
  sha1 (s.data (), s.size (), digest);
  return base64 (digest, sizeof digest);
}

bool
iequals_prefix (const char *s, size_t n, const char *prefix)
{
  size_t plen = strlen (prefix);
  if (n < plen)
    return false;
  for (size_t i = 0; i < plen; ++i)
    if (tolower ((unsigned char) s[i]) != tolower ((unsigned char) prefix[i]))
      return false;
  return true;
}

std::string
header_value (const std::string & head, const char *name)
{
  size_t nlen = strlen (name);
  size_t pos = head.find ('\n');
  while (pos != std::string::npos) {
    size_t start = pos + 1;
    size_t end = head.find ('\n', start);
    size_t stop = end == std::string::npos ? head.size () : end;
    if (stop - start > nlen && head[start + nlen] == ':' &&
        iequals_prefix (head.data () + start, stop - start, name)) {
      size_t b = start + nlen + 1, e = stop;
      while (b < e && (head[b] == ' ' || head[b] == '\t'))
        ++b;
      while (e > b && (head[e - 1] == '\r' || head[e - 1] == ' ' || head[e - 1] == '\t'))
        --e;
      return head.substr (b, e - b);
    }
    pos = end;
  }
  return {};
}

std::string
boundary_of (const std::string & content_type)
{
  size_t i = 0;
  while (i < content_type.size ()) {
    size_t semi = content_type.find (';', i);
    if (semi == std::string::npos)
      return {};
    i = semi + 1;
    while (i < content_type.size () && content_type[i] == ' ')
      ++i;
    if (!iequals_prefix (content_type.data () + i, content_type.size () - i, "boundary="))
      continue;
    i += 9;
    if (i < content_type.size () && content_type[i] == '"') {
      size_t close = content_type.find ('"', i + 1);
      return content_type.substr (i + 1,
          close == std::string::npos ? std::string::npos : close - i - 1);
    }
    size_t end = content_type.find_first_of ("; \t", i);
    return content_type.substr (i, end == std::string::npos ? std::string::npos : end - i);
  }
  return {};
}

/* ---- RFC 6455 frames ---------------------------------------------------- */

size_t
ws_write_header (uint8_t *dst, uint8_t opcode, uint64_t payload_len, const uint8_t *mask)
{
  size_t n = 0;
  dst[n++] = 0x80 | (opcode & 0x0F);
  uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload_len < 126) {
    dst[n++] = mask_bit | uint8_t (payload_len);
  } else if (payload_len <= 0xFFFF) {
    dst[n++] = mask_bit | 126;
    dst[n++] = uint8_t (payload_len >> 8);
    dst[n++] = uint8_t (payload_len);
  } else {
    dst[n++] = mask_bit | 127;
    for (int i = 7; i >= 0; --i)
      dst[n++] = uint8_t (payload_len >> (8 * i));
  }
  if (mask) {
    memcpy (dst + n, mask, 4);
    n += 4;
  }
  return n;
}

void
ws_apply_mask (uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
  uint8_t key[8];
  for (int i = 0; i < 8; ++i)
    key[i] = mask[(offset + i) & 3];
  uint64_t key64;
  memcpy (&key64, key, 8);
  size_t i = 0;
  /* Eight bytes at a time: the key repeats every 4, so an 8-byte word
   * starting at a multiple of 8 from @p always sees the same key64. */
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy (&v, p + i, 8);
    v ^= key64;
    memcpy (p + i, &v, 8);
  }
  for (; i < len; ++i)
    p[i] ^= key[i & 7];
}

void
ws_copy_masked (uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4],
    uint64_t offset)
{
  /* 16-byte vectors (SSE2 on x86-64, NEON on arm64) without intrinsics;
   * the key repeats every 4 bytes, so every block sees the same key. */
  typedef uint8_t v16 __attribute__ ((vector_size (16)));
  uint8_t key[16];
  for (int i = 0; i < 16; ++i)
    key[i] = mask[(offset + i) & 3];
  v16 k;
  memcpy (&k, key, 16);
  size_t i = 0;
  for (; i + 64 <= len; i += 64) {
    v16 a, b, c, d;
    memcpy (&a, src + i, 16);
    memcpy (&b, src + i + 16, 16);
    memcpy (&c, src + i + 32, 16);
    memcpy (&d, src + i + 48, 16);
    a ^= k;
    b ^= k;
    c ^= k;
    d ^= k;
    memcpy (dst + i, &a, 16);
    memcpy (dst + i + 16, &b, 16);
    memcpy (dst + i + 32, &c, 16);
    memcpy (dst + i + 48, &d, 16);
  }
  for (; i + 16 <= len; i += 16) {
    v16 a;
    memcpy (&a, src + i, 16);
    a ^= k;
    memcpy (dst + i, &a, 16);
  }
  for (; i < len; ++i)
    dst[i] = src[i] ^ key[i & 15];
}

bool
ws_parse_header (const uint8_t *p, size_t avail, WsFrameHeader *out)
{
  if (avail < 2)
    return false;
  out->fin = p[0] & 0x80;
  out->opcode = p[0] & 0x0F;
  out->masked = p[1] & 0x80;
  uint64_t len = p[1] & 0x7F;
  size_t n = 2;
  if (len == 126) {
    if (avail < 4)
      return false;
    len = uint64_t (p[2]) << 8 | p[3];
    n = 4;
  } else if (len == 127) {
    if (avail < 10)
      return false;
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = len << 8 | p[2 + i];
    n = 10;
  }
  if (out->masked) {
    if (avail < n + 4)
      return false;
    memcpy (out->mask, p + n, 4);
    n += 4;
  }
  out->payload_len = len;
  out->header_len = n;
  return true;
}

/* ---- The benchmark tag -------------------------------------------------- */

namespace {

const uint8_t kTagMagic[8] = { 'C', 'R', 'B', 'E', 'N', 'C', 'H', '1' };

void
put_le (uint8_t *dst, uint64_t v, int bytes)
{
  for (int i = 0; i < bytes; ++i)
    dst[i] = uint8_t (v >> (8 * i));
}

uint64_t
get_le (const uint8_t *src, int bytes)
{
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = v << 8 | src[i];
  return v;
}

}  // namespace

void
write_tag_segment (uint8_t *dst, const FrameTag & tag)
{
  dst[0] = 0xFF;
  dst[1] = 0xFE;
  dst[2] = 0;
  dst[3] = uint8_t (2 + kTagPayloadLen);
  uint8_t *p = dst + 4;
  memcpy (p, kTagMagic, 8);
  put_le (p + 8, tag.camera, 4);
  put_le (p + 12, 0, 4);
  put_le (p + 16, tag.seq, 8);
  put_le (p + 24, tag.sent_ns, 8);
}

bool
find_tag (const uint8_t *head, size_t len, FrameTag *out)
{
  if (len < 2 || head[0] != 0xFF || head[1] != 0xD8)
    return false;
  size_t pos = 2;
  while (pos + 4 <= len) {
    if (head[pos] != 0xFF)
      return false;
    uint8_t marker = head[pos + 1];
    if (marker == 0xFF) { /* fill byte */
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) /* SOS or EOI: no more */
      return false;
    size_t seg = size_t (head[pos + 2]) << 8 | head[pos + 3];
    if (marker == 0xFE && seg >= 2 + kTagPayloadLen && pos + 4 + kTagPayloadLen <= len &&
        memcmp (head + pos + 4, kTagMagic, 8) == 0) {
      const uint8_t *p = head + pos + 4;
      out->camera = uint32_t (get_le (p + 8, 4));
      out->seq = get_le (p + 16, 8);
      out->sent_ns = get_le (p + 24, 8);
      return true;
    }
    pos += 2 + seg;
  }
  return false;
}

/* ---- Chunked transfer coding -------------------------------------------- */

namespace {

int
hex_digit (uint8_t c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

}  // namespace

bool
ChunkDecoder::feed (const uint8_t *p, size_t n, Sink sink, void *ctx)
{
  size_t i = 0;
  while (i < n && state_ != State::kError) {
    switch (state_) {
      case State::kSize: {
        uint8_t c = p[i++];
        int d = hex_digit (c);
        if (d >= 0 && size_digits_ < 15) {
          size_ = size_ << 4 | uint64_t (d);
          ++size_digits_;
        } else if (c == '\n' && size_digits_ > 0) {
          state_ = size_ ? State::kData : State::kTrailer;
          trailer_line_empty_ = true;
        } else if ((c == ';' || c == ' ' || c == '\t') && size_digits_ > 0) {
          state_ = State::kExtension;
        } else if (c != '\r' || size_digits_ == 0) {
          state_ = State::kError;
        }
        break;
      }
      case State::kExtension:
        if (p[i++] == '\n') {
          state_ = size_ ? State::kData : State::kTrailer;
          trailer_line_empty_ = true;
        }
        break;
      case State::kData: {
        size_t take = size_t (std::min<uint64_t> (size_, n - i));
        sink (ctx, p + i, take);
        i += take;
        size_ -= take;
        if (size_ == 0)
          state_ = State::kDataEnd;
        break;
      }
      case State::kDataEnd: {
        uint8_t c = p[i++];
        if (c == '\n') {
          state_ = State::kSize;
          size_digits_ = 0;
        } else if (c != '\r') {
          state_ = State::kError;
        }
        break;
      }
      case State::kTrailer: {
        uint8_t c = p[i++];
        if (c == '\n') {
          if (trailer_line_empty_)
            state_ = State::kDone;
          trailer_line_empty_ = true;
        } else if (c != '\r') {
          trailer_line_empty_ = false;
        }
        break;
      }
      case State::kDone:
        i = n;
        break;
      case State::kError:
        break;
    }
  }
  return state_ != State::kError;
}

/* ---- multipart/x-mixed-replace ------------------------------------------ */

void
MultipartReader::reset (const std::string & boundary, OnPart on_part, SizeHint hint)
{
  delimiter_ = "\r\n--" + boundary;
  on_part_ = std::move (on_part);
  hint_ = std::move (hint);
  hint_worked_ = false;
  /* The first boundary may open the body without a CRLF before it: start
   * as if that CRLF had just been seen. A CRLF that is there anyway makes
   * the match restart on it. */
  state_ = State::kSeek;
  matched_ = 2;
  phantom_ = true;
  line_.clear ();
  junk_ = 0;
  head_len_ = 0;
  size_ = 0;
}

void
MultipartReader::feed (const uint8_t *p, size_t n, uint64_t t)
{
  size_t i = 0;
  while (i < n) {
    switch (state_) {
      case State::kSeek:
        i += seek_delimiter (p + i, n - i, t, false);
        break;
      case State::kBodyDelimited:
        i += seek_delimiter (p + i, n - i, t, true);
        break;
      case State::kAfterBoundary:
        i += after_boundary (p + i, n - i);
        break;
      case State::kHeaders:
        i += headers (p + i, n - i);
        break;
      case State::kBodyLength:
        i += body_length (p + i, n - i, t);
        break;
      case State::kEnd:
      case State::kError:
        return;
    }
  }
}

/* Looks for CRLF "--" boundary. The delimiter starts with the only CR it
 * contains, so a failed partial match can always restart at the byte that
 * broke it. Bytes that turn out not to be the delimiter are part body
 * (@body) or junk. */
size_t
MultipartReader::seek_delimiter (const uint8_t *p, size_t n, uint64_t t, bool body)
{
  size_t i = 0;
  const size_t dlen = delimiter_.size ();
  while (i < n) {
    if (matched_ > 0) {
      while (i < n && matched_ < dlen && p[i] == uint8_t (delimiter_[matched_])) {
        ++i;
        ++matched_;
      }
      if (matched_ == dlen) {
        matched_ = 0;
        phantom_ = false;
        if (body)
          end_part ();
        state_ = State::kAfterBoundary;
        after_boundary_pos_ = 0;
        closing_ = false;
        return i;
      }
      if (i == n)
        return i;
      /* The matched prefix was content after all. */
      if (body)
        body_bytes (reinterpret_cast<const uint8_t *> (delimiter_.data ()), matched_, t);
      else if (!phantom_)
        junk_ += matched_;
      phantom_ = false;
      matched_ = 0;
      continue;
    }
    const void *cr = memchr (p + i, '\r', n - i);
    size_t stop = cr ? size_t (static_cast<const uint8_t *> (cr) - p) : n;
    if (body)
      body_bytes (p + i, stop - i, t);
    else
      junk_ += stop - i;
    i = stop;
    if (cr) {
      matched_ = 1;
      ++i;
    }
  }
  return i;
}

/* After a boundary: "--" closes the stream, anything else up to LF is
 * transport padding. */
size_t
MultipartReader::after_boundary (const uint8_t *p, size_t n)
{
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i++];
    int pos = after_boundary_pos_++;
    if (pos == 0 && c == '-') {
      closing_ = true;
    } else if (pos == 1 && closing_) {
      if (c == '-') {
        state_ = State::kEnd;
        return n;
      }
      closing_ = false;
    }
    if (c == '\n') {
      state_ = State::kHeaders;
      line_.clear ();
      content_length_ = -1;
      return i;
    }
  }
  return i;
}

size_t
MultipartReader::headers (const uint8_t *p, size_t n)
{
  const void *lf = memchr (p, '\n', n);
  size_t take = lf ? size_t (static_cast<const uint8_t *> (lf) - p) + 1 : n;
  if (line_.size () + take > 8192) {
    state_ = State::kError;
    return n;
  }
  line_.append (reinterpret_cast<const char *> (p), take);
  if (!lf)
    return take;

  line_.pop_back ();
  if (!line_.empty () && line_.back () == '\r')
    line_.pop_back ();
  if (line_.empty ()) {
    begin_part ();
  } else if (iequals_prefix (line_.data (), line_.size (), "content-length:")) {
    char *end = nullptr;
    long long v = strtoll (line_.c_str () + 15, &end, 10);
    if (end != line_.c_str () + 15 && v >= 0)
      content_length_ = v;
  }
  line_.clear ();
  return take;
}

void
MultipartReader::begin_part ()
{
  head_len_ = 0;
  size_ = 0;
  tail_[0] = tail_[1] = 0;
  last_ns_ = 0;
  expected_ = 0;
  hint_tried_ = false;
  skipped_any_ = false;
  if (content_length_ >= 0) {
    remaining_ = uint64_t (content_length_);
    state_ = State::kBodyLength;
    if (remaining_ == 0)
      end_part ();
  } else {
    state_ = State::kBodyDelimited;
    matched_ = 0;
  }
}

size_t
MultipartReader::body_length (const uint8_t *p, size_t n, uint64_t t)
{
  size_t take = size_t (std::min<uint64_t> (remaining_, n));
  body_bytes (p, take, t);
  remaining_ -= take;
  if (remaining_ == 0)
    end_part ();
  return take;
}

void
MultipartReader::body_bytes (const uint8_t *p, size_t n, uint64_t t)
{
  if (n == 0)
    return;
  if (head_len_ < kPartHeadCap) {
    size_t c = std::min (n, kPartHeadCap - head_len_);
    memcpy (head_ + head_len_, p, c);
    head_len_ += c;
    if (head_len_ == kPartHeadCap && hint_ && !hint_tried_ && state_ == State::kBodyDelimited) {
      hint_tried_ = true;
      expected_ = hint_ (head_, head_len_);
    }
  }
  if (n >= 2) {
    tail_[0] = p[n - 2];
    tail_[1] = p[n - 1];
  } else {
    tail_[0] = tail_[1];
    tail_[1] = p[0];
  }
  size_ += n;
  last_ns_ = t;
}

void
MultipartReader::end_part ()
{
  PartInfo info;
  info.head = head_;
  info.head_len = head_len_;
  info.tail[0] = tail_[0];
  info.tail[1] = tail_[1];
  info.size = size_;
  info.had_content_length = state_ == State::kBodyLength;
  info.hint_mismatch = skipped_any_ && expected_ > 0 && size_ != expected_;
  /* Small first reads pay off only while parts keep being skippable. */
  hint_worked_ = info.had_content_length || (expected_ > 0 && size_ == expected_);
  info.last_byte_ns = last_ns_;
  /* After a counted part the CRLF before the next boundary follows. */
  if (state_ == State::kBodyLength) {
    state_ = State::kSeek;
    matched_ = 0;
  }
  if (on_part_)
    on_part_ (info);
}

uint64_t
MultipartReader::skippable () const
{
  if (head_len_ < kPartHeadCap)
    return 0;
  if (state_ == State::kBodyLength)
    return remaining_ > 2 ? remaining_ - 2 : 0;
  /* A pending partial delimiter match must be resolved by real bytes. */
  if (state_ == State::kBodyDelimited && expected_ > 0 && matched_ == 0 && size_ + 2 < expected_)
    return expected_ - size_ - 2;
  return 0;
}

void
MultipartReader::skipped (uint64_t n, uint64_t t)
{
  size_ += n;
  if (state_ == State::kBodyLength)
    remaining_ -= n;
  else
    skipped_any_ = true;
  last_ns_ = t;
}

}  // namespace bench
