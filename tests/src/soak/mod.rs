//! The chaos soak: many commands drained by several engine processes while a driver
//! SIGKILLs a random engine every few seconds and cuts the database's connections on the
//! server, then proves from the database what happened.
//!
//! How the pieces fit:
//! - [`run`] (in `driver`) makes a fresh database `orch_soak_<uuid>` on the server, so
//!   cutting its connections never touches another test, and drops it at the end.
//! - The [`Fleet`] keeps `engines` child processes of the `orch-soak` binary running in
//!   its `engine` mode ([`serve_engine`]); each one that is killed is started again at
//!   once under a new label. Closing a child's stdin stops it gracefully.
//! - Each engine runs [`SoakCommand`] with [`SoakHandler`], which appends one row per
//!   execution (command, attempt, engine label, pid, start time) to the side table
//!   `soak_executions` in its own statement before it returns: the handler's effect. A
//!   kill between that row and the engine's recorded result is the one window in which
//!   at-least-once delivery runs a command twice.
//! - The feeder pushes the commands (idempotency key `soak-{n}`, retried across cut
//!   connections), the [`ConnectionCutter`] terminates every connection of the database
//!   but its own (`pg_terminate_backend`, `KILL`), and the fleet kills engines, all at
//!   once, until every command has succeeded.
//! - The audit then reads the commands table and the side table: nothing lost, every
//!   command `succeeded`, each re-execution preceded by an attempt that ended
//!   `lease_expired` (its result never recorded: the fenced path never ran twice), and for
//!   each SIGKILL the time until the killed engine's unfinished commands started again,
//!   against the bound the engines' timings give (see [`Timings::recovery_bound`]).

mod args;
mod audit;
mod command;
mod config;
mod cutter;
mod driver;
mod engine;
mod execution_log;
mod feeder;
mod fleet;
mod recovery;
mod report;
mod small;

pub use args::{Invocation, USAGE};
pub use audit::Audit;
pub use command::{SoakCommand, SoakHandler};
pub use config::{EngineSpec, SoakConfig, Timings};
pub use cutter::{ConnectionCutter, CutStats};
pub use driver::run;
pub use engine::serve_engine;
pub use execution_log::{Execution, ExecutionLog};
pub use feeder::{Feed, push_commands};
pub use fleet::{Fleet, FleetLog, Kill};
pub use recovery::Recovery;
pub use report::{Report, TimingsMs};
pub use small::{SMALL_SOAK_COMMANDS, small_soak_passes, small_soak_taking_turns_passes};
