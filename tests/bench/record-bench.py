#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What recording costs (issue 17): the real program with 200 cameras at 5 fps, one viewer each
(camrelay-loadgen), run without recording and with `record = true` on every camera, alternately.

    ninja -C build && /usr/bin/python3 tests/bench/record-bench.py [--cameras 200] [--fps 5]
        [--seconds 20] [--rounds 2] [--json OUT]

Prints, for each run: camrelay's CPU (% of one core, /proc/PID/stat over the measured window),
frames the viewers got of those sent, and for the recording runs the frames written against the
frames accepted (/status), and the bytes of the files on disk against the bytes of the frames in
them (every packet's size from ffprobe). Then the targets: CPU at most 5 points above the run
without recording, bytes written at most 102 % of the frame bytes, every frame recorded.
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402

_spec = importlib.util.spec_from_file_location("many_cameras",
                                               os.path.join(HERE, "many-cameras.py"))
mc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc)

TARGETS = {"cpu_points": 5.0, "bytes_ratio": 1.02}


def write_config(path, n, port, rec_dir):
    with open(path, "w") as f:
        f.write("[server]\naddress = 127.0.0.1\nport = %d\n\n" % port)
        if rec_dir:
            f.write("[recordings]\ndir = %s\n\n" % rec_dir)
        for k in range(n):
            f.write("[camera cam%d]\n%s" % (k, "record = true\n" if rec_dir else ""))


def status(port):
    code, _, body = mc.get(port, "/status", 10)
    return json.loads(body) if code == 200 else None


def frame_bytes(rec_dir):
    """Files, their bytes on disk, and the bytes and count of the frames in them."""
    files = disk = frames = packets = 0
    for root, _, names in os.walk(rec_dir):
        for name in names:
            if not name.endswith(".mkv"):
                continue
            path = os.path.join(root, name)
            files += 1
            disk += os.path.getsize(path)
            out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=size",
                                  "-of", "csv=p=0", path], stdout=subprocess.PIPE, text=True)
            for line in out.stdout.split():
                frames += int(line)
                packets += 1
    return files, disk, frames, packets


def run(args, record, tmp, tag):
    port = benchlib.free_port()
    conf = os.path.join(tmp, "%s.conf" % tag)
    rec_dir = os.path.join(tmp, "rec-" + tag) if record else None
    write_config(conf, args.cameras, port, rec_dir)
    log_path = os.path.join(tmp, "%s.log" % tag)
    proc = benchlib.start([os.path.join(args.build, "pipeline", "camrelay"), "--config", conf],
                          log_path)
    row = {"run": tag, "record": record}
    try:
        if not mc.wait_until(lambda: mc.first_part(port, "/stream/cam%d" % (args.cameras - 1)),
                             time.monotonic() + 60):
            raise RuntimeError("camrelay did not come up (see %s)" % log_path)
        res = benchlib.run_loadgen(args.loadgen, [
            "--port", str(port), "--frames", args.frames, "--cameras", str(args.cameras),
            "--fps", str(args.fps), "--camera-path", "/ws/cam%d",
            "--viewers", str(args.cameras), "--path", "/stream/cam%d", "--warmup", "3",
            "--duration", str(args.seconds), "--ramp-timeout", "60", "--pid", str(proc.pid),
            "--label", tag], timeout=args.seconds + 150)
        row["cpu_pct"] = res["server"].get("cpu_pct")
        row["sent"] = res["cameras"]["frames_sent"]
        row["delivered"] = res["viewers"]["fast"].get("live")
        time.sleep(2)
        st = status(port)
        row["accepted"] = sum(c["frames_accepted"] for c in st["cameras"])
        row["written"] = sum(c["recording"]["frames_written"] for c in st["cameras"])
        row["skipped"] = sum(c["recording"]["frames_skipped"] for c in st["cameras"])
    finally:
        benchlib.stop(proc)
    if record:
        files, disk, frames, packets = frame_bytes(rec_dir)
        row.update({"files": files, "disk_bytes": disk, "frame_bytes": frames,
                    "packets": packets, "bytes_ratio": disk / frames if frames else None})
        shutil.rmtree(rec_dir, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cameras", type=int, default=200)
    ap.add_argument("--fps", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.loadgen = os.path.join(args.build, "tests", "bench", "camrelay-loadgen")
    args.frames = os.path.join(HERE, "out", "frames")
    benchlib.install_signal_handlers()
    benchlib.raise_nofile()
    if not os.path.isdir(args.frames):
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make-frames.py"), args.frames],
                       check=True, stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="camrelay-record-")
    rows = []
    try:
        for r in range(args.rounds):
            for record in (False, True):
                tag = "%s%d" % ("record" if record else "plain", r + 1)
                benchlib.log("%s: %d cameras at %g fps" % (tag, args.cameras, args.fps))
                rows.append(run(args, record, tmp, tag))
    except KeyboardInterrupt:
        return 130
    finally:
        benchlib.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    print("# camrelay, recording: %s, %s, %d cores, %s; %d cameras x %g fps, one viewer each, "
          "%g s" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    platform.processor() or platform.machine(), os.cpu_count(),
                    subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                   stdout=subprocess.PIPE, text=True).stdout.strip(),
                    args.cameras, args.fps, args.seconds))
    print("| run | CPU % | frames sent | to viewers | accepted | recorded | skipped | files | "
          "bytes on disk / frame bytes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f | %d | %s | %d | %s | %s | %s | %s |" % (
            row["run"], row["cpu_pct"] or 0, row["sent"], row["delivered"], row["accepted"],
            row["written"] if row["record"] else "—", row["skipped"] if row["record"] else "—",
            row.get("files", "—"),
            "%.4f" % row["bytes_ratio"] if row.get("bytes_ratio") else "—"))
    plain = [r["cpu_pct"] for r in rows if not r["record"]]
    rec = [r["cpu_pct"] for r in rows if r["record"]]
    points = sum(rec) / len(rec) - sum(plain) / len(plain)
    ratio = max(r["bytes_ratio"] for r in rows if r["record"])
    every = all(r["written"] == r["accepted"] and r["packets"] == r["written"]
                for r in rows if r["record"])
    print()
    print("| target | measured | met |")
    print("|---|---|---|")
    print("| CPU with recording ≤ %g points above without | %+.1f points (%.1f vs %.1f %%) | %s |"
          % (TARGETS["cpu_points"], points, sum(rec) / len(rec), sum(plain) / len(plain),
             "yes" if points <= TARGETS["cpu_points"] else "NO"))
    print("| bytes written ≤ %d %% of frame bytes | %.2f %% | %s |"
          % (TARGETS["bytes_ratio"] * 100, ratio * 100,
             "yes" if ratio <= TARGETS["bytes_ratio"] else "NO"))
    print("| every accepted frame recorded (and in the files) | %s | %s |"
          % ("all" if every else "not all", "yes" if every else "NO"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
