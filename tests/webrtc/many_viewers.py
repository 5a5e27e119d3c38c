#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Many viewers of one camera in one process, for the "twenty RTSP and twenty WebRTC viewers,
one encoder" test: real clients nobody here wrote, decoding every frame.

  many_viewers.py rtsp URL --count N     N GStreamer RTSP clients (rtspsrc ! rtph264depay !
                                         avdec_h264), alternately TCP and UDP
  many_viewers.py whep URL --count N     N aiortc RTCPeerConnections (WHEP), each DELETEd at
                                         the end

Prints {"event": "ready", "viewers": N} once every viewer has decoded a frame, and, when stdin
closes, {"event": "report", "viewers": [{"frames": n, "seconds": s, "w": .., "h": ..}, ...]}:
the frames each decoded since "ready" and over how long. A viewer that fails prints
{"event": "error", ...}; the process exits 1 if any did."""
import argparse
import asyncio
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


def say(**kw):
    print(json.dumps(kw), flush=True)


class Viewer:
    def __init__(self):
        self.frames = 0
        self.since = None  # frames counted from "ready" on
        self.w = self.h = 0

    def frame(self, w, h):
        self.frames += 1
        self.w, self.h = w, h


class Group:
    """The viewers, "ready" once each has a frame, and the report at the end."""

    def __init__(self, n):
        self.viewers = [Viewer() for _ in range(n)]
        self.lock = threading.Lock()
        self.ready_at = None
        self.failed = False

    def frame(self, i, w, h):
        with self.lock:
            self.viewers[i].frame(w, h)
            if self.ready_at is None and all(v.frames for v in self.viewers):
                self.ready_at = time.monotonic()
                for v in self.viewers:
                    v.since = v.frames
                say(event="ready", viewers=len(self.viewers))

    def report(self):
        with self.lock:
            span = time.monotonic() - self.ready_at if self.ready_at else 0
            say(event="report", viewers=[
                {"frames": v.frames - (v.since or 0), "seconds": round(span, 3), "w": v.w,
                 "h": v.h, "total": v.frames} for v in self.viewers])


def run_rtsp(url, group, stdin_closed):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
    Gst.init(None)
    loop = GLib.MainLoop()
    pipelines = []

    def counter(i):
        def probe(pad, info):
            caps = pad.get_current_caps()
            s = caps.get_structure(0) if caps else None
            group.frame(i, s.get_value("width") if s else 0, s.get_value("height") if s else 0)
            return Gst.PadProbeReturn.OK
        return probe

    def on_message(bus, msg, i):
        if msg.type == Gst.MessageType.ERROR:
            err, _ = msg.parse_error()
            say(event="error", viewer=i, why=err.message)
            group.failed = True
            loop.quit()

    for i in range(len(group.viewers)):
        proto = "tcp" if i % 2 == 0 else "udp"
        p = Gst.parse_launch(
            f"rtspsrc location={url} protocols={proto} latency=0 ! rtph264depay ! "
            f"avdec_h264 max-threads=1 ! fakesink name=out sync=false")
        p.get_by_name("out").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER,
                                                              counter(i))
        bus = p.get_bus()
        bus.add_signal_watch()
        bus.connect("message", on_message, i)
        p.set_state(Gst.State.PLAYING)
        pipelines.append(p)
    threading.Thread(target=lambda: (stdin_closed.wait(), GLib.idle_add(loop.quit)),
                     daemon=True).start()
    loop.run()
    group.report()
    for p in pipelines:
        p.set_state(Gst.State.NULL)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def whep_viewer(url, i, group, stop):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.rtcrtpsender import RTCRtpSender
    pc = RTCPeerConnection()
    trans = pc.addTransceiver("video", direction="recvonly")
    caps = RTCRtpSender.getCapabilities("video")
    trans.setCodecPreferences([c for c in caps.codecs if c.mimeType == "video/H264"])

    @pc.on("track")
    def on_track(track):
        async def reader():
            while not stop.is_set():
                try:
                    frame = await track.recv()
                except Exception:
                    return
                group.frame(i, frame.width, frame.height)
        asyncio.ensure_future(reader())

    await pc.setLocalDescription(await pc.createOffer())
    loop = asyncio.get_running_loop()
    status, headers, body = await loop.run_in_executor(None, lambda: http(
        "POST", url, pc.localDescription.sdp.encode(), {"Content-Type": "application/sdp"}))
    if status != 201:
        say(event="error", viewer=i, why=f"POST answered {status}: {body[:200]!r}")
        group.failed = True
        await pc.close()
        return
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))
    await stop.wait()
    location = headers.get("Location") or headers.get("location")
    target = urllib.parse.urljoin(url, location)
    await loop.run_in_executor(None, lambda: http("DELETE", target))
    await pc.close()


async def run_whep(url, group, stdin_closed):
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    tasks = [asyncio.ensure_future(whep_viewer(url, i, group, stop))
             for i in range(len(group.viewers))]
    await loop.run_in_executor(None, stdin_closed.wait)
    group.report()
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["rtsp", "whep"])
    p.add_argument("url")
    p.add_argument("--count", type=int, default=20)
    args = p.parse_args()
    group = Group(args.count)
    stdin_closed = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stdin_closed.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        if args.kind == "rtsp":
            run_rtsp(args.url, group, stdin_closed)
        else:
            asyncio.run(run_whep(args.url, group, stdin_closed))
    except Exception as e:  # reported, never a traceback the test cannot read
        say(event="error", why=repr(e))
        sys.exit(1)
    sys.exit(1 if group.failed else 0)


if __name__ == "__main__":
    main()
