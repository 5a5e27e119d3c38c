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
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
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

  /* Invariants: an accepted image starts with SOI, ends with EOI and has a
   * frame header within limits; a rejection always says why. */
  if (res.ok ()) {
    if (size < 4 || copy[0] != 0xff || copy[1] != 0xd8
        || copy[size - 2] != 0xff || copy[size - 1] != 0xd9)
      abort ();
    if (res.info.width == 0 || res.info.width > limits.max_width
        || res.info.height == 0 || res.info.height > limits.max_height
        || res.info.components < 1 || res.info.components > 4
        || res.info.scans < 1 || res.detail[0] != '\0')
      abort ();
  } else if (res.detail[0] == '\0'
      || strcmp (cr::jpeg_reject_nick (res.reason), "unknown") == 0) {
    abort ();
  }

  free (copy);
  return 0;
}
