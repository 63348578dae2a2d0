//! Broker publishers for orch's transactional outbox.
//!
//! orch's relay claims outbox messages from the database and hands each one to a
//! [`Publisher`](orch_core::outbox::Publisher); it marks a message delivered only when
//! `publish` returns `Ok`. The publishers here return `Ok` only once the broker has taken
//! responsibility for the message:
//!
//! - [`nats::NatsPublisher`] (feature `nats`) publishes to NATS JetStream and waits for the
//!   stream's publish ack. The message id goes out as `Nats-Msg-Id`, so a redelivery within
//!   the stream's duplicate window is dropped by the server.
//! - [`rabbitmq::RabbitMqPublisher`] (feature `rabbitmq`) publishes persistent, mandatory
//!   messages to a RabbitMQ exchange on a channel with publisher confirms, and waits for
//!   the confirm. The message id goes out as the `message_id` property.
//!
//! # Errors and retries
//! Anything a later attempt can fix (broker down, no stream or queue yet, a timeout, a nack)
//! is a [retryable](orch_core::outbox::PublishError::retryable) error: the relay retries it
//! with backoff. Only what no retry can fix (a subject or header the broker refuses) is
//! [permanent](orch_core::outbox::PublishError::permanent): the message is dead at once,
//! with the error text as its reason. Every error text names what it concerns: the
//! subject, the exchange and routing key, the server's reply.
//!
//! # Example
//! ```no_run
//! # #[cfg(feature = "nats")]
//! # async fn example() -> Result<(), orch_brokers::BrokerError> {
//! use std::time::Duration;
//! use orch_brokers::nats::NatsPublisher;
//!
//! let publisher = NatsPublisher::connect("nats://127.0.0.1:4222")
//!     .await?
//!     .subject_prefix("shop.");
//! publisher
//!     .ensure_stream("SHOP", &["shop.>"], Duration::from_secs(120))
//!     .await?;
//! // Hand `publisher` to the engine builder as the outbox publisher.
//! # Ok(())
//! # }
//! ```

mod error;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;

pub use error::BrokerError;
