//! [`EngineBuilder`]: store, handlers, state and settings → [`Engine`].

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::command::Command;
use crate::config::EngineConfig;
use crate::error::Result;
use crate::extensions::Extensions;
use crate::handler::Handler;
use crate::outbox::Publisher;
use crate::registry::{ExplicitHandler, Registry};
use crate::retry::RetryPolicy;
use crate::shared::Shared;
use crate::store::Store;

/// Builds an [`Engine`] (and through it a [`Client`](crate::Client)).
///
/// Handlers registered with `#[orch_handler]` are included unless
/// [`EngineBuilder::without_link_time_handlers`] is called; explicit ones are added with
/// [`EngineBuilder::handler`].
#[must_use]
pub struct EngineBuilder<Tx: ?Sized + 'static> {
    store: Arc<dyn Store<Tx = Tx>>,
    config: EngineConfig,
    state: Extensions,
    explicit: Vec<ExplicitHandler>,
    link_time: bool,
    publisher: Option<Arc<dyn Publisher>>,
}

impl<Tx: ?Sized + 'static> std::fmt::Debug for EngineBuilder<Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<Tx: ?Sized + 'static> EngineBuilder<Tx> {
    /// A builder over `store` with default settings.
    pub fn new(store: Arc<dyn Store<Tx = Tx>>) -> Self {
        Self {
            store,
            config: EngineConfig::default(),
            state: Extensions::new(),
            explicit: Vec::new(),
            link_time: true,
            publisher: None,
        }
    }

    /// Replaces every setting at once.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes settings in place.
    pub fn configure(mut self, f: impl FnOnce(&mut EngineConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Serves only this instance key (and makes it the default target of pushes).
    pub fn instance_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.config.instance_keys = vec![key.clone()];
        self.config.default_target = key;
        self
    }

    /// Serves these instance keys; the first becomes the default target of pushes.
    pub fn instance_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.instance_keys = keys.into_iter().map(Into::into).collect();
        if let Some(first) = self.config.instance_keys.first() {
            self.config.default_target = first.clone();
        }
        self
    }

    /// Handlers running at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n;
        self
    }

    /// Most commands claimed per round trip.
    pub fn max_claim(mut self, n: u32) -> Self {
        self.config.max_claim = n;
        self
    }

    /// Poll interval when nothing wakes the engine.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.config.poll_interval = interval;
        self
    }

    /// The backoff between attempts.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// The backoff between attempts of command `C` only.
    pub fn retry_policy_for<C: Command>(mut self, policy: RetryPolicy) -> Self {
        self.config.retry_by_name.insert(C::NAME.to_owned(), policy);
        self
    }

    /// Adds application state, read in handlers with `ctx.state::<T>()`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Registers `handler` for command `C` explicitly. It replaces a link-time handler of
    /// the same command type.
    pub fn handler<C: Command, H: Handler<C>>(mut self, handler: H) -> Self {
        self.explicit.push(ExplicitHandler::new::<C, H>(handler));
        self
    }

    /// Delivers outbox messages through `publisher`: the elected leader runs the relay.
    /// Without a publisher, messages wait in the outbox (for a relay elsewhere, or for
    /// callers of the work-queue API).
    pub fn publisher(mut self, publisher: impl Publisher) -> Self {
        self.publisher = Some(Arc::new(publisher));
        self
    }

    /// Ignores `#[orch_handler]` registrations: only explicit handlers run.
    pub fn without_link_time_handlers(mut self) -> Self {
        self.link_time = false;
        self
    }

    /// Validates the settings and the registry and builds the engine.
    pub fn build(self) -> Result<Engine<Tx>> {
        self.config.validate()?;
        let registry = Registry::build(self.link_time, self.explicit)?;
        let shared = Shared::new(
            self.store,
            registry,
            self.config,
            self.state,
            self.publisher,
        );
        Ok(Engine::from_shared(Arc::new(shared)))
    }
}
