#!/usr/bin/env bash
# Makes sure the local PostgreSQL and MariaDB servers the test suite needs are up:
# starts each one that is installed but down, waits until it answers, and fails loudly
# when one is missing (the suite never skips a backend silently).
set -euo pipefail

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "error: $name did not come up within 30 s" >&2
  return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for PostgreSQL pg_up
  else
    echo "error: PostgreSQL is not installed and not reachable on 127.0.0.1:5432" >&2
    exit 1
  fi
fi

my_up() { mysqladmin --protocol=tcp -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }
if ! my_up; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for MariaDB my_up
  else
    echo "error: MariaDB is not installed and not reachable on 127.0.0.1:3306" >&2
    exit 1
  fi
fi

# The admin databases the suite connects to before creating one database per test.
mysql --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -e "CREATE DATABASE IF NOT EXISTS test"
psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select 1" >/dev/null

# Databases left behind by interrupted earlier runs.
for db in $(psql -h 127.0.0.1 -U postgres -d postgres -Atqc "select datname from pg_database where datname like 'orch\_t\_%'"); do
  psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $db with (force)" >/dev/null || true
done
for db in $(mysql --protocol=tcp -h 127.0.0.1 -uroot -N -e "show databases like 'orch\_t\_%'"); do
  mysql --protocol=tcp -h 127.0.0.1 -uroot -e "drop database if exists $db" || true
done

# The brokers the orch-brokers tests publish to: NATS (with JetStream) and RabbitMQ.
port_up() { # host, port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

nats_up() { port_up 127.0.0.1 4222; }
if ! nats_up; then
  if [ -x /usr/sbin/nats-server ]; then
    echo "starting NATS"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
    wait_for NATS nats_up
  else
    echo "error: NATS is not installed (/usr/sbin/nats-server) and not reachable on 127.0.0.1:4222" >&2
    exit 1
  fi
fi

rabbit_up() { port_up 127.0.0.1 5672; }
if ! rabbit_up; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached
    # Startup takes a while: wait for the node (up to 60 s), then for the port.
    timeout 60 rabbitmqctl await_startup >/dev/null 2>&1 || true
    wait_for RabbitMQ rabbit_up
  else
    echo "error: RabbitMQ is not installed (rabbitmq-server) and not reachable on 127.0.0.1:5672" >&2
    exit 1
  fi
fi

echo "PostgreSQL, MariaDB, NATS and RabbitMQ are up"
