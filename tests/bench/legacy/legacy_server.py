#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The legacy camera relay, reconstructed as it was: the benchmark baseline.

FastAPI + uvicorn + Pillow, following the description and wire contract in
shared/docs/legacy-server.md. Its weaknesses are kept on purpose:

- each viewer runs its own loop with no pause: read image.jpg, decode and
  re-encode it with Pillow, send it as a part (CPU grows with viewers even
  when nothing changes);
- frames are written to image.jpg while viewers read it (torn reads make
  the placeholder flash in a healthy stream);
- a stalled camera is invisible, the placeholder only shows on read or
  decode errors; any client may push images; no size limit; a slow viewer
  has no bound on what is queued for it.

Debian packages: python3-fastapi python3-uvicorn python3-pil.

    /usr/bin/python3 legacy_server.py [--port 3001] [--placeholder FILE]
"""
import argparse
import io
import os
import shutil
import tempfile

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from PIL import Image

IMAGE_PATH = "image.jpg"
PLACEHOLDER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "placeholder.jpg")

app = FastAPI()


async def receive_frames(websocket: WebSocket):
    await websocket.accept()
    print("Camera connected")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                # Text (the firmware's greeting): accepted and ignored.
                continue
            if len(data) > 5000:
                try:
                    Image.open(io.BytesIO(data))  # parses the header only
                    with open(IMAGE_PATH, "wb") as f:
                        f.write(data)
                except Exception as e:
                    print("Invalid image:", e)
    except WebSocketDisconnect:
        pass
    except Exception as e:
        print("WebSocket error:", e)
    print("Camera disconnected")


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket):
    await receive_frames(websocket)


@app.websocket("/")
async def websocket_root(websocket: WebSocket):
    # ESP32-CAM firmware (ArduinoWebsockets) connects to "/".
    await receive_frames(websocket)


def generate_frames():
    while True:
        try:
            with open(IMAGE_PATH, "rb") as f:
                data = f.read()
            image = Image.open(io.BytesIO(data))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG")
            frame = buffer.getvalue()
        except Exception as e:
            print("Error reading image:", e)
            with open(PLACEHOLDER_PATH, "rb") as f:
                frame = f.read()
        yield (b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + frame + b"\r\n")


@app.get("/")
def video_feed():
    return StreamingResponse(generate_frames(),
                             media_type="multipart/x-mixed-replace; boundary=frame")


def main():
    global PLACEHOLDER_PATH
    ap = argparse.ArgumentParser(description="legacy camera relay (baseline)")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=3001)
    ap.add_argument("--placeholder", default=PLACEHOLDER_PATH)
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args()
    PLACEHOLDER_PATH = os.path.abspath(args.placeholder)

    # image.jpg lives in a working directory of its own, as it lived beside
    # the program, so that two instances never share it.
    workdir = tempfile.mkdtemp(prefix="legacy-camrelay-")
    os.chdir(workdir)
    try:
        uvicorn.run(app, host=args.host, port=args.port,
                    log_level=args.log_level)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
