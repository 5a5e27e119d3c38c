/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for cr::jpeg_check(): it must never read outside the
 * input, whatever the bytes, and its verdict must be self-consistent.
 *
 *   clang++ -g -O1 -fsanitize=fuzzer,address,undefined -std=c++17 \
 *     $(pkg-config --cflags glib-2.0) -Iplugins tests/fuzz/fuzz_jpegcheck.cpp \
 *     plugins/jpegcheck.cpp $(pkg-config --libs glib-2.0) -o fuzz_jpegcheck
 *   cp -r tests/fuzz/corpus/jpegcheck /tmp/corpus && ./fuzz_jpegcheck /tmp/corpus
 */
#include "jpegcheck.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cr::JpegCheckLimits limits;
  limits.min_size = 0;
  limits.max_size = 1024 * 1024;
  limits.max_width = 4096;
  limits.max_height = 4096;
  limits.max_scans = 64;

  /* A copy of exactly @size bytes on the heap, so that ASan sees any read past
   * the end (libFuzzer's own buffer is already exact; this keeps it so for
   * size 0 too, where @data may be a dangling non-null pointer). */
  uint8_t *copy = static_cast<uint8_t *> (malloc (size ? size : 1));
  if (size)
    memcpy (copy, data, size);

  const cr::JpegCheckResult res = cr::jpeg_check (copy, size, limits);

  /* Invariants: an accepted image starts with SOI, ends with EOI (followed by
   * at most kJpegMaxTrailingBytes of padding that holds no SOI) and has a
   * frame header within limits; a rejection always says why. */
  if (res.ok ()) {
    const gsize end = res.image_size;
    if (end < 4 || end > size || end + res.trailing != size ||
        res.trailing > cr::kJpegMaxTrailingBytes || copy[0] != 0xff || copy[1] != 0xd8 ||
        copy[end - 2] != 0xff || copy[end - 1] != 0xd9)
      abort ();
    for (gsize i = end; i + 2 < size; i++) {
      if (copy[i] == 0xff && copy[i + 1] == 0xd8 && copy[i + 2] == 0xff)
        abort ();
    }
    if (res.info.width == 0 || res.info.width > limits.max_width || res.info.height == 0 ||
        res.info.height > limits.max_height || res.info.components < 1 || res.info.components > 4 ||
        res.info.scans < 1 || res.detail[0] != '\0')
      abort ();
    /* What a viewer gets checks out the same, with nothing left to mend. */
    if (res.dht_insert_at &&
        (res.dht_insert_at >= end || copy[res.dht_insert_at] != 0xff ||
            copy[res.dht_insert_at + 1] != 0xda))
      abort ();
    const gsize out_size = cr::jpeg_repaired_size (res);
    uint8_t *out = static_cast<uint8_t *> (malloc (out_size));
    cr::jpeg_write_repaired (copy, res, out);
    cr::JpegCheckLimits out_limits = limits;
    out_limits.max_size = 0;
    const cr::JpegCheckResult again = cr::jpeg_check (out, out_size, out_limits);
    if (!again.ok () || again.image_size != out_size || again.trailing != 0 ||
        again.dht_insert_at != 0 || again.info.format_key != res.info.format_key ||
        again.info.scans != res.info.scans)
      abort ();
    free (out);
  } else if (res.detail[0] == '\0' || strcmp (cr::jpeg_reject_nick (res.reason), "unknown") == 0) {
    abort ();
  }

  free (copy);
  return 0;
}
