//! Distributed locks: exclusion, fencing tokens, release on drop and on the holder's death.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{Harness, SuiteBackend};

/// Tasks contending for one lock in each of the two processes.
pub const CONTENDERS_PER_PROCESS: usize = 25;
/// Critical sections each contender enters.
pub const ROUNDS: usize = 4;
/// The TTL a killed holder's lock had (the stated bound on SQLite).
pub const KILLED_HOLDER_TTL: Duration = Duration::from_secs(3);

/// A lock has one holder at a time; `wait = 0` tries once; release frees it at once, a
/// dropped guard frees it soon after; tokens strictly increase across holders.
pub async fn lock_excludes_and_tokens_increase<B: SuiteBackend>(h: &Harness<B>) {
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
pub async fn bad_lock_names_are_refused<B: SuiteBackend>(h: &Harness<B>) {
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
pub async fn canceled_acquire_leaves_the_lock_free<B: SuiteBackend>(h: &Harness<B>) {
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

/// A lock held longer than its TTL stays held (the keeper renews the lease on SQLite and
/// keeps the server session alive elsewhere): nobody else takes it meanwhile.
pub async fn held_lock_outlives_its_ttl<B: SuiteBackend>(h: &Harness<B>) {
    let a = h.client().await;
    let b = h.builder().build().await.expect("second node");
    let guard = a
        .lock("long")
        .ttl(Duration::from_secs(1))
        .acquire(Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free");
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < until {
        assert!(
            b.lock("long")
                .acquire(Duration::ZERO)
                .await
                .expect("try")
                .is_none(),
            "taken while its holder lives"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(guard.is_held().await);
    guard.release().await.expect("release");
}

/// 50 tasks in 2 processes contend for one lock: never two in the critical section, and
/// the fencing tokens the protected resource sees only ever grow.
pub async fn lock_excludes_fifty_tasks_in_two_processes<B: SuiteBackend>(h: &Harness<B>) {
    let probe = std::env::temp_dir().join(format!("orch-probe-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&probe).expect("probe dir");
    let probe_arg = probe.to_str().expect("utf-8 path").to_owned();
    let mut child = h
        .worker(&["contend", &probe_arg])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the second process");
    contend(h, &probe).await;
    let status = child.wait().await.expect("wait for the second process");
    assert!(status.success(), "the second process failed: {status}");
    let read = |name: &str| std::fs::read_to_string(probe.join(name)).unwrap_or_default();
    let violations = read("violations");
    let entries = read("entries").lines().count();
    assert!(!probe.join("inside").exists());
    let _ = std::fs::remove_dir_all(&probe);
    assert!(
        violations.is_empty(),
        "two holders at once, or a token that did not grow: {violations}"
    );
    assert_eq!(entries, 2 * CONTENDERS_PER_PROCESS * ROUNDS);
}

/// One process's share of [`lock_excludes_fifty_tasks_in_two_processes`]: its contenders
/// each enter the critical section of the resource in `probe` [`ROUNDS`] times.
pub async fn contend<B: SuiteBackend>(h: &Harness<B>, probe: &Path) {
    let node = h.client().await;
    let tasks: Vec<_> = (0..CONTENDERS_PER_PROCESS)
        .map(|_| {
            let node = node.clone();
            let probe = probe.to_owned();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let guard = node
                        .lock("contended")
                        .acquire(Duration::from_secs(120))
                        .await
                        .expect("acquire")
                        .expect("got the lock in time");
                    critical_section(&probe, guard.token()).await;
                    guard.release().await.expect("release");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("contender");
    }
}

/// The protected resource, in files both processes see: entering while the `inside`
/// marker exists, or with a token not greater than the last one recorded, is a violation.
async fn critical_section(probe: &Path, token: u64) {
    let inside = probe.join("inside");
    let mut violations = Vec::new();
    let entered = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&inside)
        .is_ok();
    if !entered {
        violations.push(format!(
            "token {token} entered while another holder was inside"
        ));
    }
    let last: u64 = std::fs::read_to_string(probe.join("token"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    if token <= last {
        violations.push(format!("token {token} after {last}"));
    }
    std::fs::write(probe.join("token"), token.to_string()).expect("write token");
    tokio::time::sleep(Duration::from_millis(2)).await;
    if entered {
        std::fs::remove_file(&inside).expect("leave");
    }
    append(&probe.join("entries"), &format!("{token}\n"));
    for violation in violations {
        append(&probe.join("violations"), &format!("{violation}\n"));
    }
}

fn append(path: &PathBuf, line: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .expect("append to the probe");
}

/// A holder killed with SIGKILL loses its lock: at once on PostgreSQL and MySQL/MariaDB
/// (its connection closes), within the lock's TTL on SQLite (its lease runs out). The next
/// holder's token is greater.
pub async fn killed_holder_frees_the_lock<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let mut child = h
        .worker(&["hold-lock", "victim"])
        .stdout(Stdio::piped())
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
    let bound = if h.backend().session_locks() {
        Duration::from_secs(1)
    } else {
        KILLED_HOLDER_TTL
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
pub async fn hold_until_killed<B: SuiteBackend>(h: &Harness<B>, name: &str) {
    let guard = h
        .client()
        .await
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
