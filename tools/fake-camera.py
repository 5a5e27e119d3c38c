#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A camera stand-in that behaves like the ESP32-CAM firmware camrelay was built for.

It opens a WebSocket (by default to ws://127.0.0.1:3001/, the path the firmware uses), sends a
text greeting, then sends JPEG frames as binary messages, back to back, at the rate asked for.
Like the firmware it never reconnects: when the connection ends, the program ends.

Frames come from a directory of .jpg files (sent in name order, over and over), or are made once
at start-up with GStreamer (gst-launch-1.0 videotestsrc ! jpegenc), VGA like the firmware's.

Examples:
    tools/fake-camera.py                                   # legacy default server on this machine
    tools/fake-camera.py --url ws://192.0.2.10:3001/ws/front --fps 15 --secret s3cret
    tools/fake-camera.py --dir ~/frames --count 100 --fps 0   # 100 frames as fast as possible

Needs Debian's python3-websockets (and gstreamer1.0-tools to make frames).
Exit status: 0 when every frame was sent or the server closed the connection normally,
1 on a connection error, 2 on bad arguments.
"""

import argparse
import asyncio
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import websockets
except ImportError:
    sys.exit("fake-camera: needs the websockets module (Debian: apt install python3-websockets)")

GREETING = "hello from ESP32 camera stream!"


def log(args, text):
    if not args.quiet:
        print("fake-camera: " + text, file=sys.stderr, flush=True)


def load_dir(path):
    names = sorted(glob.glob(os.path.join(path, "*.jpg")) + glob.glob(os.path.join(path, "*.jpeg")))
    frames = []
    for name in names:
        with open(name, "rb") as f:
            frames.append(f.read())
    return frames


def make_frames(args):
    """Encodes --frames test pictures with GStreamer, the clock overlay making each one distinct."""
    if not shutil.which("gst-launch-1.0"):
        sys.exit("fake-camera: gst-launch-1.0 not found; install gstreamer1.0-tools or use --dir")
    width, height = args.size
    with tempfile.TemporaryDirectory(prefix="fake-camera-") as tmp:
        location = os.path.join(tmp, "frame-%05d.jpg")
        head = ["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=%d" % args.frames,
                "pattern=%s" % args.pattern, "!",
                "video/x-raw,width=%d,height=%d,framerate=10/1" % (width, height), "!"]
        tail = ["jpegenc", "quality=%d" % args.quality, "!", "multifilesink",
                "location=" + location]
        overlay = ["timeoverlay", "font-desc=Sans 24", "!"]
        result = subprocess.run(head + overlay + tail, capture_output=True)
        if result.returncode != 0:
            # timeoverlay lives in gstreamer1.0-plugins-base's pango plugin; do without it.
            result = subprocess.run(head + tail, capture_output=True)
        if result.returncode != 0:
            sys.exit("fake-camera: could not make frames: " + result.stderr.decode(errors="replace"))
        return load_dir(tmp)


def parse_size(text):
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError("expected WIDTHxHEIGHT, e.g. 640x480")


async def run(args, frames):
    headers = {}
    if args.secret:
        headers["Authorization"] = "Bearer " + args.secret
    try:
        ws = await websockets.connect(args.url, extra_headers=headers, max_size=None,
                                      compression=None, open_timeout=args.connect_timeout,
                                      ping_interval=None)
    except Exception as e:  # refused, 401, DNS, timeout: all mean "could not connect"
        why = str(e) or type(e).__name__
        if isinstance(e, (asyncio.TimeoutError, TimeoutError)):
            why = "no WebSocket handshake within %g s (a wrong or missing --secret?)" % (
                args.connect_timeout)
        log(args, "cannot connect to %s: %s" % (args.url, why))
        return 1
    log(args, "connected to %s" % args.url)
    # Ctrl-C or SIGTERM: stop sending and close the connection properly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sent = 0
    status = 0
    try:
        if args.greeting:
            await ws.send(args.greeting)
        period = 1.0 / args.fps if args.fps > 0 else 0.0
        start = time.monotonic()
        while (args.count == 0 or sent < args.count) and not stop.is_set():
            await ws.send(frames[sent % len(frames)])
            sent += 1
            delay = start + sent * period - time.monotonic() if period else 0
            # Back to back (fps 0), as the firmware does, still lets the close handshake run.
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(delay, 0))
            except asyncio.TimeoutError:
                pass
        log(args, "sent %d frame%s" % (sent, "" if sent == 1 else "s"))
        if args.linger > 0 and not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.linger)
            except asyncio.TimeoutError:
                pass
        await ws.close()
        return 0
    except websockets.ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd else None
        reason = e.rcvd.reason if e.rcvd else ""
        log(args, "server closed the connection (%s %s)" % (code, reason))
        status = 0 if code in (1000, 1001) else 1
    except OSError as e:
        log(args, "connection lost: %s" % e)
        status = 1
    log(args, "sent %d frame%s" % (sent, "" if sent == 1 else "s"))
    return status


def main():
    p = argparse.ArgumentParser(
        description="Send JPEG frames to camrelay over WebSocket, like an ESP32-CAM.",
        epilog="Exit status 0 when every frame was sent or the server closed normally.")
    p.add_argument("--url", default="ws://127.0.0.1:3001/",
                   help="WebSocket URL (default %(default)s, the firmware's path)")
    p.add_argument("--fps", type=float, default=10.0,
                   help="frames per second; 0 = back to back as fast as possible (default 10)")
    p.add_argument("--count", type=int, default=0,
                   help="frames to send, then close; 0 = until interrupted (default)")
    p.add_argument("--secret", default="",
                   help="ingest secret, sent as Authorization: Bearer SECRET")
    p.add_argument("--dir", help="send the .jpg files of this directory, in name order, in a loop")
    p.add_argument("--frames", type=int, default=30,
                   help="without --dir: distinct frames to make with GStreamer (default 30)")
    p.add_argument("--size", type=parse_size, default=(640, 480),
                   help="without --dir: picture size (default 640x480)")
    p.add_argument("--quality", type=int, default=50,
                   help="without --dir: JPEG quality (default 50, about 25 KB at VGA)")
    p.add_argument("--pattern", default="smpte",
                   help="without --dir: videotestsrc pattern (default smpte)")
    p.add_argument("--greeting", default=GREETING,
                   help="text message sent first; empty = none (default: the firmware's)")
    p.add_argument("--linger", type=float, default=0.0,
                   help="seconds to stay connected after the last frame (default 0)")
    p.add_argument("--connect-timeout", type=float, default=10.0,
                   help="seconds to wait for the connection (default 10)")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args()

    if args.fps < 0 or args.count < 0 or args.frames < 1:
        p.error("--fps, --count and --frames must not be negative (--frames at least 1)")
    if args.dir:
        frames = load_dir(args.dir)
        if not frames:
            p.error("no .jpg files in %s" % args.dir)
    else:
        frames = make_frames(args)
    log(args, "%d distinct frame%s, %d to %d bytes" % (
        len(frames), "" if len(frames) == 1 else "s",
        min(len(f) for f in frames), max(len(f) for f in frames)))

    return asyncio.run(run(args, frames))


if __name__ == "__main__":
    sys.exit(main())
