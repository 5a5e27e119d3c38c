#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Latency of a camera's picture to a decoded WebRTC frame (issue 18): camrelay in one network
namespace, a camera pushing JPEGs that turn from red to blue and back every second at a known
instant (tests/webrtc/colour_camera.py), and Debian's aiortc as the WebRTC viewer in another
namespace (tests/webrtc/whep_client.py). Each change of colour is timed from just before the
camera sends the first frame of the new colour to the first decoded frame of that colour at the
viewer (one clock: both run on this machine).

  sudo tools/../tests/bench/webrtc-latency.py [--build build] [--seconds 60] [--fps 10]
      [--size 640x480]

Prints the samples' p50, p90, p99 and max in milliseconds, and the targets (p50 <= 150 ms,
p99 <= 300 ms). Root is needed for the namespaces."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WEBRTC = os.path.join(HERE, "..", "webrtc")
sys.path.insert(0, WEBRTC)
from netns import SERVER_ADDRESS, NetnsPair  # noqa: E402
import test_webrtc as t  # noqa: E402


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--fps", type=float, default=10)
    p.add_argument("--size", default="640x480")
    args = p.parse_args()
    t.BUILD = os.path.abspath(args.build)
    os.environ.setdefault("GST_PLUGIN_PATH", os.path.join(t.BUILD, "plugins"))
    net = NetnsPair()
    tmp = tempfile.TemporaryDirectory()
    relay = cam = None
    try:
        relay = t.Relay(net, tmp.name)
        cam = t.start_camera(net, "--fps", str(args.fps), "--size", args.size,
                             "--switch-every", "1", "--colours", "red,blue")
        client = subprocess.run(net.run_in(net.client) + [
            "/usr/bin/python3", t.CLIENT, f"http://{SERVER_ADDRESS}:{t.RELAY_PORT}/whep/cam",
            "--seconds", str(args.seconds)], capture_output=True, text=True,
            timeout=args.seconds + 60)
        frames = [json.loads(l) for l in client.stdout.splitlines() if '"frame"' in l]
        cam.stop()
        cam.proc.kill()
        switches = [json.loads(l) for l in cam.all + list(cam.lines.queue) if l.startswith("{")]
    finally:
        if cam:
            cam.stop()
        if relay:
            relay.stop()
        net.close()
        tmp.cleanup()
    if not frames:
        print("no frames:", client.stdout[-2000:], client.stderr[-2000:])
        return 1
    colour_of = lambda rgb: "red" if t.is_red(rgb) else "blue" if t.is_blue(rgb) else None
    samples = []
    for sw in switches[1:]:
        # The first decoded frame of the new colour after the switch, before the next switch.
        for f in frames:
            if f["t"] >= sw["t"] and colour_of(f["rgb"]) == sw["colour"]:
                if f["t"] - sw["t"] < 1.0:
                    samples.append((f["t"] - sw["t"]) * 1000)
                break
    if len(samples) < 10:
        print(f"only {len(samples)} changes seen in {len(frames)} frames")
        return 1
    p50, p90, p99 = (percentile(samples, q) for q in (50, 90, 99))
    print(f"WebRTC latency, camera -> decoded frame at aiortc, {args.size} at {args.fps:g} fps, "
          f"{len(samples)} colour changes: p50 {p50:.0f} ms, p90 {p90:.0f} ms, "
          f"p99 {p99:.0f} ms, max {max(samples):.0f} ms (targets: p50 <= 150, p99 <= 300)")
    return 0 if p50 <= 150 and p99 <= 300 else 2


if __name__ == "__main__":
    sys.exit(main())
