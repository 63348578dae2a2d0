//! The warning at build when a configured size limit lets through a value larger than one
//! MySQL/MariaDB packet: such a value can never be written, whatever the batching.

use orch_core::EngineConfig;
use orch_core::store::Store;
use orch_sea::SeaStore;

/// Logs a warning for each configured limit (outputs, payloads, outbox payloads) that
/// admits a value too large for the server's `max_allowed_packet`, naming both numbers.
/// Such a push is refused with [`crate::Error::PayloadTooLarge`], and such a result is
/// recorded as a `refused` attempt.
pub(crate) fn warn_limits_over_packet(store: &SeaStore, config: &EngineConfig) {
    let (Some(packet), Some(fits)) = (store.max_allowed_packet(), store.max_row_bytes()) else {
        return;
    };
    let limits = [
        ("max_output_bytes", config.max_output_bytes),
        ("max_payload_bytes", config.max_payload_bytes),
        ("outbox.max_payload_bytes", config.outbox.max_payload_bytes),
    ];
    for (name, limit) in limits {
        if limit > fits {
            tracing::warn!(
                limit = name,
                limit_bytes = limit,
                max_allowed_packet = packet,
                "`{name}` ({limit} bytes) admits values that do not fit in one packet of the server (`max_allowed_packet` {packet} bytes, {fits} bytes for one value): pushes that large are refused and results that large are recorded `refused`; lower the limit or raise `max_allowed_packet`"
            );
        }
    }
}
