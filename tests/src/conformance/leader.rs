//! Leader election: one leader among the engines on a database, replaced when it stops or
//! dies, and the once-per-cluster services run only there.

use std::process::Stdio;
use std::time::Duration;

use crate::node::Node;
use crate::{Harness, SuiteBackend, wait_until};

/// The leader lock TTL the leader tests run with.
pub const TEST_LEADER_TTL: Duration = Duration::from_secs(3);

/// How long a dead leader may go unreplaced on `kind` (the README's bound), with slack for
/// a loaded machine.
fn replaced_within<B: SuiteBackend>(h: &Harness<B>) -> Duration {
    let slack = Duration::from_secs(3);
    if h.backend().session_locks() {
        TEST_LEADER_TTL / 3 + slack
    } else {
        TEST_LEADER_TTL + TEST_LEADER_TTL / 3 + slack
    }
}

async fn engine<B: SuiteBackend>(h: &Harness<B>) -> Node<B::Tx> {
    h.builder()
        .configure(|c| c.leader_ttl = TEST_LEADER_TTL)
        .build()
        .await
        .expect("build")
}

/// Of three engines exactly one leads, everyone sees the same leader, and when it stops
/// another takes over with a greater term.
pub async fn one_leader_and_a_successor<B: SuiteBackend>(h: &Harness<B>) {
    let engines = [engine(h).await, engine(h).await, engine(h).await];
    let running: Vec<_> = engines.iter().map(|e| h.start(e)).collect();
    let leader = wait_until(Duration::from_secs(20), "a leader", || async {
        let leading: Vec<usize> = (0..3).filter(|i| engines[*i].is_leader()).collect();
        (leading.len() == 1).then(|| leading[0])
    })
    .await;
    let seen = engines[leader]
        .leader()
        .await
        .expect("leader")
        .expect("known");
    assert!(seen.is_self);
    assert_eq!(seen.worker, engines[leader].worker_id());
    for (i, other) in engines.iter().enumerate() {
        let info = other.leader().await.expect("leader").expect("known");
        assert_eq!(info.worker, seen.worker);
        assert_eq!(info.is_self, i == leader);
    }
    let mut running: Vec<_> = running.into_iter().map(Some).collect();
    running[leader].take().expect("running").stop().await;
    let next = wait_until(replaced_within(h), "a new leader", || async {
        let leading: Vec<usize> = (0..3)
            .filter(|i| *i != leader && engines[*i].is_leader())
            .collect();
        (leading.len() == 1).then(|| leading[0])
    })
    .await;
    let info = engines[next]
        .leader()
        .await
        .expect("leader")
        .expect("known");
    assert!(info.term > seen.term, "terms grow");
    for r in running.into_iter().flatten() {
        r.stop().await;
    }
}

/// A leader process killed with SIGKILL is replaced within the stated bound.
pub async fn killed_leader_is_replaced<B: SuiteBackend>(h: &Harness<B>) {
    let observer = h.client().await;
    let mut child = h
        .worker(&["engine"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the leader process");
    let first = wait_until(Duration::from_secs(30), "the child to lead", || async {
        observer.leader().await.expect("leader")
    })
    .await;
    assert!(!first.is_self);
    let survivor = engine(h).await;
    let running = h.start(&survivor);
    tokio::time::sleep(TEST_LEADER_TTL).await;
    assert!(
        !survivor.is_leader(),
        "no second leader while the first lives"
    );
    child.start_kill().expect("SIGKILL the leader");
    child.wait().await.expect("reap the leader");
    let killed = tokio::time::Instant::now();
    wait_until(replaced_within(h), "the survivor to lead", || async {
        survivor.is_leader().then_some(())
    })
    .await;
    let info = survivor.leader().await.expect("leader").expect("known");
    assert!(info.is_self);
    assert!(info.term > first.term);
    assert!(killed.elapsed() <= replaced_within(h));
    running.stop().await;
}
