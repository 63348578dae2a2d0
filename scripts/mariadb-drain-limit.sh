#!/usr/bin/env bash
# MariaDB's ceiling for a drain of pre-filled commands on this machine, beside PostgreSQL's
# (`../shared/peer-bench/sql-drain-limit.sh`): each cycle claims 100 rows with
# `FOR UPDATE SKIP LOCKED` in a READ COMMITTED transaction (stamping state, lease owner,
# expiry and attempts; one commit) and then finishes them (delete by lease owner, a second
# commit). 8 clients (`mariadb-slap`) each run cycles for about `SECONDS_TO_RUN` seconds;
# jobs/s = rows drained / elapsed seconds. `N` rows are pre-filled (1,000,000 by default).
# The cycle runs as a stored procedure, so this is the server's limit with no client work:
# orch's figure is measured against it.
# Usage: scripts/mariadb-drain-limit.sh   (N, CLIENTS, SECONDS_TO_RUN; prints one line)
set -euo pipefail
n=${N:-1000000}
clients=${CLIENTS:-8}
seconds=${SECONDS_TO_RUN:-15}
db=orch_sql_limit
sql() { mariadb -h 127.0.0.1 -u root "$@"; }
sql -e "CREATE DATABASE IF NOT EXISTS $db"
sql "$db" <<SQL
DROP TABLE IF EXISTS q;
DROP PROCEDURE IF EXISTS drain_cycle;
CREATE TABLE q (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  state TINYINT NOT NULL DEFAULT 0,
  run_at BIGINT NOT NULL,
  lease_owner BINARY(16) NULL,
  lease_expires BIGINT NULL,
  attempts INT NOT NULL DEFAULT 0,
  payload LONGTEXT NOT NULL,
  KEY q_avail (state, run_at),
  KEY q_owner (lease_owner)
) ENGINE=InnoDB;
INSERT INTO q (name, run_at, payload) SELECT 'noop', seq, '{"a":1}' FROM seq_1_to_$n;
ANALYZE TABLE q;
DELIMITER //
CREATE PROCEDURE drain_cycle()
BEGIN
  DECLARE owner BINARY(16) DEFAULT UNHEX(REPLACE(UUID(), '-', ''));
  CREATE TEMPORARY TABLE IF NOT EXISTS claimed (id BIGINT PRIMARY KEY) ENGINE=MEMORY;
  DELETE FROM claimed;
  SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  INSERT INTO claimed
    SELECT id FROM q WHERE state = 0 AND run_at <= $n
    ORDER BY run_at LIMIT 100 FOR UPDATE SKIP LOCKED;
  UPDATE q JOIN claimed USING (id)
    SET state = 1, lease_owner = owner, lease_expires = 30000000, attempts = attempts + 1;
  COMMIT;
  DELETE FROM q WHERE lease_owner = owner;
END//
DELIMITER ;
SQL
# Enough calls that no client runs out before the time is up; the table empties first
# only on a machine many times faster (then raise N).
calls=$((n / 100 / clients + 1))
start=$(date +%s.%N)
timeout "$seconds" mariadb-slap -h 127.0.0.1 -u root --create-schema="$db" \
  --concurrency="$clients" --iterations=1 --number-of-queries="$((calls * clients))" \
  --query="CALL drain_cycle()" >/dev/null 2>&1 || true
end=$(date +%s.%N)
left=$(sql -N "$db" -e "SELECT COUNT(*) FROM q")
awk -v n="$n" -v left="$left" -v s="$start" -v e="$end" -v c="$clients" 'BEGIN {
  drained = n - left; secs = e - s;
  printf "mariadb sql drain limit: %d jobs in %.1f s = %.0f jobs/s (claims of 100, %d clients)\n", drained, secs, drained / secs, c
}'
