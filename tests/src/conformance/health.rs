//! Health: the database, the schema, the engine's services and leadership, the queues.

use std::time::Duration;

use orch::prelude::*;

use super::{SOON, ledger};
use crate::commands::{EchoCommand, Failing, FailingHandler};
use crate::wait::{wait_for_status, wait_until};
use crate::{Harness, SuiteBackend};

/// A client's health: database reachable, schema current, no engine running; the queues
/// show due and dead commands per name; a running engine shows its services alive and
/// its leadership, and a stopped one none.
pub async fn health_reports_database_engine_and_queues<B: SuiteBackend>(h: &Harness<B>) {
    let client = h.client().await;
    let health = client.health().await;
    assert!(health.database.reachable, "{:?}", health.database);
    assert!(health.database.error.is_none());
    assert!(health.database.latency > Duration::ZERO);
    assert!(health.schema.current, "{:?}", health.schema);
    assert!(health.schema.applied >= 1);
    assert!(!health.engine.running);
    assert!(health.engine.services.is_empty());
    assert!(health.is_ready() && health.is_live());
    assert!(health.commands.is_empty(), "{:?}", health.commands);

    client.push(EchoCommand { n: 1 }).await.expect("push");
    client.push(EchoCommand { n: 2 }).await.expect("push");
    let ledger = ledger();
    let engine = h.engine::<Failing, _>(FailingHandler, &ledger).await;
    let dead = engine.push(Failing { fatal: true }).await.expect("push");
    let running = h.start(&engine);
    wait_for_status(h, dead, CommandStatus::Dead, SOON).await;
    wait_until(SOON, "the engine to lead", || async {
        engine.is_leader().then_some(())
    })
    .await;
    let health = engine.health().await;
    assert!(health.engine.running);
    assert!(health.engine.is_leader);
    let leader = health.engine.leader.expect("a leader");
    assert!(leader.is_self);
    let names: Vec<&str> = health.engine.services.iter().map(|s| s.name).collect();
    for service in ["heartbeat", "leader", "listener", "reaper", "scheduler"] {
        assert!(names.contains(&service), "{service} in {names:?}");
    }
    assert!(health.is_live(), "{:?}", health.engine.services);
    let echo = health
        .commands
        .iter()
        .find(|q| q.name == "echo")
        .expect("echo queue");
    assert_eq!((echo.due, echo.running, echo.dead), (2, 0, 0));
    assert!(echo.oldest_due_age.is_some());
    let failing = health
        .commands
        .iter()
        .find(|q| q.name == "failing")
        .expect("failing queue");
    assert_eq!(failing.dead, 1);
    let json = serde_json::to_value(&health).expect("serializes");
    assert_eq!(json["database"]["reachable"], true);
    running.stop().await;
    let health = engine.health().await;
    assert!(!health.engine.running);
    assert!(!health.engine.is_leader);
    assert!(health.engine.services.is_empty());
}
