//! Recovery after each SIGKILL: from the kill to the re-run start of every command the
//! killed engine had executed without its result being recorded.

use std::collections::HashMap;

use serde::Serialize;

use super::audit::Evidence;
use super::config::Timings;
use super::fleet::Kill;

/// Most samples over the bound described one by one.
const DESCRIBED: usize = 10;

/// Kill-to-re-run times, against the bound the engines' timings give.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovery {
    /// Commands re-run after a kill (one sample each).
    pub samples: u64,
    /// Kills that left at least one command to re-run.
    pub kills_with_reruns: u64,
    /// Median kill-to-re-run time, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, in milliseconds.
    pub p99_ms: f64,
    /// Longest, in milliseconds.
    pub max_ms: f64,
    /// The bound: lease span + leader hand-over + reaper interval (the README's), plus the
    /// first backoff and one poll, in milliseconds.
    pub bound_ms: f64,
    /// Samples over the bound.
    pub over_bound: u64,
    /// The slowest samples over the bound, described.
    pub over_bound_examples: Vec<String>,
    /// Commands whose next attempt after the kill was lost too (claimed by an engine
    /// killed before it started the handler), so their re-run waited for two
    /// recoveries; not sampled.
    pub chained: u64,
}

impl Recovery {
    /// Measures every kill in `kills` against `evidence`.
    pub(crate) fn of(evidence: &Evidence, kills: &[Kill], timings: &Timings) -> Self {
        let killed_at: HashMap<&str, i64> =
            kills.iter().map(|k| (k.engine.as_str(), k.at_us)).collect();
        let mut samples_us = Vec::new();
        let mut slow = Vec::new();
        let mut chained = 0;
        let mut kills_with_reruns = std::collections::HashSet::new();
        for (id, executions) in &evidence.executions {
            let Some(row) = evidence.commands.get(id) else {
                continue;
            };
            for (i, e) in executions.iter().enumerate() {
                let Some(&kill_us) = killed_at.get(e.engine.as_str()) else {
                    continue;
                };
                // The recorded attempt, or one started after the kill, was not cut short.
                if e.attempt >= row.attempts || e.started_us > kill_us {
                    continue;
                }
                let rerun = executions[i + 1..]
                    .iter()
                    .find(|next| next.attempt > e.attempt);
                // A re-run before the kill followed a lapsed lease, not the kill.
                let Some(rerun) = rerun.filter(|r| r.started_us >= kill_us) else {
                    continue;
                };
                if rerun.attempt > e.attempt + 1 {
                    chained += 1;
                    continue;
                }
                let took = rerun.started_us - kill_us;
                samples_us.push(took);
                kills_with_reruns.insert(e.engine.as_str());
                slow.push((
                    took,
                    format!(
                        "{id} attempt {} in engine {}: re-run {:.0} ms after the kill by engine {}",
                        e.attempt,
                        e.engine,
                        took as f64 / 1000.0,
                        rerun.engine
                    ),
                ));
            }
        }
        samples_us.sort_unstable();
        let bound_ms = timings.recovery_bound().as_secs_f64() * 1000.0;
        let ms = |us: i64| us as f64 / 1000.0;
        Self {
            samples: samples_us.len() as u64,
            kills_with_reruns: kills_with_reruns.len() as u64,
            p50_ms: percentile(&samples_us, 0.50).map_or(0.0, ms),
            p99_ms: percentile(&samples_us, 0.99).map_or(0.0, ms),
            max_ms: samples_us.last().copied().map_or(0.0, ms),
            bound_ms,
            over_bound: samples_us.iter().filter(|us| ms(**us) > bound_ms).count() as u64,
            over_bound_examples: {
                slow.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
                slow.into_iter()
                    .take_while(|(took, _)| ms(*took) > bound_ms)
                    .take(DESCRIBED)
                    .map(|(_, what)| what)
                    .collect()
            },
            chained,
        }
    }
}

/// The nearest-rank percentile `q` (0..=1) of sorted `values`.
fn percentile(values: &[i64], q: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
