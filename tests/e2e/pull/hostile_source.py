#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Broken and hostile HTTP cameras for camrelay's tests, one per path: /case/NAME answers the way
case NAME misbehaves (the list is CASES below, each with what it does). /case/good is a healthy
MJPEG camera at --fps. /stats answers JSON: per case, how many connections it got and how many of
them asked for a byte range ("Range:"), which a live stream must never be asked for, and how many
good frames it sent.

A connection that starts with a TLS handshake (an https:// URL pointed at this plain server) is
answered as nginx does, with a plain-HTTP 400, and counted as case "tls".

usage: hostile_source.py PORT FRAMES_DIR [--fps N] [--closed-port N]
The frames are the *.jpg files of FRAMES_DIR, sent in turn. --closed-port is a port nobody
listens on, for the redirect that leads there."""

import argparse
import glob
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib

stats_lock = threading.Lock()
stats = {}

BOUNDARY = b"hostileboundary"
MJPEG_TYPE = b"multipart/x-mixed-replace; boundary=" + BOUNDARY


def count(case, key):
    with stats_lock:
        stats.setdefault(case, {"connections": 0, "range_requests": 0, "frames": 0})
        stats[case][key] += 1


class Handler(socketserver.StreamRequestHandler):
    # ---- helpers -------------------------------------------------------------------------------
    def send(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def head(self, status=b"200 OK", ctype=MJPEG_TYPE, extra=b""):
        self.send(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\n" + extra +
                  b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")

    def frame(self):
        f = self.server.frames[self.n % len(self.server.frames)]
        self.n += 1
        return f

    def part(self, body, length=None):
        if length is None:
            length = b"%d" % len(body)
        return (b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: " + length +
                b"\r\n\r\n" + body + b"\r\n")

    def pace(self, fps=None):
        time.sleep(1.0 / (fps or self.server.args.fps))

    def stream(self, frames=None, fps=None):
        """Good parts until the client leaves (or @frames are sent)."""
        i = 0
        while frames is None or i < frames:
            self.send(self.part(self.frame()))
            count(self.case, "frames")
            self.pace(fps)
            i += 1

    def endless(self, chunk=b"\x00" * 65536):
        while True:
            self.send(chunk)

    def reset(self):
        """Ends the connection with a TCP RST instead of a FIN."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def redirect(self, location):
        self.send(b"HTTP/1.1 302 Found\r\nLocation: " + location +
                  b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    # ---- the cases -----------------------------------------------------------------------------
    def case_good(self):
        """A healthy MJPEG camera."""
        self.head()
        self.stream()

    def case_endless_headers(self):
        """A status line, then header lines forever."""
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: " + MJPEG_TYPE + b"\r\n")
        while True:
            self.send(b"X-Padding: " + b"a" * 1000 + b"\r\n")

    def case_huge_header(self):
        """One header line of 1 MB, then a good stream."""
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: " + MJPEG_TYPE + b"\r\nX-Huge: " +
                  b"h" * (1 << 20) + b"\r\nConnection: close\r\n\r\n")
        self.stream()

    def case_garbage_status(self):
        """A first line that is not a status line, then bytes."""
        self.send(b"FOO BAR BAZ\r\nContent-Type: image/jpeg\r\n\r\n")
        self.stream()

    def case_binary_garbage(self):
        """Random-looking binary bytes instead of an answer."""
        self.endless(bytes(range(256)) * 256)

    def case_http09(self):
        """An HTTP/0.9 answer: no status line, no headers, the parts straight away."""
        self.stream()

    def case_no_boundary(self):
        """multipart/x-mixed-replace without a boundary parameter."""
        self.head(ctype=b"multipart/x-mixed-replace")
        self.stream()

    def case_absurd_boundary(self):
        """A boundary of 8000 characters, used as announced."""
        b = b"x" * 8000
        self.head(ctype=b"multipart/x-mixed-replace; boundary=" + b)
        while True:
            f = self.frame()
            self.send(b"--" + b + b"\r\nContent-Type: image/jpeg\r\n\r\n" + f + b"\r\n")
            self.pace()

    def case_wrong_boundary(self):
        """The header announces one boundary, the body uses another."""
        self.head(ctype=b"multipart/x-mixed-replace; boundary=announced")
        while True:
            self.send(b"--actual\r\nContent-Type: image/jpeg\r\n\r\n" + self.frame() + b"\r\n")
            self.pace()

    def case_empty_parts(self):
        """Parts with Content-Length: 0."""
        self.head()
        while True:
            self.send(self.part(b""))
            self.pace()

    def case_empty_parts_no_length(self):
        """Parts with no bytes between the headers and the next boundary."""
        self.head()
        while True:
            self.send(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\n\r\n")
            self.pace()

    def case_endless_part(self):
        """A part whose next boundary never comes: a JPEG start, then zeros."""
        self.head()
        self.send(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8")
        self.endless()

    def case_endless_part_headers(self):
        """A part whose header block never ends."""
        self.head()
        self.send(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n")
        while True:
            self.send(b"X-Part-Padding: " + b"p" * 1000 + b"\r\n")

    def case_short_length(self):
        """Parts whose Content-Length is smaller than the JPEG that follows."""
        self.head()
        while True:
            f = self.frame()
            self.send(self.part(f, b"%d" % (len(f) // 2)))
            self.pace()

    def case_long_length(self):
        """Parts whose Content-Length is larger than the JPEG that follows."""
        self.head()
        while True:
            f = self.frame()
            self.send(self.part(f, b"%d" % (len(f) + 3000)))
            self.pace()

    def case_absurd_length(self):
        """Part lengths beyond any integer, and negative ones."""
        self.head()
        lengths = [b"99999999999999999999999999", b"-5", b"0x100", b"18446744073709551615"]
        i = 0
        while True:
            self.send(self.part(self.frame(), lengths[i % len(lengths)]))
            i += 1
            self.pace()

    def case_bogus_chunks(self):
        """Transfer-Encoding: chunked with a chunk size that is not a number."""
        self.head(extra=b"Transfer-Encoding: chunked\r\n")
        p = self.part(self.frame())
        self.send(b"%x\r\n" % len(p) + p + b"\r\nzzzz\r\n" + b"garbage" * 1000)
        self.endless(b"nonsense\r\n" * 1000)

    def case_huge_chunk(self):
        """Transfer-Encoding: chunked announcing a chunk of 2^64-1 bytes, then zeros."""
        self.head(extra=b"Transfer-Encoding: chunked\r\n")
        self.send(b"ffffffffffffffff\r\n--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\n")
        self.endless()

    def case_gzip_bomb(self):
        """Content-Encoding: gzip of an endless stream of zeros (1000:1)."""
        self.head(extra=b"Content-Encoding: gzip\r\n")
        self.send(self.server.gzip_start)
        self.endless(self.server.gzip_more)

    def case_gzip_snapshot(self):
        """A snapshot whose gzip body inflates to gigabytes of zeros."""
        self.head(ctype=b"image/jpeg", extra=b"Content-Encoding: gzip\r\n")
        self.send(self.server.gzip_start)
        self.endless(self.server.gzip_more)

    def case_redirect_loop(self):
        """Redirects to itself, forever."""
        self.redirect(b"/case/redirect-loop")

    def case_redirect_ftp(self):
        """Redirects to a scheme camrelay does not speak."""
        self.redirect(b"ftp://127.0.0.1/stream")

    def case_redirect_file(self):
        """Redirects to a local file."""
        self.redirect(b"file:///etc/passwd")

    def case_redirect_closed(self):
        """Redirects to a port nobody listens on."""
        self.redirect(b"http://127.0.0.1:%d/stream" % self.server.args.closed_port)

    def case_auth_loop(self):
        """401 whatever the credentials."""
        self.send(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="cam"\r\n'
                  b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def case_flapping(self):
        """Every other try a 503; in between, three good frames and a hang-up."""
        with stats_lock:
            odd = stats[self.case]["connections"] % 2 == 1
        if odd:
            self.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                      b"Connection: close\r\n\r\n")
            return
        self.head()
        self.stream(frames=3)

    def case_moving(self):
        """Two seconds of good frames, then the end of the answer, on every try: not hostile, an
        edge's origin replaced behind a load balancer again and again."""
        self.head()
        self.stream(frames=10)

    def case_server_error(self):
        """500 on every try, with an HTML body."""
        body = b"<html><body>Internal error</body></html>"
        self.send(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    def case_slowloris(self):
        """Headers and a part start, then one byte every 3 s."""
        self.head()
        self.send(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\n\r\n")
        for b in self.frame():
            self.send(bytes([b]))
            time.sleep(3)

    def case_slow_headers(self):
        """The status line one byte every 2 s."""
        for b in b"HTTP/1.1 200 OK\r\n":
            self.send(bytes([b]))
            time.sleep(2)

    def case_silent(self):
        """Reads the request and never answers."""
        time.sleep(3600)

    def case_silent_after_headers(self):
        """Answers the headers, then never a byte."""
        self.head()
        time.sleep(3600)

    def case_hang_up(self):
        """Closes the connection without a byte."""

    def case_empty_answer(self):
        """Good headers, then the connection ends with no part."""
        self.head()

    def case_reset_mid_frame(self):
        """Two frames, half of the third, then a TCP reset."""
        self.head()
        self.stream(frames=2)
        f = self.part(self.frame())
        self.send(f[: len(f) // 2])
        self.reset()

    def case_flood(self):
        """300 frames a second."""
        self.head()
        self.stream(fps=300)

    def case_frame_20mb(self):
        """A 20 MB part: a JPEG start, then zeros."""
        self.head()
        self.send(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d"
                  b"\r\n\r\n\xff\xd8" % (20 << 20))
        for _ in range((20 << 20) // 65536):
            self.send(b"\x00" * 65536)
        self.send(b"\r\n")
        self.stream()

    def case_huge_sof(self):
        """Frames whose SOF says 65535x65535."""
        self.head()
        while True:
            self.send(self.part(self.server.huge_sof))
            self.pace()

    def case_truncated(self):
        """Parts holding the first half of a JPEG, correctly delimited."""
        self.head()
        while True:
            f = self.frame()
            self.send(self.part(f[: len(f) // 2]))
            self.pace()

    def case_not_jpeg(self):
        """Well-formed parts that hold text."""
        self.head()
        while True:
            self.send(self.part(b"this is not a picture " * 400))
            self.pace()

    def case_html(self):
        """A login page."""
        body = b"<html><body><form>login</form></body></html>"
        self.head(ctype=b"text/html", extra=b"Content-Length: %d\r\n" % len(body))
        self.send(body)

    def case_text(self):
        """A plain-text error."""
        body = b"stream limit reached\n"
        self.head(ctype=b"text/plain", extra=b"Content-Length: %d\r\n" % len(body))
        self.send(body)

    def case_snapshot_1gb(self):
        """A snapshot that says 1 GB and sends it: a JPEG start, then zeros."""
        self.head(ctype=b"image/jpeg", extra=b"Content-Length: %d\r\n" % (1 << 30))
        self.send(b"\xff\xd8")
        self.endless()

    def case_snapshot_60s(self):
        """A good snapshot delivered over 60 s."""
        f = self.frame()
        self.head(ctype=b"image/jpeg", extra=b"Content-Length: %d\r\n" % len(f))
        step = max(1, len(f) // 120)
        for i in range(0, len(f), step):
            self.send(f[i:i + step])
            time.sleep(0.5)

    # ---- dispatch ------------------------------------------------------------------------------
    def handle(self):
        self.n = 0
        first = self.rfile.peek(1)[:1] if hasattr(self.rfile, "peek") else b""
        if first == b"\x16":
            count("tls", "connections")
            self.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                      b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            return
        line = self.rfile.readline(8192)
        headers = []
        while True:
            h = self.rfile.readline(8192)
            if h in (b"\r\n", b"\n", b""):
                break
            headers.append(h.lower())
        parts = line.split()
        path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
        if path == "/stats":
            with stats_lock:
                body = json.dumps(stats).encode()
            self.head(ctype=b"application/json", extra=b"Content-Length: %d\r\n" % len(body))
            self.send(body)
            return
        # The query only names the counters: /case/good?as=good-2 is case good, counted apart.
        name = path[len("/case/"):] if path.startswith("/case/") else ""
        name, _, query = name.partition("?")
        fn = getattr(self, "case_" + name.replace("-", "_"), None)
        if query.startswith("as="):
            name = query[3:]
        if fn is None:
            self.send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self.case = name
        count(name, "connections")
        if any(h.startswith(b"range:") for h in headers):
            count(name, "range_requests")
        try:
            fn()
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64


def gzip_bomb_parts():
    """A gzip header and first deflate block of zeros, and a block that may follow it forever
    (the window is all zeros, so the same block stays valid)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\x00" * (8 << 20)
    start = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    more = c.compress(zeros) + c.flush(zlib.Z_SYNC_FLUSH)
    return start, more


def with_huge_sof(jpeg):
    """@jpeg with the height and width of its SOF set to 65535."""
    out = bytearray(jpeg)
    i = 2
    while i + 4 < len(out):
        marker = out[i + 1]
        length = (out[i + 2] << 8) | out[i + 3]
        if marker in (0xC0, 0xC1, 0xC2):
            out[i + 5:i + 9] = b"\xff\xff\xff\xff"
            break
        i += 2 + length
    return bytes(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("frames")
    p.add_argument("--fps", type=float, default=5)
    p.add_argument("--closed-port", type=int, default=9)
    a = p.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.args = a
    server.frames = [open(f, "rb").read() for f in sorted(glob.glob(a.frames + "/*.jpg"))]
    if not server.frames:
        sys.exit("no *.jpg in " + a.frames)
    server.gzip_start, server.gzip_more = gzip_bomb_parts()
    server.huge_sof = with_huge_sof(server.frames[0])
    print("listening", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
