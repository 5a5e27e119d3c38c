#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The HTTP side of the ESP32-CAM CameraWebServer sketch (app_httpd.cpp), for camrelay's tests.

/stream answers multipart/x-mixed-replace;boundary=123456789000000000000987654321 with chunked
transfer encoding, one chunk per httpd_resp_send_chunk() call of the sketch: the boundary line,
then the part header (Content-Type, Content-Length, X-Timestamp), then the JPEG. The board has a
single stream task, so a second /stream client waits until the first one leaves. /capture answers
one JPEG. /stats (not on the board) says how many stream connections were served, for the tests.

usage: esp32cam.py PORT FRAMES_DIR [--fps N] [--auth USER:PASSWORD] [--digest]
The frames are the *.jpg files of FRAMES_DIR, sent in turn. --auth asks for HTTP Basic (the
usual reverse proxy in front of a board), with --digest for HTTP Digest (RFC 7616, MD5, qop=auth)
as many IP cameras do."""

import argparse
import base64
import glob
import hashlib
import json
import re
import socket
import socketserver
import sys
import threading
import time

PART_BOUNDARY = b"123456789000000000000987654321"
STREAM_CONTENT_TYPE = b"multipart/x-mixed-replace;boundary=" + PART_BOUNDARY
STREAM_BOUNDARY = b"\r\n--" + PART_BOUNDARY + b"\r\n"
STREAM_PART = b"Content-Type: image/jpeg\r\nContent-Length: %u\r\nX-Timestamp: %d.%06d\r\n\r\n"

REALM = "esp32"
NONCE = "5ba3c4d9e0f1a2b3c4d5e6f708192a3b"

stream_lock = threading.Lock()
stats_lock = threading.Lock()
stats = {"stream_connections": 0, "stream_active": 0, "stream_frames": 0, "captures": 0,
         "unauthorized": 0}


class Handler(socketserver.StreamRequestHandler):
    def read_request(self):
        line = self.rfile.readline(8192)
        if not line:
            return None, None
        parts = line.decode("latin-1").split()
        headers = {}
        while True:
            h = self.rfile.readline(8192)
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        return (parts[1] if len(parts) > 1 else "/"), headers

    def digest_ok(self, header, path):
        if not header.startswith("Digest "):
            return False
        f = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]*))', header[7:])}
        user, _, password = self.server.auth.partition(":")
        md5 = lambda t: hashlib.md5(t.encode()).hexdigest()
        if f.get("username") != user or f.get("nonce") != NONCE:
            return False
        ha1 = md5("%s:%s:%s" % (user, REALM, password))
        ha2 = md5("GET:%s" % f.get("uri", path))
        want = md5("%s:%s:%s:%s:%s:%s" % (ha1, NONCE, f.get("nc", ""), f.get("cnonce", ""),
                                          f.get("qop", ""), ha2))
        return f.get("response") == want

    def authorized(self, headers, path):
        if not self.server.auth:
            return True
        got = headers.get("authorization", "")
        if self.server.digest:
            if self.digest_ok(got, path):
                return True
            challenge = b'Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5' % (
                REALM.encode(), NONCE.encode())
        else:
            if got == "Basic " + base64.b64encode(self.server.auth.encode()).decode():
                return True
            challenge = b'Basic realm="%s"' % REALM.encode()
        with stats_lock:
            stats["unauthorized"] += 1
        self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: " + challenge + b"\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        return False

    def chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def handle(self):
        path, headers = self.read_request()
        if path is None:
            return
        if path == "/stats":
            with stats_lock:
                body = json.dumps(stats).encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            return
        if not self.authorized(headers, path):
            return
        if path.startswith("/capture"):
            with stats_lock:
                stats["captures"] += 1
            frame = self.server.next_frame()
            now = time.time()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                             b"Content-Disposition: inline; filename=capture.jpg\r\n"
                             b"Access-Control-Allow-Origin: *\r\n"
                             b"X-Timestamp: %d.%06d\r\n" % (int(now), int(now * 1e6) % 1000000) +
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(frame) + frame)
            return
        if path.startswith("/stream"):
            # The board's single stream task: the next client waits for this one to leave.
            with stream_lock:
                with stats_lock:
                    stats["stream_connections"] += 1
                    stats["stream_active"] += 1
                try:
                    self.stream()
                except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
                    pass
                finally:
                    with stats_lock:
                        stats["stream_active"] -= 1
            return
        self.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def stream(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + STREAM_CONTENT_TYPE + b"\r\n"
                         b"Transfer-Encoding: chunked\r\nAccess-Control-Allow-Origin: *\r\n"
                         b"X-Framerate: 60\r\n\r\n")
        period = 1.0 / self.server.fps
        next_time = time.monotonic()
        while not self.server.stopping:
            frame = self.server.next_frame()
            now = time.time()
            self.chunk(STREAM_BOUNDARY)
            self.chunk(STREAM_PART % (len(frame), int(now), int(now * 1e6) % 1000000))
            self.chunk(frame)
            with stats_lock:
                stats["stream_frames"] += 1
            next_time += period
            delay = next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port, frames, fps, auth, digest):
        super().__init__(("127.0.0.1", port), Handler)
        self.frames = frames
        self.index = 0
        self.fps = fps
        self.auth = auth
        self.digest = digest
        self.stopping = False
        self.frame_lock = threading.Lock()

    def next_frame(self):
        with self.frame_lock:
            frame = self.frames[self.index % len(self.frames)]
            self.index += 1
            return frame


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("frames")
    p.add_argument("--fps", type=float, default=10)
    p.add_argument("--auth", default="")
    p.add_argument("--digest", action="store_true")
    a = p.parse_args()
    frames = [open(f, "rb").read() for f in sorted(glob.glob(a.frames + "/*.jpg"))]
    if not frames:
        sys.exit("no *.jpg in " + a.frames)
    server = Server(a.port, frames, a.fps, a.auth, a.digest)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
