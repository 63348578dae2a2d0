//! One-shot timers: scheduled by the database's clock, listed, called off before they
//! start, fired once, surviving restarts.

use std::time::Duration;

use orch::ListFilter;
use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{Blocker, BlockerHandler, EchoCommand, EchoHandler, Parent, ParentHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// A timer waits for its time by the database's clock, survives a restart (another node,
/// another store), and fires exactly once.
pub async fn timer_fires_once_at_its_time<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let first = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let now = first.database_now().await.expect("now");
    let id = first
        .schedule(EchoCommand { n: 7 }, now + chrono::Duration::hours(1))
        .await
        .expect("schedule");
    let running = h.start(&first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;
    assert_eq!(ledger.runs("7"), 0, "not due for an hour");
    // A restart: a new node with its own store picks the timer up once it is due.
    let second = h.engine::<EchoCommand, _>(EchoHandler, &ledger).await;
    let running = h.start(&second);
    h.make_due(id).await;
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;
    assert_eq!(rec.attempts, 1);
    assert_eq!(ledger.runs("7"), 1, "fired once");
}

/// Pending timers are listed soonest first with their due times; a timer called off
/// before it starts is canceled (with its `on_cancel` follow-up) and never runs; calling
/// it off again, or calling off an unknown id, says false.
pub async fn timers_are_listed_and_called_off<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<Parent, _>(ParentHandler, &ledger).await;
    let now = orch.database_now().await.expect("now");
    let later = now + chrono::Duration::hours(2);
    let sooner = now + chrono::Duration::hours(1);
    let a = orch.schedule(Parent { n: 1 }, later).await.expect("a");
    let b = orch.schedule(Parent { n: 2 }, sooner).await.expect("b");
    let timers = orch.pending_timers(10).await.expect("timers");
    assert_eq!(
        timers.iter().map(|t| (t.id, t.run_at)).collect::<Vec<_>>(),
        [(b, sooner), (a, later)],
        "soonest first, with their due times"
    );
    assert!(orch.cancel_timer(a).await.expect("cancel"));
    assert!(!orch.cancel_timer(a).await.expect("again"), "only once");
    assert!(!orch.cancel_timer(CommandId::new()).await.expect("unknown"));
    let rec = orch.get(a).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Canceled);
    let notices = orch.list(&ListFilter::new().parent(a)).await.expect("list");
    assert_eq!(notices.len(), 1, "on_cancel follow-up");
    let timers = orch.pending_timers(10).await.expect("timers");
    assert_eq!(timers.iter().map(|t| t.id).collect::<Vec<_>>(), [b]);
    h.make_due(a).await;
    h.make_due(b).await;
    let running = h.start(&orch);
    wait_for_status(h, b, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(ledger.runs("parent:1"), 0, "a called-off timer never runs");
    assert!(
        !orch.cancel_timer(b).await.expect("finished"),
        "already ran"
    );
}

/// A timer that has started cannot be called off: `cancel_timer` says false and the
/// handler carries on.
pub async fn started_timer_is_not_called_off<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h.engine::<Blocker, _>(BlockerHandler, &ledger).await;
    let now = orch.database_now().await.expect("now");
    let id = orch
        .schedule(
            Blocker {
                label: "timer".into(),
            },
            now,
        )
        .await
        .expect("schedule");
    let running = h.start(&orch);
    wait_until(SOON, "the timer to start", || async {
        ledger.saw("timer:start").then_some(())
    })
    .await;
    assert!(!orch.cancel_timer(id).await.expect("cancel timer"));
    let rec = orch.get(id).await.expect("get").expect("exists");
    assert_eq!(rec.status, CommandStatus::Running, "left running");
    assert!(!ledger.saw("timer:cancelled"));
    orch.cancel(id).await.expect("cancel");
    running.stop().await;
}
