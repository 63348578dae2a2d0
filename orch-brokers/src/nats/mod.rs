//! [`NatsPublisher`]: delivers outbox messages to NATS JetStream.
//!
//! Each message is published to the subject `prefix + topic` with its headers, plus
//! `Nats-Msg-Id` (the message id), `Orch-Correlation-Id` and `Orch-Key`. `publish` returns
//! `Ok` once a stream has stored the message and sent its publish ack. Because the relay
//! publishes a message again with the same id when it cannot tell whether the broker got
//! it, the stream's duplicate window (see [`NatsPublisher::ensure_stream`]) should cover
//! the relay's lease.
//!
//! | Outcome | Error |
//! |---|---|
//! | subject not concrete (empty token, whitespace, `*`, `>`) | permanent |
//! | header name or value NATS refuses, message above the server's `max_payload` | permanent |
//! | no stream captures the subject (no responders) | retryable |
//! | connection down, ack timeout, JetStream error reply | retryable |
//!
//! The client reconnects by itself after a server restart; publishes while it is
//! disconnected fail at once, retryably.

mod headers;
mod subject;

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::{self, context::PublishErrorKind, stream};
use orch_core::outbox::{OutboxMessage, PublishError, PublishFuture, Publisher};

pub use headers::{CORRELATION_ID_HEADER, KEY_HEADER, MSG_ID_HEADER};

use crate::BrokerError;
use crate::error::redact;

/// How long [`NatsPublisher::connect`] waits for the server. Defaults to 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a publish waits for the JetStream ack. Defaults to 10 seconds.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes outbox messages to NATS JetStream and waits for each publish ack.
///
/// Cheap to clone (clones share the connection); publishes run concurrently.
///
/// # Example
/// ```no_run
/// # async fn example() -> Result<(), orch_brokers::BrokerError> {
/// use std::time::Duration;
/// use orch_brokers::nats::NatsPublisher;
///
/// let publisher = NatsPublisher::connect("nats://127.0.0.1:4222")
///     .await?
///     .subject_prefix("shop.")
///     .ack_timeout(Duration::from_secs(5));
/// // A stream must capture the subjects, or every publish fails (retryably).
/// publisher
///     .ensure_stream("SHOP", &["shop.>"], Duration::from_secs(120))
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct NatsPublisher {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subject_prefix: String,
    ack_timeout: Duration,
}

impl NatsPublisher {
    /// Connects to the NATS server(s) at `url` (`nats://host:port`, or a comma-separated
    /// list), waiting at most [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// # Errors
    /// [`BrokerError::InvalidUrl`] when `url` does not parse,
    /// [`BrokerError::ConnectTimeout`] or [`BrokerError::Connect`] when no server answers.
    ///
    /// # Example
    /// ```no_run
    /// # async fn example() -> Result<(), orch_brokers::BrokerError> {
    /// let publisher = orch_brokers::nats::NatsPublisher::connect("nats://127.0.0.1:4222").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, BrokerError> {
        Self::connect_with(url, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// [`NatsPublisher::connect`] waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`NatsPublisher::connect`].
    pub async fn connect_with(url: &str, timeout: Duration) -> Result<Self, BrokerError> {
        let shown = redact(url);
        for server in url.split(',') {
            server
                .trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| BrokerError::InvalidUrl {
                    broker: "NATS",
                    url: shown.clone(),
                    reason: e.to_string(),
                })?;
        }
        let options = async_nats::ConnectOptions::new().connection_timeout(timeout);
        let client = match tokio::time::timeout(timeout, options.connect(url)).await {
            Err(_) => {
                return Err(BrokerError::ConnectTimeout {
                    broker: "NATS",
                    url: shown,
                    timeout,
                });
            }
            Ok(Err(e)) if e.kind() == async_nats::ConnectErrorKind::ServerParse => {
                return Err(BrokerError::InvalidUrl {
                    broker: "NATS",
                    url: shown,
                    reason: e.to_string(),
                });
            }
            Ok(Err(e)) => {
                return Err(BrokerError::Connect {
                    broker: "NATS",
                    url: shown,
                    source: Box::new(e),
                });
            }
            Ok(Ok(client)) => client,
        };
        Ok(Self::new(client))
    }

    /// A publisher on an existing client (configured by the caller: credentials, TLS,
    /// reconnect policy), with no subject prefix and [`DEFAULT_ACK_TIMEOUT`].
    pub fn new(client: async_nats::Client) -> Self {
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(DEFAULT_ACK_TIMEOUT);
        Self {
            client,
            jetstream,
            subject_prefix: String::new(),
            ack_timeout: DEFAULT_ACK_TIMEOUT,
        }
    }

    /// Publishes each message to `prefix + topic` (for example `"orders."`). Defaults to
    /// no prefix.
    #[must_use]
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    /// How long a publish waits for the JetStream ack (and for the client to take the
    /// message) before failing retryably. Defaults to [`DEFAULT_ACK_TIMEOUT`].
    #[must_use]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self.jetstream.set_timeout(timeout);
        self
    }

    /// The subject `message` is published to.
    pub fn subject_of(&self, message: &OutboxMessage) -> String {
        format!("{}{}", self.subject_prefix, message.topic)
    }

    /// The NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context publishes go through.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// Creates the file-backed stream `name` capturing `subjects` (wildcards allowed),
    /// or updates its subjects and duplicate window if it exists.
    ///
    /// `duplicate_window` is how long JetStream remembers message ids: a message published
    /// again within it is dropped. Make it longer than the relay's lease.
    ///
    /// # Errors
    /// [`BrokerError::Setup`] with the server's reply (for example when another stream
    /// already captures one of the subjects).
    ///
    /// # Example
    /// ```no_run
    /// # async fn example(publisher: orch_brokers::nats::NatsPublisher) -> Result<(), orch_brokers::BrokerError> {
    /// use std::time::Duration;
    /// publisher.ensure_stream("ORDERS", &["orders.>"], Duration::from_secs(300)).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn ensure_stream(
        &self,
        name: &str,
        subjects: &[&str],
        duplicate_window: Duration,
    ) -> Result<(), BrokerError> {
        let config = stream::Config {
            name: name.to_owned(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            duplicate_window,
            storage: stream::StorageType::File,
            ..stream::Config::default()
        };
        self.jetstream
            .create_or_update_stream(config)
            .await
            .map(drop)
            .map_err(|e| BrokerError::Setup {
                broker: "NATS",
                operation: format!(
                    "creating or updating stream {name:?} for subjects {subjects:?}"
                ),
                source: Box::new(e),
            })
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        let subject = self.subject_of(message);
        subject::validate(&subject).map_err(|reason| {
            PublishError::permanent(format!("cannot publish to NATS: {reason}"))
        })?;
        let headers = headers::build(message).map_err(|reason| {
            PublishError::permanent(format!(
                "cannot publish to NATS subject {subject:?}: {reason}"
            ))
        })?;
        let state = self.client.connection_state();
        if state != State::Connected {
            return Err(PublishError::retryable(format!(
                "cannot publish to NATS subject {subject:?}: the connection is down ({state})"
            )));
        }
        let publish = async {
            let ack = self
                .jetstream
                .publish_with_headers(subject.clone(), headers, message.payload.clone().into())
                .await?;
            ack.await
        };
        match tokio::time::timeout(self.ack_timeout, publish).await {
            Ok(Ok(_ack)) => Ok(()),
            Ok(Err(e)) => Err(publish_error(&subject, e)),
            Err(_) => Err(PublishError::retryable(format!(
                "NATS subject {subject:?}: no JetStream ack within {:?}",
                self.ack_timeout
            ))),
        }
    }
}

/// The [`PublishError`] for a failed JetStream publish to `subject`.
fn publish_error(subject: &str, error: jetstream::context::PublishError) -> PublishError {
    let what = match error.kind() {
        PublishErrorKind::StreamNotFound => {
            return PublishError::retryable(format!(
                "NATS subject {subject:?}: no JetStream stream captures this subject (no responders); create a stream for it"
            ));
        }
        PublishErrorKind::MaxPayloadExceeded => {
            return PublishError::permanent(format!(
                "NATS subject {subject:?}: the message is larger than the server's max_payload"
            ))
            .with_source(error);
        }
        PublishErrorKind::WrongLastMessageId | PublishErrorKind::WrongLastSequence => {
            return PublishError::permanent(format!(
                "NATS subject {subject:?}: the stream refused the message's Nats-Expected-* header"
            ))
            .with_source(error);
        }
        PublishErrorKind::TimedOut => "no JetStream ack in time",
        PublishErrorKind::BrokenPipe => "the connection closed before the JetStream ack",
        _ => "JetStream publish failed",
    };
    PublishError::retryable(format!("NATS subject {subject:?}: {what}")).with_source(error)
}

impl Publisher for NatsPublisher {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(self.send(message))
    }

    fn name(&self) -> &'static str {
        "nats"
    }
}
