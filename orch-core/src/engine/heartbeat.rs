//! The heartbeat: renews the leases of long attempts and checks every running attempt's
//! lease, stopping attempts whose command was canceled or taken over.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::inflight::{StopReason, lease_span};
use super::shared::Shared;
use crate::store::LeaseRenewal;

pub(crate) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(shared.config.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(error) = run_once(&shared).await {
                    warn!(%error, "lease heartbeat failed");
                }
            }
        }
    }
}

/// One pass: returns how many leases were lost.
pub(crate) async fn run_once(shared: &Shared) -> crate::Result<usize> {
    let running = shared.inflight.snapshot();
    if running.is_empty() {
        return Ok(0);
    }
    let config = &shared.config;
    let now = Instant::now();
    let renew_before = now + config.lease_ttl / 2;
    let renewals: Vec<LeaseRenewal> = running
        .iter()
        .map(|(id, slot)| LeaseRenewal {
            id: *id,
            lease: slot.lease,
            extend_by: (slot.lease_until < renew_before).then(|| {
                lease_span(
                    slot.deadline.saturating_duration_since(now),
                    config.lease_ttl,
                    config.lease_buffer,
                )
            }),
        })
        .collect();
    let held = shared.store.renew(&renewals).await?;
    let mut lost = 0;
    for (renewal, held) in renewals.iter().zip(held) {
        if !held {
            lost += 1;
            shared
                .inflight
                .stop_lease(renewal.id, renewal.lease, StopReason::LeaseLost);
        } else if let Some(span) = renewal.extend_by {
            shared
                .inflight
                .renewed(renewal.id, renewal.lease, now + span);
        }
    }
    debug!(checked = renewals.len(), lost, "heartbeat");
    Ok(lost)
}
