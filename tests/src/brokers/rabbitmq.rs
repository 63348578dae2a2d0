//! The relay through [`RabbitMqPublisher`] into a real RabbitMQ: a restart of the broker
//! application in the middle of a steady stream (nothing lost; RabbitMQ has no
//! deduplication, so copies are allowed and counted), and a message that is unroutable
//! until a queue is bound (retried, never marked delivered while unroutable).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use orch::outbox::rabbitmq::RabbitMqPublisher;
use orch::outbox::{Message, MessageStatus};

use super::{Counting, Relay, all_messages, messages, relay_builder, relay_config, wait_for};
use crate::Harness;
use crate::sea::SeaBackend;

/// A channel on a connection of the test's own.
pub async fn channel() -> (Connection, Channel) {
    let connection = Connection::connect(&super::amqp_url(), ConnectionProperties::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "RabbitMQ at {} is not reachable (run scripts/services.sh): {e}",
                orch_sea::redact(&super::amqp_url())
            )
        });
    let channel = connection.create_channel().await.expect("open a channel");
    (connection, channel)
}

/// A durable direct exchange of the test's own, and a queue name and routing key for it.
pub struct Topology {
    /// The exchange.
    pub exchange: String,
    /// The queue (declared by [`Topology::bind`]).
    pub queue: String,
    /// The routing key the queue is bound with.
    pub routing_key: String,
}

impl Topology {
    /// Declares a fresh durable direct exchange; no queue yet.
    pub async fn exchange_only() -> Self {
        let (connection, channel) = channel().await;
        let topology = Self {
            exchange: super::unique("orch_t_x"),
            queue: super::unique("orch_t_q"),
            routing_key: super::unique("orders"),
        };
        channel
            .exchange_declare(
                topology.exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the exchange");
        let _ = connection.close(200, "OK".into()).await;
        topology
    }

    /// Declares a fresh exchange and a durable queue bound to it with the routing key.
    pub async fn bound() -> Self {
        let topology = Self::exchange_only().await;
        topology.bind().await;
        topology
    }

    /// Declares the durable queue and binds it to the exchange with the routing key.
    pub async fn bind(&self) {
        let (connection, channel) = channel().await;
        channel
            .queue_declare(
                self.queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the queue");
        channel
            .queue_bind(
                self.queue.as_str().into(),
                self.exchange.as_str().into(),
                self.routing_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the queue");
        let _ = connection.close(200, "OK".into()).await;
    }

    /// Takes every message from the queue (`basic_get`, auto-ack) on a fresh connection;
    /// returns each one's `message_id` and payload, in queue order.
    pub async fn drain(&self) -> Vec<(String, Vec<u8>)> {
        let (connection, channel) = channel().await;
        let mut messages = Vec::new();
        while let Some(message) = channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            let id = message
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(ToString::to_string)
                .expect("a message_id");
            messages.push((id, message.delivery.data.clone()));
        }
        let _ = connection.close(200, "OK".into()).await;
        messages
    }

    /// Deletes the queue (if declared) and the exchange, on a fresh connection.
    pub async fn delete(self) {
        let (connection, channel) = channel().await;
        channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("delete the queue");
        channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .expect("delete the exchange");
        let _ = connection.close(200, "OK".into()).await;
    }
}

/// A publisher on the test broker publishing to `exchange`, with a 2 s confirm timeout.
pub async fn publisher(exchange: &str) -> RabbitMqPublisher {
    RabbitMqPublisher::connect(&super::amqp_url(), exchange)
        .await
        .unwrap_or_else(|e| panic!("RabbitMQ is not reachable (run scripts/services.sh): {e}"))
        .confirm_timeout(Duration::from_secs(2))
}

/// Runs `rabbitmqctl COMMAND` (on a blocking thread), failing with its output.
fn rabbitmqctl(command: &str) {
    let output = std::process::Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .expect("run rabbitmqctl");
    assert!(
        output.status.success(),
        "rabbitmqctl {command} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `rabbitmqctl stop_app` now and `start_app` on [`RabbitRestart::start`], or on drop when
/// a test fails halfway.
pub struct RabbitRestart {
    stopped: bool,
}

impl RabbitRestart {
    /// Stops the RabbitMQ application (the Erlang node stays up).
    pub async fn stop() -> Self {
        tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
            .await
            .expect("rabbitmqctl stop_app");
        Self { stopped: true }
    }

    /// Starts the application again and waits until it runs.
    pub async fn start(&mut self) {
        self.stopped = false;
        tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
            .await
            .expect("rabbitmqctl start_app");
    }
}

impl Drop for RabbitRestart {
    fn drop(&mut self) {
        if self.stopped {
            rabbitmqctl("start_app");
        }
    }
}

/// A relay delivering a steady stream while the RabbitMQ application stops and starts:
/// publishes fail (retryably) meanwhile and are retried; afterwards every message is
/// delivered and the queue holds each message id at least once (RabbitMQ does not
/// deduplicate: a publish whose confirm was lost in the restart may be stored twice).
pub async fn rabbitmq_broker_restart_mid_relay_loses_nothing(h: &Harness<SeaBackend>) {
    const N: usize = 200;
    let started = Instant::now();
    let topology = Topology::bound().await;
    let counting = Counting::new(publisher(&topology.exchange).await);
    let relay = Relay::start(relay_builder(
        h.backend(),
        counting.clone(),
        relay_config(Duration::from_secs(10), Duration::from_secs(3)),
    ))
    .await;
    let orch = relay.orch.clone();
    let enqueue = tokio::spawn({
        let orch = orch.clone();
        let topic = topology.routing_key.clone();
        async move {
            super::enqueue_steadily(&orch, messages(&topic, N), 10, Duration::from_millis(150))
                .await;
        }
    });
    wait_for!(
        Duration::from_secs(10),
        orch.outbox().stats().await.expect("stats").delivered >= 20,
        "the relay to deliver the first messages"
    );

    let down = Instant::now();
    let mut restart = RabbitRestart::stop().await;
    wait_for!(
        Duration::from_secs(10),
        counting.failures() > 0,
        "a publish to fail while RabbitMQ is stopped"
    );
    restart.start().await;
    let outage = down.elapsed();
    enqueue.await.expect("enqueue task");
    wait_for!(
        Duration::from_secs(40),
        orch.outbox().stats().await.expect("stats").delivered == N as u64,
        "all {N} delivered after the restart: {:?}",
        orch.outbox().stats().await.expect("stats")
    );
    relay.stop().await;

    let outbox = all_messages(&orch).await;
    assert_eq!(outbox.len(), N);
    assert!(outbox.iter().all(|m| m.status == MessageStatus::Delivered));
    let retried = outbox.iter().filter(|m| m.attempts > 1).count();
    assert!(
        retried > 0,
        "some messages needed more than one attempt ({} failed publishes)",
        counting.failures()
    );
    let stored = topology.drain().await;
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &stored {
        *copies.entry(id.as_str()).or_default() += 1;
    }
    let duplicates: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    let want: HashSet<String> = outbox.iter().map(|m| m.id.to_string()).collect();
    let got: HashSet<String> = copies.keys().map(|id| (*id).to_owned()).collect();
    assert_eq!(
        got,
        want,
        "the queue holds {} distinct ids for {N} messages ({} stored, duplicates allowed: {duplicates:?}); missing {:?}",
        got.len(),
        stored.len(),
        want.difference(&got).collect::<Vec<_>>()
    );
    topology.delete().await;
    let elapsed = started.elapsed();
    eprintln!(
        "outage {outage:?}, {} failed publishes, {retried} messages retried, {} stored for {N} messages ({} ids twice or more: {duplicates:?}); {elapsed:?}",
        counting.failures(),
        stored.len(),
        duplicates.len()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

/// A message whose routing key no queue is bound to is returned by the broker: the relay
/// keeps it pending and retries it (attempts grow, the last error names the routing key),
/// never marking it delivered, until a queue is bound; then it is delivered.
pub async fn rabbitmq_unroutable_message_waits_and_retries_until_routable(h: &Harness<SeaBackend>) {
    let started = Instant::now();
    let topology = Topology::exchange_only().await;
    let counting = Counting::new(publisher(&topology.exchange).await);
    let relay = Relay::start(relay_builder(
        h.backend(),
        counting.clone(),
        relay_config(Duration::from_secs(5), Duration::from_secs(2)),
    ))
    .await;
    let outbox = relay.orch.outbox();
    let id = outbox
        .enqueue(Message::new(topology.routing_key.as_str(), b"routable later".to_vec()).key("k"))
        .await
        .expect("enqueue");

    let mut last: Option<orch::outbox::OutboxMessage>;
    wait_for!(
        Duration::from_secs(20),
        {
            let m = outbox.get(id).await.expect("get").expect("the message");
            assert_ne!(
                m.status,
                MessageStatus::Delivered,
                "marked delivered while unroutable: {m:?}"
            );
            let attempts = m.attempts;
            last = Some(m);
            attempts >= 4 && last.as_ref().is_some_and(|m| m.last_error.is_some())
        },
        "4 failed attempts: {last:?}"
    );
    let m = last.expect("the message");
    assert!(
        matches!(m.status, MessageStatus::Pending | MessageStatus::Processing),
        "{m:?}"
    );
    let error = m.last_error.as_deref().expect("the last error");
    assert!(
        error.contains(&topology.routing_key) && error.contains("unroutable"),
        "the error names the routing key: {error}"
    );
    assert!(counting.acked().is_empty(), "{:?}", counting.log());

    topology.bind().await;
    wait_for!(
        Duration::from_secs(15),
        outbox
            .get(id)
            .await
            .expect("get")
            .expect("the message")
            .status
            == MessageStatus::Delivered,
        "delivery once a queue is bound: {:?}",
        outbox.get(id).await.expect("get")
    );
    relay.stop().await;
    let delivered = outbox.get(id).await.expect("get").expect("the message");
    let stored = topology.drain().await;
    assert_eq!(
        stored,
        [(id.to_string(), b"routable later".to_vec())],
        "the queue holds the message once"
    );
    topology.delete().await;
    let elapsed = started.elapsed();
    eprintln!(
        "unroutable for {} attempts, delivered on attempt {}; {elapsed:?}",
        m.attempts, delivered.attempts
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
