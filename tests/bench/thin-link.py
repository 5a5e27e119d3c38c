#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Frame age for a viewer behind a thin link: a real 512 kbit/s token bucket between two network
namespaces, the real camrelay program, a camera and viewers that read promptly.

The script makes two namespaces (server side and viewer side) joined by a veth pair with private
addresses that exist only inside them, puts a tbf qdisc on the server side's end (netem does not
work on these machines; tbf does), runs `camrelay` in the server namespace with a camera sending
~28 KB frames over loopback, --fast-viewers viewers there on loopback (9) and one viewer in the
viewer namespace across the bucket (the thin viewer), which reads as fast as the link allows. Each
frame carries the camera's wall clock in a JPEG comment; a viewer records when each part's last
byte arrived. For every camera rate of --fps (5, 8, 15 and 30 by default) and every --runs, a fresh
camrelay, camera and viewers; one table at the end gives the thin viewer's frame age p50/p90/max,
the fast viewers' and the bucket's drops, against the target (p50 <= 0.6 s, max <= 1.5 s: one
frame's transmission is 0.45 s). Everything it made is removed at the end, on failure and Ctrl-C
too.

    sudo /usr/bin/python3 tests/bench/thin-link.py              # build/, 512 kbit/s, 5,8,15,30 fps, 20 s each
    sudo /usr/bin/python3 tests/bench/thin-link.py --fps 30 --runs 5 --duration 15
    sudo /usr/bin/python3 tests/bench/thin-link.py --build /tmp/old/build   # another build

Needs root (ip netns, tc), iproute2, python3-pil (tests/bench/make-frames.py makes the frames).
"""
import argparse
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TAG = b"CRTHIN"


# ---- camera ---------------------------------------------------------------------------------

def tag_frame(jpeg, seq):
    """The frame with a COM segment right after SOI: tag, sequence number, wall clock (ns)."""
    payload = TAG + struct.pack(">QQ", seq, time.time_ns())
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def ws_connect(host, port, path="/"):
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  % (path, host, port, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("camera: no handshake answer")
        head += chunk
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError("camera: upgrade refused: %r" % head[:80])
    return sock


def ws_binary(payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", 0x82, 0x80 | n)
    elif n < 65536:
        head = struct.pack(">BBH", 0x82, 0x80 | 126, n)
    else:
        head = struct.pack(">BBQ", 0x82, 0x80 | 127, n)
    key = int.from_bytes(mask * ((n + 3) // 4), "little").to_bytes(((n + 3) // 4) * 4, "little")
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key[:n], "little")).to_bytes(
        n, "little")
    return head + mask + masked


def run_camera(args):
    names = sorted(f for f in os.listdir(args.frames) if f.endswith(".jpg"))
    frames = [open(os.path.join(args.frames, f), "rb").read() for f in names]
    if not frames:
        sys.exit("camera: no frames in " + args.frames)
    sock = ws_connect("127.0.0.1", args.port)
    sock.setblocking(True)
    interval = 1.0 / args.fps
    deadline = time.monotonic() + args.duration
    next_at = time.monotonic()
    seq = 0
    while time.monotonic() < deadline:
        seq += 1
        sock.sendall(ws_binary(tag_frame(frames[seq % len(frames)], seq)))
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # Server pings (if any) are ignored: the run is short.


# ---- viewer ---------------------------------------------------------------------------------

def run_viewer(args):
    """Reads the stream promptly; prints one JSON object with every part's age."""
    sock = socket.create_connection((args.host, args.port), timeout=10)
    query = "" if args.layout == "auto" else "?content-length=%d" % (args.layout == "length")
    sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: camrelay-thin-link\r\n\r\n"
                  % (query, args.host)).encode())
    sock.settimeout(2.0)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, buf = buf.split(b"\r\n\r\n", 1)
    boundary = head.split(b"boundary=", 1)[1].split(b"\r\n", 1)[0].strip()
    delim = b"--" + boundary
    ages, stamp_ages, sizes = [], [], []
    start = time.monotonic()
    deadline = start + args.duration
    eof = False
    while time.monotonic() < deadline and not eof:
        try:
            chunk = sock.recv(262144)
        except socket.timeout:
            continue
        now = time.time_ns()
        if not chunk:
            eof = True
        buf += chunk
        while True:
            buf = buf.lstrip(b"\r\n")
            if not buf.startswith(delim):
                break
            end_head = buf.find(b"\r\n\r\n")
            if end_head < 0:
                break
            headers = {}
            for line in buf[len(delim):end_head].split(b"\r\n"):
                if b":" in line:
                    k, v = line.split(b":", 1)
                    headers[k.strip().lower()] = v.strip()
            body_at = end_head + 4
            if b"content-length" in headers:
                size = int(headers[b"content-length"])
                if len(buf) < body_at + size:
                    break
                body = buf[body_at:body_at + size]
                buf = buf[body_at + size:]
            else:
                nxt = buf.find(b"\r\n" + delim, body_at)
                if nxt < 0:
                    break
                body = buf[body_at:nxt]
                buf = buf[nxt:]
            at = body.find(b"\xff\xfe")
            if at == 2 and body[6:6 + len(TAG)] == TAG:
                seq, sent = struct.unpack(">QQ", body[6 + len(TAG):6 + len(TAG) + 16])
                if time.monotonic() - start >= args.warmup:
                    ages.append((now - sent) / 1e9)
                    sizes.append(len(body))
                    stamp = headers.get(b"x-timestamp")
                    if stamp:
                        stamp_ages.append(now / 1e9 - float(stamp))
    print(json.dumps({"ages": ages, "stamp_ages": stamp_ages, "sizes": sizes,
                      "seconds": args.duration - args.warmup}))


# ---- set-up ---------------------------------------------------------------------------------

def sh(*argv, check=True):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


TARGET_P50_S = 0.6
TARGET_MAX_S = 1.5


def qdisc_drops(ns, dev):
    text = sh("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev).stdout.decode()
    words = text.replace(",", " ").replace("(", " ").split()
    return int(words[words.index("dropped") + 1]) if "dropped" in words else 0


def stop_procs(procs):
    for p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    del procs[:]


def one_run(args, fps, ns_server, ns_viewer, dev, server_ip, tmp, procs):
    """camrelay, a camera at @fps, the fast viewers and the thin one; their results."""
    port = 3001
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(args.build, "plugins"),
               GST_REGISTRY=os.path.join(tmp, "registry.bin"))
    log = open(args.log or os.path.join(tmp, "camrelay.log"), "ab")
    program = os.path.join(args.build, "pipeline", "camrelay")
    server = subprocess.Popen(["ip", "netns", "exec", ns_server, program, "--port", str(port)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    procs.append(server)
    for _ in range(150):
        if sh("ip", "netns", "exec", ns_server, sys.executable, "-c",
              "import socket; socket.create_connection(('127.0.0.1', %d), 0.2)" % port,
              check=False).returncode == 0:
            break
        if server.poll() is not None:
            raise RuntimeError("camrelay exited: see " + log.name)
        time.sleep(0.1)

    me = os.path.abspath(__file__)
    total = args.duration + args.warmup
    procs.append(subprocess.Popen(["ip", "netns", "exec", ns_server, sys.executable, me,
                                   "--role", "camera", "--port", str(port), "--fps", str(fps),
                                   "--duration", str(total + 2), "--frames", args.frames],
                                  start_new_session=True))
    time.sleep(0.5)
    drops0 = qdisc_drops(ns_server, dev)
    viewers = [("thin", ns_viewer, server_ip)] + \
        [("fast", ns_server, "127.0.0.1")] * args.fast_viewers
    running = []
    for kind, ns, host in viewers:
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, me, "--role", "viewer",
                              "--host", host, "--port", str(port), "--duration", str(total),
                              "--warmup", str(args.warmup), "--layout", args.layout],
                             stdout=subprocess.PIPE, start_new_session=True)
        procs.append(p)
        running.append((kind, p))
    results = {"thin": None, "fast": []}
    for kind, p in running:
        out, _ = p.communicate(timeout=total + 30)
        if p.returncode != 0:
            raise RuntimeError("a %s viewer failed" % kind)
        r = json.loads(out)
        if kind == "thin":
            results["thin"] = r
        else:
            results["fast"].append(r)
    results["drops"] = qdisc_drops(ns_server, dev) - drops0
    stop_procs(procs)
    return results


def row(fps, res):
    thin = res["thin"]
    ages = thin["ages"]
    fast = [a for r in res["fast"] for a in r["ages"]]
    fast_fps = [len(r["ages"]) / r["seconds"] for r in res["fast"]]
    return {"fps": fps, "thin_frames": len(ages), "thin_fps": len(ages) / thin["seconds"],
            "p50": pct(ages, 50), "p90": pct(ages, 90), "max": max(ages) if ages else float("nan"),
            "fast_fps_min": min(fast_fps) if fast_fps else float("nan"),
            "fast_p50_ms": pct(fast, 50) * 1000, "fast_max_ms": (max(fast) if fast else 0) * 1000,
            "drops": res["drops"],
            "met": bool(ages) and pct(ages, 50) <= TARGET_P50_S and max(ages) <= TARGET_MAX_S}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build directory holding pipeline/camrelay and plugins/ (build)")
    ap.add_argument("--rate", default="512kbit", help="tbf rate (512kbit)")
    ap.add_argument("--burst", default="16kb", help="tbf burst (16kb)")
    ap.add_argument("--latency", default="400ms", help="tbf latency (400ms)")
    ap.add_argument("--fps", default="5,8,15,30",
                    help="camera frames per second, one run per rate (5,8,15,30)")
    ap.add_argument("--runs", type=int, default=1, help="runs per rate (1)")
    ap.add_argument("--fast-viewers", type=int, default=9,
                    help="viewers on loopback beside the thin one (9)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds measured per run (20)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds ignored first (3)")
    ap.add_argument("--layout", choices=["auto", "length", "early"], default="auto",
                    help="what the viewers ask for: auto (no query), length (?content-length=1), "
                    "early (?content-length=0)")
    ap.add_argument("--frames", default=os.path.join(HERE, "out", "frames"),
                    help="directory of JPEGs (made by make-frames.py when missing)")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    ap.add_argument("--log", help="keep camrelay's output in this file")
    # Internal roles, run inside a namespace by the script itself.
    ap.add_argument("--role", choices=["camera", "viewer"], help=argparse.SUPPRESS)
    ap.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.role == "camera":
        args.fps = float(args.fps)
        return run_camera(args)
    if args.role == "viewer":
        return run_viewer(args)

    if os.geteuid() != 0:
        sys.exit("thin-link: needs root (ip netns, tc)")
    program = os.path.join(args.build, "pipeline", "camrelay")
    if not os.access(program, os.X_OK):
        sys.exit("thin-link: %s not built" % program)
    if not os.path.isdir(args.frames) or not any(f.endswith(".jpg") for f in os.listdir(args.frames)):
        subprocess.run([sys.executable, os.path.join(HERE, "make-frames.py"), args.frames], check=True)
    rates = [float(x) for x in args.fps.split(",") if x]

    tag = "crthin%d" % (os.getpid() % 100000)
    ns_server, ns_viewer = tag + "s", tag + "v"
    net = "10.%d.%d" % (200 + os.getpid() % 50, os.getpid() % 250)
    server_ip, viewer_ip = net + ".1", net + ".2"
    procs = []
    made = []
    tmp = tempfile.mkdtemp(prefix="thin-link-")

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    try:
        for ns in (ns_server, ns_viewer):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        sh("ip", "link", "add", tag + "a", "netns", ns_server, "type", "veth",
           "peer", "name", tag + "b", "netns", ns_viewer)
        for ns, dev, ip in ((ns_server, tag + "a", server_ip), (ns_viewer, tag + "b", viewer_ip)):
            sh("ip", "-n", ns, "addr", "add", ip + "/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns_server, "tc", "qdisc", "add", "dev", tag + "a", "root", "tbf",
           "rate", args.rate, "burst", args.burst, "latency", args.latency)

        rows, sizes = [], []
        for fps in rates:
            for run in range(args.runs):
                res = one_run(args, fps, ns_server, ns_viewer, tag + "a", server_ip, tmp, procs)
                r = row(fps, res)
                rows.append(r)
                sizes += res["thin"]["sizes"]
                print("%4g fps run %d: thin %4.1f/s age p50 %.3f p90 %.3f max %.3f s; fast p50 %.1f "
                      "max %.1f ms; drops %d" % (fps, run + 1, r["thin_fps"], r["p50"], r["p90"],
                                                 r["max"], r["fast_p50_ms"], r["fast_max_ms"],
                                                 r["drops"]), file=sys.stderr, flush=True)

        print("thin-link: tbf rate %s burst %s latency %s; %d fast viewers; layout %s; %gs measured "
              "per run; %s" % (args.rate, args.burst, args.latency, args.fast_viewers, args.layout,
                                args.duration, program))
        if sizes:
            print("frames %d-%d bytes, mean %d" % (min(sizes), max(sizes), sum(sizes) / len(sizes)))
        print()
        print("| camera fps | thin viewer: frames/s, age p50 / p90 / max | target p50 <= %.1f s, "
              "max <= %.1f s | fast viewers (loopback): min fps, age p50 / max | tbf drops |"
              % (TARGET_P50_S, TARGET_MAX_S))
        print("|---|---|---|---|---|")
        for r in rows:
            print("| %g | %.1f/s; %.2f / %.2f / %.2f s | %s | %.1f fps; %.0f / %.0f ms | %d |" % (
                r["fps"], r["thin_fps"], r["p50"], r["p90"], r["max"],
                "met" if r["met"] else "**not met**", r["fast_fps_min"], r["fast_p50_ms"],
                r["fast_max_ms"], r["drops"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return 0 if all(r["met"] for r in rows) else 1
    finally:
        stop_procs(procs)
        for ns in made:
            sh("ip", "netns", "del", ns, check=False)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
