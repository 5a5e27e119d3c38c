#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A reference WebSocket server that checks the load generator's cameras.

Debian's python3-websockets implements RFC 6455 strictly on the server
side: it rejects unmasked client frames, reserved bits, bad lengths, bad
UTF-8 in text messages, and it closes a connection whose pings go
unanswered. This server pings every 100 ms and checks each message the way
a relay would see it: the greeting is text, every binary message is a JPEG
(SOI first, EOI last) carrying the benchmark COM segment right after SOI,
with consecutive sequence numbers per camera. On SIGTERM, SIGINT or after
--duration it prints one JSON summary and exits 0 if nothing was wrong.

    /usr/bin/python3 ws_check_server.py --port 3104 [--duration 2]
(Debian: python3-websockets)
"""
import argparse
import asyncio
import json
import signal
import struct
import sys

import websockets

TAG = struct.Struct("<8sIIQQ")
MAGIC = b"CRBENCH1"

summary = {
    "connections": 0,
    "texts": [],
    "binary": 0,
    "bytes": 0,
    "bad_jpeg": 0,
    "untagged": 0,
    "out_of_sequence": 0,
    "close_codes": [],
    "errors": [],
}


def check_frame(data, last_seq):
    summary["binary"] += 1
    summary["bytes"] += len(data)
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        summary["bad_jpeg"] += 1
        return
    if data[2:4] != b"\xff\xfe" or data[6:14] != MAGIC:
        summary["untagged"] += 1
        return
    seg_len = struct.unpack(">H", data[4:6])[0]
    magic, camera, _, seq, _sent = TAG.unpack(data[6:6 + TAG.size])
    if seg_len != 2 + TAG.size:
        summary["untagged"] += 1
        return
    if seq != last_seq.get(camera, 0) + 1:
        summary["out_of_sequence"] += 1
    last_seq[camera] = seq


async def handler(websocket, path=None):
    summary["connections"] += 1
    last_seq = {}
    try:
        async for message in websocket:
            if isinstance(message, str):
                if len(summary["texts"]) < 10:
                    summary["texts"].append(message)
            else:
                check_frame(message, last_seq)
    except websockets.ConnectionClosed:
        pass
    except Exception as e:  # a protocol error is what we look for
        summary["errors"].append(repr(e))
    summary["close_codes"].append(websocket.close_code)


def quiet_closed(loop, context):
    # Closing the server sends "going away" to clients that already left.
    if isinstance(context.get("exception"), websockets.ConnectionClosed):
        return
    loop.default_exception_handler(context)


async def serve(args):
    asyncio.get_running_loop().set_exception_handler(quiet_closed)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(handler, args.host, args.port,
                                ping_interval=0.1, ping_timeout=0.5,
                                max_size=None):
        print("ws-check: listening on %s:%d" % (args.host, args.port),
              file=sys.stderr, flush=True)
        if args.duration > 0:
            await asyncio.wait([stop], timeout=args.duration)
        else:
            await stop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3104)
    ap.add_argument("--duration", type=float, default=0)
    args = ap.parse_args()
    asyncio.run(serve(args))
    # A close code of 1006 (no close frame) is how a client that simply
    # disconnects ends; 1011 would mean a keepalive ping went unanswered.
    bad = (summary["bad_jpeg"] or summary["untagged"] or
           summary["out_of_sequence"] or summary["errors"] or
           any(c not in (1000, 1001, 1005, 1006, None)
               for c in summary["close_codes"]))
    summary["ok"] = not bad
    print(json.dumps(summary))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
