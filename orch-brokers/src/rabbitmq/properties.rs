//! The AMQP properties of an outbox message.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use orch_core::outbox::OutboxMessage;

/// The message header whose value becomes the `content_type` property (and is left out
/// of the headers table).
pub const CONTENT_TYPE_HEADER: &str = "content-type";
/// The AMQP header carrying the message's ordering key.
pub const KEY_HEADER: &str = "orch-key";
/// `delivery_mode` 2: the broker writes the message to disk in durable queues.
const PERSISTENT: u8 = 2;

/// The properties of `message`: persistent, `message_id`, `correlation_id`,
/// `content_type` (from the `content-type` header), `timestamp`, and the other headers
/// plus `orch-key` as the headers table. The error names the field AMQP cannot carry.
pub(super) fn build(message: &OutboxMessage) -> Result<BasicProperties, String> {
    let mut properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_message_id(short("message_id", message.id.to_string())?)
        .with_timestamp(u64::try_from(message.created_at.timestamp()).unwrap_or_default());
    if let Some(correlation_id) = &message.correlation_id {
        properties =
            properties.with_correlation_id(short("correlation_id", correlation_id.clone())?);
    }
    let mut table = FieldTable::default();
    for (name, value) in &message.headers {
        if name.eq_ignore_ascii_case(CONTENT_TYPE_HEADER) {
            properties = properties.with_content_type(short("content_type", value.clone())?);
        } else if !name.eq_ignore_ascii_case(KEY_HEADER) {
            table.insert(
                short(&format!("header name {name:?}"), name.clone())?,
                AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
            );
        }
    }
    if let Some(key) = &message.key {
        table.insert(
            ShortString::from(KEY_HEADER),
            AMQPValue::LongString(LongString::from(key.as_bytes().to_vec())),
        );
    }
    Ok(properties.with_headers(table))
}

/// `value` as an AMQP short string (at most 255 bytes).
pub(super) fn short(field: &str, value: String) -> Result<ShortString, String> {
    let len = value.len();
    ShortString::try_new(value)
        .map_err(|_| format!("{field} is {len} bytes; AMQP allows at most 255"))
}
