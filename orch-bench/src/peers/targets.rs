//! The targets as ratios. Each compares one of orch's figures with a peer's, a
//! bare-SQL limit or orch's own peak, all from the same run, against the bar the issue sets.
//! A target whose figures are missing says why instead of guessing.

use orch::config::{DEFAULT_CONCURRENCY, DEFAULT_MAX_CLAIM};
use serde::Serialize;

use super::claims::LoneClaims;
use super::scripts::{Peer, PeerFigure};
use super::wakeups::{P50_BOUND_MS, P99_BOUND_MS};
use super::{MANY_WORKERS, MOST_WORKERS, OrchFigures, SCALE_OUT_PROCESSES};
use crate::measure::Percentiles;

/// Workers of the peers compared with orch's defaults (item 1).
const PEER_DEFAULT_WORKERS: usize = 100;
/// orch's PostgreSQL peak in the delete-on-success mode, in words.
const DELETING_PEAK: &str = "orch PostgreSQL peak, deleting what succeeds";
/// [`Target::unit`] of a throughput.
pub(crate) const PER_SECOND: &str = "/s";
/// [`Target::unit`] of a latency.
pub(crate) const MILLISECONDS: &str = " ms";

/// One target: orch's figure, what it is compared with, and the bar their ratio must reach.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    /// The item number.
    pub(crate) item: &'static str,
    /// orch's side, in words.
    pub(crate) orch_label: String,
    /// orch's figure, in [`Self::unit`].
    pub(crate) orch: Option<f64>,
    /// The reference's side, in words.
    pub(crate) reference_label: String,
    /// The reference figure, in [`Self::unit`].
    pub(crate) reference: Option<f64>,
    /// What both figures count: `/s` (throughput) or ` ms` (latency).
    pub(crate) unit: &'static str,
    /// orch / reference.
    pub(crate) ratio: Option<f64>,
    /// The least ratio that meets the target (the most, if [`Self::at_most`]); `None` where
    /// this mode measures no ratio.
    pub(crate) bar: Option<f64>,
    /// Whether the ratio must stay at or under the bar (a bound on latency) rather than
    /// reach it.
    pub(crate) at_most: bool,
    /// `met`, `missed by X %` (X: how far the ratio falls short of the bar, or for a bound
    /// how far it goes over, as a share of the bar), `not measured: …`, or for a figure
    /// the issue asks to state rather than bound, `stated`.
    pub(crate) result: String,
    /// Why a missed target is missed, from this run's figures, where the run measures it.
    pub(crate) why: Option<String>,
}

/// A figure, or why it is missing.
type Figure = Result<f64, String>;
/// Reads one percentile of a latency.
type Percentile = fn(&Percentiles) -> f64;

/// Every target of the issue, in its order; those this mode cannot measure say so.
pub(crate) fn all(orch: &OrchFigures, peers: &[PeerFigure]) -> Vec<Target> {
    let f = Figures { orch, peers };
    let defaults = format!(
        "orch PostgreSQL drain at its defaults ({DEFAULT_CONCURRENCY} workers, claims of {DEFAULT_MAX_CLAIM})"
    );
    let pg_defaults = f.orch_at("postgres", DEFAULT_CONCURRENCY);
    let pg_peak = f.orch_peak("postgres");
    let best_at_100 = best_of([
        f.peer_at(Peer::ApalisPostgres, Some(PEER_DEFAULT_WORKERS)),
        f.peer_at(Peer::RiverPostgres, Some(PEER_DEFAULT_WORKERS)),
    ]);
    let mut targets = vec![
        compare(
            "1",
            &defaults,
            pg_defaults.clone(),
            &format!("best of apalis and River at {PEER_DEFAULT_WORKERS} workers"),
            best_at_100,
            2.0,
        ),
        f.one_claim_in_flight(compare(
            "1",
            &defaults,
            pg_defaults,
            "orch PostgreSQL peak",
            pg_peak.clone(),
            0.7,
        )),
        compare(
            "2",
            "orch PostgreSQL peak",
            pg_peak.clone(),
            "River PostgreSQL peak",
            f.peer_best(Peer::RiverPostgres),
            2.0,
        ),
        f.keeping_against_the_limit(compare(
            "2",
            "orch PostgreSQL peak",
            pg_peak.clone(),
            Peer::PostgresDrainLimit.label(),
            f.peer_at(Peer::PostgresDrainLimit, None),
            0.7,
        )),
        compare(
            "2",
            DELETING_PEAK,
            f.orch_peak_deleting("postgres"),
            "River PostgreSQL peak",
            f.peer_best(Peer::RiverPostgres),
            2.0,
        ),
        // Like for like: the limit deletes each row it finishes.
        f.against_eight_claims(compare(
            "2",
            DELETING_PEAK,
            f.orch_peak_deleting("postgres"),
            Peer::PostgresDrainLimit.label(),
            f.peer_at(Peer::PostgresDrainLimit, None),
            0.7,
        )),
        f.the_table_bounds_pushes(f.pushes_against(Peer::PostgresCommitLimit)),
        f.pushes_against(Peer::PostgresCommitLimitOrchTable),
    ];
    targets.extend(f.wakeups());
    targets.extend([
        f.scale_out("postgres"),
        f.scale_out("mysql"),
        f.drained_once("postgres", compare(
            "5",
            &format!("orch PostgreSQL drain, {MOST_WORKERS} workers"),
            f.orch_at("postgres", MOST_WORKERS),
            "orch PostgreSQL peak",
            pg_peak,
            0.9,
        )),
        f.drained_once("mysql", compare(
            "5",
            &format!("orch MariaDB drain, {MANY_WORKERS} workers"),
            f.orch_at("mysql", MANY_WORKERS),
            "orch MariaDB peak",
            f.orch_peak("mysql"),
            0.9,
        )),
        f.drained_once("sqlite", compare(
            "5",
            &format!("orch SQLite drain, {MANY_WORKERS} workers"),
            f.orch_at("sqlite", MANY_WORKERS),
            "orch SQLite peak",
            f.orch_peak("sqlite"),
            0.9,
        )),
        // Like for like: the limit claims 100 rows per cycle, as orch does at its defaults
        // (its peak claims 500, and so pays fewer commits per row than the limit does).
        compare(
            "6",
            &format!(
                "orch MariaDB drain at its defaults ({DEFAULT_CONCURRENCY} workers, claims of {DEFAULT_MAX_CLAIM})"
            ),
            f.orch_at("mysql", DEFAULT_CONCURRENCY),
            Peer::MariaDbDrainLimit.label(),
            f.peer_at(Peer::MariaDbDrainLimit, None),
            0.4,
        ),
        compare(
            "6",
            "orch SQLite peak",
            f.orch_peak("sqlite"),
            "River SQLite peak",
            f.peer_best(Peer::RiverSqlite),
            5.0,
        ),
        Target {
            result: "this table, and the JSON's `peers` key".to_owned(),
            ..unmeasured("7", "peers' figures beside orch's, in one run", "")
        },
    ]);
    targets.into_iter().map(without_a_measured_reason).collect()
}

/// A missed target no figure of this run explains says so, rather than leave its reason
/// blank.
fn without_a_measured_reason(target: Target) -> Target {
    target.because(|| {
        "this run measures nothing that explains it; on this machine kind one drain or \
         script moves by up to a fifth between runs (BENCHMARKS.md)"
            .to_owned()
    })
}

/// orch's figure over the reference, against `bar`.
fn compare(
    item: &'static str,
    orch_label: &str,
    orch: Figure,
    reference_label: &str,
    reference: Figure,
    bar: f64,
) -> Target {
    let ratio = match (&orch, &reference) {
        (Ok(o), Ok(r)) if *r > 0.0 => Ok(o / r),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        _ => Err("the reference is zero".to_owned()),
    };
    let result = match ratio {
        Ok(ratio) if ratio >= bar => "met".to_owned(),
        Ok(ratio) => missed_by(ratio, bar),
        Err(ref e) => format!("not measured: {e}"),
    };
    Target {
        item,
        orch_label: orch_label.to_owned(),
        orch: orch.ok(),
        reference_label: reference_label.to_owned(),
        reference: reference.ok(),
        unit: PER_SECOND,
        ratio: ratio.ok(),
        bar: Some(bar),
        at_most: false,
        result,
        why: None,
    }
}

/// orch's latency in milliseconds against the issue's `bound_ms`, which it must not exceed.
fn within(item: &'static str, orch_label: &str, orch_ms: Figure, bound_ms: f64) -> Target {
    let ratio = orch_ms.clone().map(|ms| ms / bound_ms);
    let result = match &ratio {
        Ok(ratio) if *ratio <= 1.0 => "met".to_owned(),
        Ok(ratio) => format!("missed by {:.0} %", (ratio - 1.0) * 100.0),
        Err(e) => format!("not measured: {e}"),
    };
    Target {
        item,
        orch_label: orch_label.to_owned(),
        orch: orch_ms.ok(),
        reference_label: "the issue's bound".to_owned(),
        reference: Some(bound_ms),
        unit: MILLISECONDS,
        ratio: ratio.ok(),
        bar: Some(1.0),
        at_most: true,
        result,
        why: None,
    }
}

/// A figure the issue asks to state, without a bar: `text`, or why it is missing.
fn stated(item: &'static str, what: &str, text: Result<String, String>) -> Target {
    Target {
        result: match text {
            Ok(text) => format!("stated: {text}"),
            Err(e) => format!("not measured: {e}"),
        },
        ..unmeasured(item, what, "")
    }
}

impl Target {
    /// Whether the ratio was measured and falls short of the bar (goes over a bound).
    fn missed(&self) -> bool {
        match (self.ratio, self.bar) {
            (Some(ratio), Some(bar)) if self.at_most => ratio > bar,
            (Some(ratio), Some(bar)) => ratio < bar,
            _ => false,
        }
    }

    /// `why`, if the target is missed and has no reason yet.
    fn because(mut self, why: impl FnOnce() -> String) -> Self {
        if self.missed() && self.why.is_none() {
            self.why = Some(why());
        }
        self
    }
}

/// How far `ratio` falls short of `bar`, as a share of the bar: in whole per cent, or to a
/// tenth below 1 % (never "0 %").
fn missed_by(ratio: f64, bar: f64) -> String {
    let short = (1.0 - ratio / bar) * 100.0;
    if short < 0.95 {
        format!("missed by {:.1} %", short.max(0.1))
    } else {
        format!("missed by {short:.0} %")
    }
}

/// A target this mode does not measure, and why.
fn unmeasured(item: &'static str, what: &str, why: &str) -> Target {
    Target {
        item,
        orch_label: what.to_owned(),
        orch: None,
        reference_label: String::new(),
        reference: None,
        unit: PER_SECOND,
        ratio: None,
        bar: None,
        at_most: false,
        result: format!("not measured: {why}"),
        why: None,
    }
}

/// The best of figures that must all be present (the first missing one's reason if not).
fn best_of(figures: impl IntoIterator<Item = Figure>) -> Figure {
    figures
        .into_iter()
        .try_fold(0.0_f64, |best, figure| figure.map(|v| best.max(v)))
}

/// `runs` as "a · b/s".
fn runs_text(runs: &[f64]) -> String {
    let each: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
    format!("{}/s", each.join(" · "))
}

/// How far apart the fastest and slowest of `runs` are, as a share of the fastest.
fn spread(runs: &[f64]) -> f64 {
    let most = runs.iter().copied().fold(0.0_f64, f64::max);
    let least = runs.iter().copied().fold(f64::INFINITY, f64::min);
    if most > 0.0 {
        (most - least) / most
    } else {
        0.0
    }
}

/// How often an idle SQLite or MariaDB engine's wake probe looks by default, in
/// milliseconds (0: it does not).
fn wake_probe_ms() -> u128 {
    orch::SeaStoreConfig::default()
        .wake_probe
        .map_or(0, |every| every.as_millis())
}

/// A backend's display name as the rows write it.
fn shown(backend: &str) -> &str {
    match backend {
        "sqlite" => "SQLite",
        "mysql" => "MariaDB",
        "postgres" => "PostgreSQL",
        other => other,
    }
}

/// A `per_s`/`error` pair as a [`Figure`].
fn value(per_s: Option<f64>, error: Option<&String>) -> Figure {
    per_s.ok_or_else(|| error.cloned().unwrap_or_else(|| "not run".to_owned()))
}

/// Both sides' figures, looked up by what a target needs.
struct Figures<'a> {
    orch: &'a OrchFigures,
    peers: &'a [PeerFigure],
}

impl Figures<'_> {
    /// orch's drain on `backend` with `workers`, keeping what succeeded.
    fn orch_at(&self, backend: &str, workers: usize) -> Figure {
        self.orch_drain(backend, workers, false)
    }

    /// orch's drain on `backend` with `workers`, deleting what succeeded or not.
    fn orch_drain(&self, backend: &str, workers: usize, delete: bool) -> Figure {
        let drain =
            self.orch.drains.iter().find(|d| {
                d.backend == backend && d.workers == workers && d.delete_succeeded == delete
            });
        let mode = if delete { ", deleting" } else { "" };
        match drain {
            Some(d) => value(d.per_s, d.error.as_ref())
                .map_err(|e| format!("orch {backend} with {workers} workers{mode}: {e}")),
            None => Err(format!(
                "{backend} with {workers} workers{mode} not run (see --backends)"
            )),
        }
    }

    /// orch's best drain on `backend` keeping what succeeded: a peak only if every
    /// configuration was measured.
    fn orch_peak(&self, backend: &str) -> Figure {
        self.best_drain(backend, false)
    }

    /// orch's best drain on `backend` deleting what succeeded.
    fn orch_peak_deleting(&self, backend: &str) -> Figure {
        self.best_drain(backend, true)
    }

    fn best_drain(&self, backend: &str, delete: bool) -> Figure {
        let drains = self
            .orch
            .drains
            .iter()
            .filter(|d| d.backend == backend && d.delete_succeeded == delete);
        let figures: Vec<Figure> = drains
            .map(|d| self.orch_drain(backend, d.workers, delete))
            .collect();
        if figures.is_empty() {
            return Err(format!("no {backend} drain run (see --backends)"));
        }
        best_of(figures)
    }

    /// Item 3: orch's single pushes against one of the commit limits.
    fn pushes_against(&self, limit: Peer) -> Target {
        compare(
            "3",
            &format!(
                "orch PostgreSQL single pushes, {} producers",
                self.orch.producers
            ),
            value(
                self.orch.push_concurrent_per_s,
                self.orch.push_error.as_ref(),
            ),
            limit.label(),
            self.peer_at(limit, None),
            0.6,
        )
    }

    /// Item 5's scale-out on `backend`: the processes together against one alone.
    fn scale_out(&self, backend: &str) -> Target {
        let shown = shown(backend);
        let run = self.orch.scale_out.iter().find(|s| s.backend == backend);
        let (together, alone) = match run {
            Some(s) => match (&s.fleet, &s.error) {
                (Some(f), _) => (Ok(f.all_per_s), Ok(f.one_per_s)),
                (None, e) => {
                    let e = e.clone().unwrap_or_else(|| "not run".to_owned());
                    (Err(e.clone()), Err(e))
                }
            },
            None => {
                let e = format!("{backend} not in --backends");
                (Err(e.clone()), Err(e))
            }
        };
        let split = run
            .and_then(|s| s.fleet.as_ref())
            .map(|f| format!(" (commands per process: {})", f.split_text()))
            .unwrap_or_default();
        // Both sides' claims take turns (`serialize_claims`).
        let turns = ", claims taking turns";
        let target = compare(
            "5",
            &format!(
                "{SCALE_OUT_PROCESSES} orch processes on one {shown}, {MANY_WORKERS} workers each{turns}{split}"
            ),
            together,
            &format!("one orch process, {MANY_WORKERS} workers{turns}"),
            alone,
            0.9,
        );
        let fleet = run.and_then(|s| s.fleet.as_ref());
        target.because(|| match fleet {
            Some(f) => format!(
                "each side is the mean of two drains: one process alone drained {} \
                 ({:.1} % apart), {SCALE_OUT_PROCESSES} together {} ({:.1} % apart); \
                 the {SCALE_OUT_PROCESSES} engines and the server share this machine's cores",
                runs_text(&f.one_runs),
                spread(&f.one_runs) * 100.0,
                runs_text(&f.all_runs),
                spread(&f.all_runs) * 100.0
            ),
            None => "the figures are missing".to_owned(),
        })
    }

    /// Item 5's drain at many workers against the peak, missed: each configuration drains
    /// once, so the shortfall is set against how far two drains of one configuration in
    /// this run's scale-out fell apart.
    fn drained_once(&self, backend: &str, target: Target) -> Target {
        let fleet = self
            .orch
            .scale_out
            .iter()
            .find(|s| s.backend == backend)
            .and_then(|s| s.fleet.as_ref());
        let short = target
            .ratio
            .zip(target.bar)
            .map_or(0.0, |(ratio, bar)| (1.0 - ratio / bar) * 100.0);
        target.because(|| match fleet {
            Some(f) => format!(
                "each configuration drained once; two drains of one process with \
                 {MANY_WORKERS} workers in this run's scale-out differed by {:.1} % ({}), \
                 against a shortfall of {short:.1} %",
                spread(&f.one_runs) * 100.0,
                runs_text(&f.one_runs)
            ),
            None => format!(
                "each configuration drained once, and this backend has no scale-out run to \
                 show how far two drains of one configuration fall apart (shortfall \
                 {short:.1} %)"
            ),
        })
    }

    /// Item 4: cross-process push-to-start against its bounds, and the idle cost, per
    /// backend measured; the in-process wake-ups are the test suite's.
    fn wakeups(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for w in &self.orch.wakeups {
            let shown = shown(w.backend);
            let latency = w.across_processes.as_ref().ok_or_else(|| {
                w.across_processes_error
                    .clone()
                    .unwrap_or_else(|| "not run".to_owned())
            });
            let samples = latency.as_ref().map_or(0, |p| p.samples);
            let bounds: [(&str, Percentile, f64); 2] = [
                ("p50", |p| p.p50, P50_BOUND_MS),
                ("p99", |p| p.p99, P99_BOUND_MS),
            ];
            for (which, read, bound) in bounds {
                let figure = latency.clone().map(read);
                let target = within(
                    "4",
                    &format!(
                        "push-to-start from another process on {shown}, idle engine, {which} of {samples} probes"
                    ),
                    figure,
                    bound,
                );
                let tail = latency.clone().ok();
                out.push(target.because(|| match tail {
                    Some(p) => format!(
                        "the wake probe looks every {} ms, so a push waits up to that long to \
                         be seen, then a claim; p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, \
                         slowest {:.1} ms",
                        wake_probe_ms(),
                        p.p50,
                        p.p90,
                        p.p99,
                        p.max
                    ),
                    None => "the figures are missing".to_owned(),
                }));
            }
            let idle = w
                .idle
                .as_ref()
                .ok_or_else(|| w.idle_error.clone().unwrap_or_else(|| "not run".to_owned()));
            out.push(stated(
                "4",
                &format!("what that idle engine costs on {shown}"),
                idle.map(|i| {
                    let server = i.server_per_s.map_or_else(
                        || format!("the server sees {}", i.counted),
                        |per_s| format!("the server sees {per_s:.1} {}/s", i.counted),
                    );
                    format!(
                        "{:.2} % of a core over {:.0} s; {server}",
                        i.cpu_percent, i.seconds
                    )
                }),
            ));
        }
        out.push(stated(
            "4",
            "wake-ups in the process: a push through another handle, a `push_in` when its \
             transaction commits, a follow-up committed with its parent's finish",
            Ok(
                "start without waiting for a poll on every backend, checked by the test \
                suite (`push_from_elsewhere_starts_without_waiting_for_a_poll`, \
                `push_in_starts_when_the_transaction_commits`, \
                `follow_up_starts_without_waiting_for_a_poll`); not timed here"
                    .to_owned(),
            ),
        ));
        out
    }

    /// Item 1 against the peak, missed: at the defaults the workers hold one claim's
    /// worth, so claiming and running take turns; how long the claims take alone says how
    /// much of each turn is the claim.
    fn one_claim_in_flight(&self, target: Target) -> Target {
        let lone = self.lone_claims();
        let defaults = target.orch;
        target.because(|| match (lone, defaults) {
            (Ok(lone), Some(defaults)) => {
                let LoneClaims {
                    small,
                    small_ms,
                    wide,
                    wide_ms,
                } = lone;
                let period_ms = f64::from(small) / defaults * 1000.0;
                let (small_rate, wide_rate) = (lone.small_rate(), lone.wide_rate());
                let share = small_rate / wide_rate * 100.0;
                format!(
                    "{DEFAULT_CONCURRENCY} workers hold one claim of {small} and no more, so \
                     claiming and running take turns: a claim came every {period_ms:.2} ms, of \
                     which a lone claim of {small} takes {small_ms:.2} ms here; with \
                     {MOST_WORKERS} workers, claims of {wide} ({wide_ms:.2} ms alone) follow each \
                     other while the handlers of the last ones run. Back to back, claims of \
                     {small} alone would allow {small_rate:.0}/s and claims of {wide} \
                     {wide_rate:.0}/s ({share:.1} %)"
                )
            }
            (Err(e), _) => format!("lone claims not measured: {e}"),
            (_, None) => "the figures are missing".to_owned(),
        })
    }

    /// Item 2 keeping rows against the limit (which deletes them), missed: whether the
    /// documented delete-on-success mode meets the bar, and why keeping costs more.
    fn keeping_against_the_limit(&self, target: Target) -> Target {
        let deleting = self.orch_peak_deleting("postgres");
        let keeping = target.orch;
        let ratio = target
            .reference
            .zip(deleting.as_ref().ok())
            .map(|(r, d)| d / r);
        target.because(|| match (keeping, deleting, ratio) {
            (Some(keeping), Ok(deleting), Some(ratio)) => format!(
                "the limit deletes each row it finishes, where keeping writes the row again: \
                 deleting what succeeds (`delete_succeeded`, item 2's documented mode) drains \
                 {deleting:.0}/s against {keeping:.0}/s, {:.1} % of the limit",
                ratio * 100.0
            ),
            (_, Err(e), _) => format!("the deleting peak was not measured: {e}"),
            _ => "the figures are missing".to_owned(),
        })
    }

    /// Item 2 deleting against the limit, missed: the limit's clients claim eight at once,
    /// an engine one at a time.
    fn against_eight_claims(&self, target: Target) -> Target {
        let lone = self.lone_claims();
        target.because(|| match lone {
            Ok(lone) => format!(
                "the limit has eight claims in flight, from C on the server's own socket; an \
                 engine one, whose handlers and results share the two cores: a lone claim of {} \
                 took {:.2} ms here, {:.0}/s back to back",
                lone.wide,
                lone.wide_ms,
                lone.wide_rate()
            ),
            Err(e) => format!("lone claims not measured: {e}"),
        })
    }

    /// Item 3 against the one-index table, missed: how fast the same server commits single
    /// rows into orch's own table, with its indexes, and how close the pushes come to that.
    fn the_table_bounds_pushes(&self, target: Target) -> Target {
        let own = self.peer_at(Peer::PostgresCommitLimitOrchTable, None);
        let (pushes, limit) = (target.orch, target.reference);
        target.because(|| match (pushes, limit, own) {
            (Some(pushes), Some(limit), Ok(own)) if limit > 0.0 && own > 0.0 => format!(
                "orch's table costs more per commit than the limit's one-index table: pgbench \
                 committed single rows into orch's table at {own:.0}/s, {:.1} % of its rate \
                 into the one-index table, and orch's pushes reached {:.1} % of that",
                own / limit * 100.0,
                pushes / own * 100.0
            ),
            (_, _, Err(e)) => format!("the commit limit on orch's table was not measured: {e}"),
            _ => "the figures are missing".to_owned(),
        })
    }

    /// The lone claims, or why they are missing.
    fn lone_claims(&self) -> Result<LoneClaims, String> {
        self.orch.lone_claims.ok_or_else(|| {
            self.orch
                .lone_claims_error
                .clone()
                .unwrap_or_else(|| "not run".to_owned())
        })
    }

    /// `peer`'s figure at `workers`.
    fn peer_at(&self, peer: Peer, workers: Option<usize>) -> Figure {
        let figure = self
            .peers
            .iter()
            .find(|f| f.peer == peer && f.workers == workers);
        match figure {
            Some(f) => {
                value(f.per_s, f.error.as_ref()).map_err(|e| format!("{}: {e}", peer.label()))
            }
            None => Err(format!("{} not run", peer.label())),
        }
    }

    /// `peer`'s best figure over its worker counts, only if every one was measured (a
    /// peak over fewer would flatter orch).
    fn peer_best(&self, peer: Peer) -> Figure {
        let runs = self.peers.iter().filter(|f| f.peer == peer);
        let figures: Vec<Figure> = runs.map(|f| self.peer_at(peer, f.workers)).collect();
        if figures.is_empty() {
            return Err(format!("{} not run", peer.label()));
        }
        best_of(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::super::wakeups::Wakeups;
    use super::*;

    #[test]
    fn a_ratio_short_of_its_bar_says_by_how_much() {
        let t = compare("1", "orch", Ok(150.0), "peer", Ok(100.0), 2.0);
        assert_eq!(t.result, "missed by 25 %");
        let t = compare("2", "orch", Ok(69.93), "peer", Ok(100.0), 0.7);
        assert_eq!(t.result, "missed by 0.1 %");
        let t = compare("1", "orch", Ok(210.0), "peer", Ok(100.0), 2.0);
        assert_eq!(t.result, "met");
    }

    #[test]
    fn only_a_missed_target_says_why() {
        let met = compare("1", "orch", Ok(80.0), "peak", Ok(100.0), 0.7);
        assert_eq!(met.because(|| "reason".to_owned()).why, None);
        let missed = compare("1", "orch", Ok(60.0), "peak", Ok(100.0), 0.7);
        assert_eq!(
            missed.because(|| "reason".to_owned()).why.as_deref(),
            Some("reason")
        );
        let unmeasured = compare("1", "orch", Err("gone".to_owned()), "peak", Ok(1.0), 0.7);
        assert_eq!(unmeasured.because(|| "reason".to_owned()).why, None);
    }

    #[test]
    fn a_missed_default_drain_is_explained_by_its_claims() {
        let orch = OrchFigures {
            drains: Vec::new(),
            producers: 8,
            push_concurrent_per_s: None,
            push_error: None,
            scale_out: Vec::new(),
            lone_claims: Some(LoneClaims {
                small: 100,
                small_ms: 2.0,
                wide: 500,
                wide_ms: 8.0,
            }),
            lone_claims_error: None,
            wakeups: Vec::new(),
        };
        let f = Figures {
            orch: &orch,
            peers: &[],
        };
        let target = compare("1", "defaults", Ok(25_000.0), "peak", Ok(50_000.0), 0.7);
        let why = f.one_claim_in_flight(target).why.unwrap_or_default();
        assert!(why.contains("every 4.00 ms"), "{why}");
        assert!(why.contains("lone claim of 100 takes 2.00 ms"), "{why}");
        assert!(why.contains("500 (8.00 ms alone)"), "{why}");
        assert!(
            why.contains("allow 50000/s and claims of 500 62500/s (80.0 %)"),
            "{why}"
        );
    }

    #[test]
    fn missed_pushes_are_set_against_the_commit_rate_on_orchs_table() {
        let orch = OrchFigures {
            drains: Vec::new(),
            producers: 8,
            push_concurrent_per_s: Some(5_000.0),
            push_error: None,
            scale_out: Vec::new(),
            lone_claims: None,
            lone_claims_error: Some("not run".to_owned()),
            wakeups: Vec::new(),
        };
        let limit = |peer, per_s| PeerFigure {
            peer,
            workers: None,
            per_s: Some(per_s),
            script: String::new(),
            line: None,
            error: None,
        };
        let peers = [
            limit(Peer::PostgresCommitLimit, 10_000.0),
            limit(Peer::PostgresCommitLimitOrchTable, 6_250.0),
        ];
        let f = Figures {
            orch: &orch,
            peers: &peers,
        };
        let target = f.the_table_bounds_pushes(f.pushes_against(Peer::PostgresCommitLimit));
        assert_eq!(target.result, "missed by 17 %");
        let why = target.why.unwrap_or_default();
        assert!(why.contains("at 6250/s, 62.5 %"), "{why}");
        assert!(why.contains("reached 80.0 %"), "{why}");
        let met = f.pushes_against(Peer::PostgresCommitLimitOrchTable);
        assert_eq!(met.result, "met");
    }

    #[test]
    fn every_missed_target_gives_a_reason() {
        let orch = with(Vec::new(), Vec::new());
        let river = |workers, per_s| PeerFigure {
            peer: Peer::RiverSqlite,
            workers: Some(workers),
            per_s: Some(per_s),
            script: String::new(),
            line: None,
            error: None,
        };
        let drain = |workers, per_s| super::super::OrchDrain {
            backend: "sqlite",
            workers,
            claim: 100,
            delete_succeeded: false,
            per_s: Some(per_s),
            error: None,
        };
        let orch = OrchFigures {
            drains: vec![drain(100, 30_000.0), drain(1_000, 40_000.0)],
            ..orch
        };
        let peers = [river(100, 9_000.0), river(1_000, 10_000.0)];
        let targets = all(&orch, &peers);
        let sqlite = targets
            .iter()
            .find(|t| t.item == "6" && t.orch_label == "orch SQLite peak")
            .expect("the SQLite row");
        assert_eq!(sqlite.result, "missed by 20 %");
        assert!(sqlite.why.is_some());
        for t in &targets {
            assert_eq!(t.missed(), t.why.is_some(), "{t:?}");
        }
    }

    #[test]
    fn a_missing_side_is_not_measured_with_its_reason() {
        let t = compare(
            "2",
            "orch",
            Ok(1.0),
            "peer",
            Err("peer: exit 1".to_owned()),
            2.0,
        );
        assert_eq!(t.result, "not measured: peer: exit 1");
        assert!(best_of([Ok(1.0), Err("apalis missing".to_owned())]).is_err());
        assert_eq!(best_of([Ok(1.0), Ok(3.0)]), Ok(3.0));
    }

    /// Figures with only `scale_out` and `wakeups` filled.
    fn with(scale_out: Vec<super::super::ScaleOut>, wakeups: Vec<Wakeups>) -> OrchFigures {
        OrchFigures {
            drains: Vec::new(),
            producers: 8,
            push_concurrent_per_s: None,
            push_error: None,
            scale_out,
            lone_claims: None,
            lone_claims_error: Some("not run".to_owned()),
            wakeups,
        }
    }

    #[test]
    fn a_latency_over_its_bound_is_missed_and_says_why() {
        let latency = crate::measure::Percentiles {
            p50: 60.0,
            p90: 80.0,
            p99: 100.0,
            max: 120.0,
            samples: 200,
        };
        let idle = crate::idle::Idle {
            backend: "sqlite",
            seconds: 5.0,
            cpu_percent: 1.0,
            server_per_s: None,
            counted: "nothing (no server)",
        };
        let orch = with(
            Vec::new(),
            vec![Wakeups {
                backend: "sqlite",
                across_processes: Some(latency),
                across_processes_error: None,
                idle: Some(idle),
                idle_error: None,
            }],
        );
        let f = Figures {
            orch: &orch,
            peers: &[],
        };
        let rows = f.wakeups();
        assert_eq!(rows.len(), 4, "p50, p99, the idle cost, the in-process row");
        assert_eq!(rows[0].result, "missed by 20 %");
        assert!(
            rows[0].orch_label.contains("SQLite"),
            "{}",
            rows[0].orch_label
        );
        let why = rows[0].why.clone().unwrap_or_default();
        assert!(why.contains("p99 100.0 ms, slowest 120.0 ms"), "{why}");
        assert_eq!(rows[1].result, "met");
        assert_eq!(rows[1].why, None);
        assert_eq!(
            rows[2].result,
            "stated: 1.00 % of a core over 5 s; the server sees nothing (no server)"
        );
        assert!(rows[3].result.starts_with("stated: "), "{}", rows[3].result);
    }

    #[test]
    fn unmeasured_wake_ups_say_why() {
        let orch = with(
            Vec::new(),
            vec![Wakeups {
                backend: "mysql",
                across_processes: None,
                across_processes_error: Some("child exited".to_owned()),
                idle: None,
                idle_error: Some("server gone".to_owned()),
            }],
        );
        let f = Figures {
            orch: &orch,
            peers: &[],
        };
        let rows = f.wakeups();
        assert_eq!(rows[0].result, "not measured: child exited");
        assert_eq!(rows[2].result, "not measured: server gone");
    }

    #[test]
    fn a_missed_scale_out_shows_how_far_repeated_drains_fell_apart() {
        let fleet = crate::fleet::Fleet {
            backend: "postgres",
            commands: 1_000,
            workers: 1_000,
            claim: 500,
            one_per_s: 95.0,
            one_runs: vec![100.0, 90.0],
            processes: 4,
            all_per_s: 82.0,
            all_runs: vec![80.0, 84.0],
            splits: Vec::new(),
        };
        let scale_out = vec![super::super::ScaleOut {
            backend: "postgres",
            fleet: Some(fleet),
            error: None,
        }];
        let orch = with(scale_out, Vec::new());
        let f = Figures {
            orch: &orch,
            peers: &[],
        };
        let target = f.scale_out("postgres");
        assert_eq!(target.result, "missed by 4 %");
        let why = target.why.unwrap_or_default();
        assert!(why.contains("drained 100 · 90/s (10.0 % apart)"), "{why}");
        assert!(why.contains("together 80 · 84/s (4.8 % apart)"), "{why}");
        let once = f.drained_once(
            "postgres",
            compare("5", "5000 workers", Ok(80.0), "peak", Ok(100.0), 0.9),
        );
        let why = once.why.unwrap_or_default();
        assert!(why.contains("differed by 10.0 % (100 · 90/s)"), "{why}");
        assert!(why.contains("shortfall of 11.1 %"), "{why}");
    }
}
