//! [`OutboxStore`]: outbox messages, their claims and their inspection.
//!
//! A message is claimed by an owner for a lease; only that owner, before the lease ends,
//! can settle it (`ack`, `abandon`, `fail`): every settle is a compare-and-set on
//! `(id, status = processing, owner, lease not expired)`. A claim takes a message only
//! when no earlier message of its key is claimed, dead or waiting out a backoff (messages
//! without a key are never held back); it may take several messages of one key, which
//! the claimer delivers in order, stopping at the first failure and abandoning the rest.

use std::time::Duration;

use super::StoreFuture;
use crate::outbox::{MessageFilter, MessageId, OutboxMessage, OutboxStats, OwnerToken};

/// A message ready to store: validated, with its headers as JSON and its content hash.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewMessage {
    /// The id.
    pub id: MessageId,
    /// The topic.
    pub topic: String,
    /// The ordering key.
    pub key: Option<String>,
    /// The payload.
    pub payload: Vec<u8>,
    /// The headers, as a JSON object of strings.
    pub headers: String,
    /// The correlation id.
    pub correlation_id: Option<String>,
    /// SHA-256 of topic, key, headers and payload (hex): the same id with another hash
    /// is a conflict.
    pub content_hash: String,
    /// Attempts before the message is dead.
    pub max_attempts: u32,
}

/// What enqueueing did with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnqueueOutcome {
    /// Stored.
    Created,
    /// Its id was there with the same content hash: left alone.
    Existing,
    /// Its id was there with another content hash: refused.
    Conflict,
}

/// One failed delivery, as the claimer settles it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessageFailure {
    /// The message.
    pub id: MessageId,
    /// Why it failed.
    pub error: String,
    /// When to try again (`None`: the message is dead now).
    pub retry_after: Option<Duration>,
}

impl MessageFailure {
    /// A failure of `id` for `error`, retried after `retry_after` (or dead when `None`).
    pub fn new(id: MessageId, error: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            id,
            error: error.into(),
            retry_after,
        }
    }
}

/// The outbox table.
pub trait OutboxStore<Tx: ?Sized>: Send + Sync {
    /// Stores messages inside the caller's transaction; returns one outcome per message,
    /// in order. A message whose id exists with the same content hash is left alone
    /// ([`EnqueueOutcome::Existing`]); one whose id exists with another hash is
    /// [`EnqueueOutcome::Conflict`], and the transaction must then not commit (other
    /// messages of the call may have been written in it).
    fn enqueue_in<'a>(
        &'a self,
        tx: &'a Tx,
        messages: &'a [NewMessage],
    ) -> StoreFuture<'a, Vec<EnqueueOutcome>>;

    /// [`OutboxStore::enqueue_in`] in a transaction of the store's own, committed only
    /// when no message conflicts.
    fn enqueue<'a>(&'a self, messages: &'a [NewMessage]) -> StoreFuture<'a, Vec<EnqueueOutcome>>;

    /// Claims up to `batch` due messages for `owner` until `lease` passes (database clock),
    /// in `seq` order: each at most once at a time, and only when no earlier message of
    /// its key blocks it. Claims run one at a time. A claim counts an attempt.
    fn claim(
        &self,
        owner: OwnerToken,
        lease: Duration,
        batch: u32,
    ) -> StoreFuture<'_, Vec<OutboxMessage>>;

    /// Marks messages `owner` holds delivered; returns how many it held.
    fn ack<'a>(&'a self, owner: OwnerToken, ids: &'a [MessageId]) -> StoreFuture<'a, u64>;

    /// Returns messages `owner` holds to pending at once, the attempt not counted; returns
    /// how many it held.
    fn abandon<'a>(&'a self, owner: OwnerToken, ids: &'a [MessageId]) -> StoreFuture<'a, u64>;

    /// Records failed attempts of messages `owner` holds: pending again after their
    /// delay, or dead; returns how many it held.
    fn fail<'a>(
        &'a self,
        owner: OwnerToken,
        failures: &'a [MessageFailure],
    ) -> StoreFuture<'a, u64>;

    /// Returns messages whose claim expired to pending (dead when their attempts are
    /// spent); returns how many.
    fn reap_expired(&self) -> StoreFuture<'_, u64>;

    /// Reads messages by id (missing ids are left out).
    fn get_many<'a>(&'a self, ids: &'a [MessageId]) -> StoreFuture<'a, Vec<OutboxMessage>>;

    /// Lists messages, oldest first.
    fn list<'a>(&'a self, filter: &'a MessageFilter) -> StoreFuture<'a, Vec<OutboxMessage>>;

    /// Makes a dead message pending again with its attempts reset; returns whether it was
    /// dead.
    fn retry(&self, id: MessageId) -> StoreFuture<'_, bool>;

    /// Deletes a pending or dead message (releasing later messages of its key); returns
    /// whether it was there and not claimed or delivered.
    fn discard(&self, id: MessageId) -> StoreFuture<'_, bool>;

    /// Deletes delivered messages delivered more than `older_than` ago; returns how many.
    fn prune(&self, older_than: Duration) -> StoreFuture<'_, u64>;

    /// Counts by status.
    fn stats(&self) -> StoreFuture<'_, OutboxStats>;
}
