#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Whether a hung webhook receiver and a broker that stops reading cost the viewers anything
(issue 19).

    ninja -C build && /usr/bin/python3 tests/bench/notify-stall-bench.py [--cameras 50]
        [--fps 5] [--seconds 30] [--rounds 2] [--json OUT]

The real program with N cameras at F fps and one viewer each (camrelay-loadgen), run alternately
1. plain: no [mqtt], no [events];
2. stalled: [mqtt] on a real mosquitto (Debian's, started here on a free port) that is stopped
   with SIGSTOP once camrelay has connected and published its discovery, so its socket fills and
   nothing is ever acknowledged; and [events] with two URLs: one a TCP server that accepts and
   never reads or answers, one a port where nothing listens. queue-size = 10, so events are
   dropped and counted; every camera connecting is an `online` event, the attributes of every
   camera go to MQTT every few seconds, and (--mqtt-snapshot-interval, 1 s) a snapshot of every
   camera: ~28 KB per camera a second, which fills the stopped broker's socket within seconds.
Per run: frames sent, delivered live to viewers, latency camera → viewer (p50/p99/max), camrelay's
CPU, RSS at the start and end of the window, and what /status says of the queues. Targets: every
frame delivered, the latency as without, memory bounded: RSS growth over the window ≤ 8 MiB
(it includes every camera and viewer connecting), and ≤ 1 MiB over its last half (levelled off).
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

_spec = importlib.util.spec_from_file_location("many_cameras",
                                               os.path.join(HERE, "many-cameras.py"))
mc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc)

RSS_GROWTH_MIB = 8.0
RSS_LATE_GROWTH_MIB = 1.0


class HungReceiver:
    """Accepts connections and never reads from them or answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return None


def status(port):
    code, _, body = mc.get(port, "/status", 10)
    return json.loads(body) if code == 200 else None


def write_config(path, args, port, broker_port, hook_port, dead_port):
    with open(path, "w") as f:
        f.write("[server]\naddress = 127.0.0.1\nport = %d\nrtsp-port = 0\n\n" % port)
        if broker_port:
            f.write("[mqtt]\nbroker = mqtt://127.0.0.1:%d\nclient-id = bench\n\n" % broker_port)
            f.write("[events]\nurl = http://127.0.0.1:%d/hook; http://127.0.0.1:%d/hook\n"
                    "queue-size = 10\ntimeout = 2\n\n" % (hook_port, dead_port))
        for k in range(args.cameras):
            f.write("[camera cam%d]\n" % k)
            if broker_port and args.mqtt_snapshot_interval > 0:
                f.write("mqtt-snapshot-interval = %g\n" % args.mqtt_snapshot_interval)


def run(args, stalled, tmp, tag):
    port = benchlib.free_port()
    broker = hook = None
    broker_port = hook_port = dead_port = 0
    if stalled:
        broker_port = benchlib.free_port()
        bconf = os.path.join(tmp, "mosquitto.conf")
        with open(bconf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    % broker_port)
        broker = benchlib.start(["mosquitto", "-c", bconf], os.path.join(tmp, "%s-mosq.log" % tag))
        hook = HungReceiver()
        hook_port = hook.port
        dead_port = benchlib.free_port()
    conf = os.path.join(tmp, "%s.conf" % tag)
    write_config(conf, args, port, broker_port, hook_port, dead_port)
    log_path = os.path.join(tmp, "%s.log" % tag)
    proc = benchlib.start([os.path.join(args.build, "pipeline", "camrelay"), "--config", conf],
                          log_path)
    row = {"run": tag, "stalled": stalled}
    try:
        if not mc.wait_until(lambda: mc.first_part(port, "/stream/cam%d" % (args.cameras - 1)),
                             time.monotonic() + 60):
            raise RuntimeError("camrelay did not come up (see %s)" % log_path)
        if stalled:
            if not mc.wait_until(lambda: (status(port).get("mqtt") or {}).get(
                    "messages_published", 0) >= args.cameras, time.monotonic() + 30):
                raise RuntimeError("camrelay did not publish to the broker")
            os.kill(broker.pid, signal.SIGSTOP)
        row["rss_start"] = rss_mib(proc.pid)
        # RSS once a second while the load runs: the growth over the last half of the run says
        # whether memory levels off once every camera and viewer is connected and every queue
        # full, or keeps growing.
        samples = []
        sampling = threading.Event()

        def sample_rss():
            while not sampling.wait(1.0):
                samples.append((time.monotonic(), rss_mib(proc.pid)))
        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        res = benchlib.run_loadgen(args.loadgen, [
            "--port", str(port), "--frames", args.frames, "--cameras", str(args.cameras),
            "--fps", str(args.fps), "--camera-path", "/ws/cam%d",
            "--viewers", str(args.cameras), "--path", "/stream/cam%d", "--warmup", "3",
            "--duration", str(args.seconds), "--ramp-timeout", "60", "--pid", str(proc.pid),
            "--label", tag], timeout=args.seconds + 150)
        row["rss_end"] = rss_mib(proc.pid)
        sampling.set()
        sampler.join()
        # The loadgen's window ends a few seconds before it returns (its report); take the
        # sample nearest to half the measured window before the end.
        end_t = samples[-1][0] if samples else time.monotonic()
        half = [r for t, r in samples if t <= end_t - args.seconds / 2]
        row["rss_half"] = half[-1] if half else row["rss_start"]
        fast = res["viewers"]["fast"]
        row["cpu_pct"] = res["server"].get("cpu_pct")
        row["sent"] = res["cameras"]["frames_sent"]
        row["delivered"] = fast.get("live")
        row["gaps"] = fast.get("gaps")
        row["latency"] = fast.get("latency_ms")
        st = status(port)
        row["mqtt"] = st.get("mqtt")
        row["webhooks"] = st.get("webhooks")
    finally:
        benchlib.stop(proc)
        if broker:
            try:
                os.kill(broker.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            benchlib.stop(broker)
        if hook:
            hook.close()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cameras", type=int, default=50)
    ap.add_argument("--fps", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--mqtt-snapshot-interval", type=float, default=1,
                    help="stalled runs: every camera's frame on MQTT this often (0 = none), so "
                    "the stopped broker's socket fills within seconds and camrelay's own MQTT "
                    "queue is what holds the rest")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.loadgen = os.path.join(args.build, "tests", "bench", "camrelay-loadgen")
    args.frames = os.path.join(HERE, "out", "frames")
    if not shutil.which("mosquitto"):
        print("mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    benchlib.install_signal_handlers()
    benchlib.raise_nofile()
    if not os.path.isdir(args.frames):
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make-frames.py"), args.frames],
                       check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="camrelay-notify-stall-")
    rows = []
    try:
        for r in range(args.rounds):
            for stalled in (False, True):
                tag = "%s%d" % ("stalled" if stalled else "plain", r + 1)
                benchlib.log("%s: %d cameras at %g fps" % (tag, args.cameras, args.fps))
                rows.append(run(args, stalled, tmp, tag))
    except KeyboardInterrupt:
        return 130
    finally:
        benchlib.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    print("# camrelay, hung webhook receiver and stopped broker: %s, %s, %d cores, %s; "
          "%d cameras x %g fps, one viewer each, %g s"
          % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             platform.processor() or platform.machine(), os.cpu_count(),
             subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            stdout=subprocess.PIPE, text=True).stdout.strip(),
             args.cameras, args.fps, args.seconds))
    print("| run | CPU % | frames sent | delivered live | gaps | latency p50 / p99 / max ms | "
          "RSS start → half → end MiB | MQTT queued (bytes) | "
          "webhooks queued / failed / dropped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        lat = row["latency"] or {}
        mq = row["mqtt"]
        hooks = row["webhooks"] or []
        print("| %s | %.1f | %d | %s | %s | %.1f / %.1f / %.1f | %.1f → %.1f → %.1f | %s | %s |"
              % (row["run"], row["cpu_pct"] or 0, row["sent"], row["delivered"], row["gaps"],
                 lat.get("p50", 0), lat.get("p99", 0), lat.get("max", 0), row["rss_start"],
                 row["rss_half"], row["rss_end"],
                 "%d (%d)" % (mq["queued"], mq["queued_bytes"]) if mq else "—",
                 "; ".join("%d / %d / %d" % (w["queued"], w["failed"], w["dropped"])
                           for w in hooks) or "—"))
    print()
    print("| target | measured | met |")
    print("|---|---|---|")
    stalled = [r for r in rows if r["stalled"]]
    plain = [r for r in rows if not r["stalled"]]
    lost = sum(max(0, r["sent"] - (r["delivered"] or 0)) for r in stalled)
    print("| every frame reaches every viewer with the broker and receivers stalled | %d of %d "
          "frames not delivered live | %s |" % (lost, sum(r["sent"] for r in stalled),
                                                "yes" if lost == 0 else "NO"))
    p99_s = max((r["latency"] or {}).get("p99", 0) for r in stalled)
    p99_p = max((r["latency"] or {}).get("p99", 0) for r in plain)
    print("| on time: latency p99 as without (within 10 ms or 25 %%) | %.1f ms vs %.1f ms | %s |"
          % (p99_s, p99_p, "yes" if p99_s <= max(p99_p * 1.25, p99_p + 10) else "NO"))
    growth = max(r["rss_end"] - r["rss_start"] for r in stalled)
    print("| memory: RSS growth over the window (cameras and viewers connecting included) "
          "≤ %g MiB | %+.1f MiB (without the stall: %+.1f) | %s |"
          % (RSS_GROWTH_MIB, growth, max(r["rss_end"] - r["rss_start"] for r in plain),
             "yes" if growth <= RSS_GROWTH_MIB else "NO"))
    late = max(r["rss_end"] - r["rss_half"] for r in stalled)
    print("| memory bounded: RSS growth over the last half of the window ≤ %g MiB | %+.1f MiB "
          "| %s |" % (RSS_LATE_GROWTH_MIB, late, "yes" if late <= RSS_LATE_GROWTH_MIB else "NO"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
