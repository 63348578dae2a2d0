//! The outbox relay (leader only, when a publisher is set): claims due messages, publishes
//! them (the messages of one key one after another, in order; keys concurrently), and
//! settles each: delivered, retried after a backoff, or dead; what follows a failure in
//! its key's chain is given back untouched. It reaps expired claims and prunes
//! delivered messages past their retention as it goes.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use tokio::sync::Notify;
use tracing::{info, warn};

use super::Service;
use crate::outbox::{MessageId, Outbox, OutboxMessage, OwnerToken, PublishError, Publisher};
use crate::shared::{LOOK_AGAIN, Shared};
use crate::store::MessageFailure;

/// Time between reaps of expired claims.
const REAP_EVERY: Duration = Duration::from_secs(10);
/// Time between prunings of delivered messages.
const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// A message of a chain and what publishing it did (`None`: not tried, because an
/// earlier message of its key failed).
type Published<'a> = (&'a OutboxMessage, Option<Result<(), PublishError>>);

/// The relay of one leader term.
pub(crate) struct Relay<Tx: ?Sized + 'static> {
    shared: Arc<Shared<Tx>>,
    outbox: Outbox<Tx>,
    publisher: Arc<dyn Publisher>,
    owner: OwnerToken,
    /// Messages claimed and not yet settled: given back if the relay stops mid-batch.
    held: Vec<MessageId>,
    last_reap: Option<Instant>,
    last_prune: Option<Instant>,
    /// The in-process enqueue count the last pass saw.
    seen_enqueues: u64,
}

impl<Tx: ?Sized + 'static> Relay<Tx> {
    pub(crate) fn new(shared: Arc<Shared<Tx>>, publisher: Arc<dyn Publisher>) -> Self {
        Self {
            outbox: Outbox::new(shared.clone()),
            owner: OwnerToken::from_uuid(shared.worker.as_uuid()),
            shared,
            publisher,
            held: Vec::new(),
            last_reap: None,
            last_prune: None,
            seen_enqueues: 0,
        }
    }

    async fn housekeeping(&mut self) -> crate::Result<()> {
        if self.last_reap.is_none_or(|at| at.elapsed() >= REAP_EVERY) {
            self.last_reap = Some(Instant::now());
            let reaped = self.outbox.reap_expired().await?;
            if reaped > 0 {
                warn!(
                    reaped,
                    "outbox messages whose claim expired are pending again"
                );
            }
        }
        if self.last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            let pruned = self.outbox.prune().await?;
            if pruned > 0 {
                info!(
                    pruned,
                    "deleted delivered outbox messages past their retention"
                );
            }
        }
        Ok(())
    }

    /// Publishes one message, turning a timeout or a panic into a retryable error.
    async fn publish(
        publisher: &dyn Publisher,
        message: &OutboxMessage,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| publisher.publish(message)));
        let future = started.map_err(|panic| panicked(&*panic))?;
        match tokio::time::timeout(timeout, AssertUnwindSafe(future).catch_unwind()).await {
            Err(_) => Err(PublishError::retryable(format!(
                "publish timed out after {timeout:?}"
            ))),
            Ok(Err(panic)) => Err(panicked(&*panic)),
            Ok(Ok(outcome)) => outcome,
        }
    }

    /// One batch: claim, publish, settle. Returns how many were claimed.
    async fn batch(&mut self) -> crate::Result<usize> {
        let config = &self.shared.config.outbox;
        let (lease, size, concurrency, timeout) = (
            config.relay_lease,
            config.relay_batch,
            config.relay_concurrency,
            config.publish_timeout,
        );
        let claimed = self.outbox.claim(self.owner, lease, size).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        self.held = claimed.iter().map(|m| m.id).collect();
        // One chain per key, in claim (seq) order; messages without a key alone.
        let mut chains: Vec<Vec<&OutboxMessage>> = Vec::new();
        let mut by_key: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for message in &claimed {
            match message.key.as_deref() {
                Some(key) => match by_key.get(key) {
                    Some(&i) => chains[i].push(message),
                    None => {
                        by_key.insert(key, chains.len());
                        chains.push(vec![message]);
                    }
                },
                None => chains.push(vec![message]),
            }
        }
        let publisher = &*self.publisher;
        let chains_ref = &chains;
        // Each chain is delivered in order and stops at its first failure: the failed
        // message is retried later, the rest of its chain is given back untouched.
        let outcomes: Vec<Vec<Published<'_>>> = futures::stream::iter(0..chains.len())
            .map(|i| async move {
                let mut done = Vec::with_capacity(chains_ref[i].len());
                let mut failed = false;
                for message in &chains_ref[i] {
                    if failed {
                        done.push((*message, None));
                        continue;
                    }
                    let outcome = Self::publish(publisher, message, timeout).await;
                    failed = outcome.is_err();
                    done.push((*message, Some(outcome)));
                }
                done
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut delivered = Vec::with_capacity(claimed.len());
        let mut failures = Vec::new();
        let mut given_back = Vec::new();
        for (message, outcome) in outcomes.into_iter().flatten() {
            match outcome {
                None => given_back.push(message.id),
                Some(Ok(())) => delivered.push(message.id),
                Some(Err(error)) => {
                    let retry_after = self.outbox.retry_after(message, error.is_permanent());
                    let text = self.shared.truncate_error(error.to_string());
                    if retry_after.is_none() {
                        warn!(id = %message.id, topic = %message.topic, attempts = message.attempts, error = %text, "outbox message is dead");
                    } else {
                        warn!(id = %message.id, topic = %message.topic, attempts = message.attempts, error = %text, "publishing an outbox message failed; retrying later");
                    }
                    failures.push(MessageFailure::new(message.id, text, retry_after));
                }
            }
        }
        let store = self.shared.store.outbox();
        if !delivered.is_empty() {
            store.ack(self.owner, &delivered).await?;
        }
        if !failures.is_empty() {
            store.fail(self.owner, &failures).await?;
        }
        if !given_back.is_empty() {
            store.abandon(self.owner, &given_back).await?;
        }
        self.held.clear();
        Ok(claimed.len())
    }
}

fn panicked(panic: &(dyn std::any::Any + Send)) -> PublishError {
    let what = panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_owned());
    PublishError::retryable(format!("the publisher panicked: {what}"))
}

impl<Tx: ?Sized + 'static> Service for Relay<Tx> {
    const NAME: &'static str = "relay";

    fn interval(&self) -> Duration {
        self.shared.config.outbox.relay_poll_interval
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.shared.outbox_wake.clone())
    }

    async fn run_once(&mut self) -> crate::Result<usize> {
        self.housekeeping().await?;
        let enqueues = self
            .shared
            .outbox_enqueues
            .load(std::sync::atomic::Ordering::Relaxed);
        let woken = enqueues != self.seen_enqueues;
        self.seen_enqueues = enqueues;
        let mut total = 0;
        let mut pauses = LOOK_AGAIN.iter();
        loop {
            // A short batch does not mean the backlog is drained: a claim takes one
            // message per key, so the next one of each key waits for the next claim.
            let n = self.batch().await?;
            total += n;
            if n > 0 {
                continue;
            }
            // Woken by an enqueue whose transaction may not have committed when we
            // looked: look again a few times before waiting for the next poll.
            match pauses.next() {
                Some(pause) if woken && total == 0 => tokio::time::sleep(*pause).await,
                _ => return Ok(total),
            }
        }
    }

    async fn stop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.held);
        if let Err(error) = self.shared.store.outbox().abandon(self.owner, &held).await {
            warn!(%error, "giving back claimed outbox messages failed; they return when their claim expires");
        }
    }
}
