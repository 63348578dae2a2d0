//! Cron jobs: a command materialised at every fire time of a schedule, exactly once per
//! fire time however many engines run.
//!
//! `orch.cron()` gives the [`Cron`] handle: [`Cron::upsert`] a [`Job`], pause, resume,
//! delete, [`Cron::trigger_now`], read jobs and their runs. The scheduler runs on the
//! elected leader only, once per `cron_interval` (1 s by default): for each job whose
//! next fire time has come it inserts the run (a command with the idempotency key
//! `cron:{job}:{fire time}`) and moves the job's next fire time on, in one transaction
//! fenced on the fire time it read. So a fire time never runs twice, even with two
//! leaders for a moment, and none is lost while any engine runs.
//!
//! # Missed fire times
//! A fire time the scheduler sees more than `cron_misfire_after` late (60 s by default:
//! every engine was down, say) was missed; the job's [`Misfire`] policy decides:
//! [`Misfire::RunOnce`] (the default) runs once now for all the missed ones (the run's
//! scheduled time is the first missed fire time), [`Misfire::RunAll`] runs each, oldest
//! first (up to 1,000 per scheduler pass, the rest at the next passes), [`Misfire::Skip`]
//! runs none. Fire times less late than that all run.
//!
//! # Overlap
//! When a fire time comes while an earlier run of the job is still pending or running, the
//! job's [`Overlap`] policy decides: [`Overlap::Allow`] (the default) runs it anyway,
//! [`Overlap::Skip`] drops that fire time, [`Overlap::Queue`] waits until the earlier run
//! ends and then runs it (one waiting fire time at most; later ones follow the misfire
//! policy).
//!
//! # History
//! Every run is a command row: [`Cron::runs`] lists a job's runs, newest fire time first,
//! with status, attempts, errors and output. Finished runs are deleted `cron_history`
//! (30 days) after they finished.
//!
//! See [`Schedule`] for the expression syntax, time zones and daylight saving time.

mod schedule;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use schedule::Schedule;

use crate::command::Command;
use crate::error::{ConfigError, Error, Result};
use crate::id::CommandId;
use crate::push::{NewCommand, Push, When};
use crate::store::{CommandRecord, CronStore, InsertCommand, StoreFuture};

/// The longest job name, in bytes (so `cron:{name}:{fire time}` fits an idempotency key).
pub const MAX_JOB_NAME_BYTES: usize = 200;

/// What happens to fire times missed while no scheduler ran (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Misfire {
    /// One run now stands for every missed fire time (keyed and dated by the first).
    #[default]
    RunOnce,
    /// Every missed fire time runs, oldest first (1,000 per scheduler pass).
    RunAll,
    /// Missed fire times do not run; the job waits for its next one.
    Skip,
}

/// What happens when a fire time comes while an earlier run is unfinished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Overlap {
    /// Run anyway, beside the earlier run.
    #[default]
    Allow,
    /// Drop this fire time.
    Skip,
    /// Run once the earlier run has ended.
    Queue,
}

impl Misfire {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RunOnce => "run_once",
            Self::RunAll => "run_all",
            Self::Skip => "skip",
        }
    }

    /// Reads a stored name (unknown names read as the default).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "run_all" => Self::RunAll,
            "skip" => Self::Skip,
            _ => Self::RunOnce,
        }
    }
}

impl Overlap {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Skip => "skip",
            Self::Queue => "queue",
        }
    }

    /// Reads a stored name (unknown names read as the default).
    pub fn from_stored(s: &str) -> Self {
        match s {
            "skip" => Self::Skip,
            "queue" => Self::Queue,
            _ => Self::Allow,
        }
    }
}

/// A cron job: a name, a schedule, a time zone and the command to run.
///
/// # Example
/// ```
/// use orch_core::cron::{Job, Overlap};
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Report { kind: String }
/// # impl orch_core::Command for Report { const NAME: &'static str = "report"; const TIMEOUT: Option<std::time::Duration> = None;
/// #   const RETRIES: Option<u32> = None; const TARGET: Option<&'static str> = None; type Output = (); }
/// let job = Job::new("nightly-report", "0 0 2 * * *", Report { kind: "sales".into() })
///     .time_zone("Europe/Paris")
///     .overlap(Overlap::Skip);
/// # let _ = job;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Job {
    name: String,
    schedule: String,
    time_zone: String,
    command: std::result::Result<NewCommand, (&'static str, String)>,
    misfire: Misfire,
    overlap: Overlap,
}

impl Job {
    /// A job named `name` running `cmd` at every fire time of `schedule` (5 or 6 fields,
    /// or a macro such as `@daily`; see [`Schedule`]), in UTC unless
    /// [`Job::time_zone`] says otherwise. The command's own timeout, retries and target
    /// apply to each run.
    pub fn new<C: Command>(name: impl Into<String>, schedule: impl Into<String>, cmd: C) -> Self {
        Self::with_push(name, schedule, cmd, Push::new())
    }

    /// [`Job::new`] with push options (target, timeout, retries) for every run. A run
    /// time or idempotency key in `push` is ignored: each run is due at its fire time and
    /// keyed by it.
    pub fn with_push<C: Command>(
        name: impl Into<String>,
        schedule: impl Into<String>,
        cmd: C,
        push: Push,
    ) -> Self {
        Self {
            name: name.into(),
            schedule: schedule.into(),
            time_zone: "UTC".to_owned(),
            command: NewCommand::from_command(&cmd, push).map_err(|e| (C::NAME, e.to_string())),
            misfire: Misfire::default(),
            overlap: Overlap::default(),
        }
    }

    /// The IANA time zone the schedule is read in (default `UTC`).
    pub fn time_zone(mut self, zone: impl Into<String>) -> Self {
        self.time_zone = zone.into();
        self
    }

    /// The policy for missed fire times (default [`Misfire::RunOnce`]).
    pub fn misfire(mut self, misfire: Misfire) -> Self {
        self.misfire = misfire;
        self
    }

    /// The policy for a fire time that comes while a run is unfinished (default
    /// [`Overlap::Allow`]).
    pub fn overlap(mut self, overlap: Overlap) -> Self {
        self.overlap = overlap;
        self
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A job as stored: validated, its command serialized with every default applied. (A
/// storage type: backends build it field by field.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobDefinition {
    /// The job's name.
    pub name: String,
    /// The schedule as given.
    pub schedule: String,
    /// The time zone's IANA name.
    pub time_zone: String,
    /// The command name of each run.
    pub command: String,
    /// The command's JSON payload.
    pub input: String,
    /// The instance key each run is routed to.
    pub target: String,
    /// Each run's timeout.
    pub timeout: Duration,
    /// Each run's attempts in all.
    pub max_attempts: u32,
    /// The misfire policy.
    pub misfire: Misfire,
    /// The overlap policy.
    pub overlap: Overlap,
}

/// A job as read back: its definition and schedule state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct JobInfo {
    /// What the job runs and when.
    pub definition: JobDefinition,
    /// Whether it is paused.
    pub paused: bool,
    /// The next fire time the scheduler will materialise (`None`: the schedule has no
    /// more).
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The latest fire time materialised.
    pub last_fire_at: Option<DateTime<Utc>>,
}

impl JobInfo {
    /// A job as a store read it.
    pub fn new(
        definition: JobDefinition,
        paused: bool,
        next_fire_at: Option<DateTime<Utc>>,
        last_fire_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            definition,
            paused,
            next_fire_at,
            last_fire_at,
        }
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }
}

/// What [`Cron::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Upserted {
    /// The job did not exist and was created.
    Created,
    /// The job's definition changed: it was updated and its next fire time recomputed.
    Updated,
    /// The same definition was already there: nothing changed.
    Unchanged,
}

/// What the cron handle needs from the engine's shared state.
pub(crate) trait CronOps: Send + Sync {
    fn cron_store(&self) -> &dyn CronStore;
    fn now(&self) -> StoreFuture<'_, DateTime<Utc>>;
    fn resolve(&self, new: NewCommand) -> Result<InsertCommand>;
    fn wake(&self);
}

/// Cron jobs on this database. Made by `Orch::cron`; cheap to clone.
#[derive(Clone)]
pub struct Cron {
    ops: Arc<dyn CronOps>,
}

impl std::fmt::Debug for Cron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cron").finish_non_exhaustive()
    }
}

impl Cron {
    pub(crate) fn new(ops: Arc<dyn CronOps>) -> Self {
        Self { ops }
    }

    /// Validates a job into its stored form.
    pub(crate) fn define(&self, job: &Job) -> Result<(JobDefinition, Schedule)> {
        validate_name(&job.name)?;
        let schedule = Schedule::parse(&job.schedule, &job.time_zone)?;
        let new = job
            .command
            .clone()
            .map_err(|(name, error)| Error::Serialize {
                name,
                source: serde::de::Error::custom(error),
            })?;
        let mut new = new;
        new.push.when = When::Now;
        new.push.idempotency_key = None;
        let resolved = self.ops.resolve(new)?;
        Ok((
            JobDefinition {
                name: job.name.clone(),
                schedule: job.schedule.trim().to_owned(),
                time_zone: schedule.time_zone().to_owned(),
                command: resolved.name,
                input: resolved.input,
                target: resolved.target,
                timeout: resolved.timeout,
                max_attempts: resolved.max_attempts,
                misfire: job.misfire,
                overlap: job.overlap,
            },
            schedule,
        ))
    }

    /// Creates the job, or updates it if its definition changed (its next fire time is
    /// then recomputed from now), or does nothing if it is the same. Idempotent: call it
    /// at every start. A paused job stays paused.
    ///
    /// # Errors
    /// A bad name, expression or time zone (the error names which and why), a command
    /// that does not serialize or breaks a limit, or a database failure.
    pub async fn upsert(&self, job: Job) -> Result<Upserted> {
        let (definition, schedule) = self.define(&job)?;
        let now = self.ops.now().await?;
        let next = schedule.next_after(now);
        Ok(self.ops.cron_store().upsert_job(&definition, next).await?)
    }

    /// Deletes a job; its past runs stay. Returns whether it existed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delete(&self, name: &str) -> Result<bool> {
        Ok(self.ops.cron_store().delete_job(name).await?)
    }

    /// Pauses a job: no fire time materialises until [`Cron::resume`]. Returns whether
    /// the job exists.
    ///
    /// # Errors
    /// The database failed.
    pub async fn pause(&self, name: &str) -> Result<bool> {
        Ok(self.ops.cron_store().pause_job(name).await?)
    }

    /// Resumes a paused job from its next fire time after now (fire times during the
    /// pause are not made up). Returns whether the job exists.
    ///
    /// # Errors
    /// The database failed, or the stored schedule no longer parses.
    pub async fn resume(&self, name: &str) -> Result<bool> {
        let Some(info) = self.ops.cron_store().get_job(name).await? else {
            return Ok(false);
        };
        let schedule = Schedule::parse(&info.definition.schedule, &info.definition.time_zone)?;
        let now = self.ops.now().await?;
        Ok(self
            .ops
            .cron_store()
            .resume_job(name, schedule.next_after(now))
            .await?)
    }

    /// Runs the job once now, its schedule unchanged; returns the run's id, or `None` if
    /// the job does not exist.
    ///
    /// # Errors
    /// The database failed.
    pub async fn trigger_now(&self, name: &str) -> Result<Option<CommandId>> {
        let Some(info) = self.ops.cron_store().get_job(name).await? else {
            return Ok(None);
        };
        let run = run_of(&info, None, When::Now);
        let pushed = self.ops.cron_store().trigger_job(name, &run).await?;
        self.ops.wake();
        Ok(pushed.map(|p| p.id))
    }

    /// Reads a job.
    ///
    /// # Errors
    /// The database failed.
    pub async fn get(&self, name: &str) -> Result<Option<JobInfo>> {
        Ok(self.ops.cron_store().get_job(name).await?)
    }

    /// Every job, by name.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self) -> Result<Vec<JobInfo>> {
        Ok(self.ops.cron_store().list_jobs().await?)
    }

    /// The job's run history, newest fire time first, at most `limit` (capped at
    /// 10,000): each run's scheduled time (`run_at`), start, end, status, attempts,
    /// errors and output.
    ///
    /// # Errors
    /// The database failed.
    pub async fn runs(&self, name: &str, limit: u32) -> Result<Vec<CommandRecord>> {
        Ok(self.ops.cron_store().job_runs(name, limit).await?)
    }
}

/// The run of `job` for `fire` (`None`: a manual run), due `when`.
pub(crate) fn run_of(job: &JobInfo, fire: Option<DateTime<Utc>>, when: When) -> InsertCommand {
    let job = &job.definition;
    let id = CommandId::new();
    let key = match fire {
        Some(at) => format!("cron:{}:{}", job.name, at.timestamp_micros()),
        None => format!("cron:{}:manual:{}", job.name, id.as_uuid().simple()),
    };
    InsertCommand {
        id,
        name: job.command.clone(),
        input: job.input.clone(),
        target: job.target.clone(),
        when,
        timeout: job.timeout,
        max_attempts: job.max_attempts,
        idempotency_key: Some(key),
        parent_id: None,
    }
}

fn validate_name(name: &str) -> std::result::Result<(), ConfigError> {
    let reason = if name.is_empty() {
        "must not be empty".to_owned()
    } else if name.len() > MAX_JOB_NAME_BYTES {
        format!("is {} bytes; at most {MAX_JOB_NAME_BYTES}", name.len())
    } else if name.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(ConfigError::invalid(
        "job name",
        format!("{name:?} {reason}"),
    ))
}
