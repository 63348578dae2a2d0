//! The warning at build when a configured size limit lets through a value larger than one
//! MySQL/MariaDB packet: such a value can never be written, whatever the batching.

use orch_core::EngineConfig;
use orch_sea::SeaStore;

/// Room left in a packet beside the one large value: the statement's other values, its
/// SQL text and the protocol's framing.
const PACKET_OVERHEAD: u64 = 64 * 1024;

/// Logs a warning for each configured limit (outputs, payloads, outbox payloads) that
/// admits a value too large for the server's `max_allowed_packet`, naming both numbers.
/// The server refuses such a value when it comes; a result is then recorded `refused`.
pub(crate) fn warn_limits_over_packet(store: &SeaStore, config: &EngineConfig) {
    let Some(packet) = store.max_allowed_packet() else {
        return;
    };
    let limits = [
        ("max_output_bytes", config.max_output_bytes),
        ("max_payload_bytes", config.max_payload_bytes),
        ("outbox.max_payload_bytes", config.outbox.max_payload_bytes),
    ];
    for (name, limit) in limits {
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        if limit.saturating_add(PACKET_OVERHEAD) > packet {
            tracing::warn!(
                limit = name,
                limit_bytes = limit,
                max_allowed_packet = packet,
                "`{name}` ({limit} bytes) admits values that do not fit in one packet of the server (`max_allowed_packet` {packet} bytes): the server refuses a value that large (a result is then recorded `refused`); lower the limit or raise `max_allowed_packet`"
            );
        }
    }
}
