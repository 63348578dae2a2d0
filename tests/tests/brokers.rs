//! The outbox relay against the real brokers on this machine: NATS JetStream
//! (`ORCH_TEST_NATS_URL`) and RabbitMQ (`ORCH_TEST_AMQP_URL`), on SQLite databases. A
//! broker that cannot be reached fails its tests.
//!
//! Some tests restart a broker, so the tests of one broker run one at a time (a lock per
//! broker); run this binary apart from other tests using the same brokers.

use orch_tests::BackendKind;
use orch_tests::brokers::{nats, rabbitmq};
use orch_tests::sea::SeaBackend;
use tokio::sync::Mutex;

const WORKER: &str = env!("CARGO_BIN_EXE_orch-crash-worker");

/// Held by each NATS test: one of them restarts `nats-server`.
static NATS: Mutex<()> = Mutex::const_new(());
/// Held by each RabbitMQ test: one of them restarts the broker application.
static RABBITMQ: Mutex<()> = Mutex::const_new(());

macro_rules! broker_tests {
    ($($lock:ident: $module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let _serial = $lock.lock().await;
                orch_tests::run(SeaBackend::create(BackendKind::Sqlite, WORKER), |h| {
                    Box::pin($module::$name(h))
                })
                .await;
            }
        )*
    };
}

broker_tests!(
    NATS: nats::nats_relay_killed_between_publish_and_mark_is_deduplicated,
    NATS: nats::nats_broker_restart_mid_relay_loses_nothing,
    RABBITMQ: rabbitmq::rabbitmq_broker_restart_mid_relay_loses_nothing,
    RABBITMQ: rabbitmq::rabbitmq_unroutable_message_waits_and_retries_until_routable,
);
