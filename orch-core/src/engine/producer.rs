//! The producer: claims batches sized to free capacity and starts an executor per command.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::completer::Done;
use super::executor::execute;
use crate::id::LeaseToken;
use crate::shared::inflight::{Slot, lease_span};
use crate::shared::{LOOK_AGAIN, Shared};
use crate::store::{ClaimParams, Finish, FinishOutcome};

/// Longest a claim under load waits for a whole batch of capacity (see
/// [`Producer::fill_up`]).
const FILL_UP_WAIT: Duration = Duration::from_millis(2);

/// Pause after a failed claim, doubling up to [`LAST_ERROR_PAUSE`] while claims keep
/// failing. Short at first: a claim that met a connection the server had dropped (the claims
/// pool does not test a connection in steady use before handing it out) fails once, and the
/// next, on another connection, succeeds.
const FIRST_ERROR_PAUSE: Duration = Duration::from_millis(10);
/// Longest pause between failing claims (the database is away).
const LAST_ERROR_PAUSE: Duration = Duration::from_secs(5);

pub(crate) struct Producer<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
    /// Handlers running at once.
    pub(crate) slots: Arc<Semaphore>,
    /// Claimed commands whose results are not written yet (running or waiting for the
    /// completer).
    pub(crate) unwritten: Arc<Semaphore>,
    /// Woken when either frees up.
    pub(crate) slot_freed: Arc<Notify>,
    pub(crate) tasks: TaskTracker,
    pub(crate) done: UnboundedSender<Done>,
}

impl<Tx: ?Sized + 'static> Producer<Tx> {
    /// Claims and starts commands until `stop` fires.
    pub(crate) async fn run(self, stop: CancellationToken) {
        let config = &self.shared.config;
        let batch = config
            .max_claim
            .min(u32::try_from(config.concurrency).unwrap_or(u32::MAX));
        // Under load, wait for a quarter batch of free slots so claims stay batched.
        let threshold = (batch / 4).max(1) as usize;
        let mut names: Vec<String> = self
            .shared
            .registry
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        names.sort();
        let mut error_pause = FIRST_ERROR_PAUSE;
        let mut seen_pushes = 0;
        let mut look_again = [].iter();
        let mut last_full = false;
        while !stop.is_cancelled() {
            if names.is_empty() {
                warn!("no handlers registered: this engine will claim nothing");
                stop.cancelled().await;
                break;
            }
            let free = self.free();
            if free < threshold {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.slot_freed.notified() => continue,
                }
            }
            // Under load (the last claim came back full), a part of a batch waits a moment
            // for the rest: handlers started together free their slots together, and a
            // claim of a whole batch costs one round trip, as a claim of a quarter does.
            let free = if last_full && free < batch as usize {
                self.fill_up(free, batch as usize, &stop).await
            } else {
                free
            };
            let limit = (free as u32).min(batch);
            let params = ClaimParams {
                worker: self.shared.worker,
                token: LeaseToken::new(),
                names: names.clone(),
                targets: config.instance_keys.clone(),
                limit,
                lease_ttl: config.lease_ttl,
                lease_buffer: config.lease_buffer,
            };
            let pushes = self
                .shared
                .pushes
                .load(std::sync::atomic::Ordering::Relaxed);
            let claimed_at = Instant::now();
            let claimed = match self.shared.commands().claim(&params).await {
                Ok(claimed) => {
                    error_pause = FIRST_ERROR_PAUSE;
                    claimed
                }
                Err(error) => {
                    warn!(%error, "claiming commands failed; retrying after {error_pause:?}");
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(error_pause) => {}
                    }
                    error_pause = (error_pause * 2).min(LAST_ERROR_PAUSE);
                    continue;
                }
            };
            let got = claimed.len();
            last_full = got == limit as usize;
            debug!(limit, got, "claimed");
            for cmd in claimed {
                self.start(cmd, claimed_at);
            }
            if got < limit as usize {
                // Nothing more is due now: sleep until woken or the next poll. After a push
                // in this process that found nothing (a `push_in` whose transaction had
                // not committed yet), look again a few times first.
                if got == 0 && pushes != seen_pushes {
                    look_again = LOOK_AGAIN.iter();
                } else if got > 0 {
                    look_again = [].iter();
                }
                seen_pushes = pushes;
                let pause = look_again.next().copied().unwrap_or(config.poll_interval);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = self.shared.wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }

    /// Free capacity, once a whole `batch` is free or [`FILL_UP_WAIT`] has passed since
    /// `free` was counted, whichever comes first.
    async fn fill_up(&self, mut free: usize, batch: usize, stop: &CancellationToken) -> usize {
        let until = Instant::now() + FILL_UP_WAIT;
        while free < batch {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(until) => break,
                () = self.slot_freed.notified() => {}
            }
            free = self.free();
        }
        free.max(self.free())
    }

    /// Capacity for more claimed commands: free slots, within the bound on results not
    /// written yet.
    fn free(&self) -> usize {
        self.slots
            .available_permits()
            .min(self.unwritten.available_permits())
    }

    fn start(&self, cmd: crate::store::ClaimedCommand, claimed_at: Instant) {
        let cmd = Arc::new(cmd);
        let config = &self.shared.config;
        // Neither can happen (claims filter on registered names and are sized to free
        // slots), but if one did, the command goes back untouched.
        let (Some(entry), Ok(permit), Ok(unwritten)) = (
            self.shared.registry.entry(&cmd.name).cloned(),
            self.slots.clone().try_acquire_owned(),
            self.unwritten.clone().try_acquire_owned(),
        ) else {
            let _ = self.done.send(Done {
                finish: Finish {
                    id: cmd.id,
                    lease: cmd.lease,
                    outcome: FinishOutcome::Release,
                    follow_ups: Vec::new(),
                },
                unwritten: None,
            });
            return;
        };
        let slot = Slot {
            lease: cmd.lease,
            cancel: CancellationToken::new(),
            abort: CancellationToken::new(),
            stop: Arc::default(),
            claimed: cmd.clone(),
            lease_until: claimed_at
                + lease_span(cmd.timeout, config.lease_ttl, config.lease_buffer),
            // Saturates: a row written by hand or by an older version cannot overflow it.
            deadline: Instant::now().checked_add(cmd.timeout).unwrap_or_else(|| {
                Instant::now() + std::time::Duration::from_secs(365 * 24 * 3600)
            }),
        };
        self.shared.inflight.insert(cmd.id, slot.clone());
        let shared = self.shared.clone();
        let done = self.done.clone();
        let slot_freed = self.slot_freed.clone();
        self.tasks.spawn(async move {
            execute(shared, entry, cmd, slot, done, unwritten).await;
            drop(permit);
            slot_freed.notify_one();
        });
    }
}
