#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Headless Chromium opens a /view URL; every half second this prints what the page's large
picture does, read over the DevTools protocol: which transport plays (the page's own indicator),
WebRTC's getStats() (frames decoded, frame size, rate) and the <video>'s size.

  view_probe.py URL --seconds N [--user U --password P]

One JSON line per sample: {"t", "transport", "why", "frames", "w", "h", "fps", "vw", "vh", "img",
"iw" (the MJPEG picture's width while it shows)}.
Runs Chromium in a temporary profile and ends it at the end."""
import argparse
import asyncio
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request

import websockets

PROBE = """(async () => {
  const fig = document.querySelector('figure.large');
  if (!fig) return {transport: 'none'};
  const v = fig.querySelector('video');
  let frames = 0, w = 0, h = 0, fps = 0;
  if (fig.rtc) {
    (await fig.rtc.pc.getStats()).forEach(r => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        frames = r.framesDecoded || 0; w = r.frameWidth || 0; h = r.frameHeight || 0;
        fps = r.framesPerSecond || 0;
      }
    });
  }
  const badge = fig.querySelector('.transport');
  return {transport: fig.dataset.transport || '', why: badge ? badge.title : '', frames, w, h,
          fps, vw: v ? v.videoWidth : 0, vh: v ? v.videoHeight : 0,
          img: fig.querySelector('img').getAttribute('src'),
          iw: fig.querySelector('img').hidden ? 0 : fig.querySelector('img').naturalWidth};
})()"""


async def probe(ws_url, seconds, screenshot):
    async with websockets.connect(ws_url, max_size=None) as ws:
        n = 0
        end = time.time() + seconds
        while time.time() < end:
            n += 1
            await ws.send(json.dumps({"id": n, "method": "Runtime.evaluate", "params": {
                "expression": PROBE, "awaitPromise": True, "returnByValue": True}}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == n:
                    break
            value = reply.get("result", {}).get("result", {}).get("value")
            if value is not None:
                value["t"] = time.time()
                print(json.dumps(value), flush=True)
            await asyncio.sleep(0.5)
        if screenshot:
            n += 1
            await ws.send(json.dumps({"id": n, "method": "Page.captureScreenshot",
                                      "params": {"format": "png"}}))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == n:
                    break
            import base64
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(reply["result"]["data"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--screenshot", help="a PNG of the page at the end")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as profile:
        env = dict(os.environ, HOME=profile)
        chrome = subprocess.Popen([
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1024,768",
            "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
            "--remote-allow-origins=*", "--user-data-dir=" + profile, args.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            port = None
            end = time.time() + 30
            while time.time() < end and port is None:
                line = chrome.stderr.readline()
                m = re.search(r"DevTools listening on ws://127.0.0.1:(\d+)/", line)
                if m:
                    port = int(m.group(1))
            if port is None:
                print(json.dumps({"error": "Chromium did not start"}), flush=True)
                return 1
            page = None
            while time.time() < end and page is None:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                    for target in json.load(r):
                        if target.get("type") == "page":
                            page = target["webSocketDebuggerUrl"]
                time.sleep(0.2)
            asyncio.run(probe(page, args.seconds, args.screenshot))
        finally:
            chrome.terminate()
            try:
                chrome.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chrome.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
