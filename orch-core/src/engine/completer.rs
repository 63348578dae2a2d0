//! The completer: writes finished attempts in batches, many per transaction.
//!
//! No artificial delay: the first finish is written at once, and whatever arrives while a
//! write is in flight forms the next batch, so batches grow exactly as fast as load does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tracing::{debug, info, warn};

use crate::shared::Shared;
use crate::shared::record::{self, Transition};
use crate::store::Finish;

/// How long a batch is retried through database errors before it is given up; by then the
/// leases have expired and the reaper will hand the commands out again.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// A finished attempt on its way to the database, with the share of the engine's capacity
/// it holds until its result is written.
pub(crate) struct Done {
    pub(crate) finish: Finish,
    /// Returned once the result is written (or given up), so results waiting for a slow
    /// database are bounded: the producer claims nothing while they use up the capacity.
    pub(crate) unwritten: Option<OwnedSemaphorePermit>,
}

pub(crate) async fn run<Tx: ?Sized + 'static>(
    shared: Arc<Shared<Tx>>,
    mut rx: UnboundedReceiver<Done>,
    written: Arc<Notify>,
) {
    let max = shared.config.max_finish_batch;
    // Most bytes of outputs, errors and follow-up payloads written in one statement batch.
    let max_bytes = shared.store.max_statement_bytes();
    let mut received = Vec::with_capacity(max);
    let mut batch = Vec::with_capacity(max);
    let mut permits = Vec::with_capacity(max);
    while rx.recv_many(&mut received, max).await > 0 {
        for done in received.drain(..) {
            batch.push(done.finish);
            permits.push(done.unwritten);
        }
        // Bounded by bytes as well as rows, so large outputs never add up to a statement
        // the database refuses (MariaDB's `max_allowed_packet`: the store's bound).
        let mut start = 0;
        while start < batch.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < batch.len()
                && (end == start || bytes + record::weight(&batch[end]) <= max_bytes)
            {
                bytes += record::weight(&batch[end]);
                end += 1;
            }
            flush(&shared, &batch[start..end]).await;
            start = end;
        }
        for finish in batch.drain(..) {
            shared.inflight.remove(finish.id, finish.lease);
        }
        permits.clear();
        written.notify_one();
    }
}

/// Writes one batch, retrying transient errors with backoff; rows the database refuses are
/// isolated and recorded as `refused` attempts (see [`crate::shared::record`]).
pub(crate) async fn flush<Tx: ?Sized + 'static>(shared: &Shared<Tx>, batch: &[Finish]) {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut retried = false;
    let lookup = |id, lease| shared.inflight.claimed(id, lease);
    loop {
        match record::write(shared, batch, Transition::Finish, &lookup).await {
            Ok(written) => {
                let applied = written.applied;
                let lost = applied.iter().filter(|ok| !**ok).count();
                for (finish, ok) in batch.iter().zip(&applied) {
                    if *ok || written.unmovable.contains(&finish.id) {
                        continue;
                    }
                    if retried {
                        // The failed try may have committed before its connection died.
                        info!(command.id = %finish.id, "result not written on retry: an earlier try whose commit was ambiguous wrote it, or the lease was lost");
                    } else {
                        warn!(command.id = %finish.id, "lease lost before the result was recorded; result discarded");
                    }
                }
                debug!(
                    written = batch.len() - lost,
                    lost,
                    refused = written.refused,
                    "finish batch"
                );
                // Follow-ups committed with their parent are due now: engines in this
                // process look at once instead of at their next poll.
                if written.refused > 0
                    || batch
                        .iter()
                        .zip(&applied)
                        .any(|(finish, ok)| *ok && !finish.follow_ups.is_empty())
                {
                    shared.wake.notify_one();
                }
                return;
            }
            Err(error) if started.elapsed() < GIVE_UP_AFTER => {
                warn!(%error, size = batch.len(), "recording results failed; retrying");
                retried = true;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                warn!(%error, size = batch.len(), "recording results failed; giving up, the reaper will recover these commands");
                return;
            }
        }
    }
}
