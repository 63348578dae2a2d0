//! Follow-ups: committed with their parent's completion, exactly once.

use orch::ListFilter;
use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{Child, ChildHandler, Parent, ParentHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// After the parent succeeds its child exists exactly once, linked to it, and runs.
pub async fn follow_ups_exist_exactly_once<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Parent, _>(ParentHandler)
        .handler::<Child, _>(ChildHandler)
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    let parents: Vec<CommandId> = {
        let mut ids = Vec::new();
        for n in 0..20 {
            ids.push(orch.push(Parent { n }).await.expect("push"));
        }
        ids
    };
    for (n, id) in parents.iter().enumerate() {
        let rec = wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
        assert_eq!(rec.output_as::<u64>().expect("output"), n as u64 * 10);
    }
    wait_until(SOON, "every child to run", || async {
        (0..20u64)
            .all(|n| ledger.runs(&format!("child:{}", n * 10 + 1)) == 1)
            .then_some(())
    })
    .await;
    running.stop().await;
    for id in parents {
        let children = orch
            .list(&ListFilter::new().parent(id))
            .await
            .expect("list");
        assert_eq!(children.len(), 1, "exactly one follow-up of {id}");
        assert_eq!(children[0].name, "child");
        assert_eq!(children[0].status, CommandStatus::Succeeded);
    }
    let all_children = orch
        .list(&ListFilter::new().name("child").limit(1000))
        .await
        .expect("list");
    assert_eq!(all_children.len(), 20);
}

/// A follow-up committed with its parent's finish starts at once in the same process,
/// not at the next poll (the poll interval here is 30 s).
pub async fn follow_up_starts_without_waiting_for_a_poll<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Parent, _>(ParentHandler)
        .handler::<Child, _>(ChildHandler)
        .configure(|c| c.poll_interval = std::time::Duration::from_secs(30))
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    // Let the engine go idle first, so only a wake-up can start the next command.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let id = orch.push(Parent { n: 3 }).await.expect("push");
    wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    let started = tokio::time::Instant::now();
    wait_until(
        std::time::Duration::from_secs(5),
        "the child to run",
        || async { (ledger.runs("child:31") == 1).then_some(()) },
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the follow-up waited {:?}",
        started.elapsed()
    );
    running.stop().await;
}
