//! The heartbeat (every engine): renews the leases of long attempts and checks every
//! running attempt's lease, stopping attempts whose command was canceled or taken over.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use super::Service;
use crate::failure::FailureKind;
use crate::outcome::failed_attempt;
use crate::shared::Shared;
use crate::shared::inflight::{Slot, StopReason, lease_span};
use crate::shared::record::{self, Transition};
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
        // An attempt past its deadline plus the grace is stuck (its handler blocks its
        // thread, or its executor cannot run): its lease is not renewed; it is recorded
        // as timed out here, and whatever it returns later is discarded.
        let (overrun, running): (Vec<_>, Vec<_>) = running
            .into_iter()
            .filter(|(_, slot)| slot.stop.get() == StopReason::None)
            .partition(|(_, slot)| now > slot.deadline + config.lease_buffer);
        let stuck = overrun.len();
        if !overrun.is_empty() {
            record_overruns(shared, &overrun).await?;
        }
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
        debug!(checked = renewals.len(), lost, stuck, "heartbeat");
        Ok(lost + stuck)
    }
}

/// Records stuck attempts as timed out (fenced on their lease) and stops them.
async fn record_overruns<Tx: ?Sized + 'static>(
    shared: &Shared<Tx>,
    overrun: &[(crate::id::CommandId, Slot)],
) -> crate::Result<()> {
    let finishes: Vec<_> = overrun
        .iter()
        .map(|(_, slot)| {
            let cmd = &slot.claimed;
            warn!(command.id = %cmd.id, command.name = %cmd.name,
                "attempt still running past its timeout plus grace (its handler blocks its thread or ignores its token); recording it as timed out");
            failed_attempt(
                shared,
                shared.registry.entry(&cmd.name),
                cmd,
                FailureKind::TimedOut,
                format!(
                    "attempt ran past its timeout of {:?} and did not stop within the grace of {:?}",
                    cmd.timeout, shared.config.lease_buffer
                ),
            )
        })
        .collect();
    let lookup = |id, lease| {
        overrun
            .iter()
            .find(|(i, slot)| *i == id && slot.lease == lease)
            .map(|(_, slot)| slot.claimed.clone())
    };
    record::write(shared, &finishes, Transition::Finish, &lookup).await?;
    for (id, slot) in overrun {
        shared
            .inflight
            .stop_lease(*id, slot.lease, StopReason::LeaseLost);
    }
    Ok(())
}
