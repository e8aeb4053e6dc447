#!/usr/bin/env bash
# Starts or stops a private Postgres and Redis for tests and the local stack.
#
#   backing.sh start DIR [PG_PORT] [REDIS_PORT]   # prints SB_POSTGRES_URL=… and SB_REDIS_URL=…
#   backing.sh stop DIR
#
# Data lives under DIR. Postgres refuses to run as root, so when we are root it runs as the
# unprivileged 'postgres' user (created by Debian's package) or, failing that, 'switchboard'.
set -euo pipefail

cmd=${1:?usage: backing.sh start|stop DIR [PG_PORT] [REDIS_PORT]}
dir=${2:?usage: backing.sh start|stop DIR [PG_PORT] [REDIS_PORT]}
pg_port=${3:-25432}
redis_port=${4:-26379}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$pg_bin/pg_ctl" ]] || { echo "backing.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "backing.sh: redis-server not found (apt-get install redis-server)" >&2; exit 1; }

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$pg_user" -- "$@"
  else
    "$@"
  fi
}

pg_user=$(id -un)
if [[ $(id -u) -eq 0 ]]; then
  if id postgres >/dev/null 2>&1; then
    pg_user=postgres
  else
    id switchboard >/dev/null 2>&1 || useradd --system --no-create-home switchboard
    pg_user=switchboard
  fi
fi

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local pgdata="$dir/pg"
  if [[ ! -f "$pgdata/PG_VERSION" ]]; then
    mkdir -p "$pgdata"
    [[ $(id -u) -eq 0 ]] && chown "$pg_user" "$pgdata"
    chmod 700 "$pgdata"
    as_pg "$pg_bin/initdb" -D "$pgdata" -U switchboard --auth=trust --encoding=UTF8 \
      --no-instructions >"$dir/initdb.log" 2>&1 ||
      { echo "backing.sh: initdb failed, see $dir/initdb.log" >&2; exit 1; }
  fi
  if ! as_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -w -t 30 -l "$pgdata/server.log" \
      -o "-p $pg_port -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
      { echo "backing.sh: postgres did not start, see $pgdata/server.log" >&2; exit 1; }
  fi
  if ! as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U switchboard -d postgres -tAc \
      "select 1 from pg_database where datname='switchboard'" | grep -q 1; then
    as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U switchboard switchboard
  fi

  mkdir -p "$dir/redis"
  if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir/redis" --daemonize yes \
      --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --save '' \
      --appendonly no >/dev/null
    for _ in $(seq 1 50); do
      redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null ||
      { echo "backing.sh: redis did not start, see $dir/redis/redis.log" >&2; exit 1; }
  fi
  echo "SB_POSTGRES_URL=postgresql://switchboard@127.0.0.1:$pg_port/switchboard"
  echo "SB_REDIS_URL=redis://127.0.0.1:$redis_port"
}

stop() {
  [[ -d "$dir" ]] || return 0
  if [[ -f "$dir/pg/PG_VERSION" ]]; then
    as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [[ -f "$dir/redis/redis.pid" ]]; then
    local pid
    pid=$(cat "$dir/redis/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/redis/redis.pid"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: backing.sh start|stop DIR [PG_PORT] [REDIS_PORT]" >&2; exit 2 ;;
esac
