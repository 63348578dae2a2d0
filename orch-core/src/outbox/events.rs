//! [`Events`]: domain events collected during a unit of work, written as outbox messages
//! in that unit's transaction.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use super::message::Message;

/// Domain events raised during one unit of work. Clones share one list, so domain code can
/// hold a clone and raise events wherever it decides something happened; the unit's
/// owner writes them with [`Outbox::flush_in`](super::Outbox::flush_in) (or `orch`'s
/// `UnitOfWork`) in the transaction that saves the data. Nothing is global: a collector
/// belongs to the unit of work that made it.
///
/// # Example
/// ```
/// use orch_core::outbox::{Events, Message};
/// let events = Events::default();
/// events.raise(Message::new("user.registered", b"7".to_vec()).key("user-7"));
/// events.raise_json("user.welcomed", &serde_json::json!({ "user": 7 }))?;
/// assert_eq!(events.len(), 2);
/// # Ok::<_, serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Events {
    inner: Arc<Mutex<Vec<Message>>>,
}

impl Events {
    /// Adds an event.
    pub fn raise(&self, message: Message) {
        self.lock().push(message);
    }

    /// Adds an event whose payload is `value` as JSON.
    ///
    /// # Errors
    /// `value` does not serialize.
    pub fn raise_json<T: Serialize + ?Sized>(
        &self,
        topic: impl Into<String>,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.raise(Message::json(topic, value)?);
        Ok(())
    }

    /// How many events wait to be written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Drops every event not yet written (the unit of work was abandoned).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn snapshot(&self) -> Vec<Message> {
        self.lock().clone()
    }

    /// Removes the first `n` events (those just written).
    pub(crate) fn drain(&self, n: usize) {
        let mut events = self.lock();
        let n = n.min(events.len());
        events.drain(..n);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Message>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
