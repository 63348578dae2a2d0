//! [`OutboxConfig`]: the outbox's limits and the relay's pace.

use std::time::Duration;

use crate::error::ConfigError;
use crate::retry::RetryPolicy;

/// Default attempts before a failing message is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;
/// Default largest payload, in bytes.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Default messages the relay claims per round trip.
pub const DEFAULT_RELAY_BATCH: u32 = 200;
/// Default publishes in flight at once.
pub const DEFAULT_RELAY_CONCURRENCY: usize = 64;
/// Default lease of a relay's claim: a relay that dies leaves its messages for this long.
pub const DEFAULT_RELAY_LEASE: Duration = Duration::from_secs(60);
/// Default limit on one publish; a publish that takes longer is a failed attempt.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// Default pause between relay polls when nothing in this process enqueued.
pub const DEFAULT_RELAY_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Default time delivered messages are kept.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The outbox's settings, part of [`EngineConfig`](crate::EngineConfig).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// Attempts before a failing message is dead (default 20).
    pub max_attempts: u32,
    /// Backoff between failed attempts (default: 1 s doubling to 1 h, ±20 % jitter).
    pub retry: RetryPolicy,
    /// Largest payload accepted by `enqueue`, in bytes (default 1 MiB).
    pub max_payload_bytes: usize,
    /// Messages the relay claims per round trip (default 200).
    pub relay_batch: u32,
    /// Publishes in flight at once (default 64).
    pub relay_concurrency: usize,
    /// How long a relay's claim lasts before another relay may take the messages over
    /// (default 60 s). Must exceed `publish_timeout`.
    pub relay_lease: Duration,
    /// Limit on one publish (default 30 s).
    pub publish_timeout: Duration,
    /// Pause between relay polls when no enqueue in this process woke it (default 250 ms).
    pub relay_poll_interval: Duration,
    /// How long delivered messages are kept before they are pruned (default 7 days).
    pub retention: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry: RetryPolicy::new(),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            relay_batch: DEFAULT_RELAY_BATCH,
            relay_concurrency: DEFAULT_RELAY_CONCURRENCY,
            relay_lease: DEFAULT_RELAY_LEASE,
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
            relay_poll_interval: DEFAULT_RELAY_POLL_INTERVAL,
            retention: DEFAULT_RETENTION,
        }
    }
}

impl OutboxConfig {
    /// Sets [`OutboxConfig::max_attempts`].
    #[must_use]
    pub fn with_max_attempts(mut self, value: u32) -> Self {
        self.max_attempts = value;
        self
    }

    /// Sets [`OutboxConfig::retry`].
    #[must_use]
    pub fn with_retry(mut self, value: RetryPolicy) -> Self {
        self.retry = value;
        self
    }

    /// Sets [`OutboxConfig::max_payload_bytes`].
    #[must_use]
    pub fn with_max_payload_bytes(mut self, value: usize) -> Self {
        self.max_payload_bytes = value;
        self
    }

    /// Sets [`OutboxConfig::relay_batch`].
    #[must_use]
    pub fn with_relay_batch(mut self, value: u32) -> Self {
        self.relay_batch = value;
        self
    }

    /// Sets [`OutboxConfig::relay_concurrency`].
    #[must_use]
    pub fn with_relay_concurrency(mut self, value: usize) -> Self {
        self.relay_concurrency = value;
        self
    }

    /// Sets [`OutboxConfig::relay_lease`].
    #[must_use]
    pub fn with_relay_lease(mut self, value: Duration) -> Self {
        self.relay_lease = value;
        self
    }

    /// Sets [`OutboxConfig::publish_timeout`].
    #[must_use]
    pub fn with_publish_timeout(mut self, value: Duration) -> Self {
        self.publish_timeout = value;
        self
    }

    /// Sets [`OutboxConfig::relay_poll_interval`].
    #[must_use]
    pub fn with_relay_poll_interval(mut self, value: Duration) -> Self {
        self.relay_poll_interval = value;
        self
    }

    /// Sets [`OutboxConfig::retention`].
    #[must_use]
    pub fn with_retention(mut self, value: Duration) -> Self {
        self.retention = value;
        self
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// A setting out of range, named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("outbox.max_attempts", u64::from(self.max_attempts)),
            ("outbox.relay_batch", u64::from(self.relay_batch)),
            (
                "outbox.relay_concurrency",
                self.relay_concurrency.try_into().unwrap_or(u64::MAX),
            ),
            (
                "outbox.max_payload_bytes",
                self.max_payload_bytes.try_into().unwrap_or(u64::MAX),
            ),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if self.max_attempts > 100_000 {
            return Err(ConfigError::invalid(
                "outbox.max_attempts",
                format!("{} is over 100000", self.max_attempts),
            ));
        }
        if self.relay_batch > 10_000 {
            return Err(ConfigError::invalid(
                "outbox.relay_batch",
                format!("{} is over 10000", self.relay_batch),
            ));
        }
        for (field, value) in [
            ("outbox.publish_timeout", self.publish_timeout),
            ("outbox.relay_poll_interval", self.relay_poll_interval),
            ("outbox.retention", self.retention),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(field, "must be greater than zero"));
            }
        }
        if self.relay_lease <= self.publish_timeout {
            return Err(ConfigError::invalid(
                "outbox.relay_lease",
                format!(
                    "{:?} must exceed publish_timeout ({:?}), or a slow publish outlives its claim",
                    self.relay_lease, self.publish_timeout
                ),
            ));
        }
        self.retry
            .validate()
            .map_err(|reason| ConfigError::invalid("outbox.retry", reason))
    }
}
