//! The inbox: process each received message once.
//!
//! A consumer of a broker gets each message at least once, and sometimes twice (a
//! redelivery after a lost ack, a retry by the sender). The inbox records every message
//! by `(source, message_id)` with a hash of its content, so that:
//! - [`Inbox::claim_in`] (and `orch`'s `process_once`, built on it) marks the message
//!   processed **in the same transaction** as the handler's own writes: the effect happens
//!   exactly once, however many deliveries race, in one process or many;
//! - a known id arriving with **another content hash** is reported as a conflict, never
//!   taken for a duplicate;
//! - the lower-level calls ([`Inbox::already_processed`], [`Inbox::mark_processing`],
//!   [`Inbox::mark_processed`], [`Inbox::mark_failed`], [`Inbox::mark_dead`]) keep first
//!   and last seen times, attempts, status and the last error for callers that drive the
//!   steps themselves (they do not make an effect exactly-once on their own).
//!
//! Processed entries are kept for a retention period (`Inbox::prune`), long enough to
//! cover the sender's redelivery window.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{ConfigError, Error, Result};
use crate::shared::Shared;

/// Where a received message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboxStatus {
    /// Seen, not processed yet.
    Received,
    /// A consumer said it is processing it.
    Processing,
    /// Processed: later deliveries are duplicates.
    Processed,
    /// The last attempt failed; a redelivery may try again.
    Failed,
    /// Given up on: later deliveries are refused.
    Dead,
}

impl InboxStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => Self::Received,
            "processing" => Self::Processing,
            "processed" => Self::Processed,
            "failed" => Self::Failed,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl std::fmt::Display for InboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One received message, as the inbox records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InboxEntry {
    /// Where it came from (a queue, a topic, a partner).
    pub source: String,
    /// Its id at the source.
    pub message_id: String,
    /// SHA-256 of the content first seen, hex.
    pub content_hash: String,
    /// Where it is.
    pub status: InboxStatus,
    /// Processing attempts.
    pub attempts: u32,
    /// First delivery (database clock).
    pub first_seen_at: DateTime<Utc>,
    /// Latest delivery.
    pub last_seen_at: DateTime<Utc>,
    /// When it was processed.
    pub processed_at: Option<DateTime<Utc>>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

impl InboxEntry {
    /// An entry first seen now, received and not processed: for stores building rows
    /// (set the public fields afterwards).
    pub fn new(source: impl Into<String>, message_id: impl Into<String>) -> Self {
        let now = Utc::now();
        Self {
            source: source.into(),
            message_id: message_id.into(),
            content_hash: String::new(),
            status: InboxStatus::Received,
            attempts: 0,
            first_seen_at: now,
            last_seen_at: now,
            processed_at: None,
            last_error: None,
        }
    }
}

/// The outcome of [`Inbox::claim_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxClaim {
    /// The message is marked processed in the caller's transaction: run the effect there.
    Claimed {
        /// Which attempt this is (1 for the first).
        attempt: u32,
    },
    /// It was processed before: skip it.
    AlreadyProcessed,
    /// The id is known with other content.
    Conflict {
        /// The hash stored first.
        stored_hash: String,
    },
    /// It was marked dead: refuse it.
    Dead,
}

/// SHA-256 of `content`, in lowercase hex: the content hash the inbox and the outbox
/// compare.
pub fn content_hash(content: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(content);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// The inbox of one database. Cheap to clone.
pub struct Inbox<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Clone for Inbox<Tx> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for Inbox<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

fn check_ids(source: &str, message_id: &str) -> Result<()> {
    for (field, value) in [("source", source), ("message_id", message_id)] {
        if value.is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "must be 1–255 bytes without control characters, got {} bytes",
                    value.len()
                ),
            )
            .into());
        }
    }
    Ok(())
}

fn conflict(source: &str, message_id: &str) -> Error {
    Error::Conflict(format!(
        "inbox message `{message_id}` from `{source}` was seen before with other content"
    ))
}

impl<Tx: ?Sized + 'static> Inbox<Tx> {
    pub(crate) fn new(shared: Arc<Shared<Tx>>) -> Self {
        Self { shared }
    }

    /// Inside the caller's transaction, claims the message for processing (see
    /// [`InboxStore::claim_in`](crate::store::InboxStore::claim_in)): run the effect in the
    /// same transaction only on [`InboxClaim::Claimed`].
    ///
    /// # Errors
    /// An id or source out of range, or the database failed.
    pub async fn claim_in(
        &self,
        tx: &Tx,
        source: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<InboxClaim> {
        check_ids(source, message_id)?;
        let hash = content_hash(payload);
        Ok(self
            .shared
            .store
            .inbox()
            .claim_in(tx, source, message_id, &hash)
            .await?)
    }

    /// Records a delivery and says whether the message was processed before.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the id is known with other content; bad ids; the database.
    pub async fn already_processed(
        &self,
        source: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<bool> {
        check_ids(source, message_id)?;
        let hash = content_hash(payload);
        let entry = self
            .shared
            .store
            .inbox()
            .record(source, message_id, &hash)
            .await?;
        if entry.content_hash != hash {
            return Err(conflict(source, message_id));
        }
        Ok(entry.status == InboxStatus::Processed)
    }

    /// Marks a recorded message as being processed, counting an attempt; returns whether
    /// it was recorded and not processed or dead.
    ///
    /// # Errors
    /// The database failed.
    pub async fn mark_processing(&self, source: &str, message_id: &str) -> Result<bool> {
        self.set(source, message_id, InboxStatus::Processing, None)
            .await
    }

    /// Marks a recorded message processed; returns whether it was recorded and not
    /// already processed or dead.
    ///
    /// # Errors
    /// The database failed.
    pub async fn mark_processed(&self, source: &str, message_id: &str) -> Result<bool> {
        self.set(source, message_id, InboxStatus::Processed, None)
            .await
    }

    /// Records a failed attempt with its error; a redelivery may try again.
    ///
    /// # Errors
    /// The database failed.
    pub async fn mark_failed(&self, source: &str, message_id: &str, error: &str) -> Result<bool> {
        self.set(source, message_id, InboxStatus::Failed, Some(error))
            .await
    }

    /// Gives up on a message: later deliveries are refused.
    ///
    /// # Errors
    /// The database failed.
    pub async fn mark_dead(&self, source: &str, message_id: &str, error: &str) -> Result<bool> {
        self.set(source, message_id, InboxStatus::Dead, Some(error))
            .await
    }

    async fn set(
        &self,
        source: &str,
        message_id: &str,
        status: InboxStatus,
        error: Option<&str>,
    ) -> Result<bool> {
        check_ids(source, message_id)?;
        let error = error.map(|e| self.shared.truncate_error(e.to_owned()));
        Ok(self
            .shared
            .store
            .inbox()
            .set_status(source, message_id, status, error.as_deref())
            .await?)
    }

    /// Reads one entry.
    ///
    /// # Errors
    /// The database failed.
    pub async fn get(&self, source: &str, message_id: &str) -> Result<Option<InboxEntry>> {
        Ok(self.shared.store.inbox().get(source, message_id).await?)
    }

    /// Deletes entries processed more than `older_than` ago; returns how many.
    ///
    /// # Errors
    /// The database failed.
    pub async fn prune(&self, older_than: Duration) -> Result<u64> {
        Ok(self.shared.store.inbox().prune(older_than).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
