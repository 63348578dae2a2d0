//! A soak's figures, as JSON or plain text, and the problems that fail it.

use std::fmt::Write;

use serde::Serialize;

use super::audit::Audit;
use super::config::Timings;
use super::cutter::CutStats;
use super::recovery::Recovery;

/// Everything one soak run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `postgres` or `mysql`.
    pub backend: String,
    /// The soak's own database (dropped after the run unless kept).
    pub database: String,
    /// Commands pushed.
    pub commands: u64,
    /// Engine processes kept running.
    pub engines: usize,
    /// Mean time between SIGKILLs, in milliseconds.
    pub kill_every_ms: u64,
    /// Time between connection cuts, in milliseconds (none: no cuts).
    pub cut_every_ms: Option<u64>,
    /// The engines' timings, in milliseconds.
    pub timings_ms: TimingsMs,
    /// Whether every command succeeded before the deadline.
    pub completed: bool,
    /// From the first push until every command succeeded (or the deadline), in seconds.
    pub seconds: f64,
    /// SIGKILLs sent.
    pub sigkills: u64,
    /// SIGKILLs that hit the leader (when it could be read).
    pub leader_kills: u64,
    /// The connection cuts.
    pub cuts: CutStats,
    /// Pushes tried again after a failure (their connection was cut).
    pub push_retries: u64,
    /// Engines that exited on their own once running, or would not stop at the end.
    pub unexpected_exits: Vec<String>,
    /// Engines that exited while starting (a cut connection; started again).
    pub start_failures: Vec<String>,
    /// What the database shows.
    pub audit: Audit,
    /// Kill-to-re-run times.
    pub recovery: Recovery,
}

/// [`Timings`] in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
#[allow(
    missing_docs,
    reason = "each field is the Timings field of the same name"
)]
pub struct TimingsMs {
    pub lease_ttl: u128,
    pub lease_buffer: u128,
    pub heartbeat_interval: u128,
    pub reaper_interval: u128,
    pub leader_ttl: u128,
    pub poll_interval: u128,
    pub retry_base: u128,
}

impl From<&Timings> for TimingsMs {
    fn from(t: &Timings) -> Self {
        Self {
            lease_ttl: t.lease_ttl.as_millis(),
            lease_buffer: t.lease_buffer.as_millis(),
            heartbeat_interval: t.heartbeat_interval.as_millis(),
            reaper_interval: t.reaper_interval.as_millis(),
            leader_ttl: t.leader_ttl.as_millis(),
            poll_interval: t.poll_interval.as_millis(),
            retry_base: t.retry_base.as_millis(),
        }
    }
}

impl Report {
    /// What fails the run: anything lost, unfinished or run against the delivery
    /// contract, an engine that died by itself, an attempt that failed for a reason the
    /// chaos does not explain. Empty when the soak passed.
    pub fn problems(&self) -> Vec<String> {
        let a = &self.audit;
        let mut problems = Vec::new();
        let mut check = |bad: bool, what: String| {
            if bad {
                problems.push(what);
            }
        };
        check(
            !self.completed,
            "not every command succeeded before the deadline".into(),
        );
        check(
            a.unpushed > 0,
            format!("{} commands never pushed", a.unpushed),
        );
        check(a.lost > 0, format!("{} commands lost", a.lost));
        check(
            a.unexpected > 0,
            format!("{} commands nobody pushed", a.unexpected),
        );
        check(
            a.not_succeeded > 0,
            format!(
                "{} commands did not succeed: {:?}",
                a.not_succeeded, a.statuses
            ),
        );
        check(
            a.violations > 0,
            format!(
                "{} delivery violations: {:?}",
                a.violations, a.violation_examples
            ),
        );
        check(
            !a.other_failures.is_empty(),
            format!(
                "attempts failed other than lease_expired: {:?}",
                a.other_failures
            ),
        );
        check(
            !self.unexpected_exits.is_empty(),
            format!("engines exited unasked: {:?}", self.unexpected_exits),
        );
        problems
    }

    /// The report as plain text, one figure a line.
    pub fn plain(&self) -> String {
        let a = &self.audit;
        let r = &self.recovery;
        let mut out = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(out, "{label:<28} {value}");
        };
        line("backend", format!("{} ({})", self.backend, self.database));
        line(
            "size",
            format!("{} commands, {} engines", self.commands, self.engines),
        );
        line(
            "chaos",
            format!(
                "SIGKILL every ~{} ms, connections cut every {}",
                self.kill_every_ms,
                self.cut_every_ms
                    .map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms"))
            ),
        );
        line(
            "completed",
            format!("{} in {:.1} s", self.completed, self.seconds),
        );
        line(
            "sigkills",
            format!("{} ({} of the leader)", self.sigkills, self.leader_kills),
        );
        line(
            "connection cuts",
            format!(
                "{} rounds, {} connections ({} rounds failed)",
                self.cuts.rounds, self.cuts.connections, self.cuts.failed_rounds
            ),
        );
        line("push retries", self.push_retries.to_string());
        line(
            "unexpected engine exits",
            self.unexpected_exits.len().to_string(),
        );
        line("lost", a.lost.to_string());
        line("statuses", format!("{:?}", a.statuses));
        line("executions", a.executions.to_string());
        line(
            "duplicates",
            format!(
                "{} commands, {} extra executions ({} after a SIGKILL, {} after a lapsed lease)",
                a.duplicates,
                a.extra_executions,
                a.duplicates_after_sigkill,
                a.duplicates_after_lapse
            ),
        );
        line(
            "lease_expired attempts",
            a.lease_expired_attempts.to_string(),
        );
        line("other failed attempts", format!("{:?}", a.other_failures));
        line("fenced-path violations", a.violations.to_string());
        line(
            "kill to re-run",
            format!(
                "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms over {} commands of {} kills; bound {:.0} ms ({} over)",
                r.p50_ms,
                r.p99_ms,
                r.max_ms,
                r.samples,
                r.kills_with_reruns,
                r.bound_ms,
                r.over_bound
            ),
        );
        for problem in self.problems() {
            line("PROBLEM", problem);
        }
        out
    }
}
