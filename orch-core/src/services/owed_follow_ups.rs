//! Owed follow-ups (every engine): inserts the `on_cancel` follow-ups of commands canceled
//! by a process that had no handler for them, so could not compute them.
//!
//! Such a cancel records the debt in its own transaction (see
//! [`CancelParams::follow_ups_owed`](crate::store::CancelParams::follow_ups_owed)). Each
//! pass here looks for debts of the names this engine has handlers for, computes the
//! follow-ups from the canceled command's input and pays: the insert and the clearing of
//! the debt commit together and only if the debt was still there, so two engines paying at
//! once insert the follow-ups once. A debt of a name no engine serves waits for one.

use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use super::Service;
use crate::outcome::cancel_follow_ups;
use crate::shared::Shared;

/// Most debts paid per pass.
const BATCH: u32 = 100;

/// The owed follow-ups service.
pub(crate) struct OwedFollowUps<Tx: ?Sized + 'static> {
    pub(crate) shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Service for OwedFollowUps<Tx> {
    const NAME: &'static str = "owed follow-ups";

    fn interval(&self) -> Duration {
        self.shared.config.poll_interval
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        let names = self.shared.registry.names();
        if names.is_empty() {
            return Ok(0);
        }
        let commands = self.shared.commands();
        let owed = commands.owed_follow_ups(&names, BATCH).await?;
        let mut paid = 0;
        for debt in owed {
            let follow_ups = cancel_follow_ups(&self.shared, debt.id, &debt.name, &debt.input);
            if commands.pay_follow_ups(debt.id, &follow_ups).await? {
                debug!(command.id = %debt.id, command.name = %debt.name, follow_ups = follow_ups.len(),
                    "inserted the on_cancel follow-ups of a command canceled where it had no handler");
                paid += 1;
            }
        }
        if paid > 0 {
            // Follow-ups may be due now: claim them without waiting for a poll.
            self.shared.wake.notify_one();
        }
        Ok(paid)
    }
}
