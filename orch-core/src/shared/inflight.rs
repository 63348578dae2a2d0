//! The commands this engine is running right now, shared by the executors, the heartbeat,
//! the completer and in-process cancellation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::id::{CommandId, LeaseToken};

/// Why an attempt was stopped from outside its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StopReason {
    /// Not stopped.
    None = 0,
    /// The command was canceled; its row is already `canceled`.
    Canceled = 1,
    /// The lease was lost (reaped, or canceled by another process); the row is not ours.
    LeaseLost = 2,
    /// The engine is shutting down and the grace period is over: release the command.
    Shutdown = 3,
}

/// A set-once stop reason, readable by the executor after its token fired.
#[derive(Debug, Default)]
pub(crate) struct StopCell(AtomicU8);

impl StopCell {
    fn set(&self, reason: StopReason) {
        let _ = self.0.compare_exchange(
            StopReason::None as u8,
            reason as u8,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub(crate) fn get(&self) -> StopReason {
        match self.0.load(Ordering::Acquire) {
            1 => StopReason::Canceled,
            2 => StopReason::LeaseLost,
            3 => StopReason::Shutdown,
            _ => StopReason::None,
        }
    }
}

/// One running attempt.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) lease: LeaseToken,
    /// The handler's token (`ctx.cancellation()`): fired by every stop and by the
    /// timeout, and by the handler itself if it likes.
    pub(crate) cancel: CancellationToken,
    /// Fired only by stops from outside the handler; the executor stops waiting for the
    /// handler when it fires (a handler cancelling its own token still has its result
    /// recorded).
    pub(crate) abort: CancellationToken,
    pub(crate) stop: Arc<StopCell>,
    /// The claimed command (the heartbeat records an overrun attempt from it).
    pub(crate) claimed: Arc<crate::store::ClaimedCommand>,
    /// When the lease expires by this process's monotonic clock (a lower bound: the database
    /// set it a little later).
    pub(crate) lease_until: Instant,
    /// When the attempt's timeout fires.
    pub(crate) deadline: Instant,
}

impl Slot {
    pub(crate) fn stop(&self, reason: StopReason) {
        self.stop.set(reason);
        self.cancel.cancel();
        self.abort.cancel();
    }
}

/// The running attempts, by command id and lease: one engine can hold an old attempt of a
/// command (whose lease it lost, still winding down) next to a new one.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    slots: Mutex<HashMap<(CommandId, LeaseToken), Slot>>,
}

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<(CommandId, LeaseToken), Slot>> {
        // A panic while holding this lock leaves a consistent map (every operation is a
        // single insert/remove/read), so a poisoned lock is safe to keep using.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, id: CommandId, slot: Slot) {
        self.lock().insert((id, slot.lease), slot);
    }

    /// Forgets the attempt of `id` under `lease`.
    pub(crate) fn remove(&self, id: CommandId, lease: LeaseToken) {
        self.lock().remove(&(id, lease));
    }

    /// Stops every attempt of `id` here; returns whether there was one.
    pub(crate) fn stop(&self, id: CommandId, reason: StopReason) -> bool {
        let slots = self.lock();
        let mut found = false;
        for slot in slots.iter().filter(|((i, _), _)| *i == id).map(|(_, s)| s) {
            slot.stop(reason);
            found = true;
        }
        found
    }

    /// Stops every attempt.
    pub(crate) fn stop_all(&self, reason: StopReason) {
        for slot in self.lock().values() {
            slot.stop(reason);
        }
    }

    /// Stops `id` only if it still holds `lease`.
    pub(crate) fn stop_lease(&self, id: CommandId, lease: LeaseToken, reason: StopReason) {
        if let Some(slot) = self.lock().get(&(id, lease)) {
            slot.stop(reason);
        }
    }

    /// Records a renewed lease.
    pub(crate) fn renewed(&self, id: CommandId, lease: LeaseToken, until: Instant) {
        if let Some(slot) = self.lock().get_mut(&(id, lease)) {
            slot.lease_until = until;
        }
    }

    /// Stops every attempt not yet stopped whose lease (as last renewed) runs out before
    /// `before` while its deadline is later than that lease plus `margin`; returns them.
    /// One pass under the lock, without copying the slots.
    pub(crate) fn fence(
        &self,
        now: Instant,
        before: Instant,
        margin: Duration,
    ) -> Vec<(CommandId, Arc<crate::store::ClaimedCommand>)> {
        let slots = self.lock();
        let mut fenced = Vec::new();
        for ((id, _), slot) in slots.iter() {
            if slot.stop.get() == StopReason::None
                && now < slot.deadline
                && slot.lease_until < slot.deadline + margin
                && slot.lease_until <= before
            {
                slot.stop(StopReason::LeaseLost);
                fenced.push((*id, slot.claimed.clone()));
            }
        }
        fenced
    }

    /// The claimed command of the attempt of `id` under `lease`, while it is here.
    pub(crate) fn claimed(
        &self,
        id: CommandId,
        lease: LeaseToken,
    ) -> Option<Arc<crate::store::ClaimedCommand>> {
        self.lock()
            .get(&(id, lease))
            .map(|slot| slot.claimed.clone())
    }

    /// Every running attempt as `(id, slot)`.
    pub(crate) fn snapshot(&self) -> Vec<(CommandId, Slot)> {
        self.lock()
            .iter()
            .map(|((id, _), s)| (*id, s.clone()))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// How long a lease with `timeout` lasts from a claim or a renewal.
pub(crate) fn lease_span(remaining: Duration, ttl: Duration, buffer: Duration) -> Duration {
    remaining.min(ttl) + buffer
}
