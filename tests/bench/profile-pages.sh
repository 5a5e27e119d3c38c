#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Instructions per /status and per /metrics request (issue 16): camrelay with N idle cameras under
# callgrind, instrumentation on only while 5 requests of each page are answered.
#
#   tests/bench/profile-pages.sh [BUILD [N [OUT]]]     # build, 200 cameras, /tmp/camrelay-pages.cg
#   callgrind_annotate --inclusive=yes OUT.1 | head -60  # /status (5 requests)
#   callgrind_annotate --inclusive=yes OUT.2 | head -60  # /metrics (5 requests)
set -eu
B=$(realpath "${1:-build}"); N=${2:-200}; OUT=${3:-/tmp/camrelay-pages.cg}
T=$(mktemp -d)
PORT=$(/usr/bin/python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
{ printf '[server]\naddress = 127.0.0.1\nport = %s\n\n' "$PORT"; for k in $(seq 0 $((N - 1))); do echo "[camera cam$k]"; done; } > "$T/c.conf"
GST_PLUGIN_PATH=$B/plugins GST_REGISTRY=$T/registry.bin setsid valgrind --tool=callgrind \
  --instr-atstart=no --callgrind-out-file="$OUT" "$B/pipeline/camrelay" --config "$T/c.conf" > "$T/log" 2>&1 &
VP=$!
cleanup () { kill -TERM -- -$VP 2>/dev/null || true; sleep 2; kill -KILL -- -$VP 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/snapshot/cam$((N - 1)).jpg")" = 200 ] && break
  sleep 1
done
sleep 5
for page in status metrics; do
  callgrind_control -i on $VP > /dev/null
  for _ in 1 2 3 4 5; do curl -s -o /dev/null "http://127.0.0.1:$PORT/$page"; done
  callgrind_control -i off $VP > /dev/null
  callgrind_control -d $VP > /dev/null
done
echo "/status: $OUT.1, /metrics: $OUT.2 (5 requests each)"
