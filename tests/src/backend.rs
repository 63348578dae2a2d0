//! [`SuiteBackend`]: what a storage backend gives the conformance suite. The suite itself
//! sees only the storage seam (`orch::internal::store::Store`) and these helpers, so a
//! future backend runs it unchanged by implementing this trait.

use std::future::Future;
use std::sync::Arc;

use orch::internal::store::Store;
use orch::{CommandId, CommandStatus};

/// A backend under test, on one fresh database.
pub trait SuiteBackend: Send + Sync + Sized + 'static {
    /// The backend's transaction type ([`Store::Tx`]).
    type Tx: ?Sized + Send + Sync + 'static;

    /// A short name for messages.
    fn name(&self) -> &'static str;

    /// Whether a lock dies with its holder's connection (a server's session lock) rather
    /// than when its lease runs out; decides the bound the lock tests hold the backend to.
    fn session_locks(&self) -> bool;

    /// A new store on this test's database (with a pool of its own, as another process
    /// would have).
    fn store(&self) -> impl Future<Output = Arc<dyn Store<Tx = Self::Tx>>> + Send;

    /// Clock helper: moves a running command's lease expiry an hour into the past, as if
    /// its worker had died long ago.
    fn expire_lease(&self, id: CommandId) -> impl Future<Output = ()> + Send;

    /// Clock helper: moves a scheduled command's due time an hour and more into the past.
    fn make_due(&self, id: CommandId) -> impl Future<Output = ()> + Send;

    /// Clock helper: moves a cron job's next fire time `back` into the past, as if every
    /// scheduler had been down that long.
    fn shift_cron_job(
        &self,
        name: &str,
        back: std::time::Duration,
    ) -> impl Future<Output = ()> + Send;

    /// How many commands have `status` (exactly, however many there are).
    fn count(&self, status: CommandStatus) -> impl Future<Output = i64> + Send;

    /// A second process on this test's database, doing what `args` say (see the
    /// `orch-crash-worker` binary for the modes every backend's worker understands).
    fn worker(&self, args: &[&str]) -> tokio::process::Command;

    /// Drops the test's database.
    fn cleanup(self) -> impl Future<Output = ()> + Send;
}
