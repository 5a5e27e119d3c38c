#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every benchmark scenario of issue 4 against camrelay, the legacy
server and the trivial ceiling server, and rewrites the result tables in
docs/PERFORMANCE.md.

    ninja -C build && /usr/bin/python3 tests/bench/run-bench.py [--quick]

Each (scenario, server) run starts a fresh server on a free port of
127.0.0.1, runs build/tests/bench/camrelay-loadgen against it with --pid,
stops the server (SIGTERM, then SIGKILL to its process group) and keeps the
load generator's JSON. Nothing outlives the script, Ctrl-C included.

camrelay is started as CAMRELAY_CMD, a command template with {port},
{placeholder}, {root} and {build}; default "{build}/pipeline/camrelay
--port {port}". It must exec the server itself (no "sh -c"), because its
pid is the one measured. Example with the element pipeline:

    CAMRELAY_CMD='env GST_PLUGIN_PATH={build}/plugins gst-launch-1.0 -q
      wsjpegsrc port={port} ! jpegvalidate ! jpegfallback
      placeholder={placeholder} ! multipartmux ! mjpeghttpsink'
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

SERVERS = ["camrelay", "legacy", "trivial"]
SERVER_TITLES = {"camrelay": "camrelay", "legacy": "legacy (Python)",
                 "trivial": "ceiling (trivial epoll server)"}

# key, title, load generator arguments, servers it applies to
SCENARIOS = [
    ("v1", "1 viewer", ["--viewers", "1"], SERVERS),
    ("v10", "10 viewers", ["--viewers", "10"], SERVERS),
    ("v100", "100 viewers", ["--viewers", "100"], SERVERS),
    ("v1000", "1,000 viewers", ["--viewers", "1000"], SERVERS),
    ("fast", "camera as fast as it can, 1 viewer",
     ["--viewers", "1", "--fps", "0"], SERVERS),
    ("slow", "10 viewers, one reading at 64 KiB/s",
     ["--viewers", "10", "--throttled", "1", "--throttle-rate", "65536"],
     SERVERS),
    ("nocam", "1 viewer, no camera (placeholder)",
     ["--viewers", "1", "--cameras", "0"], ["camrelay", "legacy"]),
    ("idle", "idle, nothing connected",
     ["--viewers", "0", "--cameras", "0"], SERVERS),
]
TARGETS = {
    "v1": "every frame; p50 ≤ 0.5 ms, p99 ≤ 2 ms; CPU ≤ 2%",
    "v100": "every viewer ≥ 29.5 fps; p99 ≤ 10 ms; no placeholder, no gap",
    "v1000": "every viewer ≥ 29 fps; p99 ≤ 50 ms; peak RSS ≤ 64 MiB; "
             "CPU ≤ 100%",
    "fast": "≥ 10,000 live frames/s reach the viewer, none corrupt",
    "slow": "fast viewers ≥ 29.5 fps; slow viewer latency ≤ 1 s; "
            "bounded memory",
    "nocam": "CPU ≤ 1%",
    "idle": "~0 CPU, RSS reported",
}


# ---- Servers -------------------------------------------------------------

def server_argv(name, port, args, loadgen):
    fields = {"placeholder": os.path.join(ROOT, "placeholder.jpg")}
    if name == "camrelay":
        return benchlib.camrelay_argv(port, args.build)
    if name == "legacy":
        return ["/usr/bin/python3",
                os.path.join(HERE, "legacy", "legacy_server.py"),
                "--host", "127.0.0.1", "--port", str(port),
                "--placeholder", fields["placeholder"], "--log-level", "warning"]
    return [loadgen, "--serve", "--host", "127.0.0.1", "--port", str(port)]


def missing_program(argv):
    """Why @argv cannot run, or None."""
    prog = argv[0]
    if prog == "env":  # env VAR=... program ...
        rest = [a for a in argv[1:] if "=" not in a and not a.startswith("-")]
        prog = rest[0] if rest else prog
    if os.sep in prog:
        return None if os.access(prog, os.X_OK) else "%s not built" % (
            os.path.relpath(prog, ROOT))
    return None if shutil.which(prog) else "%s not found" % prog


def run_one(name, scenario, loadgen, args, frames, logdir):
    key, title, extra, _ = scenario
    port = benchlib.free_port()
    argv = server_argv(name, port, args, loadgen)
    why = missing_program(argv)
    if why:
        return {"pending": why}
    log_path = os.path.join(logdir, "%s-%s.log" % (name, key))
    srv = benchlib.start(argv, log_path=log_path)
    try:
        if not benchlib.wait_port(port, srv, timeout=20):
            code = srv.poll()
            return {"error": "server did not listen (exit %s, log %s)" % (
                code, os.path.relpath(log_path, ROOT))}
        time.sleep(0.3)  # let it finish starting before the idle baseline
        lg_args = ["--port", str(port), "--frames", frames, "--pid", str(srv.pid),
                   "--camera-path", args.camera_path, "--greeting",
                   "--warmup", str(args.warmup), "--duration", str(args.duration),
                   "--label", "%s/%s" % (name, key)]
        if args.content_length:
            lg_args.append("--content-length")
        result = benchlib.run_loadgen(
            loadgen, lg_args + extra,
            timeout=args.warmup + args.duration + 60)
        if srv.poll() is not None:
            result["server_exited"] = srv.returncode
        return result
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        return {"error": str(e)}
    finally:
        benchlib.stop(srv)


# ---- Formatting ----------------------------------------------------------

def ms(v):
    if v is None:
        return "–"
    if v < 10:
        return "%.2f" % v
    if v < 100:
        return "%.1f" % v
    return "%.0f" % v


def mib(kib):
    return "%.1f MiB" % (kib / 1024.0) if kib is not None else "–"


def pct(v):
    return "%.1f%%" % v if v is not None else "–"


def ratio(v):
    return "%.1f%%" % (100 * v)


def cell(key, r):
    if r is None:
        return "–"
    if "pending" in r:
        return "pending (%s)" % r["pending"]
    if "error" in r:
        return "error: %s" % r["error"][:120]
    problems = []
    if r["cameras"]["failed"]:
        problems.append("camera failed: %s" % r["cameras"]["first_error"])
    if r["viewers"]["failed"] or r["viewers"]["dropped"]:
        problems.append("%d viewers failed, %d dropped (%s)" % (
            r["viewers"]["failed"], r["viewers"]["dropped"],
            r["viewers"]["first_error"]))
    if "server_exited" in r:
        problems.append("server exited with %s" % r["server_exited"])
    text = cell_text(key, r)
    return "; ".join(["**%s**" % p for p in problems] + [text])


def cell_text(key, r):
    srv = r["server"]
    cam = r["cameras"]
    fast = r["viewers"].get("fast")
    lat = fast["latency_ms"] if fast else None
    if key == "v1":
        return ("%.1f live fps of %.1f sent, %d gaps; p50 %s ms, p99 %s ms; "
                "CPU %s; placeholder in %s of parts" % (
                    fast["live_fps_mean"], cam["send_fps"], fast["gaps"],
                    ms(lat["p50"]), ms(lat["p99"]), pct(srv["cpu_pct"]),
                    ratio(fast["placeholder_ratio"])))
    if key in ("v10", "v100", "v1000"):
        return ("fps min %.1f / mean %.1f; %d of %d viewers got nothing; "
                "p99 %s ms; gaps %d; placeholder %s; CPU %s; peak RSS %s" % (
                    fast["live_fps_min"], fast["live_fps_mean"],
                    fast["viewers_without_live_frames"], fast["viewers"],
                    ms(lat["p99"]), fast["gaps"],
                    ratio(fast["placeholder_ratio"]), pct(srv["cpu_pct"]),
                    mib(srv["hwm_kib"])))
    if key == "fast":
        return ("camera sent %.0f frames/s; %.1f live fps reach the viewer; "
                "corrupt %d; CPU %s" % (
                    cam["send_fps"], fast["live_fps_mean"], fast["corrupt"],
                    pct(srv["cpu_pct"])))
    if key == "slow":
        slow = r["viewers"]["throttled"]
        sl = slow["latency_ms"]
        return ("fast viewers: fps min %.1f, p99 %s ms; slow viewer: %.1f fps, "
                "latency p50 %s ms, max %s ms; peak RSS %s" % (
                    fast["live_fps_min"], ms(lat["p99"]), slow["live_fps_mean"],
                    ms(sl["p50"]), ms(sl["max"]), mib(srv["hwm_kib"])))
    if key == "nocam":
        return "CPU %s; %.0f placeholder parts/s; corrupt %d" % (
            pct(srv["cpu_pct"]), fast["placeholder"] / r["duration_s"],
            fast["corrupt"])
    if key == "idle":
        return "CPU %s; RSS %s" % (pct(srv["cpu_pct"]), mib(srv["rss_end_kib"]))
    return "?"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")
    return "\n".join(out)


def scenarios_table(results, servers):
    header = ["scenario", "target for camrelay"] + [SERVER_TITLES[s] for s in servers]
    rows = []
    for key, title, _, applies in SCENARIOS:
        if key == "v10":
            continue  # in the cost table
        rows.append([title, TARGETS.get(key, "")] + [
            cell(key, results.get(key, {}).get(s)) if s in applies else "n/a"
            for s in servers])
    return table(header, rows)


def cost_table(results, servers):
    """CPU per delivered frame, then memory per added viewer, by viewers."""
    counts = (("v1", 1), ("v10", 10), ("v100", 100), ("v1000", 1000))
    short = {s: SERVER_TITLES[s].split(" (")[0] for s in servers}

    def server_of(key, s):
        r = results.get(key, {}).get(s)
        if r and "server" in r and r["server"].get("pid") is not None:
            return r["server"]
        return None

    def missing(key, s):
        r = results.get(key, {}).get(s)
        return "pending" if r and "pending" in r else "–"

    header = ["viewers"]
    for s in servers:
        header += ["%s CPU" % short[s], "%s µs CPU per frame" % short[s]]
    ratio_col = "camrelay" in servers and "trivial" in servers
    if ratio_col:
        header.append("camrelay ÷ ceiling, per frame")
    rows = []
    for key, n in counts:
        row = ["{:,}".format(n)]
        per_frame = {}
        for s in servers:
            srv = server_of(key, s)
            if not srv:
                row += [missing(key, s), "–"]
                continue
            per_frame[s] = srv["cpu_us_per_part"]
            row += [pct(srv["cpu_pct"]),
                    "%.1f" % srv["cpu_us_per_part"]
                    if srv["cpu_us_per_part"] is not None else "–"]
        if ratio_col:
            a, b = per_frame.get("camrelay"), per_frame.get("trivial")
            row.append("%.1f×" % (a / b) if a and b else "–")
        rows.append(row)
    cpu = table(header, rows)

    header = ["viewers"]
    for s in servers:
        header += ["%s RSS at end" % short[s], "%s KiB per added viewer" % short[s]]
    rows = []
    for key, n in counts:
        row = ["{:,}".format(n)]
        for s in servers:
            srv = server_of(key, s)
            one = server_of("v1", s)
            if not srv:
                row += [missing(key, s), "–"]
                continue
            if n == 1:
                added = "–"
            elif one:
                added = "%.1f" % ((srv["rss_end_kib"] - one["rss_end_kib"]) /
                                  float(n - 1))
            else:
                added = "–"
            row += [mib(srv["rss_end_kib"]), added]
        rows.append(row)
    return cpu + "\n\n" + table(header, rows)


def details_table(results, servers):
    header = ["scenario", "server", "live fps min / mean", "live", "repeats",
              "placeholder", "corrupt", "gaps", "latency p50 / p90 / p99 / max ms",
              "server CPU", "server peak RSS", "loadgen CPU"]
    rows = []
    for key, title, _, applies in SCENARIOS:
        for s in servers:
            r = results.get(key, {}).get(s)
            if s not in applies or not r or "viewers" not in r:
                continue
            groups = [("", r["viewers"].get("fast")),
                      (" (slow viewer)", r["viewers"].get("throttled"))]
            for suffix, g in groups:
                if not g:
                    continue
                lat = g["latency_ms"]
                rows.append([
                    title + suffix, SERVER_TITLES[s].split(" (")[0],
                    "%.1f / %.1f" % (g["live_fps_min"], g["live_fps_mean"]),
                    g["live"], g["repeats"], g["placeholder"], g["corrupt"],
                    g["gaps"],
                    " / ".join(ms(lat[k]) for k in ("p50", "p90", "p99", "max")),
                    pct(r["server"].get("cpu_pct")),
                    mib(r["server"].get("hwm_kib")),
                    pct(r["loadgen"]["cpu_pct"])])
            if not any(g for _, g in groups):
                rows.append([title, SERVER_TITLES[s].split(" (")[0]] +
                            ["–"] * 7 + [pct(r["server"].get("cpu_pct")),
                                         mib(r["server"].get("hwm_kib")),
                                         pct(r["loadgen"]["cpu_pct"])])
    return table(header, rows)


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "loadavg": os.getloadavg()}


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def meta_block(info):
    m = info["machine"]
    return "\n".join([
        "- command: `%s`" % info["command"],
        "- date: %s" % info["date"],
        "- machine: %d cores (`nproc`), %s, Linux %s; load average at start "
        "%.2f / %.2f / %.2f" % ((m["nproc"], m["cpu"], m["kernel"]) +
                                tuple(m["loadavg"])),
        "- revision: %s; camrelay command: `%s`" % (info["revision"],
                                                    info["camrelay_cmd"]),
        "- each run: fresh server, %s s warm-up, %s s measured, one camera at "
        "30 fps unless said, frames %s" % (info["warmup"], info["duration"],
                                           info["frames"]),
        "- total time: %.0f s" % info["elapsed_s"],
    ])


def rewrite_docs(path, blocks):
    with open(path) as f:
        text = f.read()
    for name, body in blocks.items():
        begin = "<!-- bench:%s:begin -->" % name
        end = "<!-- bench:%s:end -->" % name
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit("run-bench: %s has no %s ... %s markers" % (
                path, begin, end))
        text = pattern.sub(lambda _: begin + "\n" + body + "\n" + end, text)
    with open(path, "w") as f:
        f.write(text)


# ---- Main ----------------------------------------------------------------

def ensure_frames(path):
    if len(glob.glob(os.path.join(path, "*.jpg"))) >= 90:
        return
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make-frames.py"),
                    path], check=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="1 s warm-up and 2 s per run instead of 2 s and 6 s")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--servers", default=",".join(SERVERS),
                    help="comma-separated subset of " + ",".join(SERVERS))
    ap.add_argument("--scenarios", default=",".join(s[0] for s in SCENARIOS),
                    help="comma-separated subset of " +
                    ",".join(s[0] for s in SCENARIOS))
    ap.add_argument("--camera-path", default="/",
                    help="WebSocket path of the cameras (firmware uses /)")
    ap.add_argument("--content-length", action="store_true",
                    help="viewers ask for ?content-length=1 parts")
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--no-docs", action="store_true",
                    help="print the tables instead of rewriting the docs")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    args = ap.parse_args()
    args.warmup, args.duration = (1, 2) if args.quick else (2, 6)
    args.build = os.path.abspath(args.build)
    wanted = [s for s in args.servers.split(",") if s]
    keys = [k for k in args.scenarios.split(",") if k]
    for s in wanted:
        if s not in SERVERS:
            ap.error("unknown server %s" % s)
    servers = [s for s in SERVERS if s in wanted]
    for k in keys:
        if k not in [sc[0] for sc in SCENARIOS]:
            ap.error("unknown scenario %s" % k)

    loadgen = os.path.join(args.build, "tests", "bench", "camrelay-loadgen")
    if not os.access(loadgen, os.X_OK):
        raise SystemExit("run-bench: %s missing; run ninja -C %s first" % (
            loadgen, args.build))
    frames = os.path.join(args.out, "frames")
    logdir = os.path.join(args.out, "logs")
    os.makedirs(logdir, exist_ok=True)
    ensure_frames(frames)

    benchlib.install_signal_handlers()
    benchlib.raise_nofile()
    started = time.monotonic()
    info = {
        "command": " ".join(["tests/bench/run-bench.py"] + sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "revision": git_revision(),
        "camrelay_cmd": os.environ.get("CAMRELAY_CMD",
                                       "{build}/pipeline/camrelay --port {port}"),
        "warmup": args.warmup, "duration": args.duration,
        "frames": "%d VGA JPEGs of %.1f-%.1f KB" % frame_stats(frames),
    }
    results = {}
    try:
        for scenario in SCENARIOS:
            key = scenario[0]
            if key not in keys:
                continue
            for s in servers:
                if s not in scenario[3]:
                    continue
                benchlib.log("run-bench: %-6s %s" % (key, s))
                r = run_one(s, scenario, loadgen, args, frames, logdir)
                results.setdefault(key, {})[s] = r
                benchlib.log("           %s" % cell(key, r))
    except KeyboardInterrupt:
        benchlib.log("run-bench: interrupted, stopping servers")
        benchlib.stop_all()
        return 130
    finally:
        benchlib.stop_all()
    info["elapsed_s"] = time.monotonic() - started

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1)
    blocks = {
        "meta": meta_block(info),
        "scenarios": scenarios_table(results, servers),
        "cost": cost_table(results, servers),
        "details": details_table(results, servers),
    }
    if args.no_docs:
        for name, body in blocks.items():
            print("## %s\n\n%s\n" % (name, body))
    else:
        rewrite_docs(args.docs, blocks)
        benchlib.log("run-bench: tables written to %s" % args.docs)
    return 0


def frame_stats(path):
    sizes = [os.path.getsize(p) for p in glob.glob(os.path.join(path, "*.jpg"))]
    if not sizes:
        return (0, 0, 0)
    return (len(sizes), min(sizes) / 1000.0, max(sizes) / 1000.0)


if __name__ == "__main__":
    sys.exit(main())
