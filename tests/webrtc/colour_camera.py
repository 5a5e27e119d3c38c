#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A camera that pushes JPEGs of one colour over camrelay's WebSocket ingest, at a steady rate,
and changes colour at known instants: WebRTC tests and the latency benchmark time the change at
the viewer.

  colour_camera.py URL [--fps 10] [--size 640x480] [--switch-every S] [--colours red,blue]

Prints {"colour": NAME, "t": wall-clock seconds} when a colour's first frame is sent (t taken
just before the send); runs until killed or --seconds pass."""
import argparse
import asyncio
import io
import json
import time

import numpy as np
from PIL import Image
import websockets

RGB = {"red": (230, 20, 20), "blue": (20, 40, 230), "green": (20, 200, 40),
       "white": (235, 235, 235)}


def jpeg(colour, w, h, seed):
    # Noise keeps the frame above camrelay's 5001-byte minimum, as a real picture would be.
    rng = np.random.default_rng(seed)
    img = np.clip(np.array(RGB[colour], dtype=np.int16) +
                  rng.integers(-12, 13, size=(h, w, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="JPEG", quality=80)
    return out.getvalue()


async def run(args):
    w, h = (int(x) for x in args.size.split("x"))
    colours = args.colours.split(",")
    frames = {c: [jpeg(c, w, h, i) for i in range(3)] for c in colours}
    async with websockets.connect(args.url, max_size=None) as ws:
        start = time.monotonic()
        n = 0
        current = None
        while args.seconds == 0 or time.monotonic() - start < args.seconds:
            due = start + n / args.fps
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elapsed = time.monotonic() - start
            idx = int(elapsed // args.switch_every) if args.switch_every else 0
            colour = colours[idx % len(colours)]
            if colour != current:
                current = colour
                print(json.dumps({"colour": colour, "t": time.time()}), flush=True)
            await ws.send(frames[colour][n % 3])
            n += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--fps", type=float, default=10)
    p.add_argument("--size", default="640x480")
    p.add_argument("--switch-every", type=float, default=0)
    p.add_argument("--colours", default="red")
    p.add_argument("--seconds", type=float, default=0)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
