#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every figure of issue 16 from one run, against its target.

    ninja -C build && sudo /usr/bin/python3 tests/bench/scale-targets.py [--build build]
        [--quick] [--json OUT]

Runs, one after the other on this machine, the benchmarks that hold issue 16's figures and
prints one table of target, measured and met:
  * tests/bench/many-cameras.py: 1,000 and 5,000 idle cameras (start, CPU, RSS, threads,
    /status and /metrics, shutdown) and 1,000 cameras x 5 fps with a viewer each;
  * tests/bench/run-bench.py: one camera as fast as it can against the trivial epoll relay,
    1,000 viewers of one 30 fps camera, and the slow (64 KiB/s) viewer beside nine fast ones;
  * tests/bench/thin-link.py (root: network namespaces and tbf): a viewer behind a 512 kbit/s
    link at 5, 8, 15 and 30 fps. Without root its rows say so and count as not met.
Each script's own output goes to stderr; its JSON is kept with --keep DIR. Takes ~10 minutes
(--quick: shorter windows, one thin-link run per rate).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(argv):
    print("scale-targets: " + " ".join(argv), file=sys.stderr, flush=True)
    return subprocess.run([sys.executable] + argv, stdout=sys.stderr, cwd=ROOT).returncode


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def rows_many(data):
    idle = {r["cameras"]: r for r in (data or {}).get("idle", [])}
    live = {(r["cameras"], r["fps"]): r for r in (data or {}).get("live", [])}
    out = []
    i1, i5 = idle.get(1000, {}), idle.get(5000, {})
    out.append(("1,000 idle cameras: threads", "≤ 64",
                "%s (most while starting %s)" % (i1.get("threads"), i1.get("start_threads_peak")),
                i1.get("threads") is not None and i1["threads"] <= 64))
    out.append(("5,000 idle cameras: threads (an idle camera holds none)", "≤ 64",
                "%s (most while starting %s)" % (i5.get("threads"), i5.get("start_threads_peak")),
                i5.get("threads") is not None and i5["threads"] <= 64))
    for key, label, target, fmt in (("ready_s", "every URL answers (last camera's stream)", 5.0,
                                      "%.2f s"),
                                     ("cpu_pct", "CPU idle (% of a core)", 2.0, "%.1f%%"),
                                     ("rss_mib", "RSS", 512, "%.0f MiB"),
                                     ("shutdown_s", "shutdown", 1.0, "%.2f s")):
        v = i5.get(key)
        out.append(("5,000 idle cameras: " + label, "≤ " + (fmt % target),
                    fmt % v if v is not None else "none", v is not None and v <= target))
    for n, i, target in ((1000, i1, 20.0), (5000, i5, 100.0)):
        for page in ("status", "metrics"):
            v, cpu = i.get(page + "_ms"), i.get(page + "_cpu_ms")
            out.append(("/%s at %s cameras (p50; server CPU a request)" % (page, format(n, ",")),
                        "≤ %.0f ms" % target,
                        "%.1f ms (%.1f ms)" % (v, cpu) if v is not None and cpu is not None
                        else "none", v is not None and v <= target))
    r = live.get((1000, 5), {})
    if r:
        every = r["gaps"] == 0 and r["live"] is not None and r["live"] >= r["expected"] - r[
            "cameras"] and not r["viewers_failed"] and not r["cameras_failed"]
        out.append(("1,000 cameras × 5 fps: every frame", "no gap, none lost",
                    "%s of %s, gaps %s" % (r["live"], r["expected"], r["gaps"]), every))
        out.append(("1,000 cameras × 5 fps: p99", "≤ 50 ms", "%.1f ms" % r["p99"],
                    r["p99"] <= 50))
        out.append(("1,000 cameras × 5 fps: CPU", "≤ 40% of a core", "%.1f%%" % r["cpu_pct"],
                    r["cpu_pct"] <= 40))
        out.append(("1,000 cameras × 5 fps: CPU per delivered frame", "≤ 75 µs",
                    "%.0f µs" % r["us_per_frame"], r["us_per_frame"] <= 75))
    else:
        out.append(("1,000 cameras × 5 fps", "every frame, p99 ≤ 50 ms, ≤ 75 µs a frame",
                    "not run", False))
    return out


def rows_bench(data):
    res = (data or {}).get("results", {})
    out = []

    def fast_of(key, server):
        r = res.get(key, {}).get(server)
        return r["viewers"].get("fast") if r and "viewers" in r else None
    ours, ceiling = fast_of("fast", "camrelay"), fast_of("fast", "trivial")
    if ours and ceiling and ceiling["live_fps_mean"]:
        share = ours["live_fps_mean"] / ceiling["live_fps_mean"]
        out.append(("one camera as fast as it can: frames to the viewer, of the trivial relay's",
                    "≥ 60%", "%.0f%% (%.0f of %.0f frames/s; corrupt %d)" % (
                        100 * share, ours["live_fps_mean"], ceiling["live_fps_mean"],
                        ours["corrupt"]), share >= 0.6 and not ours["corrupt"]))
    else:
        out.append(("one camera as fast as it can", "≥ 60% of the trivial relay", "not run",
                    False))
    v = fast_of("v1000", "camrelay")
    if v:
        out.append(("1,000 viewers of one 30 fps camera (no regression)",
                    "p99 ≤ 50 ms, every viewer ≥ 29 fps",
                    "p99 %.1f ms, min %.1f fps" % (v["latency_ms"]["p99"], v["live_fps_min"]),
                    v["latency_ms"]["p99"] <= 50 and v["live_fps_min"] >= 29))
    r = res.get("slow", {}).get("camrelay")
    if r and "viewers" in r:
        slow, fast = r["viewers"]["throttled"], r["viewers"]["fast"]
        out.append(("slow viewer (64 KiB/s) beside nine fast ones (no regression)",
                    "fast ≥ 29 fps; slow p50 ≤ 0.6 s",
                    "fast min %.1f fps; slow %.1f fps, p50 %.0f ms, max %.0f ms" % (
                        fast["live_fps_min"], slow["live_fps_mean"], slow["latency_ms"]["p50"],
                        slow["latency_ms"]["max"]),
                    fast["live_fps_min"] >= 29 and slow["latency_ms"]["p50"] <= 600))
    return out


def rows_thin(data, why):
    if data is None:
        return [("thin link, every camera rate", "p50 ≤ 0.6 s, max ≤ 1.5 s", why, False)]
    out = []
    for fps in sorted({r["fps"] for r in data}):
        runs = [r for r in data if r["fps"] == fps]
        out.append(("thin link (512 kbit/s) at %g fps, %d run%s" % (
            fps, len(runs), "s" if len(runs) > 1 else ""), "p50 ≤ 0.6 s, max ≤ 1.5 s, every run",
            "; ".join("p50 %.2f max %.2f s" % (r["p50"], r["max"]) for r in runs),
            all(r["met"] for r in runs)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="shorter windows, one thin-link run")
    ap.add_argument("--keep", help="keep each script's JSON in this folder")
    ap.add_argument("--json", help="also write the table as JSON here")
    args = ap.parse_args()
    out = args.keep or tempfile.mkdtemp(prefix="scale-targets-")
    os.makedirs(out, exist_ok=True)
    bench = os.path.join("tests", "bench")
    many, runb, thin = (os.path.join(out, n) for n in ("many.json", "run-bench", "thin.json"))

    run([os.path.join(bench, "many-cameras.py"), "--build", args.build, "--counts", "1000,5000",
         "--live", "1000x5", "--idle-seconds", "3" if args.quick else "5",
         "--live-seconds", "10" if args.quick else "20", "--json", many])
    run([os.path.join(bench, "run-bench.py"), "--build", args.build, "--servers",
         "camrelay,trivial", "--scenarios", "v1000,fast,slow", "--no-docs", "--out", runb]
        + (["--quick"] if args.quick else []))
    why = "not run: needs root (network namespaces, tc)"
    if os.geteuid() == 0:
        run([os.path.join(bench, "thin-link.py"), "--build", args.build, "--runs",
             "1" if args.quick else "2", "--duration", "10" if args.quick else "15",
             "--json", thin])
        why = "no result (see above)"

    rows = rows_many(load(many)) + rows_bench(load(os.path.join(runb, "results.json"))) + \
        rows_thin(load(thin), why)
    print("| issue 16 | target | measured | met |")
    print("|---|---|---|---|")
    for what, target, measured, met in rows:
        print("| %s | %s | %s | %s |" % (what, target, measured, "yes" if met else "**no**"))
    print("\n%d of %d targets met" % (sum(1 for r in rows if r[3]), len(rows)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(zip(("what", "target", "measured", "met"), r)) for r in rows], f,
                      indent=1)
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
