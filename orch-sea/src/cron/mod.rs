//! The cron face on sea-orm: [`CronStore`] for [`SeaStore`]. Definitions live in
//! `{prefix}cron_jobs`; runs are command rows whose `cron_job` column names their job.

mod fire;
mod jobs;

use std::time::Duration;

use chrono::{DateTime, Utc};
use orch_core::Pushed;
use orch_core::cron::{JobDefinition, JobInfo, Upserted};
use orch_core::store::{CommandRecord, CronStore, Firing, InsertCommand, StoreFuture};

use crate::store::SeaStore;

impl CronStore for SeaStore {
    fn upsert_job<'a>(
        &'a self,
        job: &'a JobDefinition,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> StoreFuture<'a, Upserted> {
        Box::pin(jobs::upsert(self, job, next_fire_at))
    }

    fn delete_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(jobs::delete(self, name))
    }

    fn pause_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(jobs::set_paused(self, name, true, None))
    }

    fn resume_job<'a>(
        &'a self,
        name: &'a str,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(jobs::set_paused(self, name, false, next_fire_at))
    }

    fn get_job<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<JobInfo>> {
        Box::pin(async move { Ok(jobs::read(self, Some(name), false, 1).await?.pop()) })
    }

    fn list_jobs(&self) -> StoreFuture<'_, Vec<JobInfo>> {
        Box::pin(jobs::read(self, None, false, 100_000))
    }

    fn due_jobs(&self, limit: u32) -> StoreFuture<'_, Vec<JobInfo>> {
        Box::pin(jobs::read(self, None, true, limit))
    }

    fn fire_job<'a>(&'a self, firing: &'a Firing) -> StoreFuture<'a, bool> {
        Box::pin(fire::fire(self, firing))
    }

    fn trigger_job<'a>(
        &'a self,
        name: &'a str,
        run: &'a InsertCommand,
    ) -> StoreFuture<'a, Option<Pushed>> {
        Box::pin(fire::trigger(self, name, run))
    }

    fn active_runs<'a>(&'a self, name: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(fire::active_runs(self, name))
    }

    fn job_runs<'a>(&'a self, name: &'a str, limit: u32) -> StoreFuture<'a, Vec<CommandRecord>> {
        Box::pin(fire::runs(self, name, limit))
    }

    fn prune_runs(&self, older_than: Duration) -> StoreFuture<'_, u64> {
        Box::pin(fire::prune(self, older_than))
    }
}
