//! Single pushes made at the same time share a statement and its commit.
//!
//! A push that finds fewer than [`WRITERS`] statements of pushes in flight writes at once.
//! Pushes that arrive while that many are in flight wait; when one of those statements is
//! done, the first waiting push writes all that waited, in one statement (one commit, one
//! WAL flush), and hands each its own result. A lone push therefore never waits, and
//! concurrent pushes commit as batches would: the server's single-row commit rate no longer
//! bounds them.
//!
//! Each push keeps its own outcome:
//! - a batch the database refuses for what it holds (a value, a constraint, a trigger) is
//!   written again one push at a time, so only the refused push fails;
//! - a batch that failed for the connection or a conflict fails each of its pushes with
//!   that error, as a push alone would have;
//! - a push whose writer was dropped mid-write (its caller stopped waiting) does not know
//!   whether it was written: it writes itself alone, and a row already under its id counts
//!   as written.
//!
//! Pushes in the caller's own transaction (`push_in`) and `push_many` are not shared.

use std::collections::VecDeque;
use std::sync::Mutex;

use orch_core::Pushed;
use orch_core::store::{InsertCommand, StoreError};
use tokio::sync::oneshot;

use crate::store::Inner;

/// Statements of pushes in flight at once: while one waits for its commit, the next is
/// written, and the server flushes both commits together.
const WRITERS: usize = 2;

/// What a waiting push is told.
enum Turn {
    /// It was written (or refused) with the batch of the push before it.
    Done(Result<Pushed, StoreError>),
    /// The push before it is done: it writes the next batch.
    Write,
}

/// A push waiting for the one being written.
struct Waiter {
    command: InsertCommand,
    reply: oneshot::Sender<Turn>,
}

#[derive(Default)]
struct State {
    /// Pushes being written, at most [`WRITERS`].
    writing: usize,
    waiting: VecDeque<Waiter>,
}

/// The single pushes of one store (see the module docs).
#[derive(Default)]
pub(crate) struct Together {
    state: Mutex<State>,
}

impl Together {
    /// Writes `command`, alone or with the pushes made at the same time.
    pub(crate) async fn push(
        &self,
        store: &Inner,
        command: InsertCommand,
    ) -> Result<Pushed, StoreError> {
        let wait = {
            let mut state = self.lock();
            if state.writing >= WRITERS {
                let (reply, turn) = oneshot::channel();
                state.waiting.push_back(Waiter {
                    command: command.clone(),
                    reply,
                });
                Some(turn)
            } else {
                state.writing += 1;
                None
            }
        };
        if let Some(turn) = wait {
            let mut waiting = Waiting {
                together: self,
                turn,
            };
            match (&mut waiting.turn).await {
                Ok(Turn::Done(result)) => return result,
                Ok(Turn::Write) => {}
                // Its writer was dropped mid-write: this push may or may not be written.
                Err(_) => return write_alone_checked(store, command).await,
            }
        }
        // This push writes: it holds the turn until `_turn` hands it on, even if dropped.
        let _turn = Writing(self);
        let others: Vec<Waiter> = self.lock().waiting.drain(..).collect();
        let mut batch = Vec::with_capacity(1 + others.len());
        batch.push(command);
        let mut replies = Vec::with_capacity(others.len());
        for waiter in others {
            batch.push(waiter.command);
            replies.push(waiter.reply);
        }
        // One result per command of the batch, this push's first.
        let mut results = write_each(store, &batch).await;
        let own = results.remove(0);
        for (reply, result) in replies.into_iter().zip(results) {
            // A push whose caller stopped waiting is written all the same.
            let _ = reply.send(Turn::Done(result));
        }
        own
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Passes the turn to the first push still waiting for it, or frees it.
    fn hand_on(&self) {
        let mut state = self.lock();
        while let Some(next) = state.waiting.pop_front() {
            // A push whose caller stopped waiting before its turn is not written.
            if next.reply.send(Turn::Write).is_ok() {
                return;
            }
        }
        state.writing -= 1;
    }
}

/// A push waiting for its turn. Dropped before it was told (its caller stopped waiting),
/// it hands on a turn to write that reached it meanwhile, so the pushes after it go on
/// (once told, nothing is left to receive).
struct Waiting<'a> {
    together: &'a Together,
    turn: oneshot::Receiver<Turn>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.turn.close();
        if let Ok(Turn::Write) = self.turn.try_recv() {
            self.together.hand_on();
        }
    }
}

/// The turn to write, handed on when the writer is done or dropped.
struct Writing<'a>(&'a Together);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.0.hand_on();
    }
}

/// Writes `batch` in one statement (see [`super::write`]); each command gets its own
/// result (see the module docs).
async fn write_each(store: &Inner, batch: &[InsertCommand]) -> Vec<Result<Pushed, StoreError>> {
    let error = match super::write(store, batch).await {
        Ok(pushed) => return pushed.into_iter().map(Ok).collect(),
        Err(error) => error,
    };
    if batch.len() == 1 {
        return vec![Err(error)];
    }
    if error.is_transient() {
        let (kind, shared) = (error.kind(), error.to_string());
        let mut results = vec![Err(error)];
        results.extend((1..batch.len()).map(|_| {
            Err(StoreError::new(
                kind,
                "insert commands pushed together",
                Some(shared.clone().into()),
            ))
        }));
        return results;
    }
    let mut results = Vec::with_capacity(batch.len());
    for command in batch {
        let one = super::write(store, std::slice::from_ref(command)).await;
        results.push(one.map(|mut pushed| pushed.remove(0)));
    }
    results
}

/// Writes `command` alone; if that fails and a row under its id exists (an earlier write
/// of it committed), it counts as written.
async fn write_alone_checked(store: &Inner, command: InsertCommand) -> Result<Pushed, StoreError> {
    match super::write(store, std::slice::from_ref(&command)).await {
        Ok(mut pushed) => Ok(pushed.remove(0)),
        Err(error) => {
            let found =
                crate::commands::read::get(&store.db, store.backend, &store.tables, command.id)
                    .await?;
            match found {
                Some(_) => Ok(Pushed::new(command.id, true)),
                None => Err(error),
            }
        }
    }
}
