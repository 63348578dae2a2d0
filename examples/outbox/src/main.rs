//! The transactional outbox on embedded SQLite.
//!
//! Each order row and the `orders.placed` event announcing it are written in one
//! transaction; the relay (run by the elected leader engine) delivers the events, in order
//! per order key, through a publisher: `tracing` by default, NATS JetStream when
//! `NATS_URL` is set (stream `ORDERS` on `orders.>`), RabbitMQ when `AMQP_URL` is set
//! (exchange `AMQP_EXCHANGE`, default `amq.topic`; bind a queue to `orders.#` there, or
//! the broker returns the messages as unroutable and the relay keeps retrying them).
//!
//! Run: `cargo run -p outbox`

use std::time::Duration;

use orch::outbox::{Message, MessageStatus, TracingPublisher};
use orch::prelude::*;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

/// The event each order announces.
#[derive(Serialize)]
struct OrderPlaced {
    order: u64,
    total_cents: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "orch::outbox=info,warn".to_owned()),
        )
        .init();

    let builder = Orch::builder().database("sqlite::memory:");
    let builder = if let Ok(url) = std::env::var("NATS_URL") {
        let nats = orch::outbox::nats::NatsPublisher::connect(&url).await?;
        nats.ensure_stream("ORDERS", &["orders.>"], Duration::from_secs(120))
            .await?;
        builder.publisher(nats)
    } else if let Ok(url) = std::env::var("AMQP_URL") {
        let exchange = std::env::var("AMQP_EXCHANGE").unwrap_or_else(|_| "amq.topic".to_owned());
        builder
            .publisher(orch::outbox::rabbitmq::RabbitMqPublisher::connect(&url, &exchange).await?)
    } else {
        builder.publisher(TracingPublisher)
    };
    let orch = builder.build().await?;

    let db = orch.connection();
    db.execute_unprepared("CREATE TABLE orders (id INTEGER PRIMARY KEY, total_cents INTEGER)")
        .await?;

    // The order and its event commit together: neither exists without the other.
    for order in 1..=5u64 {
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO orders (id, total_cents) VALUES (?, ?)",
            [order.into(), (order * 1000).into()],
        ))
        .await?;
        let event = OrderPlaced {
            order,
            total_cents: order * 1000,
        };
        orch.outbox()
            .enqueue_in(
                &txn,
                Message::json("orders.placed", &event)?
                    .key(format!("order-{order}"))
                    .correlation_id(format!("checkout-{order}")),
            )
            .await?;
        txn.commit().await?;
    }
    // A rolled-back order leaves no event behind.
    let txn = db.begin().await?;
    let ghost = orch
        .outbox()
        .enqueue_in(&txn, Message::new("orders.placed", b"never".to_vec()))
        .await?;
    txn.rollback().await?;
    assert!(orch.outbox().get(ghost).await?.is_none());

    let stop = CancellationToken::new();
    let engine = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = orch.outbox().stats().await?;
        if stats.delivered == 5 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            stop.cancel();
            return Err(format!("not every event was delivered in time: {stats:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    engine.await??;
    let delivered = orch
        .outbox()
        .list(&orch::outbox::MessageFilter::new().status(MessageStatus::Delivered))
        .await?;
    #[allow(clippy::print_stdout, reason = "an example reports what it did")]
    {
        println!("delivered {} events:", delivered.len());
        for message in delivered {
            println!(
                "  {} {} key={} attempts={}",
                message.topic,
                String::from_utf8_lossy(&message.payload),
                message.key.unwrap_or_default(),
                message.attempts
            );
        }
    }
    Ok(())
}
