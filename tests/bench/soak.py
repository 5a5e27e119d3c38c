#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Soak: one camera at 30 fps and 100 viewers for 10 minutes against camrelay, watching its memory.

    ninja -C build && /usr/bin/python3 tests/bench/soak.py [--minutes 10] [--viewers 100]

Starts camrelay (CAMRELAY_CMD as in run-bench.py) on a free port of 127.0.0.1, runs
camrelay-loadgen for the whole time, samples the server's resident memory (VmRSS), open file
descriptors and threads every 30 s, and prints one JSON object: the samples, the growth from the
first sample after warm-up to the last, and the load generator's verdict (frames, gaps, corrupt
parts, latency). With --docs it rewrites the soak block of docs/RELIABILITY.md. Not a test: it
takes ten minutes. Stops everything it started, Ctrl-C included.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402


def proc_sample(pid):
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return {"rss_kib": rss, "fds": fds, "threads": threads}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--docs", action="store_true", help="rewrite the block in docs/RELIABILITY.md")
    args = ap.parse_args()

    benchlib.install_signal_handlers()
    benchlib.raise_nofile()
    frames = os.path.join(HERE, "out", "frames")
    if not os.path.isdir(frames):
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make-frames.py"), frames],
                       check=True, stdout=subprocess.DEVNULL)
    loadgen = os.path.join(args.build, "tests", "bench", "camrelay-loadgen")
    port = benchlib.free_port()
    duration = int(args.minutes * 60)
    try:
        server = benchlib.start(benchlib.camrelay_argv(port, args.build))
        if not benchlib.wait_port(port, server):
            sys.exit("camrelay did not start")
        samples = []
        result = {}

        def run_load():
            out = subprocess.run([loadgen, "--port", str(port), "--frames", frames,
                                  "--viewers", str(args.viewers), "--warmup", "10",
                                  "--duration", str(duration), "--pid", str(server.pid)],
                                 capture_output=True, text=True, timeout=duration + 120)
            result.update(json.loads(out.stdout))

        load = threading.Thread(target=run_load)
        start = time.monotonic()
        load.start()
        while load.is_alive():
            s = proc_sample(server.pid)
            s["t_s"] = round(time.monotonic() - start)
            samples.append(s)
            benchlib.log("soak: %4d s  RSS %.1f MiB  fds %d  threads %d" % (
                s["t_s"], s["rss_kib"] / 1024, s["fds"], s["threads"]))
            load.join(args.interval)
        after = proc_sample(server.pid)
        after["t_s"] = round(time.monotonic() - start)
    finally:
        benchlib.stop_all()

    steady = [s for s in samples if s["t_s"] >= 30] or samples
    fast = result.get("viewers", {}).get("fast", {})
    summary = {
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "machine": "%d cores, %s" % (os.cpu_count(), platform.release()),
        "minutes": args.minutes, "viewers": args.viewers,
        "rss_first_mib": round(steady[0]["rss_kib"] / 1024, 1),
        "rss_last_mib": round(steady[-1]["rss_kib"] / 1024, 1),
        "rss_max_mib": round(max(s["rss_kib"] for s in samples) / 1024, 1),
        "rss_growth_kib": steady[-1]["rss_kib"] - steady[0]["rss_kib"],
        "fds_first": steady[0]["fds"], "fds_last": steady[-1]["fds"],
        "fds_after": after["fds"], "rss_after_mib": round(after["rss_kib"] / 1024, 1),
        "live_fps_min": fast.get("live_fps_min"), "gaps": fast.get("gaps"),
        "corrupt": fast.get("corrupt"), "placeholder": fast.get("placeholder"),
        "latency_ms": fast.get("latency_ms"), "server_cpu_pct": result.get("server", {}).get("cpu_pct"),
        "samples": samples,
    }
    print(json.dumps(summary))
    if args.docs:
        write_docs(summary)


def write_docs(s):
    path = os.path.join(ROOT, "docs", "RELIABILITY.md")
    with open(path) as f:
        text = f.read()
    rows = "\n".join("| %d | %.1f | %d | %d |" % (x["t_s"], x["rss_kib"] / 1024, x["fds"], x["threads"])
                     for x in s["samples"])
    lat = s["latency_ms"] or {}
    block = """<!-- soak:begin -->
- command: `tests/bench/soak.py --docs` (camrelay program, one camera at 30 fps, {viewers} viewers, {minutes:g} minutes)
- date: {date}; machine: {machine}
- resident memory after warm-up {rss_first_mib} MiB, at the end {rss_last_mib} MiB (growth {rss_growth_kib} KiB), peak {rss_max_mib} MiB
- open descriptors {fds_first} → {fds_last} while the viewers were connected; {fds_after} once they had left (RSS then {rss_after_mib} MiB)
- viewers: every one at ≥ {live_fps_min} live fps; gaps {gaps}; corrupt parts {corrupt}; placeholder parts {placeholder}; latency p50 {p50} ms, p99 {p99} ms; server CPU {server_cpu_pct}% of a core

| time (s) | RSS (MiB) | open fds | threads |
|---|---|---|---|
{rows}
<!-- soak:end -->""".format(rows=rows, p50=lat.get("p50"), p99=lat.get("p99"), **s)
    text = re.sub(r"<!-- soak:begin -->.*<!-- soak:end -->", lambda m: block, text, flags=re.S)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
