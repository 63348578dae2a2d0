//! NATS helpers: a publisher with its own stream, and reading a stream back.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use orch_brokers::nats::NatsPublisher;

/// A publisher on the test server and a fresh stream capturing `<subject_root>.>`.
pub(crate) async fn publisher_with_stream() -> (NatsPublisher, String, String) {
    let publisher = NatsPublisher::connect(&super::nats_url())
        .await
        .expect("the NATS server is not reachable: run scripts/services.sh");
    let stream = super::unique("ORCH_T");
    let root = super::unique("orch_t");
    publisher
        .ensure_stream(&stream, &[&format!("{root}.>")], Duration::from_secs(120))
        .await
        .expect("create the stream");
    (publisher, stream, root)
}

/// Every message in `stream`, in order, read with an ephemeral pull consumer.
pub(crate) async fn read_all(publisher: &NatsPublisher, stream: &str) -> Vec<async_nats::Message> {
    let stream = publisher
        .jetstream()
        .get_stream(stream)
        .await
        .expect("the stream exists");
    let consumer = stream
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..pull::Config::default()
        })
        .await
        .expect("create a consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(1000)
        .expires(Duration::from_millis(500))
        .messages()
        .await
        .expect("fetch");
    let mut messages = Vec::new();
    while let Some(message) = batch.next().await {
        messages.push(message.expect("a message").message);
    }
    messages
}

/// Deletes `stream`.
pub(crate) async fn delete_stream(publisher: &NatsPublisher, stream: &str) {
    publisher
        .jetstream()
        .delete_stream(stream)
        .await
        .expect("delete the stream");
}

/// A header of `message`, as text.
pub(crate) fn header<'a>(message: &'a async_nats::Message, name: &str) -> Option<&'a str> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(async_nats::HeaderValue::as_str)
}
