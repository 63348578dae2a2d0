//! [`CronStore`]: cron job definitions and their runs.
//!
//! A job's row holds its definition and `next_fire_at`, the fire time the scheduler will
//! materialise next. Firing is one transaction fenced on that value: the runs are inserted
//! (each with the idempotency key `cron:{job}:{fire time}`, so one fire time never makes
//! two runs) and `next_fire_at` moves on only if it still holds the value the scheduler
//! read. Two schedulers (a leader and one that lost its lock but has not noticed) cannot
//! double a run.

use chrono::{DateTime, Utc};

use super::StoreFuture;
use super::commands::{CommandRecord, InsertCommand};
use crate::cron::{JobDefinition, JobInfo, Upserted};
use crate::push::Pushed;

/// One firing of a job, as the scheduler decided it.
#[derive(Debug, Clone)]
pub struct Firing {
    /// The job.
    pub job: String,
    /// The `next_fire_at` the scheduler read; nothing happens unless it still holds.
    pub expected_next: DateTime<Utc>,
    /// The job's next fire time after this firing (`None`: the schedule has no more), or
    /// the same as `expected_next` to keep it due (overlap policy `queue`).
    pub next: Option<DateTime<Utc>>,
    /// The runs to insert (none when the fire times were skipped).
    pub runs: Vec<InsertCommand>,
}

/// Durable cron jobs.
pub trait CronStore: Send + Sync {
    /// Inserts the job, or updates it when its definition changed (with `next_fire_at`
    /// as given), or leaves it alone when it is the same. A paused job stays paused.
    fn upsert_job<'a>(
        &'a self,
        job: &'a JobDefinition,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> StoreFuture<'a, Upserted>;

    /// Deletes a job (its past runs stay); returns whether it existed.
    fn delete_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool>;

    /// Pauses a job; returns whether it existed.
    fn pause_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool>;

    /// Resumes a job from `next_fire_at` (fire times during the pause are not made up);
    /// returns whether it existed.
    fn resume_job<'a>(
        &'a self,
        name: &'a str,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> StoreFuture<'a, bool>;

    /// Reads one job.
    fn get_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<JobInfo>>;

    /// Every job, by name.
    fn list_jobs(&self) -> StoreFuture<'_, Vec<JobInfo>>;

    /// Jobs not paused whose `next_fire_at` has come by the database's clock, soonest
    /// first, at most `limit`.
    fn due_jobs(&self, limit: u32) -> StoreFuture<'_, Vec<JobInfo>>;

    /// Applies a firing (see the module docs); returns whether it applied.
    fn fire_job<'a>(&'a self, firing: &'a Firing) -> StoreFuture<'a, bool>;

    /// Inserts an extra run of a job now, its schedule unchanged; `None` when the job
    /// does not exist.
    fn trigger_job<'a>(
        &'a self,
        name: &'a str,
        run: &'a InsertCommand,
    ) -> StoreFuture<'a, Option<Pushed>>;

    /// How many runs of the job are pending or running.
    fn active_runs<'a>(&'a self, name: &'a str) -> StoreFuture<'a, u64>;

    /// The job's runs, newest fire time first, at most `limit` (capped at 10,000).
    fn job_runs<'a>(&'a self, name: &'a str, limit: u32) -> StoreFuture<'a, Vec<CommandRecord>>;

    /// Deletes finished runs (with their errors) that finished more than `older_than`
    /// ago; returns how many.
    fn prune_runs(&self, older_than: std::time::Duration) -> StoreFuture<'_, u64>;
}
