/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: structural check of one complete JPEG image in memory.
 *
 * The walk, in the terms of ITU-T T.81 (B.1.1):
 *   SOI, then marker segments (each FF xx + 16-bit length that counts
 *   itself), any number of FF fill bytes before a marker; after every SOS
 *   header comes entropy-coded data, in which FF 00 is a stuffed FF, FF D0..D7
 *   are restart markers and FF FF are fill bytes, up to the next real marker;
 *   the walk ends at EOI. What follows EOI is the encoder's padding, cut
 *   off, unless it is long or holds another SOI (see kJpegMaxTrailingBytes).
 *
 * Agreement with jpegparse (GStreamer 1.22, gst_jpeg_parse() and
 * gst_jpeg_parse_handle_frame()) is what makes "one buffer in, the same buffer
 * out" hold, so the rules mirror it:
 *   - jpegparse only sees FF followed by C0..FE as a marker; FF 01..FF BF do
 *     not end entropy-coded data here either.
 *   - jpegparse sizes SOF5-7, JPG, SOF13-15, DHP, EXP and JPGn by scanning for
 *     the next marker instead of reading their length, and treats every
 *     C0..CF marker other than DHT/DAC as a SOF: a second one makes it post
 *     an error and return GST_FLOW_ERROR, which would stop the pipeline.
 *     Those markers (hierarchical and reserved ones) and a second SOF are
 *     rejected as malformed. Baseline, extended, progressive, lossless and
 *     arithmetic SOFs (C0-C3, C9-CB) are length-coded and pass.
 *   - its frame header parser fails on more than 4 components, sampling
 *     factors above 4 and quantization table numbers above 3 (again a
 *     pipeline error), so those are malformed too.
 * Padding never reaches jpegparse (jpegvalidate hands on image_size bytes),
 * so it cannot end up in front of the next frame in jpegparse's adapter.
 * The remaining checks are what libjpeg (and so every browser) needs to
 * decode a frame at all: non-zero dimensions, component ids in a scan that
 * exist in the frame, at most 10 blocks per interleaved MCU, integral
 * sampling ratios, a sane progression.
 */
#include "jpegcheck.h"

#include <cstdarg>
#include <cstring>

namespace cr {
namespace {

enum : guint8
{
  SOF0 = 0xc0,
  SOF1 = 0xc1,
  SOF2 = 0xc2,
  SOF3 = 0xc3,
  DHT = 0xc4,
  SOF9 = 0xc9,
  SOF10 = 0xca,
  SOF11 = 0xcb,
  DAC = 0xcc,
  RST0 = 0xd0,
  RST7 = 0xd7,
  SOI = 0xd8,
  EOI = 0xd9,
  SOS = 0xda,
  DQT = 0xdb,
  DNL = 0xdc,
  DRI = 0xdd,
  APP0 = 0xe0,
  APP15 = 0xef,
  COM = 0xfe,
};

/* Most blocks one interleaved MCU may hold (T.81 B.2.3, libjpeg's
 * D_MAX_BLOCKS_IN_MCU). */
constexpr guint kMaxBlocksInMcu = 10;
constexpr guint kMaxComponents = 4;

const char *
marker_name (guint8 m)
{
  static const char *const c_names[16] = {
    "SOF0",
    "SOF1",
    "SOF2",
    "SOF3",
    "DHT",
    "SOF5",
    "SOF6",
    "SOF7",
    "JPG",
    "SOF9",
    "SOF10",
    "SOF11",
    "DAC",
    "SOF13",
    "SOF14",
    "SOF15",
  };
  static const char *const d_names[16] = {
    "RST0",
    "RST1",
    "RST2",
    "RST3",
    "RST4",
    "RST5",
    "RST6",
    "RST7",
    "SOI",
    "EOI",
    "SOS",
    "DQT",
    "DNL",
    "DRI",
    "DHP",
    "EXP",
  };
  static const char *const app_names[16] = {
    "APP0",
    "APP1",
    "APP2",
    "APP3",
    "APP4",
    "APP5",
    "APP6",
    "APP7",
    "APP8",
    "APP9",
    "APP10",
    "APP11",
    "APP12",
    "APP13",
    "APP14",
    "APP15",
  };

  switch (m >> 4) {
    case 0xc:
      return c_names[m & 0xf];
    case 0xd:
      return d_names[m & 0xf];
    case 0xe:
      return app_names[m & 0xf];
    case 0xf:
      return m == COM ? "COM" : "JPGn";
    default:
      return "invalid";
  }
}

bool
is_sof (guint8 m)
{
  return (m >= SOF0 && m <= SOF3) || (m >= SOF9 && m <= SOF11);
}

/* Markers that may start a segment between SOI and EOI (outside
 * entropy-coded data), all of them followed by a length. */
bool
is_segment_marker (guint8 m)
{
  return is_sof (m) || m == DHT || m == DAC || m == SOS || m == DQT || m == DNL || m == DRI ||
      (m >= APP0 && m <= APP15) || m == COM;
}

guint
read_be16 (const guint8 *p)
{
  return (guint (p[0]) << 8) | p[1];
}

class Walk
{
public:
  Walk (const guint8 *data, gsize size, const JpegCheckLimits & limits, JpegCheckResult & res)
    : data_ (data), size_ (size), limits_ (limits), res_ (res),
      ends_with_eoi_ (size >= 4 && data[size - 2] == 0xff && data[size - 1] == EOI)
  {}

  void run ();

private:
  bool reject (JpegReject reason, const char *format, ...) G_GNUC_PRINTF (3, 4);
  bool out_of_data (const char *format, ...) G_GNUC_PRINTF (2, 3);
  bool frame_header (gsize at, guint8 marker, const guint8 *body, guint len);
  void fold_format_key (guint8 marker, const guint8 *body, guint len);
  bool scan_header (gsize at, const guint8 *body, guint len);
  bool finish (gsize at, gsize end);
  gsize skip_entropy_coded_data (gsize pos) const;

  const guint8 *data_;
  const gsize size_;
  const JpegCheckLimits & limits_;
  JpegCheckResult & res_;
  /* Decides whether running out of data means "truncated" (the sender
   * stopped early) or "malformed" (a length field lies in a frame that
   * claims to be complete). */
  const bool ends_with_eoi_;
  bool seen_sof_ = false;
  bool seen_dht_ = false;
  guint8 comp_id_[kMaxComponents] = {};
  guint8 comp_h_[kMaxComponents] = {};
  guint8 comp_v_[kMaxComponents] = {};
};

bool
Walk::reject (JpegReject reason, const char *format, ...)
{
  va_list args;

  res_.reason = reason;
  va_start (args, format);
  g_vsnprintf (res_.detail, sizeof (res_.detail), format, args);
  va_end (args);
  return false;
}

bool
Walk::out_of_data (const char *format, ...)
{
  char what[sizeof (res_.detail)];
  va_list args;

  va_start (args, format);
  g_vsnprintf (what, sizeof (what), format, args);
  va_end (args);
  if (ends_with_eoi_)
    return reject (JpegReject::Malformed, "%s", what);
  return reject (JpegReject::Truncated, "no EOI at the end: %s", what);
}

void
Walk::fold_format_key (guint8 marker, const guint8 *body, guint len)
{
  guint64 h = res_.info.format_key;
  h = (h ^ marker) * 0x100000001b3ull;
  for (guint i = 0; i < len; i++)
    h = (h ^ body[i]) * 0x100000001b3ull;
  res_.info.format_key = h;
}

bool
Walk::frame_header (gsize at, guint8 marker, const guint8 *body, guint len)
{
  JpegInfo & info = res_.info;

  if (seen_sof_)
    return reject (JpegReject::Malformed, "second SOF (%s) at offset %" G_GSIZE_FORMAT,
        marker_name (marker), at);
  seen_sof_ = true;
  if (len < 6)
    return reject (JpegReject::Malformed,
        "%s at offset %" G_GSIZE_FORMAT " is %u bytes long, too short for a frame header",
        marker_name (marker), at, len + 2);

  info.sof_marker = marker;
  info.precision = body[0];
  info.height = read_be16 (body + 1);
  info.width = read_be16 (body + 3);
  info.components = body[5];
  info.progressive = marker == SOF2 || marker == SOF10;
  info.arithmetic = marker >= SOF9;

  const guint nf = info.components;
  if (nf < 1 || nf > kMaxComponents)
    return reject (JpegReject::Malformed,
        "%s at offset %" G_GSIZE_FORMAT " declares %u components, 1 to 4 are supported",
        marker_name (marker), at, nf);
  if (len != 6 + 3 * nf)
    return reject (JpegReject::Malformed,
        "%s at offset %" G_GSIZE_FORMAT " is %u bytes long, %u components need %u",
        marker_name (marker), at, len + 2, nf, 8 + 3 * nf);

  const bool lossless = marker == SOF3 || marker == SOF11;
  if (lossless ? (info.precision < 2 || info.precision > 16)
               : (info.precision != 8 && info.precision != 12))
    return reject (JpegReject::Malformed,
        "%s at offset %" G_GSIZE_FORMAT " has a sample precision of %u bits", marker_name (marker),
        at, info.precision);
  if (info.width == 0)
    return reject (JpegReject::Malformed, "zero width in %s at offset %" G_GSIZE_FORMAT,
        marker_name (marker), at);
  if (info.height == 0)
    return reject (JpegReject::Malformed,
        "zero height in %s at offset %" G_GSIZE_FORMAT
        " (a height set later by DNL is not supported)",
        marker_name (marker), at);
  if (limits_.max_width && info.width > limits_.max_width)
    return reject (JpegReject::Malformed, "width %u exceeds the limit of %u", info.width,
        limits_.max_width);
  if (limits_.max_height && info.height > limits_.max_height)
    return reject (JpegReject::Malformed, "height %u exceeds the limit of %u", info.height,
        limits_.max_height);

  guint max_h = 1, max_v = 1;
  for (guint i = 0; i < nf; i++) {
    const guint8 *c = body + 6 + 3 * i;
    const guint h = c[1] >> 4, v = c[1] & 0xf;

    if (h < 1 || h > 4 || v < 1 || v > 4)
      return reject (JpegReject::Malformed,
          "component %u has sampling "
          "factors %ux%u, 1 to 4 are allowed",
          c[0], h, v);
    if (c[2] > 3)
      return reject (JpegReject::Malformed,
          "component %u uses quantization "
          "table %u, 0 to 3 are allowed",
          c[0], c[2]);
    comp_id_[i] = c[0];
    comp_h_[i] = h;
    comp_v_[i] = v;
    max_h = MAX (max_h, h);
    max_v = MAX (max_v, v);
  }
  /* libjpeg cannot upsample e.g. 3x1 next to 2x1 (JERR_FRACT_SAMPLE_NOTIMPL) */
  for (guint i = 0; i < nf; i++) {
    if (max_h % comp_h_[i] || max_v % comp_v_[i])
      return reject (JpegReject::Malformed,
          "component %u sampling %ux%u "
          "does not divide the maximum %ux%u",
          comp_id_[i], comp_h_[i], comp_v_[i], max_h, max_v);
  }
  return true;
}

bool
Walk::scan_header (gsize at, const guint8 *body, guint len)
{
  JpegInfo & info = res_.info;

  if (!seen_sof_)
    return reject (JpegReject::Malformed, "SOS at offset %" G_GSIZE_FORMAT " before any SOF", at);
  info.scans++;
  if (limits_.max_scans && info.scans > limits_.max_scans)
    return reject (JpegReject::Malformed, "more than %u scans", limits_.max_scans);
  if (len < 1)
    return reject (JpegReject::Malformed, "empty SOS at offset %" G_GSIZE_FORMAT, at);

  const guint ns = body[0];
  if (ns < 1 || ns > info.components)
    return reject (JpegReject::Malformed,
        "SOS at offset %" G_GSIZE_FORMAT " has %u components, the frame has %u", at, ns,
        info.components);
  if (len != 4 + 2 * ns)
    return reject (JpegReject::Malformed,
        "SOS at offset %" G_GSIZE_FORMAT " is %u bytes long, %u components need %u", at, len + 2,
        ns, 6 + 2 * ns);

  guint used = 0, blocks = 0;
  for (guint i = 0; i < ns; i++) {
    const guint8 id = body[1 + 2 * i], tables = body[2 + 2 * i];
    guint k = 0;

    while (k < info.components && comp_id_[k] != id)
      k++;
    if (k == info.components)
      return reject (JpegReject::Malformed,
          "SOS at offset %" G_GSIZE_FORMAT " names component %u, which the frame does not have", at,
          id);
    if (used & (1u << k))
      return reject (JpegReject::Malformed,
          "SOS at offset %" G_GSIZE_FORMAT " names component %u twice", at, id);
    if ((tables >> 4) > 3 || (tables & 0xf) > 3)
      return reject (JpegReject::Malformed,
          "SOS at offset %" G_GSIZE_FORMAT " selects entropy tables %u/%u, 0 to 3 are allowed", at,
          tables >> 4, tables & 0xf);
    used |= 1u << k;
    blocks += comp_h_[k] * comp_v_[k];
  }
  if (ns > 1 && blocks > kMaxBlocksInMcu)
    return reject (JpegReject::Malformed,
        "SOS at offset %" G_GSIZE_FORMAT " interleaves %u blocks per MCU, at most %u are allowed",
        at, blocks, kMaxBlocksInMcu);

  if (info.progressive) {
    const guint ss = body[1 + 2 * ns], se = body[2 + 2 * ns];
    const guint ah = body[3 + 2 * ns] >> 4, al = body[3 + 2 * ns] & 0xf;
    const bool dc = ss == 0;
    /* The rules libjpeg enforces with JERR_BAD_PROGRESSION (T.81 G.1.1.1) */
    const bool bad =
        (dc ? se != 0 : (se < ss || se > 63 || ns != 1)) || (ah != 0 && al != ah - 1) || al > 13;
    if (bad)
      return reject (JpegReject::Malformed,
          "SOS at offset %" G_GSIZE_FORMAT " has an invalid progression (Ss=%u Se=%u Ah=%u Al=%u)",
          at, ss, se, ah, al);
  }
  return true;
}

bool
Walk::finish (gsize at, gsize end)
{
  if (!seen_sof_)
    return reject (JpegReject::Malformed, "no SOF before EOI at offset %" G_GSIZE_FORMAT, at);
  if (res_.info.scans == 0)
    return reject (JpegReject::Malformed, "no SOS before EOI at offset %" G_GSIZE_FORMAT, at);

  const gsize trailing = size_ - end;
  /* Encoders pad with anything (zeros, a stale DMA tail), but a complete image always starts
   * FF D8 FF; entropy-coded data, which is what a stale tail holds, never contains FF D8. */
  for (gsize i = end; trailing >= 3 && i <= size_ - 3; i++) {
    const void *ff = memchr (data_ + i, 0xff, size_ - 2 - i);
    if (!ff)
      break;
    i = static_cast<const guint8 *> (ff) - data_;
    if (data_[i + 1] == SOI && data_[i + 2] == 0xff)
      return reject (JpegReject::Merged,
          "another image (SOI at offset %" G_GSIZE_FORMAT ") after EOI at offset %" G_GSIZE_FORMAT,
          i, at);
  }
  if (trailing > kJpegMaxTrailingBytes)
    return reject (JpegReject::Malformed,
        "%" G_GSIZE_FORMAT " bytes after "
        "EOI at offset %" G_GSIZE_FORMAT ", more than the %" G_GSIZE_FORMAT " of padding accepted",
        trailing, at, kJpegMaxTrailingBytes);
  res_.image_size = end;
  res_.trailing = trailing;
  return true;
}

/* Returns the offset of the FF that starts the next marker other than RSTn,
 * or size_ if the data ends first. memchr() keeps this at memory speed:
 * entropy-coded data is nearly all of a frame. */
gsize
Walk::skip_entropy_coded_data (gsize pos) const
{
  while (pos < size_) {
    const void *ff = memchr (data_ + pos, 0xff, size_ - pos);
    if (!ff)
      return size_;

    gsize i = static_cast<const guint8 *> (ff) - data_;
    while (i + 1 < size_ && data_[i + 1] == 0xff)
      i++;
    if (i + 1 >= size_)
      return size_;

    const guint8 next = data_[i + 1];
    /* FF 00 is a stuffed FF; jpegparse treats no byte below C0 as a marker */
    if (next < 0xc0 || (next >= RST0 && next <= RST7)) {
      pos = i + 2;
      continue;
    }
    return i;
  }
  return size_;
}

void
Walk::run ()
{
  gsize pos = 2;

  for (;;) {
    if (pos >= size_) {
      out_of_data ("data ends at offset %" G_GSIZE_FORMAT " where a marker should follow", pos);
      return;
    }
    if (data_[pos] != 0xff) {
      reject (JpegReject::Malformed,
          "expected a marker at offset %" G_GSIZE_FORMAT ", found 0x%02x", pos, data_[pos]);
      return;
    }
    while (pos + 1 < size_ && data_[pos + 1] == 0xff)
      pos++;
    if (pos + 1 >= size_) {
      out_of_data ("data ends inside a marker at offset %" G_GSIZE_FORMAT, pos);
      return;
    }

    const gsize at = pos;
    const guint8 marker = data_[pos + 1];
    pos += 2;

    if (marker == EOI) {
      finish (at, pos);
      return;
    }
    if (!is_segment_marker (marker)) {
      reject (JpegReject::Malformed, "unexpected marker %s (ff%02x) at offset %" G_GSIZE_FORMAT,
          marker_name (marker), marker, at);
      return;
    }
    if (size_ - pos < 2) {
      out_of_data ("data ends inside the length of %s (ff%02x) at offset %" G_GSIZE_FORMAT,
          marker_name (marker), marker, at);
      return;
    }

    const guint len = read_be16 (data_ + pos);
    if (len < 2) {
      reject (JpegReject::Malformed,
          "segment %s (ff%02x) at offset %" G_GSIZE_FORMAT " has an invalid length of %u",
          marker_name (marker), marker, at, len);
      return;
    }
    if (len > size_ - pos) {
      out_of_data ("segment %s (ff%02x) at offset %" G_GSIZE_FORMAT
                   " claims %u bytes, only %" G_GSIZE_FORMAT " left",
          marker_name (marker), marker, at, len, size_ - pos);
      return;
    }

    const guint8 *body = data_ + pos + 2;
    const guint body_len = len - 2;
    pos += len;

    if (is_sof (marker) || marker == APP0 || marker == APP0 + 14)
      fold_format_key (marker, body, body_len);
    if (is_sof (marker)) {
      if (!frame_header (at, marker, body, body_len))
        return;
    } else if (marker == SOS) {
      if (!scan_header (at, body, body_len))
        return;
      /* A 12-bit frame needs DC tables beyond Annex K's: it is left as it is. */
      const JpegInfo & info = res_.info;
      if (info.scans == 1 && !seen_dht_ && info.precision == 8 &&
          (info.sof_marker == SOF0 || info.sof_marker == SOF1))
        res_.dht_insert_at = at;
      pos = skip_entropy_coded_data (pos);
      if (pos >= size_) {
        out_of_data ("data ends inside scan %u (SOS at offset %" G_GSIZE_FORMAT ")",
            res_.info.scans, at);
        return;
      }
    } else if (marker == DHT) {
      seen_dht_ = true;
    } else if (marker == DRI && body_len != 2) {
      /* libjpeg fails on any other length (JERR_BAD_LENGTH) */
      reject (JpegReject::Malformed,
          "DRI at offset %" G_GSIZE_FORMAT " is %u bytes long instead of 4", at, len);
      return;
    }
  }
}

}  // namespace

JpegCheckResult
jpeg_check (const guint8 *data, gsize size, const JpegCheckLimits & limits)
{
  JpegCheckResult res;

  if (size < limits.min_size) {
    res.reason = JpegReject::TooSmall;
    g_snprintf (res.detail, sizeof (res.detail),
        "%" G_GSIZE_FORMAT " bytes, the minimum is %" G_GSIZE_FORMAT, size, limits.min_size);
    return res;
  }
  if (limits.max_size && size > limits.max_size) {
    res.reason = JpegReject::TooLarge;
    g_snprintf (res.detail, sizeof (res.detail),
        "%" G_GSIZE_FORMAT " bytes, the maximum is %" G_GSIZE_FORMAT, size, limits.max_size);
    return res;
  }
  if (size < 2 || data[0] != 0xff || data[1] != SOI) {
    guint8 head[4] = {};
    if (size > 0)
      memcpy (head, data, MIN (size, sizeof (head)));
    res.reason = JpegReject::NotJpeg;
    g_snprintf (res.detail, sizeof (res.detail),
        "no SOI marker at offset 0 "
        "(%" G_GSIZE_FORMAT " bytes starting %02x %02x %02x %02x)",
        size, head[0], head[1], head[2], head[3]);
    return res;
  }

  Walk (data, size, limits, res).run ();
  return res;
}

const char *
jpeg_reject_nick (JpegReject reason)
{
  switch (reason) {
    case JpegReject::None:
      return "none";
    case JpegReject::TooSmall:
      return "too-small";
    case JpegReject::TooLarge:
      return "too-large";
    case JpegReject::NotJpeg:
      return "not-jpeg";
    case JpegReject::Truncated:
      return "truncated";
    case JpegReject::Malformed:
      return "malformed";
    case JpegReject::Merged:
      return "merged";
    case JpegReject::DecodeFailed:
      return "decode-failed";
  }
  return "unknown";
}

namespace {

/* T.81 Annex K.3, tables K.3 to K.6: per table the class and id byte
 * (Tc << 4 | Th), the number of codes of each length 1..16, the values. */
const guint8 kStandardDht[] = {
  0xff,
  DHT,
  0x01,
  0xa2,
  /* DC luminance */
  0x00,
  0x00,
  0x01,
  0x05,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x06,
  0x07,
  0x08,
  0x09,
  0x0a,
  0x0b,
  /* AC luminance */
  0x10,
  0x00,
  0x02,
  0x01,
  0x03,
  0x03,
  0x02,
  0x04,
  0x03,
  0x05,
  0x05,
  0x04,
  0x04,
  0x00,
  0x00,
  0x01,
  0x7d,
  0x01,
  0x02,
  0x03,
  0x00,
  0x04,
  0x11,
  0x05,
  0x12,
  0x21,
  0x31,
  0x41,
  0x06,
  0x13,
  0x51,
  0x61,
  0x07,
  0x22,
  0x71,
  0x14,
  0x32,
  0x81,
  0x91,
  0xa1,
  0x08,
  0x23,
  0x42,
  0xb1,
  0xc1,
  0x15,
  0x52,
  0xd1,
  0xf0,
  0x24,
  0x33,
  0x62,
  0x72,
  0x82,
  0x09,
  0x0a,
  0x16,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x25,
  0x26,
  0x27,
  0x28,
  0x29,
  0x2a,
  0x34,
  0x35,
  0x36,
  0x37,
  0x38,
  0x39,
  0x3a,
  0x43,
  0x44,
  0x45,
  0x46,
  0x47,
  0x48,
  0x49,
  0x4a,
  0x53,
  0x54,
  0x55,
  0x56,
  0x57,
  0x58,
  0x59,
  0x5a,
  0x63,
  0x64,
  0x65,
  0x66,
  0x67,
  0x68,
  0x69,
  0x6a,
  0x73,
  0x74,
  0x75,
  0x76,
  0x77,
  0x78,
  0x79,
  0x7a,
  0x83,
  0x84,
  0x85,
  0x86,
  0x87,
  0x88,
  0x89,
  0x8a,
  0x92,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
  0x99,
  0x9a,
  0xa2,
  0xa3,
  0xa4,
  0xa5,
  0xa6,
  0xa7,
  0xa8,
  0xa9,
  0xaa,
  0xb2,
  0xb3,
  0xb4,
  0xb5,
  0xb6,
  0xb7,
  0xb8,
  0xb9,
  0xba,
  0xc2,
  0xc3,
  0xc4,
  0xc5,
  0xc6,
  0xc7,
  0xc8,
  0xc9,
  0xca,
  0xd2,
  0xd3,
  0xd4,
  0xd5,
  0xd6,
  0xd7,
  0xd8,
  0xd9,
  0xda,
  0xe1,
  0xe2,
  0xe3,
  0xe4,
  0xe5,
  0xe6,
  0xe7,
  0xe8,
  0xe9,
  0xea,
  0xf1,
  0xf2,
  0xf3,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfa,
  /* DC chrominance */
  0x01,
  0x00,
  0x03,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x01,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x06,
  0x07,
  0x08,
  0x09,
  0x0a,
  0x0b,
  /* AC chrominance */
  0x11,
  0x00,
  0x02,
  0x01,
  0x02,
  0x04,
  0x04,
  0x03,
  0x04,
  0x07,
  0x05,
  0x04,
  0x04,
  0x00,
  0x01,
  0x02,
  0x77,
  0x00,
  0x01,
  0x02,
  0x03,
  0x11,
  0x04,
  0x05,
  0x21,
  0x31,
  0x06,
  0x12,
  0x41,
  0x51,
  0x07,
  0x61,
  0x71,
  0x13,
  0x22,
  0x32,
  0x81,
  0x08,
  0x14,
  0x42,
  0x91,
  0xa1,
  0xb1,
  0xc1,
  0x09,
  0x23,
  0x33,
  0x52,
  0xf0,
  0x15,
  0x62,
  0x72,
  0xd1,
  0x0a,
  0x16,
  0x24,
  0x34,
  0xe1,
  0x25,
  0xf1,
  0x17,
  0x18,
  0x19,
  0x1a,
  0x26,
  0x27,
  0x28,
  0x29,
  0x2a,
  0x35,
  0x36,
  0x37,
  0x38,
  0x39,
  0x3a,
  0x43,
  0x44,
  0x45,
  0x46,
  0x47,
  0x48,
  0x49,
  0x4a,
  0x53,
  0x54,
  0x55,
  0x56,
  0x57,
  0x58,
  0x59,
  0x5a,
  0x63,
  0x64,
  0x65,
  0x66,
  0x67,
  0x68,
  0x69,
  0x6a,
  0x73,
  0x74,
  0x75,
  0x76,
  0x77,
  0x78,
  0x79,
  0x7a,
  0x82,
  0x83,
  0x84,
  0x85,
  0x86,
  0x87,
  0x88,
  0x89,
  0x8a,
  0x92,
  0x93,
  0x94,
  0x95,
  0x96,
  0x97,
  0x98,
  0x99,
  0x9a,
  0xa2,
  0xa3,
  0xa4,
  0xa5,
  0xa6,
  0xa7,
  0xa8,
  0xa9,
  0xaa,
  0xb2,
  0xb3,
  0xb4,
  0xb5,
  0xb6,
  0xb7,
  0xb8,
  0xb9,
  0xba,
  0xc2,
  0xc3,
  0xc4,
  0xc5,
  0xc6,
  0xc7,
  0xc8,
  0xc9,
  0xca,
  0xd2,
  0xd3,
  0xd4,
  0xd5,
  0xd6,
  0xd7,
  0xd8,
  0xd9,
  0xda,
  0xe2,
  0xe3,
  0xe4,
  0xe5,
  0xe6,
  0xe7,
  0xe8,
  0xe9,
  0xea,
  0xf2,
  0xf3,
  0xf4,
  0xf5,
  0xf6,
  0xf7,
  0xf8,
  0xf9,
  0xfa,
};

/* The length field counts everything after the marker. */
static_assert (sizeof (kStandardDht) == 2 + 0x01a2, "DHT length field");

}  // namespace

const guint8 *
jpeg_standard_dht (gsize *size)
{
  *size = sizeof (kStandardDht);
  return kStandardDht;
}

gsize
jpeg_repaired_size (const JpegCheckResult & res)
{
  return res.image_size + (res.dht_insert_at ? sizeof (kStandardDht) : 0);
}

void
jpeg_write_repaired (const guint8 *data, const JpegCheckResult & res, guint8 *out)
{
  if (!res.dht_insert_at) {
    memcpy (out, data, res.image_size);
    return;
  }
  const gsize at = res.dht_insert_at;
  memcpy (out, data, at);
  memcpy (out + at, kStandardDht, sizeof (kStandardDht));
  memcpy (out + at + sizeof (kStandardDht), data + at, res.image_size - at);
}

}  // namespace cr
