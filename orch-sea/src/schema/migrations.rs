//! The DDL of every migration, per dialect. A migration, once released, never changes: a
//! new schema version is a new function here.

use crate::backend::Backend;
use crate::tables::Tables;

/// One schema version: its number, name and statements.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) statements: Vec<String>,
}

/// The migration table itself (created before anything else, idempotently).
pub(crate) fn migrations_table(b: Backend, t: &Tables) -> String {
    let tail = if b == Backend::MySql {
        " ENGINE=InnoDB"
    } else {
        ""
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} (version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL){tail}",
        t.migrations
    )
}

/// Every migration, oldest first.
pub(crate) fn migrations(b: Backend, t: &Tables) -> Vec<Migration> {
    vec![
        create_commands(b, t),
        create_locks(b, t),
        index_dead(b, t),
        create_cron_jobs(b, t),
        create_outbox_and_inbox(b, t),
        byte_exact_text(b, t),
        index_claim(b, t),
        create_owed_follow_ups(b, t),
        index_pending_names(b, t),
        partial_key_indexes(b, t),
        command_claims_turn(b, t),
    ]
}

fn create_commands(b: Backend, t: &Tables) -> Migration {
    let (uuid, text, serial, tail) = match b {
        Backend::Postgres => ("UUID", "TEXT", "BIGSERIAL PRIMARY KEY", ""),
        Backend::MySql => (
            "BINARY(16)",
            "LONGTEXT",
            "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
        Backend::Sqlite => ("BLOB", "TEXT", "INTEGER PRIMARY KEY AUTOINCREMENT", ""),
    };
    let commands = &t.commands;
    let errors = &t.errors;
    let mut statements = vec![
        format!(
            "CREATE TABLE {commands} (
                id {uuid} NOT NULL PRIMARY KEY,
                name VARCHAR(255) NOT NULL,
                target VARCHAR(255) NOT NULL,
                status VARCHAR(16) NOT NULL,
                input {text} NOT NULL,
                output {text} NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL,
                timeout_ms BIGINT NOT NULL,
                run_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                started_at BIGINT NULL,
                finished_at BIGINT NULL,
                lease_owner {uuid} NULL,
                lease_token {uuid} NULL,
                lease_expires_at BIGINT NULL,
                last_error {text} NULL,
                idempotency_key VARCHAR(255) NULL,
                parent_id {uuid} NULL
            ){tail}"
        ),
        format!(
            "CREATE TABLE {errors} (
                id {serial},
                command_id {uuid} NOT NULL,
                attempt INTEGER NOT NULL,
                kind VARCHAR(32) NOT NULL,
                message {text} NOT NULL,
                at BIGINT NOT NULL
            ){tail}"
        ),
    ];
    let due = t.index(b, "commands_due");
    let lease = t.index(b, "commands_lease");
    let idem = t.index(b, "commands_idempotency");
    let parent = t.index(b, "commands_parent");
    let err_cmd = t.index(b, "command_errors_command");
    if b == Backend::MySql {
        statements.push(format!("CREATE INDEX {due} ON {commands} (status, run_at)"));
        statements.push(format!(
            "CREATE INDEX {lease} ON {commands} (status, lease_expires_at)"
        ));
    } else {
        // Partial indexes keep the claim and reaper scans on the rows they can match.
        statements.push(format!(
            "CREATE INDEX {due} ON {commands} (run_at, id) WHERE status = 'pending'"
        ));
        statements.push(format!(
            "CREATE INDEX {lease} ON {commands} (lease_expires_at) WHERE status = 'running'"
        ));
    }
    statements.push(format!(
        "CREATE UNIQUE INDEX {idem} ON {commands} (idempotency_key)"
    ));
    statements.push(format!("CREATE INDEX {parent} ON {commands} (parent_id)"));
    statements.push(format!("CREATE INDEX {err_cmd} ON {errors} (command_id)"));
    Migration {
        version: 1,
        name: "create_commands",
        statements,
    }
}

/// Version 2: the lock table. It keeps each lock name's fencing token on every backend,
/// the current holder (for observers), and on SQLite the lease itself (`expires_at`).
fn create_locks(b: Backend, t: &Tables) -> Migration {
    let (uuid, tail) = match b {
        Backend::Postgres => ("UUID", ""),
        Backend::MySql => (
            "BINARY(16)",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
        Backend::Sqlite => ("BLOB", ""),
    };
    Migration {
        version: 2,
        name: "create_locks",
        statements: vec![format!(
            "CREATE TABLE {} (
                name VARCHAR(255) NOT NULL PRIMARY KEY,
                token BIGINT NOT NULL,
                holder {uuid} NULL,
                acquired_at BIGINT NULL,
                expires_at BIGINT NULL
            ){tail}",
            t.locks
        )],
    }
}

/// Version 3: an index for dead commands, so health checks count them without scanning
/// finished ones. MySQL/MariaDB already have `(status, run_at)`.
fn index_dead(b: Backend, t: &Tables) -> Migration {
    let statements = if b == Backend::MySql {
        Vec::new()
    } else {
        vec![format!(
            "CREATE INDEX {} ON {} (name) WHERE status = 'dead'",
            t.index(b, "commands_dead"),
            t.commands
        )]
    };
    Migration {
        version: 3,
        name: "index_dead",
        statements,
    }
}

/// Version 4: cron jobs, and the job each run belongs to.
fn create_cron_jobs(b: Backend, t: &Tables) -> Migration {
    let (text, tail) = match b {
        Backend::MySql => (
            "LONGTEXT",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
        Backend::Postgres | Backend::Sqlite => ("TEXT", ""),
    };
    Migration {
        version: 4,
        name: "create_cron_jobs",
        statements: vec![
            format!(
                "CREATE TABLE {} (
                    name VARCHAR(255) NOT NULL PRIMARY KEY,
                    schedule VARCHAR(255) NOT NULL,
                    time_zone VARCHAR(64) NOT NULL,
                    command VARCHAR(255) NOT NULL,
                    input {text} NOT NULL,
                    target VARCHAR(255) NOT NULL,
                    timeout_ms BIGINT NOT NULL,
                    max_attempts INTEGER NOT NULL,
                    misfire VARCHAR(16) NOT NULL,
                    overlap VARCHAR(16) NOT NULL,
                    paused INTEGER NOT NULL,
                    next_fire_at BIGINT NULL,
                    last_fire_at BIGINT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                ){tail}",
                t.cron_jobs
            ),
            format!(
                "CREATE INDEX {} ON {} (next_fire_at)",
                t.index(b, "cron_jobs_due"),
                t.cron_jobs
            ),
            format!(
                "ALTER TABLE {} ADD COLUMN cron_job VARCHAR(255) NULL",
                t.commands
            ),
            // Partial where the backend can: every claim and finish rewrites the row, and
            // an index of all rows would cost each of them an entry.
            format!(
                "CREATE INDEX {} ON {} (cron_job, run_at){}",
                t.index(b, "commands_cron"),
                t.commands,
                if b == Backend::MySql {
                    ""
                } else {
                    " WHERE cron_job IS NOT NULL"
                }
            ),
        ],
    }
}

/// Version 5: the outbox (messages to deliver, in `seq` order per key) and the inbox
/// (messages received, one row per source and id).
fn create_outbox_and_inbox(b: Backend, t: &Tables) -> Migration {
    let (uuid, text, blob, serial, tail) = match b {
        Backend::Postgres => ("UUID", "TEXT", "BYTEA", "BIGSERIAL PRIMARY KEY", ""),
        Backend::MySql => (
            "BINARY(16)",
            "LONGTEXT",
            "LONGBLOB",
            "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ),
        Backend::Sqlite => (
            "BLOB",
            "TEXT",
            "BLOB",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "",
        ),
    };
    let (outbox, inbox) = (&t.outbox, &t.inbox);
    let mut statements = vec![
        format!(
            "CREATE TABLE {outbox} (
                seq {serial},
                id {uuid} NOT NULL,
                topic VARCHAR(255) NOT NULL,
                msg_key VARCHAR(255) NULL,
                payload {blob} NOT NULL,
                headers {text} NOT NULL,
                correlation_id VARCHAR(255) NULL,
                content_hash CHAR(64) NOT NULL,
                status VARCHAR(16) NOT NULL,
                attempts INTEGER NOT NULL,
                max_attempts INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                owner {uuid} NULL,
                locked_until BIGINT NULL,
                blocks INTEGER NOT NULL,
                last_error {text} NULL,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT NULL
            ){tail}"
        ),
        // The row claims take under a row lock, so claims run one at a time (see
        // `outbox/claim.rs`).
        format!(
            "INSERT INTO {} (name, token) VALUES ('{}', 0)",
            t.locks,
            crate::turn::OUTBOX_CLAIMS
        ),
        format!(
            "CREATE UNIQUE INDEX {} ON {outbox} (id)",
            t.index(b, "outbox_id")
        ),
        format!(
            "CREATE TABLE {inbox} (
                source VARCHAR(255) NOT NULL,
                message_id VARCHAR(255) NOT NULL,
                content_hash CHAR(64) NOT NULL,
                status VARCHAR(16) NOT NULL,
                attempts INTEGER NOT NULL,
                deliveries INTEGER NOT NULL,
                first_seen_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                processed_at BIGINT NULL,
                last_error {text} NULL,
                PRIMARY KEY (source, message_id)
            ){tail}"
        ),
    ];
    // The claim scans pending rows in `seq` order and probes, per row, for an earlier
    // blocking row of its key (`blocks = 1`: claimed, dead, or waiting out a backoff); the reaper scans claims by expiry; pruning scans
    // delivered rows by delivery time. Partial where the backend can, so delivered rows
    // (the bulk of the table) cost those scans nothing.
    let indexes: [(&str, &str, &str, &str); 5] = [
        (
            "outbox_ready",
            "(seq)",
            "(status, seq)",
            "status = 'pending'",
        ),
        (
            "outbox_key",
            "(msg_key, seq)",
            "(msg_key, blocks, seq)",
            "blocks = 1",
        ),
        (
            "outbox_lease",
            "(locked_until)",
            "(status, locked_until)",
            "status = 'processing'",
        ),
        (
            "outbox_delivered",
            "(delivered_at)",
            "(status, delivered_at)",
            "status = 'delivered'",
        ),
        (
            "inbox_processed",
            "(processed_at)",
            "(status, processed_at)",
            "status = 'processed'",
        ),
    ];
    for (name, columns, mysql_columns, predicate) in indexes {
        let table = if name.starts_with("inbox") {
            inbox
        } else {
            outbox
        };
        let index = t.index(b, name);
        statements.push(if b == Backend::MySql {
            format!("CREATE INDEX {index} ON {table} {mysql_columns}")
        } else {
            format!("CREATE INDEX {index} ON {table} {columns} WHERE {predicate}")
        });
    }
    Migration {
        version: 5,
        name: "create_outbox_and_inbox",
        statements,
    }
}

/// Version 7: the claim index, on pending rows by `(name, target)` then in due order. A
/// claim seeks it once per `(name, target)` pair it serves (`commands/claim/due.rs`), so
/// rows of names or targets it does not serve are never read, nor locked on MySQL/MariaDB
/// (whose index includes the primary key `id` implicitly). Partial where the backend can.
fn index_claim(b: Backend, t: &Tables) -> Migration {
    let index = t.index(b, "commands_claim");
    let commands = &t.commands;
    let statement = if b == Backend::MySql {
        format!("CREATE INDEX {index} ON {commands} (status, name, target, run_at)")
    } else {
        format!(
            "CREATE INDEX {index} ON {commands} (name, target, run_at, id) WHERE status = 'pending'"
        )
    };
    Migration {
        version: 7,
        name: "index_claim",
        statements: vec![statement],
    }
}

/// Version 6: names, keys and targets compare byte for byte on MySQL/MariaDB too.
/// `utf8mb4_bin` is a PAD SPACE collation, so `'key'` and `'key '` were equal there (one
/// idempotency key, one target, one lock name); `utf8mb4_nopad_bin` compares the bytes
/// alone. PostgreSQL and SQLite already compare bytes: nothing to do there.
fn byte_exact_text(b: Backend, t: &Tables) -> Migration {
    let statements = if b == Backend::MySql {
        let exact = |column: &str, null: &str| {
            format!(
                "MODIFY {column} VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin {null}"
            )
        };
        let (not_null, null) = ("NOT NULL", "NULL");
        vec![
            format!(
                "ALTER TABLE {} {}, {}, {}, {}",
                t.commands,
                exact("name", not_null),
                exact("target", not_null),
                exact("idempotency_key", null),
                exact("cron_job", null)
            ),
            format!("ALTER TABLE {} {}", t.locks, exact("name", not_null)),
            format!(
                "ALTER TABLE {} {}, {}, {}",
                t.cron_jobs,
                exact("name", not_null),
                exact("command", not_null),
                exact("target", not_null)
            ),
            format!(
                "ALTER TABLE {} {}, {}, {}",
                t.outbox,
                exact("topic", not_null),
                exact("msg_key", null),
                exact("correlation_id", null)
            ),
            format!(
                "ALTER TABLE {} {}, {}",
                t.inbox,
                exact("source", not_null),
                exact("message_id", not_null)
            ),
        ]
    } else {
        Vec::new()
    };
    Migration {
        version: 6,
        name: "byte_exact_text",
        statements,
    }
}

/// Version 8: canceled commands whose `on_cancel` follow-ups are owed, because the process
/// that canceled them had no handler to compute them (`commands/owed.rs`). A row lives
/// from the cancel until an engine with the handler inserts the follow-ups.
fn create_owed_follow_ups(b: Backend, t: &Tables) -> Migration {
    let (uuid, tail) = match b {
        Backend::Postgres => ("UUID", ""),
        Backend::MySql => (
            "BINARY(16)",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
        ),
        Backend::Sqlite => ("BLOB", ""),
    };
    let table = &t.owed_follow_ups;
    Migration {
        version: 8,
        name: "create_owed_follow_ups",
        statements: vec![
            format!(
                "CREATE TABLE {table} (
                    command_id {uuid} NOT NULL PRIMARY KEY,
                    name VARCHAR(255) NOT NULL,
                    owed_since BIGINT NOT NULL
                ){tail}"
            ),
            format!(
                "CREATE INDEX {} ON {table} (name, owed_since)",
                t.index(b, "owed_follow_ups_name")
            ),
        ],
    }
}

/// Version 9, MySQL/MariaDB only: the claim index keeps entries of pending rows apart from
/// the others without changing when a running row finishes. Neither server has partial
/// indexes, so version 7's claim index led with `status`, and every status change moved a
/// row's entry: a finish then paid for three secondary-index updates instead of two
/// (measured on MariaDB 10.11: a finish batch of 500 rows took 6.7 ms against 4.7 ms
/// without that index). The new index is on a virtual column, `pending_name`, that holds
/// `name` while the row is pending and NULL otherwise: a claim moves the entry once, and a
/// running row that finishes (NULL before and after) leaves the index alone.
fn index_pending_names(b: Backend, t: &Tables) -> Migration {
    let statements = if b == Backend::MySql {
        let commands = &t.commands;
        vec![
            format!(
                "ALTER TABLE {commands} ADD COLUMN pending_name VARCHAR(255) CHARACTER SET utf8mb4 \
                 COLLATE utf8mb4_nopad_bin AS (CASE WHEN status = 'pending' THEN name END) VIRTUAL"
            ),
            format!(
                "CREATE INDEX {} ON {commands} (pending_name, target, run_at)",
                t.index(b, "commands_pending")
            ),
            format!("DROP INDEX {} ON {commands}", t.index(b, "commands_claim")),
        ]
    } else {
        Vec::new()
    };
    Migration {
        version: 9,
        name: "index_pending_names",
        statements,
    }
}

/// Version 10, PostgreSQL and SQLite: the idempotency-key and parent indexes hold only the
/// rows that have a key or a parent. Most commands have neither, and PostgreSQL writes a
/// new entry into every index a row is in whenever it updates the row outside the heap
/// page's spare room (a claim and a finish change `status`, which the partial indexes
/// test, so neither is ever such a "HOT" update): the two indexes of NULLs cost every
/// claim and every finish two index entries each. SQLite skips indexes whose columns an
/// update leaves alone, but still wrote both entries at every insert. MySQL/MariaDB have no
/// partial indexes (InnoDB updates only the secondary indexes whose columns change).
fn partial_key_indexes(b: Backend, t: &Tables) -> Migration {
    let statements = if b == Backend::MySql {
        Vec::new()
    } else {
        let (commands, idem, parent) = (
            &t.commands,
            t.index(b, "commands_idempotency"),
            t.index(b, "commands_parent"),
        );
        vec![
            format!("DROP INDEX {idem}"),
            format!(
                "CREATE UNIQUE INDEX {idem} ON {commands} (idempotency_key) WHERE idempotency_key IS NOT NULL"
            ),
            format!("DROP INDEX {parent}"),
            format!("CREATE INDEX {parent} ON {commands} (parent_id) WHERE parent_id IS NOT NULL"),
        ]
    };
    Migration {
        version: 10,
        name: "partial_key_indexes",
        statements,
    }
}

/// Version 11: the locks-table row command claims lock when they take turns
/// (`SeaStoreConfig::serialize_claims` on MySQL/MariaDB, see `turn.rs`), inserted here as
/// the outbox claims' row is by version 5. Inserted by the first claim that needed it
/// before, several processes starting at once on a fresh database each inserted it in its
/// first turn, and MariaDB chose deadlock victims among them (each then retried, but an
/// engine's first claim failed). An existing row (inserted by an earlier version's first
/// turn) is kept.
fn command_claims_turn(b: Backend, t: &Tables) -> Migration {
    let (insert, tail) = match b {
        Backend::Postgres => ("INSERT INTO", " ON CONFLICT (name) DO NOTHING"),
        Backend::MySql => ("INSERT IGNORE INTO", ""),
        Backend::Sqlite => ("INSERT OR IGNORE INTO", ""),
    };
    Migration {
        version: 11,
        name: "command_claims_turn",
        statements: vec![format!(
            "{insert} {} (name, token) VALUES ('{}', 0){tail}",
            t.locks,
            crate::turn::COMMAND_CLAIMS
        )],
    }
}

/// Statements that drop every orch table for this prefix (tests and tools only).
pub(crate) fn drop_all(t: &Tables) -> Vec<String> {
    [
        &t.owed_follow_ups,
        &t.errors,
        &t.commands,
        &t.locks,
        &t.cron_jobs,
        &t.outbox,
        &t.inbox,
        &t.migrations,
    ]
    .into_iter()
    .map(|table| format!("DROP TABLE IF EXISTS {table}"))
    .collect()
}
