//! [`EngineConfig`]: every knob of the engine, with its default as a named constant.

use std::time::Duration;

use crate::error::ConfigError;
use crate::retry::RetryPolicy;

/// The default instance key: the target a command gets when nothing names one, and the one
/// key an engine serves unless told otherwise.
pub const DEFAULT_INSTANCE_KEY: &str = "default";
/// The default number of handlers running at once per engine.
pub const DEFAULT_CONCURRENCY: usize = 100;
/// The default most commands claimed in one round trip (Orchestratum's `MaxCommandPull`).
pub const DEFAULT_MAX_CLAIM: u32 = 100;
/// The default interval between polls when nothing wakes the engine
/// (Orchestratum's `CommandPollingInterval`). Wake-ups (in-process pushes, PostgreSQL
/// `NOTIFY`) make most pushes start long before it.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The default lease length for commands whose timeout is longer; such commands renew it by
/// heartbeat. A crashed worker's commands come back after at most this plus the buffer plus
/// the reaper interval.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
/// The default slack added to every lease beyond the timeout (Orchestratum's
/// `LockTimeoutBuffer`).
pub const DEFAULT_LEASE_BUFFER: Duration = Duration::from_secs(10);
/// The default interval between lease checks and renewals of running commands; it also
/// bounds how long a worker in another process takes to see a cancellation.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// The default interval between reaper passes over expired leases.
pub const DEFAULT_REAPER_INTERVAL: Duration = Duration::from_secs(10);
/// The default TTL of the leader lock: a crashed leader is replaced within a third of it on
/// PostgreSQL and MySQL/MariaDB, and within 4/3 of it on SQLite (see `services::leader`).
pub const DEFAULT_LEADER_TTL: Duration = Duration::from_secs(15);
/// The default interval between cron scheduler passes (on the leader).
pub const DEFAULT_CRON_INTERVAL: Duration = Duration::from_secs(1);
/// The default lateness past which a cron fire time counts as missed.
pub const DEFAULT_CRON_MISFIRE_AFTER: Duration = Duration::from_secs(60);
/// The default time finished cron runs are kept.
pub const DEFAULT_CRON_HISTORY: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long before its lease would run out an attempt whose lease could not be renewed is
/// stopped (its token fires), so a worker cut off from the database stops before another
/// may take the command over; a quarter of `lease_ttl` or half of `lease_buffer` if either
/// is less.
pub const LEASE_FENCE_MARGIN: Duration = Duration::from_secs(1);
/// The default timeout of one attempt for commands that set none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The default retries after the first attempt for commands that set none.
pub const DEFAULT_RETRIES: u32 = 3;
/// The default largest serialized payload accepted by a push.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// The default longest stored error message; longer ones are truncated.
pub const DEFAULT_MAX_ERROR_BYTES: usize = 8 * 1024;
/// The default time running handlers get to finish after shutdown is requested.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The default largest handler output recorded.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Default time processed inbox entries are kept.
pub const DEFAULT_INBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default most completions written in one transaction.
pub const DEFAULT_MAX_FINISH_BATCH: usize = 1000;

/// The engine's settings. Every field documents its default; change them with the
/// `with_*` setters, or in place through the builder's `configure`.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use orch_core::EngineConfig;
/// let config = EngineConfig::default()
///     .with_concurrency(32)
///     .with_lease_ttl(Duration::from_secs(60));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The instance keys (targets) this engine serves. Defaults to `["default"]`.
    pub instance_keys: Vec<String>,
    /// The target of pushes that name none and whose type sets none. Defaults to `"default"`.
    pub default_target: String,
    /// Handlers running at once. Defaults to [`DEFAULT_CONCURRENCY`] (100).
    pub concurrency: usize,
    /// Most commands claimed per round trip. Defaults to [`DEFAULT_MAX_CLAIM`] (100).
    pub max_claim: u32,
    /// Poll interval when idle. Defaults to [`DEFAULT_POLL_INTERVAL`] (1 s).
    pub poll_interval: Duration,
    /// Lease length cap. Defaults to [`DEFAULT_LEASE_TTL`] (30 s).
    pub lease_ttl: Duration,
    /// Lease slack beyond the timeout. Defaults to [`DEFAULT_LEASE_BUFFER`] (10 s).
    pub lease_buffer: Duration,
    /// Lease check and renewal interval. Defaults to [`DEFAULT_HEARTBEAT_INTERVAL`] (5 s).
    pub heartbeat_interval: Duration,
    /// Reaper interval (on the elected leader). Defaults to [`DEFAULT_REAPER_INTERVAL`]
    /// (10 s).
    pub reaper_interval: Duration,
    /// TTL of the leader lock; engines try to take it, and the leader re-checks it, every
    /// third of it. Defaults to [`DEFAULT_LEADER_TTL`] (15 s); at least 3 s.
    pub leader_ttl: Duration,
    /// Cron scheduler interval (on the leader). Defaults to [`DEFAULT_CRON_INTERVAL`] (1 s).
    pub cron_interval: Duration,
    /// Lateness past which a cron fire time counts as missed (its job's misfire policy
    /// then applies). Defaults to [`DEFAULT_CRON_MISFIRE_AFTER`] (60 s).
    pub cron_misfire_after: Duration,
    /// How long finished cron runs are kept. Defaults to [`DEFAULT_CRON_HISTORY`]
    /// (30 days).
    pub cron_history: Duration,
    /// Timeout for commands that set none. Defaults to [`DEFAULT_TIMEOUT`] (5 min).
    pub default_timeout: Duration,
    /// Retries for commands that set none. Defaults to [`DEFAULT_RETRIES`] (3).
    pub default_retries: u32,
    /// Backoff between attempts. Defaults to [`RetryPolicy::new`] (1 s doubling to 1 h, ±20 %).
    pub retry: RetryPolicy,
    /// Backoff overrides by command name. Defaults to none.
    pub retry_by_name: std::collections::HashMap<String, RetryPolicy>,
    /// Largest payload a push accepts. Defaults to [`DEFAULT_MAX_PAYLOAD_BYTES`] (256 KiB).
    pub max_payload_bytes: usize,
    /// Longest stored error message. Defaults to [`DEFAULT_MAX_ERROR_BYTES`] (8 KiB).
    pub max_error_bytes: usize,
    /// Largest handler output recorded, in bytes (default 1 MiB): a larger one fails its
    /// command for good (`fatal`) with the sizes named, instead of a statement the
    /// database refuses. Results are also written in statements of at most the store's
    /// [`max_statement_bytes`](crate::store::Store::max_statement_bytes) of outputs and
    /// follow-ups (4 MiB; on MySQL/MariaDB less when half of `max_allowed_packet` is
    /// less).
    pub max_output_bytes: usize,
    /// Grace period for running handlers at shutdown. Defaults to
    /// [`DEFAULT_SHUTDOWN_GRACE`] (30 s).
    pub shutdown_grace: Duration,
    /// Most completions per transaction. Defaults to [`DEFAULT_MAX_FINISH_BATCH`] (1000).
    pub max_finish_batch: usize,
    /// The outbox's limits and the relay's pace.
    pub outbox: crate::outbox::OutboxConfig,
    /// How long processed inbox entries are kept (the leader prunes older ones every few
    /// minutes). Longer than any redelivery window of your senders: a duplicate arriving
    /// after its entry was pruned is processed again. Default 7 days.
    pub inbox_retention: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            instance_keys: vec![DEFAULT_INSTANCE_KEY.to_owned()],
            default_target: DEFAULT_INSTANCE_KEY.to_owned(),
            concurrency: DEFAULT_CONCURRENCY,
            max_claim: DEFAULT_MAX_CLAIM,
            poll_interval: DEFAULT_POLL_INTERVAL,
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_buffer: DEFAULT_LEASE_BUFFER,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            reaper_interval: DEFAULT_REAPER_INTERVAL,
            leader_ttl: DEFAULT_LEADER_TTL,
            cron_interval: DEFAULT_CRON_INTERVAL,
            cron_misfire_after: DEFAULT_CRON_MISFIRE_AFTER,
            cron_history: DEFAULT_CRON_HISTORY,
            default_timeout: DEFAULT_TIMEOUT,
            default_retries: DEFAULT_RETRIES,
            retry: RetryPolicy::new(),
            retry_by_name: std::collections::HashMap::new(),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_error_bytes: DEFAULT_MAX_ERROR_BYTES,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_finish_batch: DEFAULT_MAX_FINISH_BATCH,
            outbox: crate::outbox::OutboxConfig::default(),
            inbox_retention: DEFAULT_INBOX_RETENTION,
        }
    }
}

impl EngineConfig {
    /// With `instance_keys` set: the instance keys (targets) this engine serves.
    #[must_use]
    pub fn with_instance_keys(
        mut self,
        value: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.instance_keys = value.into_iter().map(Into::into).collect();
        self
    }

    /// With `default_target` set: the target of pushes that name none and whose type sets none.
    #[must_use]
    pub fn with_default_target(mut self, value: impl Into<String>) -> Self {
        self.default_target = value.into();
        self
    }

    /// With `concurrency` set: handlers running at once.
    #[must_use]
    pub fn with_concurrency(mut self, value: usize) -> Self {
        self.concurrency = value;
        self
    }

    /// With `max_claim` set: most commands claimed per round trip.
    #[must_use]
    pub fn with_max_claim(mut self, value: u32) -> Self {
        self.max_claim = value;
        self
    }

    /// With `poll_interval` set: poll interval when idle.
    #[must_use]
    pub fn with_poll_interval(mut self, value: Duration) -> Self {
        self.poll_interval = value;
        self
    }

    /// With `lease_ttl` set: lease length cap.
    #[must_use]
    pub fn with_lease_ttl(mut self, value: Duration) -> Self {
        self.lease_ttl = value;
        self
    }

    /// With `lease_buffer` set: lease slack beyond the timeout.
    #[must_use]
    pub fn with_lease_buffer(mut self, value: Duration) -> Self {
        self.lease_buffer = value;
        self
    }

    /// With `heartbeat_interval` set: lease check and renewal interval.
    #[must_use]
    pub fn with_heartbeat_interval(mut self, value: Duration) -> Self {
        self.heartbeat_interval = value;
        self
    }

    /// With `reaper_interval` set: reaper interval (on the elected leader).
    #[must_use]
    pub fn with_reaper_interval(mut self, value: Duration) -> Self {
        self.reaper_interval = value;
        self
    }

    /// With `leader_ttl` set: tTL of the leader lock; engines try to take it, and the leader re-checks it, every.
    #[must_use]
    pub fn with_leader_ttl(mut self, value: Duration) -> Self {
        self.leader_ttl = value;
        self
    }

    /// With `cron_interval` set: cron scheduler interval (on the leader).
    #[must_use]
    pub fn with_cron_interval(mut self, value: Duration) -> Self {
        self.cron_interval = value;
        self
    }

    /// With `cron_misfire_after` set: lateness past which a cron fire time counts as
    /// missed.
    #[must_use]
    pub fn with_cron_misfire_after(mut self, value: Duration) -> Self {
        self.cron_misfire_after = value;
        self
    }

    /// With `cron_history` set: how long finished cron runs are kept.
    #[must_use]
    pub fn with_cron_history(mut self, value: Duration) -> Self {
        self.cron_history = value;
        self
    }

    /// With `default_timeout` set: timeout for commands that set none.
    #[must_use]
    pub fn with_default_timeout(mut self, value: Duration) -> Self {
        self.default_timeout = value;
        self
    }

    /// With `default_retries` set: retries for commands that set none.
    #[must_use]
    pub fn with_default_retries(mut self, value: u32) -> Self {
        self.default_retries = value;
        self
    }

    /// With `retry` set: backoff between attempts.
    #[must_use]
    pub fn with_retry(mut self, value: RetryPolicy) -> Self {
        self.retry = value;
        self
    }

    /// With `retry_by_name` set: backoff overrides by command name.
    #[must_use]
    pub fn with_retry_by_name(
        mut self,
        value: std::collections::HashMap<String, RetryPolicy>,
    ) -> Self {
        self.retry_by_name = value;
        self
    }

    /// With `max_payload_bytes` set: largest payload a push accepts.
    #[must_use]
    pub fn with_max_payload_bytes(mut self, value: usize) -> Self {
        self.max_payload_bytes = value;
        self
    }

    /// With `max_output_bytes` set: largest handler output recorded.
    #[must_use]
    pub fn with_max_output_bytes(mut self, value: usize) -> Self {
        self.max_output_bytes = value;
        self
    }

    /// With `max_error_bytes` set: longest stored error message.
    #[must_use]
    pub fn with_max_error_bytes(mut self, value: usize) -> Self {
        self.max_error_bytes = value;
        self
    }

    /// With `shutdown_grace` set: grace period for running handlers at shutdown.
    #[must_use]
    pub fn with_shutdown_grace(mut self, value: Duration) -> Self {
        self.shutdown_grace = value;
        self
    }

    /// With `max_finish_batch` set: most completions per transaction.
    #[must_use]
    pub fn with_max_finish_batch(mut self, value: usize) -> Self {
        self.max_finish_batch = value;
        self
    }

    /// Sets [`EngineConfig::inbox_retention`].
    #[must_use]
    pub fn with_inbox_retention(mut self, value: Duration) -> Self {
        self.inbox_retention = value;
        self
    }

    /// Sets [`EngineConfig::outbox`].
    #[must_use]
    pub fn with_outbox(mut self, value: crate::outbox::OutboxConfig) -> Self {
        self.outbox = value;
        self
    }

    /// Checks every setting; the builder calls it before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.instance_keys.is_empty() {
            return Err(ConfigError::invalid(
                "instance_keys",
                "an engine must serve at least one instance key",
            ));
        }
        for key in self.instance_keys.iter().chain([&self.default_target]) {
            validate_key(key)?;
        }
        let positive = [
            ("poll_interval", self.poll_interval),
            ("lease_ttl", self.lease_ttl),
            ("heartbeat_interval", self.heartbeat_interval),
            ("reaper_interval", self.reaper_interval),
            ("default_timeout", self.default_timeout),
            ("cron_interval", self.cron_interval),
            ("cron_history", self.cron_history),
            ("inbox_retention", self.inbox_retention),
        ];
        for (field, value) in positive {
            if value.is_zero() {
                return Err(ConfigError::invalid(field, "must be greater than zero"));
            }
        }
        if self.leader_ttl < Duration::from_secs(3) {
            return Err(ConfigError::invalid(
                "leader_ttl",
                format!("{:?} is too short; at least 3 s", self.leader_ttl),
            ));
        }
        if self.heartbeat_interval >= self.lease_ttl {
            return Err(ConfigError::invalid(
                "heartbeat_interval",
                format!(
                    "{:?} must be shorter than lease_ttl ({:?}), or leases expire between renewals",
                    self.heartbeat_interval, self.lease_ttl
                ),
            ));
        }
        if self.default_timeout > Duration::from_secs(365 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "default_timeout",
                format!("{:?} is over a year", self.default_timeout),
            ));
        }
        if self.default_retries > 100_000 {
            return Err(ConfigError::invalid(
                "default_retries",
                format!("{} is over 100000", self.default_retries),
            ));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::invalid("concurrency", "must be at least 1"));
        }
        if self.max_claim == 0 {
            return Err(ConfigError::invalid("max_claim", "must be at least 1"));
        }
        if self.max_finish_batch == 0 {
            return Err(ConfigError::invalid(
                "max_finish_batch",
                "must be at least 1",
            ));
        }
        if self.max_output_bytes == 0 {
            return Err(ConfigError::invalid(
                "max_output_bytes",
                "must be at least 1",
            ));
        }
        if self.max_payload_bytes == 0 {
            return Err(ConfigError::invalid(
                "max_payload_bytes",
                "must be at least 1",
            ));
        }
        self.outbox.validate()?;
        for policy in std::iter::once(&self.retry).chain(self.retry_by_name.values()) {
            policy
                .validate()
                .map_err(|reason| ConfigError::invalid("retry", reason))?;
        }
        Ok(())
    }

    /// The backoff policy for command `name`.
    pub fn retry_policy(&self, name: &str) -> &RetryPolicy {
        self.retry_by_name.get(name).unwrap_or(&self.retry)
    }
}

/// Instance keys are stored and compared as plain strings: non-empty, at most 255 bytes.
fn validate_key(key: &str) -> Result<(), ConfigError> {
    if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            "instance_keys",
            format!("instance key {key:?} must be 1–255 bytes without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
    }

    #[test]
    fn refuses_bad_values() {
        let mut c = EngineConfig::default();
        c.heartbeat_interval = c.lease_ttl;
        assert!(c.validate().is_err());
        let mut c = EngineConfig::default();
        c.instance_keys.clear();
        assert!(c.validate().is_err());
        let c = EngineConfig {
            poll_interval: Duration::ZERO,
            ..EngineConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid {
                field: "poll_interval",
                ..
            })
        ));
    }
}
