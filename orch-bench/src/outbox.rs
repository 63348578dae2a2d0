//! Outbox figures: relay throughput (a backlog enqueued, then relayed) and commit → broker
//! ack latency (one message per transaction, paced, with the relay idle between them), per
//! backend and per publisher (in-memory, NATS JetStream, RabbitMQ with confirms).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use orch::Orch;
use orch::outbox::{
    MemoryPublisher, Message, MessageId, OutboxConfig, OutboxMessage, PublishFuture, Publisher,
};
use orch::prelude::*;
use orch_tests::BackendKind;
use orch_tests::backends::FreshDatabase;
use sea_orm::TransactionTrait;
use serde::Serialize;

use crate::measure::{Percentiles, percentiles};

type BoxError = Box<dyn std::error::Error>;

/// The NATS stream and subjects the bench publishes to.
const STREAM: &str = "ORCH_BENCH";
/// The RabbitMQ queue (on the default exchange) the bench publishes to.
const QUEUE: &str = "orch-bench";

/// One backend × publisher.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutboxResult {
    pub(crate) backend: &'static str,
    pub(crate) publisher: &'static str,
    pub(crate) messages: u64,
    pub(crate) relay_per_s: f64,
    pub(crate) commit_to_ack_ms: Percentiles,
}

/// Records when the broker acknowledged each message.
struct Timed<P> {
    inner: P,
    acked: Arc<Mutex<HashMap<MessageId, Instant>>>,
}

impl<P: Publisher> Publisher for Timed<P> {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(async move {
            self.inner.publish(message).await?;
            self.acked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(message.id, Instant::now());
            Ok(())
        })
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// Which publishers to measure: `memory` always, `nats` and `rabbitmq` when asked.
pub(crate) async fn run(
    kinds: &[BackendKind],
    publishers: &[String],
    messages: u64,
    probes: u64,
) -> Result<Vec<OutboxResult>, BoxError> {
    let mut results = Vec::new();
    for kind in kinds {
        for publisher in publishers {
            let db = FreshDatabase::create(*kind).await;
            let result = one(*kind, &db.url, publisher, messages, probes).await;
            db.drop_database().await;
            let result = result?;
            eprintln!(
                "outbox {} via {}: relay {:.0}/s, commit→ack p50 {:.2} ms p99 {:.2} ms",
                result.backend,
                result.publisher,
                result.relay_per_s,
                result.commit_to_ack_ms.p50,
                result.commit_to_ack_ms.p99
            );
            results.push(result);
        }
    }
    Ok(results)
}

async fn publisher_named(
    name: &str,
    acked: &Arc<Mutex<HashMap<MessageId, Instant>>>,
) -> Result<
    (
        Box<dyn FnOnce(orch::OrchBuilder) -> orch::OrchBuilder>,
        &'static str,
    ),
    BoxError,
> {
    let acked = acked.clone();
    Ok(match name {
        "memory" => (
            Box::new(move |b: orch::OrchBuilder| {
                b.publisher(Timed {
                    inner: MemoryPublisher::new(),
                    acked,
                })
            }),
            "memory",
        ),
        "nats" => {
            let url = std::env::var("ORCH_TEST_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
            let nats = orch::outbox::nats::NatsPublisher::connect(&url).await?;
            // A fresh stream per run: delete any left behind.
            let _ = nats.jetstream().delete_stream(STREAM).await;
            nats.ensure_stream(STREAM, &["bench.>"], Duration::from_secs(120))
                .await?;
            (
                Box::new(move |b: orch::OrchBuilder| b.publisher(Timed { inner: nats, acked })),
                "nats",
            )
        }
        "rabbitmq" => {
            let url = std::env::var("ORCH_TEST_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
            let connection =
                lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            let _ = channel
                .queue_delete(QUEUE.into(), QueueDeleteOptions::default())
                .await;
            channel
                .queue_declare(
                    QUEUE.into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            let rabbit = orch::outbox::rabbitmq::RabbitMqPublisher::connect(&url, "").await?;
            (
                Box::new(move |b: orch::OrchBuilder| {
                    b.publisher(Timed {
                        inner: rabbit,
                        acked,
                    })
                }),
                "rabbitmq",
            )
        }
        other => return Err(format!("unknown publisher {other:?}").into()),
    })
}

/// The topic of the bench's messages (the RabbitMQ queue name on the default exchange,
/// a subject of the NATS stream otherwise).
fn topic(publisher: &str) -> &'static str {
    if publisher == "rabbitmq" {
        QUEUE
    } else {
        "bench.orders"
    }
}

async fn one(
    kind: BackendKind,
    url: &str,
    publisher: &str,
    messages: u64,
    probes: u64,
) -> Result<OutboxResult, BoxError> {
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let (with_publisher, name) = publisher_named(publisher, &acked).await?;
    let builder = Orch::builder()
        .database(url)
        .without_link_time_handlers()
        .outbox_config(OutboxConfig::default().with_relay_batch(500))
        .store_config({
            let mut c = orch::SeaStoreConfig::default();
            if !url.starts_with("sqlite") {
                c.max_connections = Some(20);
            }
            c
        });
    let orch = with_publisher(builder).build().await?;
    let topic = topic(publisher);

    // Throughput: a backlog of messages over 100 keys, relayed from a standing start.
    let payload = br#"{"order":42,"total_cents":1000}"#.to_vec();
    let mut batch = Vec::new();
    for i in 0..messages {
        batch.push(Message::new(topic, payload.clone()).key(format!("k{}", i % 100)));
        if batch.len() == 1000 {
            orch.outbox()
                .enqueue_many(std::mem::take(&mut batch))
                .await?;
        }
    }
    orch.outbox().enqueue_many(batch).await?;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let engine = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    wait_delivered(&orch, messages, Duration::from_secs(600)).await?;
    let relay_per_s = messages as f64 / started.elapsed().as_secs_f64();

    // Latency: one message per transaction, 20 ms apart, from commit to the broker's ack.
    let mut commits = Vec::new();
    for _ in 0..probes {
        let txn = orch.connection().begin().await?;
        let id = orch
            .outbox()
            .enqueue_in(&txn, Message::new(topic, payload.clone()))
            .await?;
        txn.commit().await?;
        commits.push((id, Instant::now()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_delivered(&orch, messages + probes, Duration::from_secs(60)).await?;
    stop.cancel();
    engine.await??;
    let acked = acked.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut delays: Vec<u64> = commits
        .iter()
        .filter_map(|(id, at)| acked.get(id).map(|ack| ack.saturating_duration_since(*at)))
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    delays.sort_unstable();
    Ok(OutboxResult {
        backend: crate::name(kind),
        publisher: name,
        messages,
        relay_per_s,
        commit_to_ack_ms: percentiles(&delays),
    })
}

async fn wait_delivered(orch: &Orch, n: u64, limit: Duration) -> Result<(), BoxError> {
    let deadline = Instant::now() + limit;
    loop {
        let stats = orch.outbox().stats().await?;
        if stats.delivered >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the relay delivered {} of {n} in {limit:?}",
                stats.delivered
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
