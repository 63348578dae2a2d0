//! The completer: writes finished attempts in batches, many per transaction.
//!
//! No artificial delay: the first finish is written at once, and whatever arrives while a
//! write is in flight forms the next batch, so batches grow exactly as fast as load does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{debug, info, warn};

use crate::shared::Shared;
use crate::store::Finish;

/// How long a batch is retried through database errors before it is given up; by then the
/// leases have expired and the reaper will hand the commands out again.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

pub(crate) async fn run<Tx: ?Sized + 'static>(
    shared: Arc<Shared<Tx>>,
    mut rx: UnboundedReceiver<Finish>,
) {
    let max = shared.config.max_finish_batch;
    let mut batch = Vec::with_capacity(max);
    while rx.recv_many(&mut batch, max).await > 0 {
        flush(&shared, &batch).await;
        for finish in batch.drain(..) {
            shared.inflight.remove(finish.id, finish.lease);
        }
    }
}

/// Writes one batch, retrying transient errors with backoff.
pub(crate) async fn flush<Tx: ?Sized + 'static>(shared: &Shared<Tx>, batch: &[Finish]) {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    let mut retried = false;
    loop {
        match shared.commands().finish(batch).await {
            Ok(applied) => {
                let lost = applied.iter().filter(|ok| !**ok).count();
                for (finish, ok) in batch.iter().zip(&applied) {
                    if *ok {
                        continue;
                    }
                    if retried {
                        // The failed try may have committed before its connection died.
                        info!(command.id = %finish.id, "result not written on retry: an earlier try whose commit was ambiguous wrote it, or the lease was lost");
                    } else {
                        warn!(command.id = %finish.id, "lease lost before the result was recorded; result discarded");
                    }
                }
                debug!(written = batch.len() - lost, lost, "finish batch");
                // Follow-ups committed with their parent are due now: engines in this
                // process look at once instead of at their next poll.
                if batch
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
