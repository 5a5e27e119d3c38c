/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: structural check of one complete JPEG image in memory.
 *
 * jpeg_check() walks the marker segments of a buffer that is supposed to
 * hold exactly one JPEG (SOI ... EOI) and says whether it is safe to hand to
 * jpegparse and to a viewer, and which of two quirks of real cameras it has:
 * padding after EOI (the image is then the first image_size bytes) and no
 * Huffman tables (jpeg_write_repaired() puts the standard ones in). It
 * never allocates, never decodes, reads every byte at most a small constant
 * number of times and never reads outside
 * [data, data + size): it runs on every frame and is fuzzed with ASan.
 *
 * The walk follows the same segmentation rules as GStreamer 1.22's jpegparse
 * (gst_jpeg_parse() in codecparsers): whatever jpeg_check() accepts, jpegparse
 * splits at exactly the same EOI, so an accepted image (the buffer without
 * its padding) comes out of jpegparse whole and alone, and nothing that would make jpegparse post
 * an error (a second SOF, a frame header it cannot parse) gets through.
 *
 * GLib only: no GStreamer, so the fuzzer links just this file.
 */
#pragma once

#include <glib.h>

namespace cr {

enum class JpegReject : guint8
{
  None = 0,
  TooSmall,
  TooLarge,
  NotJpeg,
  Truncated,
  Malformed,
  /* Another image starts in the bytes after EOI: two frames in one
   * message. */
  Merged,
  /* Never returned by jpeg_check(): jpegvalidate's optional libjpeg decode
   * uses it, so that one enum indexes every per-reason counter. */
  DecodeFailed,
};

/* Number of JpegReject values including None. */
constexpr guint kJpegRejectCount = 8;

/* Most bytes after EOI that are taken for encoder padding and cut off.
 * Hardware encoders leave a few (Raspberry Pi: 3 zero bytes; ArduCAM:
 * zero padding) up to about 500 (esp32-camera's DMA tail). Much more than
 * that is no padding: an EOI that came too early (corrupt entropy-coded data
 * holding FF D9), or a stale frame buffer behind a short image, and the
 * picture a viewer would see is then not the one the camera meant. */
constexpr gsize kJpegMaxTrailingBytes = 4096;

struct JpegCheckLimits
{
  /* The legacy server ignored frames of 5000 bytes or less. */
  gsize min_size = 5001;
  /* 0 = no limit. */
  gsize max_size = 4 * 1024 * 1024;
  /* 0 = no limit. */
  guint max_width = 8192;
  guint max_height = 8192;
  /* Progressive JPEGs with thousands of scans make every decoder redo the
   * whole image per scan; libjpeg-turbo's TJFLAG_LIMITSCANS uses the same
   * bound. 0 = no limit. */
  guint max_scans = 500;
};

struct JpegInfo
{
  guint width = 0;
  guint height = 0;
  /* 0xc0 + n for SOFn. */
  guint8 sof_marker = 0;
  guint8 precision = 0;
  guint8 components = 0;
  bool progressive = false;
  bool arithmetic = false;
  guint scans = 0;
  /* FNV-1a over the segments from which jpegparse derives its caps (SOF, the JFIF APP0 and the
   * Adobe APP14): two frames with the same key get the same caps. */
  guint64 format_key = 0xcbf29ce484222325ull;
};

struct JpegCheckResult
{
  JpegReject reason = JpegReject::None;
  /* Filled in as far as the walk got. */
  JpegInfo info;
  /* Human-readable reason, e.g. "segment DQT (ffdb) at offset 20 claims 900
   * bytes, only 12 left"; empty when accepted. */
  char detail[128] = "";
  /* Bytes from SOI to EOI inclusive, and how many follow EOI (padding);
   * set when accepted. */
  gsize image_size = 0;
  gsize trailing = 0;
  /* Offset of the first SOS of an 8-bit baseline or extended Huffman frame
   * (SOF0/SOF1) that has no DHT before it: the frame relies on the tables of
   * T.81 Annex K, which some decoders (Safari's) do not assume; 0 if the
   * frame needs no tables inserted. */
  gsize dht_insert_at = 0;

  bool ok () const { return reason == JpegReject::None; }
};

JpegCheckResult jpeg_check (const guint8 *data, gsize size, const JpegCheckLimits & limits);

/* "too-small", "too-large", "not-jpeg", "truncated", "malformed", "merged",
 * "decode-failed"; "none" for JpegReject::None. */
const char *jpeg_reject_nick (JpegReject reason);

/* The DHT segment, marker included, that defines the four Huffman tables of
 * T.81 Annex K.3 (luminance and chrominance, DC and AC) as tables 0 and 1:
 * what libjpeg writes by default and what MJPEG decoders assume. */
const guint8 *jpeg_standard_dht (gsize *size);

/* The size of the image a viewer gets for an accepted frame: image_size,
 * plus the standard DHT segment when dht_insert_at is set. */
gsize jpeg_repaired_size (const JpegCheckResult & res);

/* Writes that image to @out (jpeg_repaired_size() bytes): SOI ... EOI of
 * @data, with the standard DHT segment right before the first SOS when the
 * frame has no tables. */
void jpeg_write_repaired (const guint8 *data, const JpegCheckResult & res, guint8 *out);

}  // namespace cr
