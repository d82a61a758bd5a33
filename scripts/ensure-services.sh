#!/usr/bin/env bash
# Make sure the local PostgreSQL, RabbitMQ, Redis and MariaDB are up; start the installed ones that
# are stopped. Used by `make test` (CI and developers alike).
set -u

wait_for() {  # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$seconds"); do
    if "$@" >/dev/null 2>&1; then echo "$name: up"; return 0; fi
    sleep 1
  done
  echo "$name: NOT reachable after ${seconds}s" >&2
  return 1
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
rabbit_up() { rabbitmqctl -q await_startup --timeout 2 && (exec 3<>/dev/tcp/127.0.0.1/5672) ; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }
# MariaDB: the stand-in for the third party's MySQL (issue 21, EXTERNAL_MYSQL_URL).
mariadb_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping >/dev/null 2>&1; }

status=0
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL: starting"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
wait_for PostgreSQL 60 pg_up || status=1

# The system tests run the whole set (seven services, their workers, a gateway) beside the
# integration tests' own databases: PostgreSQL's default of 100 connections is too few.
PG_MIN_CONNECTIONS=${PG_MIN_CONNECTIONS:-300}
if pg_up; then
  current=$(psql -h 127.0.0.1 -U postgres -Atc "SHOW max_connections" 2>/dev/null || echo 0)
  if [ "${current:-0}" -lt "$PG_MIN_CONNECTIONS" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL: max_connections $current -> $PG_MIN_CONNECTIONS (ALTER SYSTEM, restart)"
    psql -h 127.0.0.1 -U postgres -qAtc "ALTER SYSTEM SET max_connections = $PG_MIN_CONNECTIONS" \
      && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main restart
    wait_for PostgreSQL 60 pg_up || status=1
  fi
fi

if ! rabbit_up; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "RabbitMQ: starting"
    rabbitmq-server -detached >/dev/null 2>&1 || true
    rabbitmqctl -q await_startup --timeout 90 >/dev/null 2>&1 || true
  fi
fi
# A stopped app (rabbitmqctl stop_app) leaves the node running: start the app too.
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then rabbitmqctl -q start_app >/dev/null 2>&1 || true; fi
wait_for RabbitMQ 90 rabbit_up || status=1

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis: starting"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
fi
wait_for Redis 30 redis_up || status=1

if ! mariadb_up; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "MariaDB: starting"
    mkdir -p /run/mysqld 2>/dev/null && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null 2>&1 || true
  fi
fi
if [ -x /usr/sbin/mariadbd ] || mariadb_up; then
  wait_for MariaDB 60 mariadb_up || status=1
fi
exit $status
