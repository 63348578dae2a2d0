//! NatsPublisher against the NATS server on this machine (`ORCH_TEST_NATS_URL`).
#![cfg(feature = "nats")]
#![allow(
    clippy::expect_used,
    reason = "the helpers in `support` are test code too"
)]

mod support;

use std::time::{Duration, Instant};

use orch_brokers::BrokerError;
use orch_brokers::nats::NatsPublisher;
use orch_core::outbox::Publisher;
use support::message;
use support::nats::{delete_stream, header, publisher_with_stream, read_all};

#[tokio::test]
async fn publish_lands_in_the_stream_with_headers_and_msg_id() {
    let (publisher, stream, root) = publisher_with_stream().await;
    let mut msg = message(&format!("{root}.created"), br#"{"order":42}"#);
    msg.key = Some("order-42".to_owned());
    msg.correlation_id = Some("req-7f3a".to_owned());
    msg.headers
        .insert("content-type".to_owned(), "application/json".to_owned());
    msg.headers.insert("x-tenant".to_owned(), "acme".to_owned());

    publisher.publish(&msg).await.expect("published");

    let stored = read_all(&publisher, &stream).await;
    assert_eq!(stored.len(), 1);
    let got = &stored[0];
    assert_eq!(got.subject.as_str(), format!("{root}.created"));
    assert_eq!(&got.payload[..], br#"{"order":42}"#);
    assert_eq!(
        header(got, "Nats-Msg-Id"),
        Some(msg.id.to_string().as_str())
    );
    assert_eq!(header(got, "Orch-Correlation-Id"), Some("req-7f3a"));
    assert_eq!(header(got, "Orch-Key"), Some("order-42"));
    assert_eq!(header(got, "content-type"), Some("application/json"));
    assert_eq!(header(got, "x-tenant"), Some("acme"));
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn subject_prefix_is_prepended() {
    let (publisher, stream, root) = publisher_with_stream().await;
    let publisher = publisher.subject_prefix(format!("{root}."));
    let msg = message("orders.created", b"x");
    assert_eq!(publisher.subject_of(&msg), format!("{root}.orders.created"));
    publisher.publish(&msg).await.expect("published");
    let stored = read_all(&publisher, &stream).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].subject.as_str(), format!("{root}.orders.created"));
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn the_same_message_id_twice_is_stored_once() {
    let (publisher, stream, root) = publisher_with_stream().await;
    let msg = message(&format!("{root}.dup"), b"once");
    publisher.publish(&msg).await.expect("first publish");
    publisher
        .publish(&msg)
        .await
        .expect("second publish is acked too");
    let other = message(&format!("{root}.dup"), b"another id");
    publisher.publish(&other).await.expect("other message");

    let stored = read_all(&publisher, &stream).await;
    let ids: Vec<_> = stored.iter().map(|m| header(m, "Nats-Msg-Id")).collect();
    assert_eq!(
        ids,
        [
            Some(msg.id.to_string().as_str()),
            Some(other.id.to_string().as_str())
        ]
    );
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn concurrent_publishes_are_all_acked() {
    let (publisher, stream, root) = publisher_with_stream().await;
    let messages: Vec<_> = (0..64)
        .map(|i| message(&format!("{root}.many"), format!("{i}").as_bytes()))
        .collect();
    let results = futures::future::join_all(messages.iter().map(|m| publisher.publish(m))).await;
    for result in results {
        result.expect("published");
    }
    assert_eq!(read_all(&publisher, &stream).await.len(), 64);
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn invalid_subjects_are_permanent_errors_naming_the_subject() {
    let (publisher, stream, root) = publisher_with_stream().await;
    for topic in [
        format!("{root}.a b"),
        format!("{root}.*"),
        format!("{root}.>"),
        format!("{root}..x"),
        format!("{root}."),
    ] {
        let error = publisher
            .publish(&message(&topic, b"x"))
            .await
            .expect_err(&topic);
        assert!(error.is_permanent(), "{topic}: {error}");
        assert!(
            error.to_string().contains(&format!("{topic:?}")),
            "{topic}: {error}"
        );
    }
    assert!(read_all(&publisher, &stream).await.is_empty());
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn a_header_nats_refuses_is_a_permanent_error() {
    let (publisher, stream, root) = publisher_with_stream().await;
    let mut msg = message(&format!("{root}.h"), b"x");
    msg.headers.insert("bad name".to_owned(), "v".to_owned());
    let error = publisher.publish(&msg).await.expect_err("refused");
    assert!(error.is_permanent(), "{error}");
    assert!(error.to_string().contains("\"bad name\""), "{error}");

    let mut msg = message(&format!("{root}.h"), b"x");
    msg.headers
        .insert("x-ok".to_owned(), "line\r\nbreak".to_owned());
    let error = publisher.publish(&msg).await.expect_err("refused");
    assert!(error.is_permanent(), "{error}");
    assert!(error.to_string().contains("\"x-ok\""), "{error}");
    delete_stream(&publisher, &stream).await;
}

#[tokio::test]
async fn a_subject_without_a_stream_is_a_retryable_error() {
    let publisher = NatsPublisher::connect(&support::nats_url())
        .await
        .expect("NATS is reachable");
    let subject = support::unique("orch_t_nostream");
    let started = Instant::now();
    let error = publisher
        .publish(&message(&subject, b"x"))
        .await
        .expect_err("no stream");
    assert!(!error.is_permanent(), "{error}");
    let text = error.to_string();
    assert!(text.contains(&format!("{subject:?}")), "{text}");
    assert!(text.contains("no JetStream stream captures"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error_not_a_panic_or_a_hang() {
    let started = Instant::now();
    for url in [
        "not a url at all",
        "nats://[::1",
        "nats://127.0.0.1:notaport",
    ] {
        let error = NatsPublisher::connect(url).await.expect_err(url);
        assert!(
            matches!(error, BrokerError::InvalidUrl { .. }),
            "{url}: {error}"
        );
    }
    // A port nothing listens on: a connect error, quickly.
    let error = NatsPublisher::connect_with("nats://127.0.0.1:1", Duration::from_secs(2))
        .await
        .expect_err("nothing listens there");
    assert!(
        matches!(
            error,
            BrokerError::Connect { .. } | BrokerError::ConnectTimeout { .. }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
