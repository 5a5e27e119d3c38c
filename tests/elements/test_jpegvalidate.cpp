/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* jpegvalidate: cr::jpeg_check() unit tests and element tests with real
 * JPEGs (jpegenc output, frames written with libjpeg and with Pillow, plus
 * libjpeg-written progressive/arithmetic/restart files from the fuzz seed
 * corpus), and the two camera quirks it mends: padding after EOI and frames
 * without Huffman tables. */
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include "jpegcheck.h"
#include "subprocess.h"
#include "testjpeg.h"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

using Bytes = std::vector<guint8>;
using cr::JpegReject;

namespace {

/* ---- frames ---------------------------------------------------------- */

/* Encoding is slow compared to the tests: each spec is encoded once. */
const std::vector<Bytes> &
frames (const crtest::JpegSpec & spec, int count = 1)
{
  static std::map<std::string, std::vector<Bytes>> cache;
  g_autofree gchar *key = g_strdup_printf ("%dx%d q%d %s %s %d", spec.width, spec.height,
      spec.quality, spec.pattern.c_str (), spec.format.c_str (), count);
  auto it = cache.find (key);
  if (it == cache.end ())
    it = cache.emplace (key, crtest::make_jpegs (count, spec)).first;
  return it->second;
}

/* 640x480 4:2:0 snow, about 200 KB: what a camera sends, only bigger. */
const Bytes &
vga (int i = 0)
{
  return frames ({}, 3).at (i);
}

/* 320x240 4:2:0 snow, about 50 KB. */
const Bytes &
qvga ()
{
  crtest::JpegSpec spec;
  spec.width = 320;
  spec.height = 240;
  return frames (spec).at (0);
}

/* A small one (about 2 KB) for exhaustive loops. */
const Bytes &
small ()
{
  crtest::JpegSpec spec;
  spec.width = 96;
  spec.height = 64;
  spec.pattern = "smpte";
  spec.quality = 50;
  return frames (spec).at (0);
}

Bytes
corpus_file (const char *name)
{
  const gchar *root = g_getenv ("CAMRELAY_SOURCE_ROOT");
  g_autofree gchar *path =
      g_build_filename (root ? root : ".", "tests", "fuzz", "corpus", "jpegcheck", name, nullptr);
  g_autofree gchar *contents = nullptr;
  gsize len = 0;
  g_autoptr (GError) error = nullptr;
  if (!g_file_get_contents (path, &contents, &len, &error)) {
    ADD_FAILURE () << "cannot read test image: " << error->message;
    return {};
  }
  return Bytes (contents, contents + len);
}

/* Encoded once per spec, like frames(). */
const Bytes &
libjpeg (const crtest::LibjpegSpec & spec)
{
  static std::map<std::string, Bytes> cache;
  g_autofree gchar *key =
      g_strdup_printf ("%dx%d q%d c%d %dx%d p%d r%u j%d o%d e%d i%" G_GSIZE_FORMAT " s%u n%d",
          spec.width, spec.height, spec.quality, spec.components, spec.h_samp, spec.v_samp,
          spec.progressive, spec.restart_interval, spec.jfif, spec.optimize, spec.exif,
          spec.icc_size, spec.seed, spec.noise);
  auto it = cache.find (key);
  if (it == cache.end ())
    it = cache.emplace (key, crtest::encode_libjpeg (spec)).first;
  return it->second;
}

/* A VGA 4:2:0 frame with the standard tables, as a UVC webcam's encoder makes it, with the
 * tables left in. */
const Bytes &
webcam ()
{
  crtest::LibjpegSpec spec;
  spec.width = 640;
  spec.height = 480;
  return libjpeg (spec);
}

/* ---- byte surgery on JPEGs ------------------------------------------- */

/* Offset of the FF of the first header segment with @marker (walking
 * lengths, not scanning), or 0 if there is none before the first SOS. */
gsize
segment_at (const Bytes & b, guint8 marker)
{
  gsize pos = 2;
  while (pos + 4 <= b.size () && b[pos] == 0xff) {
    if (b[pos + 1] == marker)
      return pos;
    if (b[pos + 1] == 0xda)
      return 0;
    pos += 2 + ((b[pos + 2] << 8) | b[pos + 3]);
  }
  return 0;
}

gsize
segment_length (const Bytes & b, gsize at)
{
  return (b[at + 2] << 8) | b[at + 3];
}

Bytes
without_segment (Bytes b, guint8 marker)
{
  const gsize at = segment_at (b, marker);
  EXPECT_NE (at, 0u) << "no segment ff" << std::hex << int (marker);
  b.erase (b.begin () + at, b.begin () + at + 2 + segment_length (b, at));
  return b;
}

/* Inserts a COM segment after SOI so that the image is exactly @size bytes:
 * still a perfectly valid JPEG. */
Bytes
padded_to (const Bytes & b, gsize size)
{
  const gsize len = size - b.size () - 2;
  EXPECT_GE (len, 2u);
  EXPECT_LE (len, 65535u);
  Bytes out = { 0xff, 0xd8, 0xff, 0xfe, guint8 (len >> 8), guint8 (len) };
  out.reserve (size);
  out.insert (out.end (), len - 2, 'x');
  out.insert (out.end (), b.begin () + 2, b.end ());
  return out;
}

void
put_be16 (Bytes & b, gsize at, guint v)
{
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

/* Where the entropy-coded data of the first scan starts. */
gsize
scan_data_at (const Bytes & b)
{
  const gsize sos = segment_at (b, 0xda);
  EXPECT_NE (sos, 0u);
  return sos + 2 + segment_length (b, sos);
}

/* Flips bits of @count bytes in the middle of the first scan, leaving every
 * FF and the byte after it alone: all markers, stuffing and restart markers
 * stay where they were, so only a decoder can tell. */
Bytes
with_corrupt_scan (Bytes b, gsize count)
{
  const gsize start = scan_data_at (b);
  const gsize end = b.size () - 2;
  gsize i = start + (end - start) / 2;
  for (gsize done = 0; done < count && i < end - 1; i++) {
    if (b[i] == 0xff || b[i - 1] == 0xff)
      continue;
    guint8 v = b[i] ^ 0x5a;
    if (v == 0xff)
      v = 0xfe;
    b[i] = v;
    done++;
  }
  return b;
}

/* Cuts the scan short and ends the image with EOI right there: what a camera
 * whose buffer overflowed sends. Structurally complete, visibly broken. */
Bytes
with_short_scan (const Bytes & b)
{
  const gsize start = scan_data_at (b);
  gsize cut = start + (b.size () - start) / 4;
  while (b[cut - 1] == 0xff)
    cut--;
  Bytes out (b.begin (), b.begin () + cut);
  out.push_back (0xff);
  out.push_back (0xd9);
  return out;
}

Bytes
with_tail (Bytes b, const Bytes & tail)
{
  b.insert (b.end (), tail.begin (), tail.end ());
  return b;
}

/* What esp32-camera leaves after EOI: the rest of its DMA buffer, i.e. stale entropy-coded data
 * of an older frame (which never holds FF D8). */
Bytes
dma_tail (gsize size)
{
  const Bytes & old = vga (2);
  const gsize from = old.size () / 2;
  return Bytes (old.begin () + from, old.begin () + from + size);
}

/* Where the marker @marker first occurs (FF followed by it), from @from; npos if nowhere. */
gsize
find_marker (const Bytes & b, guint8 marker, gsize from = 0)
{
  for (gsize i = from; i + 1 < b.size (); i++) {
    if (b[i] == 0xff && b[i + 1] == marker)
      return i;
  }
  return std::string::npos;
}

guint
count_markers (const Bytes & b, guint8 marker)
{
  guint n = 0;
  for (gsize at = find_marker (b, marker); at != std::string::npos;
       at = find_marker (b, marker, at + 2))
    n++;
  return n;
}

/* Header segments with @marker before the first SOS, walking lengths. */
guint
count_segments (const Bytes & b, guint8 marker)
{
  guint n = 0;
  for (gsize pos = 2; pos + 4 <= b.size () && b[pos] == 0xff && b[pos + 1] != 0xda;
       pos += 2 + segment_length (b, pos))
    n += b[pos + 1] == marker;
  return n;
}

/* What jpegvalidate must hand on for @b, by jpeg_check()'s verdict. */
Bytes
repaired (const Bytes & b, const cr::JpegCheckLimits & limits)
{
  const cr::JpegCheckResult r = cr::jpeg_check (b.data (), b.size (), limits);
  EXPECT_TRUE (r.ok ()) << r.detail;
  Bytes out (cr::jpeg_repaired_size (r));
  cr::jpeg_write_repaired (b.data (), r, out.data ());
  return out;
}

/* The same pixels, decoded by libjpeg without a single warning. */
void
expect_same_pixels (const Bytes & got, const Bytes & want)
{
  std::vector<guint8> a, b;
  int aw = 0, ah = 0, bw = 0, bh = 0;
  std::string error;
  ASSERT_TRUE (crtest::decode_libjpeg (got, a, &aw, &ah, &error)) << error;
  ASSERT_TRUE (crtest::decode_libjpeg (want, b, &bw, &bh, &error)) << error;
  EXPECT_EQ (aw, bw);
  EXPECT_EQ (ah, bh);
  EXPECT_TRUE (a == b) << "the pixels differ";
}

/* True if @out holds its bytes in the very memory @in does: nothing was copied. */
bool
same_memory (GstBuffer *out, const Bytes & in_bytes, const guint8 *in_data)
{
  GstMapInfo map;
  if (gst_buffer_n_memory (out) != 1 || !gst_buffer_map (out, &map, GST_MAP_READ))
    return false;
  const bool same = map.data == in_data && map.size <= in_bytes.size ();
  gst_buffer_unmap (out, &map);
  return same;
}

Bytes
png_like (gsize size)
{
  Bytes b = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  b.resize (size, 0);
  return b;
}

Bytes
random_bytes (gsize size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  Bytes b (size);
  for (auto & v : b)
    v = g_rand_int_range (rand, 0, 256);
  return b;
}

cr::JpegCheckLimits
no_min ()
{
  cr::JpegCheckLimits limits;
  limits.min_size = 0;
  return limits;
}

cr::JpegCheckResult
check (const Bytes & b, const cr::JpegCheckLimits & limits = no_min ())
{
  return cr::jpeg_check (b.data (), b.size (), limits);
}

#define EXPECT_REJECTS(bytes, why, text)                                                           \
  do {                                                                                             \
    const cr::JpegCheckResult r_ = check (bytes);                                                  \
    EXPECT_EQ (cr::jpeg_reject_nick (r_.reason), std::string (why)) << r_.detail;                  \
    EXPECT_NE (std::string (r_.detail).find (text), std::string::npos) << r_.detail;               \
  } while (0)

/* ---- harness --------------------------------------------------------- */

struct HarnessDeleter
{
  void operator() (GstHarness *h) const { gst_harness_teardown (h); }
};
using Harness = std::unique_ptr<GstHarness, HarnessDeleter>;

Harness
validator ()
{
  Harness h (gst_harness_new ("jpegvalidate"));
  gst_harness_set_src_caps_str (h.get (), "image/jpeg");
  return h;
}

GstFlowReturn
push (GstHarness *h, const Bytes & b, GstClockTime pts = GST_CLOCK_TIME_NONE)
{
  /* buffer_from() cannot make an empty buffer */
  GstBuffer *buf = b.empty () ? gst_buffer_new () : crtest::buffer_from (b);
  GST_BUFFER_PTS (buf) = pts;
  return gst_harness_push (h, buf);
}

/* The next output frame, or an empty vector if nothing is waiting. */
Bytes
try_pull (GstHarness *h)
{
  GstBuffer *buf = gst_harness_try_pull (h);
  if (!buf)
    return {};
  Bytes out = crtest::bytes_of (buf);
  gst_buffer_unref (buf);
  return out;
}

guint64
stat (GstElement *e, const char *field)
{
  GstStructure *s = nullptr;
  guint64 v = G_MAXUINT64;
  g_object_get (e, "stats", &s, nullptr);
  EXPECT_TRUE (gst_structure_get_uint64 (s, field, &v)) << field;
  gst_structure_free (s);
  return v;
}

/* Element messages go to a bus of the test's own. */
struct BusDeleter
{
  void operator() (GstBus *b) const { gst_object_unref (b); }
};
using Bus = std::unique_ptr<GstBus, BusDeleter>;

Bus
attach_bus (GstHarness *h)
{
  Bus bus (gst_bus_new ());
  gst_element_set_bus (h->element, bus.get ());
  return bus;
}

struct Rejection
{
  std::string reason, detail;
  guint64 size = 0, count = 0, suppressed = 0;
};

std::vector<Rejection>
rejections (GstBus *bus)
{
  std::vector<Rejection> out;
  while (GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure *s = gst_message_get_structure (m);
    if (gst_structure_has_name (s, "jpegvalidate-rejected")) {
      Rejection r;
      r.reason = gst_structure_get_string (s, "reason");
      r.detail = gst_structure_get_string (s, "detail");
      EXPECT_TRUE (gst_structure_get_uint64 (s, "size", &r.size));
      EXPECT_TRUE (gst_structure_get_uint64 (s, "count", &r.count));
      EXPECT_TRUE (gst_structure_get_uint64 (s, "suppressed", &r.suppressed));
      out.push_back (r);
    }
    gst_message_unref (m);
  }
  return out;
}

}  // namespace

/* ====================================================================== */
/* cr::jpeg_check()                                                       */
/* ====================================================================== */

TEST (JpegCheck, AcceptsEncoderOutputAndReportsItsHeader)
{
  const cr::JpegCheckResult r = check (vga ());
  ASSERT_TRUE (r.ok ()) << r.detail;
  EXPECT_EQ (r.info.width, 640u);
  EXPECT_EQ (r.info.height, 480u);
  EXPECT_EQ (r.info.sof_marker, 0xc0);
  EXPECT_EQ (r.info.components, 3u);
  EXPECT_EQ (r.info.precision, 8u);
  EXPECT_EQ (r.info.scans, 1u);
  EXPECT_FALSE (r.info.progressive);
  EXPECT_STREQ (r.detail, "");
}

TEST (JpegCheck, AcceptsProgressiveArithmeticRestartAndGreyImages)
{
  struct
  {
    const char *file;
    guint width, height, components, scans;
    guint8 sof;
  } cases[] = {
    { "progressive-420.jpg", 128, 96, 3, 10, 0xc2 },
    { "progressive-grey.jpg", 64, 48, 1, 6, 0xc2 },
    { "arithmetic-420.jpg", 64, 48, 3, 1, 0xc9 },
    { "baseline-444-restart.jpg", 48, 40, 3, 1, 0xc0 },
    { "grey.jpg", 80, 60, 1, 1, 0xc0 },
  };
  for (const auto & c : cases) {
    const Bytes b = corpus_file (c.file);
    const cr::JpegCheckResult r = check (b);
    ASSERT_TRUE (r.ok ()) << c.file << ": " << r.detail;
    EXPECT_EQ (r.info.width, c.width) << c.file;
    EXPECT_EQ (r.info.height, c.height) << c.file;
    EXPECT_EQ (r.info.components, c.components) << c.file;
    EXPECT_EQ (r.info.scans, c.scans) << c.file;
    EXPECT_EQ (r.info.sof_marker, c.sof) << c.file;
    EXPECT_EQ (r.info.progressive, c.sof == 0xc2) << c.file;
  }
  /* The restart file really has RST markers inside its scan. */
  const Bytes rst = corpus_file ("baseline-444-restart.jpg");
  bool has_rst = false;
  for (gsize i = scan_data_at (rst); i + 1 < rst.size (); i++)
    has_rst |= rst[i] == 0xff && rst[i + 1] >= 0xd0 && rst[i + 1] <= 0xd7;
  EXPECT_TRUE (has_rst);
}

TEST (JpegCheck, MinimumSizeBoundaryIsLegacy5000)
{
  const cr::JpegCheckLimits defaults;
  EXPECT_EQ (defaults.min_size, 5001u);

  const Bytes at_5000 = padded_to (small (), 5000);
  const Bytes at_5001 = padded_to (small (), 5001);
  ASSERT_EQ (at_5000.size (), 5000u);
  ASSERT_EQ (at_5001.size (), 5001u);
  ASSERT_TRUE (check (at_5000).ok ()) << "padding must keep it valid";

  const cr::JpegCheckResult r = check (at_5000, defaults);
  EXPECT_EQ (r.reason, JpegReject::TooSmall);
  EXPECT_STREQ (r.detail, "5000 bytes, the minimum is 5001");
  EXPECT_TRUE (check (at_5001, defaults).ok ());
  EXPECT_EQ (check ({}, defaults).reason, JpegReject::TooSmall);
}

TEST (JpegCheck, MaximumSize)
{
  cr::JpegCheckLimits limits = no_min ();
  limits.max_size = vga ().size ();
  EXPECT_TRUE (check (vga (), limits).ok ());
  limits.max_size = vga ().size () - 1;
  EXPECT_EQ (check (vga (), limits).reason, JpegReject::TooLarge);
  limits.max_size = 0;
  EXPECT_TRUE (check (vga (), limits).ok ()) << "0 means no limit";
  EXPECT_EQ (cr::JpegCheckLimits ().max_size, 4u * 1024 * 1024);
}

TEST (JpegCheck, NotJpeg)
{
  EXPECT_REJECTS (png_like (6000), "not-jpeg", "89 50 4e 47");
  for (guint32 seed = 1; seed <= 20; seed++) {
    Bytes b = random_bytes (6000, seed);
    if (b[0] == 0xff && b[1] == 0xd8)
      continue;
    EXPECT_EQ (check (b).reason, JpegReject::NotJpeg);
  }
  EXPECT_EQ (check ({}).reason, JpegReject::NotJpeg);
  EXPECT_EQ (check ({ 0xff }).reason, JpegReject::NotJpeg);
  EXPECT_EQ (check ({ 0xd8, 0xff }).reason, JpegReject::NotJpeg);
}

TEST (JpegCheck, EveryCutOfAnImageIsTruncated)
{
  const Bytes & full = small ();
  ASSERT_TRUE (check (full).ok ());
  for (gsize len = 2; len < full.size (); len++) {
    const Bytes cut (full.begin (), full.begin () + len);
    const cr::JpegCheckResult r = check (cut);
    ASSERT_EQ (r.reason, JpegReject::Truncated) << "cut at " << len << ": " << r.detail;
  }
  const Bytes progressive = corpus_file ("progressive-420.jpg");
  for (gsize len = 2; len < progressive.size (); len++) {
    const Bytes cut (progressive.begin (), progressive.begin () + len);
    ASSERT_EQ (check (cut).reason, JpegReject::Truncated) << "cut at " << len;
  }
}

TEST (JpegCheck, SegmentLengthOverrunIsMalformed)
{
  Bytes b = small ();
  const gsize dqt = segment_at (b, 0xdb);
  ASSERT_NE (dqt, 0u);
  put_be16 (b, dqt + 2, 0x7fff);
  g_autofree gchar *text = g_strdup_printf ("segment DQT (ffdb) at offset %" G_GSIZE_FORMAT
                                            " claims 32767 bytes, only %" G_GSIZE_FORMAT " left",
      dqt, b.size () - dqt - 2);
  EXPECT_REJECTS (b, "malformed", text);

  put_be16 (b, dqt + 2, 1);
  EXPECT_REJECTS (b, "malformed", "invalid length of 1");
}

TEST (JpegCheck, MissingSofOrSos)
{
  EXPECT_REJECTS (without_segment (small (), 0xc0), "malformed", "before any SOF");

  const Bytes & b = small ();
  Bytes no_sos (b.begin (), b.begin () + segment_at (b, 0xda));
  no_sos.push_back (0xff);
  no_sos.push_back (0xd9);
  EXPECT_REJECTS (no_sos, "malformed", "no SOS before EOI");

  EXPECT_REJECTS (Bytes ({ 0xff, 0xd8, 0xff, 0xd9 }), "malformed", "no SOF before EOI");
}

TEST (JpegCheck, BadDimensions)
{
  const gsize sof = segment_at (small (), 0xc0);
  ASSERT_NE (sof, 0u);
  /* SOF body: length(2) precision(1) height(2) width(2) components(1) */
  Bytes zero_width = small ();
  put_be16 (zero_width, sof + 7, 0);
  EXPECT_REJECTS (zero_width, "malformed", "zero width");

  Bytes zero_height = small ();
  put_be16 (zero_height, sof + 5, 0);
  EXPECT_REJECTS (zero_height, "malformed", "zero height");

  Bytes absurd = small ();
  put_be16 (absurd, sof + 7, 60000);
  EXPECT_REJECTS (absurd, "malformed", "width 60000 exceeds the limit of 8192");

  Bytes tall = small ();
  put_be16 (tall, sof + 5, 8193);
  EXPECT_REJECTS (tall, "malformed", "height 8193 exceeds");

  cr::JpegCheckLimits limits = no_min ();
  limits.max_width = 96;
  limits.max_height = 64;
  EXPECT_TRUE (check (small (), limits).ok ()) << "limits are inclusive";
  limits.max_width = 95;
  EXPECT_EQ (check (small (), limits).reason, JpegReject::Malformed);
}

/* Hardware encoders pad: Raspberry Pi stills end ff d9 00 00 00, ArduCAM pads with zeros,
 * esp32-camera leaves up to about 500 bytes of DMA tail. */
TEST (JpegCheck, PaddingAfterEoiIsAcceptedAndMeasuredUpTo4KiB)
{
  const Bytes & b = small ();
  const Bytes pi = with_tail (b, { 0, 0, 0 });
  ASSERT_EQ (Bytes (pi.end () - 5, pi.end ()), Bytes ({ 0xff, 0xd9, 0, 0, 0 }));
  for (const Bytes & tail :
      { Bytes (3, 0), Bytes (1, 0), dma_tail (500), Bytes (4096, 0), dma_tail (4096),
          Bytes ({ 0xff, 0xd9 }), Bytes ({ 0xff, 0xd8, 0x00 }), Bytes ({ 0xff, 0xd8 }) }) {
    const cr::JpegCheckResult r = check (with_tail (b, tail));
    ASSERT_TRUE (r.ok ()) << tail.size () << " bytes of padding: " << r.detail;
    EXPECT_EQ (r.image_size, b.size ());
    EXPECT_EQ (r.trailing, tail.size ());
    EXPECT_EQ (r.dht_insert_at, 0u) << "jpegenc writes its tables";
    EXPECT_EQ (cr::jpeg_repaired_size (r), b.size ());
  }
  const cr::JpegCheckResult whole = check (b);
  EXPECT_EQ (whole.image_size, b.size ());
  EXPECT_EQ (whole.trailing, 0u);
  EXPECT_EQ (cr::kJpegMaxTrailingBytes, 4096u);

  g_autofree gchar *text = g_strdup_printf ("4097 bytes after EOI at offset %" G_GSIZE_FORMAT
                                            ", more than the 4096 of padding accepted",
      b.size () - 2);
  EXPECT_REJECTS (with_tail (b, Bytes (4097, 0)), "malformed", text);
  EXPECT_REJECTS (with_tail (b, dma_tail (20000)), "malformed", "bytes after EOI");
  /* A frame cut short and padded is still truncated: no EOI, whatever follows. */
  const Bytes cut (b.begin (), b.begin () + b.size () / 2);
  EXPECT_EQ (check (with_tail (cut, Bytes (3, 0))).reason, JpegReject::Truncated);
}

/* Two images in one buffer must not reach jpegparse, which would split them into two frames. */
TEST (JpegCheck, AnotherImageAfterEoiIsAMergedFrame)
{
  const Bytes & b = small ();
  g_autofree gchar *text = g_strdup_printf ("another image (SOI at offset %" G_GSIZE_FORMAT
                                            ") after EOI at offset %" G_GSIZE_FORMAT,
      b.size (), b.size () - 2);
  EXPECT_REJECTS (with_tail (b, b), "merged", text);
  EXPECT_REJECTS (with_tail (b, with_tail (Bytes (100, 0), b)), "merged", "another image");
  /* However little of it is there, and however far behind the padding limit. */
  EXPECT_REJECTS (with_tail (b, Bytes ({ 0, 0xff, 0xd8, 0xff })), "merged", "another image");
  EXPECT_REJECTS (with_tail (b, with_tail (Bytes (8000, 0), b)), "merged", "another image");
  const Bytes progressive = corpus_file ("progressive-420.jpg");
  EXPECT_REJECTS (with_tail (progressive, b), "merged", "another image");
}

TEST (JpegCheck, FramesWithoutHuffmanTablesAreFlaggedForTheStandardOnes)
{
  const Bytes & full = webcam ();
  const Bytes bare = crtest::without_huffman_tables (full);
  ASSERT_EQ (count_segments (full, 0xc4) - count_segments (bare, 0xc4), 4u);
  ASSERT_EQ (segment_at (bare, 0xc4), 0u);

  const cr::JpegCheckResult r = check (bare);
  ASSERT_TRUE (r.ok ()) << r.detail;
  EXPECT_EQ (r.dht_insert_at, segment_at (bare, 0xda));
  EXPECT_EQ (r.image_size, bare.size ());
  gsize dht_size = 0;
  cr::jpeg_standard_dht (&dht_size);
  EXPECT_EQ (dht_size, 420u);
  EXPECT_EQ (cr::jpeg_repaired_size (r), bare.size () + 420);

  const Bytes fixed = repaired (bare, no_min ());
  const cr::JpegCheckResult again = check (fixed);
  ASSERT_TRUE (again.ok ()) << again.detail;
  EXPECT_EQ (again.dht_insert_at, 0u);
  EXPECT_EQ (again.info.format_key, r.info.format_key) << "the caps do not change";

  /* Frames with tables of their own, or that need none, are left alone. */
  EXPECT_EQ (check (full).dht_insert_at, 0u);
  EXPECT_EQ (check (corpus_file ("arithmetic-420.jpg")).dht_insert_at, 0u);
  crtest::LibjpegSpec progressive;
  progressive.progressive = true;
  EXPECT_EQ (check (crtest::without_huffman_tables (libjpeg (progressive))).dht_insert_at, 0u)
      << "only baseline and extended frames get the Annex K tables";
}

/* The segment jpegvalidate inserts holds exactly the tables libjpeg writes when it is not told
 * to optimise them, in the order it writes them (DC 0, AC 0, DC 1, AC 1). */
TEST (JpegCheck, StandardDhtHoldsTheTablesLibjpegWritesByDefault)
{
  const Bytes & b = webcam ();
  Bytes tables;
  for (gsize at = 2; b[at + 1] != 0xda; at += 2 + segment_length (b, at)) {
    if (b[at + 1] == 0xc4)
      tables.insert (tables.end (), b.begin () + at + 4,
          b.begin () + at + 2 + segment_length (b, at));
  }
  gsize size = 0;
  const guint8 *dht = cr::jpeg_standard_dht (&size);
  ASSERT_EQ (dht[0], 0xff);
  ASSERT_EQ (dht[1], 0xc4);
  EXPECT_EQ (gsize ((dht[2] << 8) | dht[3]), size - 2);
  EXPECT_EQ (Bytes (dht + 4, dht + size), tables);
}

TEST (JpegCheck, WhatJpegparseOrLibjpegCannotHandleIsMalformed)
{
  const Bytes & b = small ();
  const gsize sof = segment_at (b, 0xc0);
  const gsize sof_len = segment_length (b, sof);

  /* jpegparse posts an error and stops the pipeline on a second SOF. */
  Bytes two_sofs = b;
  two_sofs.insert (two_sofs.begin () + sof, b.begin () + sof, b.begin () + sof + 2 + sof_len);
  EXPECT_REJECTS (two_sofs, "malformed", "second SOF");

  /* Hierarchical SOF5: jpegparse sizes it by scanning, not by its length. */
  Bytes sof5 = b;
  sof5[sof + 1] = 0xc5;
  EXPECT_REJECTS (sof5, "malformed", "unexpected marker SOF5");

  Bytes five_components = b;
  five_components[sof + 9] = 5;
  EXPECT_REJECTS (five_components, "malformed", "declares 5 components");

  Bytes bad_sampling = b;
  bad_sampling[sof + 11] = 0x52; /* component 1: 5x2 */
  EXPECT_REJECTS (bad_sampling, "malformed", "sampling factors 5x2");

  Bytes twelve_bit_quant_table = b;
  twelve_bit_quant_table[sof + 12] = 4;
  EXPECT_REJECTS (twelve_bit_quant_table, "malformed", "quantization table 4");

  const gsize sos = segment_at (b, 0xda);
  Bytes unknown_component = b;
  unknown_component[sos + 5] = 9;
  EXPECT_REJECTS (unknown_component, "malformed", "names component 9");

  Bytes junk = b;
  junk.insert (junk.begin () + sof, { 0x00, 0x01 });
  EXPECT_REJECTS (junk, "malformed", "expected a marker");

  Bytes soi = b;
  soi.insert (soi.begin () + sof, { 0xff, 0xd8 });
  EXPECT_REJECTS (soi, "malformed", "unexpected marker SOI");

  Bytes soi_in_scan = b;
  soi_in_scan.insert (soi_in_scan.begin () + scan_data_at (b) + 10, { 0xff, 0xd8 });
  EXPECT_REJECTS (soi_in_scan, "malformed", "unexpected marker SOI");
}

TEST (JpegCheck, FillBytesAndStuffingAreFine)
{
  const Bytes & b = small ();
  Bytes fill = b;
  /* Fill bytes before a header marker and before EOI. */
  fill.insert (fill.begin () + segment_at (b, 0xc0), 3, 0xff);
  fill.insert (fill.end () - 2, 2, 0xff);
  EXPECT_TRUE (check (fill).ok ()) << check (fill).detail;
}

TEST (JpegCheck, RejectNicks)
{
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::TooSmall), "too-small");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::TooLarge), "too-large");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::NotJpeg), "not-jpeg");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::Truncated), "truncated");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::Malformed), "malformed");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::Merged), "merged");
  EXPECT_STREQ (cr::jpeg_reject_nick (JpegReject::DecodeFailed), "decode-failed");
}

/* ====================================================================== */
/* jpegvalidate                                                           */
/* ====================================================================== */

TEST (JpegValidate, ValidFrameLeavesAtOnceUnchangedWithParsedCaps)
{
  Harness h = validator ();
  GstBuffer *in = crtest::buffer_from (vga ());
  GST_BUFFER_PTS (in) = 42 * GST_MSECOND;
  GstMemory *in_mem = gst_buffer_peek_memory (in, 0);
  ASSERT_EQ (gst_harness_push (h.get (), in), GST_FLOW_OK);

  /* jpegparse 1.22 pushes the frame as soon as it sees EOI: nothing is held
   * back until the next frame. */
  GstBuffer *out = gst_harness_try_pull (h.get ());
  ASSERT_NE (out, nullptr);
  EXPECT_EQ (crtest::bytes_of (out), vga ());
  EXPECT_EQ (GST_BUFFER_PTS (out), 42 * GST_MSECOND);
  /* No copy: the very same memory comes out. */
  EXPECT_EQ (gst_buffer_n_memory (out), 1u);
  EXPECT_EQ (gst_buffer_peek_memory (out, 0), in_mem);
  gst_buffer_unref (out);
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr);

  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
  ASSERT_NE (caps, nullptr);
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  gint width = 0, height = 0;
  gboolean parsed = FALSE;
  EXPECT_TRUE (gst_structure_has_name (s, "image/jpeg"));
  EXPECT_TRUE (gst_structure_get_int (s, "width", &width));
  EXPECT_TRUE (gst_structure_get_int (s, "height", &height));
  EXPECT_TRUE (gst_structure_get_boolean (s, "parsed", &parsed));
  EXPECT_EQ (width, 640);
  EXPECT_EQ (height, 480);
  EXPECT_TRUE (parsed);
}

TEST (JpegValidate, FramesKeepTheirOrderAndTimestamps)
{
  Harness h = validator ();
  for (int i = 0; i < 3; i++)
    ASSERT_EQ (push (h.get (), vga (i), i * 40 * GST_MSECOND), GST_FLOW_OK);
  for (int i = 0; i < 3; i++) {
    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr);
    EXPECT_EQ (crtest::bytes_of (out), vga (i));
    EXPECT_EQ (GST_BUFFER_PTS (out), i * 40 * GST_MSECOND);
    gst_buffer_unref (out);
  }
  EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr);
}

TEST (JpegValidate, FramesOf5000BytesOrLessAreIgnoredLikeTheLegacyServer)
{
  Harness h = validator ();
  const Bytes at_5000 = padded_to (small (), 5000);
  const Bytes at_5001 = padded_to (small (), 5001);
  push (h.get (), at_5000);
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  push (h.get (), at_5001);
  EXPECT_EQ (try_pull (h.get ()), at_5001);
  EXPECT_EQ (stat (h->element, "too-small"), 1u);
  EXPECT_EQ (stat (h->element, "accepted"), 1u);
}

/* On its own, jpegparse 1.22 answers a second SOF with an error message and
 * GST_FLOW_ERROR, for that frame and the ones after it. */
TEST (JpegValidate, ASecondSofDoesNotStopThePipeline)
{
  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  const Bytes & b = vga ();
  const gsize sof = segment_at (b, 0xc0);
  Bytes two_sofs = b;
  two_sofs.insert (two_sofs.begin () + sof, b.begin () + sof,
      b.begin () + sof + 2 + segment_length (b, sof));

  EXPECT_EQ (push (h.get (), two_sofs), GST_FLOW_OK);
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  EXPECT_EQ (push (h.get (), vga (1)), GST_FLOW_OK);
  EXPECT_EQ (try_pull (h.get ()), vga (1));
  EXPECT_EQ (gst_bus_pop_filtered (bus.get (), GST_MESSAGE_ERROR), nullptr);
  EXPECT_EQ (stat (h->element, "malformed"), 1u);
}

/* GstBaseParse alone would send the second frame out without a PTS: it
 * ignores an input PTS equal to the previous one. */
TEST (JpegValidate, RepeatedTimestampsArePreservedToo)
{
  Harness h = validator ();
  for (int i = 0; i < 3; i++)
    ASSERT_EQ (push (h.get (), vga (i), GST_SECOND), GST_FLOW_OK);
  push (h.get (), vga (0));
  const GstClockTime expected_pts[] = { GST_SECOND, GST_SECOND, GST_SECOND, GST_CLOCK_TIME_NONE };
  for (GstClockTime expected : expected_pts) {
    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr);
    EXPECT_EQ (GST_BUFFER_PTS (out), expected);
    gst_buffer_unref (out);
  }
}

TEST (JpegValidate, EveryRejectionReasonDropsTheFrameAndIsCounted)
{
  Harness h = validator ();
  ASSERT_GT (vga ().size (), 190000u);
  g_object_set (h->element, "max-size", 190000u, nullptr);
  Bytes after_eoi = qvga ();
  after_eoi.insert (after_eoi.end (), 5000, 0);
  Bytes overrun = qvga ();
  put_be16 (overrun, segment_at (overrun, 0xdb) + 2, 0xfff0);

  const struct
  {
    const char *reason;
    Bytes bytes;
  } cases[] = {
    { "too-small", padded_to (small (), 5000) },
    { "too-large", vga () },
    { "not-jpeg", png_like (20000) },
    { "not-jpeg", random_bytes (20000, 7) },
    { "truncated", Bytes (vga ().begin (), vga ().begin () + 100000) },
    { "malformed", after_eoi },
    { "malformed", overrun },
    { "malformed", without_segment (qvga (), 0xc0) },
    { "merged", with_tail (qvga (), qvga ()) },
  };

  std::map<std::string, guint64> expected;
  for (const auto & c : cases) {
    ASSERT_EQ (push (h.get (), c.bytes), GST_FLOW_OK) << c.reason;
    EXPECT_TRUE (try_pull (h.get ()).empty ()) << c.reason;
    expected[c.reason]++;
  }
  for (const char *reason :
      { "too-small", "too-large", "not-jpeg", "truncated", "malformed", "merged", "decode-failed" })
    EXPECT_EQ (stat (h->element, reason), expected[reason]) << reason;
  EXPECT_EQ (stat (h->element, "rejected"), G_N_ELEMENTS (cases));
  EXPECT_EQ (stat (h->element, "accepted"), 0u);
}

TEST (JpegValidate, TruncatedFrameNeverLeaksIntoTheNextOne)
{
  Harness h = validator ();
  const Bytes & full = vga (0);
  const Bytes & next = vga (1);
  GstClockTime pts = 0;
  for (gsize len : { gsize (5001), gsize (6000), full.size () / 3, full.size () / 2,
           full.size () - 1000, full.size () - 3, full.size () - 2, full.size () - 1 }) {
    const Bytes cut (full.begin (), full.begin () + len);
    pts += GST_SECOND;
    ASSERT_EQ (push (h.get (), cut, pts), GST_FLOW_OK);
    pts += GST_SECOND;
    ASSERT_EQ (push (h.get (), next, pts), GST_FLOW_OK);

    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr) << "cut at " << len;
    EXPECT_EQ (crtest::bytes_of (out), next) << "cut at " << len;
    EXPECT_EQ (GST_BUFFER_PTS (out), pts);
    gst_buffer_unref (out);
    EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr) << "cut at " << len;
  }
  EXPECT_EQ (stat (h->element, "truncated"), 8u);
  EXPECT_EQ (stat (h->element, "accepted"), 8u);
  EXPECT_EQ (stat (h->element, "bytes-accepted"), 8 * next.size ());
}

TEST (JpegValidate, OtherSizesAndSubsamplingsPass)
{
  struct
  {
    int width, height;
    const char *format;
  } cases[] = {
    { 320, 240, "I420" },
    { 1280, 720, "I420" },
    { 642, 482, "I420" },
    { 640, 480, "Y42B" },
    { 640, 480, "Y444" },
    { 640, 480, "GRAY8" },
    { 176, 144, "Y444" },
  };
  Harness h = validator ();
  g_object_set (h->element, "min-size", 0u, nullptr);
  for (const auto & c : cases) {
    crtest::JpegSpec spec;
    spec.width = c.width;
    spec.height = c.height;
    spec.format = c.format;
    const Bytes & frame = frames (spec).at (0);
    ASSERT_EQ (push (h.get (), frame), GST_FLOW_OK);
    EXPECT_EQ (try_pull (h.get ()), frame) << c.format << " " << c.width;

    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    gint width = 0, height = 0;
    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
    EXPECT_EQ (width, c.width);
    EXPECT_EQ (height, c.height);
  }
  EXPECT_EQ (stat (h->element, "rejected"), 0u);
}

TEST (JpegValidate, RepeatedFormatsKeepTheirCapsAcrossChanges)
{
  /* Frames of an unchanged format skip jpegparse's scan; every change of format must still
   * reach downstream as new caps, and every frame must come out whole and alone. */
  crtest::JpegSpec small, big, grey;
  small.width = 320, small.height = 240;
  big.width = 640, big.height = 480;
  grey.width = 320, grey.height = 240, grey.format = "GRAY8";
  const auto & a = frames (small, 5);
  const auto & b = frames (big, 2);
  const auto & g = frames (grey, 2);
  struct Step
  {
    const Bytes *frame;
    int width;
    const char *sampling;
  } steps[] = {
    { &a[0], 320, "YCbCr-4:2:0" },
    { &a[1], 320, "YCbCr-4:2:0" },
    { &a[2], 320, "YCbCr-4:2:0" },
    { &b[0], 640, "YCbCr-4:2:0" },
    { &b[1], 640, "YCbCr-4:2:0" },
    { &g[0], 320, "GRAYSCALE" },
    { &g[1], 320, "GRAYSCALE" },
    { &a[3], 320, "YCbCr-4:2:0" },
    { &a[4], 320, "YCbCr-4:2:0" },
  };
  Harness h = validator ();
  g_object_set (h->element, "min-size", 0u, nullptr);
  for (const auto & step : steps) {
    GstBuffer *in = crtest::buffer_from (*step.frame);
    GstMemory *mem = gst_buffer_peek_memory (in, 0);
    ASSERT_EQ (gst_harness_push (h.get (), in), GST_FLOW_OK);
    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr);
    EXPECT_EQ (gst_buffer_peek_memory (out, 0), mem) << "frame copied";
    EXPECT_EQ (crtest::bytes_of (out), *step.frame);
    gst_buffer_unref (out);
    EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr) << "more than one buffer for one frame";

    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (h->sinkpad);
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    gint width = 0;
    gst_structure_get_int (s, "width", &width);
    EXPECT_EQ (width, step.width);
    EXPECT_STREQ (gst_structure_get_string (s, "sampling"), step.sampling);
  }
}

TEST (JpegValidate, ProgressiveArithmeticAndRestartImagesPass)
{
  Harness h = validator ();
  g_object_set (h->element, "min-size", 0u, nullptr);
  for (const char *file : { "progressive-420.jpg", "progressive-grey.jpg", "arithmetic-420.jpg",
           "baseline-444-restart.jpg", "baseline-422.jpg" }) {
    const Bytes b = corpus_file (file);
    ASSERT_FALSE (b.empty ());
    ASSERT_EQ (push (h.get (), b), GST_FLOW_OK);
    EXPECT_EQ (try_pull (h.get ()), b) << file;
    EXPECT_TRUE (try_pull (h.get ()).empty ()) << file;
  }
}

TEST (JpegValidate, ElementMessageCarriesReasonDetailSizeAndCount)
{
  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  ASSERT_EQ (push (h.get (), png_like (12345)), GST_FLOW_OK);

  const std::vector<Rejection> got = rejections (bus.get ());
  ASSERT_EQ (got.size (), 1u);
  EXPECT_EQ (got[0].reason, "not-jpeg");
  EXPECT_EQ (got[0].detail, "no SOI marker at offset 0 (12345 bytes starting 89 50 4e 47)");
  EXPECT_EQ (got[0].size, 12345u);
  EXPECT_EQ (got[0].count, 1u);
  EXPECT_EQ (got[0].suppressed, 0u);
}

TEST (JpegValidate, MessagesAreRateLimitedPerReasonOncePerSecond)
{
  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  /* The rate limit runs on the element's clock: the harness's test clock. */
  g_autoptr (GstTestClock) clock = gst_harness_get_testclock (h.get ());
  g_autoptr (GstClock) element_clock = gst_element_get_clock (h->element);
  ASSERT_EQ (element_clock, GST_CLOCK (clock));

  const Bytes png = png_like (6000);
  const Bytes cut (vga ().begin (), vga ().begin () + 50000);

  for (int i = 0; i < 5; i++)
    push (h.get (), png);
  push (h.get (), cut); /* another reason: reported on its own */
  std::vector<Rejection> got = rejections (bus.get ());
  ASSERT_EQ (got.size (), 2u);
  EXPECT_EQ (got[0].reason, "not-jpeg");
  EXPECT_EQ (got[0].count, 1u);
  EXPECT_EQ (got[0].suppressed, 0u);
  EXPECT_EQ (got[1].reason, "truncated");

  gst_test_clock_advance_time (clock, GST_SECOND - GST_MSECOND);
  push (h.get (), png);
  EXPECT_TRUE (rejections (bus.get ()).empty ()) << "still within a second";

  gst_test_clock_advance_time (clock, GST_MSECOND);
  push (h.get (), png);
  got = rejections (bus.get ());
  ASSERT_EQ (got.size (), 1u);
  EXPECT_EQ (got[0].reason, "not-jpeg");
  EXPECT_EQ (got[0].count, 7u);
  EXPECT_EQ (got[0].suppressed, 5u);

  /* Every rejection is counted, reported or not. */
  EXPECT_EQ (stat (h->element, "not-jpeg"), 7u);
  EXPECT_EQ (stat (h->element, "truncated"), 1u);
}

TEST (JpegValidate, PropertiesTakeEffectOnTheNextFrame)
{
  Harness h = validator ();
  guint min_size = 0, max_size = 0, max_width = 0, max_height = 0;
  gboolean decode_check = TRUE;
  g_object_get (h->element, "min-size", &min_size, "max-size", &max_size, "max-width", &max_width,
      "max-height", &max_height, "decode-check", &decode_check, nullptr);
  EXPECT_EQ (min_size, 5001u);
  EXPECT_EQ (max_size, 4u * 1024 * 1024);
  EXPECT_EQ (max_width, 8192u);
  EXPECT_EQ (max_height, 8192u);
  EXPECT_FALSE (decode_check);

  g_object_set (h->element, "min-size", guint (vga ().size () + 1), nullptr);
  push (h.get (), vga ());
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  g_object_set (h->element, "min-size", 5001u, "max-width", 639u, nullptr);
  push (h.get (), vga ());
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  g_object_set (h->element, "max-width", 640u, "max-height", 479u, nullptr);
  push (h.get (), vga ());
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  g_object_set (h->element, "max-height", 480u, nullptr);
  push (h.get (), vga ());
  EXPECT_EQ (try_pull (h.get ()), vga ());

  EXPECT_EQ (stat (h->element, "too-small"), 1u);
  EXPECT_EQ (stat (h->element, "malformed"), 2u);
  EXPECT_EQ (stat (h->element, "accepted"), 1u);
}

TEST (JpegValidate, StatsStartFromZeroWhenTheElementRestarts)
{
  Harness h = validator ();
  push (h.get (), vga ());
  push (h.get (), png_like (6000));
  EXPECT_EQ (stat (h->element, "accepted"), 1u);
  EXPECT_EQ (stat (h->element, "bytes-accepted"), vga ().size ());
  EXPECT_EQ (stat (h->element, "not-jpeg"), 1u);

  gst_element_set_state (h->element, GST_STATE_READY);
  EXPECT_EQ (stat (h->element, "accepted"), 1u) << "kept until restart";
  gst_element_set_state (h->element, GST_STATE_PLAYING);
  EXPECT_EQ (stat (h->element, "accepted"), 0u);
  EXPECT_EQ (stat (h->element, "not-jpeg"), 0u);
  EXPECT_EQ (stat (h->element, "rejected"), 0u);
}

TEST (JpegValidate, DecodeCheckCatchesCorruptScansTheStructureHides)
{
  const Bytes flipped = with_corrupt_scan (vga (), 64);
  const Bytes short_scan = with_short_scan (vga ());
  ASSERT_NE (flipped, vga ());
  ASSERT_TRUE (check (flipped).ok ()) << check (flipped).detail;
  ASSERT_TRUE (check (short_scan).ok ()) << check (short_scan).detail;

  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  /* Without decode-check both go through. */
  push (h.get (), flipped);
  EXPECT_EQ (try_pull (h.get ()), flipped);
  push (h.get (), short_scan);
  EXPECT_EQ (try_pull (h.get ()), short_scan);

  g_object_set (h->element, "decode-check", TRUE, nullptr);
  push (h.get (), flipped);
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  push (h.get (), short_scan);
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  EXPECT_EQ (stat (h->element, "decode-failed"), 2u);

  const std::vector<Rejection> got = rejections (bus.get ());
  ASSERT_EQ (got.size (), 1u) << "second one is rate limited";
  EXPECT_EQ (got[0].reason, "decode-failed");
  EXPECT_NE (got[0].detail.find ("Corrupt JPEG data"), std::string::npos) << got[0].detail;

  /* A good frame after a failed decode still decodes: the decoder recovers. */
  push (h.get (), vga (1));
  EXPECT_EQ (try_pull (h.get ()), vga (1));
}

TEST (JpegValidate, DecodeCheckPassesValidImagesOfEveryKind)
{
  Harness h = validator ();
  g_object_set (h->element, "min-size", 0u, "decode-check", TRUE, nullptr);
  std::vector<Bytes> images = { vga (0), vga (2) };
  for (const char *format : { "Y42B", "Y444", "GRAY8" }) {
    crtest::JpegSpec spec;
    spec.format = format;
    images.push_back (frames (spec).at (0));
  }
  for (const char *file : { "progressive-420.jpg", "progressive-grey.jpg", "arithmetic-420.jpg",
           "baseline-444-restart.jpg" })
    images.push_back (corpus_file (file));

  for (const Bytes & b : images) {
    ASSERT_EQ (push (h.get (), b), GST_FLOW_OK);
    EXPECT_EQ (try_pull (h.get ()), b);
  }
  EXPECT_EQ (stat (h->element, "rejected"), 0u);
  EXPECT_EQ (stat (h->element, "accepted"), images.size ());
}

TEST (JpegValidate, BufferListsLoseOnlyTheirBadFrames)
{
  Harness h = validator ();
  GstBufferList *list = gst_buffer_list_new ();
  const Bytes in[] = { vga (0), png_like (6000), vga (1), vga (2) };
  const GstClockTime pts[] = { 1, 2, 3, 3 };
  for (int i = 0; i < 4; i++) {
    GstBuffer *buf = crtest::buffer_from (in[i]);
    GST_BUFFER_PTS (buf) = pts[i] * GST_SECOND;
    gst_buffer_list_add (list, buf);
  }
  ASSERT_EQ (gst_pad_push_list (h->srcpad, list), GST_FLOW_OK);

  for (int i : { 0, 2, 3 }) {
    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr);
    EXPECT_EQ (crtest::bytes_of (out), in[i]);
    EXPECT_EQ (GST_BUFFER_PTS (out), pts[i] * GST_SECOND);
    gst_buffer_unref (out);
  }
  EXPECT_TRUE (try_pull (h.get ()).empty ());

  GstBufferList *bad = gst_buffer_list_new ();
  gst_buffer_list_add (bad, crtest::buffer_from (png_like (6000)));
  ASSERT_EQ (gst_pad_push_list (h->srcpad, bad), GST_FLOW_OK);
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  EXPECT_EQ (stat (h->element, "not-jpeg"), 2u);
}

/* The contract with jpegparse, on thousands of damaged frames: whatever the
 * check accepts comes out whole and alone, whatever it rejects leaves no
 * trace, and jpegparse never fails the pipeline. */
TEST (JpegValidate, DamagedFramesNeverMergeOrStopThePipeline)
{
  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  g_object_set (h->element, "min-size", 0u, nullptr);
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240601);
  const std::vector<Bytes> originals = { small (), corpus_file ("progressive-420.jpg"),
    corpus_file ("baseline-444-restart.jpg") };
  const Bytes & good = corpus_file ("grey.jpg");
  guint accepted = 0;

  for (int i = 0; i < 3000; i++) {
    Bytes b = originals[i % originals.size ()];
    const int edits = g_rand_int_range (rand, 1, 4);
    for (int e = 0; e < edits && b.size () > 4; e++) {
      const gsize at = g_rand_int_range (rand, 0, b.size ());
      switch (g_rand_int_range (rand, 0, 5)) {
        case 0:
          b[at] = g_rand_int_range (rand, 0, 256);
          break;
        case 1:
          b[at] = 0xff;
          break;
        case 2:
          b.insert (b.begin () + at, { 0xff, guint8 (g_rand_int_range (rand, 0xc0, 0x100)) });
          break;
        case 3:
          b.resize (at);
          break;
        default: {
          const gsize end = at + g_rand_int_range (rand, 1, 64);
          b.erase (b.begin () + at, b.begin () + MIN (b.size (), end));
          break;
        }
      }
    }
    const bool ok = check (b).ok ();
    accepted += ok;

    ASSERT_EQ (push (h.get (), b), GST_FLOW_OK) << "iteration " << i;
    ASSERT_EQ (push (h.get (), good), GST_FLOW_OK) << "iteration " << i;
    if (ok) {
      ASSERT_EQ (try_pull (h.get ()), repaired (b, no_min ())) << "iteration " << i;
    }
    ASSERT_EQ (try_pull (h.get ()), good) << "iteration " << i;
    ASSERT_TRUE (try_pull (h.get ()).empty ()) << "iteration " << i;
  }
  /* Some damage is invisible to a structural check (pixels, APP data). */
  EXPECT_GT (accepted, 0u);
  EXPECT_EQ (gst_bus_pop_filtered (bus.get (), GST_MESSAGE_ERROR), nullptr);
}

/* ====================================================================== */
/* Frames of real cameras and encoders                                    */
/* ====================================================================== */

TEST (JpegValidate, PaddedFramesLeaveTrimmedInTheSameMemory)
{
  Harness h = validator ();
  const Bytes pi = with_tail (vga (0), { 0, 0, 0 });
  const Bytes esp32 = with_tail (vga (1), dma_tail (500));
  const Bytes arducam = with_tail (vga (2), Bytes (4096, 0));
  const Bytes *expected[] = { &vga (0), &vga (1), &vga (2) };
  /* The first goes through jpegparse, the others (same format) past it: both paths trim. */
  const Bytes *in[] = { &pi, &esp32, &arducam };
  for (int i = 0; i < 3; i++) {
    GstBuffer *buf = crtest::buffer_from (*in[i]);
    GST_BUFFER_PTS (buf) = i * GST_SECOND;
    GstMapInfo map;
    ASSERT_TRUE (gst_buffer_map (buf, &map, GST_MAP_READ));
    const guint8 *data = map.data;
    gst_buffer_unmap (buf, &map);
    ASSERT_EQ (gst_harness_push (h.get (), buf), GST_FLOW_OK);

    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr) << i;
    EXPECT_EQ (crtest::bytes_of (out), *expected[i]) << i;
    EXPECT_TRUE (same_memory (out, *in[i], data)) << "frame " << i << " was copied";
    EXPECT_EQ (GST_BUFFER_PTS (out), i * GST_SECOND);
    gst_buffer_unref (out);
    EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr) << "the padding came out on its own";
  }
  /* Nothing of the padding leaks into the next frame. */
  push (h.get (), vga (0));
  EXPECT_EQ (try_pull (h.get ()), vga (0));

  EXPECT_EQ (stat (h->element, "trimmed"), 3u);
  EXPECT_EQ (stat (h->element, "accepted"), 4u);
  EXPECT_EQ (stat (h->element, "rejected"), 0u);
  EXPECT_EQ (stat (h->element, "dht-inserted"), 0u);
  EXPECT_EQ (stat (h->element, "bytes-accepted"),
      2 * vga (0).size () + vga (1).size () + vga (2).size ())
      << "counts what is handed on";
}

TEST (JpegValidate, MergedFramesAndLongTailsAreRejected)
{
  Harness h = validator ();
  Bus bus = attach_bus (h.get ());
  push (h.get (), with_tail (vga (0), vga (1)));
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  push (h.get (), with_tail (vga (0), Bytes (4097, 0)));
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  push (h.get (), vga (2));
  EXPECT_EQ (try_pull (h.get ()), vga (2));
  EXPECT_TRUE (try_pull (h.get ()).empty ());

  EXPECT_EQ (stat (h->element, "merged"), 1u);
  EXPECT_EQ (stat (h->element, "malformed"), 1u);
  EXPECT_EQ (stat (h->element, "trimmed"), 0u);
  const std::vector<Rejection> got = rejections (bus.get ());
  ASSERT_EQ (got.size (), 2u);
  EXPECT_EQ (got[0].reason, "merged");
  EXPECT_NE (got[0].detail.find ("another image (SOI at offset"), std::string::npos)
      << got[0].detail;
  EXPECT_EQ (got[1].reason, "malformed");
}

/* UVC webcams send no DHT and rely on the tables of Annex K; Safari then paints nothing. */
TEST (JpegValidate, FramesWithoutHuffmanTablesGetTheStandardOnes)
{
  const Bytes & original = webcam ();
  const Bytes bare = crtest::without_huffman_tables (original);
  ASSERT_EQ (segment_at (bare, 0xc4), 0u);

  for (bool decode_check : { false, true }) {
    Harness h = validator ();
    g_object_set (h->element, "decode-check", gboolean (decode_check), nullptr);
    for (int i = 0; i < 3; i++) {
      /* The first through jpegparse, the next past it; the third with padding too. */
      const Bytes in = i == 2 ? with_tail (bare, { 0, 0, 0 }) : bare;
      ASSERT_EQ (push (h.get (), in, (i + 1) * GST_SECOND), GST_FLOW_OK);
      GstBuffer *out = gst_harness_try_pull (h.get ());
      ASSERT_NE (out, nullptr) << i;
      const Bytes got = crtest::bytes_of (out);
      EXPECT_EQ (GST_BUFFER_PTS (out), (i + 1) * GST_SECOND);
      gst_buffer_unref (out);
      EXPECT_EQ (gst_harness_try_pull (h.get ()), nullptr);

      /* The standard segment, right before the first SOS, everything else as it was. */
      const gsize sos = segment_at (bare, 0xda);
      gsize dht_size = 0;
      const guint8 *dht = cr::jpeg_standard_dht (&dht_size);
      ASSERT_EQ (got.size (), bare.size () + dht_size);
      EXPECT_EQ (Bytes (got.begin (), got.begin () + sos),
          Bytes (bare.begin (), bare.begin () + sos));
      EXPECT_EQ (Bytes (got.begin () + sos, got.begin () + sos + dht_size),
          Bytes (dht, dht + dht_size));
      EXPECT_EQ (Bytes (got.begin () + sos + dht_size, got.end ()),
          Bytes (bare.begin () + sos, bare.end ()));
      EXPECT_EQ (segment_at (got, 0xc4), sos);
      /* Decodes to exactly the picture the encoder made with its tables. */
      expect_same_pixels (got, original);
    }
    EXPECT_EQ (stat (h->element, "dht-inserted"), 3u);
    EXPECT_EQ (stat (h->element, "trimmed"), 1u);
    EXPECT_EQ (stat (h->element, "accepted"), 3u);
    EXPECT_EQ (stat (h->element, "rejected"), 0u);

    /* Frames with their tables pass as they are. */
    push (h.get (), original);
    EXPECT_EQ (try_pull (h.get ()), original);
    EXPECT_EQ (stat (h->element, "dht-inserted"), 3u);
  }
}

/* jpegenc writes the standard tables too: its frames, stripped as a webcam would send them, come
 * back as they decoded before, in 4:2:0, 4:2:2 and grey. */
TEST (JpegValidate, JpegencFramesWithoutTablesDecodeAsBefore)
{
  Harness h = validator ();
  g_object_set (h->element, "min-size", 0u, nullptr);
  for (const char *format : { "I420", "Y42B", "GRAY8" }) {
    crtest::JpegSpec spec;
    spec.width = 320;
    spec.height = 240;
    spec.format = format;
    const Bytes & original = frames (spec).at (0);
    const Bytes bare = crtest::without_huffman_tables (original);
    ASSERT_LT (bare.size (), original.size ()) << format;
    push (h.get (), bare);
    const Bytes got = try_pull (h.get ());
    ASSERT_FALSE (got.empty ()) << format;
    EXPECT_EQ (got, repaired (bare, no_min ())) << format;
    expect_same_pixels (got, original);
  }
  EXPECT_EQ (stat (h->element, "dht-inserted"), 3u);
}

TEST (JpegValidate, BufferListsGetTheirFramesMendedToo)
{
  Harness h = validator ();
  const Bytes bare = crtest::without_huffman_tables (webcam ());
  const Bytes in[] = { vga (0), with_tail (vga (1), { 0, 0, 0 }), png_like (6000), bare,
    with_tail (vga (0), vga (1)) };
  GstBufferList *list = gst_buffer_list_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (in); i++) {
    GstBuffer *buf = crtest::buffer_from (in[i]);
    GST_BUFFER_PTS (buf) = (i + 1) * GST_SECOND;
    gst_buffer_list_add (list, buf);
  }
  ASSERT_EQ (gst_pad_push_list (h->srcpad, list), GST_FLOW_OK);

  const Bytes want[] = { vga (0), vga (1), repaired (bare, no_min ()) };
  const GstClockTime pts[] = { 1, 2, 4 };
  for (int i = 0; i < 3; i++) {
    GstBuffer *out = gst_harness_try_pull (h.get ());
    ASSERT_NE (out, nullptr) << i;
    EXPECT_EQ (crtest::bytes_of (out), want[i]) << i;
    EXPECT_EQ (GST_BUFFER_PTS (out), pts[i] * GST_SECOND);
    gst_buffer_unref (out);
  }
  EXPECT_TRUE (try_pull (h.get ()).empty ());
  EXPECT_EQ (stat (h->element, "trimmed"), 1u);
  EXPECT_EQ (stat (h->element, "dht-inserted"), 1u);
  EXPECT_EQ (stat (h->element, "not-jpeg"), 1u);
  EXPECT_EQ (stat (h->element, "merged"), 1u);
}

/* Everything else real encoders produce passes byte-identical, in the same memory, and
 * decodes. */
void
expect_passes_untouched (GstHarness *h, const Bytes & b, const std::string & what)
{
  const cr::JpegCheckResult r = check (b);
  ASSERT_TRUE (r.ok ()) << what << ": " << r.detail;
  EXPECT_EQ (r.trailing, 0u) << what;
  EXPECT_EQ (r.dht_insert_at, 0u) << what;

  GstBuffer *buf = crtest::buffer_from (b);
  GstMapInfo map;
  ASSERT_TRUE (gst_buffer_map (buf, &map, GST_MAP_READ));
  const guint8 *data = map.data;
  gst_buffer_unmap (buf, &map);
  ASSERT_EQ (gst_harness_push (h, buf), GST_FLOW_OK) << what;
  GstBuffer *out = gst_harness_try_pull (h);
  ASSERT_NE (out, nullptr) << what << " was rejected";
  EXPECT_EQ (crtest::bytes_of (out), b) << what;
  EXPECT_TRUE (same_memory (out, b, data)) << what << " was copied";
  gst_buffer_unref (out);
  EXPECT_EQ (gst_harness_try_pull (h), nullptr) << what;

  std::vector<guint8> pixels;
  int w = 0, hgt = 0;
  std::string error;
  EXPECT_TRUE (crtest::decode_libjpeg (b, pixels, &w, &hgt, &error)) << what << ": " << error;
}

TEST (JpegValidate, LibjpegFramesOfEveryKindPassByteIdentical)
{
  struct Case
  {
    const char *what;
    crtest::LibjpegSpec spec;
  };
  std::vector<Case> cases;
  auto add = [&] (const char *what, auto edit) {
    crtest::LibjpegSpec spec;
    edit (spec);
    cases.push_back ({ what, spec });
  };
  add ("baseline 4:2:0", [] (auto &) {});
  add ("EXIF APP1 after APP0", [] (auto & s) { s.exif = true; });
  add ("EXIF APP1 and no APP0", [] (auto & s) {
    s.exif = true;
    s.jfif = false;
  });
  add ("no APP0 at all", [] (auto & s) { s.jfif = false; });
  add ("4:2:2", [] (auto & s) {
    s.h_samp = 2;
    s.v_samp = 1;
  });
  add ("4:4:4", [] (auto & s) {
    s.h_samp = 1;
    s.v_samp = 1;
  });
  add ("progressive", [] (auto & s) { s.progressive = true; });
  add ("progressive 4:2:2", [] (auto & s) {
    s.progressive = true;
    s.h_samp = 2;
    s.v_samp = 1;
  });
  add ("grey", [] (auto & s) {
    s.components = 1;
    s.h_samp = 1;
    s.v_samp = 1;
  });
  add ("progressive grey", [] (auto & s) {
    s.components = 1;
    s.h_samp = 1;
    s.v_samp = 1;
    s.progressive = true;
  });
  add ("restart every MCU", [] (auto & s) { s.restart_interval = 1; });
  add ("restart every 7 MCUs", [] (auto & s) { s.restart_interval = 7; });
  add ("optimised Huffman tables", [] (auto & s) { s.optimize = true; });
  add ("ICC profile of 150 KB in 3 APP2 segments", [] (auto & s) { s.icc_size = 150000; });
  add ("UXGA", [] (auto & s) {
    s.width = 1600;
    s.height = 1200;
    s.quality = 92;
  });

  Harness h = validator ();
  for (const auto & c : cases) {
    const Bytes & b = libjpeg (c.spec);
    expect_passes_untouched (h.get (), b, c.what);
  }
  /* The cases are what they say. */
  crtest::LibjpegSpec spec;
  spec.icc_size = 150000;
  EXPECT_EQ (count_segments (libjpeg (spec), 0xe2), 3u);
  spec = {};
  spec.restart_interval = 1;
  EXPECT_GT (count_markers (libjpeg (spec), 0xd0), 10u);
  spec = {};
  spec.width = 1600, spec.height = 1200, spec.quality = 92;
  EXPECT_GT (libjpeg (spec).size (), 300000u);
  spec = {};
  spec.jfif = false;
  EXPECT_EQ (count_segments (libjpeg (spec), 0xe0), 0u);
  spec.exif = true;
  EXPECT_EQ (libjpeg (spec)[3], 0xe1) << "APP1 right after SOI";

  EXPECT_EQ (stat (h->element, "accepted"), cases.size ());
  EXPECT_EQ (stat (h->element, "trimmed"), 0u);
  EXPECT_EQ (stat (h->element, "dht-inserted"), 0u);
}

TEST (JpegValidate, FillBytesBeforeMarkersPassByteIdentical)
{
  /* T.81 B.1.1.2: any marker may be preceded by FF fill bytes. */
  Bytes b = webcam ();
  for (guint8 marker : { 0xda, 0xc0, 0xdb }) {
    const gsize at = segment_at (b, marker);
    ASSERT_NE (at, 0u);
    b.insert (b.begin () + at, 3, 0xff);
  }
  b.insert (b.end () - 2, 2, 0xff);
  Harness h = validator ();
  expect_passes_untouched (h.get (), b, "fill bytes");

  /* And a frame without tables whose SOS has fill bytes before it keeps them. */
  Bytes bare = crtest::without_huffman_tables (webcam ());
  const gsize sos = segment_at (bare, 0xda);
  bare.insert (bare.begin () + sos, 2, 0xff);
  const cr::JpegCheckResult r = check (bare);
  ASSERT_TRUE (r.ok ()) << r.detail;
  EXPECT_EQ (r.dht_insert_at, sos + 2);
  const Bytes fixed = repaired (bare, no_min ());
  expect_same_pixels (fixed, webcam ());
}

/* Pillow, which many camera scripts and the legacy server use, writes its own variants:
 * EXIF, ICC profiles over 64 KB (several APP2 segments), 4:2:2, progressive, grey, optimised
 * tables, big frames. */
TEST (JpegValidate, PillowFramesPassByteIdentical)
{
  if (crtest::run ({ "/usr/bin/python3", "-c", "import PIL" }).code != 0)
    FAIL () << "Pillow (Debian package python3-pil) is not installed"
               " (tools/bootstrap --tests installs it)";
  crtest::TempDir dir;
  const char *script = R"(
import io, random, sys
from PIL import Image
out = sys.argv[1]
random.seed(7)
def picture(mode, w, h):
    im = Image.radial_gradient('L').resize((w, h)).convert(mode)
    noise = Image.effect_noise((w, h), 40).convert(mode)
    return Image.blend(im, noise, 0.5)
rgb = picture('RGB', 640, 480)
exif = Image.Exif()
exif[0x0110] = 'camrelay test camera'
exif[0x0112] = 1
icc = bytes(random.getrandbits(8) for _ in range(100000))
cases = {
  'exif': dict(image=rgb, exif=exif.tobytes()),
  'icc': dict(image=rgb, icc_profile=icc),
  '422': dict(image=rgb, subsampling=1),
  '444': dict(image=rgb, subsampling=0),
  'progressive': dict(image=rgb, progressive=True),
  'grey': dict(image=picture('L', 640, 480)),
  'optimize': dict(image=rgb, optimize=True),
  'uxga': dict(image=picture('RGB', 1600, 1200), quality=92),
}
for name, args in cases.items():
    im = args.pop('image')
    im.save(f'{out}/{name}.jpg', 'JPEG', **args)
)";
  crtest::RunResult res = crtest::run ({ "/usr/bin/python3", "-c", script, dir.path () });
  ASSERT_EQ (res.code, 0) << res.output;

  Harness h = validator ();
  for (const char *name :
      { "exif", "icc", "422", "444", "progressive", "grey", "optimize", "uxga" }) {
    const Bytes b = crtest::read_file (dir.file (std::string (name) + ".jpg"));
    ASSERT_FALSE (b.empty ()) << name;
    expect_passes_untouched (h.get (), b, std::string ("Pillow ") + name);
  }
  EXPECT_EQ (count_segments (crtest::read_file (dir.file ("icc.jpg")), 0xe2), 2u);
  EXPECT_EQ (count_segments (crtest::read_file (dir.file ("exif.jpg")), 0xe1), 1u);
  EXPECT_GT (crtest::read_file (dir.file ("uxga.jpg")).size (), 300000u);
}

/* Frames that repeat the format before them skip jpegparse's scan (see the element's docs); a
 * position query still answers the last frame passed, as jpegparse would had it scanned them. */
TEST (JpegValidate, PositionFollowsEveryFramePassed)
{
  Harness h = validator ();
  gst_harness_play (h.get ());
  for (int i = 0; i < 5; i++)
    ASSERT_EQ (push (h.get (), vga (i % 3), i * 200 * GST_MSECOND), GST_FLOW_OK);
  for (int i = 0; i < 5; i++)
    ASSERT_FALSE (try_pull (h.get ()).empty ());
  gint64 position = -1;
  ASSERT_TRUE (gst_element_query_position (h->element, GST_FORMAT_TIME, &position));
  EXPECT_EQ (position, 4 * 200 * GST_MSECOND);
}

/* Downstream sees the segments that came in (the harness's own, then this test's), no more,
 * however many frames skip jpegparse's scan. */
TEST (JpegValidate, SegmentsPassAsTheyCameForFramesOfOneFormat)
{
  Harness h = validator ();
  for (int i = 0; i < 2; i++)
    ASSERT_EQ (push (h.get (), vga (i % 3), i * 200 * GST_MSECOND), GST_FLOW_OK);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.base = 7 * GST_SECOND;
  gst_harness_push_event (h.get (), gst_event_new_segment (&segment));
  for (int i = 2; i < 5; i++)
    ASSERT_EQ (push (h.get (), vga (i % 3), i * 200 * GST_MSECOND), GST_FLOW_OK);
  int segments = 0;
  GstClockTime last_base = GST_CLOCK_TIME_NONE;
  while (GstEvent *event = gst_harness_try_pull_event (h.get ())) {
    if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
      const GstSegment *got = nullptr;
      gst_event_parse_segment (event, &got);
      last_base = got->base;
      segments++;
    }
    gst_event_unref (event);
  }
  EXPECT_EQ (segments, 2);
  EXPECT_EQ (last_base, 7 * GST_SECOND);
  for (int i = 0; i < 5; i++)
    EXPECT_FALSE (try_pull (h.get ()).empty ());
}
