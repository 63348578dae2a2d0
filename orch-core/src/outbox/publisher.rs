//! [`Publisher`]: how the relay hands a message to a broker, and the publishers that need
//! no broker ([`TracingPublisher`], [`MemoryPublisher`]). The NATS JetStream and RabbitMQ
//! publishers live in the `orch-brokers` crate (features of `orch`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use super::message::OutboxMessage;

/// The future a [`Publisher`] returns.
pub type PublishFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PublishError>> + Send + 'a>>;

/// Delivers outbox messages to a broker.
///
/// `publish` returns `Ok` only once the broker has taken responsibility for the message
/// (a JetStream ack, a RabbitMQ publisher confirm); the relay then marks it delivered. An
/// error makes the relay retry with backoff; a [permanent](PublishError::permanent) one
/// marks the message dead at once. A publisher that panics is treated as a retryable
/// error. The relay calls `publish` concurrently, at most once at a time per ordering key.
///
/// # Example
/// ```
/// use orch_core::outbox::{OutboxMessage, PublishError, PublishFuture, Publisher};
///
/// struct Stdout;
///
/// impl Publisher for Stdout {
///     fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
///         Box::pin(async move {
///             if message.topic.contains(' ') {
///                 return Err(PublishError::permanent("topics cannot contain spaces"));
///             }
///             println!("{} {}", message.topic, String::from_utf8_lossy(&message.payload));
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait Publisher: Send + Sync + 'static {
    /// Delivers one message; `Ok` once the broker has it.
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a>;

    /// A short name for logs and health ("nats", "rabbitmq", …).
    fn name(&self) -> &'static str {
        "publisher"
    }
}

impl<P: Publisher + ?Sized> Publisher for Arc<P> {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        (**self).publish(message)
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed delivery: retryable (the default) or permanent.
#[derive(Debug)]
pub struct PublishError {
    message: String,
    permanent: bool,
    source: Option<BoxError>,
}

impl PublishError {
    /// A failure worth retrying (broker down, timeout, not routed yet).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            source: None,
        }
    }

    /// A failure no retry can fix (a topic or header the broker refuses): the message is
    /// marked dead at once, with this reason.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
            source: None,
        }
    }

    /// Keeps `source` as the cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Logs each message with `tracing` at info level (target `orch::outbox`) and counts it
/// delivered: for development and examples.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingPublisher;

impl Publisher for TracingPublisher {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(async move {
            tracing::info!(
                target: "orch::outbox",
                id = %message.id,
                topic = %message.topic,
                key = message.key.as_deref().unwrap_or(""),
                correlation_id = message.correlation_id.as_deref().unwrap_or(""),
                payload = %String::from_utf8_lossy(&message.payload),
                "outbox message"
            );
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "tracing"
    }
}

type FailureRule = Box<dyn Fn(&OutboxMessage) -> Option<PublishError> + Send + Sync>;

/// Keeps every delivered message in memory, in delivery order: for tests. Clones share
/// one log. A failure rule can refuse messages, to act out a broker that is down.
///
/// # Example
/// ```
/// use orch_core::outbox::{MemoryPublisher, PublishError};
/// let publisher = MemoryPublisher::new();
/// publisher.fail_when(|m| (m.topic == "bad").then(|| PublishError::permanent("refused")));
/// assert!(publisher.delivered().is_empty());
/// ```
#[derive(Clone, Default)]
pub struct MemoryPublisher {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    delivered: Mutex<Vec<OutboxMessage>>,
    rule: Mutex<Option<FailureRule>>,
}

impl fmt::Debug for MemoryPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPublisher")
            .field("delivered", &self.delivered().len())
            .finish_non_exhaustive()
    }
}

impl MemoryPublisher {
    /// An empty publisher that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message delivered so far, in delivery order.
    pub fn delivered(&self) -> Vec<OutboxMessage> {
        self.inner
            .delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Refuses each message for which `rule` returns an error (replacing any earlier rule).
    pub fn fail_when(
        &self,
        rule: impl Fn(&OutboxMessage) -> Option<PublishError> + Send + Sync + 'static,
    ) {
        *self
            .inner
            .rule
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(rule));
    }

    /// Accepts everything again.
    pub fn accept_all(&self) {
        *self
            .inner
            .rule
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }
}

impl Publisher for MemoryPublisher {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(async move {
            let refused = self
                .inner
                .rule
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .and_then(|rule| rule(message));
            if let Some(error) = refused {
                return Err(error);
            }
            self.inner
                .delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(message.clone());
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}
