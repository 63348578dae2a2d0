#!/usr/bin/env bash
# The whole test suite: starts the local PostgreSQL and MariaDB when they are installed but
# down, then runs every unit, integration, UI (trybuild), doc and conformance test on
# SQLite, PostgreSQL and MariaDB, and the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
cargo test --workspace --all-features -- --test-threads="${ORCH_TEST_THREADS:-4}"
# Link-time registration must survive release builds (linker GC, LTO).
cargo test --release -p orch --test macros
cargo run -q -p quickstart
cargo run -q -p timers
cargo run -q -p cron-jobs
cargo run -q -p outbox
cargo run -q -p inbox
