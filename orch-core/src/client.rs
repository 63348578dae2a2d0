//! [`Client`]: push, cancel and inspect commands.

use std::sync::Arc;

use tracing::warn;

use crate::command::Command;
use crate::engine::inflight_stop;
use crate::engine::shared::Shared;
use crate::error::{Error, Result};
use crate::id::CommandId;
use crate::push::{NewCommand, Push};
use crate::registry::Terminal;
use crate::status::CommandStatus;
use crate::store::{CancelOutcome, CancelParams, CommandRecord, InsertCommand, Store};

/// Pushes, cancels and reads commands. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.shared.store.backend())
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// The store this client writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Pushes a command with default options; returns its id.
    pub async fn push<C: Command>(&self, cmd: C) -> Result<CommandId> {
        self.push_with(cmd, Push::new()).await
    }

    /// Pushes a command with options (target, run time, idempotency key, overrides).
    /// With an idempotency key that already exists, returns the existing command's id.
    pub async fn push_with<C: Command>(&self, cmd: C, push: Push) -> Result<CommandId> {
        let insert = self.prepare(&cmd, push)?;
        let inserted = self
            .shared
            .store
            .insert(std::slice::from_ref(&insert))
            .await?;
        self.wake();
        Ok(inserted.first().map_or(insert.id, |i| i.id))
    }

    /// Pushes many commands of one type in one transaction; returns their ids in order.
    pub async fn push_many<C, I>(&self, cmds: I) -> Result<Vec<CommandId>>
    where
        C: Command,
        I: IntoIterator<Item = C>,
    {
        let inserts = cmds
            .into_iter()
            .map(|cmd| self.prepare(&cmd, Push::new()))
            .collect::<Result<Vec<_>>>()?;
        if inserts.is_empty() {
            return Ok(Vec::new());
        }
        let inserted = self.shared.store.insert(&inserts).await?;
        self.wake();
        Ok(inserted.into_iter().map(|i| i.id).collect())
    }

    /// Serializes and checks a command for insertion (size limit, defaults), without
    /// writing it: the first half of a push, for stores that insert inside a caller's own
    /// transaction.
    pub fn prepare<C: Command>(&self, cmd: &C, push: Push) -> Result<InsertCommand> {
        let new = NewCommand::from_command(cmd, push).map_err(|source| Error::Serialize {
            name: C::NAME,
            source,
        })?;
        self.shared.resolve(new, None)
    }

    /// Wakes this process's idle engine so it claims at once.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Cancels a pending or running command. A running handler's cancellation token fires
    /// (at once in this process, at its engine's next heartbeat elsewhere). The command
    /// type's `on_cancel` follow-ups are inserted in the same transaction.
    pub async fn cancel(&self, id: CommandId) -> Result<CancelOutcome> {
        let Some(record) = self.shared.store.get(id).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        if record.status.is_terminal() {
            return Ok(CancelOutcome::AlreadyFinished(record.status));
        }
        let follow_ups = self.cancel_follow_ups(&record);
        let outcome = self
            .shared
            .store
            .cancel(&CancelParams { id, follow_ups })
            .await?;
        if outcome == CancelOutcome::CanceledRunning {
            inflight_stop(&self.shared, id);
        }
        Ok(outcome)
    }

    fn cancel_follow_ups(&self, record: &CommandRecord) -> Vec<InsertCommand> {
        let Some(info) = self.shared.registry.command(&record.name) else {
            if record.status == CommandStatus::Pending {
                warn!(command.id = %record.id, command.name = %record.name,
                    "canceling a command this process has no handler for: on_cancel follow-ups are not computed");
            }
            return Vec::new();
        };
        (info.terminal_follow_ups)(&record.input, Terminal::Canceled)
            .and_then(|f| self.shared.resolve_follow_ups(record.id, f))
            .unwrap_or_else(|message| {
                warn!(command.id = %record.id, %message, "on_cancel follow-ups dropped");
                Vec::new()
            })
    }

    /// Reads a command: status, attempts, errors and output.
    pub async fn get(&self, id: CommandId) -> Result<Option<CommandRecord>> {
        Ok(self.shared.store.get(id).await?)
    }

    /// Lists commands matching `filter`, newest first.
    pub async fn list(&self, filter: &crate::store::ListFilter) -> Result<Vec<CommandRecord>> {
        Ok(self.shared.store.list(filter).await?)
    }

    /// Reads a command that must exist.
    pub async fn fetch(&self, id: CommandId) -> Result<CommandRecord> {
        self.get(id).await?.ok_or(Error::NotFound(id))
    }
}
