#!/usr/bin/env bash
# The quick-start demo on the embedded default: a real butler-server on a temporary data directory,
# two butlers and a supervisor, an offline patrol of one stairwell with a conflicting result and
# photos, a work order with callbacks; then the merged form, the conflict explained, the callback
# outcome. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
Samples/install-deps.sh
swift build --product butler >&2 2>/dev/null || swift build --product butler >&2
swift build --product butler-server >&2 2>/dev/null || swift build --product butler-server >&2
BIN=$(swift build --show-bin-path)
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
start_server() {
  "$BIN/butler-server" serve --data "$WORK/server" --port "${PORT:-0}" > "$WORK/server.out" 2> "$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "listening on" "$WORK/server.out" 2>/dev/null && break
    sleep 0.1
  done
  PORT=$(grep -o '[0-9]*$' "$WORK/server.out" | tail -1)
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; : > "$WORK/server.out"; }
li() { "$BIN/butler" --home "$WORK/li" "$@"; }
wang() { "$BIN/butler" --home "$WORK/wang" "$@"; }
zhou() { "$BIN/butler" --home "$WORK/zhou" "$@"; }

say "Start butler-server on a temporary data directory; register two butlers and a supervisor"
LI_TOKEN=$("$BIN/butler-server" device add --data "$WORK/server" --name li-handheld --role butler --zones east-3)
WANG_TOKEN=$("$BIN/butler-server" device add --data "$WORK/server" --name wang-handheld --role butler --zones east-3)
ZHOU_TOKEN=$("$BIN/butler-server" device add --data "$WORK/server" --name zhou-tablet --role supervisor --zones east-3)
start_server
echo "server on http://127.0.0.1:$PORT"
li init --server "http://127.0.0.1:$PORT" --token "$LI_TOKEN" --name 李管家
wang init --server "http://127.0.0.1:$PORT" --token "$WANG_TOKEN" --name 王管家
zhou init --server "http://127.0.0.1:$PORT" --token "$ZHOU_TOKEN" --name 周主管

say "李管家 opens a building patrol of 3号楼2单元's stairwell; both handhelds sync before going underground"
FORM=$(li form new --template building-patrol --zone east-3 --place "3号楼2单元 楼梯间")
echo "form $FORM"
li sync --quiet && wang sync --quiet

say "No coverage (the server is down): both patrol the same stairwell"
stop_server
li form set "$FORM" stairwell-lights --result defect --note "3F 走廊灯不亮"
li photo add "$FORM" Samples/photos/stairwell-3f-light-out.jpg --item stairwell-lights --caption "3F 走廊"
li form set "$FORM" fire-extinguisher --result defect --note "灭火器已过期"
li photo add "$FORM" Samples/photos/fire-extinguisher-expired.jpg --item fire-extinguisher
wang form set "$FORM" stairwell-lights --result ok --note "灯都亮"
wang form set "$FORM" fire-door --result ok
WO=$(li workorder new --zone east-3 --place "5号楼 501" --category dangerous --description "水管爆裂，天花渗水")
li workorder complete "$WO"
li status
li sync --quiet || echo "(butler sync exited $?: no coverage, nothing lost)"

say "Back in coverage: everyone syncs"
start_server
li sync && wang sync && li sync --quiet && zhou sync --quiet

say "Callbacks: the desk phones, the butler visits"
zhou callback log "$WO" --channel phone --reached no --note "无人接听"
li callback log "$WO" --channel visit --reached yes --satisfaction satisfied --note "住户签字确认"
zhou sync --quiet && li sync --quiet && zhou sync --quiet && wang sync --quiet

say "The merged form, as every device shows it"
wang form show "$FORM"
say "Conflicts and the rule that resolved each"
zhou conflicts
say "The callback: due time and outcome"
zhou callback show "$WO"
say "Every device holds the same form"
for who in li wang zhou; do
  printf '%-5s %s\n' "$who" "$("$BIN/butler" --home "$WORK/$who" form show "$FORM" --json | sha256sum | cut -c1-16)"
done
