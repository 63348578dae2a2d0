//! [`UnitOfWork`]: a transaction that writes the domain events raised during it as outbox
//! messages when it commits.

use std::ops::Deref;

use orch_core::outbox::{Enqueued, Events, Message, Outbox};
use orch_sea::AnyConnection;
use sea_orm::DatabaseTransaction;

/// A sea-orm transaction plus the domain events raised while it runs (from
/// [`Orch::unit_of_work`](crate::Orch::unit_of_work)). Write through it as through the
/// transaction (it dereferences to one), raise events with [`UnitOfWork::raise`] or on a
/// clone of [`UnitOfWork::events`] handed to domain code, then [`UnitOfWork::commit`]:
/// the events become outbox messages in the same transaction, so they exist exactly when
/// the data does. Dropping it without committing rolls everything back.
///
/// # Example
/// ```
/// use orch::outbox::Message;
/// use sea_orm::ConnectionTrait;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let orch = orch::Orch::builder().database("sqlite::memory:").build().await?;
/// # orch.connection().execute_unprepared("CREATE TABLE users (id INTEGER)").await?;
/// let uow = orch.unit_of_work().await?;
/// uow.execute_unprepared("INSERT INTO users VALUES (7)").await?;
/// uow.raise(Message::new("user.registered", b"7".to_vec()).key("user-7"));
/// let written = uow.commit().await?;
/// assert_eq!(written.len(), 1);
/// assert!(orch.outbox().get(written[0].id).await?.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UnitOfWork {
    txn: DatabaseTransaction,
    events: Events,
    outbox: Outbox<dyn AnyConnection>,
}

impl Deref for UnitOfWork {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl UnitOfWork {
    pub(crate) fn new(txn: DatabaseTransaction, outbox: Outbox<dyn AnyConnection>) -> Self {
        Self {
            txn,
            events: Events::default(),
            outbox,
        }
    }

    /// The transaction.
    pub fn transaction(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The event collector: clones share it, so domain code can raise events on its own.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Raises an event, written when the unit commits.
    pub fn raise(&self, message: Message) {
        self.events.raise(message);
    }

    /// Writes the raised events as outbox messages, then commits; returns what was
    /// written.
    ///
    /// # Errors
    /// An event is refused (a field out of range, an id conflict) or the database failed:
    /// then nothing commits.
    pub async fn commit(self) -> crate::Result<Vec<Enqueued>> {
        let written = self.outbox.flush_in(&self.txn, &self.events).await?;
        self.txn.commit().await.map_err(|e| {
            orch_core::store::StoreError::new(
                orch_core::store::StoreErrorKind::Query,
                "commit a unit of work",
                Some(Box::new(e)),
            )
        })?;
        Ok(written)
    }

    /// Rolls back the writes and drops the events.
    ///
    /// # Errors
    /// The database failed.
    pub async fn rollback(self) -> crate::Result<()> {
        self.events.clear();
        self.txn.rollback().await.map_err(|e| {
            orch_core::store::StoreError::new(
                orch_core::store::StoreErrorKind::Query,
                "roll back a unit of work",
                Some(Box::new(e)),
            )
            .into()
        })
    }
}
