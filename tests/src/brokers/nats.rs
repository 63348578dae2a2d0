//! The relay through [`NatsPublisher`] into a real JetStream: a relay killed between the
//! broker's ack and the mark (the message is published again, and JetStream's duplicate
//! window drops the copy), and a restart of `nats-server` in the middle of a steady
//! stream (nothing lost, nothing stored twice).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_nats::connection::State;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use orch::outbox::nats::{MSG_ID_HEADER, NatsPublisher};
use orch::outbox::{MessageId, MessageStatus, OutboxMessage, PublishFuture, Publisher};
use tokio::io::AsyncBufReadExt;

use super::{Counting, Relay, all_messages, messages, relay_builder, relay_config, wait_for};
use crate::Harness;
use crate::sea::SeaBackend;

/// How long JetStream remembers message ids in the tests' streams.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// A publisher on the test server.
pub async fn connect() -> NatsPublisher {
    NatsPublisher::connect(&super::nats_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the NATS server at {} is not reachable (run scripts/services.sh): {e}",
                super::nats_url()
            )
        })
}

/// A publisher on the test server publishing under a fresh subject root, and a fresh
/// stream capturing `<root>.>` with a 2-minute duplicate window. Returns the publisher
/// (its subject prefix is `<root>.`), the stream's name and the root.
pub async fn publisher_with_stream() -> (NatsPublisher, String, String) {
    let stream = super::unique("ORCH_T");
    let root = super::unique("orch_t");
    let publisher = connect().await.subject_prefix(format!("{root}."));
    publisher
        .ensure_stream(&stream, &[&format!("{root}.>")], DUPLICATE_WINDOW)
        .await
        .expect("create the stream");
    (publisher, stream, root)
}

/// Every message in `stream`, in stream order (read with an ephemeral pull consumer),
/// after checking the stream's own count.
pub async fn read_stream(publisher: &NatsPublisher, stream: &str) -> Vec<async_nats::Message> {
    let mut handle = publisher
        .jetstream()
        .get_stream(stream)
        .await
        .expect("the stream exists");
    let count = handle.info().await.expect("stream info").state.messages;
    let consumer = handle
        .create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..pull::Config::default()
        })
        .await
        .expect("create a consumer");
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while (messages.len() as u64) < count {
        assert!(
            Instant::now() < deadline,
            "read {} of the stream's {count} messages",
            messages.len()
        );
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        while let Some(message) = batch.next().await {
            messages.push(message.expect("a message").message);
        }
    }
    messages
}

/// The `Nats-Msg-Id` of a stream message.
pub fn msg_id(message: &async_nats::Message) -> String {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(MSG_ID_HEADER))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| panic!("a stream message without {MSG_ID_HEADER}"))
}

/// Checks that `stream` holds each of `expected` exactly once and nothing else, and that
/// keyed messages are in enqueue order per key; returns the stream's messages.
pub async fn assert_stream_holds_each_once(
    publisher: &NatsPublisher,
    stream: &str,
    expected: &[OutboxMessage],
) -> Vec<async_nats::Message> {
    let stored = read_stream(publisher, stream).await;
    let mut copies: HashMap<String, usize> = HashMap::new();
    for message in &stored {
        *copies.entry(msg_id(message)).or_default() += 1;
    }
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let want: HashSet<String> = expected.iter().map(|m| m.id.to_string()).collect();
    let got: HashSet<String> = copies.keys().cloned().collect();
    assert_eq!(
        stored.len(),
        expected.len(),
        "the stream holds {} messages for {} enqueued; missing {:?}, unexpected {:?}",
        stored.len(),
        expected.len(),
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>()
    );
    assert_eq!(got, want);
    // Order per key: the stream order of each key's messages is their enqueue order.
    let seq: HashMap<String, i64> = expected.iter().map(|m| (m.id.to_string(), m.seq)).collect();
    let key_of: HashMap<String, &str> = expected
        .iter()
        .filter_map(|m| m.key.as_deref().map(|k| (m.id.to_string(), k)))
        .collect();
    let mut per_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for message in &stored {
        let id = msg_id(message);
        if let Some(key) = key_of.get(&id) {
            per_key.entry(key).or_default().push(seq[&id]);
        }
    }
    for (key, seqs) in per_key {
        assert!(
            seqs.is_sorted(),
            "key {key}: stream order {seqs:?} is not enqueue order"
        );
    }
    stored
}

/// Deletes `stream`.
pub async fn delete_stream(publisher: &NatsPublisher, stream: &str) {
    publisher
        .jetstream()
        .delete_stream(stream)
        .await
        .expect("delete the stream");
}

/// The relay timings of the kill test: a 2 s claim lease and a 1 s publish limit, so the
/// second relay takes the killed relay's messages over within seconds.
fn kill_test_config() -> orch::outbox::OutboxConfig {
    relay_config(Duration::from_secs(2), Duration::from_secs(1))
}

/// Passes publishes on to NATS and, once the broker acked the `kill_after`-th, kills its
/// own process (SIGKILL) before the relay can mark anything delivered. Prints `acked ID`
/// for each ack and `killing ID` before the kill.
struct KillAfter {
    inner: NatsPublisher,
    acked: AtomicU32,
    kill_after: u32,
}

impl Publisher for KillAfter {
    fn publish<'a>(&'a self, message: &'a OutboxMessage) -> PublishFuture<'a> {
        Box::pin(async move {
            self.inner.publish(message).await?;
            let n = self.acked.fetch_add(1, Ordering::SeqCst) + 1;
            let mut out = std::io::stdout().lock();
            writeln!(out, "acked {}", message.id).expect("stdout");
            if n == self.kill_after {
                writeln!(out, "killing {}", message.id).expect("stdout");
                out.flush().expect("stdout");
                // SIGKILL: no destructor, no graceful stop, no mark.
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &std::process::id().to_string()])
                    .status();
                std::process::abort();
            }
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "nats-kill-after"
    }
}

/// The second process of [`nats_relay_killed_between_publish_and_mark_is_deduplicated`]
/// (crash worker mode `relay-nats STREAM SUBJECT_PREFIX KILL_AFTER`): an engine relaying
/// through NATS that kills its own process right after the broker acked the
/// `kill_after`-th message. Panics if it is still alive after 30 s.
pub async fn relay_until_killed(
    backend: &SeaBackend,
    stream: &str,
    subject_prefix: &str,
    kill_after: u32,
) {
    let publisher = connect()
        .await
        .subject_prefix(subject_prefix)
        .ack_timeout(Duration::from_secs(1));
    let subjects = format!("{subject_prefix}>");
    publisher
        .ensure_stream(stream, &[&subjects], DUPLICATE_WINDOW)
        .await
        .expect("the stream");
    let publisher = KillAfter {
        inner: publisher,
        acked: AtomicU32::new(0),
        kill_after,
    };
    let relay = Relay::start(relay_builder(backend, publisher, kill_test_config())).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    relay.stop().await;
    panic!("the relay published fewer than {kill_after} messages in 30 s");
}

/// A relay killed after the broker acked a message and before it marked it delivered:
/// its claim expires, a second relay (this process) publishes the message again with the
/// same id, and JetStream's duplicate window keeps one copy. The outbox ends with every
/// message delivered; the stream holds each exactly once, in order per key.
pub async fn nats_relay_killed_between_publish_and_mark_is_deduplicated(h: &Harness<SeaBackend>) {
    const N: usize = 50;
    const KILL_AFTER: u32 = 20;
    let started = Instant::now();
    let (publisher, stream, root) = publisher_with_stream().await;
    let orch = h.backend().orch_builder().build().await.expect("build");
    orch.outbox()
        .enqueue_many(messages("orders.created", N))
        .await
        .expect("enqueue");

    let prefix = format!("{root}.");
    let mut child = h
        .worker(&["relay-nats", &stream, &prefix, &KILL_AFTER.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the relay process");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut first_acked = HashSet::new();
    let mut killed = None;
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read the worker") {
            if let Some(id) = line.strip_prefix("acked ") {
                first_acked.insert(id.to_owned());
            } else if let Some(id) = line.strip_prefix("killing ") {
                killed = Some(id.to_owned());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(40), read)
        .await
        .expect("the relay process did not die within 40 s");
    let status = child.wait().await.expect("wait for the relay process");
    assert_eq!(
        status.signal(),
        Some(9),
        "the relay process should have died of SIGKILL: {status}"
    );
    let killed = killed.expect("the relay process said which message it died on");
    let killed_id = MessageId::from_uuid(killed.parse().expect("a message id"));
    assert!(first_acked.len() >= KILL_AFTER as usize);

    // The broker has those messages, yet the outbox marked none delivered.
    let stats = orch.outbox().stats().await.expect("stats");
    assert_eq!(
        stats.delivered, 0,
        "the killed relay marked nothing: {stats:?}"
    );
    assert!(stats.processing > 0, "its claim is still held: {stats:?}");

    // A second relay (this process) takes over once the dead leader's lock and claim
    // expire, and republishes what the first one published but did not mark.
    let second = Counting::new(publisher.clone().ack_timeout(Duration::from_secs(1)));
    let relay = Relay::start(relay_builder(
        h.backend(),
        second.clone(),
        kill_test_config(),
    ))
    .await;
    wait_for!(
        Duration::from_secs(40),
        orch.outbox().stats().await.expect("stats").delivered == N as u64,
        "all {N} delivered by the second relay: {:?}",
        orch.outbox().stats().await.expect("stats")
    );
    relay.stop().await;

    let outbox = all_messages(&orch).await;
    assert_eq!(outbox.len(), N);
    assert!(outbox.iter().all(|m| m.status == MessageStatus::Delivered));
    assert_stream_holds_each_once(&publisher, &stream, &outbox).await;

    let killed_message = outbox
        .iter()
        .find(|m| m.id == killed_id)
        .expect("the message the relay died on");
    assert!(
        killed_message.attempts >= 2,
        "the message acked before the kill was claimed again: {killed_message:?}"
    );
    let second_acked: HashSet<String> = second.acked().iter().map(ToString::to_string).collect();
    assert!(
        second_acked.contains(&killed),
        "the second relay published {killed} again"
    );
    let republished = first_acked.intersection(&second_acked).count();
    assert!(republished >= 1);
    delete_stream(&publisher, &stream).await;
    let elapsed = started.elapsed();
    eprintln!(
        "killed after {} acks, {republished} published by both relays, deduplicated by JetStream; {elapsed:?}",
        first_acked.len()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}

/// The pid and arguments of the `nats-server` listening on port 4222.
pub fn nats_server() -> (u32, Vec<String>) {
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

/// Stops the local `nats-server` (SIGTERM, so it flushes its store) and starts it again
/// with the same command line (the same `-sd` store); started again on drop too, when a
/// test fails halfway.
pub struct NatsRestart {
    args: Vec<String>,
    stopped: bool,
}

impl NatsRestart {
    /// Stops the server and waits until its process is gone.
    pub async fn stop() -> Self {
        let (pid, args) = nats_server();
        let mut restart = Self {
            args,
            stopped: true,
        };
        let killed = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status()
            .expect("kill");
        assert!(killed.success(), "kill {pid}: {killed}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() {
            if Instant::now() > deadline {
                restart.start();
                panic!("nats-server {pid} did not stop within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        restart
    }

    /// Starts the server again.
    pub fn start(&mut self) {
        self.stopped = false;
        let status = std::process::Command::new("start-stop-daemon")
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
    }
}

impl Drop for NatsRestart {
    fn drop(&mut self) {
        if self.stopped {
            self.start();
        }
    }
}

/// A relay delivering a steady stream while `nats-server` restarts: publishes fail
/// (retryably) while it is down and are retried; afterwards every message is delivered
/// and the stream holds each exactly once.
pub async fn nats_broker_restart_mid_relay_loses_nothing(h: &Harness<SeaBackend>) {
    const N: usize = 200;
    let started = Instant::now();
    let (publisher, stream, _root) = publisher_with_stream().await;
    let publisher = publisher.ack_timeout(Duration::from_secs(1));
    let counting = Counting::new(publisher.clone());
    let relay = Relay::start(relay_builder(
        h.backend(),
        counting.clone(),
        relay_config(Duration::from_secs(5), Duration::from_secs(2)),
    ))
    .await;
    let orch = relay.orch.clone();
    // 200 messages over about 3 s.
    let enqueue = tokio::spawn({
        let orch = orch.clone();
        async move {
            super::enqueue_steadily(
                &orch,
                messages("orders.created", N),
                10,
                Duration::from_millis(150),
            )
            .await;
        }
    });
    wait_for!(
        Duration::from_secs(10),
        orch.outbox().stats().await.expect("stats").delivered >= 20,
        "the relay to deliver the first messages"
    );

    let mut restart = NatsRestart::stop().await;
    let down = Instant::now();
    wait_for!(
        Duration::from_secs(10),
        publisher.client().connection_state() != State::Connected,
        "the client to notice the server is gone"
    );
    // Down for at least a second, while messages keep coming.
    wait_for!(
        Duration::from_secs(10),
        counting.failures() > 0 && down.elapsed() >= Duration::from_secs(1),
        "a publish to fail while the server is down"
    );
    restart.start();
    let outage = down.elapsed();
    enqueue.await.expect("enqueue task");
    wait_for!(
        Duration::from_secs(40),
        orch.outbox().stats().await.expect("stats").delivered == N as u64,
        "all {N} delivered after the restart: {:?}",
        orch.outbox().stats().await.expect("stats")
    );
    relay.stop().await;

    let outbox = all_messages(&orch).await;
    assert_eq!(outbox.len(), N);
    assert!(outbox.iter().all(|m| m.status == MessageStatus::Delivered));
    let retried = outbox.iter().filter(|m| m.attempts > 1).count();
    assert!(
        retried > 0,
        "some messages needed more than one attempt ({} failed publishes)",
        counting.failures()
    );
    assert_stream_holds_each_once(&publisher, &stream, &outbox).await;
    delete_stream(&publisher, &stream).await;
    let elapsed = started.elapsed();
    eprintln!(
        "outage {outage:?}, {} failed publishes, {retried} messages retried, {} publishes for {N} messages; {elapsed:?}",
        counting.failures(),
        counting.log().len()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
}
