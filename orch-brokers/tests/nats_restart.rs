//! NatsPublisher across a restart of the NATS server on this machine: this binary kills
//! the local `nats-server` and starts it again with the same command line (so the same
//! `-sd` store), so it runs alone, apart from the other NATS tests.
#![cfg(feature = "nats")]
#![allow(
    clippy::expect_used,
    reason = "the helpers in `support` are test code too"
)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use async_nats::connection::State;
use orch_core::outbox::{OutboxMessage, PublishError, Publisher};
use support::message;
use support::nats::{delete_stream, header, publisher_with_stream, read_all};

/// The pid and arguments of the `nats-server` listening on port 4222.
fn nats_server() -> (u32, Vec<String>) {
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let entry = entry.expect("entry");
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("nats-server"))
            && args.iter().any(|a| a == "4222")
        {
            return (pid, args);
        }
    }
    panic!("no nats-server process listening on 4222: run scripts/services.sh");
}

/// Starts the server again with its old arguments, also when the test fails halfway.
struct Restart {
    args: Vec<String>,
    done: bool,
}

impl Restart {
    fn start(&mut self) {
        let status = Command::new("start-stop-daemon")
            .args([
                "--start",
                "--oknodo",
                "--background",
                "--exec",
                &self.args[0],
                "--",
            ])
            .args(&self.args[1..])
            .status()
            .expect("run start-stop-daemon");
        assert!(status.success(), "starting nats-server failed: {status}");
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
async fn a_server_restart_fails_publishes_retryably_then_they_succeed_and_nothing_is_lost() {
    let started = Instant::now();
    let (publisher, stream, root) = publisher_with_stream().await;
    let publisher = publisher.ack_timeout(Duration::from_secs(2));
    let before = message(&format!("{root}.restart"), b"before");
    publisher
        .publish(&before)
        .await
        .expect("before the restart");

    let (pid, args) = nats_server();
    let mut restart = Restart { args, done: false };
    let killed = Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while publisher.client().connection_state() == State::Connected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let during = message(&format!("{root}.restart"), b"during");
    let outage = Instant::now();
    let error = publisher
        .publish(&during)
        .await
        .expect_err("the server is down");
    assert!(!error.is_permanent(), "{error}");
    assert!(error.to_string().contains("connection is down"), "{error}");
    assert!(
        outage.elapsed() < Duration::from_secs(3),
        "{:?}",
        outage.elapsed()
    );

    restart.start();
    publish_until_ok(&publisher, &during, Duration::from_secs(30)).await;
    let after = message(&format!("{root}.restart"), b"after");
    publisher.publish(&after).await.expect("after the restart");

    let ids: Vec<String> = read_all(&publisher, &stream)
        .await
        .iter()
        .filter_map(|m| header(m, "Nats-Msg-Id").map(str::to_owned))
        .collect();
    assert_eq!(
        ids,
        [
            before.id.to_string(),
            during.id.to_string(),
            after.id.to_string()
        ]
    );
    delete_stream(&publisher, &stream).await;
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "{:?}",
        started.elapsed()
    );
}
