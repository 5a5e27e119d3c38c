#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the benchmark's camera frames: distinct VGA JPEGs of 25-30 KB.

An ESP32-CAM at VGA and quality 15 sends 15-40 KB frames; these aim at the
middle of that range with content that compresses like a real scene: a sky
gradient, a textured ground, a few shapes, sensor noise, a ball moving
across the frame and a frame counter. The JPEG quality of each frame is
searched so that its size lands in the target band, which keeps every
benchmark run on the same bytes whatever Pillow version encodes them.

    /usr/bin/python3 tests/bench/make-frames.py tests/bench/out/frames
    (Debian: python3-pil)
"""
import argparse
import math
import os
import random
import sys
from io import BytesIO

from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 640, 480


def background(rng):
    """The static part of the scene, drawn once."""
    img = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(img)
    horizon = 300
    for y in range(horizon):
        t = y / horizon
        draw.line([(0, y), (WIDTH, y)],
                  fill=(int(90 + 80 * t), int(140 + 70 * t), int(220 - 20 * t)))
    for y in range(horizon, HEIGHT):
        t = (y - horizon) / (HEIGHT - horizon)
        draw.line([(0, y), (WIDTH, y)],
                  fill=(int(70 + 50 * t), int(110 + 30 * t), int(50 + 20 * t)))
    # Buildings and trees: edges and flat areas, as in a yard or a street.
    for _ in range(7):
        x = rng.randrange(0, WIDTH - 80)
        w = rng.randrange(40, 120)
        h = rng.randrange(60, 200)
        colour = tuple(rng.randrange(60, 200) for _ in range(3))
        draw.rectangle([x, horizon - h, x + w, horizon], fill=colour,
                       outline=(30, 30, 30))
        for wy in range(horizon - h + 10, horizon - 15, 22):
            for wx in range(x + 8, x + w - 12, 18):
                draw.rectangle([wx, wy, wx + 9, wy + 12], fill=(230, 220, 150))
    for _ in range(12):
        x = rng.randrange(0, WIDTH)
        r = rng.randrange(12, 36)
        draw.ellipse([x - r, horizon - 2 * r, x + r, horizon],
                     fill=(30, rng.randrange(90, 150), 40))
    # Ground texture: gravel-like speckles.
    for _ in range(5000):
        x = rng.randrange(0, WIDTH)
        y = rng.randrange(horizon, HEIGHT)
        g = rng.randrange(60, 180)
        draw.point((x, y), fill=(g, g, g - 20))
    return img.filter(ImageFilter.SMOOTH)


def frame(base, index, count, noise_sigma):
    img = base.copy()
    draw = ImageDraw.Draw(img)
    # The moving element: a ball crossing the yard on a bouncing path.
    t = index / count
    x = int(40 + (WIDTH - 80) * t)
    y = int(360 - 140 * abs(math.sin(t * 3 * math.pi)))
    draw.ellipse([x - 26, y - 26, x + 26, y + 26], fill=(220, 40, 40),
                 outline=(90, 10, 10), width=3)
    draw.ellipse([x - 12, y - 16, x - 2, y - 6], fill=(255, 190, 190))
    # The overlay an ESP32 sketch would print: counter and a fake clock.
    draw.rectangle([8, 8, 250, 34], fill=(0, 0, 0))
    draw.text((14, 14), "cam0 frame %05d  12:%02d:%02d" % (
        index, (index // 30) % 60, index % 60), fill=(255, 255, 255))
    # Sensor noise, different in every frame.
    noise = Image.effect_noise((WIDTH, HEIGHT), noise_sigma).convert("RGB")
    return Image.blend(img, noise, 0.12)


def encode(img, quality):
    buf = BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def fit(img, low, high):
    """The highest quality whose JPEG is at most @high bytes."""
    best = encode(img, 5)
    lo, hi = 5, 95
    while lo <= hi:
        q = (lo + hi) // 2
        data = encode(img, q)
        if len(data) <= high:
            best, lo = data, q + 1
        else:
            hi = q - 1
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=90)
    ap.add_argument("--min-bytes", type=int, default=25000)
    ap.add_argument("--max-bytes", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()

    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    base = background(rng)
    sizes = []
    for i in range(args.count):
        data = fit(frame(base, i, args.count, 40 + (i % 7) * 4),
                   args.min_bytes, args.max_bytes)
        with open(os.path.join(args.outdir, "frame%03d.jpg" % i), "wb") as f:
            f.write(data)
        sizes.append(len(data))
    print("make-frames: %d frames in %s, %d-%d bytes (mean %d)" % (
        len(sizes), args.outdir, min(sizes), max(sizes),
        sum(sizes) // len(sizes)))
    if min(sizes) < args.min_bytes:
        print("make-frames: some frames are below %d bytes" % args.min_bytes,
              file=sys.stderr)


if __name__ == "__main__":
    main()
