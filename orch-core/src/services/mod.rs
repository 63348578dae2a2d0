//! Background services, all of one shape.
//!
//! A service is a [`Service`]: a name, an interval and a `run_once` pass that returns how
//! much it did. [`run`] drives every service the same way:
//! - **start:** the first pass runs at once (or after one interval, for services that ask);
//! - **interval:** then one pass per interval, skipped ticks not made up;
//! - **errors:** a failed pass is logged and the next tick tries again;
//! - **restart:** a pass that panics is logged as an error and the service runs again
//!   after a pause, so no background task dies silently;
//! - **stop:** when the token fires the loop ends between passes and [`Service::stop`] runs
//!   (a leader releases its lock, say). Stopping is idempotent and safe before start.
//!
//! Services that must run once per cluster (the reaper, the cron scheduler and the outbox
//! relay) run only on the elected leader: see [`leader`].

pub(crate) mod board;
pub(crate) mod fence;
pub(crate) mod heartbeat;
pub(crate) mod leader;
pub(crate) mod listener;
pub(crate) mod owed_follow_ups;
pub(crate) mod reaper;
pub(crate) mod relay;
pub(crate) mod scheduler;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

pub(crate) use board::ServiceBoard;

/// How long a service that panicked waits before its next pass.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// One background service.
pub(crate) trait Service: Send + 'static {
    /// The name used in logs.
    const NAME: &'static str;
    /// Whether the first pass waits one interval (heartbeats: nothing to renew at start).
    const FIRST_PASS_DELAYED: bool = false;
    /// Whether a pass lasts as long as the service (the listener): health checks then do
    /// not expect passes to end.
    const LONG_RUNNING: bool = false;

    /// The time between passes.
    fn interval(&self) -> Duration;

    /// A signal that starts the next pass early (the relay: an enqueue in this process).
    fn wake(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// One pass; returns how many items it handled (logged at debug level).
    fn run_once(&mut self) -> impl Future<Output = crate::Result<usize>> + Send;

    /// Runs once when the service stops.
    fn stop(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs `service` until `stop` fires (see the module docs), reporting on `board`.
pub(crate) async fn run<S: Service>(
    mut service: S,
    stop: CancellationToken,
    board: Arc<ServiceBoard>,
) {
    board.started(S::NAME, service.interval(), S::LONG_RUNNING);
    let mut tick = tokio::time::interval(service.interval());
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    if S::FIRST_PASS_DELAYED {
        tick.tick().await;
    }
    let wake = service.wake();
    loop {
        let woken = async {
            match &wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
            () = woken => tick.reset(),
        }
        board.pass_started(S::NAME);
        let pass = AssertUnwindSafe(service.run_once()).catch_unwind();
        let outcome = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            outcome = pass => outcome,
        };
        board.pass_ended(
            S::NAME,
            outcome
                .as_ref()
                .ok()
                .and_then(|r| r.as_ref().err())
                .map(ToString::to_string),
            outcome.is_err(),
        );
        match outcome {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => debug!(service = S::NAME, handled = n, "service pass"),
            Ok(Err(error)) => {
                warn!(service = S::NAME, %error, "service pass failed; retrying at the next tick");
            }
            Err(_) => {
                error!(
                    service = S::NAME,
                    "service pass panicked; restarting it after {RESTART_PAUSE:?}"
                );
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(RESTART_PAUSE) => {}
                }
            }
        }
    }
    if AssertUnwindSafe(service.stop())
        .catch_unwind()
        .await
        .is_err()
    {
        error!(service = S::NAME, "service panicked while stopping");
    }
    board.stopped(S::NAME);
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Flaky {
        passes: Arc<AtomicUsize>,
        stopped: Arc<AtomicUsize>,
    }

    impl Service for Flaky {
        const NAME: &'static str = "flaky";
        fn interval(&self) -> Duration {
            Duration::from_millis(10)
        }
        async fn run_once(&mut self) -> crate::Result<usize> {
            let n = self.passes.fetch_add(1, Ordering::SeqCst);
            match n % 3 {
                0 => panic!("pass {n} panics"),
                1 => Err(crate::Error::EngineFailed("pass fails".into())),
                _ => Ok(1),
            }
        }
        async fn stop(&mut self) {
            self.stopped.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn survives_errors_and_panics_and_stops_once() {
        let passes = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let board = Arc::new(ServiceBoard::default());
        let task = tokio::spawn(run(
            Flaky {
                passes: passes.clone(),
                stopped: stopped.clone(),
            },
            stop.clone(),
            board.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let seen = board.snapshot();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].alive);
        assert!(seen[0].panics >= 2 && seen[0].errors >= 2, "{seen:?}");
        stop.cancel();
        task.await.expect("the runner itself never panics");
        assert!(
            passes.load(Ordering::SeqCst) >= 6,
            "kept running after panics and errors"
        );
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_before_start_is_safe() {
        let stopped = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        stop.cancel();
        run(
            Flaky {
                passes: Arc::default(),
                stopped: stopped.clone(),
            },
            stop,
            Arc::default(),
        )
        .await;
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
    }
}
