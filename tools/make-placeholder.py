#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Draw camrelay's placeholder picture: the frame viewers see while the camera is offline.

Usage: tools/make-placeholder.py [OUTPUT]   (default: placeholder.jpg beside tools/)

Needs Debian's python3-pil and fonts-dejavu-core. The picture is drawn at 4x and scaled
down with a Lanczos filter, which anti-aliases every edge and glyph. 640x480 matches the
ESP32-CAM's VGA frames, so a browser's <img> keeps its layout when the stream switches.
"""
import os
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 640, 480
SCALE = 4  # supersampling factor
QUALITY = 85
FONT_DIR = "/usr/share/fonts/truetype/dejavu"

BG_TOP = (28, 33, 43)
BG_BOTTOM = (12, 14, 19)
GLYPH = (150, 160, 178)
ACCENT = (226, 92, 82)
TITLE = (236, 239, 244)
SUBTITLE = (140, 150, 166)


def s(v):
    """Design units (640x480 pixels) to canvas pixels."""
    return int(round(v * SCALE))


def background():
    """A vertical gradient with a soft vignette: flat black looks like a broken stream."""
    grad = Image.new("RGB", (1, HEIGHT))
    for y in range(HEIGHT):
        t = y / (HEIGHT - 1)
        grad.putpixel((0, y), tuple(int(a + (b - a) * t) for a, b in zip(BG_TOP, BG_BOTTOM)))
    img = grad.resize((WIDTH, HEIGHT), Image.BILINEAR)

    glow = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(glow).ellipse((120, 40, 520, 360), fill=60)
    glow = glow.filter(ImageFilter.GaussianBlur(70))
    lift = Image.new("RGB", (WIDTH, HEIGHT), (60, 70, 92))
    img = Image.composite(lift, img, glow)
    return img.resize((s(WIDTH), s(HEIGHT)), Image.BICUBIC)


def camera(draw, cx, cy):
    """A camera body with lens and viewfinder bump, crossed by a diagonal slash."""
    w, h = 150, 96
    left, top = cx - w / 2, cy - h / 2 + 8
    stroke = 7
    # Viewfinder bump on top of the body.
    draw.rounded_rectangle((s(cx - 30), s(top - 18), s(cx + 30), s(top + 10)),
                           radius=s(7), fill=GLYPH)
    draw.rounded_rectangle((s(left), s(top), s(left + w), s(top + h)),
                           radius=s(16), fill=GLYPH)
    # Lens: a dark ring inside the body, then a lighter glass disc.
    r = 33
    lcy = top + h / 2
    draw.ellipse((s(cx - r), s(lcy - r), s(cx + r), s(lcy + r)), fill=BG_TOP)
    r2 = r - stroke
    draw.ellipse((s(cx - r2), s(lcy - r2), s(cx + r2), s(lcy + r2)), fill=(88, 98, 116))
    r3 = 9
    draw.ellipse((s(cx - r3 - 8), s(lcy - r3 - 8), s(cx + r3 - 8), s(lcy + r3 - 8)),
                 fill=(170, 180, 198))
    # Status lamp, off-red.
    draw.ellipse((s(left + w - 30), s(top + 14), s(left + w - 16), s(top + 28)), fill=ACCENT)
    # The "offline" slash: a background-coloured gap under a red bar.
    x0, y0, x1, y1 = cx - 92, cy - 72, cx + 92, cy + 80
    draw.line((s(x0), s(y0), s(x1), s(y1)), fill=BG_TOP, width=s(22))
    draw.line((s(x0), s(y0), s(x1), s(y1)), fill=ACCENT, width=s(9))
    for x, y in ((x0, y0), (x1, y1)):
        draw.ellipse((s(x - 4.5), s(y - 4.5), s(x + 4.5), s(y + 4.5)), fill=ACCENT)


def centred_text(draw, y, text, font, fill):
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (s(WIDTH) - (right - left)) / 2 - left
    draw.text((x, s(y) - top), text, font=font, fill=fill)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "placeholder.jpg")

    img = background()
    draw = ImageDraw.Draw(img)
    camera(draw, WIDTH / 2, 170)
    title = ImageFont.truetype(os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf"), s(36))
    small = ImageFont.truetype(os.path.join(FONT_DIR, "DejaVuSans.ttf"), s(18))
    centred_text(draw, 300, "Camera offline", title, TITLE)
    centred_text(draw, 352, "waiting for frames\u2026", small, SUBTITLE)

    img = img.resize((WIDTH, HEIGHT), Image.LANCZOS)
    img.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=False,
             subsampling="4:2:0")
    print(f"{os.path.normpath(out)}: {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
