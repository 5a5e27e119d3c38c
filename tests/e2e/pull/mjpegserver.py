#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An MJPEG-over-HTTP camera with a choice of the multipart spellings seen in the field, for
camrelay's tests: the boundary as the Content-Type header gives it (quoted or not, with or
without leading dashes), parts with or without Content-Length, chunked or not.

usage: mjpegserver.py PORT FRAMES_DIR [--fps N] [--header-boundary B] [--body-boundary B]
                      [--no-length] [--chunked] [--status CODE] [--html] [--not-jpeg]
                      [--endless-part] [--stall-after N] [--snapshot] [--snapshot-size N]
                      [--body-file F --content-type T] [--close-after N] [--quiet-after N
                      --quiet-for S] [--auth USER:PASSWORD] [--print-requests]
                      [--tls CERT KEY]
--header-boundary is written as is after "boundary=" (so it may carry quotes); --body-boundary
is the line that starts each part (default "--" + the header boundary without quotes).

--snapshot answers one JPEG (image/jpeg) per request, as a camera's /capture does; with
--snapshot-size N the picture is N bytes (a JPEG start and zeros), generated as it is sent;
--no-length leaves its Content-Length out. --body-file answers that file's bytes with
--content-type (an MP4 or a text page where a camera was expected). --close-after N ends the
connection after N frames and half of the next (a flapping camera). --quiet-after N --quiet-for S
goes silent for S seconds after N frames, then carries on (a motion-only camera). --auth asks for
HTTP Basic. --print-requests prints each request line and its Authorization header as received
("request: ...", "authorization: ...") and "sent: N" with the bytes of each answer. --tls serves
https with that certificate and key."""

import argparse
import base64
import glob
import socketserver
import ssl
import sys
import time


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        sent = [0]
        write = self.wfile.write

        def counted(data):
            write(data)
            sent[0] += len(data)
        self.wfile.write = counted
        try:
            self.answer()
        except (ssl.SSLError, OSError):
            pass  # a client that refused the certificate, or went away
        finally:
            if self.server.args.print_requests:
                print("sent: %d" % sent[0], flush=True)

    def answer(self):
        line = self.rfile.readline(8192)
        auth = ""
        while True:
            h = self.rfile.readline(8192)
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            if k.strip().lower() == "authorization":
                auth = v.strip()
        a = self.server.args
        if a.print_requests:
            print("request: " + line.decode("latin-1").rstrip("\r\n"), flush=True)
            print("authorization: " + auth, flush=True)
        if a.auth and auth != "Basic " + base64.b64encode(a.auth.encode()).decode():
            self.wfile.write(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        try:
            if a.snapshot:
                return self.snapshot()
            if a.body_file:
                body = open(a.body_file, "rb").read()
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n" % (a.content_type.encode(), len(body))
                                 + body)
                return
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
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
                if a.close_after and i >= a.close_after:
                    # Half a part, then the connection ends: a camera that flaps.
                    self.wfile.write(body_b + b"\r\nContent-Type: image/jpeg\r\n\r\n" +
                                     self.server.frames[0][:len(self.server.frames[0]) // 2])
                    self.wfile.flush()
                    return
                if a.quiet_after and i == a.quiet_after:
                    time.sleep(a.quiet_for)
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


    def snapshot(self):
        a = self.server.args
        if a.snapshot_size:
            size = a.snapshot_size
            head = b"\xff\xd8"
        else:
            frame = self.server.frames[self.server.served % len(self.server.frames)]
            size = len(frame)
        self.server.served += 1
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n" +
                         (b"" if a.no_length else b"Content-Length: %d\r\n" % size) +
                         b"Connection: close\r\n\r\n")
        if not a.snapshot_size:
            self.wfile.write(frame)
            return
        self.wfile.write(head)
        left = size - len(head)
        block = b"\x00" * 65536
        while left > 0:
            self.wfile.write(block[:min(left, len(block))])
            left -= len(block)


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
    p.add_argument("--snapshot", action="store_true")
    p.add_argument("--snapshot-size", type=int, default=0)
    p.add_argument("--body-file", default="")
    p.add_argument("--content-type", default="application/octet-stream")
    p.add_argument("--close-after", type=int, default=0)
    p.add_argument("--quiet-after", type=int, default=0)
    p.add_argument("--quiet-for", type=float, default=0)
    p.add_argument("--auth", default="")
    p.add_argument("--print-requests", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.args = a
    server.served = 0
    if a.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(a.tls[0], a.tls[1])
        # The handshake happens in the handler's thread: a client that refuses the certificate
        # costs that thread only.
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    server.frames = [open(f, "rb").read() for f in sorted(glob.glob(a.frames + "/*.jpg"))]
    if not server.frames:
        sys.exit("no *.jpg in " + a.frames)
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
