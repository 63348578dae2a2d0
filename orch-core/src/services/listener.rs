//! The wake-up listener (every engine): keeps the store's push notifications (PostgreSQL
//! `LISTEN`) running, reconnecting after errors; the engine polls meanwhile.

use std::sync::Arc;
use std::time::Duration;

use super::Service;
use crate::shared::Shared;

/// How long to wait before reconnecting a failed listener.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The listener service.
pub(crate) struct Listener<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
    pub(crate) stop: tokio_util::sync::CancellationToken,
    pub(crate) done: bool,
}

impl<Tx: ?Sized + 'static> Service for Listener<Tx> {
    const NAME: &'static str = "listener";
    const LONG_RUNNING: bool = true;

    fn interval(&self) -> Duration {
        RECONNECT_AFTER
    }

    /// Listens until stopped (or, for stores without notifications, returns at once and
    /// never listens again).
    async fn run_once(&mut self) -> crate::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let shared = &self.shared;
        shared
            .store
            .listen(shared.wake.clone(), self.stop.clone())
            .await?;
        self.done = true;
        Ok(0)
    }
}
