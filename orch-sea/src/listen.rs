//! PostgreSQL wake-ups: `LISTEN` on the prefix's channel; every notification wakes the
//! engine. Notifications carry no payload (ids and data never travel this way), and lost
//! ones only delay a command until the next poll.

use std::sync::Arc;

use orch_core::store::{StoreError, StoreErrorKind};
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::debug;

fn listen_error(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::new(
        StoreErrorKind::Connection,
        "listen for wake-ups",
        Some(Box::new(e)),
    )
}

pub(crate) async fn listen(
    db: &DatabaseConnection,
    url: Option<&str>,
    channel: &str,
    wake: Arc<Notify>,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    // With a URL, the listener has its own connection; otherwise it borrows one of the pool's.
    let mut listener = match url {
        Some(url) => PgListener::connect(url).await.map_err(listen_error)?,
        None => PgListener::connect_with(db.get_postgres_connection_pool())
            .await
            .map_err(listen_error)?,
    };
    listener.listen(channel).await.map_err(listen_error)?;
    debug!(channel, "listening for wake-ups");
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            received = listener.try_recv() => match received.map_err(listen_error)? {
                Some(_) => wake.notify_one(),
                // The connection dropped and was re-established: anything may have been
                // missed, so look now.
                None => wake.notify_one(),
            }
        }
    }
}
