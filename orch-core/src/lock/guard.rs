//! [`LockGuard`]: a held lock, its fencing token, and the keeper that watches it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::error::Result;
use crate::store::HeldLock;

/// A held lock. Released by [`LockGuard::release`], or in the background when dropped.
///
/// See the [module docs](super) for what holds when the holder dies or the lock is lost.
pub struct LockGuard {
    name: String,
    held: Arc<dyn HeldLock>,
    lost: CancellationToken,
    keeper: JoinHandle<()>,
    released: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("name", &self.name)
            .field("token", &self.held.token())
            .field("lost", &self.lost.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    pub(crate) fn new(name: String, held: Box<dyn HeldLock>, ttl: Duration) -> Self {
        let held: Arc<dyn HeldLock> = Arc::from(held);
        let lost = CancellationToken::new();
        let keeper = tokio::spawn(keep(name.clone(), held.clone(), ttl, lost.clone()));
        Self {
            name,
            held,
            lost,
            keeper,
            released: false,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fencing token: greater than that of every earlier holder of this name.
    pub fn token(&self) -> u64 {
        self.held.token()
    }

    /// Asks the database whether the lock is still held (and, on SQLite, renews its lease).
    /// False once the lock was lost, and also when the check cannot reach the database:
    /// a holder that cannot confirm its lock should act as if it had none.
    pub async fn is_held(&self) -> bool {
        if self.lost.is_cancelled() {
            return false;
        }
        match self.held.check().await {
            Ok(true) => true,
            Ok(false) => {
                self.lost.cancel();
                false
            }
            Err(error) => {
                debug!(lock = %self.name, %error, "lock check failed");
                false
            }
        }
    }

    /// Resolves once the keeper finds the lock lost (never, while it is held).
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// Releases the lock now.
    ///
    /// # Errors
    /// The database failed; the lock is then released when its connection closes (PostgreSQL,
    /// MySQL/MariaDB) or its lease expires (SQLite).
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        self.keeper.abort();
        self.lost.cancel();
        Ok(self.held.release().await?)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.keeper.abort();
        self.lost.cancel();
        let held = self.held.clone();
        let name = std::mem::take(&mut self.name);
        // Without a runtime the lock ends with its connection (dropped with `held`) or its
        // lease.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = held.release().await {
                    warn!(lock = %name, %error, "releasing a dropped lock failed; it ends with its connection or lease");
                }
            });
        }
    }
}

/// Re-checks the lock every `ttl / 3`. A check that fails (rather than finding the lock
/// gone) is retried while the lock's lease is surely still running; once it may have
/// expired, the lock counts as lost.
async fn keep(name: String, held: Arc<dyn HeldLock>, ttl: Duration, lost: CancellationToken) {
    let every = ttl / 3;
    let mut confirmed_until = Instant::now() + ttl;
    loop {
        tokio::time::sleep(every).await;
        let started = Instant::now();
        match tokio::time::timeout(every, held.check()).await {
            Ok(Ok(true)) => confirmed_until = started + ttl,
            Ok(Ok(false)) => break,
            Ok(Err(error)) => {
                warn!(lock = %name, %error, "lock check failed; retrying");
                if Instant::now() + every >= confirmed_until {
                    break;
                }
            }
            Err(_) => {
                warn!(lock = %name, "lock check timed out; retrying");
                if Instant::now() + every >= confirmed_until {
                    break;
                }
            }
        }
    }
    warn!(lock = %name, "lock lost");
    lost.cancel();
}
