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
