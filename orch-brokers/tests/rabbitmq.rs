//! RabbitMqPublisher against the RabbitMQ broker on this machine (`ORCH_TEST_AMQP_URL`).
#![cfg(feature = "rabbitmq")]
#![allow(
    clippy::expect_used,
    reason = "the helpers in `support` are test code too"
)]

mod support;

use std::time::{Duration, Instant};

use lapin::types::{AMQPValue, LongString};
use orch_brokers::BrokerError;
use orch_brokers::rabbitmq::RabbitMqPublisher;
use orch_core::outbox::Publisher;
use support::message;
use support::rabbitmq::Topology;

async fn publisher(exchange: &str) -> RabbitMqPublisher {
    RabbitMqPublisher::connect(&support::amqp_url(), exchange)
        .await
        .expect("RabbitMQ is not reachable: run scripts/services.sh")
}

fn header(props: &lapin::BasicProperties, name: &str) -> Option<AMQPValue> {
    props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name).cloned())
}

fn text(value: &str) -> Option<AMQPValue> {
    Some(AMQPValue::LongString(LongString::from(
        value.as_bytes().to_vec(),
    )))
}

#[tokio::test]
async fn publish_lands_in_the_bound_queue_with_its_properties() {
    let topology = Topology::declare().await;
    let publisher = publisher(&topology.exchange).await;
    let mut msg = message(&topology.bound_key, br#"{"order":42}"#);
    msg.key = Some("order-42".to_owned());
    msg.correlation_id = Some("req-7f3a".to_owned());
    msg.headers
        .insert("content-type".to_owned(), "application/json".to_owned());
    msg.headers.insert("x-tenant".to_owned(), "acme".to_owned());

    publisher.publish(&msg).await.expect("published");

    let got = topology.drain().await;
    assert_eq!(got.len(), 1);
    let delivery = &got[0].delivery;
    let props = &delivery.properties;
    assert_eq!(delivery.data, br#"{"order":42}"#);
    assert_eq!(delivery.routing_key.as_str(), topology.bound_key);
    assert_eq!(*props.delivery_mode(), Some(2));
    assert_eq!(
        props.message_id().as_ref().map(|s| s.as_str().to_owned()),
        Some(msg.id.to_string())
    );
    assert_eq!(
        props
            .correlation_id()
            .as_ref()
            .map(lapin::types::ShortString::as_str),
        Some("req-7f3a")
    );
    assert_eq!(
        props
            .content_type()
            .as_ref()
            .map(lapin::types::ShortString::as_str),
        Some("application/json")
    );
    assert_eq!(header(props, "x-tenant"), text("acme"));
    assert_eq!(header(props, "orch-key"), text("order-42"));
    assert_eq!(header(props, "content-type"), None);
    topology.delete().await;
}

#[tokio::test]
async fn concurrent_publishes_each_wait_for_their_confirm() {
    let topology = Topology::declare().await;
    let publisher = publisher(&topology.exchange).await;
    let messages: Vec<_> = (0..64)
        .map(|i| message(&topology.bound_key, format!("{i}").as_bytes()))
        .collect();
    let results = futures::future::join_all(messages.iter().map(|m| publisher.publish(m))).await;
    for result in results {
        result.expect("published");
    }
    assert_eq!(topology.drain().await.len(), 64);
    topology.delete().await;
}

#[tokio::test]
async fn an_unroutable_message_is_a_retryable_error_naming_exchange_and_key() {
    let topology = Topology::declare().await;
    let publisher = publisher(&topology.exchange).await;
    let key = support::unique("nobody.listens");
    let error = publisher
        .publish(&message(&key, b"x"))
        .await
        .expect_err("unroutable");
    assert!(!error.is_permanent(), "{error}");
    let text = error.to_string();
    assert!(text.contains(&format!("{:?}", topology.exchange)), "{text}");
    assert!(text.contains(&format!("{key:?}")), "{text}");
    assert!(text.contains("no queue bound"), "{text}");
    // A routable message right after still goes through.
    publisher
        .publish(&message(&topology.bound_key, b"y"))
        .await
        .expect("routable");
    assert_eq!(topology.drain().await.len(), 1);
    topology.delete().await;
}

#[tokio::test]
async fn a_missing_exchange_is_a_retryable_error_naming_it_and_the_publisher_recovers() {
    let topology = Topology::declare().await;
    let missing = support::unique("orch_t_missing");
    let publisher = publisher(&missing).await;
    let started = Instant::now();
    for _ in 0..2 {
        let error = publisher
            .publish(&message("any.key", b"x"))
            .await
            .expect_err("no such exchange");
        assert!(!error.is_permanent(), "{error}");
        let text = error.to_string();
        assert!(text.contains(&format!("{missing:?}")), "{text}");
        assert!(text.contains("does not exist"), "{text}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Once the exchange exists (and routes), the same publisher delivers.
    topology
        .channel
        .exchange_declare(
            missing.as_str().into(),
            lapin::ExchangeKind::Fanout,
            lapin::options::ExchangeDeclareOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("declare");
    topology
        .channel
        .queue_bind(
            topology.queue.as_str().into(),
            missing.as_str().into(),
            "".into(),
            lapin::options::QueueBindOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("bind");
    publisher
        .publish(&message("any.key", b"now"))
        .await
        .expect("delivered after the exchange exists");
    assert_eq!(topology.drain().await.len(), 1);
    topology
        .channel
        .exchange_delete(
            missing.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await
        .expect("delete");
    topology.delete().await;
}

#[tokio::test]
async fn a_bad_url_is_an_error_not_a_panic_or_a_hang() {
    let started = Instant::now();
    for url in ["not a url", "amqp://[::1", "amqp://127.0.0.1:notaport/%2f"] {
        let error = RabbitMqPublisher::connect(url, "x").await.expect_err(url);
        assert!(
            matches!(error, BrokerError::InvalidUrl { .. }),
            "{url}: {error}"
        );
    }
    let error = RabbitMqPublisher::connect_with(
        "amqp://u:secret@127.0.0.1:1/%2f",
        "x",
        Duration::from_secs(2),
    )
    .await
    .expect_err("nothing listens there");
    assert!(matches!(error, BrokerError::Connect { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
