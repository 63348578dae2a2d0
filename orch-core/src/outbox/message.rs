//! What the outbox stores: [`Message`] as the caller writes it, [`OutboxMessage`] as it is
//! read back (and handed to a publisher), and their ids and states.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{ConfigError, Result};

/// The id of an outbox message: a UUIDv7, unique per database, sent to brokers as the
/// message id (`Nats-Msg-Id` on NATS, `message_id` on RabbitMQ) so they can drop
/// redeliveries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id of an existing UUID (for example one derived from the caller's own event id,
    /// to make enqueueing idempotent).
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MessageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Who holds claimed outbox messages: a token the claimer makes once and passes to every
/// `ack`, `abandon` and `fail`. Only the holder of an unexpired claim can settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OwnerToken(Uuid);

impl OwnerToken {
    /// A new random token.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// A token from a UUID the caller keeps (a process id, say).
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl Default for OwnerToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for OwnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest topic, key, correlation id and header name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Most bytes of all header names and values together.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A message to put in the outbox: a topic, a payload and optional key, headers and
/// correlation id.
///
/// Messages of one **key** are delivered in the order they were enqueued; messages without
/// a key in any order.
///
/// # Example
/// ```
/// use orch_core::outbox::Message;
/// let msg = Message::new("orders.created", br#"{"order":42}"#.to_vec())
///     .key("order-42")
///     .header("content-type", "application/json")
///     .correlation_id("req-7f3a");
/// assert_eq!(msg.topic(), "orders.created");
/// assert_eq!(msg.key_str(), Some("order-42"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) id: MessageId,
    pub(crate) topic: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) key: Option<String>,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) correlation_id: Option<String>,
}

impl Message {
    /// A message of `topic` carrying `payload`, with a fresh id.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Self {
            id: MessageId::new(),
            topic: topic.into(),
            payload: payload.into(),
            key: None,
            headers: BTreeMap::new(),
            correlation_id: None,
        }
    }

    /// A message whose payload is `value` as JSON, with the header
    /// `content-type: application/json`.
    ///
    /// # Errors
    /// `value` does not serialize.
    ///
    /// # Example
    /// ```
    /// use orch_core::outbox::Message;
    /// #[derive(serde::Serialize)]
    /// struct OrderCreated { order: u64 }
    /// let msg = Message::json("orders.created", &OrderCreated { order: 42 })?;
    /// assert_eq!(msg.payload(), br#"{"order":42}"#);
    /// # Ok::<_, serde_json::Error>(())
    /// ```
    pub fn json<T: Serialize + ?Sized>(
        topic: impl Into<String>,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::new(topic, serde_json::to_vec(value)?).header("content-type", "application/json"))
    }

    /// Sets the id (to make enqueueing idempotent: the same id with the same content is
    /// stored once; with other content it is refused as a conflict).
    #[must_use]
    pub fn id(mut self, id: MessageId) -> Self {
        self.id = id;
        self
    }

    /// Sets the ordering key: messages of one key are delivered one at a time, in order.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header (a later one of the same name replaces it).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Adds every header of `headers`.
    #[must_use]
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.headers
            .extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the correlation id (sent to brokers as a header or property).
    #[must_use]
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// The message id.
    pub fn message_id(&self) -> MessageId {
        self.id
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The ordering key, if any.
    pub fn key_str(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The headers.
    pub fn header_map(&self) -> &BTreeMap<String, String> {
        &self.headers
    }

    /// The correlation id, if any.
    pub fn correlation(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Checks what can be checked before the database sees the message: each field's
    /// length and characters, and the payload against `max_payload`. The error names the
    /// field.
    pub(crate) fn validate(&self, max_payload: usize) -> Result<()> {
        name("topic", &self.topic)?;
        if let Some(key) = &self.key {
            name("key", key)?;
        }
        if let Some(id) = &self.correlation_id {
            name("correlation_id", id)?;
        }
        let mut header_bytes = 0;
        for (header, value) in &self.headers {
            name("headers", header)?;
            if header.contains(|c: char| c == ':' || c.is_whitespace()) {
                return Err(invalid(
                    "headers",
                    format!("header name {header:?} contains ':' or whitespace"),
                ));
            }
            if value.contains(['\0', '\r', '\n']) {
                return Err(invalid(
                    "headers",
                    format!("the value of header {header:?} contains NUL, CR or LF"),
                ));
            }
            header_bytes += header.len() + value.len();
        }
        if header_bytes > MAX_HEADER_BYTES {
            return Err(invalid(
                "headers",
                format!("{header_bytes} bytes in all, above the limit of {MAX_HEADER_BYTES}"),
            ));
        }
        if self.payload.len() > max_payload {
            return Err(invalid(
                "payload",
                format!(
                    "{} bytes, above the limit of {max_payload} bytes (raise `OutboxConfig::max_payload_bytes` if this is intended)",
                    self.payload.len()
                ),
            ));
        }
        Ok(())
    }
}

fn invalid(field: &'static str, reason: String) -> crate::Error {
    ConfigError::invalid(field, reason).into()
}

fn name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_NAME_BYTES {
        return Err(invalid(
            field,
            format!(
                "must be 1–{MAX_NAME_BYTES} bytes, got {} bytes",
                value.len()
            ),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{value:?} contains a control character"),
        ));
    }
    Ok(())
}

/// Where an outbox message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageStatus {
    /// Waiting to be delivered (now, or after a backoff).
    Pending,
    /// Claimed by an owner (the relay, or a caller of `claim`) until its lease expires.
    Processing,
    /// Delivered: the broker acknowledged it (or its claimer acked it).
    Delivered,
    /// Failed too often, or failed for good: kept with its last error until retried or
    /// discarded. A dead message holds back later messages of its key.
    Dead,
}

impl MessageStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outbox message as stored: what a [`Publisher`](super::Publisher) delivers and what
/// inspection returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutboxMessage {
    /// The id (the broker's deduplication id).
    pub id: MessageId,
    /// The order of enqueueing, per database.
    pub seq: i64,
    /// The topic (the NATS subject, the RabbitMQ routing key).
    pub topic: String,
    /// The ordering key.
    pub key: Option<String>,
    /// The payload.
    pub payload: Vec<u8>,
    /// The headers.
    pub headers: BTreeMap<String, String>,
    /// The correlation id.
    pub correlation_id: Option<String>,
    /// Where the message is.
    pub status: MessageStatus,
    /// Delivery attempts so far (a claim counts one; an abandon gives it back).
    pub attempts: u32,
    /// The attempt after which a failing message is dead.
    pub max_attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it was enqueued (database clock).
    pub created_at: DateTime<Utc>,
    /// When it may be claimed next.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl OutboxMessage {
    /// A message of `topic` with `payload` as a publisher sees it (claimed, first
    /// attempt), with a fresh id and no key, headers or correlation id: for testing
    /// publishers (set the public fields to taste).
    ///
    /// # Example
    /// ```
    /// use orch_core::outbox::OutboxMessage;
    /// let mut message = OutboxMessage::new("orders.created", b"{}".to_vec());
    /// message.key = Some("order-42".into());
    /// message.headers.insert("content-type".into(), "application/json".into());
    /// assert_eq!(message.attempts, 1);
    /// ```
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        let now = Utc::now();
        Self {
            id: MessageId::new(),
            seq: 0,
            topic: topic.into(),
            key: None,
            payload: payload.into(),
            headers: BTreeMap::new(),
            correlation_id: None,
            status: MessageStatus::Processing,
            attempts: 1,
            max_attempts: super::config::DEFAULT_MAX_ATTEMPTS,
            last_error: None,
            created_at: now,
            next_attempt_at: now,
            delivered_at: None,
        }
    }

    /// The payload as JSON of type `T`.
    ///
    /// # Errors
    /// The payload is not valid JSON of that shape.
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// The outcome of enqueueing one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The message id.
    pub id: MessageId,
    /// `false` when a message with this id and the same content was already there.
    pub created: bool,
}

/// Which outbox messages to list.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct MessageFilter {
    /// Only this status.
    pub status: Option<MessageStatus>,
    /// Only this topic.
    pub topic: Option<String>,
    /// Only this key.
    pub key: Option<String>,
    /// At most this many (default 100, at most 10,000).
    pub limit: Option<u32>,
}

impl MessageFilter {
    /// Every message (up to the limit).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only messages in `status`.
    #[must_use]
    pub fn status(mut self, status: MessageStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only messages of `topic`.
    #[must_use]
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Only messages of `key`.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// At most `n` messages.
    #[must_use]
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
}

/// Counts of outbox messages by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutboxStats {
    /// Waiting to be delivered.
    pub pending: u64,
    /// Claimed now.
    pub processing: u64,
    /// Delivered and not yet pruned.
    pub delivered: u64,
    /// Dead, waiting for `retry` or `discard`.
    pub dead: u64,
    /// Age of the oldest message not yet delivered (pending or processing), if any
    /// (serialized as `oldest_undelivered_ms`).
    #[serde(
        rename = "oldest_undelivered_ms",
        serialize_with = "crate::health::millis_opt"
    )]
    pub oldest_undelivered: Option<std::time::Duration>,
}
