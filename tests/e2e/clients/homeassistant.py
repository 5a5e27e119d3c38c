#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Home Assistant's MJPEG camera, as its code reads a stream (homeassistant/components/mjpeg and
helpers/aiohttp_client.py), with aiohttp and Home Assistant's User-Agent:

  proxy URL SECONDS [USER PASSWORD]
      async_aiohttp_proxy_stream: read(102400) in a loop, each read under a 10 s timeout (a read
      that times out ends the proxied stream); prints "proxy STATUS BYTES LONGEST_GAP" and, last,
      the last complete JPEG of the stream in hex ("last HEX"), exits 0 after SECONDS, 1 on a
      timeout or a closed stream.
  still URL [USER PASSWORD]
      extract_image_from_mjpeg: chunks until FF D9 after FF D8, the first JPEG; prints "still HEX".
"""
import asyncio
import sys
import time

import aiohttp

USER_AGENT = "HomeAssistant/2024.6.4 aiohttp/3.9.5 Python/3.12"


def auth_from(args):
    return aiohttp.BasicAuth(args[0], args[1]) if len(args) >= 2 else None


async def proxy(url, seconds, auth):
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        async with session.get(url, auth=auth, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            if resp.status != 200:
                print("proxy", resp.status, 0, 0)
                return 1
            total, longest, data = 0, 0.0, b""
            last = time.monotonic()
            end = last + seconds
            while time.monotonic() < end:
                try:
                    chunk = await asyncio.wait_for(resp.content.read(102400), 10)
                except asyncio.TimeoutError:
                    print("proxy timeout after", total, "bytes")
                    return 1
                if not chunk:
                    print("proxy stream closed after", total, "bytes")
                    return 1
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now
                total += len(chunk)
                data = (data + chunk)[-1 << 20:]
            print("proxy", resp.status, total, "%.3f" % longest)
            end_at = data.rfind(b"\xff\xd9")
            start_at = data.rfind(b"\xff\xd8\xff", 0, end_at)
            print("last", data[start_at:end_at + 2].hex())
            return 0


async def still(url, auth):
    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        async with session.get(url, auth=auth, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            if resp.status != 200:
                print("still", resp.status)
                return 1
            data = b""
            async for chunk in resp.content.iter_chunked(102400):
                data += chunk
                jpg_end = data.find(b"\xff\xd9")
                if jpg_end == -1:
                    continue
                jpg_start = data.find(b"\xff\xd8")
                if jpg_start == -1:
                    continue
                print("still", data[jpg_start:jpg_end + 2].hex())
                return 0
            return 1


if __name__ == "__main__":
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "proxy":
        sys.exit(asyncio.run(proxy(url, float(sys.argv[3]), auth_from(sys.argv[4:]))))
    sys.exit(asyncio.run(still(url, auth_from(sys.argv[3:]))))
