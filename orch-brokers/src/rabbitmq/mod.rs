//! [`RabbitMqPublisher`]: delivers outbox messages to a RabbitMQ exchange with publisher
//! confirms.
//!
//! Each message is published to one exchange with the topic as its routing key,
//! persistent (`delivery_mode` 2) and `mandatory`, with `message_id` (the message id),
//! `correlation_id`, `content_type` (from a `content-type` header), `timestamp` and the
//! other headers plus `orch-key` as AMQP headers. `publish` returns `Ok` once the broker
//! confirmed the message **and** routed it to at least one queue.
//!
//! | Outcome | Error |
//! |---|---|
//! | routing key, correlation id, header name or content type above 255 bytes | permanent |
//! | returned unroutable (no queue bound for the routing key) | retryable |
//! | the exchange does not exist (the broker closes the channel with 404) | retryable |
//! | nack, confirm timeout, connection or channel closed, broker down | retryable |
//!
//! # Reconnecting
//! One connection and one channel in confirm mode carry every publish; concurrent
//! publishes each wait for their own confirm. When the broker closes the channel (a 404)
//! or the connection (a restart), the next publish opens a new one: a mutex makes
//! concurrent publishes reconnect once, and while the broker stays unreachable publishes
//! fail at once, retryably.

mod properties;
mod session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::ShortString;
use lapin::uri::AMQPUri;
use lapin::{Confirmation, ErrorKind};
use orch_core::outbox::{OutboxMessage, PublishError, PublishFuture, Publisher};

pub use properties::{CONTENT_TYPE_HEADER, KEY_HEADER};

use self::session::Sessions;
use crate::BrokerError;
use crate::error::redact;

/// How long connecting (and each reconnect) may take. Defaults to 5 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a publish waits for the broker's confirm. Defaults to 10 seconds.
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes outbox messages to a RabbitMQ exchange and waits for each publisher confirm.
///
/// Cheap to clone (clones share the connection); publishes run concurrently.
///
/// # Example
/// ```no_run
/// # async fn example() -> Result<(), orch_brokers::BrokerError> {
/// use std::time::Duration;
/// use orch_brokers::rabbitmq::RabbitMqPublisher;
///
/// // Messages of topic "orders.created" go to exchange "shop" with that routing key.
/// let publisher = RabbitMqPublisher::connect("amqp://guest:guest@127.0.0.1:5672/%2f", "shop")
///     .await?
///     .confirm_timeout(Duration::from_secs(5));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RabbitMqPublisher {
    sessions: Arc<Sessions>,
    exchange: ShortString,
    confirm_timeout: Duration,
}

impl fmt::Debug for RabbitMqPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitMqPublisher")
            .field("url", &self.sessions.url())
            .field("exchange", &self.exchange.as_str())
            .field("confirm_timeout", &self.confirm_timeout)
            .finish_non_exhaustive()
    }
}

impl RabbitMqPublisher {
    /// Connects to the broker at `amqp_url` (`amqp://user:password@host:port/vhost`, the
    /// vhost URL-encoded: `%2f` is `/`) and publishes to `exchange` (`""` is the default
    /// exchange, which routes to the queue named by the routing key). Waits at most
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// The exchange is not declared here: declare it (and bind queues) in your topology
    /// set-up. Until then publishes fail retryably.
    ///
    /// # Errors
    /// [`BrokerError::InvalidUrl`] when `amqp_url` does not parse or `exchange` is longer
    /// than 255 bytes, [`BrokerError::Connect`] when the broker cannot be reached or
    /// refuses the connection.
    ///
    /// # Example
    /// ```no_run
    /// # async fn example() -> Result<(), orch_brokers::BrokerError> {
    /// use orch_brokers::rabbitmq::RabbitMqPublisher;
    /// let publisher = RabbitMqPublisher::connect("amqp://127.0.0.1:5672/%2f", "events").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(amqp_url: &str, exchange: &str) -> Result<Self, BrokerError> {
        Self::connect_with(amqp_url, exchange, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// [`RabbitMqPublisher::connect`] with another connect timeout (also used by every
    /// reconnect).
    ///
    /// # Errors
    /// As [`RabbitMqPublisher::connect`].
    pub async fn connect_with(
        amqp_url: &str,
        exchange: &str,
        connect_timeout: Duration,
    ) -> Result<Self, BrokerError> {
        let url = redact(amqp_url);
        let invalid = |reason: String| BrokerError::InvalidUrl {
            broker: "RabbitMQ",
            url: url.clone(),
            reason,
        };
        let uri: AMQPUri = amqp_url.parse().map_err(invalid)?;
        let exchange = properties::short("exchange", exchange.to_owned()).map_err(invalid)?;
        let sessions = Sessions::new(uri, url.clone(), connect_timeout);
        sessions
            .open()
            .await
            .map_err(|reason| BrokerError::Connect {
                broker: "RabbitMQ",
                url,
                source: reason.into(),
            })?;
        Ok(Self {
            sessions: Arc::new(sessions),
            exchange,
            confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
        })
    }

    /// How long a publish waits for the broker's confirm before failing retryably.
    /// Defaults to [`DEFAULT_CONFIRM_TIMEOUT`].
    #[must_use]
    pub const fn confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// The exchange messages are published to.
    pub fn exchange(&self) -> &str {
        self.exchange.as_str()
    }

    /// Closes the connection. A later publish opens a new one.
    pub async fn close(&self) {
        self.sessions.close().await;
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), PublishError> {
        let exchange = self.exchange.as_str();
        let key = &message.topic;
        let target = format!("RabbitMQ exchange {exchange:?} with routing key {key:?}");
        let routing_key = properties::short("the routing key", key.clone())
            .map_err(|r| PublishError::permanent(format!("cannot publish to {target}: {r}")))?;
        let properties = properties::build(message)
            .map_err(|r| PublishError::permanent(format!("cannot publish to {target}: {r}")))?;
        let channel = self.sessions.channel().await.map_err(|e| {
            PublishError::retryable(format!(
                "cannot publish to {target}: RabbitMQ at {} is unavailable: {e}",
                self.sessions.url()
            ))
        })?;
        let options = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        let confirmed = async {
            channel
                .basic_publish(
                    self.exchange.clone(),
                    routing_key,
                    options,
                    &message.payload,
                    properties,
                )
                .await?
                .await
        };
        let confirmation = match tokio::time::timeout(self.confirm_timeout, confirmed).await {
            Ok(Ok(confirmation)) => confirmation,
            Ok(Err(error)) => return Err(channel_error(&target, exchange, error)),
            Err(_) => {
                return Err(PublishError::retryable(format!(
                    "{target}: no publisher confirm within {:?}",
                    self.confirm_timeout
                )));
            }
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(PublishError::retryable(format!(
                    "{target}: the broker returned the message as unroutable: no queue bound to exchange {exchange:?} matches routing key {key:?} ({} {})",
                    returned.reply_code, returned.reply_text
                )))
            }
            Confirmation::Nack(None) => Err(PublishError::retryable(format!(
                "{target}: the broker nacked the message (it could not store it)"
            ))),
            Confirmation::NotRequested => Err(PublishError::retryable(format!(
                "{target}: the channel is not in confirm mode, so delivery is unknown"
            ))),
        }
    }
}

/// The [`PublishError`] for a publish whose channel or connection failed.
fn channel_error(target: &str, exchange: &str, error: lapin::Error) -> PublishError {
    let text = match error.kind() {
        ErrorKind::ProtocolError(amqp)
            if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) =>
        {
            format!(
                "{target}: exchange {exchange:?} does not exist (the broker closed the channel: {})",
                amqp.get_message()
            )
        }
        ErrorKind::ProtocolError(amqp) => format!(
            "{target}: the broker closed the channel: {}",
            amqp.get_message()
        ),
        ErrorKind::InvalidChannelState(..) | ErrorKind::InvalidConnectionState(..) => {
            format!("{target}: the channel or connection closed during the publish")
        }
        _ => format!("{target}: the publish failed"),
    };
    PublishError::retryable(text).with_source(error)
}

impl Publisher for RabbitMqPublisher {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(self.send(message))
    }

    fn name(&self) -> &'static str {
        "rabbitmq"
    }
}
