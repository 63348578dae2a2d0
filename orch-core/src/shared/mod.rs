//! The state the client, the engine and every background service share.

pub(crate) mod inflight;
pub(crate) mod record;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::extensions::Extensions;
use crate::id::{CommandId, WorkerId};
use crate::outbox::Publisher;
use crate::push::NewCommand;
use crate::registry::Registry;
use crate::services::ServiceBoard;
use crate::store::{
    CommandStore, HeldLock, InsertCommand, LockHolder, LockStore, Store, StoreFuture,
};
use inflight::{InFlight, StopReason};

/// Pauses between the extra looks a producer or relay takes after an in-process push or
/// enqueue found nothing (its transaction had not committed yet): short at first, since
/// most commits follow within a millisecond or two; about 200 ms in all, then the poll.
pub(crate) const LOOK_AGAIN: [Duration; 9] = [
    Duration::from_millis(1),
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(3),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
];

/// The store, registry, settings and running attempts of one orch handle.
pub(crate) struct Shared<Tx: ?Sized + 'static> {
    pub(crate) store: Arc<dyn Store<Tx = Tx>>,
    pub(crate) registry: Registry,
    pub(crate) config: EngineConfig,
    pub(crate) state: Arc<Extensions>,
    /// Woken by in-process pushes and by the store's listener.
    pub(crate) wake: Arc<Notify>,
    /// Counts in-process pushes, so the producer can tell a wake-up whose transaction may
    /// not have committed yet (it then looks again a few times, briefly).
    pub(crate) pushes: std::sync::atomic::AtomicU64,
    pub(crate) inflight: InFlight,
    pub(crate) worker: WorkerId,
    /// The store's lock face, as an owned handle (locks outlive borrows of the store).
    pub(crate) locks: Arc<dyn LockStore>,
    /// Whether this engine is the elected leader right now.
    leading: AtomicBool,
    /// What each background service is doing, for health checks.
    pub(crate) board: Arc<ServiceBoard>,
    /// Where the leader's relay delivers outbox messages; no relay runs without one.
    pub(crate) publisher: Option<Arc<dyn Publisher>>,
    /// Rows the reaper found the database refuses to change in any form: left out of its
    /// searches so they never hold back the rows behind them.
    unmovable: std::sync::Mutex<std::collections::HashSet<CommandId>>,
    /// Woken by in-process enqueues, so the relay looks at once.
    pub(crate) outbox_wake: Arc<Notify>,
    /// Counts in-process enqueues, so the relay can tell a wake-up whose transaction has
    /// not committed yet (it then looks again a few times, briefly).
    pub(crate) outbox_enqueues: std::sync::atomic::AtomicU64,
}

impl<Tx: ?Sized + 'static> Shared<Tx> {
    pub(crate) fn new(
        store: Arc<dyn Store<Tx = Tx>>,
        registry: Registry,
        config: EngineConfig,
        state: Extensions,
        publisher: Option<Arc<dyn Publisher>>,
    ) -> Self {
        Self {
            locks: Arc::new(StoreLocks(store.clone())),
            store,
            registry,
            config,
            state: Arc::new(state),
            wake: Arc::new(Notify::new()),
            pushes: std::sync::atomic::AtomicU64::new(0),
            inflight: InFlight::default(),
            worker: WorkerId::new(),
            leading: AtomicBool::new(false),
            unmovable: std::sync::Mutex::default(),
            board: Arc::default(),
            publisher,
            outbox_wake: Arc::new(Notify::new()),
            outbox_enqueues: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The rows the reaper leaves out of its searches (see the field).
    pub(crate) fn unmovable(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashSet<CommandId>> {
        // Every use is a single read or extend: a poisoned lock is safe to keep using.
        self.unmovable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
    }

    pub(crate) fn is_leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// The command face of the store.
    pub(crate) fn commands(&self) -> &dyn CommandStore<Tx> {
        self.store.commands()
    }

    /// Stops a running attempt of `id` in this process after a cancel.
    pub(crate) fn stop_canceled(&self, id: CommandId) {
        self.inflight.stop(id, StopReason::Canceled);
    }

    /// Applies the defaults and limits to a serialized command.
    pub(crate) fn resolve(
        &self,
        new: NewCommand,
        parent_id: Option<CommandId>,
    ) -> Result<InsertCommand> {
        let limit = self
            .config
            .max_payload_bytes
            .min(self.store.max_row_bytes().unwrap_or(usize::MAX));
        if new.input.len() > limit {
            return Err(Error::PayloadTooLarge {
                name: new.name.to_owned(),
                size: new.input.len(),
                limit,
            });
        }
        let push = new.push;
        for (field, value) in [
            ("idempotency_key", push.idempotency_key.as_deref()),
            ("target", push.target.as_deref()),
        ] {
            if let Some(value) = value
                && (value.is_empty() || value.len() > 255 || value.contains('\0'))
            {
                return Err(crate::error::ConfigError::invalid(
                    field,
                    format!(
                        "command `{}`: must be 1–255 bytes without NUL, got {} bytes",
                        new.name,
                        value.len()
                    ),
                )
                .into());
            }
        }
        let timeout = push.timeout.unwrap_or(self.config.default_timeout);
        check_limits(new.name, &push, timeout)?;
        // Stored in whole milliseconds: a finer timeout is rounded up, never cut short.
        let timeout = std::time::Duration::from_millis(
            u64::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
        );
        let retries = push.retries.unwrap_or(self.config.default_retries);
        Ok(InsertCommand {
            id: new.id,
            name: new.name.to_owned(),
            input: new.input,
            target: push
                .target
                .unwrap_or_else(|| self.config.default_target.clone()),
            when: push.when,
            timeout,
            max_attempts: retries.saturating_add(1),
            idempotency_key: push.idempotency_key,
            parent_id,
        })
    }

    /// Resolves follow-ups of `parent`; the first error is returned as a message.
    pub(crate) fn resolve_follow_ups(
        &self,
        parent: CommandId,
        follow_ups: Vec<NewCommand>,
    ) -> std::result::Result<Vec<InsertCommand>, String> {
        follow_ups
            .into_iter()
            .map(|new| {
                self.resolve(new, Some(parent))
                    .map_err(|e| format!("follow-up rejected: {e}"))
            })
            .collect()
    }

    /// Cuts an error message to the configured limit at a character boundary, and replaces
    /// NUL characters (PostgreSQL text cannot hold them) with U+FFFD.
    pub(crate) fn truncate_error(&self, mut message: String) -> String {
        if message.contains('\0') {
            message = message.replace('\0', "\u{FFFD}");
        }
        let limit = self.config.max_error_bytes;
        if message.len() > limit {
            let mut cut = limit.saturating_sub(3);
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        message
    }
}

/// The lock face of a shared store as a trait object of its own.
struct StoreLocks<Tx: ?Sized + 'static>(Arc<dyn Store<Tx = Tx>>);

impl<Tx: ?Sized + 'static> LockStore for StoreLocks<Tx> {
    fn try_lock<'a>(
        &'a self,
        name: &'a str,
        holder: uuid::Uuid,
        ttl: Duration,
    ) -> StoreFuture<'a, Option<Box<dyn HeldLock>>> {
        self.0.locks().try_lock(name, holder, ttl)
    }

    fn holder<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<LockHolder>> {
        self.0.locks().holder(name)
    }
}

impl<Tx: ?Sized + 'static> crate::cron::CronOps for Shared<Tx> {
    fn cron_store(&self) -> &dyn crate::store::CronStore {
        self.store.cron()
    }

    fn now(&self) -> StoreFuture<'_, chrono::DateTime<chrono::Utc>> {
        self.store.now()
    }

    fn resolve(&self, new: NewCommand) -> Result<InsertCommand> {
        Shared::resolve(self, new, None)
    }

    fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The longest timeout a push may set.
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
/// The longest delay a push may set.
const MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
/// The most retries a push may set.
const MAX_RETRIES: u32 = 100_000;

/// Refuses durations, instants and counts no backend can store and read back exactly.
fn check_limits(name: &str, push: &crate::push::Push, timeout: std::time::Duration) -> Result<()> {
    use crate::error::ConfigError;
    let refuse = |field: &'static str, reason: String| -> Result<()> {
        Err(ConfigError::invalid(field, format!("command `{name}`: {reason}")).into())
    };
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return refuse(
            "timeout",
            format!("{timeout:?} is out of range; 1 ms to {MAX_TIMEOUT:?}"),
        );
    }
    if timeout < std::time::Duration::from_millis(1) {
        return refuse("timeout", format!("{timeout:?} is under 1 ms"));
    }
    if let Some(retries) = push.retries
        && retries > MAX_RETRIES
    {
        return refuse("retries", format!("{retries} is over {MAX_RETRIES}"));
    }
    match push.when {
        crate::push::When::After(delay) if delay > MAX_DELAY => {
            refuse("delay", format!("{delay:?} is over 100 years"))
        }
        crate::push::When::At(at) if !(1970..=9999).contains(&chrono::Datelike::year(&at)) => {
            refuse("run_at", format!("{at} is outside the years 1970–9999"))
        }
        _ => Ok(()),
    }
}
