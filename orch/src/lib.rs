//! # orch
//!
//! Typed, persistent command orchestration: work that survives crashes and deploys.
//!
//! A struct marked `#[orch_command]` becomes a durable command with a name, a timeout, a
//! retry count and an output type; a type marked `#[orch_handler]` runs it. Commands live
//! in SQL (SQLite embedded by default; PostgreSQL and MySQL/MariaDB in production). Engines
//! on any number of instances claim due commands under leases, run them under their
//! timeouts, retry with backoff, recover what crashed workers held, route by instance key
//! and enqueue follow-ups atomically with their parent's completion.
//!
//! ```
//! use orch::prelude::*;
//! use std::time::Duration;
//!
//! #[orch_command(timeout = "30s", retries = 3, output = u64)]
//! #[derive(Serialize, Deserialize)]
//! pub struct AddCommand { pub a: u64, pub b: u64 }      // name: "add"
//!
//! #[derive(Default)]
//! struct Adder;
//!
//! #[orch_handler]
//! impl Handler<AddCommand> for Adder {
//!     async fn run(&self, cmd: AddCommand, _ctx: &Ctx) -> Result<u64, HandlerError> {
//!         Ok(cmd.a + cmd.b)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> orch::Result<()> {
//! let orch = Orch::builder().database("sqlite::memory:").build().await?;
//! let id = orch.push(AddCommand { a: 2, b: 3 }).await?;
//!
//! let stop = CancellationToken::new();
//! let engine = tokio::spawn({ let (orch, stop) = (orch.clone(), stop.clone()); async move { orch.run(stop).await } });
//! loop {
//!     let rec = orch.get(id).await?.expect("pushed");
//!     if rec.status == CommandStatus::Succeeded {
//!         assert_eq!(rec.output_as::<u64>().unwrap(), 5);
//!         break;
//!     }
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! stop.cancel();
//! engine.await.unwrap()?;
//! # Ok(()) }
//! ```
//!
//! # Delivery semantics
//! - **At least once.** A handler may run again if its worker dies before the result is
//!   recorded; make handlers idempotent.
//! - **Fenced transitions.** Every transition of a running command is a compare-and-set on
//!   its lease token: a worker that lost its lease changes nothing.
//! - **Atomic chaining.** Follow-ups commit in the same transaction as their parent's
//!   finish: never missing, never twice.

mod builder;
pub mod inbox;
mod orch;
mod packet;
mod unit_of_work;

/// The transactional outbox (see [`Orch::outbox`] and [`orch_core::outbox`]).
pub mod outbox {
    #[cfg(feature = "nats")]
    pub use orch_brokers::nats;
    #[cfg(feature = "rabbitmq")]
    pub use orch_brokers::rabbitmq;
    pub use orch_core::outbox::*;
}

#[doc(hidden)]
pub use orch_core::__private;
pub use orch_core::{
    AttemptError, CancelOutcome, Chain, ChainEvent, Command, CommandId, CommandRecord,
    CommandStatus, ConfigError, Ctx, EngineConfig, Error, Extensions, Failure, FailureKind,
    FollowUps, Handler, HandlerError, Health, LeaderInfo, ListFilter, Lock, LockGuard, OutputError,
    Push, Pushed, Result, ResultExt, RetryPolicy, When, WorkerId, config, cron, health, lock,
    work_queue,
};
pub use orch_macros::{orch_command, orch_handler};
pub use orch_sea::SeaStoreConfig;

pub use builder::OrchBuilder;
pub use orch::Orch;
pub use unit_of_work::UnitOfWork;

/// The parts beneath [`Orch`]: the storage seam, the engine and client it wraps, and the
/// sea-orm backend. Tools, tests and other backends use them; **they are not stable API
/// until 1.0**, and an application should not need them.
pub mod internal {
    pub use orch_core::store;
    pub use orch_core::{
        Client, Engine, EngineBuilder, LeaseToken, NewCommand, Registry, registry,
    };
    pub use orch_sea::{
        AnyConnection, Backend, SeaStore, SeaStoreError, redact, validate_table_prefix,
    };
}

/// Everything a program using orch usually needs: `use orch::prelude::*;`.
pub mod prelude {
    pub use orch_core::prelude::*;
    pub use serde::{Deserialize, Serialize};
    pub use tokio_util::sync::CancellationToken;

    pub use crate::{Orch, orch_command, orch_handler};
}
