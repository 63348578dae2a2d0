//! The cron scheduler (leader only): materialises every due fire time of every job as a
//! run, in one fenced transaction per job (see `crate::cron` for the policies), and
//! prunes old runs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::Service;
use crate::cron::{JobInfo, Misfire, Overlap, Schedule, run_of};
use crate::push::When;
use crate::shared::Shared;
use crate::store::Firing;

/// Most jobs handled per pass.
const JOBS_PER_PASS: u32 = 100;
/// Most missed fire times materialised for one job in one pass under `Misfire::RunAll`.
const MAX_RUNS_PER_FIRING: usize = 1000;
/// Passes between prunings of old runs.
const PRUNE_EVERY: u64 = 60;

/// The scheduler service.
pub(crate) struct Scheduler<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
    pub(crate) passes: u64,
}

impl<Tx: ?Sized + 'static> Service for Scheduler<Tx> {
    const NAME: &'static str = "scheduler";

    fn interval(&self) -> Duration {
        self.shared.config.cron_interval
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        self.passes += 1;
        if self.passes % PRUNE_EVERY == 1 {
            let pruned = self
                .shared
                .store
                .cron()
                .prune_runs(self.shared.config.cron_history)
                .await?;
            if pruned > 0 {
                info!(
                    pruned,
                    "deleted finished cron runs past their history period"
                );
            }
        }
        let due = self.shared.store.cron().due_jobs(JOBS_PER_PASS).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let now = self.shared.store.now().await?;
        let mut runs = 0;
        for job in &due {
            match self.fire(job, now).await {
                Ok(n) => runs += n,
                Err(error) => warn!(job = %job.name(), %error, "firing a cron job failed"),
            }
        }
        Ok(runs)
    }
}

/// The fire times from `first` (due) up to `now`, at most `max`, and the fire time after
/// the last of them.
fn fires_between(
    schedule: &Schedule,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
    max: usize,
) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut fires = vec![first];
    let mut next = schedule.next_after(first);
    while let Some(at) = next.filter(|at| *at <= now && fires.len() < max) {
        fires.push(at);
        next = schedule.next_after(at);
    }
    (fires, next)
}

impl<Tx: ?Sized + 'static> Scheduler<Tx> {
    /// Fires one due job; returns how many runs it inserted.
    async fn fire(&self, job: &JobInfo, now: DateTime<Utc>) -> crate::Result<usize> {
        let Some(expected_next) = job.next_fire_at else {
            return Ok(0);
        };
        let schedule = match Schedule::parse(&job.definition.schedule, &job.definition.time_zone) {
            Ok(schedule) => schedule,
            Err(error) => {
                warn!(job = %job.name(), %error, "a stored cron job no longer parses; pausing it");
                self.shared.store.cron().pause_job(job.name()).await?;
                return Ok(0);
            }
        };
        if job.definition.overlap != Overlap::Allow
            && self.shared.store.cron().active_runs(job.name()).await? > 0
        {
            if job.definition.overlap == Overlap::Queue {
                // Keep it due: it runs at the first pass after the earlier run ends.
                return Ok(0);
            }
            let next = schedule.next_after(now);
            debug!(job = %job.name(), "an earlier run is unfinished; fire times skipped");
            return self.apply(job, expected_next, next, Vec::new()).await;
        }
        let misfire_after = chrono::Duration::from_std(self.shared.config.cron_misfire_after)
            .unwrap_or(chrono::Duration::MAX);
        let cutoff = now.checked_sub_signed(misfire_after).unwrap_or(now);
        let (fires, next) = if expected_next > cutoff {
            // Nothing missed: every fire time up to now, each on time.
            fires_between(&schedule, expected_next, now, MAX_RUNS_PER_FIRING)
        } else {
            info!(job = %job.name(), first_missed = %expected_next, policy = job.definition.misfire.as_str(), "cron fire times were missed");
            match job.definition.misfire {
                // Oldest first, at most so many per pass; the rest at the next passes.
                Misfire::RunAll => {
                    fires_between(&schedule, expected_next, now, MAX_RUNS_PER_FIRING)
                }
                policy => {
                    // The fire times less late than the cutoff run; the missed ones are
                    // skipped, or stood for by one run keyed by the first of them.
                    let (mut fires, next) = match schedule.next_after(cutoff) {
                        Some(first) if first <= now => {
                            fires_between(&schedule, first, now, MAX_RUNS_PER_FIRING)
                        }
                        first => (Vec::new(), first),
                    };
                    if policy == Misfire::RunOnce {
                        fires.insert(0, expected_next);
                    }
                    (fires, next)
                }
            }
        };
        let runs = fires
            .into_iter()
            .map(|at| run_of(job, Some(at), When::At(at)))
            .collect();
        self.apply(job, expected_next, next, runs).await
    }

    async fn apply(
        &self,
        job: &JobInfo,
        expected_next: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        runs: Vec<crate::store::InsertCommand>,
    ) -> crate::Result<usize> {
        let n = runs.len();
        let firing = Firing {
            job: job.name().to_owned(),
            expected_next,
            next,
            runs,
        };
        if self.shared.store.cron().fire_job(&firing).await? {
            if n > 0 {
                self.shared.wake.notify_one();
            }
            debug!(job = %job.name(), runs = n, ?next, "cron job fired");
            Ok(n)
        } else {
            debug!(job = %job.name(), "cron job changed under the scheduler; it is read again next pass");
            Ok(0)
        }
    }
}
