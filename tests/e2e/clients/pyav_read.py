#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads an RTSP stream with PyAV (Debian's python3-av), as Home Assistant's stream component
does, and prints one line per decoded frame:

    frame INDEX WIDTH HEIGHT RED GREEN BLUE SECONDS

with the mean colour of the picture's middle and the seconds since the first frame, until
SECONDS have passed or FRAMES frames were decoded (0 = no limit).

    pyav_read.py URL TRANSPORT SECONDS [FRAMES]
"""
import sys
import time

import av


def main():
    url, transport, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    container = av.open(url, options={"rtsp_transport": transport, "stimeout": "5000000"},
                        timeout=10)
    stream = container.streams.video[0]
    start = None
    count = 0
    for frame in container.decode(stream):
        now = time.monotonic()
        if start is None:
            start = now
        rgb = frame.to_ndarray(format="rgb24")
        height, width, _ = rgb.shape
        middle = rgb[height // 4:3 * height // 4, width // 4:3 * width // 4].reshape(-1, 3)
        red, green, blue = middle.mean(axis=0)
        print(f"frame {count} {width} {height} {int(red)} {int(green)} {int(blue)} "
              f"{now - start:.3f}", flush=True)
        count += 1
        if (limit and count >= limit) or now - start >= seconds:
            break
    container.close()
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
