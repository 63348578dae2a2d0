//! Shared by the broker test binaries: server URLs, unique names, outbox messages.
#![allow(dead_code, reason = "each test binary uses a part")]

#[cfg(feature = "nats")]
pub(crate) mod nats;
#[cfg(feature = "rabbitmq")]
pub(crate) mod rabbitmq;

use orch_core::outbox::{MessageId, OutboxMessage};

/// The NATS server the tests use (`ORCH_TEST_NATS_URL`, default `nats://127.0.0.1:4222`).
pub(crate) fn nats_url() -> String {
    std::env::var("ORCH_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The RabbitMQ broker the tests use (`ORCH_TEST_AMQP_URL`, default
/// `amqp://guest:guest@127.0.0.1:5672/%2f`).
pub(crate) fn amqp_url() -> String {
    std::env::var("ORCH_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A name no other test run uses: `prefix` and a fresh UUID's hex.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", MessageId::new().as_uuid().simple())
}

/// An outbox message of `topic` carrying `payload`, with a fresh id and no key, headers
/// or correlation id (tests set those fields directly).
pub(crate) fn message(topic: &str, payload: &[u8]) -> OutboxMessage {
    OutboxMessage::new(topic, payload.to_vec())
}
