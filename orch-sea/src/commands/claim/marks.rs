//! Where a PostgreSQL claim starts reading the claim index while a backlog drains: the
//! claimed rows' index entries stay in it until `VACUUM`.
//!
//! PostgreSQL keeps a row's old index entries when the row changes: a claimed row (no
//! longer pending) leaves its entry in the partial claim index until the table is
//! vacuumed, and autovacuum comes at most once a minute, after a fifth of the table has
//! changed. A claim that read each pair's range from its start walked every entry claimed
//! since the last vacuum before reaching a pending row: with 150,000 such entries, a claim
//! of 100 read 1,246 index pages in 3.8 ms instead of 7 pages in 0.12 ms, and a drain of
//! 400,000 ran at three quarters the rate of one of 50,000.
//!
//! So while claims come back full (a backlog), the next claim of the same pairs reads from
//! a little before the earliest row the last one took ([`LAG_US`] earlier by due time):
//! claims take rows in due order, so the pending rows behind that point are only rows
//! committed after their due time had been passed by then (a long transaction's
//! `push_in`, a push due at a time already gone, a row left pending by a claimer that
//! died mid-claim, or one changed by hand). A claim reads every range from the start
//! instead (a sweep)
//! - when the last claim of these pairs came back short of its limit (no backlog), so an
//!   engine that keeps up claims exactly as before;
//! - at once, in the same call, when a claim from the mark comes back short: the rows
//!   behind the mark are then taken before the engine waits for work;
//! - at least once every [`SWEEP`] while claims come back full, so a row behind the mark
//!   waits at most that long in a backlog;
//! - after a failed claim (a claim that passed over rows the failed one held may have
//!   moved the mark past them).
//!
//! SQLite removes a row's index entry when the row changes, and MySQL/MariaDB purge them
//! in the background within moments: their claims always read from the start.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use orch_core::store::ClaimParams;

/// How far before the earliest row the last claim took (by due time, in microseconds) the
/// next claim starts reading: a row due that much before it and committed since is still
/// read without a sweep.
pub(crate) const LAG_US: i64 = 100_000;

/// The longest claims of one set of pairs go on reading from a mark, while they come back
/// full, before one reads every range from the start.
pub(crate) const SWEEP: Duration = Duration::from_secs(1);

/// The marks of one store, one per set of served pairs.
#[derive(Default)]
pub(crate) struct ClaimMarks {
    marks: Mutex<HashMap<String, Mark>>,
}

struct Mark {
    /// The due time the next claim reads from: set while claims come back full.
    from: Option<i64>,
    /// When the last sweep of these pairs started.
    swept_at: Instant,
}

/// A claim under way: where it reads from, and what it needs to record its result.
pub(crate) struct Start {
    key: String,
    /// The due time this claim reads from; `i64::MIN` for a sweep.
    pub(crate) from: i64,
    /// When this claim started, if it is a sweep.
    sweep: Option<Instant>,
}

impl Start {
    /// Whether this claim reads from a mark rather than from the start.
    pub(crate) fn reads_from_mark(&self) -> bool {
        self.sweep.is_none()
    }

    /// Turns this claim into a sweep (after a claim from the mark came back short).
    pub(crate) fn sweep_now(&mut self) {
        self.from = i64::MIN;
        self.sweep = Some(Instant::now());
    }
}

impl ClaimMarks {
    /// The marks, locked (nothing done while they are held can panic, so a poisoned lock
    /// still holds whole marks).
    fn marks(&self) -> MutexGuard<'_, HashMap<String, Mark>> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where a claim of `params`' pairs reads from: the mark, if the last claim came back
    /// full and the last sweep is younger than [`SWEEP`]; otherwise the start of each range.
    pub(crate) fn start(&self, params: &ClaimParams) -> Start {
        self.start_key(key(params))
    }

    fn start_key(&self, key: String) -> Start {
        let now = Instant::now();
        let from = self
            .marks()
            .get(&key)
            .filter(|mark| now.duration_since(mark.swept_at) < SWEEP)
            .and_then(|mark| mark.from);
        Start {
            key,
            from: from.unwrap_or(i64::MIN),
            sweep: from.is_none().then_some(now),
        }
    }

    /// Records a claim's result: `full` when it took as many rows as it asked for, and
    /// `earliest`, the smallest due time among them. The next claim reads from
    /// [`LAG_US`] before `earliest` only after a full claim.
    pub(crate) fn record(&self, start: Start, full: bool, earliest: Option<i64>) {
        let mut marks = self.marks();
        let mark = marks.entry(start.key).or_insert_with(|| Mark {
            from: None,
            // Never swept here (or forgotten while this claim ran): sweep first.
            swept_at: Instant::now()
                .checked_sub(SWEEP)
                .unwrap_or_else(Instant::now),
        });
        if let Some(swept_at) = start.sweep {
            mark.swept_at = swept_at;
        }
        mark.from = match earliest {
            Some(earliest) if full => Some(earliest.saturating_sub(LAG_US)),
            _ => None,
        };
    }

    /// A claim of these pairs failed: the next one sweeps.
    pub(crate) fn forget(&self, start: Start) {
        self.marks().remove(&start.key);
    }
}

/// The set of pairs a claim serves, as one key.
fn key(params: &ClaimParams) -> String {
    let mut key = String::new();
    for name in &params.names {
        key.push_str(name);
        key.push('\u{1f}');
    }
    key.push('\u{1e}');
    for target in &params.targets {
        key.push_str(target);
        key.push('\u{1f}');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ClaimMarks {
        fn at(&self, key: &str) -> Start {
            self.start_key(key.to_owned())
        }
    }

    #[test]
    fn after_a_full_claim_the_next_reads_from_before_its_earliest_row() {
        let marks = ClaimMarks::default();
        let first = marks.at("a");
        assert!(!first.reads_from_mark());
        assert_eq!(first.from, i64::MIN);
        marks.record(first, true, Some(5_000_000));
        let next = marks.at("a");
        assert!(next.reads_from_mark());
        assert_eq!(next.from, 5_000_000 - LAG_US);
        // Another set of pairs has a mark of its own.
        assert_eq!(marks.at("b").from, i64::MIN);
    }

    #[test]
    fn after_a_short_claim_the_next_sweeps() {
        let marks = ClaimMarks::default();
        let first = marks.at("a");
        marks.record(first, true, Some(5_000_000));
        let short = marks.at("a");
        marks.record(short, false, Some(6_000_000));
        assert_eq!(marks.at("a").from, i64::MIN);
        let empty = marks.at("a");
        marks.record(empty, true, None);
        assert_eq!(marks.at("a").from, i64::MIN);
    }

    #[test]
    fn a_failed_claim_makes_the_next_one_sweep() {
        let marks = ClaimMarks::default();
        let first = marks.at("a");
        marks.record(first, true, Some(5_000_000));
        let failed = marks.at("a");
        marks.forget(failed);
        assert_eq!(marks.at("a").from, i64::MIN);
    }

    #[test]
    fn a_claim_from_the_mark_turned_into_a_sweep_counts_as_one() {
        let marks = ClaimMarks::default();
        let first = marks.at("a");
        marks.record(first, true, Some(5_000_000));
        let mut next = marks.at("a");
        next.sweep_now();
        assert!(!next.reads_from_mark());
        assert_eq!(next.from, i64::MIN);
        marks.record(next, true, Some(7_000_000));
        assert_eq!(marks.at("a").from, 7_000_000 - LAG_US);
    }
}
