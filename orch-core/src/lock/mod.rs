//! Distributed locks: [`Lock`] takes a named lock across every process on the database,
//! and the [`LockGuard`] it returns carries a fencing token.
//!
//! # Semantics
//! - **Mutual exclusion.** One holder at a time per name (per table prefix), across
//!   processes and machines.
//! - **Fencing tokens.** Every successful acquire increments the name's token in the
//!   database, so tokens are strictly increasing across all holders. Pass the token to the
//!   resource you protect and have it refuse any token lower than the highest it has seen:
//!   a holder that was paused past the end of its lock is then refused, not obeyed.
//! - **Release.** [`LockGuard::release`] releases at once; dropping the guard releases it in
//!   the background. A holder that dies releases too: on PostgreSQL and MySQL/MariaDB the
//!   lock lives in a database session on a connection of its own (never returned to the
//!   pool while held) and ends when that connection closes, at once when the process dies
//!   and within the lock's TTL when the network is cut (TCP keepalives on PostgreSQL,
//!   `wait_timeout` on MySQL/MariaDB); on SQLite it is a lease row, renewed every TTL / 3,
//!   that another holder may take once it is TTL old.
//! - **Loss.** A background keeper re-checks the lock every TTL / 3. If it finds the lock
//!   gone (the connection broke, the lease was taken over), [`LockGuard::lost`] resolves
//!   and [`LockGuard::is_held`] returns false from then on.
//!
//! The backends: PostgreSQL session advisory locks (`pg_try_advisory_lock`, keyed by a hash
//! of the table prefix and name), MySQL/MariaDB `GET_LOCK` (the database, table prefix and
//! name hashed into its 64-character limit), SQLite a lease row with expiry. Tokens live in
//! the `{prefix}locks` table on all three.

mod guard;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use guard::LockGuard;

use crate::error::{ConfigError, Result};
use crate::store::LockStore;

/// The default lock TTL: how long a lock outlives a holder that vanished without its
/// connection closing (a network cut; on SQLite, any crash). The keeper re-checks every
/// third of it.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(15);

/// The longest lock name, in bytes.
pub const MAX_LOCK_NAME_BYTES: usize = 200;

/// Names starting with this are reserved for orch's own locks (the leader election).
pub(crate) const RESERVED_PREFIX: &str = "orch.";

/// How long acquire waits between tries, at most.
const MAX_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A named lock, ready to be acquired: made by `Orch::lock` in the `orch` crate, whose
/// docs show it in use. See the [module docs](self) for the semantics.
#[derive(Clone)]
#[must_use = "a lock does nothing until acquired"]
pub struct Lock {
    store: Arc<dyn LockStore>,
    name: String,
    holder: uuid::Uuid,
    ttl: Duration,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Lock {
    pub(crate) fn new(store: Arc<dyn LockStore>, name: String, holder: uuid::Uuid) -> Self {
        Self {
            store,
            name,
            holder,
            ttl: DEFAULT_LOCK_TTL,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long the lock outlives a holder that vanished without its connection closing.
    /// Defaults to [`DEFAULT_LOCK_TTL`] (15 s); at least 1 s.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Takes the lock, waiting up to `wait` for another holder to let go: `Some(guard)`
    /// once held, `None` if `wait` passed first. `Duration::ZERO` tries exactly once.
    ///
    /// Cancel-safe: dropping the returned future (a `select!`, a timeout, a canceled task)
    /// stops waiting, and a lock taken at that very moment is released.
    ///
    /// # Errors
    /// A name that is empty, longer than [`MAX_LOCK_NAME_BYTES`], holds control
    /// characters or starts with the reserved `orch.`; a TTL under 1 s; a database failure.
    pub async fn acquire(self, wait: Duration) -> Result<Option<LockGuard>> {
        validate_name(&self.name)?;
        self.acquire_unchecked(wait).await
    }

    /// [`Lock::acquire`] without the reserved-name check (orch's own locks).
    pub(crate) async fn acquire_unchecked(self, wait: Duration) -> Result<Option<LockGuard>> {
        if self.ttl < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "lock ttl",
                format!("{:?} is too short; at least 1 s", self.ttl),
            )
            .into());
        }
        let give_up = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(held) = self
                .store
                .try_lock(&self.name, self.holder, self.ttl)
                .await?
            {
                return Ok(Some(LockGuard::new(self.name, held, self.ttl)));
            }
            let now = Instant::now();
            if now >= give_up {
                return Ok(None);
            }
            let jitter = rand::random_range(0.5..1.5);
            tokio::time::sleep(pause.mul_f64(jitter).min(give_up - now)).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        "must not be empty".to_owned()
    } else if name.len() > MAX_LOCK_NAME_BYTES {
        format!("is {} bytes; at most {MAX_LOCK_NAME_BYTES}", name.len())
    } else if name.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else if name.starts_with(RESERVED_PREFIX) {
        format!("must not start with {RESERVED_PREFIX:?}, which orch reserves for its own locks")
    } else {
        return Ok(());
    };
    Err(ConfigError::invalid(
        "lock name",
        format!("{name:?} {reason}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("nightly-export").is_ok());
        assert!(validate_name("tenant/42:ledger ünïcode").is_ok());
        for bad in ["", "a\nb", "orch.leader", &"x".repeat(201)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
