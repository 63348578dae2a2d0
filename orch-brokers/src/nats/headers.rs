//! The NATS headers of an outbox message.

use async_nats::HeaderMap;
use async_nats::header::{HeaderName, HeaderValue};
use orch_core::outbox::OutboxMessage;

/// The header carrying the message id: JetStream drops a second message with the same id
/// within the stream's duplicate window.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// The header carrying the message's correlation id.
pub const CORRELATION_ID_HEADER: &str = "Orch-Correlation-Id";
/// The header carrying the message's ordering key.
pub const KEY_HEADER: &str = "Orch-Key";

/// Every header of `message`, then `Nats-Msg-Id`, `Orch-Correlation-Id` and `Orch-Key`
/// (these replace message headers of the same name). The error names the header NATS
/// refuses.
pub(super) fn build(message: &OutboxMessage) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    let id = message.id.to_string();
    let own = [
        (MSG_ID_HEADER, Some(id.as_str())),
        (CORRELATION_ID_HEADER, message.correlation_id.as_deref()),
        (KEY_HEADER, message.key.as_deref()),
    ];
    let fields = message
        .headers
        .iter()
        .filter(|(name, _)| !own.iter().any(|(own, _)| own.eq_ignore_ascii_case(name)))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(
            own.iter()
                .filter_map(|(name, value)| value.map(|v| (*name, v))),
        );
    for (name, value) in fields {
        if name.is_empty() {
            return Err("NATS refuses an empty header name".to_owned());
        }
        let header: HeaderName = name
            .parse()
            .map_err(|e| format!("NATS refuses header name {name:?}: {e}"))?;
        let value: HeaderValue = value
            .parse()
            .map_err(|e| format!("NATS refuses the value of header {name:?}: {e}"))?;
        headers.insert(header, value);
    }
    Ok(headers)
}
