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
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
  build/pipeline/camrelay --port "$port" > "$out/camrelay.log" 2>&1 &
pid=$!
for _ in $(seq 100); do /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.2; done
build/tests/bench/camrelay-loadgen --port "$port" --frames tests/bench/out/frames --viewers "$viewers" \
  --fps "$fps" --warmup 3 --duration $((seconds + 4)) > "$out/run.json" &
lg=$!
sleep 5
callgrind_control -i on "$pid" > /dev/null
sleep "$seconds"
callgrind_control -i off "$pid" > /dev/null
wait $lg
kill -INT "$pid"; wait "$pid" || true
frames=$((fps * seconds))
echo "camrelay under callgrind: $viewers viewer(s), $fps frames/s, $seconds s instrumented (~$frames frames)"
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
