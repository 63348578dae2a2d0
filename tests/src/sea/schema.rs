//! Migrations and table prefixes.

use orch::internal::SeaStore;
use orch::{ConfigError, Error, ListFilter, Orch, SeaStoreConfig};

use super::SeaBackend;
use crate::Harness;
use crate::commands::EchoCommand;

/// Many instances starting at once against one fresh database (a new SQLite file
/// included) all start: the migration lock makes the others wait, none fails with
/// "database is locked" or a duplicate table. A rerun applies nothing.
pub async fn migrations_are_idempotent_and_concurrent(h: &Harness<SeaBackend>) {
    const INSTANCES: usize = 8;
    let started = futures::future::join_all((0..INSTANCES).map(|_| async {
        let orch = h
            .backend()
            .orch_builder()
            .handler::<EchoCommand, _>(crate::commands::EchoHandler)
            .build()
            .await?;
        orch.health().await;
        Ok::<_, Error>(orch)
    }))
    .await;
    let mut instances = Vec::new();
    for (i, instance) in started.into_iter().enumerate() {
        instances.push(instance.unwrap_or_else(|e| panic!("instance {i} did not start: {e}")));
    }
    let store = SeaStore::connect(h.backend().url())
        .await
        .expect("one more instance");
    assert!(store.migrate().await.expect("rerun").is_empty());
    // orch never touches the application's own migration table.
    instances[INSTANCES - 1]
        .push(EchoCommand { n: 1 })
        .await
        .expect("usable after migration");
}

/// Two prefixes on one database are two separate queues.
pub async fn table_prefixes_isolate(h: &Harness<SeaBackend>) {
    let mut config = SeaStoreConfig::default();
    config.table_prefix = "tenant_a_".into();
    let a = h
        .backend()
        .orch_builder()
        .store_config(config.clone())
        .build()
        .await
        .expect("a");
    config.table_prefix = "tenant_b_".into();
    let b = h
        .backend()
        .orch_builder()
        .store_config(config)
        .build()
        .await
        .expect("b");
    a.push(EchoCommand { n: 1 }).await.expect("push a");
    assert_eq!(a.list(&ListFilter::new()).await.expect("list").len(), 1);
    assert!(b.list(&ListFilter::new()).await.expect("list").is_empty());
    assert_eq!(
        a.store().commands_table().trim_matches(['"', '`']),
        "tenant_a_commands"
    );
}

/// An invalid table prefix or database URL is a configuration error naming the setting.
pub async fn invalid_table_prefix_is_a_config_error(h: &Harness<SeaBackend>) {
    for prefix in ["Bad;prefix", "", "1x", "orch-x", "a\"b"] {
        let err = h
            .backend()
            .orch_builder()
            .table_prefix(prefix)
            .build()
            .await
            .expect_err("invalid prefix");
        assert!(
            matches!(
                err,
                Error::Config(ConfigError::Invalid {
                    field: "table_prefix",
                    ..
                })
            ),
            "{prefix:?}: {err:?}"
        );
    }
    let err = Orch::builder()
        .database("oracle://x")
        .build()
        .await
        .expect_err("unsupported url");
    assert!(
        err.to_string().contains("unsupported database URL"),
        "{err}"
    );
    let err = Orch::builder().build().await.expect_err("no database");
    assert!(err.to_string().contains("no database"), "{err}");
}

/// A migration interrupted by a killed process is completed by the next start. MySQL and
/// MariaDB commit each DDL statement on its own, so a kill halfway through a migration
/// leaves some of its tables behind without its row in the migration table: played here
/// by dropping the rows of the newest migrations and one of their tables. (PostgreSQL and
/// SQLite migrate in one transaction: a kill leaves nothing behind there, and this test
/// has nothing to play.)
pub async fn interrupted_migration_is_completed(h: &Harness<SeaBackend>) {
    if h.backend().kind() != crate::BackendKind::MySql {
        return;
    }
    let store = SeaStore::connect(h.backend().url())
        .await
        .expect("first start");
    let prefix = store.table_prefix().to_owned();
    h.backend()
        .exec(
            &format!("DELETE FROM {prefix}migrations WHERE version >= 5"),
            vec![],
        )
        .await;
    h.backend()
        .exec(&format!("DROP TABLE {prefix}inbox"), vec![])
        .await;
    let again = SeaStore::connect(h.backend().url())
        .await
        .expect("the next start completes the migrations");
    let applied = again.migrate().await.expect("rerun");
    assert!(applied.is_empty(), "all recorded: {applied:?}");
    let orch = h.client().await;
    orch.push(EchoCommand { n: 1 })
        .await
        .expect("usable after the repair");
    // Panics unless the inbox table is back.
    h.backend()
        .exec(&format!("DELETE FROM {prefix}inbox"), vec![])
        .await;
}
