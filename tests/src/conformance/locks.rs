//! Distributed locks: exclusion, fencing tokens, release on drop and on the holder's death.

use std::process::Stdio;
use std::time::Duration;

use orch::Orch;
use sea_orm::ConnectionTrait;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::Harness;

/// Tasks contending for one lock in each of the two processes.
pub const CONTENDERS_PER_PROCESS: usize = 25;
/// Critical sections each contender enters.
pub const ROUNDS: usize = 4;
/// The TTL a killed holder's lock had (the stated bound on SQLite).
pub const KILLED_HOLDER_TTL: Duration = Duration::from_secs(3);

/// A lock has one holder at a time; `wait = 0` tries once; release frees it at once, a
/// dropped guard frees it soon after; tokens strictly increase across holders.
pub async fn lock_excludes_and_tokens_increase(h: &Harness) {
    let a = h.client().await;
    let b = h.builder().build().await.expect("second handle");
    let first = a
        .lock("report")
        .acquire(Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free");
    assert!(first.is_held().await);
    assert!(
        b.lock("report")
            .acquire(Duration::ZERO)
            .await
            .expect("try")
            .is_none(),
        "a second holder is refused"
    );
    let started = tokio::time::Instant::now();
    assert!(
        b.lock("report")
            .acquire(Duration::from_millis(300))
            .await
            .expect("wait")
            .is_none()
    );
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    assert!(
        b.lock("other")
            .acquire(Duration::ZERO)
            .await
            .expect("other")
            .is_some(),
        "names are independent"
    );
    let first_token = first.token();
    first.release().await.expect("release");
    let second = b
        .lock("report")
        .acquire(Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free after release");
    assert!(second.token() > first_token, "tokens increase");
    let second_token = second.token();
    drop(second);
    let third = a
        .lock("report")
        .acquire(Duration::from_secs(10))
        .await
        .expect("acquire")
        .expect("free after drop");
    assert!(third.token() > second_token);
    assert_eq!(
        a.leader().await.expect("leader"),
        None,
        "user locks are not the leader lock"
    );
    third.release().await.expect("release");
}

/// Bad lock names and TTLs are refused with a clear error.
pub async fn bad_lock_names_are_refused(h: &Harness) {
    let orch = h.client().await;
    for name in ["", "orch.leader", "a\u{0}b", &"n".repeat(201)] {
        let error = orch
            .lock(name)
            .acquire(Duration::ZERO)
            .await
            .expect_err(name);
        assert!(error.to_string().contains("lock name"), "{error}");
    }
    let error = orch
        .lock("short")
        .ttl(Duration::from_millis(10))
        .acquire(Duration::ZERO)
        .await
        .expect_err("ttl");
    assert!(error.to_string().contains("ttl"), "{error}");
    // Quotes and SQL in a name are only data.
    let odd = "it's \"odd\"; DROP TABLE x; -- ✓";
    let guard = orch
        .lock(odd)
        .acquire(Duration::ZERO)
        .await
        .expect("odd name")
        .expect("free");
    guard.release().await.expect("release");
}

/// A waiting acquire that is dropped (a timeout, a `select!`) leaves nothing behind.
pub async fn canceled_acquire_leaves_the_lock_free(h: &Harness) {
    let orch = h.client().await;
    let held = orch
        .lock("busy")
        .acquire(Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free");
    let waiting = tokio::time::timeout(
        Duration::from_millis(200),
        orch.lock("busy").acquire(Duration::from_secs(60)),
    )
    .await;
    assert!(waiting.is_err(), "still waiting when canceled");
    held.release().await.expect("release");
    let again = orch
        .lock("busy")
        .acquire(Duration::from_secs(5))
        .await
        .expect("acquire")
        .expect("nobody kept it");
    again.release().await.expect("release");
}

/// 50 tasks in 2 processes contend for one lock: never two in the critical section, and
/// the fencing tokens the protected resource sees only ever grow.
pub async fn lock_excludes_fifty_tasks_in_two_processes(h: &Harness) {
    let orch = h.client().await;
    let db = orch.store().connection();
    db.execute_unprepared(
        "CREATE TABLE probe (id BIGINT PRIMARY KEY, inside BIGINT NOT NULL, entries BIGINT NOT NULL, violations BIGINT NOT NULL, last_token BIGINT NOT NULL)",
    )
    .await
    .expect("probe table");
    db.execute_unprepared(
        "INSERT INTO probe (id, inside, entries, violations, last_token) VALUES (1, 0, 0, 0, 0)",
    )
    .await
    .expect("probe row");
    let mut child = tokio::process::Command::new(h.worker_bin())
        .args([h.url(), "contend"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the second process");
    contend(h.url()).await;
    let status = child.wait().await.expect("wait for the second process");
    assert!(status.success(), "the second process failed: {status}");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT entries, violations, inside FROM probe WHERE id = 1",
        ))
        .await
        .expect("read probe")
        .expect("probe row");
    let entries: i64 = row.try_get_by_index(0).expect("entries");
    let violations: i64 = row.try_get_by_index(1).expect("violations");
    let inside: i64 = row.try_get_by_index(2).expect("inside");
    assert_eq!(
        violations, 0,
        "two holders at once, or a token that did not grow"
    );
    assert_eq!(inside, 0);
    assert_eq!(entries as usize, 2 * CONTENDERS_PER_PROCESS * ROUNDS);
}

/// One process's share of [`lock_excludes_fifty_tasks_in_two_processes`]: its contenders
/// each enter the critical section [`ROUNDS`] times.
pub async fn contend(url: &str) {
    let orch = Orch::builder()
        .database(url)
        .without_link_time_handlers()
        .build()
        .await
        .expect("build");
    let tasks: Vec<_> = (0..CONTENDERS_PER_PROCESS)
        .map(|_| {
            let orch = orch.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let guard = orch
                        .lock("contended")
                        .acquire(Duration::from_secs(120))
                        .await
                        .expect("acquire")
                        .expect("got the lock in time");
                    critical_section(&orch, guard.token()).await;
                    guard.release().await.expect("release");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("contender");
    }
}

/// Enters the probe's critical section: anyone else inside, or a token not greater than
/// the last one seen, counts as a violation.
async fn critical_section(orch: &Orch, token: u64) {
    let db = orch.store().connection();
    let exec =
        |sql: String| async move { db.execute_unprepared(&sql).await.expect("probe statement") };
    exec("UPDATE probe SET inside = inside + 1 WHERE id = 1".into()).await;
    let fenced = exec(format!(
        "UPDATE probe SET last_token = {token} WHERE id = 1 AND last_token < {token}"
    ))
    .await;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT inside FROM probe WHERE id = 1",
        ))
        .await
        .expect("read probe")
        .expect("probe row");
    let inside: i64 = row.try_get_by_index(0).expect("inside");
    if inside != 1 || fenced.rows_affected() != 1 {
        exec("UPDATE probe SET violations = violations + 1 WHERE id = 1".into()).await;
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    exec("UPDATE probe SET inside = inside - 1, entries = entries + 1 WHERE id = 1".into()).await;
}

/// A holder killed with SIGKILL loses its lock: at once on PostgreSQL and MySQL/MariaDB
/// (its connection closes), within the lock's TTL on SQLite (its lease runs out). The next
/// holder's token is greater.
pub async fn killed_holder_frees_the_lock(h: &Harness) {
    let orch = h.client().await;
    let mut child = tokio::process::Command::new(h.worker_bin())
        .args([h.url(), "hold-lock", "victim"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the holder");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the holder reports in time")
        .expect("read")
        .expect("a line");
    let token: u64 = line
        .strip_prefix("held ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        orch.lock("victim")
            .acquire(Duration::ZERO)
            .await
            .expect("try")
            .is_none(),
        "held by the other process"
    );
    child.start_kill().expect("SIGKILL the holder");
    child.wait().await.expect("reap the holder");
    let killed = tokio::time::Instant::now();
    let bound = match h.kind {
        crate::BackendKind::Sqlite => KILLED_HOLDER_TTL,
        _ => Duration::from_secs(1),
    };
    let guard = orch
        .lock("victim")
        .acquire(bound + Duration::from_secs(2))
        .await
        .expect("acquire")
        .expect("freed within the bound");
    let took = killed.elapsed();
    assert!(guard.token() > token, "{} > {token}", guard.token());
    assert!(took <= bound + Duration::from_secs(2), "took {took:?}");
    guard.release().await.expect("release");
}

/// The child side of [`killed_holder_frees_the_lock`]: takes `name`, prints its token and
/// waits to be killed.
pub async fn hold_until_killed(url: &str, name: &str) {
    let orch = Orch::builder()
        .database(url)
        .without_link_time_handlers()
        .build()
        .await
        .expect("build");
    let guard = orch
        .lock(name)
        .ttl(KILLED_HOLDER_TTL)
        .acquire(Duration::from_secs(30))
        .await
        .expect("acquire")
        .expect("free");
    #[allow(clippy::print_stdout, reason = "the parent reads this line")]
    {
        println!("held {}", guard.token());
    }
    std::future::pending::<()>().await;
}
