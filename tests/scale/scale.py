#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The scale-out recipe of docs/SCALING.md, for real, on 127.0.0.1: two HAProxy instances running
the shipped configs/haproxy.cfg and sharing its camera table by peers (cameras and viewers come in
through lb1, the edges pull through lb2), 3 origin and 2 edge camrelays, 20 cameras pushing
through HAProxy and a few hundred viewers reading through it. It checks what the recipe promises:

  * both instances know where every camera is (the table, shared by peers);
  * an origin added while the cameras stream (runtime API on both instances, then the config
    file edited to match and lb2 reloaded seamlessly with it) moves no camera's pulls: viewers
    arriving afterwards get live frames at once, also of the cameras the hash now gives the new
    origin;
  * every viewer gets live frames at the camera's rate (and ?fps=2 viewers 2 a second);
  * each camera is connected to exactly one origin;
  * each edge pulls each watched camera at most once (one viewer per edge on the origin), and
    no camera that nobody watches (on-demand);
  * every camera dropping its WebSocket at once and reconnecting (a Wi-Fi blip) goes back to
    the origin its edges pull from: the viewers see no gap longer than the bound;
  * an origin killed and started again by its supervisor once HAProxy marks it down: each of its
    cameras (half reconnect after 0.5 s, half after 3 s, some after it is back) meets the
    edges' pulls of it on one origin, and its viewers see it live again without reconnecting;
    the time each camera's viewers go without a live frame is measured and bounded;
  * an origin that hangs (SIGSTOP: its sockets open, nothing answered) is marked down and its
    sessions closed by HAProxy, so its cameras and their pulls come back on the others, and once
    it resumes it holds none of them;
  * removing an origin gracefully (maintenance on both instances, its camrelay stopped, the
    server deleted) brings its cameras back live elsewhere within the bound, for viewers that
    stay connected.

Prints the figures; exits 0 if every check holds, 1 if one fails or haproxy is missing.

  scale.py [--build DIR] [--viewers N] [--seconds S] [--json FILE] [--haproxy-config FILE]
"""
import argparse
import asyncio
import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
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


def reserved_port():
    """A free port that stays free until HAProxy binds it: bound, connected to once and closed
    first on the server side, it sits in TIME_WAIT for a minute, so the kernel hands it to no
    other bind(0) or connect(), while HAProxy (SO_REUSEADDR) can bind it. A port that was only
    bound and closed could be handed to the next bind(0) at once: a CI run once gave origin4 the
    port origin2 had been given, and every check that counts cameras per origin failed."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            conn, _ = s.accept()
            conn.close()
    return port


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
    """One camrelay. It listens on a port of the kernel's choosing (--port 0), read back from its
    start-up line, so no other process can hold it; a restart takes the same port again."""

    def __init__(self, program, workdir, name, sections):
        self.name = name
        self.program = program
        self.workdir = workdir
        self.port = None
        self.conf = os.path.join(workdir, name + ".conf")
        with open(self.conf, "w") as f:
            f.write("[server]\naddress = 127.0.0.1\n%s" % sections)
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None
        self.launch(0)

    def launch(self, port):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([self.program, "--config", self.conf, "--port",
                                          str(port)], cwd=self.workdir, stdout=log,
                                         stderr=subprocess.STDOUT)

    def restart(self):
        """Starts it again on its port, as systemd's Restart= does after a crash."""
        self.launch(self.port)

    def listening_port(self):
        """The port in this process's start-up line ("listening on 127.0.0.1 port N"), or None."""
        with open(self.log_path) as f:
            ports = re.findall(r"listening on 127\.0\.0\.1 port (\d+)", f.read())
        return int(ports[-1]) if ports else None

    def ready(self):
        """It runs and answers /status on its own port."""
        if self.proc.poll() is not None:
            return False
        if self.port is None:
            self.port = self.listening_port()
        return self.port is not None and cameras_of(self.port) is not None

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
    """An ESP32-like camera: pushes frames at FPS, and reconnects after losing its link, the
    even-numbered ones 0.5 s later, the odd ones 3 s later (firmwares differ): an origin's
    cameras come back both before and after the edges' pulls of them (1 s)."""

    def __init__(self, index, lb_port):
        self.name = "cam%d" % index
        self.retry_s = 0.5 if index % 2 == 0 else 3.0
        self.url = "ws://127.0.0.1:%d/ws/%s" % (lb_port, self.name)
        self.jpeg = jpeg_for(index)
        self.seq = 0
        self.connects = 0
        self.ws = None

    async def run(self, stop):
        while not stop.is_set():
            try:
                async with websockets.connect(self.url, max_size=None, open_timeout=3) as ws:
                    self.ws = ws
                    self.connects += 1
                    next_at = time.monotonic()
                    while not stop.is_set():
                        self.seq += 1
                        await ws.send(tagged(self.jpeg, self.name, self.seq))
                        next_at += 1 / FPS
                        await asyncio.sleep(max(0, next_at - time.monotonic()))
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                await asyncio.sleep(self.retry_s)

    async def drop(self):
        """Closes the WebSocket as a Wi-Fi blip would; run() reconnects after retry_s."""
        if self.ws is not None:
            await self.ws.close()


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
        self.started_at = None

    async def run(self, stop):
        try:
            self.started_at = time.monotonic()
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

    def longest_gap(self, start, end):
        """The longest time between start and end without a live frame."""
        times = [start] + [at for at, _, _ in self.live if start < at < end] + [end]
        return max(b - a for a, b in zip(times, times[1:]))


class HAProxy:
    """One HAProxy instance as Debian's systemd unit runs it (master-worker; a reload is SIGUSR2
    to the master, as `systemctl reload haproxy` sends it), on its own copy of the config file,
    with its own ports, runtime API socket and peer name; the addresses of the nodes and of the
    peers come from the shared environment."""

    def __init__(self, workdir, name, config):
        self.name = name
        self.config = os.path.join(workdir, name + ".cfg")
        shutil.copy(config, self.config)
        self.origin_port, self.viewer_port = reserved_port(), reserved_port()
        self.stats_port, self.peer_port = reserved_port(), reserved_port()
        self.socket = os.path.join(workdir, name + ".sock")
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.master = None

    def start(self, env):
        env = dict(env, CAMRELAY_HAPROXY_NAME=self.name, CAMRELAY_HAPROXY_SOCKET=self.socket,
                   CAMRELAY_ORIGIN_BIND="127.0.0.1:%d" % self.origin_port,
                   CAMRELAY_VIEWER_BIND="127.0.0.1:%d" % self.viewer_port,
                   CAMRELAY_HAPROXY_STATS="127.0.0.1:%d" % self.stats_port)
        self.master = subprocess.Popen(["haproxy", "-W", "-db", "-f", self.config], env=env,
                                       stdout=self.log, stderr=subprocess.STDOUT)

    def reload(self):
        """A seamless reload: a new worker on the config file as it is now, the old one hands
        over its table and keeps its connections until they end. The new worker's pid, or None
        if none took over."""
        old = self.worker()
        self.master.send_signal(signal.SIGUSR2)
        if wait_for(lambda: self.worker() not in (None, old), 15, 0.02):
            return self.worker()
        return None

    def worker(self):
        """The pid of the worker that answers the runtime API."""
        try:
            return next(int(line.split(":")[1]) for line in self.cli("show info").splitlines()
                        if line.startswith("Pid:"))
        except (OSError, StopIteration, ValueError):
            return None

    def cli(self, command):
        """One runtime API command on the stats socket; its answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(command.encode() + b"\n")
            answer = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return answer.decode()
                answer += chunk

    def servers(self):
        """{server name: status} of both backends; {} while it does not answer."""
        try:
            rows = self.cli("show stat").splitlines()
        except OSError:
            return {}
        if not rows:
            return {}
        fields = rows[0].lstrip("# ").split(",")
        out = {}
        for row in rows[1:]:
            values = dict(zip(fields, row.split(",")))
            if values.get("svname") not in ("FRONTEND", "BACKEND", None):
                out[values["svname"]] = values.get("status", "")
        return out

    def cameras_known(self):
        """How many cameras the origins' table holds."""
        try:
            return sum(1 for line in self.cli("show table origins").splitlines()
                       if " key=" in line)
        except OSError:
            return 0

    def table_settled(self):
        """Whether this worker has finished learning its table (from an old worker, or at start
        from the other instances, which HAProxy 2.6 ends only at its 5-s resync timeout). A worker
        reloaded before that hands nothing over, and its successor starts with an empty table
        until the other instances teach it, 5 s later. "show peers" flags: 0x1 local resync
        done, 0x2 remote resync done."""
        try:
            flags = int(self.cli("show peers").split("flags=")[1].split()[0], 16)
        except (OSError, IndexError, ValueError):
            return False
        return flags & 0x3 == 0x3

    def stop(self):
        """Stops the master, which stops every worker, old ones included."""
        if self.master and self.master.poll() is None:
            self.master.terminate()
            try:
                self.master.wait(5)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()


def answer_of(lb_port, path):
    """(HTTP status, the origin that answered per X-Camrelay-Origin) of one request."""
    try:
        with OPENER.open("http://127.0.0.1:%d%s" % (lb_port, path), timeout=5) as r:
            r.read()
            return r.status, r.headers.get("X-Camrelay-Origin")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("X-Camrelay-Origin")
    except OSError:
        return None, None


def origin_of(lb_port, path):
    return answer_of(lb_port, path)[1]


def ask_during(lb_port, paths, action):
    """Requests the paths over and over, from two threads, while action runs; every answer."""
    answers = []
    done = threading.Event()

    def ask():
        while not done.is_set():
            for path in paths:
                answers.append((path, answer_of(lb_port, path)))

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for t in askers:
        t.start()
    try:
        time.sleep(0.2)
        result = action()
        time.sleep(0.5)
    finally:
        done.set()
        for t in askers:
            t.join()
    return result, answers


def add_server_line(config, line):
    """Edits the config file as an operator does to add an origin: one server line after the
    last origin's."""
    lines = open(config).read().split("\n")
    last = max(i for i, l in enumerate(lines) if l.strip().startswith("server origin"))
    lines.insert(last + 1, line)
    with open(config, "w") as f:
        f.write("\n".join(lines))


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


class Checks:
    """Prints each check as it is made and keeps the failed ones."""

    def __init__(self):
        self.failures = []

    def expect(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok


class Cluster:
    """The nodes, the two HAProxy instances, the cameras and the viewers of one run."""

    def __init__(self, args, program, workdir):
        self.args = args
        self.program = program
        self.workdir = workdir
        config = os.path.abspath(args.haproxy_config)
        self.lb1, self.lb2 = HAProxy(workdir, "lb1", config), HAProxy(workdir, "lb2", config)
        self.lbs = [self.lb1, self.lb2]
        self.origins = [Node(program, workdir, "origin%d" % (i + 1), origin_sections())
                        for i in range(ORIGINS)]
        # The edges pull through lb2 while the cameras connect through lb1: the table of where
        # each camera is must travel between the instances.
        self.edges = [Node(program, workdir, "edge%d" % (i + 1),
                           edge_sections(self.lb2.origin_port)) for i in range(EDGES)]
        self.cameras = [Camera(i, self.lb1.origin_port) for i in range(CAMERAS)]
        self.viewers, self.capped = [], []
        self.stop = asyncio.Event()
        self.tasks = []

    @property
    def nodes(self):
        return self.origins + self.edges

    def start_haproxy(self):
        """Both instances, once every node's port is known. The origin added later is not in
        the environment: like an operator, the suite writes its address into the config file."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMRELAY_ORIGIN")}
        env.update(CAMRELAY_HAPROXY_MAXCONN="4000",
                   CAMRELAY_PEER1="127.0.0.1:%d" % self.lb1.peer_port,
                   CAMRELAY_PEER2="127.0.0.1:%d" % self.lb2.peer_port)
        for i, n in enumerate(self.origins):
            env["CAMRELAY_ORIGIN%d" % (i + 1)] = "127.0.0.1:%d" % n.port
        for i, n in enumerate(self.edges):
            env["CAMRELAY_EDGE%d" % (i + 1)] = "127.0.0.1:%d" % n.port
        for lb in self.lbs:
            lb.start(env)

    def servers_up(self, lb, names):
        servers = lb.servers()
        return all(servers.get(n) == "UP" for n in names)

    def holders(self, origins=None):
        """{camera: [origins it is connected to]}."""
        origins = origins or self.origins
        status = [cameras_of(o.port) or {} for o in origins]
        return {c.name: [o.name for o, s in zip(origins, status)
                         if s.get(c.name, {}).get("connected")] for c in self.cameras}

    def each_on_one_origin(self, origins=None):
        return all(len(h) == 1 for h in self.holders(origins).values())

    def start_cameras(self):
        self.tasks += [asyncio.create_task(c.run(self.stop)) for c in self.cameras]

    async def start_viewers(self):
        lb = self.lb1.viewer_port
        self.viewers = [Viewer("cam%d" % (i % WATCHED), lb) for i in range(self.args.viewers)]
        self.capped = [Viewer("cam%d" % i, lb, "?fps=2") for i in range(10)]
        for v in self.viewers + self.capped:
            self.tasks.append(asyncio.create_task(v.run(self.stop)))
            await asyncio.sleep(0.005)

    async def close(self):
        self.stop.set()
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for lb in self.lbs:
            lb.stop()
        for n in self.nodes:
            n.stop()


async def start(cluster, checks):
    """Nodes up, both HAProxy instances see them, every camera connected and in both tables."""
    c = cluster
    if not checks.expect(await asyncio.to_thread(wait_for, lambda: all(
            n.ready() for n in c.nodes), 20), "every camrelay node answers /status"):
        return False
    c.start_haproxy()
    names = [n.name for n in c.nodes]
    if not checks.expect(await asyncio.to_thread(wait_for, lambda: all(
            c.servers_up(lb, names) for lb in c.lbs), 15),
            "both HAProxy instances see every node up: %s" % c.lb1.servers()):
        return False
    c.start_cameras()
    connected = await asyncio.to_thread(wait_for, c.each_on_one_origin, 15)
    shared = await asyncio.to_thread(wait_for, lambda: all(
        lb.cameras_known() == CAMERAS for lb in c.lbs), 10)
    checks.expect(shared, "both instances' tables know where every camera is (lb1 %d, lb2 %d "
                  "entries)" % (c.lb1.cameras_known(), c.lb2.cameras_known()))
    return checks.expect(connected, "every camera connected to one origin")


async def add_origin(cluster, checks, report):
    """A fourth origin joins while the cameras stream, as an operator adds it: the runtime API on
    every HAProxy instance; then the config file edited to match, and (to show the table survives
    it) lb2, which the edges pull through, reloaded with it just before the viewers arrive."""
    c = cluster
    origin4 = Node(c.program, c.workdir, "origin4", origin_sections())
    if not checks.expect(await asyncio.to_thread(wait_for, origin4.ready, 20),
                         "origin4 answers /status"):
        return False
    before = c.holders()
    line = "add server origins/origin4 127.0.0.1:%d id 4 check inter 1s fastinter 250ms " \
           "fall 2 rise 2 on-marked-down shutdown-sessions" % origin4.port
    answers = []
    for lb in c.lbs:
        answers += [lb.cli(line), lb.cli("enable health origins/origin4"),
                    lb.cli("enable server origins/origin4")]
    c.origins.append(origin4)
    up = await asyncio.to_thread(wait_for, lambda: all(
        c.servers_up(lb, ["origin4"]) for lb in c.lbs), 15)
    if not checks.expect(up, "origin4 added to both instances and up (%s)" % " / ".join(
            a.strip() for a in answers if a.strip())):
        return False
    # The cameras the hash now gives origin4: those a pull without the table would miss.
    moved = [cam.name for cam in c.cameras
             if origin_of(c.lb1.origin_port, "/hash/%s" % cam.name) == "origin4"]
    moved_watched = [m for m in moved if int(m[3:]) < WATCHED]
    print("      the hash now gives origin4 %s (%d watched); their WebSockets stay where they are"
          % (moved, len(moved_watched)))
    report.update(moved_by_add=moved)
    checks.expect(len(moved_watched) > 0 and c.holders() == before,
                  "the add moves watched cameras in the hash (%d), and no camera" %
                  len(moved_watched))
    for lb in c.lbs:
        add_server_line(lb.config, '  server origin4 "${CAMRELAY_ORIGIN4-127.0.0.1:%d}" id 4'
                        % origin4.port)
    # Snapshots of the moved cameras asked through lb2 all through its reload: each must come
    # from the camera's origin, or be refused while the new worker's table is still empty.
    settled = await asyncio.to_thread(wait_for, c.lb2.table_settled, 15)
    paths = {"/snapshot/%s.jpg" % m: before[m][0] for m in moved}
    worker, answers = await asyncio.to_thread(ask_during, c.lb2.origin_port, paths, c.lb2.reload)
    right = sum(1 for path, (status, origin) in answers if status == 200 and
                origin == paths[path])
    refused = sum(1 for path, (status, origin) in answers if status == 503 and origin is None)
    wrong = [(path, status, origin) for path, (status, origin) in answers
             if (status, origin) != (200, paths[path]) and (status, origin) != (503, None)]
    report.update(reload_snapshots={"right": right, "refused": refused, "wrong": len(wrong)})
    checks.expect(settled and worker and right and not wrong,
                         "lb2 reloaded with the edited config file (worker %s): snapshots of the "
                         "moved cameras asked meanwhile: %d from their origin, %d refused while "
                         "the table loaded, %d elsewhere %s" % (worker, right, refused,
                                                                len(wrong), wrong[:3]))
    return worker is not None


async def viewers_arrive(cluster, checks, report):
    """New viewers of the watched cameras through the edges, each edge opening new pulls through
    the reloaded lb2: every one gets live frames within the bound."""
    c = cluster
    await c.start_viewers()
    bound = c.args.move_bound
    everyone = c.viewers + c.capped
    await asyncio.to_thread(wait_for, lambda: all(v.live for v in everyone), bound + 2)
    waits = [(v.live[0][0] - v.started_at if v.live else float("inf"), v.camera)
             for v in everyone]
    worst = max(waits)
    stuck = sorted({cam for w, cam in waits if w > bound})
    report.update(add_first_live_s=worst[0])
    if stuck:
        show_where(c, stuck)
    checks.expect(worst[0] <= bound, "viewers arriving after the add get live frames within "
                  "%.0f s: worst %.1f s (%s)" % (bound, worst[0],
                                                 "cameras on the placeholder: %s" % stuck
                                                 if stuck else "every camera"))


async def steady(cluster, checks, report):
    """Rates, latency and what each tier costs over a steady window."""
    c = cluster
    await asyncio.sleep(3)          # every viewer's stream settled
    procs = {n.name: n.proc.pid for n in c.nodes}
    procs.update({lb.name: lb.worker() for lb in c.lbs})
    cpu0 = {k: cpu_seconds(pid) for k, pid in procs.items()}
    sent0 = {n.name: frames_sent(n.port) for n in c.nodes}
    t0 = time.monotonic()
    await asyncio.sleep(c.args.seconds)
    t1 = time.monotonic()
    cpu = {k: cpu_seconds(pid) - cpu0[k] for k, pid in procs.items()}
    sent = {n.name: frames_sent(n.port) - sent0[n.name] for n in c.nodes}

    # Live frames at the camera rate, for every viewer.
    rates = sorted(v.fps_between(t0, t1) for v in c.viewers)
    errors = [v.error for v in c.viewers + c.capped if v.error]
    checks.expect(not errors, "no viewer lost its stream (%s)" % (errors[:3] or "none"))
    checks.expect(rates[0] >= FPS * 0.9, "every viewer gets live frames at %.0f fps: min %.2f, "
                  "median %.2f (camera connects %d, placeholder parts %d)" % (
                      FPS, rates[0], rates[len(rates) // 2],
                      sum(cam.connects for cam in c.cameras),
                      sum(v.placeholders for v in c.viewers)))
    capped_rates = sorted(v.fps_between(t0, t1) for v in c.capped)
    checks.expect(1.6 <= capped_rates[0] and capped_rates[-1] <= 2.4,
                  "?fps=2 viewers get 2 fps: %.2f .. %.2f" % (capped_rates[0], capped_rates[-1]))
    latencies = sorted(lat for v in c.viewers for at, _, lat in v.live if t0 <= at < t1)
    if latencies:
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        print("      camera to viewer through HAProxy, origin, HAProxy and edge: p50 %.1f ms, "
              "p99 %.1f ms" % (p50, p99))
        report.update(viewers=len(c.viewers), min_fps=rates[0], p50_ms=p50, p99_ms=p99)

    # What each tier costs: CPU per frame it delivers (origins to edges, edges to viewers;
    # HAProxy carries the camera frames in and both of those out).
    span = t1 - t0
    for tier, members in (("origin", c.origins), ("edge", c.edges)):
        used = sum(cpu[n.name] for n in members)
        frames = sum(sent[n.name] for n in members)
        report[tier] = {"cpu_percent": 100 * used / span, "frames_out": frames,
                        "cpu_us_per_frame": 1e6 * used / max(frames, 1)}
        print("      %s tier (%d): %.1f%% of a core for %d frames out (%.0f us per frame)" % (
            tier, len(members), 100 * used / span, frames, 1e6 * used / max(frames, 1)))
    carried = sum(sent.values()) + int(CAMERAS * FPS * span)
    used = sum(cpu[lb.name] for lb in c.lbs)
    report["haproxy"] = {"cpu_percent": 100 * used / span, "frames": carried,
                         "cpu_us_per_frame": 1e6 * used / max(carried, 1)}
    print("      haproxy (both instances): %.1f%% of a core for %d frames carried (%.0f us per "
          "frame)" % (100 * used / span, carried, 1e6 * used / max(carried, 1)))


def check_placement(cluster, checks):
    """Each camera on one origin; each edge pulls each watched camera once, none unwatched."""
    c = cluster
    status = [cameras_of(n.port) for n in c.nodes]
    holders = c.holders()
    checks.expect(all(len(h) == 1 for h in holders.values()),
                  "each camera is connected to exactly one origin (%s)" %
                  ({k: v for k, v in holders.items() if len(v) != 1} or "all"))
    spread = {o.name: sum(1 for h in holders.values() if h == [o.name]) for o in c.origins}
    print("      cameras per origin: %s" % spread)
    pulls_ok, idle_ok = True, True
    n_origins = len(c.origins)
    for i in range(CAMERAS):
        name = "cam%d" % i
        origin_viewers = sum(s[name]["viewers"] for s in status[:n_origins])
        edges_watching = sum(1 for s in status[n_origins:] if s[name]["viewers"] > 0)
        if i < WATCHED and origin_viewers != edges_watching:
            pulls_ok = False
            print("      %s: %d pulls on the origins for %d edges with viewers"
                  % (name, origin_viewers, edges_watching))
        if i >= WATCHED and (origin_viewers != 0 or any(
                s[name].get("source_state") not in ("idle", None) for s in status[n_origins:])):
            idle_ok = False
            print("      %s (no viewer): %d pulls, edge states %s" % (
                name, origin_viewers, [s[name].get("source_state") for s in status[n_origins:]]))
    checks.expect(pulls_ok, "each edge pulls each watched camera once")
    checks.expect(idle_ok, "no edge pulls a camera that nobody watches")


def show_where(cluster, cameras):
    """For a failure message: where each camera is connected and pulled."""
    status = {o.name: cameras_of(o.port) or {} for o in cluster.origins}
    for cam in sorted(cameras):
        print("      %s: on the origins (connected, pulls) %s" % (cam, {
            name: (st[cam]["connected"], st[cam]["viewers"]) for name, st in status.items()
            if cam in st}))


async def placeholder_times(viewers, start, bound):
    """Waits until every viewer has had a live frame after start (at most bound + 2 s), then
    gives per camera the longest time one of its viewers went without a live frame since start
    (what they saw meanwhile: the placeholder, or the last frame); inf for a camera whose
    viewers did not all get one."""
    await asyncio.to_thread(wait_for, lambda: all(v.live_after(start + 0.5) for v in viewers),
                            bound + 2)
    end = max([start + 0.5] + [v.live[-1][0] for v in viewers if v.live])
    worst = {}
    for v in viewers:
        gap = v.longest_gap(start, end) if v.live_after(start + 0.5) else float("inf")
        worst[v.camera] = max(worst.get(v.camera, 0), gap)
    return worst


def per_camera(times):
    return ", ".join("%s %.1f" % (cam, t) for cam, t in sorted(
        times.items(), key=lambda kv: int(kv[0][3:])))


async def blip(cluster, checks, report):
    """Every camera drops its WebSocket at once and reconnects: each goes back to the origin its
    edges pull from (the table), so its viewers see the live picture again as soon as it is
    back."""
    c = cluster
    before = c.holders()
    at = time.monotonic()
    await asyncio.gather(*(cam.drop() for cam in c.cameras))
    times = await placeholder_times(c.viewers, at, c.args.move_bound)
    after = c.holders()
    worst = max(times.values())
    report.update(blip_gap_s=worst, blip_per_camera_s=times)
    print("      longest time without a live frame per camera (s): %s" % per_camera(times))
    if worst > c.args.move_bound:
        show_where(c, [cam for cam, t in times.items() if t > c.args.move_bound])
    checks.expect(worst <= c.args.move_bound,
                  "every camera dropped its WebSocket and reconnected: its viewers' longest "
                  "gap %.1f s (bound %.0f s; %d cameras elsewhere than before: %s)" % (
                      worst, c.args.move_bound, sum(1 for k in before if before[k] != after[k]),
                      {k: (before[k], after[k]) for k in before if before[k] != after[k]}))


async def kill_origin(cluster, checks, report):
    """An origin dies (SIGKILL) and its supervisor starts it again (systemd's Restart=) as soon
    as HAProxy has marked it down. The edges' pulls of its cameras come back after 1 s, the quick
    cameras (0.5 s) before the origin is back, the slow ones (3 s) after it: wherever each
    lands, a camera and its pulls must meet on one origin, and its viewers see it live again
    without reconnecting."""
    c = cluster
    holders = c.holders()
    spread = {o.name: sum(1 for h in holders.values() if h == [o.name]) for o in c.origins}
    victim = max(c.origins, key=lambda o: spread[o.name])
    moved = [cam.name for cam in c.cameras if holders[cam.name] == [victim.name]]
    affected = [v for v in c.viewers if v.camera in moved]
    killed_at = time.monotonic()
    await asyncio.to_thread(victim.stop, signal.SIGKILL)
    down = await asyncio.to_thread(wait_for, lambda: all(
        lb.servers().get(victim.name) == "DOWN" for lb in c.lbs), 10, 0.05)
    down_s = time.monotonic() - killed_at
    victim.restart()
    restarted = await asyncio.to_thread(wait_for, victim.ready, 10, 0.05)
    checks.expect(down and restarted, "%s killed: down on both instances after %.1f s, "
                  "restarted" % (victim.name, down_s))

    def moved_cameras_connected():
        h = c.holders()
        return all(len(h[name]) == 1 for name in moved)

    cameras_back = await asyncio.to_thread(wait_for, moved_cameras_connected, 15)
    cameras_back_s = time.monotonic() - killed_at
    where = c.holders()
    times = await placeholder_times(affected, killed_at, c.args.failover_bound)
    worst = max(times.values(), default=float("nan"))
    print("      its cameras now on %s; longest time without a live frame per camera (s): %s" % (
        {name: where[name] for name in moved}, per_camera(times)))
    if not cameras_back or not worst <= c.args.failover_bound:
        show_where(c, moved)
    checks.expect(cameras_back, "its %d cameras each connected to one origin again after %.1f s"
                  % (len(moved), cameras_back_s))
    checks.expect(worst <= c.args.failover_bound, "the %d viewers of those cameras see live "
                  "frames again: longest gap %.1f s (bound %.0f s)" % (
                      len(affected), worst, c.args.failover_bound))
    checks.expect(all(v.connections == 1 and not v.error for v in c.viewers),
                  "no viewer had to reconnect")
    # Both instances see it up again before the next change (see freeze_origin).
    checks.expect(await asyncio.to_thread(wait_for, lambda: all(
        c.servers_up(lb, [victim.name]) for lb in c.lbs), 10),
        "%s up again on both instances" % victim.name)
    report.update(failover_down_s=down_s, failover_cameras_s=cameras_back_s,
                  failover_viewers_s=worst, failover_per_camera_s=times,
                  moved_cameras=len(moved), affected_viewers=len(affected))


async def freeze_origin(cluster, checks, report):
    """An origin hangs (SIGSTOP: its sockets stay open, nothing answers), as a machine that stops
    without closing its connections: HAProxy's health check marks it down and closes its
    sessions (on-marked-down shutdown-sessions), so its cameras and the edges' pulls of them,
    which would otherwise wait on a silent socket, come back on the other origins. Resumed
    (SIGCONT), it finds those connections closed and holds none of its cameras any more."""
    c = cluster
    holders = c.holders()
    watched = {o.name: sum(1 for name, h in holders.items()
                           if h == [o.name] and int(name[3:]) < WATCHED) for o in c.origins}
    frozen = max(c.origins, key=lambda o: watched[o.name])
    others = [o for o in c.origins if o is not frozen]
    moved = [name for name, h in holders.items() if h == [frozen.name]]
    affected = [v for v in c.viewers if v.camera in moved]
    at = time.monotonic()
    frozen.proc.send_signal(signal.SIGSTOP)
    try:
        down = await asyncio.to_thread(wait_for, lambda: all(
            lb.servers().get(frozen.name) == "DOWN" for lb in c.lbs), 10, 0.05)
        down_s = time.monotonic() - at
        elsewhere = await asyncio.to_thread(wait_for, lambda: all(
            len(h) == 1 for name, h in c.holders(others).items() if name in moved), 15)
        times = await placeholder_times(affected, at, c.args.failover_bound)
    finally:
        frozen.proc.send_signal(signal.SIGCONT)
    released = await asyncio.to_thread(wait_for, c.each_on_one_origin, 10)
    # As an operator would, wait for both instances to see it up again before the next change: a
    # camera and its pulls placed while the two disagree about an origin can land apart
    # (docs/SCALING.md, "Limits").
    up_again = await asyncio.to_thread(wait_for, lambda: all(
        c.servers_up(lb, [frozen.name]) for lb in c.lbs), 10)
    worst = max(times.values(), default=float("nan"))
    print("      longest time without a live frame per camera (s): %s" % per_camera(times))
    if not elsewhere or not worst <= c.args.failover_bound:
        show_where(c, moved)
    checks.expect(down and elsewhere and released and up_again, "%s hung (SIGSTOP): down on both "
                  "instances after %.1f s, its %d cameras on the other origins, none left on it "
                  "once it resumed, up again" % (frozen.name, down_s, len(moved)))
    checks.expect(worst <= c.args.failover_bound, "the %d viewers of those cameras see live "
                  "frames again: longest gap %.1f s (bound %.0f s)" % (
                      len(affected), worst, c.args.failover_bound))
    checks.expect(all(v.connections == 1 and not v.error for v in c.viewers),
                  "no viewer had to reconnect")
    report.update(freeze_down_s=down_s, freeze_gap_s=worst, freeze_per_camera_s=times,
                  frozen_cameras=len(moved), frozen_viewers=len(affected))


async def remove_origin(cluster, checks, report):
    """An origin leaves gracefully, as an operator takes it out: maintenance on every HAProxy
    instance (no new connection goes to it, its table entries are skipped), its camrelay stopped
    (cameras get a WebSocket close, the edges' pulls end), the server deleted."""
    c = cluster
    holders = c.holders()
    watched = {o.name: sum(1 for name, h in holders.items()
                           if h == [o.name] and int(name[3:]) < WATCHED) for o in c.origins}
    leaving = max(c.origins, key=lambda o: watched[o.name])
    moved = [name for name, h in holders.items() if h == [leaving.name]]
    affected = [v for v in c.viewers if v.camera in moved]
    at = time.monotonic()
    for lb in c.lbs:
        lb.cli("set server origins/%s state maint" % leaving.name)
    await asyncio.to_thread(leaving.stop)
    stopped_s = time.monotonic() - at
    c.origins.remove(leaving)
    times = await placeholder_times(affected, at, c.args.move_bound)
    elsewhere = await asyncio.to_thread(wait_for, c.each_on_one_origin, 10)

    def deleted():
        return all("deleted" in lb.cli("del server origins/%s" % leaving.name).lower() or
                   leaving.name not in lb.servers() for lb in c.lbs)

    gone = await asyncio.to_thread(wait_for, deleted, 10, 0.5)
    worst = max(times.values(), default=float("nan"))
    report.update(remove_gap_s=worst, remove_per_camera_s=times, removed_cameras=len(moved),
                  removed_viewers=len(affected))
    print("      longest time without a live frame per camera (s): %s" % per_camera(times))
    if not elsewhere or not worst <= c.args.move_bound:
        show_where(c, moved)
    checks.expect(elsewhere and gone, "%s removed (maintenance, stopped in %.1f s, deleted): its "
                  "%d cameras connected to the other origins" % (leaving.name, stopped_s,
                                                                 len(moved)))
    checks.expect(worst <= c.args.move_bound, "the %d viewers of those cameras see live frames "
                  "again: longest gap %.1f s (bound %.0f s)" % (len(affected), worst,
                                                                c.args.move_bound))
    checks.expect(all(v.connections == 1 and not v.error for v in c.viewers),
                  "no viewer had to reconnect")


async def scenario(args, program, workdir, report):
    checks = Checks()
    cluster = Cluster(args, program, workdir)
    try:
        if not await start(cluster, checks) or not await add_origin(cluster, checks, report):
            return checks.failures
        await viewers_arrive(cluster, checks, report)
        await steady(cluster, checks, report)
        check_placement(cluster, checks)
        await blip(cluster, checks, report)
        await kill_origin(cluster, checks, report)
        await freeze_origin(cluster, checks, report)
        await remove_origin(cluster, checks, report)
        return checks.failures
    finally:
        await cluster.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.environ.get("CAMRELAY_BUILD_ROOT",
                                                          os.path.join(SOURCE_ROOT, "build")))
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--failover-bound", type=float, default=12)
    parser.add_argument("--move-bound", type=float, default=6,
                        help="longest a viewer may wait for live frames after an origin is "
                        "added or removed or the cameras reconnect (seconds)")
    parser.add_argument("--haproxy-config", default=os.path.join(SOURCE_ROOT, "configs",
                                                                 "haproxy.cfg"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if not shutil.which("haproxy"):
        print("haproxy (Debian package haproxy) is not installed: tools/bootstrap --tests "
              "installs it")
        return 1
    program = os.path.join(os.path.abspath(args.build), "pipeline", "camrelay")
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
