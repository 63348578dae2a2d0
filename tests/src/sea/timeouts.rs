//! Every connection orch opens bounds its statements and its lock waits (PostgreSQL
//! `statement_timeout` and `lock_timeout`, MariaDB `max_statement_time` and
//! `innodb_lock_wait_timeout`), so a stalled statement or a held lock fails a call instead
//! of holding a connection forever. Server backends (SQLite's bound is its busy timeout).

use std::time::{Duration, Instant};

use orch::SeaStoreConfig;
use orch::internal::SeaStore;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use super::SeaBackend;
use crate::{BackendKind, Harness};

/// A statement past `statement_timeout` and a lock wait past `lock_timeout` fail within
/// about their limit, on a pool orch opened.
pub async fn statements_and_lock_waits_are_bounded(h: &Harness<SeaBackend>) {
    let url = h.backend().url().to_owned();
    let bounded = SeaStore::connect_with(
        &url,
        SeaStoreConfig::default()
            .with_statement_timeout(Some(Duration::from_secs(1)))
            .with_lock_timeout(Some(Duration::from_secs(1))),
    )
    .await
    .expect("bounded store");
    let db = bounded.connection();
    let backend = db.get_database_backend();
    let sleep = match h.backend().kind() {
        BackendKind::Postgres => "SELECT pg_sleep(5)",
        _ => "SELECT SLEEP(5)",
    };
    let started = Instant::now();
    let slept = db
        .query_one_raw(Statement::from_string(backend, sleep))
        .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3500),
        "the statement ran {took:?}"
    );
    if h.backend().kind() == BackendKind::Postgres {
        assert!(slept.is_err(), "PostgreSQL cancels it: {slept:?}");
    }

    // A row lock held by another session: the wait ends with an error, not forever.
    let admin = SeaStore::connect(&url).await.expect("admin store");
    let admin_db = admin.connection();
    admin_db
        .execute_unprepared(
            "CREATE TABLE bounded_rows (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
        )
        .await
        .expect("create");
    admin_db
        .execute_unprepared("INSERT INTO bounded_rows VALUES (1, 0)")
        .await
        .expect("insert");
    let holder = admin_db.begin().await.expect("begin");
    holder
        .execute_unprepared("UPDATE bounded_rows SET n = n + 1 WHERE id = 1")
        .await
        .expect("take the row lock");
    let started = Instant::now();
    let waited = db
        .execute_unprepared("UPDATE bounded_rows SET n = n + 10 WHERE id = 1")
        .await;
    let took = started.elapsed();
    holder.rollback().await.expect("rollback");
    assert!(
        waited.is_err(),
        "the lock wait must fail, not wait: {waited:?}"
    );
    assert!(
        took < Duration::from_millis(3500),
        "the lock wait took {took:?}"
    );
    // The pool is fine afterwards.
    db.execute_unprepared("UPDATE bounded_rows SET n = n + 100 WHERE id = 1")
        .await
        .expect("after the lock is gone");
    bounded.connection().clone().close().await.expect("close");
}
