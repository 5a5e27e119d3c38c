#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A WHEP viewer built on aiortc (Debian's python3-aiortc), which nobody here wrote: it POSTs an
offer, takes the answer, receives the video and prints one JSON line per decoded frame, then
DELETEs its session.

  whep_client.py URL [--seconds N] [--user U --password P] [--no-delete]

Lines on stdout: {"event": "answer", "status": 201, "location": ...}, then
{"event": "frame", "t": wall-clock seconds, "w": .., "h": .., "rgb": [r, g, b]} (the mean colour of
the picture's centre), then {"event": "deleted", "status": 200}. Exit status 1 on any failure,
with {"event": "error", ...}."""
import argparse
import asyncio
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpsender import RTCRtpSender


def say(**kw):
    print(json.dumps(kw), flush=True)


def http(method, url, body=None, headers=None, auth=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def run(args):
    auth = (args.user, args.password) if args.user else None
    pc = RTCPeerConnection()
    trans = pc.addTransceiver("video", direction="recvonly")
    # H.264 only, as a camera relay offers nothing else.
    caps = RTCRtpSender.getCapabilities("video")
    trans.setCodecPreferences([c for c in caps.codecs if c.mimeType == "video/H264"])
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def reader():
            end = time.time() + args.seconds
            while time.time() < end:
                try:
                    frame = await asyncio.wait_for(track.recv(), timeout=max(0.1, end - time.time()))
                except asyncio.TimeoutError:
                    break
                except Exception:
                    break
                img = frame.to_ndarray(format="rgb24")
                h, w = img.shape[0], img.shape[1]
                centre = img[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
                rgb = [round(float(centre[:, :, i].mean()), 1) for i in range(3)]
                say(event="frame", t=time.time(), w=w, h=h, rgb=rgb)
            done.set()
        asyncio.ensure_future(reader())

    await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers every candidate here
    loop = asyncio.get_running_loop()
    status, headers, body = await loop.run_in_executor(None, lambda: http(
        "POST", args.url, pc.localDescription.sdp.encode(),
        {"Content-Type": "application/sdp"}, auth))
    location = headers.get("Location") or headers.get("location")
    candidates = [line[2:] for line in body.decode(errors="replace").splitlines()
                  if line.startswith("a=candidate:")] if status == 201 else []
    say(event="answer", status=status, location=location,
        content_type=headers.get("Content-Type"), candidates=candidates)
    if status != 201:
        say(event="error", why=f"POST answered {status}: {body[:200]!r}")
        await pc.close()
        return 1
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))
    try:
        await asyncio.wait_for(done.wait(), timeout=args.seconds + 15)
    except asyncio.TimeoutError:
        say(event="error", why="no video track")
    if not args.no_delete:
        target = urllib.parse.urljoin(args.url, location)
        status, _, _ = await loop.run_in_executor(None, lambda: http("DELETE", target, auth=auth))
        say(event="deleted", status=status)
    await pc.close()
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--no-delete", action="store_true")
    args = p.parse_args()
    try:
        sys.exit(asyncio.run(run(args)))
    except Exception as e:  # reported, never a traceback the test cannot read
        say(event="error", why=repr(e))
        sys.exit(1)


if __name__ == "__main__":
    main()
