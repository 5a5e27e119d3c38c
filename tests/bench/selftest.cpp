/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loadgen --selftest: the wire code against known answers and against
 * multipart streams in every layout a relay may send, fed split at every
 * position, byte by byte, in random pieces, chunked and not. A parser that
 * only works when reads happen to align with parts would make every
 * benchmark number wrong, so this runs in the bench-smoke test suite. */
#include "loadgen.h"
#include "wire.h"

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace bench {
namespace {

int g_failures = 0;
int g_checks = 0;

void
check (bool ok, const std::string & what)
{
  ++g_checks;
  if (!ok) {
    ++g_failures;
    if (g_failures <= 20)
      fprintf (stderr, "selftest FAILED: %s\n", what.c_str ());
  }
}

std::string
hex (const uint8_t *p, size_t n)
{
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

void
test_handshake ()
{
  uint8_t d[20];
  sha1 ("abc", 3, d);
  check (hex (d, 20) == "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 abc");
  sha1 ("", 0, d);
  check (hex (d, 20) == "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1 empty");
  std::string million (1000000, 'a');
  sha1 (million.data (), million.size (), d);
  check (hex (d, 20) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f", "sha1 million a");
  std::string s56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha1 (s56.data (), s56.size (), d);
  check (hex (d, 20) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1", "sha1 448 bits");
  /* RFC 6455 section 1.3. */
  check (ws_accept_for ("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
      "Sec-WebSocket-Accept of the RFC");
  check (base64 (reinterpret_cast<const uint8_t *> ("foob"), 4) == "Zm9vYg==", "base64 padding");
  std::string head = "HTTP/1.1 200 OK\r\ncontent-type:  multipart/x-mixed-replace;"
                     "boundary=\"ab c\"\r\nX: y\r\n";
  check (boundary_of (header_value (head, "Content-Type")) == "ab c", "quoted boundary");
  check (boundary_of ("multipart/x-mixed-replace; boundary=frame") == "frame", "plain boundary");
  check (header_value (head, "Missing").empty (), "absent header");
}

void
test_frames ()
{
  const uint64_t lengths[] = { 0, 1, 125, 126, 127, 65535, 65536, 100000 };
  const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
  for (uint64_t len : lengths) {
    for (int masked = 0; masked < 2; ++masked) {
      uint8_t buf[14];
      size_t n = ws_write_header (buf, kWsBinary, len, masked ? mask : nullptr);
      WsFrameHeader h;
      check (!ws_parse_header (buf, n - 1, &h), "short header is incomplete");
      check (ws_parse_header (buf, n, &h) && h.payload_len == len && h.header_len == n && h.fin &&
              h.opcode == kWsBinary && h.masked == bool (masked) &&
              (!masked || memcmp (h.mask, mask, 4) == 0),
          "frame header round trip, length " + std::to_string (len));
    }
  }
  /* RFC 6455 section 5.7: a masked "Hello". */
  uint8_t hello[] = { 'H', 'e', 'l', 'l', 'o' };
  const uint8_t rfc_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  ws_apply_mask (hello, 5, rfc_mask);
  check (hex (hello, 5) == "7f9f4d5158", "masked Hello of the RFC");
  std::vector<uint8_t> data (1001);
  for (size_t i = 0; i < data.size (); ++i)
    data[i] = uint8_t (i * 7);
  std::vector<uint8_t> whole = data, pieces = data;
  ws_apply_mask (whole.data (), whole.size (), mask);
  ws_apply_mask (pieces.data (), 13, mask, 0);
  ws_apply_mask (pieces.data () + 13, 988, mask, 13);
  check (whole == pieces, "masking in pieces equals masking at once");
  for (size_t off : { 0, 1, 3, 38 }) {
    for (size_t len : { 0, 5, 16, 63, 64, 65, 200, 1001 - 38 }) {
      std::vector<uint8_t> a (data.begin (), data.begin () + ptrdiff_t (len));
      std::vector<uint8_t> b (len);
      ws_apply_mask (a.data (), len, mask, off);
      ws_copy_masked (b.data (), data.data (), len, mask, off);
      check (a == b,
          "copy-and-mask equals mask in place, offset " + std::to_string (off) + " length " +
              std::to_string (len));
    }
  }
  size_t differ = 0;
  for (size_t i = 0; i < data.size (); ++i)
    differ += whole[i] == (data[i] ^ mask[i & 3]);
  check (differ == data.size (), "mask applied byte by byte");
}

/* A JPEG-shaped part: SOI, optional JFIF APP0, optional tag, a body that
 * teases the boundary matcher with CR, CRLF and "\r\n--" prefixes, EOI. */
std::vector<uint8_t>
make_part (std::mt19937 & rng, uint64_t seq, size_t body, bool tag, bool app0, bool eoi,
    const std::string & boundary)
{
  std::vector<uint8_t> p;
  p.reserve (body + 64);
  p.push_back (0xFF);
  p.push_back (0xD8);
  if (app0) {
    const uint8_t jfif[] = { 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0,
      0 };
    p.insert (p.end (), jfif, jfif + sizeof jfif);
  }
  if (tag) {
    FrameTag t;
    t.camera = uint32_t (seq % 3);
    t.seq = seq;
    t.sent_ns = 1000 + seq;
    uint8_t seg[kTagSegmentLen];
    write_tag_segment (seg, t);
    p.insert (p.end (), seg, seg + sizeof seg);
  }
  std::string tease = "\r\n--" + boundary;
  for (size_t i = 0; i < body; ++i) {
    uint32_t r = rng () % 64;
    if (r == 0)
      p.push_back ('\r');
    else if (r == 1 && i + tease.size () < body) {
      /* A delimiter that breaks off one byte before the end. */
      size_t k = 1 + rng () % (tease.size () - 1);
      p.insert (p.end (), tease.begin (), tease.begin () + ptrdiff_t (k));
      p.push_back ('Z'); /* never the delimiter's next byte */
      i += k + 1;
    } else {
      p.push_back (uint8_t (rng ()));
      if (p.back () == '\r')
        p.back () = 'r';
    }
  }
  if (eoi) {
    p.push_back (0xFF);
    p.push_back (0xD9);
  } else {
    p.push_back (0x00);
  }
  return p;
}

struct Expect
{
  std::vector<uint8_t> bytes;
  bool tag;
  uint64_t seq;
};

struct Got
{
  std::vector<uint8_t> head;
  uint8_t tail[2];
  uint64_t size;
  bool tag;
  uint64_t seq;
  bool hint_mismatch;
};

enum class Layout
{
  kAdvanced,
  kContentLength,
  kLegacy
};

std::string
append (std::string & s, const std::vector<uint8_t> & b)
{
  s.append (b.begin (), b.end ());
  return s;
}

/* The bytes a server of @layout sends for @parts; @complete is how many
 * parts a reader can finish from them. */
std::string
make_stream (Layout layout, const std::string & b, const std::vector<Expect> & parts,
    const std::string & preamble, size_t *complete)
{
  std::string s = preamble;
  const std::string hdr = "Content-Type: image/jpeg\r\n";
  switch (layout) {
    case Layout::kAdvanced:
      s += "--" + b + "\r\n" + hdr + "\r\n";
      for (const auto & p : parts) {
        append (s, p.bytes);
        s += "\r\n--" + b + "\r\n" + hdr + "\r\n";
      }
      *complete = parts.size ();
      break;
    case Layout::kContentLength:
      for (const auto & p : parts) {
        s += "--" + b + "\r\n" + hdr + "Content-Length: " + std::to_string (p.bytes.size ()) +
            "\r\n\r\n";
        append (s, p.bytes);
        s += "\r\n";
      }
      *complete = parts.size ();
      break;
    case Layout::kLegacy:
      for (const auto & p : parts) {
        s += "--" + b + "\r\n" + hdr + "\r\n";
        append (s, p.bytes);
        s += "\r\n";
      }
      *complete = parts.size () - 1; /* the last waits for a boundary */
      break;
  }
  return s;
}

std::string
chunk (std::mt19937 & rng, const std::string & body)
{
  std::string s;
  size_t i = 0;
  while (i < body.size ()) {
    size_t n = std::min<size_t> (body.size () - i, 1 + rng () % 700);
    char len[32];
    snprintf (len, sizeof len, rng () % 2 ? "%zx" : "%zX", n);
    s += len;
    if (rng () % 5 == 0)
      s += ";ext=1";
    s += "\r\n";
    s.append (body, i, n);
    s += "\r\n";
    i += n;
  }
  return s + "0\r\n\r\n";
}

struct Reader
{
  MultipartReader mp;
  ChunkDecoder chunks;
  bool chunked = false;
  std::vector<Got> got;

  Reader (const std::string & boundary, bool chunked_body, MultipartReader::SizeHint hint = nullptr)
    : chunked (chunked_body)
  {
    mp.reset (
        boundary,
        [this] (const PartInfo & p) {
          Got g;
          g.head.assign (p.head, p.head + p.head_len);
          g.tail[0] = p.tail[0];
          g.tail[1] = p.tail[1];
          g.size = p.size;
          FrameTag t;
          g.tag = find_tag (p.head, p.head_len, &t);
          g.seq = g.tag ? t.seq : 0;
          g.hint_mismatch = p.hint_mismatch;
          got.push_back (g);
        },
        std::move (hint));
  }

  static void sink (void *ctx, const uint8_t *p, size_t n)
  {
    static_cast<Reader *> (ctx)->mp.feed (p, n, 1);
  }

  /* One read's worth; counted bodies are skipped the way the load
   * generator skips them on the socket. */
  void read (const uint8_t *p, size_t n, bool skip)
  {
    while (n > 0) {
      uint64_t s = skip && !chunked ? mp.skippable () : 0;
      if (s > 0) {
        size_t k = size_t (std::min<uint64_t> (s, n));
        mp.skipped (k, 1);
        p += k;
        n -= k;
        continue;
      }
      if (chunked)
        chunks.feed (p, n, sink, this);
      else
        mp.feed (p, n, 1);
      return;
    }
  }
};

/* The sizes a load generator knows of the frames it sent, by sequence
 * number; @skew makes the hint of part 1 wrong. */
MultipartReader::SizeHint
exact_hint (const std::vector<Expect> & parts, int64_t skew = 0)
{
  return [&parts, skew] (const uint8_t *head, size_t len) -> uint64_t {
    FrameTag t;
    if (!find_tag (head, len, &t) || t.seq == 0 || t.seq > parts.size ())
      return 0;
    return uint64_t (int64_t (parts[t.seq - 1].bytes.size ()) + (t.seq == 1 ? skew : 0));
  };
}

std::string
describe (Layout l, bool chunked, const std::string & how)
{
  const char *names[] = { "advanced headers", "Content-Length", "legacy" };
  return std::string (names[int (l)]) + (chunked ? ", chunked" : "") + ", " + how;
}

void
verify (const Reader & r, const std::vector<Expect> & parts, size_t complete,
    const std::string & what)
{
  if (r.got.size () != complete) {
    check (false,
        what + ": " + std::to_string (r.got.size ()) + " parts instead of " +
            std::to_string (complete));
    return;
  }
  for (size_t i = 0; i < complete; ++i) {
    const Got & g = r.got[i];
    const auto & e = parts[i].bytes;
    size_t head = std::min (e.size (), kPartHeadCap);
    bool ok = g.size == e.size () && g.head.size () == head &&
        memcmp (g.head.data (), e.data (), head) == 0 && g.tail[0] == e[e.size () - 2] &&
        g.tail[1] == e[e.size () - 1] && g.tag == parts[i].tag && g.seq == parts[i].seq &&
        !g.hint_mismatch;
    check (ok, what + ": part " + std::to_string (i) + " differs");
    if (!ok)
      return;
  }
  check (!r.mp.failed () && r.mp.junk_bytes () == 0, what + ": reader failed or saw junk");
}

void
test_multipart ()
{
  std::mt19937 rng (4);
  const std::string boundaries[] = { "frame", "camrelay-1f3a" };
  for (const std::string & b : boundaries) {
    std::vector<Expect> parts;
    const size_t bodies[] = { 300, 0, 20, 700, 5, 257 };
    for (size_t i = 0; i < 6; ++i) {
      bool tag = i != 2; /* part 2 plays the placeholder */
      bool eoi = i != 4; /* part 4 is torn */
      auto bytes = make_part (rng, i + 1, bodies[i], tag, i == 3, eoi, b);
      parts.push_back ({ bytes, tag, tag ? i + 1 : 0 });
    }
    for (Layout l : { Layout::kAdvanced, Layout::kContentLength, Layout::kLegacy }) {
      for (const char *pre : { "", "\r\n" }) {
        size_t complete = 0;
        std::string s = make_stream (l, b, parts, pre, &complete);
        for (bool chunked : { false, true }) {
          std::string wire = chunked ? chunk (rng, s) : s;
          auto *w = reinterpret_cast<const uint8_t *> (wire.data ());
          for (bool skip : { false, true }) {
            for (size_t cut = 0; cut <= wire.size (); ++cut) {
              Reader r (b, chunked);
              r.read (w, cut, skip);
              r.read (w + cut, wire.size () - cut, skip);
              verify (r, parts, complete,
                  describe (l, chunked,
                      "split at " + std::to_string (cut) + (skip ? ", skipping" : "")));
            }
            /* Delimited parts skipped on the strength of exact sizes. */
            for (size_t cut = 0; skip && !chunked && cut <= wire.size (); cut += 7) {
              Reader r (b, chunked, exact_hint (parts));
              r.read (w, cut, skip);
              r.read (w + cut, wire.size () - cut, skip);
              verify (r, parts, complete,
                  describe (l, chunked, "hinted, split at " + std::to_string (cut)));
            }
            Reader bytes (b, chunked);
            for (size_t i = 0; i < wire.size (); ++i)
              bytes.read (w + i, 1, skip);
            verify (bytes, parts, complete, describe (l, chunked, "bytewise"));
            for (int round = 0; round < 50; ++round) {
              Reader r (b, chunked);
              size_t i = 0;
              while (i < wire.size ()) {
                size_t n = std::min<size_t> (wire.size () - i, 1 + rng () % 97);
                r.read (w + i, n, skip);
                i += n;
              }
              verify (r, parts, complete, describe (l, chunked, "random reads"));
            }
          }
        }
      }
    }
    /* The legacy layout closed properly yields its last part too. */
    size_t complete = 0;
    std::string s = make_stream (Layout::kLegacy, b, parts, "", &complete);
    s += "--" + b + "--\r\n";
    Reader r (b, false);
    r.read (reinterpret_cast<const uint8_t *> (s.data ()), s.size (), false);
    verify (r, parts, parts.size (), "legacy, closed");
    check (r.mp.ended (), "close delimiter ends the stream");
  }
  /* A wrong size hint never passes for a good part: whatever was skipped,
   * the part is flagged, or it is exactly the part that was sent. */
  {
    std::mt19937 r2 (9);
    std::vector<Expect> parts;
    for (uint64_t i = 1; i <= 3; ++i)
      parts.push_back ({ make_part (r2, i, 900, true, false, true, "frame"), true, i });
    size_t complete = 0;
    std::string s = make_stream (Layout::kAdvanced, "frame", parts, "", &complete);
    auto *w = reinterpret_cast<const uint8_t *> (s.data ());
    for (int64_t skew : { -7, 7, 300 }) {
      int flagged = 0;
      for (size_t cut = 0; cut <= s.size (); ++cut) {
        Reader r ("frame", false, exact_hint (parts, skew));
        r.read (w, cut, true);
        r.read (w + cut, s.size () - cut, true);
        for (const Got & g : r.got) {
          if (g.seq != 1)
            continue;
          flagged += g.hint_mismatch;
          check (g.hint_mismatch || g.size == parts[0].bytes.size (),
              "wrong hint " + std::to_string (skew) + " passed, split at " + std::to_string (cut));
        }
      }
      check (flagged > 0, "wrong hint " + std::to_string (skew) + " never flagged");
    }
  }
  /* A preamble before the first boundary is junk, not a part. */
  Reader r ("x", false);
  std::string s = "preamble\r\n--x\r\n\r\nAB\r\n--x\r\n";
  r.read (reinterpret_cast<const uint8_t *> (s.data ()), s.size (), false);
  check (r.got.size () == 1 && r.got[0].size == 2 && r.mp.junk_bytes () == 8, "preamble skipped");
}

void
test_chunked_errors ()
{
  ChunkDecoder d;
  auto sink = [] (void *, const uint8_t *, size_t) {};
  const char bad[] = "zz\r\n";
  check (!d.feed (reinterpret_cast<const uint8_t *> (bad), 4, sink, nullptr),
      "bad chunk size rejected");
  ChunkDecoder ok;
  const char fine[] = "3\r\nabc\r\n0\r\n\r\n";
  check (ok.feed (reinterpret_cast<const uint8_t *> (fine), sizeof fine - 1, sink, nullptr) &&
          ok.done (),
      "last chunk ends the body");
}

}  // namespace

int
run_selftest ()
{
  test_handshake ();
  test_frames ();
  test_multipart ();
  test_chunked_errors ();
  printf ("selftest: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace bench
