#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A webhook receiver for the e2e-notify suite: Python's own http.server on 127.0.0.1.

Prints "READY <port>" once listening, then one line per POST:
    EVENT <signature> <body>
where <signature> is "valid", "invalid" or "none": the X-Camrelay-Signature header checked here,
independently of camrelay, as HMAC-SHA256 of the body with --secret ("sha256=<hex>"); or
"valid-raw-only" when it is the body's but README's Node-RED check would still refuse it: that
check signs JSON.stringify(JSON.parse(body)), so the body must be the compact serialisation of
its own parse (no spaces, numbers in their shortest form: 0.047, not 0.0470). Python's compact
json.dumps writes such values as JSON.stringify does.
With --hang it reads each request and never answers (a receiver that hangs); with --down-while
PATH it answers 503 (and prints "DOWN <body>") while PATH exists."""
import os
import argparse
import hashlib
import hmac
import http.server
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secret", default="")
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--down-while", default="")
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.down_while and os.path.exists(args.down_while):
                print("DOWN", body.decode(), flush=True)
                self.send_response(503)
                self.end_headers()
                return
            given = self.headers.get("X-Camrelay-Signature")
            if given is None:
                sig = "none"
            else:
                want = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
                sig = "valid" if hmac.compare_digest(given, want) else "invalid"
                compact = json.dumps(json.loads(body), separators=(",", ":"),
                                     ensure_ascii=False).encode()
                if sig == "valid" and compact != body:
                    sig = "valid-raw-only"
            print("EVENT", sig, body.decode(), flush=True)
            if args.hang:
                time.sleep(3600)
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("READY", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
