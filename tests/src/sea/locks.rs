//! Locks as only orch-sea has them: per table prefix, and living on a server connection.

use std::time::Duration;

use orch::SeaStoreConfig;

use super::SeaBackend;
use super::connection::kill_connections;
use crate::Harness;

/// Locks are namespaced by table prefix: two prefixes on one database each hold their own
/// lock of the same name, and the default prefix is a third.
pub async fn lock_names_are_per_prefix(h: &Harness<SeaBackend>) {
    let on = |prefix: &str| {
        h.backend()
            .orch_builder()
            .store_config(SeaStoreConfig::default().with_table_prefix(prefix))
            .build()
    };
    let (a, b, c) = (
        on("tenant_a_").await.expect("a"),
        on("tenant_b_").await.expect("b"),
        on("orch_").await.expect("c"),
    );
    let mut guards = Vec::new();
    for orch in [&a, &b, &c] {
        guards.push(
            orch.lock("shared-name")
                .acquire(Duration::ZERO)
                .await
                .expect("acquire")
                .expect("each prefix has its own lock"),
        );
    }
    assert!(
        a.lock("shared-name")
            .acquire(Duration::ZERO)
            .await
            .expect("try")
            .is_none(),
        "still exclusive within a prefix"
    );
    for guard in guards {
        guard.release().await.expect("release");
    }
}

/// A server lock lives on its own connection: when the server kills that connection, the
/// lock is free for others at once, and its holder learns it lost the lock (`lost()`
/// resolves, `is_held()` is false) within the keeper's period.
pub async fn lock_dies_with_its_connection(h: &Harness<SeaBackend>) {
    let holder = h.backend().orch_builder().build().await.expect("holder");
    let guard = holder
        .lock("fragile")
        .ttl(Duration::from_secs(3))
        .acquire(Duration::ZERO)
        .await
        .expect("acquire")
        .expect("free");
    let token = guard.token();
    assert!(kill_connections(h).await > 0, "connections were killed");
    let other = h.backend().orch_builder().build().await.expect("other");
    let next = other
        .lock("fragile")
        .acquire(Duration::from_secs(2))
        .await
        .expect("acquire")
        .expect("free once its connection died");
    assert!(next.token() > token);
    tokio::time::timeout(Duration::from_secs(5), guard.lost())
        .await
        .expect("the old holder learns it lost the lock");
    assert!(!guard.is_held().await);
    next.release().await.expect("release");
}
