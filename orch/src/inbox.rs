//! The inbox: process each received message exactly once (see [`orch_core::inbox`] for
//! the model). [`Inbox::process_once`] is the call most consumers need.

use std::ops::Deref;
use std::time::Duration;

use orch_core::inbox::InboxClaim;
use orch_core::store::StoreErrorKind;
use orch_sea::AnyConnection;
use sea_orm::{DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};

pub use orch_core::inbox::{InboxEntry, InboxStatus, content_hash};

/// Claims retried when the database reports a transient conflict (a deadlock between two
/// first deliveries of one message on MySQL, say) before the handler runs.
const CLAIM_TRIES: u32 = 5;

/// The future a [`Inbox::process_once`] handler returns: `Box::pin(async move { … })`,
/// as with sea-orm's own `transaction`.
pub type HandlerFuture<'t, T, E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 't>>;

/// What [`Inbox::process_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Processed<T> {
    /// The handler ran and its transaction committed with the inbox mark.
    Done(T),
    /// The message was processed before (by this or another process): the handler did
    /// not run.
    Duplicate,
}

/// Why [`Inbox::process_once`] did not process a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError<E> {
    /// The handler failed: its writes were rolled back, the attempt is recorded as
    /// `failed` with this error, and a redelivery may try again.
    #[error("the inbox handler failed: {0}")]
    Handler(E),
    /// The message id is known with other content: never taken for a duplicate.
    #[error("inbox message `{message_id}` from `{from}` was seen before with other content")]
    Conflict {
        /// The source.
        from: String,
        /// The message id.
        message_id: String,
    },
    /// The message was marked dead: it is refused.
    #[error("inbox message `{message_id}` from `{from}` is dead")]
    Dead {
        /// The source.
        from: String,
        /// The message id.
        message_id: String,
    },
    /// Bad input or the database failed; nothing was processed.
    #[error(transparent)]
    Orch(#[from] orch_core::Error),
}

/// The inbox of one database (from [`Orch::inbox`](crate::Orch::inbox)). Dereferences to
/// the step-by-step API of [`orch_core::inbox::Inbox`] (`already_processed`,
/// `mark_processing`, `mark_processed`, `mark_failed`, `mark_dead`, `get`, `prune`).
#[derive(Debug, Clone)]
pub struct Inbox {
    core: orch_core::inbox::Inbox<dyn AnyConnection>,
    db: sea_orm::DatabaseConnection,
}

impl Deref for Inbox {
    type Target = orch_core::inbox::Inbox<dyn AnyConnection>;
    fn deref(&self) -> &Self::Target {
        &self.core
    }
}

impl Inbox {
    pub(crate) fn new(
        core: orch_core::inbox::Inbox<dyn AnyConnection>,
        db: sea_orm::DatabaseConnection,
    ) -> Self {
        Self { core, db }
    }

    async fn begin(&self) -> Result<DatabaseTransaction, orch_core::Error> {
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(|e| store_error("begin an inbox transaction", e))
    }

    /// Processes a received message exactly once: in one transaction, records it as
    /// processed and runs `handler` with that transaction for the handler's own writes.
    /// Concurrent deliveries of the same message (from many tasks or processes) wait for
    /// each other; exactly one runs the handler and commits, the others get
    /// [`Processed::Duplicate`]. When the handler fails, its writes and the mark roll
    /// back together, and the failure is recorded.
    ///
    /// # Errors
    /// [`InboxError::Handler`] (rolled back, recorded), [`InboxError::Conflict`] (the id
    /// is known with other content), [`InboxError::Dead`], or [`InboxError::Orch`] (bad
    /// ids, or the database failed: nothing was processed).
    ///
    /// # Example
    /// ```
    /// use orch::inbox::Processed;
    /// use sea_orm::ConnectionTrait;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
    /// # orch.connection().execute_unprepared("CREATE TABLE credits (amount INTEGER)").await?;
    /// let payload = br#"{"amount": 5}"#;
    /// for _delivery in 0..3 {
    ///     let outcome = orch
    ///         .inbox()
    ///         .process_once("payments", "msg-1", payload, |txn| {
    ///             Box::pin(async move { txn.execute_unprepared("INSERT INTO credits VALUES (5)").await })
    ///         })
    ///         .await?;
    ///     let _ = outcome; // Done(..) the first time, Duplicate after
    /// }
    /// let rows = orch.connection().query_all_raw(sea_orm::Statement::from_string(
    ///     sea_orm::DbBackend::Sqlite, "SELECT amount FROM credits")).await?;
    /// assert_eq!(rows.len(), 1); // one effect for three deliveries
    /// # Ok(()) }
    /// ```
    pub async fn process_once<T, E, F>(
        &self,
        source: &str,
        message_id: &str,
        payload: &[u8],
        handler: F,
    ) -> Result<Processed<T>, InboxError<E>>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> HandlerFuture<'t, T, E> + Send,
        T: Send,
        E: std::fmt::Display + Send,
    {
        let mut tries = 0;
        let txn = loop {
            tries += 1;
            let txn = self.begin().await?;
            match self.core.claim_in(&txn, source, message_id, payload).await {
                Ok(InboxClaim::Claimed { .. }) => break txn,
                Ok(other) => {
                    let _ = txn.rollback().await;
                    return match other {
                        InboxClaim::Conflict { .. } => Err(InboxError::Conflict {
                            from: source.to_owned(),
                            message_id: message_id.to_owned(),
                        }),
                        InboxClaim::Dead => Err(InboxError::Dead {
                            from: source.to_owned(),
                            message_id: message_id.to_owned(),
                        }),
                        _ => Ok(Processed::Duplicate),
                    };
                }
                Err(orch_core::Error::Store(e))
                    if e.kind() == StoreErrorKind::Conflict && tries < CLAIM_TRIES =>
                {
                    let _ = txn.rollback().await;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(tries))).await;
                }
                Err(e) => {
                    let _ = txn.rollback().await;
                    return Err(e.into());
                }
            }
        };
        match handler(&txn).await {
            Ok(value) => {
                txn.commit()
                    .await
                    .map_err(|e| store_error("commit an inbox transaction", e))?;
                Ok(Processed::Done(value))
            }
            Err(error) => {
                let _ = txn.rollback().await;
                self.record_failure(source, message_id, payload, &error.to_string())
                    .await?;
                Err(InboxError::Handler(error))
            }
        }
    }

    async fn record_failure(
        &self,
        source: &str,
        message_id: &str,
        payload: &[u8],
        error: &str,
    ) -> Result<(), orch_core::Error> {
        if self
            .core
            .already_processed(source, message_id, payload)
            .await?
        {
            return Ok(());
        }
        self.core.mark_processing(source, message_id).await?;
        self.core.mark_failed(source, message_id, error).await?;
        Ok(())
    }
}

fn store_error(what: &str, e: sea_orm::DbErr) -> orch_core::Error {
    orch_core::store::StoreError::new(
        orch_core::store::StoreErrorKind::Query,
        what.to_owned(),
        Some(Box::new(e)),
    )
    .into()
}
