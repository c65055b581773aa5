#!/usr/bin/env bash
# A local PostgreSQL server for the test suite (Debian's package), on 127.0.0.1:${EWS_PG_PORT:-55432}.
# Installs the package if it is missing (needs root), creates a cluster in ${EWS_PG_DIR:-/tmp/ews-postgres}
# with trust auth on loopback, starts it if it is not running, and prints its URL on the last line.
set -euo pipefail
PORT="${EWS_PG_PORT:-55432}"
DIR="${EWS_PG_DIR:-/tmp/ews-postgres}"

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(bin_dir)" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed and this is not root: apt-get install postgresql" >&2
    exit 1
  fi
  echo "installing PostgreSQL from Debian's packages ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN="$(bin_dir)"

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  as_owner "'$BIN/initdb' -D '$DIR' --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
fi
if ! as_owner "'$BIN/pg_ctl' -D '$DIR' status" >/dev/null 2>&1; then
  as_owner "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -t 60 -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >&2
fi
echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
