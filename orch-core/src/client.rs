//! [`Client`]: push, cancel and inspect commands, in the store's own transactions or the
//! caller's.

use std::sync::Arc;

use tracing::debug;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::id::CommandId;
use crate::lock::Lock;
use crate::push::{NewCommand, Push, Pushed};
use crate::shared::Shared;
use crate::status::CommandStatus;
use crate::store::{CancelOutcome, CancelParams, CommandRecord, InsertCommand, ListFilter};

/// Pushes, cancels and reads commands. Cheap to clone.
///
/// `Tx` is the store's transaction type ([`Store::Tx`](crate::store::Store::Tx)): the
/// `*_in` methods take the caller's own connection or transaction of that type.
pub struct Client<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
}

impl<Tx: ?Sized + 'static> Clone for Client<Tx> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for Client<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.shared.store.backend())
            .finish_non_exhaustive()
    }
}

impl<Tx: ?Sized + 'static> Client<Tx> {
    pub(crate) fn from_shared(shared: Arc<Shared<Tx>>) -> Self {
        Self { shared }
    }

    /// Pushes a command with default options; returns its id.
    ///
    /// # Errors
    /// The command does not serialize, breaks a limit, or the database failed.
    pub async fn push<C: Command>(&self, cmd: C) -> Result<CommandId> {
        self.push_with(cmd, Push::new()).await
    }

    /// Pushes a command with options (target, run time, idempotency key, overrides).
    /// With an idempotency key that already exists, returns the existing command's id.
    ///
    /// # Errors
    /// As [`Client::push`], and options out of range.
    pub async fn push_with<C: Command>(&self, cmd: C, push: Push) -> Result<CommandId> {
        Ok(self.submit(cmd, push).await?.id)
    }

    /// [`Client::push_with`], saying whether the push created the command or found one
    /// with the same idempotency key.
    ///
    /// # Errors
    /// As [`Client::push_with`].
    pub async fn submit<C: Command>(&self, cmd: C, push: Push) -> Result<Pushed> {
        let insert = self.prepare(&cmd, push)?;
        let inserted = self
            .shared
            .commands()
            .insert(std::slice::from_ref(&insert))
            .await?;
        self.wake();
        Ok(inserted
            .first()
            .copied()
            .unwrap_or(Pushed::new(insert.id, true)))
    }

    /// Pushes a command inside the caller's own connection or transaction: it exists
    /// exactly when that transaction commits.
    ///
    /// # Errors
    /// As [`Client::push`].
    pub async fn push_in<C: Command>(&self, tx: &Tx, cmd: C) -> Result<CommandId> {
        self.push_in_with(tx, cmd, Push::new()).await
    }

    /// [`Client::push_in`] with options.
    ///
    /// # Errors
    /// As [`Client::push_with`].
    pub async fn push_in_with<C: Command>(&self, tx: &Tx, cmd: C, push: Push) -> Result<CommandId> {
        Ok(self.submit_in(tx, cmd, push).await?.id)
    }

    /// [`Client::push_in_with`], saying whether the push created the command (see
    /// [`Client::submit`]).
    ///
    /// # Errors
    /// As [`Client::push_with`].
    pub async fn submit_in<C: Command>(&self, tx: &Tx, cmd: C, push: Push) -> Result<Pushed> {
        let insert = self.prepare(&cmd, push)?;
        let inserted = self
            .shared
            .commands()
            .insert_in(tx, std::slice::from_ref(&insert))
            .await?;
        // Engines in this process look at once; if the transaction has not committed yet,
        // they find nothing and look again a few times over the next ~200 ms.
        self.wake();
        Ok(inserted
            .first()
            .copied()
            .unwrap_or(Pushed::new(insert.id, true)))
    }

    /// Pushes many commands of one type atomically; returns their ids in order.
    ///
    /// # Errors
    /// As [`Client::push`]; nothing is inserted if one command is refused.
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
        let inserted = self.shared.commands().insert(&inserts).await?;
        self.wake();
        Ok(inserted.into_iter().map(|p| p.id).collect())
    }

    /// Serializes and checks a command for insertion (size limit, defaults).
    fn prepare<C: Command>(&self, cmd: &C, push: Push) -> Result<InsertCommand> {
        let new = NewCommand::from_command(cmd, push).map_err(|source| Error::Serialize {
            name: C::NAME,
            source,
        })?;
        self.shared.resolve(new, None)
    }

    /// Wakes this process's idle engine so it claims at once.
    fn wake(&self) {
        self.shared
            .pushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared.wake.notify_one();
    }

    /// Cancels a pending or running command. A running handler's cancellation token fires
    /// (at once in this process, at its engine's next heartbeat elsewhere). The command
    /// type's `on_cancel` follow-ups are inserted in the same transaction; when this
    /// process has no handler for the command's name (so cannot compute them), they are
    /// recorded as owed in that transaction and an engine with the handler inserts them,
    /// exactly once, within about a poll interval of starting or of the cancel.
    ///
    /// # Errors
    /// The database failed.
    pub async fn cancel(&self, id: CommandId) -> Result<CancelOutcome> {
        let Some(record) = self.shared.commands().get(id).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        if record.status.is_terminal() {
            return Ok(CancelOutcome::AlreadyFinished(record.status));
        }
        let outcome = self
            .shared
            .commands()
            .cancel(&self.cancel_params(&record))
            .await?;
        if outcome == CancelOutcome::CanceledRunning {
            self.shared.stop_canceled(id);
        }
        Ok(outcome)
    }

    /// Cancels a command only if it has not started (still pending, no attempt made):
    /// the way to call off a timer. Returns whether it was canceled; a command that has
    /// started, finished or does not exist is left as it is. `on_cancel` follow-ups are
    /// inserted in the same transaction (or owed, as for [`Client::cancel`]).
    ///
    /// # Errors
    /// The database failed.
    pub async fn cancel_timer(&self, id: CommandId) -> Result<bool> {
        let Some(record) = self.shared.commands().get(id).await? else {
            return Ok(false);
        };
        if record.status != CommandStatus::Pending || record.attempts > 0 {
            return Ok(false);
        }
        Ok(self
            .shared
            .commands()
            .cancel_unstarted(&self.cancel_params(&record))
            .await?)
    }

    /// Pending timers: commands not started yet whose due time is still ahead by the
    /// database's clock, soonest first, at most `limit` (capped at 10,000).
    ///
    /// # Errors
    /// The database failed.
    pub async fn pending_timers(&self, limit: u32) -> Result<Vec<CommandRecord>> {
        Ok(self.shared.commands().list_unstarted(limit).await?)
    }

    /// The cancel of `record`, with its `on_cancel` follow-ups, or marked owed when this
    /// process has no handler for its name.
    fn cancel_params(&self, record: &CommandRecord) -> CancelParams {
        if !self.shared.registry.contains(&record.name) {
            debug!(command.id = %record.id, command.name = %record.name,
                "no handler for this command here: its on_cancel follow-ups are left to an engine that has one");
            return CancelParams {
                id: record.id,
                follow_ups: Vec::new(),
                follow_ups_owed: true,
            };
        }
        CancelParams {
            id: record.id,
            follow_ups: crate::outcome::cancel_follow_ups(
                &self.shared,
                record.id,
                &record.name,
                &record.input,
            ),
            follow_ups_owed: false,
        }
    }

    /// Reads a command: status, attempts, errors and output.
    ///
    /// # Errors
    /// The database failed.
    pub async fn get(&self, id: CommandId) -> Result<Option<CommandRecord>> {
        Ok(self.shared.commands().get(id).await?)
    }

    /// Lists commands matching `filter`, newest first.
    ///
    /// # Errors
    /// The database failed.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<CommandRecord>> {
        Ok(self.shared.commands().list(filter).await?)
    }

    /// The cron jobs on this database (see [`crate::cron`]).
    pub fn cron(&self) -> crate::cron::Cron {
        crate::cron::Cron::new(self.shared.clone())
    }

    /// The transactional outbox of this database (see [`crate::outbox`]).
    pub fn outbox(&self) -> crate::outbox::Outbox<Tx> {
        crate::outbox::Outbox::new(self.shared.clone())
    }

    /// The work-queue API on commands (see [`crate::work_queue`]).
    pub fn command_queue(&self) -> crate::work_queue::CommandQueue<Tx> {
        crate::work_queue::CommandQueue::new(self.shared.clone())
    }

    /// The inbox of this database (see [`crate::inbox`]).
    pub fn inbox(&self) -> crate::inbox::Inbox<Tx> {
        crate::inbox::Inbox::new(self.shared.clone())
    }

    /// A named lock shared by every process on this database (see [`Lock`]).
    pub fn lock(&self, name: impl Into<String>) -> Lock {
        Lock::new(
            self.shared.locks.clone(),
            name.into(),
            self.shared.worker.as_uuid(),
        )
    }

    /// The database's current time.
    ///
    /// # Errors
    /// The database failed.
    pub async fn database_now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        Ok(self.shared.store.now().await?)
    }
}
