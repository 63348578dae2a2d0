//! The fence (every engine): stops an attempt whose lease is about to run out without
//! having been renewed, so a worker cut off from its database stops its handlers before
//! another engine may take their commands over.
//!
//! Purely local: it compares each attempt's lease expiry, as this process last saw it
//! renewed (a lower bound, measured on the monotonic clock from before the claim or
//! renewal was sent), with now plus the margin (`LEASE_FENCE_MARGIN`, 1 s, or a quarter of
//! `lease_ttl` or half of `lease_buffer` if less) plus the fence's own period (200 ms). A heartbeat that cannot reach
//! the database leaves the expiry where it was, so the fence fires at least the margin
//! before the database would let another engine rescue the command. Attempts past their deadline are
//! left to the executor's timeout and the heartbeat's overrun check.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::Service;
use crate::config::LEASE_FENCE_MARGIN;
use crate::shared::Shared;

/// How often the fence looks.
const EVERY: Duration = Duration::from_millis(200);

/// The fence service.
pub(crate) struct Fence<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Service for Fence<Tx> {
    const NAME: &'static str = "fence";

    fn interval(&self) -> Duration {
        EVERY
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        let now = Instant::now();
        let config = &self.shared.config;
        let margin = LEASE_FENCE_MARGIN
            .min(config.lease_ttl / 4)
            .min(config.lease_buffer / 2);
        // Past its deadline, or with a lease that outlasts it, an attempt is stopped by the
        // executor's timeout (or the heartbeat's overrun check) first.
        let fenced = self
            .shared
            .inflight
            .fence(now, now + margin + EVERY, margin);
        for (id, cmd) in &fenced {
            warn!(command.id = %id, command.name = %cmd.name,
                "lease about to run out unrenewed (database unreachable?): stopped the attempt before another engine may take it over");
        }
        Ok(fenced.len())
    }
}
