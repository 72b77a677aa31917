#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for the tests and prints its URL.
# Usage: eval "$(Tests/postgres.sh start)" ; … ; Tests/postgres.sh stop
# Installs PostgreSQL from Debian when missing. The cluster lives in $BUTLER_PG_DIR (default
# /tmp/butler-pg) and listens on $BUTLER_PG_PORT (default 55432), loopback only.
set -euo pipefail
DIR=${BUTLER_PG_DIR:-/tmp/butler-pg}
PORT=${BUTLER_PG_PORT:-55432}
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# Run cluster commands as the postgres user when we are root (initdb refuses root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
start)
  if [ -z "$(pgbin)" ]; then
    echo "installing postgresql" >&2
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq postgresql >/dev/null
  fi
  BIN=$(pgbin)
  if [ -f "$DIR/data/postmaster.pid" ]; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  "$BIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE butler_test" >/dev/null
  echo "export BUTLER_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/butler_test"
  ;;
stop)
  BIN=$(pgbin)
  [ -n "$BIN" ] && [ -f "$DIR/data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null
  rm -rf "$DIR"
  ;;
esac
