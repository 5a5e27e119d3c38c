#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The scale-out recipe of docs/SCALING.md, for real, on 127.0.0.1: HAProxy running the shipped
configs/haproxy.cfg, 3 origin and 2 edge camrelays, 20 cameras pushing through HAProxy and a few
hundred viewers reading through it. It checks what the recipe promises:

  * every viewer gets live frames at the camera's rate (and ?fps=2 viewers 2 a second);
  * each camera is connected to exactly one origin;
  * each edge pulls each watched camera at most once (one viewer per edge on the origin), and
    no camera that nobody watches (on-demand);
  * killing an origin brings its cameras back live on another origin, for the viewers that were
    watching them, without their reconnecting; the time it takes is measured and bounded.

Prints the figures; exits 0 if every check holds, 1 if one fails or haproxy is missing.

  scale.py [--build DIR] [--viewers N] [--seconds S] [--json FILE]
"""
import argparse
import asyncio
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
CAMERAS = 20
WATCHED = 15            # cam0 .. cam14 have viewers; cam15 .. cam19 none
FPS = 5.0
EDGES = 2
ORIGINS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg_for(index):
    """A small picture of its own per camera (min-size = 0 on the nodes lets it through)."""
    colour = ((index * 53) % 256, (index * 97) % 256, (index * 31 + 80) % 256)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG", quality=80)
    return out.getvalue()


def tagged(jpeg, camera, seq):
    """The frame with a COM segment naming the camera, the sequence number and the send time."""
    tag = ("%s %d %d" % (camera, seq, time.monotonic_ns())).encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(tag) + 2) + tag + jpeg[2:]


def read_tag(part):
    if part[2:4] != b"\xff\xfe":
        return None                 # the placeholder: a JPEG without our tag
    length = struct.unpack(">H", part[4:6])[0]
    name, seq, sent = part[6:4 + length].decode().split()
    return name, int(seq), int(sent)


# Straight to 127.0.0.1, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(port, path):
    with OPENER.open("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return json.loads(r.read())


def cameras_of(port):
    try:
        return {c["name"]: c for c in get_json(port, "/status")["cameras"]}
    except OSError:
        return None


class Node:
    def __init__(self, program, workdir, name, sections):
        self.name = name
        self.port = free_port()
        self.conf = os.path.join(workdir, name + ".conf")
        with open(self.conf, "w") as f:
            f.write("[server]\naddress = 127.0.0.1\nport = %d\n%s" % (self.port, sections))
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.proc = subprocess.Popen([program, "--config", self.conf], cwd=workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self):
        return cameras_of(self.port) is not None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def origin_sections():
    return "".join("[camera cam%d]\nmin-size = 0\ntimeout = 2\n" % i for i in range(CAMERAS))


def edge_sections(lb_port):
    return "".join(
        "[camera cam%d]\nsource = http://127.0.0.1:%d/stream/cam%d\non-demand = true\n"
        "min-size = 0\ntimeout = 2\n" % (i, lb_port, i) for i in range(CAMERAS))


class Camera:
    """An ESP32-like camera: pushes frames at FPS, and reconnects 0.5 s after losing its link."""

    def __init__(self, index, lb_port):
        self.name = "cam%d" % index
        self.url = "ws://127.0.0.1:%d/ws/%s" % (lb_port, self.name)
        self.jpeg = jpeg_for(index)
        self.seq = 0
        self.connects = 0

    async def run(self, stop):
        while not stop.is_set():
            try:
                async with websockets.connect(self.url, max_size=None, open_timeout=3) as ws:
                    self.connects += 1
                    next_at = time.monotonic()
                    while not stop.is_set():
                        self.seq += 1
                        await ws.send(tagged(self.jpeg, self.name, self.seq))
                        next_at += 1 / FPS
                        await asyncio.sleep(max(0, next_at - time.monotonic()))
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                await asyncio.sleep(0.5)


class Viewer:
    """Reads /stream/NAME through HAProxy's viewer port and notes every part's tag."""

    def __init__(self, camera, lb_port, query=""):
        self.camera = camera
        self.lb_port = lb_port
        self.path = "/stream/%s%s" % (camera, query)
        self.live = []              # (arrival monotonic s, seq, latency s)
        self.placeholders = 0
        self.connections = 0
        self.error = None

    async def run(self, stop):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.lb_port)
            self.connections += 1
            writer.write(("GET %s HTTP/1.1\r\nHost: relay\r\n\r\n" % self.path).encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n")[0]:
                self.error = head.split(b"\r\n")[0].decode()
                return
            while not stop.is_set():
                line = await reader.readline()
                if not line:
                    self.error = "stream ended"
                    return
                if not line.startswith(b"--"):
                    continue
                length = 0
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b""):
                        break
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":")[1])
                part = await reader.readexactly(length)
                tag = read_tag(part)
                now = time.monotonic_ns()
                if tag is None:
                    self.placeholders += 1
                elif tag[0] == self.camera:
                    self.live.append((now / 1e9, tag[1], (now - tag[2]) / 1e9))
                else:
                    self.error = "got %s's frame" % tag[0]
            writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            if not stop.is_set():
                self.error = "%s: %s" % (type(e).__name__, e)

    def fps_between(self, start, end):
        seqs = {seq for at, seq, _ in self.live if start <= at < end}
        return len(seqs) / (end - start)

    def live_after(self, moment):
        return next((at for at, _, _ in self.live if at > moment), None)


def haproxy_servers(stats_port):
    """{server name: status} from HAProxy's CSV statistics; {} while it does not answer."""
    try:
        with OPENER.open("http://127.0.0.1:%d/haproxy;csv" % stats_port, timeout=5) as r:
            rows = r.read().decode().splitlines()
    except OSError:
        return {}
    fields = rows[0].lstrip("# ").split(",")
    out = {}
    for row in rows[1:]:
        values = dict(zip(fields, row.split(",")))
        if values.get("svname") not in ("FRONTEND", "BACKEND", None):
            out[values["svname"]] = values.get("status", "")
    return out


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def frames_sent(port):
    return sum(c["frames_sent"] for c in cameras_of(port).values())


def wait_for(check, seconds, step=0.2):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(step)
    return check()


async def scenario(args, program, workdir, report):
    failures = []

    def expect(ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            failures.append(what)

    lb_origin, lb_viewers, stats_port = free_port(), free_port(), free_port()
    origins = [Node(program, workdir, "origin%d" % (i + 1), origin_sections())
               for i in range(ORIGINS)]
    edges = [Node(program, workdir, "edge%d" % (i + 1), edge_sections(lb_origin))
             for i in range(EDGES)]
    nodes = origins + edges
    env = dict(os.environ,
               CAMRELAY_ORIGIN_BIND="127.0.0.1:%d" % lb_origin,
               CAMRELAY_VIEWER_BIND="127.0.0.1:%d" % lb_viewers,
               CAMRELAY_HAPROXY_STATS="127.0.0.1:%d" % stats_port,
               CAMRELAY_HAPROXY_MAXCONN="4000")
    for i, n in enumerate(origins):
        env["CAMRELAY_ORIGIN%d" % (i + 1)] = "127.0.0.1:%d" % n.port
    for i, n in enumerate(edges):
        env["CAMRELAY_EDGE%d" % (i + 1)] = "127.0.0.1:%d" % n.port
    haproxy_log = open(os.path.join(workdir, "haproxy.log"), "w")
    haproxy = subprocess.Popen(["haproxy", "-db", "-f",
                                os.path.join(SOURCE_ROOT, "configs", "haproxy.cfg")],
                               env=env, stdout=haproxy_log, stderr=subprocess.STDOUT)
    stop = asyncio.Event()
    tasks = []
    try:
        if not wait_for(lambda: all(n.ready() for n in nodes), 20):
            expect(False, "every camrelay node answers /status")
            return failures
        def all_up():
            servers = haproxy_servers(stats_port)
            return len(servers) == ORIGINS + EDGES and all(s == "UP" for s in servers.values())

        if not wait_for(all_up, 15):
            expect(False, "HAProxy sees every node up: %s" % haproxy_servers(stats_port))
            return failures
        cameras = [Camera(i, lb_origin) for i in range(CAMERAS)]
        tasks += [asyncio.create_task(c.run(stop)) for c in cameras]
        viewers = [Viewer("cam%d" % (i % WATCHED), lb_viewers) for i in range(args.viewers)]
        capped = [Viewer("cam%d" % i, lb_viewers, "?fps=2") for i in range(10)]
        for v in viewers + capped:
            tasks.append(asyncio.create_task(v.run(stop)))
            await asyncio.sleep(0.005)
        await asyncio.sleep(4)          # edges open their pulls, viewers get going
        procs = {n.name: n.proc.pid for n in nodes}
        procs["haproxy"] = haproxy.pid
        cpu0 = {k: cpu_seconds(pid) for k, pid in procs.items()}
        sent0 = {n.name: frames_sent(n.port) for n in nodes}
        t0 = time.monotonic()
        await asyncio.sleep(args.seconds)
        t1 = time.monotonic()
        cpu = {k: cpu_seconds(pid) - cpu0[k] for k, pid in procs.items()}
        sent = {n.name: frames_sent(n.port) - sent0[n.name] for n in nodes}

        # Live frames at the camera rate, for every viewer.
        rates = sorted(v.fps_between(t0, t1) for v in viewers)
        errors = [v.error for v in viewers + capped if v.error]
        expect(not errors, "no viewer lost its stream (%s)" % (errors[:3] or "none"))
        expect(rates[0] >= FPS * 0.9, "every viewer gets live frames at %.0f fps: min %.2f, "
               "median %.2f (camera connects %d, placeholder parts %d)" % (
                   FPS, rates[0], rates[len(rates) // 2], sum(c.connects for c in cameras),
                   sum(v.placeholders for v in viewers)))
        capped_rates = sorted(v.fps_between(t0, t1) for v in capped)
        expect(1.6 <= capped_rates[0] and capped_rates[-1] <= 2.4,
               "?fps=2 viewers get 2 fps: %.2f .. %.2f" % (capped_rates[0], capped_rates[-1]))
        latencies = sorted(lat for v in viewers for at, _, lat in v.live if t0 <= at < t1)
        if not latencies:
            return failures
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        print("      camera to viewer through HAProxy, origin, HAProxy and edge: p50 %.1f ms, "
              "p99 %.1f ms" % (p50, p99))
        report.update(viewers=len(viewers), min_fps=rates[0], p50_ms=p50, p99_ms=p99)

        # What each tier costs: CPU per frame it delivers (origins to edges, edges to viewers;
        # HAProxy carries the camera frames in and both of those out).
        span = t1 - t0
        tiers = {"origin": origins, "edge": edges}
        for tier, members in tiers.items():
            c = sum(cpu[n.name] for n in members)
            f = sum(sent[n.name] for n in members)
            report[tier] = {"cpu_percent": 100 * c / span, "frames_out": f,
                            "cpu_us_per_frame": 1e6 * c / max(f, 1)}
            print("      %s tier: %.1f%% of a core for %d frames out (%.0f us per frame)" % (
                tier, 100 * c / span, f, 1e6 * c / max(f, 1)))
        carried = sum(sent.values()) + int(CAMERAS * FPS * span)
        report["haproxy"] = {"cpu_percent": 100 * cpu["haproxy"] / span, "frames": carried,
                             "cpu_us_per_frame": 1e6 * cpu["haproxy"] / max(carried, 1)}
        print("      haproxy: %.1f%% of a core for %d frames carried (%.0f us per frame)" % (
            100 * cpu["haproxy"] / span, carried, 1e6 * cpu["haproxy"] / max(carried, 1)))

        # Where each camera is, and who pulls what.
        status = [cameras_of(n.port) for n in nodes]
        holders = {c.name: [n.name for n, s in zip(origins, status) if s[c.name]["connected"]]
                   for c in cameras}
        expect(all(len(h) == 1 for h in holders.values()),
               "each camera is connected to exactly one origin (%s)" %
               {k: v for k, v in holders.items() if len(v) != 1} or "all")
        spread = {o.name: sum(1 for h in holders.values() if h == [o.name]) for o in origins}
        print("      cameras per origin: %s" % spread)
        pulls_ok, idle_ok = True, True
        for i in range(CAMERAS):
            name = "cam%d" % i
            origin_viewers = sum(s[name]["viewers"] for s in status[:ORIGINS])
            edges_watching = sum(1 for s in status[ORIGINS:] if s[name]["viewers"] > 0)
            if i < WATCHED and origin_viewers != edges_watching:
                pulls_ok = False
                print("      %s: %d pulls on the origins for %d edges with viewers"
                      % (name, origin_viewers, edges_watching))
            if i >= WATCHED and (origin_viewers != 0 or any(
                    s[name].get("source_state") not in ("idle", None)
                    for s in status[ORIGINS:])):
                idle_ok = False
                print("      %s (no viewer): %d pulls, edge states %s" % (
                    name, origin_viewers, [s[name].get("source_state") for s in status[ORIGINS:]]))
        expect(pulls_ok, "each edge pulls each watched camera once")
        expect(idle_ok, "no edge pulls a camera that nobody watches")

        # An origin dies.
        victim = max(origins, key=lambda o: spread[o.name])
        moved = [c for c in cameras if holders[c.name] == [victim.name]]
        watched_moved = [c.name for c in moved if int(c.name[3:]) < WATCHED]
        killed_at = time.monotonic()
        victim.stop(signal.SIGKILL)
        survivors = [o for o in origins if o is not victim]

        def moved_cameras_connected():
            st = [cameras_of(o.port) for o in survivors]
            return all(sum(1 for s in st if s and s[c.name]["connected"]) == 1 for c in moved)

        cameras_back = await asyncio.to_thread(wait_for, moved_cameras_connected, 30)
        cameras_back_s = time.monotonic() - killed_at
        if not cameras_back:
            st = [cameras_of(o.port) for o in survivors]
            for c in moved:
                print("      %s: %d connects, on the survivors %s" % (c.name, c.connects, [
                    (s[c.name]["connected"], s[c.name]["connections"]) for s in st if s]))
        expect(cameras_back, "%s's %d cameras reconnect to the other origins: %.1f s" % (
            victim.name, len(moved), cameras_back_s))
        affected = [v for v in viewers if v.camera in watched_moved]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(v.live_after(killed_at + 0.5)
                                                       for v in affected):
            await asyncio.sleep(0.2)
        back = [v.live_after(killed_at + 0.5) for v in affected]
        worst = max((b - killed_at for b in back if b), default=float("nan"))
        expect(all(back), "the %d viewers of those cameras see live frames again, worst after "
               "%.1f s" % (len(affected), worst))
        expect(worst <= args.failover_bound, "failover within %.0f s" % args.failover_bound)
        expect(all(v.connections == 1 and not v.error for v in viewers),
               "no viewer had to reconnect")
        report.update(failover_cameras_s=cameras_back_s, failover_viewers_s=worst,
                      moved_cameras=len(moved), affected_viewers=len(affected))
        return failures
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        haproxy.terminate()
        haproxy.wait()
        for n in nodes:
            n.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.environ.get("CAMRELAY_BUILD_ROOT",
                                                          os.path.join(SOURCE_ROOT, "build")))
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--failover-bound", type=float, default=12)
    parser.add_argument("--json")
    args = parser.parse_args()
    if not shutil.which("haproxy"):
        print("haproxy (Debian package haproxy) is not installed: tools/bootstrap --tests "
              "installs it")
        return 1
    program = os.path.join(args.build, "pipeline", "camrelay")
    workdir = tempfile.mkdtemp(prefix="camrelay-scale-")
    shutil.copy(os.path.join(SOURCE_ROOT, "placeholder.jpg"), workdir)
    report = {}
    failures = asyncio.run(scenario(args, program, workdir, report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    if failures:
        print("%d check(s) failed; logs in %s" % (len(failures), workdir))
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print("every check holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
