//! What a drain's clock does not count: the filled table settled (vacuumed and analyzed),
//! and the engine's connections opened, as an engine that has run for a while finds them.

use std::time::Duration;

use orch::prelude::*;
use sea_orm::{ConnectionTrait, Statement};

type BoxError = Box<dyn std::error::Error>;

/// Vacuums (PostgreSQL) and analyzes the filled table before the clock starts, so that no
/// drain meets the server's automatic vacuum or analyze part-way (which starts at a moment
/// of its own choosing, changes the plans of the statements after it, and made the figures
/// of one configuration differ by a third from one drain to the next).
pub(crate) async fn settle(client: &Orch) -> Result<(), BoxError> {
    let db = client.store().connection();
    let t = client.store().commands_table();
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!("VACUUM ANALYZE {t}"),
        sea_orm::DbBackend::MySql => format!("ANALYZE TABLE {t}"),
        _ => return Ok(()),
    };
    db.execute_unprepared(&sql).await?;
    Ok(())
}

/// Opens the store's claims pool before the clock starts, as [`open_pool`] opens the main
/// one: the store opens it at its first claim, which an engine that has run for a while has
/// long made. One claim of a name no row has, so it takes nothing; a claim that fails (a
/// transient error, a deadlock victim) is tried again a few times, as an engine would.
pub(crate) async fn open_claims_pool(engine: &Orch) -> Result<(), BoxError> {
    use orch::internal::store::{ClaimParams, Store};
    let nothing = ClaimParams {
        worker: orch::WorkerId::new(),
        token: orch::internal::LeaseToken::new(),
        names: vec!["orch-bench.no-such-command".to_owned()],
        targets: vec![String::new()],
        limit: 1,
        lease_ttl: Duration::from_secs(30),
        lease_buffer: Duration::from_secs(10),
    };
    let mut tries = 0;
    let claimed = loop {
        match engine.store().commands().claim(&nothing).await {
            Ok(claimed) => break claimed,
            Err(error) if tries < WARM_UP_TRIES => {
                eprintln!("warm-up claim failed ({error}); trying again");
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => return Err(error.into()),
        }
    };
    if !claimed.is_empty() {
        return Err("a claim of a name no row has took rows".into());
    }
    Ok(())
}

/// Further tries of a failed warm-up claim.
const WARM_UP_TRIES: u32 = 5;

/// Connections in each child's pool, and those opened before a drain's clock starts.
pub(crate) const POOL: u32 = 10;

/// Opens `n` connections of `engine`'s pool (one statement on each, all at once) before the
/// clock starts: an engine that has run for a while has them open, and opening them (a
/// server process forked per connection on PostgreSQL) inside a drain of a few seconds
/// would count four processes' start-up four times against one process's once.
pub(crate) async fn open_pool(engine: &Orch, n: u32) -> Result<(), BoxError> {
    let db = engine.store().connection();
    let backend = db.get_database_backend();
    let each = (0..n).map(|_| db.execute_raw(Statement::from_string(backend, "SELECT 1")));
    for result in futures::future::join_all(each).await {
        result?;
    }
    Ok(())
}
