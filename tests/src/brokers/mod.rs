//! The outbox relay against real brokers: NATS JetStream and RabbitMQ on this machine
//! (`ORCH_TEST_NATS_URL`, default `nats://127.0.0.1:4222`; `ORCH_TEST_AMQP_URL`, default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`). A broker that cannot be reached fails its
//! tests: nothing is skipped.
//!
//! Some tests restart a broker (`nats-server` killed and started again with its own
//! command line, `rabbitmqctl stop_app` / `start_app`), so the test binary runs the tests
//! of one broker one at a time (see `tests/tests/brokers.rs`).

pub mod nats;
pub mod rabbitmq;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use orch::outbox::{
    Message, MessageFilter, MessageId, OutboxConfig, OutboxMessage, PublishFuture, Publisher,
};
use orch::prelude::CancellationToken;
use orch::{Orch, OrchBuilder};

use crate::sea::SeaBackend;

/// The NATS server the tests use.
pub fn nats_url() -> String {
    std::env::var("ORCH_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The RabbitMQ broker the tests use.
pub fn amqp_url() -> String {
    std::env::var("ORCH_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A name no other test run uses: `prefix`, `_` and a fresh UUID's hex.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Relay timings for the broker tests: fast polls, short retries (50 ms doubling to at
/// most 500 ms, no jitter), attempts enough never to go dead in a test, and a short
/// claim lease.
pub fn relay_config(lease: Duration, publish_timeout: Duration) -> OutboxConfig {
    OutboxConfig::default()
        .with_relay_poll_interval(Duration::from_millis(50))
        .with_max_attempts(10_000)
        .with_relay_lease(lease)
        .with_publish_timeout(publish_timeout)
        .with_retry(
            orch::RetryPolicy::new()
                .base(Duration::from_millis(50))
                .max(Duration::from_millis(500))
                .jitter(0.0),
        )
}

/// The leader TTL of the broker tests' engines: the shortest the engine accepts, so an
/// engine killed on SQLite is replaced within about 4 s.
pub const LEADER_TTL: Duration = Duration::from_secs(3);

/// An `Orch` builder on `backend` relaying through `publisher` with `config`.
pub fn relay_builder(
    backend: &SeaBackend,
    publisher: impl Publisher,
    config: OutboxConfig,
) -> OrchBuilder {
    backend
        .orch_builder()
        .publisher(publisher)
        .outbox_config(config)
        .configure(|c| c.leader_ttl = LEADER_TTL)
}

/// An engine running in a background task until [`Relay::stop`].
pub struct Relay {
    /// The engine's handle.
    pub orch: Orch,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<orch::Result<()>>,
}

impl Relay {
    /// Builds the engine and starts it.
    pub async fn start(builder: OrchBuilder) -> Self {
        let orch = builder.build().await.expect("build the relay's engine");
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (orch, stop) = (orch.clone(), stop.clone());
            async move { orch.run(stop).await }
        });
        Self { orch, stop, task }
    }

    /// Stops the engine gracefully and waits for it.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task
            .await
            .expect("the engine task panicked")
            .expect("the engine failed");
    }
}

/// Waits until `$cond` (an expression that may `.await`) holds, failing after `$limit`
/// with `$what` (a `format!` argument list).
macro_rules! wait_for {
    ($limit:expr, $cond:expr, $($what:tt)+) => {{
        let deadline = tokio::time::Instant::now() + $limit;
        while !$cond {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {:?} waiting for {}",
                $limit,
                format!($($what)+)
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}
pub(crate) use wait_for;

/// The messages of a steady stream: `n` messages of `topic`, one in four keyed (four keys,
/// so order per key is exercised), payload `"<i>"`.
pub fn messages(topic: &str, n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| {
            let m = Message::new(topic, i.to_string().into_bytes());
            if i % 4 == 0 {
                m.key(format!("key-{}", i % 16 / 4))
            } else {
                m
            }
        })
        .collect()
}

/// Enqueues `messages` in rounds of `per_round`, one round every `every`: a steady stream
/// for a relay to keep up with. Returns when all are enqueued.
pub async fn enqueue_steadily(
    orch: &Orch,
    messages: Vec<Message>,
    per_round: usize,
    every: Duration,
) {
    let outbox = orch.outbox();
    let mut rest = messages;
    while !rest.is_empty() {
        let round: Vec<_> = rest.drain(..per_round.min(rest.len())).collect();
        outbox.enqueue_many(round).await.expect("enqueue");
        tokio::time::sleep(every).await;
    }
}

/// Every message in the outbox (up to 10,000).
pub async fn all_messages(orch: &Orch) -> Vec<OutboxMessage> {
    orch.outbox()
        .list(&MessageFilter::new().limit(10_000))
        .await
        .expect("list the outbox")
}

/// Counts the publishes it passes on, per message id, and what they returned.
#[derive(Clone)]
pub struct Counting<P> {
    inner: P,
    log: Arc<StdMutex<Vec<(MessageId, bool)>>>,
}

impl<P> Counting<P> {
    /// Wraps `inner`.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            log: Arc::default(),
        }
    }

    /// Every publish so far: the message id and whether it returned `Ok`.
    pub fn log(&self) -> Vec<(MessageId, bool)> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The ids of the publishes that returned `Ok`.
    pub fn acked(&self) -> HashSet<MessageId> {
        self.log()
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(id, _)| id)
            .collect()
    }

    /// How many publishes failed.
    pub fn failures(&self) -> usize {
        self.log().iter().filter(|(_, ok)| !ok).count()
    }
}

impl<P: Publisher> Publisher for Counting<P> {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(async move {
            let outcome = self.inner.publish(message).await;
            self.log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((message.id, outcome.is_ok()));
            outcome
        })
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}
