//! The soak at the size the test suite runs it: 2,500 commands over 3 engines for about
//! 20 seconds, a SIGKILL every ~2 s and connections cut every 3 s.

use std::time::Duration;

use super::config::SoakConfig;
use super::driver::run;
use crate::backends::{BackendKind, server_url};

/// Commands in the suite's soak.
pub const SMALL_SOAK_COMMANDS: u64 = 2_500;

/// Runs the small soak on `kind`'s test server with engines started from `soak_bin` (the
/// `orch-soak` executable), and fails unless nothing was lost, every command succeeded,
/// every duplicate followed an attempt whose result was never recorded, and the chaos
/// really happened.
pub async fn small_soak_passes(kind: BackendKind, soak_bin: &str) {
    small_soak(kind, soak_bin, false).await;
}

/// [`small_soak_passes`] with the engines' claims taking turns
/// (`SeaStoreConfig::serialize_claims`): engines killed and connections cut while a claim
/// holds the turn must hold up no one for long, and lose nothing.
pub async fn small_soak_taking_turns_passes(kind: BackendKind, soak_bin: &str) {
    small_soak(kind, soak_bin, true).await;
}

async fn small_soak(kind: BackendKind, soak_bin: &str, turns: bool) {
    let mut config = SoakConfig::new(server_url(kind), soak_bin);
    config.engine.serialize_claims = turns;
    config.commands = SMALL_SOAK_COMMANDS;
    config.kill_every = Duration::from_secs(2);
    config.cut_every = Some(Duration::from_secs(3));
    config.push_rate = Some(125);
    // 100 ms of work keeps a dozen handlers in flight for every kill to cut short.
    config.work = Duration::from_millis(100);
    config.pushers = 8;
    config.deadline = Duration::from_secs(120);
    let report = run(&config).await.expect("run the soak");
    eprintln!("{}", report.plain());
    assert_eq!(report.problems(), Vec::<String>::new());
    assert_eq!(report.audit.lost, 0);
    assert_eq!(
        report.audit.statuses.get("succeeded").copied(),
        Some(SMALL_SOAK_COMMANDS)
    );
    assert_eq!(report.audit.violations, 0);
    assert!(
        report.sigkills >= 5,
        "engines were killed: {}",
        report.sigkills
    );
    assert!(report.cuts.connections > 0, "connections were cut");
}
