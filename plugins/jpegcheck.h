/* camrelay: structural check of one complete JPEG image in memory.
 *
 * jpeg_check() walks the marker segments of a buffer that is supposed to
 * hold exactly one JPEG (SOI ... EOI) and says whether it is safe to hand to
 * jpegparse and to a viewer. It never allocates, never decodes, reads every
 * byte at most a small constant number of times and never reads outside
 * [data, data + size): it runs on every frame and is fuzzed with ASan.
 *
 * The walk follows the same segmentation rules as GStreamer 1.22's jpegparse
 * (gst_jpeg_parse() in codecparsers): whatever jpeg_check() accepts, jpegparse
 * splits at exactly the same EOI, so an accepted buffer comes out of jpegparse
 * whole and alone, and nothing that would make jpegparse post an error
 * (a second SOF, a frame header it cannot parse) gets through.
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
  /* Never returned by jpeg_check(): jpegvalidate's optional libjpeg decode
   * uses it, so that one enum indexes every per-reason counter. */
  DecodeFailed,
};

/* Number of JpegReject values including None. */
constexpr guint kJpegRejectCount = 7;

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
};

struct JpegCheckResult
{
  JpegReject reason = JpegReject::None;
  /* Filled in as far as the walk got. */
  JpegInfo info;
  /* Human-readable reason, e.g. "segment DQT (ffdb) at offset 20 claims 900
   * bytes, only 12 left"; empty when accepted. */
  char detail[128] = "";

  bool ok () const { return reason == JpegReject::None; }
};

JpegCheckResult jpeg_check (const guint8 * data, gsize size,
    const JpegCheckLimits & limits);

/* "too-small", "too-large", "not-jpeg", "truncated", "malformed",
 * "decode-failed"; "none" for JpegReject::None. */
const char *jpeg_reject_nick (JpegReject reason);

}  // namespace cr
