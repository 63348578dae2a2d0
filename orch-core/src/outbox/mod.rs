//! The transactional outbox: write business data and the messages that announce it in one
//! transaction; a relay delivers them to a broker afterwards.
//!
//! # Guarantees
//! - **Atomic with the caller's writes.** [`Outbox::enqueue_in`] writes in the caller's
//!   own transaction: the message exists exactly when that transaction commits.
//! - **At least once to the broker.** The relay (a service of the elected leader engine,
//!   running when a [`Publisher`] is configured) marks a message delivered only after the
//!   publisher returned `Ok` (the broker acknowledged it). A relay that dies between the
//!   broker's ack and the mark leaves the message claimed until its lease ends; it is then
//!   published again, **with the same message id**, which NATS JetStream drops within its
//!   duplicate window and RabbitMQ consumers can check (`message_id`).
//! - **In order per key.** The messages of one key are published one after another in
//!   the order they were enqueued, and a message is published only after every earlier
//!   message of its key was delivered (or discarded): a failed message holds its key back
//!   through its backoff, and a dead one until it is retried or discarded. Keys are
//!   delivered in parallel; messages without a key in any order.
//! - **Retries, then dead.** A failed publish is retried with exponential backoff; after
//!   `max_attempts` (or a [permanent](PublishError::permanent) error) the message is
//!   `dead`, kept with its last error, and can be [retried](Outbox::retry) or
//!   [discarded](Outbox::discard). Delivered messages are pruned after `retention`.
//!
//! # Work-queue API
//! Callers that drive delivery themselves use [`Outbox::claim`], [`Outbox::ack`],
//! [`Outbox::abandon`], [`Outbox::fail`] and [`Outbox::reap_expired`], each fenced by
//! an [`OwnerToken`]: two owners never hold one message, and an owner whose lease expired
//! can settle nothing.

mod config;
mod events;
mod message;
mod publisher;

use std::sync::Arc;
use std::time::Duration;

pub use config::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_PUBLISH_TIMEOUT, DEFAULT_RELAY_BATCH,
    DEFAULT_RELAY_CONCURRENCY, DEFAULT_RELAY_LEASE, DEFAULT_RELAY_POLL_INTERVAL, DEFAULT_RETENTION,
    OutboxConfig,
};
pub use events::Events;
pub use message::{
    Enqueued, MAX_HEADER_BYTES, MAX_NAME_BYTES, Message, MessageFilter, MessageId, MessageStatus,
    OutboxMessage, OutboxStats, OwnerToken,
};
pub use publisher::{MemoryPublisher, PublishError, PublishFuture, Publisher, TracingPublisher};

use crate::error::{ConfigError, Result};
use crate::shared::Shared;
use crate::store::{EnqueueOutcome, MessageFailure, NewMessage};

/// Turns the store's outcomes into [`Enqueued`], or the first conflict into an error.
fn settled(rows: &[NewMessage], outcomes: &[EnqueueOutcome]) -> Result<Vec<Enqueued>> {
    rows.iter()
        .zip(outcomes)
        .map(|(row, outcome)| match outcome {
            EnqueueOutcome::Conflict => Err(crate::Error::Conflict(format!(
                "outbox message id {} is already used by a message with other content",
                row.id
            ))),
            outcome => Ok(Enqueued {
                id: row.id,
                created: *outcome == EnqueueOutcome::Created,
            }),
        })
        .collect()
}

/// The outbox of one database. Cheap to clone.
pub struct Outbox<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Clone for Outbox<Tx> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for Outbox<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// Longest lease a claim may ask for.
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);
/// Most messages one claim may ask for.
const MAX_CLAIM: u32 = 10_000;

impl<Tx: ?Sized + 'static> Outbox<Tx> {
    pub(crate) fn new(shared: Arc<Shared<Tx>>) -> Self {
        Self { shared }
    }

    fn prepare(&self, message: &Message) -> Result<NewMessage> {
        let config = &self.shared.config.outbox;
        message.validate(config.max_payload_bytes)?;
        let headers = serde_json::to_string(&message.headers).map_err(|e| {
            ConfigError::invalid("headers", format!("do not serialize to JSON: {e}"))
        })?;
        let mut content = Vec::with_capacity(message.payload.len() + 256);
        for part in [
            message.topic.as_bytes(),
            message.key.as_deref().unwrap_or("").as_bytes(),
            message.correlation_id.as_deref().unwrap_or("").as_bytes(),
            headers.as_bytes(),
        ] {
            content.extend_from_slice(&(part.len() as u64).to_le_bytes());
            content.extend_from_slice(part);
        }
        content.extend_from_slice(&message.payload);
        Ok(NewMessage {
            id: message.id,
            topic: message.topic.clone(),
            key: message.key.clone(),
            payload: message.payload.clone(),
            headers,
            correlation_id: message.correlation_id.clone(),
            content_hash: crate::inbox::content_hash(&content),
            max_attempts: config.max_attempts,
        })
    }

    fn enqueued(&self) {
        self.shared
            .outbox_enqueues
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared.outbox_wake.notify_one();
    }

    fn prepare_all(&self, messages: &[Message]) -> Result<Vec<NewMessage>> {
        messages.iter().map(|m| self.prepare(m)).collect()
    }

    /// Enqueues a message in a transaction of its own; returns its id.
    ///
    /// # Errors
    /// A field out of range (named), [`Error::Conflict`](crate::Error::Conflict) when the
    /// id exists with other content, or the database failed.
    pub async fn enqueue(&self, message: Message) -> Result<MessageId> {
        Ok(self.enqueue_many(vec![message]).await?[0].id)
    }

    /// Enqueues messages atomically, in order; returns what happened to each.
    ///
    /// # Errors
    /// As [`Outbox::enqueue`]; nothing is stored when one message is refused.
    pub async fn enqueue_many(&self, messages: Vec<Message>) -> Result<Vec<Enqueued>> {
        let rows = self.prepare_all(&messages)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let done = self.shared.store.outbox().enqueue(&rows).await?;
        self.enqueued();
        settled(&rows, &done)
    }

    /// Enqueues a message inside the caller's transaction: it exists exactly when that
    /// transaction commits. Returns its id.
    ///
    /// # Errors
    /// As [`Outbox::enqueue`].
    pub async fn enqueue_in(&self, tx: &Tx, message: Message) -> Result<MessageId> {
        Ok(self.enqueue_many_in(tx, vec![message]).await?[0].id)
    }

    /// Enqueues messages inside the caller's transaction, in order.
    ///
    /// # Errors
    /// As [`Outbox::enqueue`]. After an error, roll the transaction back: on a conflict
    /// other messages of the call may already be written in it.
    pub async fn enqueue_many_in(&self, tx: &Tx, messages: Vec<Message>) -> Result<Vec<Enqueued>> {
        let rows = self.prepare_all(&messages)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let done = self.shared.store.outbox().enqueue_in(tx, &rows).await?;
        // The relay looks at once; if the transaction has not committed yet it finds
        // nothing, looks again a few times over the next ~200 ms, and after that the next
        // poll picks the messages up.
        self.enqueued();
        settled(&rows, &done)
    }

    /// A collector of domain events for one unit of work: add messages while the work
    /// runs, then write them all with [`Outbox::flush_in`] in the unit's transaction.
    pub fn collect(&self) -> Events {
        Events::default()
    }

    /// Writes (and empties) the collected events inside the caller's transaction.
    ///
    /// # Errors
    /// As [`Outbox::enqueue`]; the events stay collected when writing fails.
    pub async fn flush_in(&self, tx: &Tx, events: &Events) -> Result<Vec<Enqueued>> {
        let messages = events.snapshot();
        let done = self.enqueue_many_in(tx, messages).await?;
        events.drain(done.len());
        Ok(done)
    }

    /// Reads one message.
    ///
    /// # Errors
    /// The database failed.
    pub async fn get(&self, id: MessageId) -> Result<Option<OutboxMessage>> {
        Ok(self
            .shared
            .store
            .outbox()
            .get_many(std::slice::from_ref(&id))
            .await?
            .pop())
    }

    /// Lists messages, oldest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self, filter: &MessageFilter) -> Result<Vec<OutboxMessage>> {
        Ok(self.shared.store.outbox().list(filter).await?)
    }

    /// Counts messages by status.
    ///
    /// # Errors
    /// The database failed.
    pub async fn stats(&self) -> Result<OutboxStats> {
        Ok(self.shared.store.outbox().stats().await?)
    }

    /// Makes a dead message pending again, its attempts reset; returns whether it was dead.
    ///
    /// # Errors
    /// The database failed.
    pub async fn retry(&self, id: MessageId) -> Result<bool> {
        let done = self.shared.store.outbox().retry(id).await?;
        self.shared.outbox_wake.notify_one();
        Ok(done)
    }

    /// Deletes a pending or dead message, releasing later messages of its key; returns
    /// whether it was there and not claimed or delivered.
    ///
    /// # Errors
    /// The database failed.
    pub async fn discard(&self, id: MessageId) -> Result<bool> {
        let done = self.shared.store.outbox().discard(id).await?;
        self.shared.outbox_wake.notify_one();
        Ok(done)
    }

    /// Deletes delivered messages older than the configured retention; returns how many.
    /// (The relay does this on its own every few minutes.)
    ///
    /// # Errors
    /// The database failed.
    pub async fn prune(&self) -> Result<u64> {
        Ok(self
            .shared
            .store
            .outbox()
            .prune(self.shared.config.outbox.retention)
            .await?)
    }

    /// Claims up to `batch` due messages for `owner` until `lease` passes, in enqueue
    /// order. A message is claimed only when no earlier message of its key is claimed,
    /// dead or waiting out a backoff, so a claim may hold several messages of one key:
    /// deliver them in the order given, and when one fails, `fail` it and `abandon` the
    /// rest of its key. Each claim counts an attempt.
    ///
    /// # Errors
    /// `lease` is zero or over a day, `batch` is zero or over 10,000, or the database
    /// failed.
    ///
    /// # Example
    /// ```
    /// # use orch_core::outbox::{Message, OwnerToken};
    /// # async fn demo(outbox: orch_core::outbox::Outbox<()>) -> orch_core::Result<()> {
    /// let me = OwnerToken::new();
    /// for message in outbox.claim(me, std::time::Duration::from_secs(30), 50).await? {
    ///     // … deliver it …
    ///     outbox.ack(me, &[message.id]).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn claim(
        &self,
        owner: OwnerToken,
        lease: Duration,
        batch: u32,
    ) -> Result<Vec<OutboxMessage>> {
        if lease.is_zero() || lease > MAX_LEASE {
            return Err(ConfigError::invalid(
                "lease",
                format!("{lease:?} is not within 1 ms–24 h"),
            )
            .into());
        }
        if batch == 0 || batch > MAX_CLAIM {
            return Err(ConfigError::invalid(
                "batch",
                format!("{batch} is not within 1–{MAX_CLAIM}"),
            )
            .into());
        }
        Ok(self
            .shared
            .store
            .outbox()
            .claim(owner, lease, batch)
            .await?)
    }

    /// Marks messages `owner` holds delivered; returns how many it still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn ack(&self, owner: OwnerToken, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        Ok(self.shared.store.outbox().ack(owner, ids).await?)
    }

    /// Gives messages `owner` holds back at once, the attempt not counted; returns how
    /// many it still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn abandon(&self, owner: OwnerToken, ids: &[MessageId]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let done = self.shared.store.outbox().abandon(owner, ids).await?;
        self.shared.outbox_wake.notify_one();
        Ok(done)
    }

    /// Records a failed attempt of messages `owner` holds: each is retried after the
    /// configured backoff, or is dead when its attempts are spent. Returns how many it
    /// still held.
    ///
    /// # Errors
    /// The database failed.
    pub async fn fail(&self, owner: OwnerToken, ids: &[MessageId], error: &str) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let held = self.shared.store.outbox().get_many(ids).await?;
        let error = self.shared.truncate_error(error.to_owned());
        let failures: Vec<_> = held
            .iter()
            .map(|m| MessageFailure::new(m.id, error.clone(), self.retry_after(m, false)))
            .collect();
        Ok(self.shared.store.outbox().fail(owner, &failures).await?)
    }

    /// Returns messages whose claim expired (their owner died or stalled) to pending, or
    /// to dead when their attempts are spent; returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn reap_expired(&self) -> Result<u64> {
        let done = self.shared.store.outbox().reap_expired().await?;
        if done > 0 {
            self.shared.outbox_wake.notify_one();
        }
        Ok(done)
    }

    /// When a failed attempt of `message` is tried again: `None` when it is dead.
    pub(crate) fn retry_after(&self, message: &OutboxMessage, permanent: bool) -> Option<Duration> {
        (!permanent && message.attempts < message.max_attempts)
            .then(|| self.shared.config.outbox.retry.delay(message.attempts))
    }
}
