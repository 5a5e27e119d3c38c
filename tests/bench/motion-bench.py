#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What motion detection costs (issue 19), and whether a still scene stays still.

    ninja -C build && /usr/bin/python3 tests/bench/motion-bench.py [--cameras 100] [--fps 5]
        [--seconds 20] [--rounds 2] [--static-seconds 300] [--json OUT]

1. The real program with N cameras at F fps, one viewer each (camrelay-loadgen), run without
   motion and with `motion = true` (and `motion-max-fps = --max-fps` if given) on every camera,
   alternately: camrelay's CPU (% of one core,
   /proc/PID/stat), frames to viewers, frames analysed and skipped (/status). Target: at most 15
   points of a core above the run without.
2. One camera with `motion = true` sending a still scene with sensor grain whose light drifts
   (ffmpeg: a test card, `noise`, `eq=brightness` going down over the run) at 5 fps for
   --static-seconds (5 minutes by default), through tools/fake-camera.py: no motion event.
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

TARGET_CPU_POINTS = 15.0


def write_config(path, n, port, motion, max_fps):
    with open(path, "w") as f:
        f.write("[server]\naddress = 127.0.0.1\nport = %d\n\n" % port)
        for k in range(n):
            keys = ""
            if motion:
                keys = "motion = true\n"
                if max_fps is not None:
                    keys += "motion-max-fps = %g\n" % max_fps
            f.write("[camera cam%d]\n%s" % (k, keys))


def status(port):
    code, _, body = mc.get(port, "/status", 10)
    return json.loads(body) if code == 200 else None


def run(args, motion, tmp, tag):
    port = benchlib.free_port()
    conf = os.path.join(tmp, "%s.conf" % tag)
    write_config(conf, args.cameras, port, motion, args.max_fps)
    log_path = os.path.join(tmp, "%s.log" % tag)
    proc = benchlib.start([os.path.join(args.build, "pipeline", "camrelay"), "--config", conf],
                          log_path)
    row = {"run": tag, "motion": motion}
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
        st = status(port)
        row["accepted"] = sum(c["frames_accepted"] for c in st["cameras"])
        row["analysed"] = sum((c["motion"] or {}).get("frames_analysed", 0) for c in st["cameras"])
        row["skipped"] = sum((c["motion"] or {}).get("frames_skipped", 0) for c in st["cameras"])
    finally:
        benchlib.stop(proc)
    return row


def static_run(args, tmp):
    """One camera, a still noisy scene with light drift: the motion events it caused."""
    frames = os.path.join(tmp, "static")
    os.makedirs(frames)
    n = int(args.static_seconds * 5)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=640x480:rate=5,trim=end_frame=1,loop=loop=-1:size=1,"
                    "noise=alls=16:allf=t,eq=brightness='-0.15*t/%g':eval=frame,format=yuvj420p"
                    % args.static_seconds, "-frames:v", str(n), "-q:v", "5",
                    os.path.join(frames, "f%05d.jpg")], check=True)
    port = benchlib.free_port()
    conf = os.path.join(tmp, "static.conf")
    with open(conf, "w") as f:
        f.write("[server]\naddress = 127.0.0.1\nport = %d\n[camera porch]\nmotion = true\n" % port)
    proc = benchlib.start([os.path.join(args.build, "pipeline", "camrelay"), "--config", conf],
                          os.path.join(tmp, "static.log"))
    try:
        mc.wait_until(lambda: status(port), time.monotonic() + 30)
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "fake-camera.py"),
                        "--url", "ws://127.0.0.1:%d/ws/porch" % port, "--fps", "5",
                        "--dir", frames, "--count", str(n)], check=True,
                       stdout=subprocess.DEVNULL, timeout=args.static_seconds + 120)
        time.sleep(1)
        m = status(port)["cameras"][0]["motion"]
        return {"frames": n, "analysed": m["frames_analysed"], "events": m["events"],
                "light_changes": m["light_changes"]}
    finally:
        benchlib.stop(proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--fps", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--static-seconds", type=float, default=300)
    ap.add_argument("--max-fps", type=float, default=None,
                    help="motion-max-fps of every camera (default: camrelay's own, 2.5)")
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
    tmp = tempfile.mkdtemp(prefix="camrelay-motion-")
    rows = []
    still = None
    try:
        for r in range(args.rounds):
            for motion in (False, True):
                tag = "%s%d" % ("motion" if motion else "plain", r + 1)
                benchlib.log("%s: %d cameras at %g fps" % (tag, args.cameras, args.fps))
                rows.append(run(args, motion, tmp, tag))
        if args.static_seconds > 0:
            benchlib.log("still scene: %g s" % args.static_seconds)
            still = static_run(args, tmp)
    except KeyboardInterrupt:
        return 130
    finally:
        benchlib.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    print("# camrelay, motion: %s, %s, %d cores, %s; %d cameras x %g fps, one viewer each, %g s, "
          "motion-max-fps %s"
          % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             platform.processor() or platform.machine(), os.cpu_count(),
             subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                            stdout=subprocess.PIPE, text=True).stdout.strip(),
             args.cameras, args.fps, args.seconds,
             "default" if args.max_fps is None else "%g" % args.max_fps))
    print("| run | CPU % | frames sent | to viewers | accepted | analysed | skipped |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f | %d | %s | %d | %s | %s |" % (
            row["run"], row["cpu_pct"] or 0, row["sent"], row["delivered"], row["accepted"],
            row["analysed"] if row["motion"] else "—", row["skipped"] if row["motion"] else "—"))
    plain = [r["cpu_pct"] for r in rows if not r["motion"]]
    mot = [r["cpu_pct"] for r in rows if r["motion"]]
    points = sum(mot) / len(mot) - sum(plain) / len(plain)
    print()
    print("| target | measured | met |")
    print("|---|---|---|")
    print("| CPU with motion ≤ %g points above without | %+.1f points (%.1f vs %.1f %%) | %s |"
          % (TARGET_CPU_POINTS, points, sum(mot) / len(mot), sum(plain) / len(plain),
             "yes" if points <= TARGET_CPU_POINTS else "NO"))
    if still:
        print("| still noisy scene, light drifting, %g s at 5 fps: no motion event | %d events "
              "(%d of %d frames analysed, %d light changes) | %s |"
              % (args.static_seconds, still["events"], still["analysed"], still["frames"],
                 still["light_changes"], "yes" if still["events"] == 0 else "NO"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "still": still}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
