//! Health when the database goes away.

use super::SeaBackend;
use crate::Harness;

/// With its database dropped under it, a handle reports itself not ready (and, with no
/// engine running, still live: a restart would not bring the database back).
pub async fn health_when_the_database_is_gone(h: &Harness<SeaBackend>) {
    let orch = h.backend().orch_builder().build().await.expect("build");
    assert!(orch.health().await.is_ready());
    h.backend().drop_database_now().await;
    let health = orch.health().await;
    assert!(!health.is_ready(), "{health:?}");
    assert!(
        !health.database.reachable || !health.schema.current,
        "{health:?}"
    );
    assert!(health.is_live());
}
