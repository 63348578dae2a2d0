//! RabbitMQ helpers: a uniquely named exchange and queue per test, and reading back.

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

/// An exchange and a queue bound to it with routing key `bound_key`, on a connection of
/// the test's own.
pub(crate) struct Topology {
    pub(crate) connection: Connection,
    pub(crate) channel: Channel,
    pub(crate) exchange: String,
    pub(crate) queue: String,
    pub(crate) bound_key: String,
}

impl Topology {
    /// Declares a direct exchange and a durable queue bound with a fresh routing key.
    pub(crate) async fn declare() -> Self {
        let connection = Connection::connect(&super::amqp_url(), ConnectionProperties::default())
            .await
            .expect("RabbitMQ is not reachable: run scripts/services.sh");
        let channel = connection.create_channel().await.expect("channel");
        let exchange = super::unique("orch_t_x");
        let queue = super::unique("orch_t_q");
        let bound_key = super::unique("orders");
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the exchange");
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare the queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                bound_key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind the queue");
        Self {
            connection,
            channel,
            exchange,
            queue,
            bound_key,
        }
    }

    /// Every message in the queue, in order, taken with `basic_get` (auto-ack).
    pub(crate) async fn drain(&self) -> Vec<lapin::message::BasicGetMessage> {
        let mut messages = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(self.queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            messages.push(message);
        }
        messages
    }

    /// Deletes the queue and the exchange (on a fresh connection: the test may have
    /// restarted the broker).
    pub(crate) async fn delete(self) {
        let connection = Connection::connect(&super::amqp_url(), ConnectionProperties::default())
            .await
            .expect("RabbitMQ is reachable");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .queue_delete(self.queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .expect("delete the queue");
        channel
            .exchange_delete(
                self.exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .expect("delete the exchange");
        let _ = connection.close(200, "OK".into()).await;
    }
}
