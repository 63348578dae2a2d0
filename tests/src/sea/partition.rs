//! A worker cut off from its database fences itself: a TCP proxy between one engine and
//! the server is cut and held, and the engine's handler must stop before another engine
//! takes the command over.

use std::time::Duration;

use super::SeaBackend;
use crate::commands::{Blocker, BlockerHandler};
use crate::conformance::{SOON, ledger};
use crate::proxy::Proxy;
use crate::wait::wait_until;
use crate::{BackendKind, Harness};

/// The URL with its port replaced by `port` (the server on 127.0.0.1).
pub(super) fn via(url: &str, kind: BackendKind, port: u16) -> String {
    let default = if kind == BackendKind::Postgres {
        ":5432/"
    } else {
        ":3306/"
    };
    assert!(
        url.contains(default),
        "the test expects the server on its default port: {url}"
    );
    url.replacen(default, &format!(":{port}/"), 1)
}

/// The partitioned engine's handler sees its token fire before the other engine starts
/// the command.
pub async fn partitioned_engine_fences_itself(h: &Harness<SeaBackend>) {
    let kind = h.backend().kind();
    let upstream = if kind == BackendKind::Postgres {
        "127.0.0.1:5432"
    } else {
        "127.0.0.1:3306"
    };
    let proxy = Proxy::start(upstream.parse().expect("address")).await;
    let ledger = ledger();
    let cut_off = orch::Orch::builder()
        .database(via(h.backend().url(), kind, proxy.port()))
        .without_link_time_handlers()
        .state(ledger.clone())
        .handler::<Blocker, _>(BlockerHandler)
        .poll_interval(Duration::from_millis(50))
        .configure(|c| {
            c.lease_ttl = Duration::from_secs(2);
            c.lease_buffer = Duration::from_secs(1);
            c.heartbeat_interval = Duration::from_millis(300);
            c.reaper_interval = Duration::from_secs(3600);
            c.shutdown_grace = Duration::from_secs(1);
        })
        .build()
        .await
        .expect("build the engine behind the proxy");
    let stop = orch::prelude::CancellationToken::new();
    let engine = tokio::spawn({
        let (orch, stop) = (cut_off.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    let id = cut_off
        .push(Blocker {
            label: "held".into(),
        })
        .await
        .expect("push");
    wait_until(SOON, "the handler to start", || async {
        ledger.saw("held:start").then_some(())
    })
    .await;
    // Let a few renewals pass, then cut the network and hold it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    let survivor = h
        .backend()
        .orch_builder()
        .state(ledger.clone())
        .handler::<Blocker, _>(BlockerHandler)
        .build()
        .await
        .expect("build the survivor");
    wait_until(
        Duration::from_secs(30),
        "the expired lease to be rescued",
        || async { (survivor.reap_now().await.expect("reap") == 1).then_some(()) },
    )
    .await;
    assert!(
        ledger.saw("held:cancelled"),
        "the cut-off handler stopped before its lease expired by the database's clock"
    );
    let running = {
        let stop = orch::prelude::CancellationToken::new();
        let task = tokio::spawn({
            let (orch, stop) = (survivor.clone(), stop.clone());
            async move { orch.run(stop).await }
        });
        (stop, task)
    };
    wait_until(SOON, "the survivor to start the command", || async {
        (ledger
            .events()
            .iter()
            .filter(|e| *e == "held:start")
            .count()
            == 2)
            .then_some(())
    })
    .await;
    let events = ledger.events();
    let stopped = events
        .iter()
        .position(|e| e == "held:cancelled")
        .expect("stopped");
    let restarted = events
        .iter()
        .enumerate()
        .filter(|(_, e)| *e == "held:start")
        .nth(1)
        .map(|(i, _)| i)
        .expect("restarted");
    assert!(stopped < restarted, "{events:?}");
    survivor.cancel(id).await.expect("cancel");
    running.0.cancel();
    running.1.await.expect("survivor task").expect("survivor");
    proxy.restore();
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), engine).await;
}
