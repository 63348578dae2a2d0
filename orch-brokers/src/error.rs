//! [`BrokerError`]: what can go wrong setting a publisher up (publishing itself reports
//! [`PublishError`](orch_core::outbox::PublishError)).

use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure to connect to a broker or to set up its topology.
///
/// URLs in these errors have their password removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The URL does not parse.
    #[error("invalid {broker} URL {url:?}: {reason}")]
    InvalidUrl {
        /// `"NATS"` or `"RabbitMQ"`.
        broker: &'static str,
        /// The URL, without its password.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The broker did not answer in time.
    #[error("could not connect to {broker} at {url} within {timeout:?}")]
    ConnectTimeout {
        /// `"NATS"` or `"RabbitMQ"`.
        broker: &'static str,
        /// The URL, without its password.
        url: String,
        /// The connect timeout.
        timeout: Duration,
    },
    /// The broker refused the connection or could not be reached.
    #[error("could not connect to {broker} at {url}: {source}")]
    Connect {
        /// `"NATS"` or `"RabbitMQ"`.
        broker: &'static str,
        /// The URL, without its password.
        url: String,
        /// The client's error.
        source: BoxError,
    },
    /// A set-up call (declaring a stream, opening a channel, …) failed.
    #[error("{broker}: {operation} failed: {source}")]
    Setup {
        /// `"NATS"` or `"RabbitMQ"`.
        broker: &'static str,
        /// What was being done, with the names it concerns.
        operation: String,
        /// The client's error.
        source: BoxError,
    },
}

#[cfg_attr(
    not(any(feature = "nats", feature = "rabbitmq", test)),
    expect(dead_code, reason = "used by the broker modules")
)]
/// `url` with the password of its user info replaced by `***`, for error texts and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    let user = user_info.split(':').next().unwrap_or_default();
    let hidden = if user_info.contains(':') {
        format!("{user}:***")
    } else {
        "***".to_owned()
    };
    format!("{}{hidden}{}", &url[..scheme_end + 3], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(redact("nats://token@host:4222"), "nats://***@host:4222");
        assert_eq!(redact("nats://host:4222"), "nats://host:4222");
        assert_eq!(redact("host:4222"), "host:4222");
        assert_eq!(redact("amqp://host/a@b"), "amqp://host/a@b");
    }
}
