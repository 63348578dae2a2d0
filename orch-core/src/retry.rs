//! [`RetryPolicy`]: exponential backoff with jitter between attempts.

use std::time::Duration;

/// The default delay before the first retry.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The default ceiling on any delay.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// The default growth factor per attempt.
pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
/// The default jitter: each delay is scaled by a random factor in `[1 - j, 1 + j]`.
pub const DEFAULT_BACKOFF_JITTER: f64 = 0.2;

/// How long to wait before the next attempt: `base × factor^(attempt−1)`, capped at
/// `max`, scaled by a random jitter.
///
/// # Example
/// ```
/// use orch_core::RetryPolicy;
/// use std::time::Duration;
/// let policy = RetryPolicy::new().base(Duration::from_millis(100)).jitter(0.0);
/// assert_eq!(policy.delay(1), Duration::from_millis(100));
/// assert_eq!(policy.delay(3), Duration::from_millis(400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    base: Duration,
    max: Duration,
    factor: f64,
    jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The defaults: 1 s, doubling, capped at 1 h, ±20 % jitter.
    pub const fn new() -> Self {
        Self {
            base: DEFAULT_BACKOFF_BASE,
            max: DEFAULT_BACKOFF_MAX,
            factor: DEFAULT_BACKOFF_FACTOR,
            jitter: DEFAULT_BACKOFF_JITTER,
        }
    }

    /// The delay before the first retry. Defaults to 1 s.
    #[must_use]
    pub const fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// The ceiling on any delay. Defaults to 1 h.
    #[must_use]
    pub const fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The growth factor per attempt (≥ 1). Defaults to 2.
    #[must_use]
    pub const fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The jitter fraction, in `[0, 1]`. Defaults to 0.2.
    #[must_use]
    pub const fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.factor >= 1.0 && self.factor.is_finite()) {
            return Err(format!("backoff factor must be ≥ 1, got {}", self.factor));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!(
                "backoff jitter must be in [0, 1], got {}",
                self.jitter
            ));
        }
        if self.base > self.max {
            return Err(format!(
                "backoff base {:?} is above its maximum {:?}",
                self.base, self.max
            ));
        }
        Ok(())
    }

    /// The delay after failed attempt number `attempt` (1 for the first attempt).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.base.as_secs_f64() * self.factor.powi(exponent);
        let capped = raw.min(self.max.as_secs_f64());
        let scale = if self.jitter > 0.0 {
            1.0 + rand::random_range(-self.jitter..=self.jitter)
        } else {
            1.0
        };
        Duration::from_secs_f64((capped * scale).clamp(0.0, self.max.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let p = RetryPolicy::new()
            .base(Duration::from_secs(1))
            .max(Duration::from_secs(10))
            .jitter(0.0);
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(2), Duration::from_secs(2));
        assert_eq!(p.delay(4), Duration::from_secs(8));
        assert_eq!(p.delay(5), Duration::from_secs(10));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_in_band() {
        let p = RetryPolicy::new().base(Duration::from_secs(10)).jitter(0.5);
        for _ in 0..1000 {
            let d = p.delay(1).as_secs_f64();
            assert!((5.0..=15.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(RetryPolicy::new().factor(0.5).validate().is_err());
        assert!(RetryPolicy::new().jitter(2.0).validate().is_err());
        assert!(
            RetryPolicy::new()
                .base(Duration::from_secs(10))
                .max(Duration::from_secs(1))
                .validate()
                .is_err()
        );
        assert!(RetryPolicy::new().validate().is_ok());
    }
}
