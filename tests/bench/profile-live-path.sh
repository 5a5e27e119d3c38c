#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Counts the instructions camrelay spends per frame on its live path, with callgrind (instruction
# counts are repeatable on a noisy machine; wall-clock profilers are not). camrelay runs under
# valgrind; a camera sends FPS frames a second to one viewer; instrumentation is on only for
# SECONDS seconds in the middle, so start-up and shutdown are not counted.
#
#   tests/bench/profile-live-path.sh [VIEWERS] [FPS] [SECONDS]     (defaults 1 20 5)
#
# Prints the total per frame and the inclusive cost per frame of the main stages.
set -euo pipefail
cd "$(dirname "$0")/../.."
viewers=${1:-1} fps=${2:-20} seconds=${3:-5}
out=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
[ -d tests/bench/out/frames ] || /usr/bin/python3 tests/bench/make-frames.py tests/bench/out/frames >/dev/null
# One configured camera, RTSP off: the legacy set-up listens for RTSP on 8554, which another
# camrelay on the machine may hold (the camera's pipeline then fails and nothing flows).
printf '[server]\naddress = 127.0.0.1\nport = %s\nrtsp-port = 0\n[camera cam0]\n' "$port" > "$out/camrelay.conf"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
  build/pipeline/camrelay --config "$out/camrelay.conf" > "$out/camrelay.log" 2>&1 &
pid=$!
# Ready once the camera's snapshot answers (its routes are in and its pipeline runs): slow under
# valgrind, and a camera refused before its route exists is not retried.
for _ in $(seq 300); do
  /usr/bin/python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/snapshot/cam0.jpg', timeout=2)" 2>/dev/null && break
  sleep 0.2
done
build/tests/bench/camrelay-loadgen --port "$port" --frames tests/bench/out/frames --viewers "$viewers" \
  --camera-path /ws/cam0 --path /stream/cam0 \
  --fps "$fps" --warmup 3 --duration $((seconds + 4)) > "$out/run.json" &
lg=$!
sleep 5
# Frames counted by camrelay itself around the window (a camera under load sends fewer than asked).
frames_received () {
  /usr/bin/python3 -c "import json, urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$port/status', timeout=30))['cameras'][0]['frames_received'])"
}
f0=$(frames_received)
callgrind_control -i on "$pid" > /dev/null
sleep "$seconds"
callgrind_control -i off "$pid" > /dev/null
f1=$(frames_received)
wait $lg
if grep -q '"frames_sent":0,' "$out/run.json"; then
  echo "no frame reached camrelay: see $out/camrelay.log and $out/run.json" >&2
  exit 1
fi
kill -INT "$pid"; wait "$pid" || true
frames=$((f1 - f0))
echo "camrelay under callgrind: $viewers viewer(s), $fps frames/s, $seconds s instrumented ($frames frames)"
callgrind_annotate --inclusive=yes "$out/cg.out" 2>/dev/null | /usr/bin/python3 -c '
import re, sys
frames = int(sys.argv[1])
total = 0
rows = {}
stages = [
  ("camera: WebSocket read, unmask, hand-over", "cr::WsConn::read_input"),
  ("  of which unmasking", "cr::WsParser::finish_frame"),
  ("wsjpegsrc: buffer from message, timestamp, push", "CrWsJpegSrcPrivate::camera_frame"),
  ("jpegvalidate: structural check (jpeg_check)", "cr::jpeg_check("),
  ("jpegparse (first frame and format changes only)", "gst_jpeg_parse"),
  ("mjpeghttpsink: render (multipart split, publish)", "cr_mjpeg_http_sink_render"),
  ("viewers: writing parts (vectored sends)", "cr::Viewer::flush()"),
]
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)", line)
    if not m:
        continue
    ir = int(m.group(1).replace(",", ""))
    name = m.group(2)
    if "PROGRAM TOTALS" in name:
        total = ir
    for label, key in stages:
        if key in name and label not in rows:
            rows[label] = ir
print("instructions per frame, whole process: %d" % (total // frames))
for label, key in stages:
    print("  %-52s %8d" % (label, rows.get(label, 0) // frames))
' "$frames"
