//! What a soak runs: its size, its chaos, and the engines' shortened timings.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::command::SOAK_TIMEOUT;

/// The engines' timing settings, shortened from the defaults so a killed engine's commands
/// come back within seconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Timings {
    /// `EngineConfig::lease_ttl`.
    pub lease_ttl: Duration,
    /// `EngineConfig::lease_buffer`.
    pub lease_buffer: Duration,
    /// `EngineConfig::heartbeat_interval` (shorter than `lease_ttl`).
    pub heartbeat_interval: Duration,
    /// `EngineConfig::reaper_interval`.
    pub reaper_interval: Duration,
    /// `EngineConfig::leader_ttl` (at least 3 s).
    pub leader_ttl: Duration,
    /// `EngineConfig::poll_interval`.
    pub poll_interval: Duration,
    /// The first retry's backoff (`RetryPolicy::base`, without jitter).
    pub retry_base: Duration,
}

impl Default for Timings {
    /// A 3 s lease (2 s TTL + 1 s buffer), 500 ms heartbeats, a 1 s reaper, a 3 s leader
    /// lock (1 s hand-over), 50 ms polls and a 20 ms first backoff.
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(2),
            lease_buffer: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(500),
            reaper_interval: Duration::from_secs(1),
            leader_ttl: Duration::from_secs(3),
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(20),
        }
    }
}

impl Timings {
    /// How long a lease lasts past its last renewal: `min(timeout, lease_ttl) +
    /// lease_buffer` for [`super::SoakCommand`]'s timeout.
    pub fn lease_span(&self) -> Duration {
        SOAK_TIMEOUT.min(self.lease_ttl) + self.lease_buffer
    }

    /// How long a leader killed with SIGKILL goes unreplaced on PostgreSQL and MariaDB,
    /// whose leader lock dies with its connection: a third of `leader_ttl`.
    pub fn leader_hand_over(&self) -> Duration {
        self.leader_ttl / 3
    }

    /// The README's bound on a crashed worker's command coming back (lease + leader
    /// hand-over + reaper interval), plus what it takes to start again once it is back:
    /// the first retry's backoff and one poll.
    pub fn recovery_bound(&self) -> Duration {
        self.lease_span()
            + self.leader_hand_over()
            + self.reaper_interval
            + self.retry_base
            + self.poll_interval
    }
}

/// What one engine process runs with (passed to it as JSON).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct EngineSpec {
    /// Its timings.
    pub timings: Timings,
    /// Handlers running at once.
    pub concurrency: usize,
    /// Most commands claimed per round trip.
    pub max_claim: u32,
    /// Claims take turns (`SeaStoreConfig::serialize_claims`).
    #[serde(default)]
    pub serialize_claims: bool,
}

/// One soak run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The server's admin URL (PostgreSQL or MariaDB); the soak makes its own database
    /// there and drops it at the end.
    pub server_url: String,
    /// Commands pushed. Default 100,000.
    pub commands: u64,
    /// Engine processes kept running. Default 3.
    pub engines: usize,
    /// Mean time between SIGKILLs of a random engine (each gap drawn from half to one and
    /// a half times it). Default 3 s.
    pub kill_every: Duration,
    /// Time between rounds of terminating every connection of the database; `None`
    /// terminates none. Default 5 s.
    pub cut_every: Option<Duration>,
    /// Mean time a handler works after its effect (each command draws from zero to
    /// twice it). Default 5 ms.
    pub work: Duration,
    /// Concurrent pushers. Default 16.
    pub pushers: usize,
    /// Commands pushed per second in all; `None` pushes as fast as the database takes
    /// them. Default none.
    pub push_rate: Option<u32>,
    /// What each engine runs with.
    pub engine: EngineSpec,
    /// How long the commands may take to succeed before the soak gives up and reports.
    /// Default 30 min.
    pub deadline: Duration,
    /// The `orch-soak` executable, started in its `engine` mode for each engine.
    pub engine_bin: PathBuf,
    /// Keep the database after the run (for a look by hand). Default false.
    pub keep_database: bool,
}

impl SoakConfig {
    /// The defaults above (100,000 commands, 3 engines) on `server_url`, with engines
    /// started from `engine_bin`.
    pub fn new(server_url: impl Into<String>, engine_bin: impl Into<PathBuf>) -> Self {
        Self {
            server_url: server_url.into(),
            commands: 100_000,
            engines: 3,
            kill_every: Duration::from_secs(3),
            cut_every: Some(Duration::from_secs(5)),
            work: Duration::from_millis(5),
            pushers: 16,
            push_rate: None,
            engine: EngineSpec {
                timings: Timings::default(),
                concurrency: 32,
                max_claim: 32,
                serialize_claims: false,
            },
            deadline: Duration::from_secs(1800),
            engine_bin: engine_bin.into(),
            keep_database: false,
        }
    }
}
