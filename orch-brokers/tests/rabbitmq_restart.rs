//! RabbitMqPublisher across a restart of the RabbitMQ application on this machine
//! (`rabbitmqctl stop_app`, then `start_app`), so it runs alone, apart from the other
//! RabbitMQ tests.
#![cfg(feature = "rabbitmq")]
#![allow(
    clippy::expect_used,
    reason = "the helpers in `support` are test code too"
)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use orch_brokers::rabbitmq::RabbitMqPublisher;
use orch_core::outbox::{OutboxMessage, PublishError, Publisher};
use support::message;
use support::rabbitmq::Topology;

fn rabbitmqctl(command: &str) {
    let status = Command::new("rabbitmqctl")
        .arg(command)
        .status()
        .expect("run rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {command} failed: {status}");
}

/// Starts the application again, also when the test fails halfway.
struct Restart {
    done: bool,
}

impl Restart {
    fn start(&mut self) {
        rabbitmqctl("start_app");
        self.done = true;
    }
}

impl Drop for Restart {
    fn drop(&mut self) {
        if !self.done {
            self.start();
        }
    }
}

/// Publishes `message` until it succeeds (as the relay would), returning the errors seen.
async fn publish_until_ok(
    publisher: &impl Publisher,
    message: &OutboxMessage,
    deadline: Duration,
) -> Vec<PublishError> {
    let started = Instant::now();
    let mut errors = Vec::new();
    loop {
        match publisher.publish(message).await {
            Ok(()) => return errors,
            Err(error) => {
                assert!(!error.is_permanent(), "{error}");
                assert!(started.elapsed() < deadline, "still failing: {error}");
                errors.push(error);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_broker_restart_fails_publishes_retryably_then_they_succeed_and_nothing_is_lost() {
    let started = Instant::now();
    let topology = Topology::declare().await;
    let publisher = RabbitMqPublisher::connect(&support::amqp_url(), &topology.exchange)
        .await
        .expect("RabbitMQ is not reachable: run scripts/services.sh")
        .confirm_timeout(Duration::from_secs(3));
    let before = message(&topology.bound_key, b"before");
    publisher
        .publish(&before)
        .await
        .expect("before the restart");

    let mut restart = Restart { done: false };
    rabbitmqctl("stop_app");
    let during: Vec<_> = (0..8)
        .map(|i| message(&topology.bound_key, format!("during {i}").as_bytes()))
        .collect();
    let outage = Instant::now();
    let results = futures::future::join_all(during.iter().map(|m| publisher.publish(m))).await;
    for result in &results {
        let error = result.as_ref().expect_err("the broker is stopped");
        assert!(!error.is_permanent(), "{error}");
        assert!(
            error
                .to_string()
                .contains(&format!("{:?}", topology.exchange)),
            "{error}"
        );
    }
    assert!(
        outage.elapsed() < Duration::from_secs(10),
        "{:?}",
        outage.elapsed()
    );

    restart.start();
    for message in &during {
        publish_until_ok(&publisher, message, Duration::from_secs(60)).await;
    }
    let after = message(&topology.bound_key, b"after");
    publisher.publish(&after).await.expect("after the restart");

    // The test's own connection did not survive the restart: read on a new one.
    let topology = Topology {
        channel: reconnect().await,
        ..topology
    };
    let mut ids: Vec<String> = topology
        .drain()
        .await
        .iter()
        .filter_map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(ToString::to_string)
        })
        .collect();
    let mut expected: Vec<String> = std::iter::once(&before)
        .chain(&during)
        .chain(std::iter::once(&after))
        .map(|m| m.id.to_string())
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    topology.delete().await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

async fn reconnect() -> lapin::Channel {
    let connection =
        lapin::Connection::connect(&support::amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ is back");
    connection.create_channel().await.expect("channel")
}
