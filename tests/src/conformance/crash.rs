//! A worker process killed with SIGKILL while it runs a command.

use orch::prelude::*;

use super::SOON;
use crate::commands::{Hang, HangHandler};
use crate::wait::wait_for_status;
use crate::{Harness, SuiteBackend};

/// The command a killed worker process held stays `running` under the dead lease until the
/// lease expires (time moved in SQL); the reaper then takes it back with a `lease_expired`
/// error and another worker runs it to success.
pub async fn killed_worker_process_is_recovered<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let id = orch
        .push(Hang {
            label: "crash".into(),
        })
        .await
        .expect("push");
    let mut child = h
        .worker(&["hang"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the worker process");
    let held = wait_for_status(h, id, CommandStatus::Running, SOON).await;
    child.start_kill().expect("SIGKILL the worker");
    child.wait().await.expect("reap the worker");
    assert_eq!(held.attempts, 1);

    let survivor = h
        .builder()
        .handler::<Hang, _>(HangHandler { hang: false })
        .build()
        .await
        .expect("build");
    assert_eq!(
        survivor.reap_now().await.expect("reap"),
        0,
        "the dead worker's lease has not expired yet"
    );
    h.expire_lease(id).await;
    assert_eq!(survivor.reap_now().await.expect("reap"), 1);
    let running = h.start(&survivor);
    let rec = wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 2);
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::LeaseExpired);
}
