#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How long a browser takes to show each frame of a slow camera.

Chromium hands an MJPEG part to the <img> only once the next part's boundary and header block have
arrived. A server that sends those only with the next frame shows every frame one frame period late
(1 s at 1 fps) and never shows the last frame before a pause. This starts camrelay, a camera that
sends one frame a second (each a different solid colour in the middle, noise around it so it passes
the 5000-byte rule), then stops; and headless Chromium showing the stream. A script in the page
samples the picture every 2 ms and records when each colour appears. Prints one JSON object with
the delay from sending each frame to seeing it, the last frame before the pause included.

    ninja -C build && /usr/bin/python3 tests/bench/browser-latency.py [--frames 8] [--json out.json]

camrelay is started as in run-bench.py (CAMRELAY_CMD, default build/pipeline/camrelay --port P).
Stops everything it started, Ctrl-C included.
"""
import argparse
import asyncio
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

try:
    import websockets
    from PIL import Image
except ImportError as e:  # pragma: no cover
    sys.exit("needs Debian's python3-websockets and python3-pil: %s" % e)

COLOURS = [(230, 40, 40), (40, 200, 60), (40, 80, 230), (240, 220, 40),
           (200, 40, 200), (40, 210, 220), (250, 140, 30), (140, 90, 40)]

PAGE_SCRIPT = """
(() => {
  window.__seen = [];
  const img = document.createElement('img');
  img.src = '/' + location.search;
  document.body.appendChild(img);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let last = '';
  setInterval(() => {
    if (!img.naturalWidth) return;
    ctx.drawImage(img, img.naturalWidth / 2, img.naturalHeight / 2, 1, 1, 0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    const key = d[0] + ',' + d[1] + ',' + d[2];
    if (key !== last) { last = key; window.__seen.push([d[0], d[1], d[2], Date.now()]); }
  }, 2);
  return true;
})()
"""


def make_frame(colour):
    img = Image.new("RGB", (640, 480), colour)
    rnd = random.Random(hash(colour))
    noise = bytes(rnd.getrandbits(8) for _ in range(640 * 60 * 3))
    img.paste(Image.frombytes("RGB", (640, 60), noise), (0, 0))
    img.paste(Image.frombytes("RGB", (640, 60), noise), (0, 420))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def nearest_colour(rgb):
    return min(range(len(COLOURS)),
               key=lambda i: sum((a - b) ** 2 for a, b in zip(COLOURS[i], rgb)))


class Cdp:
    """The least of the Chrome DevTools Protocol: send a command, await its answer."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    async def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})


async def run(args, port, debug_port):
    base = "http://127.0.0.1:%d" % port
    # Any same-origin page will do: the measuring script reads the stream's pixels, which a page
    # of another origin could not.
    targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json" % debug_port))
    page = next(t for t in targets if t["type"] == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as ws:
        cdp = Cdp(ws)
        await cdp.call("Page.enable")
        await cdp.call("Page.navigate", url=base + "/browser-latency" + args.query)
        await asyncio.sleep(1.0)
        await cdp.call("Runtime.evaluate", expression=PAGE_SCRIPT, returnByValue=True)
        await asyncio.sleep(1.5)  # the placeholder shows first

        sent = []
        frames = [make_frame(c) for c in COLOURS]
        async with websockets.connect("ws://127.0.0.1:%d/" % port, max_size=None) as cam:
            await cam.send("hello from ESP32 camera stream!")
            for i in range(args.frames):
                k = i % len(COLOURS)
                sent.append((k, time.time() * 1000.0))
                await cam.send(frames[k])
                await asyncio.sleep(args.interval)
            # The pause: the camera stays connected and silent.
            await asyncio.sleep(1.0)
            res = await cdp.call("Runtime.evaluate", expression="JSON.stringify(window.__seen)",
                                 returnByValue=True)
    seen = json.loads(res["result"]["value"])

    delays = []
    for index, (k, t_sent) in enumerate(sent):
        shown = [t for (r, g, b, t) in seen if nearest_colour((r, g, b)) == k and t >= t_sent - 5]
        delays.append(round(min(shown) - t_sent, 1) if shown else None)
    ok = [d for d in delays if d is not None]
    return {
        "frames": args.frames,
        "interval_s": args.interval,
        "query": args.query,
        "delays_ms": delays,
        "shown": len(ok),
        "last_before_pause_ms": delays[-1],
        "p50_ms": round(statistics.median(ok), 1) if ok else None,
        "max_ms": max(ok) if ok else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--query", default="", help='e.g. "?content-length=1" for classic parts')
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()

    benchlib.install_signal_handlers()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("needs Debian's chromium")
    port, debug_port = benchlib.free_port(), benchlib.free_port()
    profile = tempfile.mkdtemp(prefix="camrelay-chromium-")
    try:
        server = benchlib.start(benchlib.camrelay_argv(port, args.build))
        if not benchlib.wait_port(port, server):
            sys.exit("camrelay did not start")
        browser = benchlib.start([
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--user-data-dir=" + profile, "--remote-debugging-port=%d" % debug_port,
            "about:blank"])
        if not benchlib.wait_port(debug_port, browser, timeout=30):
            sys.exit("chromium did not start")
        result = asyncio.run(run(args, port, debug_port))
    finally:
        benchlib.stop_all()
        shutil.rmtree(profile, ignore_errors=True)
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
