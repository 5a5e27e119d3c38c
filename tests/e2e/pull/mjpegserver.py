#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An MJPEG-over-HTTP camera with a choice of the multipart spellings seen in the field, for
camrelay's tests: the boundary as the Content-Type header gives it (quoted or not, with or
without leading dashes), parts with or without Content-Length, chunked or not.

usage: mjpegserver.py PORT FRAMES_DIR [--fps N] [--header-boundary B] [--body-boundary B]
                      [--no-length] [--chunked] [--status CODE] [--html] [--not-jpeg]
                      [--endless-part] [--stall-after N]
--header-boundary is written as is after "boundary=" (so it may carry quotes); --body-boundary
is the line that starts each part (default "--" + the header boundary without quotes)."""

import argparse
import glob
import socketserver
import sys
import time


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(8192)
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        a = self.server.args
        if a.status != 200:
            body = b"<html><body>no</body></html>"
            self.wfile.write(b"HTTP/1.1 %d Nope\r\nContent-Type: text/html\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (a.status, len(body))
                             + body)
            return
        if a.html:
            body = b"<html><body>login first</body></html>"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            return
        header_b = a.header_boundary.encode()
        body_b = (a.body_boundary or ("--" + a.header_boundary.strip('"'))).encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" +
                         header_b + b"\r\n" +
                         (b"Transfer-Encoding: chunked\r\n" if a.chunked else b"Connection: close\r\n") +
                         b"\r\n")
        i = 0
        try:
            if a.endless_part:
                # A part whose boundary never comes.
                self.wfile.write(body_b + b"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8")
                while True:
                    self.wfile.write(b"\x00" * 65536)
            while True:
                if a.stall_after and i >= a.stall_after:
                    # Connected, silent, in the middle of a part.
                    self.wfile.write(body_b + b"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8")
                    self.wfile.flush()
                    time.sleep(3600)
                frame = self.server.frames[i % len(self.server.frames)]
                if a.not_jpeg:
                    frame = b"this is not a picture " * 400
                i += 1
                part = body_b + b"\r\nContent-Type: image/jpeg\r\n"
                if not a.no_length:
                    part += b"Content-Length: %d\r\n" % len(frame)
                part += b"\r\n" + frame + b"\r\n"
                if a.chunked:
                    part = b"%x\r\n" % len(part) + part + b"\r\n"
                self.wfile.write(part)
                self.wfile.flush()
                time.sleep(1.0 / a.fps)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("frames")
    p.add_argument("--fps", type=float, default=10)
    p.add_argument("--header-boundary", default="frame")
    p.add_argument("--body-boundary", default="")
    p.add_argument("--no-length", action="store_true")
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--html", action="store_true")
    p.add_argument("--not-jpeg", action="store_true")
    p.add_argument("--endless-part", action="store_true")
    p.add_argument("--stall-after", type=int, default=0)
    a = p.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.args = a
    server.frames = [open(f, "rb").read() for f in sorted(glob.glob(a.frames + "/*.jpg"))]
    if not server.frames:
        sys.exit("no *.jpg in " + a.frames)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
