//! Migrations and table prefixes.

use orch::ListFilter;
use orch::SeaStoreConfig;
use orch::internal::SeaStore;

use crate::Harness;
use crate::commands::EchoCommand;

/// Two instances migrating an empty database at once both succeed; a rerun applies
/// nothing.
pub async fn migrations_are_idempotent_and_concurrent(h: &Harness) {
    let (a, b) = tokio::join!(SeaStore::connect(h.url()), SeaStore::connect(h.url()));
    let a = a.expect("first instance");
    b.expect("second instance");
    assert!(a.migrate().await.expect("rerun").is_empty());
    // orch never touches the application's own migration table.
    let orch = h.client().await;
    orch.push(EchoCommand { n: 1 })
        .await
        .expect("usable after migration");
}

/// Two prefixes on one database are two separate queues.
pub async fn table_prefixes_isolate(h: &Harness) {
    let mut config = SeaStoreConfig::default();
    config.table_prefix = "tenant_a_".into();
    let a = h
        .builder()
        .store_config(config.clone())
        .build()
        .await
        .expect("a");
    config.table_prefix = "tenant_b_".into();
    let b = h.builder().store_config(config).build().await.expect("b");
    a.push(EchoCommand { n: 1 }).await.expect("push a");
    assert_eq!(a.list(&ListFilter::new()).await.expect("list").len(), 1);
    assert!(b.list(&ListFilter::new()).await.expect("list").is_empty());
    assert_eq!(
        a.store().commands_table().trim_matches(['"', '`']),
        "tenant_a_commands"
    );
}
