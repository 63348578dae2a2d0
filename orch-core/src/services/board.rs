//! [`ServiceBoard`]: what each background service of an engine is doing, for health
//! checks.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// How long past its interval a periodic service may go without finishing a pass before
/// it counts as stuck.
const STUCK_AFTER: Duration = Duration::from_secs(60);

/// One service as a health check reports it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ServiceHealth {
    /// The service (`heartbeat`, `listener`, `leader`, `reaper`, …).
    pub name: &'static str,
    /// Whether its loop is not stuck: a periodic service finished a pass (well
    /// or with an error) within three intervals plus a minute; a long-running one (the
    /// listener) is inside its pass.
    pub alive: bool,
    /// Passes that failed with an error since the engine started.
    pub errors: u64,
    /// Passes that panicked (and were restarted) since the engine started.
    pub panics: u64,
    /// The latest error, if the latest pass failed.
    pub last_error: Option<String>,
    /// How long ago the latest pass ended, in milliseconds.
    pub last_pass_ago_ms: Option<u64>,
}

#[derive(Debug)]
struct State {
    interval: Duration,
    long_running: bool,
    pass_started: Option<Instant>,
    last_pass_ended: Option<Instant>,
    last_error: Option<String>,
    errors: u64,
    panics: u64,
}

/// The services of one engine and how they are doing.
#[derive(Debug, Default)]
pub(crate) struct ServiceBoard {
    states: Mutex<BTreeMap<&'static str, State>>,
}

impl ServiceBoard {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, State>> {
        // Every update is a plain field write: a poisoned map is still consistent.
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with(&self, name: &'static str, f: impl FnOnce(&mut State)) {
        if let Some(state) = self.lock().get_mut(name) {
            f(state);
        }
    }

    pub(crate) fn started(&self, name: &'static str, interval: Duration, long_running: bool) {
        self.lock().insert(
            name,
            State {
                interval,
                long_running,
                pass_started: None,
                last_pass_ended: None,
                last_error: None,
                errors: 0,
                panics: 0,
            },
        );
    }

    pub(crate) fn pass_started(&self, name: &'static str) {
        self.with(name, |s| s.pass_started = Some(Instant::now()));
    }

    pub(crate) fn pass_ended(&self, name: &'static str, error: Option<String>, panicked: bool) {
        self.with(name, |s| {
            s.pass_started = None;
            s.last_pass_ended = Some(Instant::now());
            s.errors += u64::from(error.is_some());
            s.panics += u64::from(panicked);
            s.last_error = error;
        });
    }

    /// A service that stopped (the engine stopped, or a leader stepped down) leaves the
    /// board.
    pub(crate) fn stopped(&self, name: &'static str) {
        self.lock().remove(name);
    }

    pub(crate) fn snapshot(&self) -> Vec<ServiceHealth> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(name, s)| {
                let limit = s.interval * 3 + STUCK_AFTER;
                let alive = s.long_running
                    || match (s.pass_started, s.last_pass_ended) {
                        (Some(started), _) => now.duration_since(started) < limit,
                        (None, Some(ended)) => now.duration_since(ended) < limit,
                        (None, None) => true,
                    };
                ServiceHealth {
                    name,
                    alive,
                    errors: s.errors,
                    panics: s.panics,
                    last_error: s.last_error.clone(),
                    last_pass_ago_ms: s.last_pass_ended.map(|ended| {
                        u64::try_from(now.duration_since(ended).as_millis()).unwrap_or(u64::MAX)
                    }),
                }
            })
            .collect()
    }
}
