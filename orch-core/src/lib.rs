//! # orch-core
//!
//! The engine of orch, with no SQL: typed [`Command`]s and their [`Handler`]s, the
//! link-time [`Registry`], the worker loop ([`Engine`]), the push/cancel/inspect
//! [`Client`], distributed [`Lock`]s, the background services and their elected leader,
//! and the [`Store`](store::Store) seam that `orch-sea` implements on sea-orm.
//!
//! Most applications use the `orch` crate, which ties this engine to SQL storage and
//! re-exports everything here; see its docs for the quickstart.
//!
//! # Delivery semantics
//! Handlers run **at least once**. Every state transition of a running command is fenced by
//! its lease token, so a worker that lost its lease changes nothing; follow-up commands are
//! inserted in the same transaction that records their parent's finish.

#[doc(hidden)]
pub mod __private;
mod client;
mod command;
pub mod config;
mod context;
pub mod cron;
pub mod engine;
mod error;
mod extensions;
mod failure;
mod follow_ups;
mod handler;
pub mod health;
mod id;
pub mod inbox;
pub mod lock;
pub mod outbox;
mod outcome;
mod push;
pub mod registry;
pub mod retry;
mod services;
mod shared;
mod status;
pub mod store;
pub mod work_queue;

pub use client::Client;
pub use command::{Chain, ChainEvent, Command};
pub use config::EngineConfig;
pub use context::Ctx;
pub use engine::{Engine, EngineBuilder};
pub use error::{ConfigError, Error, Result};
pub use extensions::Extensions;
pub use failure::{Failure, FailureKind};
pub use follow_ups::FollowUps;
pub use handler::{Handler, HandlerError, ResultExt};
pub use health::Health;
pub use id::{CommandId, LeaseToken, WorkerId};
pub use lock::{Lock, LockGuard};
pub use push::{NewCommand, Push, Pushed, When};
pub use registry::Registry;
pub use retry::RetryPolicy;
pub use services::leader::LeaderInfo;
pub use status::{CommandStatus, UnknownStatus};
pub use store::{AttemptError, CancelOutcome, CommandRecord, ListFilter, OutputError};

/// The names most programs need: `use orch_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CancelOutcome, Chain, Command, CommandId, CommandRecord, CommandStatus, Ctx, Failure,
        FailureKind, FollowUps, Handler, HandlerError, ListFilter, Push, ResultExt,
    };
}
