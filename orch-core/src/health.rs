//! [`Health`]: whether the database answers, the schema is current, the engine's services
//! are alive, and how each command name's queue is doing; a plain `Serialize` struct to
//! expose however the application likes.
//!
//! # Probes
//! - **Readiness** ([`Health::is_ready`]): the database answered and the schema is current.
//!   A process that is not ready should get no traffic; it may become ready by itself.
//! - **Liveness** ([`Health::is_live`]): every background service of a running engine is
//!   ticking (a pass ended within three intervals plus a minute; failing passes count as
//!   ticking, since a database outage is not cured by a restart). A process that is not
//!   live is wedged and should be restarted.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::id::WorkerId;
pub use crate::services::board::ServiceHealth;
use crate::services::leader::LeaderInfo;

/// Everything a health check reports. See the [module docs](self) for the probes.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Health {
    /// The database.
    pub database: DatabaseHealth,
    /// orch's schema on it.
    pub schema: SchemaHealth,
    /// This handle's engine.
    pub engine: EngineHealth,
    /// Per command name: due, running and dead commands (empty when the database did not
    /// answer).
    pub commands: Vec<QueueHealth>,
    /// The outbox: messages by status and the age of the oldest undelivered one (`None`
    /// when the database did not answer). Dead messages hold their key back: alert on
    /// `dead > 0`.
    pub outbox: Option<crate::outbox::OutboxStats>,
}

impl Health {
    /// Readiness: the database answered and the schema is current.
    pub fn is_ready(&self) -> bool {
        self.database.reachable && self.schema.current
    }

    /// Liveness: every background service of a running engine is ticking (true when no
    /// engine runs).
    pub fn is_live(&self) -> bool {
        self.engine.services.iter().all(|s| s.alive)
    }
}

/// Whether the database answers, and how fast.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DatabaseHealth {
    /// The backend ("sqlite", "postgres", "mysql").
    pub backend: &'static str,
    /// Whether a round trip (reading the database's clock) succeeded.
    pub reachable: bool,
    /// How long that round trip took.
    #[serde(serialize_with = "millis")]
    pub latency: Duration,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Whether orch's schema is the one this build expects.
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct SchemaHealth {
    /// Whether every migration this build knows has been applied.
    pub current: bool,
    /// The newest applied migration (0: none, or unknown when the database did not answer).
    pub applied: i64,
    /// The newest migration this build knows.
    pub expected: i64,
}

/// This handle's engine and its background services.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EngineHealth {
    /// Whether `run` is active.
    pub running: bool,
    /// This engine's worker id.
    pub worker: WorkerId,
    /// Whether this engine is the elected leader.
    pub is_leader: bool,
    /// The elected leader, if the database answered and an engine leads.
    pub leader: Option<LeaderInfo>,
    /// The background services running now (none unless `running`).
    pub services: Vec<ServiceHealth>,
    /// Handlers running now.
    pub handlers_running: usize,
}

/// One command name's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueueHealth {
    /// The command name.
    pub name: String,
    /// Pending commands already due (by the database's clock).
    pub due: u64,
    /// How long the oldest due command has waited past its due time.
    #[serde(serialize_with = "millis_opt")]
    pub oldest_due_age: Option<Duration>,
    /// Commands running now.
    pub running: u64,
    /// Dead commands (failed for good, kept for inspection).
    pub dead: u64,
}

impl QueueHealth {
    /// An empty queue record for `name` (stores fill it in).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            due: 0,
            oldest_due_age: None,
            running: 0,
            dead: 0,
        }
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

pub(crate) fn millis_opt<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}
