#!/usr/bin/env bash
# PostgreSQL's single-push ceiling on orch's own table and indexes, beside
# `../shared/peer-bench/sql-commit-limit.sh` (a one-index table over the Unix socket):
# pgbench inserting one command row per transaction as a push does (the same columns, a
# time-ordered id, every index orch creates), prepared statements, over TCP like orch,
# `CLIENTS` clients (8) for `SECONDS_TO_RUN` seconds (15). Prints pgbench's `tps = …` line.
# `DATABASE` names a database orch has migrated (`orch-bench --peers` makes a fresh one);
# `PREFIX` is its table prefix (orch_); PGHOST, PGPORT and PGUSER default to 127.0.0.1,
# 5432 and postgres.
# Usage: DATABASE=name scripts/pg-commit-limit-orch-table.sh
set -euo pipefail
: "${DATABASE:?DATABASE: the name of a database orch has migrated}"
prefix=${PREFIX:-orch_}
script=$(mktemp)
trap 'rm -f "$script"' EXIT
cat > "$script" <<SQL
INSERT INTO ${prefix}commands (id, name, target, status, input, attempts, max_attempts, timeout_ms, run_at, created_at, idempotency_key, parent_id) VALUES ((lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || substr(md5(random()::text), 1, 20))::uuid, 'bench.noop', 'default', 'pending', '{"n":1}', 0, 1, 30000, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, NULL, NULL);
SQL
echo "single-row inserts into ${prefix}commands, ${CLIENTS:-8} clients:"
pgbench -n -M prepared -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" \
  -f "$script" -c "${CLIENTS:-8}" -j 2 -T "${SECONDS_TO_RUN:-15}" "$DATABASE" 2>&1 | grep -E "^tps"
