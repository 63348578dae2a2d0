//! [`CommandStore`]: the command life cycle, one method per transition.

mod params;
mod record;

pub use params::{
    CancelOutcome, CancelParams, ClaimParams, ClaimedCommand, Finish, FinishOutcome, InsertCommand,
    LeaseRenewal, ListFilter, OwedFollowUps,
};
pub use record::{AttemptError, CommandRecord, OutputError};

use super::StoreFuture;
use crate::id::CommandId;
use crate::push::Pushed;

/// Durable command rows. See the [module docs](super) for the lease protocol; `Tx` is the
/// backend's [`Store::Tx`](super::Store::Tx).
pub trait CommandStore<Tx: ?Sized>: Send + Sync {
    /// Inserts commands atomically: all of them or none. A command whose idempotency key
    /// already exists is not inserted; the existing row's id is returned instead.
    fn insert<'a>(&'a self, commands: &'a [InsertCommand]) -> StoreFuture<'a, Vec<Pushed>>;

    /// Inserts commands through the caller's connection or transaction: they exist exactly
    /// when it commits.
    fn insert_in<'a>(
        &'a self,
        tx: &'a Tx,
        commands: &'a [InsertCommand],
    ) -> StoreFuture<'a, Vec<Pushed>>;

    /// Claims up to `params.limit` due commands under a new lease, oldest `run_at` first.
    /// While claims of the same names and targets come back full (a backlog), a store may
    /// pass over a row committed after it became due behind the rows its last claim took,
    /// for at most about a second (orch-sea on PostgreSQL does, to skip the index entries
    /// of rows claimed before); a claim that comes back short has taken such rows too.
    ///
    /// A claimed row the store cannot decode (text that is not valid UTF-8, a value of the
    /// wrong type) never fails the claim: it is recorded dead at once, fenced on its id and
    /// this lease, with a [`FailureKind::Decode`](crate::FailureKind::Decode) error naming
    /// it, and left out of the result; the other rows are returned as usual.
    fn claim<'a>(&'a self, params: &'a ClaimParams) -> StoreFuture<'a, Vec<ClaimedCommand>>;

    /// Applies fenced end-of-attempt transitions, with their error rows and follow-ups, in
    /// one transaction. Returns, for each item in order, whether it applied (false: the
    /// lease was lost).
    fn finish<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>>;

    /// Extends (or only checks) leases. Returns, for each item in order, whether the lease
    /// is still held (false: the command was canceled, rescued or finished elsewhere).
    fn renew_leases<'a>(&'a self, leases: &'a [LeaseRenewal]) -> StoreFuture<'a, Vec<bool>>;

    /// Running commands whose lease expired by the database's clock, at most `limit`,
    /// oldest expiry first, leaving out the ids in `skip` (rows the reaper found it cannot
    /// move). A row that cannot be decoded is recorded dead instead, as [`Self::claim`]
    /// does, fenced on its expired lease.
    fn find_expired<'a>(
        &'a self,
        limit: u32,
        skip: &'a [CommandId],
    ) -> StoreFuture<'a, Vec<ClaimedCommand>>;

    /// Takes back commands whose lease expired: like [`CommandStore::finish`], but each
    /// transition applies only while its lease is still expired by the database's clock,
    /// so a heartbeat that renewed it in the meantime wins.
    fn rescue_expired<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>>;

    /// Settles attempts claimed through the work-queue API: like
    /// [`CommandStore::finish`], but each transition applies only while its lease has not
    /// expired by the database's clock, so an owner that overran its lease changes
    /// nothing.
    fn settle_live<'a>(&'a self, batch: &'a [Finish]) -> StoreFuture<'a, Vec<bool>>;

    /// Cancels a pending or running command, inserting its follow-ups in the same
    /// transaction.
    fn cancel<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, CancelOutcome>;

    /// Cancels a command only if it has not started: still `pending` with no attempt
    /// made. Returns whether it did; the follow-ups are inserted in the same transaction.
    fn cancel_unstarted<'a>(&'a self, params: &'a CancelParams) -> StoreFuture<'a, bool>;

    /// Canceled commands of these names whose `on_cancel` follow-ups are owed (see
    /// [`CancelParams::follow_ups_owed`]), oldest first, at most `limit`.
    fn owed_follow_ups<'a>(
        &'a self,
        names: &'a [&'static str],
        limit: u32,
    ) -> StoreFuture<'a, Vec<OwedFollowUps>>;

    /// Inserts the follow-ups owed by the canceled command `id` and clears the debt, in one
    /// transaction. Returns false, inserting nothing, if nothing is owed any more (another
    /// engine paid it first): follow-ups are inserted exactly once.
    fn pay_follow_ups<'a>(
        &'a self,
        id: CommandId,
        follow_ups: &'a [InsertCommand],
    ) -> StoreFuture<'a, bool>;

    /// Timers: commands that have not started (`pending`, no attempt made) and are due
    /// later than the database's now, soonest first, at most `limit` (capped at 10,000).
    fn list_unstarted(&self, limit: u32) -> StoreFuture<'_, Vec<CommandRecord>>;

    /// Per command name: pending commands already due (and the oldest one's wait past its
    /// due time), running and dead ones; names with none of these are left out. Every
    /// count comes from an index, so the cost does not grow with finished commands.
    fn queue_stats(&self) -> StoreFuture<'_, Vec<crate::health::QueueHealth>>;

    /// Reads one command with its recorded errors, from one snapshot.
    fn get(&self, id: CommandId) -> StoreFuture<'_, Option<CommandRecord>>;

    /// Lists commands matching a filter, newest first (without their errors).
    fn list<'a>(&'a self, filter: &'a ListFilter) -> StoreFuture<'a, Vec<CommandRecord>>;
}
