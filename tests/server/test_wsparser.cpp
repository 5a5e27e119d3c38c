/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 6455 frame parser, without sockets. */
#include "crws.h"
#include "netclient.h"

#include <gtest/gtest.h>

using crtest::Bytes;

namespace {

struct Events : cr::WsParserEvents
{
  void ws_binary (GBytes *m) override
  {
    gsize n;
    auto *d = static_cast<const guint8 *> (g_bytes_get_data (m, &n));
    binary.emplace_back (d, d + n);
    g_bytes_unref (m);
  }
  void ws_text (const char *t, gsize n) override { text.emplace_back (t, n); }
  void ws_ping (const guint8 *p, gsize n) override { pings.emplace_back (p, p + n); }
  void ws_pong (const guint8 *, gsize) override { pongs++; }
  void ws_close (guint16 code, const std::string & reason) override
  {
    close_code = code;
    close_reason = reason;
  }
  std::vector<Bytes> binary, pings;
  std::vector<std::string> text;
  int pongs = 0;
  int close_code = 0;
  std::string close_reason;
};

Bytes
frame (guint8 op, const Bytes & payload, bool fin = true)
{
  return crtest::ws_client_frame (op, payload.data (), payload.size (), fin);
}

Bytes
pattern (gsize n)
{
  Bytes b (n);
  for (gsize i = 0; i < n; i++)
    b[i] = static_cast<guint8> (i * 7 + 3);
  return b;
}

TEST (WsParser, AllThreeLengthEncodings)
{
  Events ev;
  cr::WsParser p (ev, {});
  Bytes a = pattern (125), b = pattern (126), c = pattern (65535), d = pattern (65536);
  for (const auto & x : { a, b, c, d })
    ASSERT_TRUE (p.feed (frame (2, x).data (), frame (2, x).size ()));
  ASSERT_EQ (ev.binary.size (), 4u);
  EXPECT_EQ (ev.binary[0], a);
  EXPECT_EQ (ev.binary[1], b);
  EXPECT_EQ (ev.binary[2], c);
  EXPECT_EQ (ev.binary[3], d);
}

/* Unmasking goes sixteen bytes a step with a byte loop for the rest: every length around those
 * steps comes out as it was sent. */
TEST (WsParser, EveryPayloadLengthIsUnmasked)
{
  Events ev;
  cr::WsParser p (ev, {});
  std::vector<Bytes> sent;
  for (gsize n = 1; n <= 100; n++)
    sent.push_back (pattern (n));
  sent.push_back (pattern (30001));
  for (const auto & x : sent) {
    Bytes f = frame (2, x);
    ASSERT_TRUE (p.feed (f.data (), f.size ()));
  }
  ASSERT_EQ (ev.binary, sent);
}

TEST (WsParser, ByteAtATimeGivesTheSameMessages)
{
  Events bulk_ev, drip_ev;
  cr::WsParser bulk (bulk_ev, {}), drip (drip_ev, {});
  Bytes stream;
  for (gsize n : { 0, 1, 5000, 70000, 3 }) {
    Bytes f = frame (2, pattern (n));
    stream.insert (stream.end (), f.begin (), f.end ());
  }
  Bytes ping = frame (9, { 1, 2, 3 });
  stream.insert (stream.end (), ping.begin (), ping.end ());
  ASSERT_TRUE (bulk.feed (stream.data (), stream.size ()));
  for (guint8 byte : stream)
    ASSERT_TRUE (drip.feed (&byte, 1));
  EXPECT_EQ (bulk_ev.binary, drip_ev.binary);
  EXPECT_EQ (drip_ev.binary.size (), 5u);
  EXPECT_EQ (drip_ev.pings.size (), 1u);
}

/* As camrelay reads a plain socket: a vectored read into the payload's rest and the staging area
 * behind it, of any size the socket happens to give. */
TEST (WsParser, ReadsAcrossThePayloadAndTheNextHeaderGiveTheSameMessages)
{
  Events ev;
  cr::WsParser p (ev, {});
  std::vector<Bytes> sent;
  Bytes stream;
  for (gsize n : { 30001, 0, 7, 5000, 4090, 70000, 3, 126, 65536 }) {
    sent.push_back (pattern (n));
    Bytes f = frame (2, sent.back ());
    stream.insert (stream.end (), f.begin (), f.end ());
  }
  Bytes ping = frame (9, { 1, 2, 3 });
  stream.insert (stream.end (), ping.begin (), ping.end ());
  gsize off = 0, step = 0;
  const gsize sizes[] = { 1, 4100, 13, 30000, 9000, 2, 65536, 4097, 5 };
  while (off < stream.size ()) {
    guint8 *window, *next;
    gsize room, next_room;
    p.write_windows (&window, &room, &next, &next_room);
    ASSERT_GT (room, 0u);
    gsize n = MIN (sizes[step++ % G_N_ELEMENTS (sizes)], stream.size () - off);
    n = MIN (n, room + next_room);
    gsize first = MIN (n, room);
    memcpy (window, stream.data () + off, first);
    ASSERT_LE (n - first, next_room);
    if (n > first)
      memcpy (next, stream.data () + off + first, n - first);
    off += n;
    ASSERT_TRUE (p.commit (n));
  }
  EXPECT_EQ (ev.binary, sent);
  EXPECT_EQ (ev.pings.size (), 1u);
}

TEST (WsParser, LargePayloadIsReadStraightIntoTheMessage)
{
  /* After the header, the window is the message buffer itself: no staging copy for the bulk. */
  Events ev;
  cr::WsParser p (ev, {});
  Bytes payload = pattern (30000);
  Bytes f = frame (2, payload);
  gsize header = f.size () - payload.size ();
  ASSERT_TRUE (p.feed (f.data (), header));
  guint8 *window;
  gsize room;
  p.write_window (&window, &room);
  EXPECT_EQ (room, payload.size ());
  memcpy (window, f.data () + header, room);
  ASSERT_TRUE (p.commit (room));
  ASSERT_EQ (ev.binary.size (), 1u);
  EXPECT_EQ (ev.binary[0], payload);
}

TEST (WsParser, LimitIsEnforcedFromTheHeaderAlone)
{
  Events ev;
  cr::WsLimits limits;
  limits.max_binary = 1000;
  cr::WsParser p (ev, limits);
  Bytes f = frame (2, pattern (1001));
  EXPECT_FALSE (p.feed (f.data (), 8)); /* header only */
  EXPECT_EQ (p.error_code (), cr::WS_CLOSE_TOO_BIG);
  EXPECT_TRUE (ev.binary.empty ());
}

TEST (WsParser, TextLimitAndUtf8)
{
  Events ev;
  cr::WsLimits limits;
  limits.max_text = 10;
  cr::WsParser p (ev, limits);
  std::string hello = "héllo";
  Bytes ok (hello.begin (), hello.end ());
  ASSERT_TRUE (p.feed (frame (1, ok).data (), frame (1, ok).size ()));
  EXPECT_EQ (ev.text.at (0), hello);
  Bytes big (11, 'a');
  EXPECT_FALSE (p.feed (frame (1, big).data (), frame (1, big).size ()));
  EXPECT_EQ (p.error_code (), cr::WS_CLOSE_TOO_BIG);

  Events ev2;
  cr::WsParser q (ev2, {});
  Bytes bad = { 'a', 0xff };
  EXPECT_FALSE (q.feed (frame (1, bad).data (), frame (1, bad).size ()));
  EXPECT_EQ (q.error_code (), cr::WS_CLOSE_BAD_DATA);
}

TEST (WsParser, UtfSequenceSplitAcrossFragmentsIsValid)
{
  Events ev;
  cr::WsParser p (ev, {});
  std::string euro = "€"; /* three bytes, split 1 + 2 */
  Bytes first (euro.begin (), euro.begin () + 1), rest (euro.begin () + 1, euro.end ());
  Bytes f1 = frame (1, first, false), f2 = frame (0, rest, true);
  ASSERT_TRUE (p.feed (f1.data (), f1.size ()));
  ASSERT_TRUE (p.feed (f2.data (), f2.size ()));
  EXPECT_EQ (ev.text.at (0), euro);
}

TEST (WsParser, CloseFrames)
{
  {
    Events ev;
    cr::WsParser p (ev, {});
    Bytes payload = { 0x03, 0xe8, 'b', 'y', 'e' };
    ASSERT_TRUE (p.feed (frame (8, payload).data (), frame (8, payload).size ()));
    EXPECT_EQ (ev.close_code, 1000);
    EXPECT_EQ (ev.close_reason, "bye");
  }
  {
    Events ev;
    cr::WsParser p (ev, {});
    ASSERT_TRUE (p.feed (frame (8, {}).data (), frame (8, {}).size ()));
    EXPECT_EQ (ev.close_code, cr::WS_CLOSE_NO_STATUS);
  }
  for (guint16 code : { 0, 999, 1004, 1005, 1006, 1015, 2000, 5000 }) {
    Events ev;
    cr::WsParser p (ev, {});
    Bytes payload = { static_cast<guint8> (code >> 8), static_cast<guint8> (code & 0xff) };
    EXPECT_FALSE (p.feed (frame (8, payload).data (), frame (8, payload).size ())) << code;
    EXPECT_EQ (p.error_code (), cr::WS_CLOSE_PROTOCOL_ERROR) << code;
  }
  {
    Events ev;
    cr::WsParser p (ev, {});
    Bytes one = { 0x03 };
    EXPECT_FALSE (p.feed (frame (8, one).data (), frame (8, one).size ()));
  }
}

TEST (WsParser, BuildCloseCutsLongReasonsAtACharacterBoundary)
{
  std::string out, reason;
  for (int i = 0; i < 100; i++)
    reason += "é";
  cr::ws_build_close (out, 1000, reason);
  ASSERT_LE (out.size (), 2u + 125u);
  EXPECT_TRUE (g_utf8_validate (out.data () + 4, out.size () - 4, nullptr));
}

TEST (WsParser, FailureIsSticky)
{
  Events ev;
  cr::WsParser p (ev, {});
  Bytes unmasked = crtest::ws_client_frame (2, nullptr, 0, true, false);
  EXPECT_FALSE (p.feed (unmasked.data (), unmasked.size ()));
  Bytes good = frame (2, pattern (10));
  EXPECT_FALSE (p.feed (good.data (), good.size ()));
  EXPECT_TRUE (ev.binary.empty ());
}

}  // namespace
