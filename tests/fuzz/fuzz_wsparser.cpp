/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the camera ingest path: cr::WsParser, the RFC 6455 frame parser that reads
 * every byte a camera sends. Whatever arrives, it must not read or write out of bounds, must keep
 * its limits, and must stay failed once it has failed.
 *
 * The first input byte picks how the rest is cut into reads, so both of the parser's windows
 * (the staging area and the direct payload window) get exercised with arbitrary boundaries.
 */
#include "crws.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

struct Sink : cr::WsParserEvents
{
  guint64 max_binary = 0;
  void ws_binary (GBytes *m) override
  {
    if (g_bytes_get_size (m) > max_binary)
      abort ();
    g_bytes_unref (m);
  }
  void ws_text (const char *t, gsize n) override
  {
    if (!g_utf8_validate_len (t, n, nullptr))
      abort ();
  }
  void ws_ping (const guint8 *, gsize n) override
  {
    if (n > 125)
      abort ();
  }
  void ws_pong (const guint8 *, gsize n) override
  {
    if (n > 125)
      abort ();
  }
  void ws_close (guint16, const std::string &) override {}
};

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  cr::WsLimits limits;
  limits.max_binary = 64 * 1024;
  limits.max_text = 1024;
  Sink sink;
  sink.max_binary = limits.max_binary;
  cr::WsParser parser (sink, limits);

  size_t chunk = 1 + data[0] % 97;
  data++;
  size--;
  bool ok = true;
  while (size > 0) {
    guint8 *window;
    gsize room;
    parser.write_window (&window, &room);
    if (room == 0)
      abort ();
    size_t n = size < chunk ? size : chunk;
    if (n > room)
      n = room;
    memcpy (window, data, n);
    bool r = parser.commit (n);
    if (!ok && r)
      abort (); /* a failed parser must stay failed */
    ok = r;
    if (!ok && parser.error_code () == 0)
      abort ();
    data += n;
    size -= n;
    if (parser.pending_message_bytes () > limits.max_binary)
      abort ();
  }
  return 0;
}
