//! Claims and finishes of one store take turns at writing on SQLite, so they never meet in
//! SQLite's busy handler (which sleeps, then fails once the busy timeout has passed).

use std::sync::Arc;
use std::time::Duration;

use orch::SeaStoreConfig;
use orch::internal::SeaStore;
use orch::internal::store::Store;
use orch::prelude::*;

use super::SeaBackend;
use super::claim_cost::{insert_pending, params};
use super::finish_cost::successes;
use crate::Harness;
use crate::backend::SuiteBackend;
use crate::backends::BackendKind;

/// Commands drained.
const COMMANDS: u32 = 4_000;
/// Claimers working at once, each claiming then finishing what it claimed.
const CLAIMERS: usize = 4;
/// Rows per claim.
const CLAIM: u32 = 50;

/// Four tasks of one store claim and finish 4,000 commands at once, every claim and finish
/// a write. On SQLite, with a lock timeout of 1 ms, none of them fails for a lock: a claim
/// and a finish that met at the database's single write lock would wait in the busy
/// handler and fail with "database is locked" after 1 ms; they wait for their turn in the
/// store instead. The other backends lock rows, not the database, and keep the default
/// lock timeout (on PostgreSQL a claim that passes over a row claimed a moment before
/// keeps that row's lock until it commits, so a finish of it may wait a little).
pub async fn claims_and_finishes_of_one_store_take_turns(h: &Harness<SeaBackend>) {
    insert_pending(h, "echo", "default", COMMANDS).await;
    let config = match h.backend().kind() {
        BackendKind::Sqlite => {
            SeaStoreConfig::default().with_lock_timeout(Some(Duration::from_millis(1)))
        }
        BackendKind::Postgres | BackendKind::MySql => SeaStoreConfig::default(),
    };
    let store = Arc::new(
        SeaStore::connect_with(h.backend().url(), config)
            .await
            .expect("a store"),
    );
    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut finished = 0;
                loop {
                    let claimed = store
                        .commands()
                        .claim(&params(&["echo"], &["default"], CLAIM))
                        .await
                        .expect("a claim never fails for a lock");
                    if claimed.is_empty() {
                        return finished;
                    }
                    let batch = successes(&claimed);
                    let applied = store
                        .commands()
                        .finish(&batch)
                        .await
                        .expect("a finish never fails for a lock");
                    assert!(applied.iter().all(|ok| *ok), "every finish applied");
                    finished += applied.len();
                }
            })
        })
        .collect();
    let mut finished = 0;
    for claimer in claimers {
        finished += claimer.await.expect("claimer");
    }
    assert_eq!(finished, COMMANDS as usize, "each command finished once");
    assert_eq!(
        h.backend().count(CommandStatus::Succeeded).await,
        i64::from(COMMANDS)
    );
}
