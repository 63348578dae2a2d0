//! The heartbeat (every engine): renews the leases of long attempts and checks every
//! running attempt's lease, stopping attempts whose command was canceled or taken over.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;

use super::Service;
use crate::shared::Shared;
use crate::shared::inflight::{StopReason, lease_span};
use crate::store::LeaseRenewal;

/// The heartbeat service of one engine.
pub(crate) struct Heartbeat<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Service for Heartbeat<Tx> {
    const NAME: &'static str = "heartbeat";
    const FIRST_PASS_DELAYED: bool = true;

    fn interval(&self) -> Duration {
        self.shared.config.heartbeat_interval
    }

    /// One pass: returns how many leases were lost.
    async fn run_once(&mut self) -> crate::Result<usize> {
        let shared = &self.shared;
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
        let held = shared.commands().renew_leases(&renewals).await?;
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
}
