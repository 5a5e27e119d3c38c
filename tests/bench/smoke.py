#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench-smoke: proves the benchmark tools work; asserts nothing about speed.

1. The load generator against its own trivial server: cameras reach
   viewers in both part layouts, no part is corrupt, a throttled viewer
   gets data.
2. Its camera client against Debian's python3-websockets server, which
   enforces RFC 6455 (masking, lengths, ping/pong): every frame arrives as
   a tagged JPEG in sequence, the greeting as text.
3. Its viewers against the legacy server (FastAPI + uvicorn + Pillow): the
   chunked multipart stream parses and live frames are recognised through
   Pillow's re-encoding.
A missing Python module fails its step (tools/bootstrap --tests installs them all).
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def expect(ok, what):
    if not ok:
        failures.append(what)
        benchlib.log("bench-smoke FAILED: " + what)


def short_run(loadgen, port, extra):
    return benchlib.run_loadgen(loadgen, [
        "--port", str(port), "--duration", "1", "--warmup", "0.5"] + extra,
        timeout=30)


def check_viewers(result, what):
    v = result["viewers"]
    fast = v["fast"]
    expect(v["failed"] == 0 and v["dropped"] == 0,
           "%s: viewers failed (%s)" % (what, v["first_error"]))
    expect(fast["live"] > 0, "%s: no live frame reached the viewers" % what)
    expect(fast["corrupt"] == 0, "%s: corrupt parts" % what)
    expect(fast["reordered"] == 0, "%s: frames out of order" % what)
    expect(fast["latency_ms"]["samples"] == fast["live"],
           "%s: a live frame without latency" % what)


def trivial(loadgen, frames):
    port = benchlib.free_port()
    srv = benchlib.start([loadgen, "--serve", "--port", str(port)])
    try:
        expect(benchlib.wait_port(port, srv), "trivial server did not start")
        for layout in ([], ["--content-length"]):
            what = "trivial server" + (" (Content-Length)" if layout else "")
            r = short_run(loadgen, port, [
                "--frames", frames, "--viewers", "4", "--throttled", "1",
                "--pid", str(srv.pid)] + layout)
            check_viewers(r, what)
            expect(r["cameras"]["failed"] == 0, what + ": camera failed")
            expect(r["viewers"]["throttled"]["bytes"] > 0,
                   what + ": throttled viewer got nothing")
            expect(r["viewers"]["fast"]["placeholder"] == 0,
                   what + ": placeholder from a server that has none")
            expect(r["server"]["cpu_s"] is not None, what + ": no /proc sample")
    finally:
        benchlib.stop(srv)


def websockets_reference(loadgen, frames):
    port = benchlib.free_port()
    srv = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(HERE, "ws_check_server.py"),
         "--port", str(port)], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True)
    benchlib._started.append(srv)
    try:
        expect(benchlib.wait_port(port, srv), "websockets server did not start")
        r = short_run(loadgen, port, [
            "--frames", frames, "--viewers", "0", "--fps", "0",
            "--camera-path", "/", "--greeting"])
        expect(r["cameras"]["failed"] == 0,
               "websockets: camera failed (%s)" % r["cameras"]["first_error"])
        expect(r["cameras"]["pings_answered"] > 0,
               "websockets: no ping answered")
        srv.terminate()
        out, _ = srv.communicate(timeout=10)
        import json
        summary = json.loads(out.decode().strip().splitlines()[-1])
        expect(summary["ok"], "websockets: server saw errors: %s" % summary)
        expect(summary["binary"] > 0, "websockets: no binary message")
        expect(summary["texts"] == ["hello from ESP32 camera stream!"],
               "websockets: greeting missing")
    finally:
        benchlib.stop(srv)


def legacy(loadgen, frames, root):
    port = benchlib.free_port()
    srv = benchlib.start([
        "/usr/bin/python3", os.path.join(HERE, "legacy", "legacy_server.py"),
        "--host", "127.0.0.1", "--port", str(port),
        "--placeholder", os.path.join(root, "placeholder.jpg"),
        "--log-level", "warning"])
    try:
        expect(benchlib.wait_port(port, srv), "legacy server did not start")
        r = short_run(loadgen, port, [
            "--frames", frames, "--viewers", "2", "--camera-path", "/",
            "--greeting", "--pid", str(srv.pid)])
        check_viewers(r, "legacy server")
    finally:
        benchlib.stop(srv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--source-root", required=True)
    args = ap.parse_args()
    benchlib.install_signal_handlers()

    if not benchlib.python_has("PIL"):
        benchlib.log("bench-smoke FAILED: python3-pil missing (tools/bootstrap --tests)")
        return 1
    ran = 0
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        frames = os.path.join(tmp, "frames")
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make-frames.py"),
                        frames, "--count", "8"], check=True,
                       stdout=subprocess.DEVNULL)
        try:
            trivial(args.loadgen, frames)
            ran += 1
            if benchlib.python_has("websockets"):
                websockets_reference(args.loadgen, frames)
                ran += 1
            else:
                expect(False, "python3-websockets missing (tools/bootstrap --tests)")
            if benchlib.python_has("fastapi", "uvicorn"):
                legacy(args.loadgen, frames, args.source_root)
                ran += 1
            else:
                expect(False, "python3-fastapi/uvicorn missing (tools/bootstrap --tests)")
        finally:
            benchlib.stop_all()
    if failures:
        return 1
    benchlib.log("bench-smoke: %d steps passed" % ran)
    return 0


if __name__ == "__main__":
    sys.exit(main())
