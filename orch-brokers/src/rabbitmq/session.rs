//! The connection and confirm-mode channel publishes go through, reopened lazily.

use std::time::{Duration, Instant};

use lapin::options::ConfirmSelectOptions;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

/// After a failed reconnect, publishes fail at once for this long instead of each trying
/// again (a broker that is down would otherwise see one attempt per message).
const RECONNECT_COOLDOWN: Duration = Duration::from_millis(500);

/// One connection and its channel in confirm mode.
struct Session {
    connection: Connection,
    channel: Channel,
}

/// The session, opened on first use and reopened when the broker closed the connection
/// or the channel. The mutex makes concurrent publishes reconnect once.
pub(super) struct Sessions {
    uri: AMQPUri,
    url: String,
    connect_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<Session>,
    last_failure: Option<(Instant, String)>,
}

impl Sessions {
    pub(super) fn new(uri: AMQPUri, url: String, connect_timeout: Duration) -> Self {
        Self {
            uri,
            url,
            connect_timeout,
            state: Mutex::new(State::default()),
        }
    }

    /// The URL, without its password.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Opens the first session now, so that a broker that cannot be reached is reported
    /// at start.
    pub(super) async fn open(&self) -> Result<(), String> {
        self.channel().await.map(drop)
    }

    /// A channel that is open now: the current one, or a new one (on the current
    /// connection if it is still open, else on a new connection).
    pub(super) async fn channel(&self) -> Result<Channel, String> {
        let mut state = self.state.lock().await;
        if let Some(session) = &state.session
            && session.connection.status().connected()
            && session.channel.status().connected()
        {
            return Ok(session.channel.clone());
        }
        if let Some((at, error)) = &state.last_failure
            && at.elapsed() < RECONNECT_COOLDOWN
        {
            return Err(error.clone());
        }
        let reused = state
            .session
            .take()
            .map(|s| s.connection)
            .filter(|c| c.status().connected());
        match tokio::time::timeout(self.connect_timeout, self.reopen(reused)).await {
            Ok(Ok(session)) => {
                let channel = session.channel.clone();
                state.session = Some(session);
                state.last_failure = None;
                Ok(channel)
            }
            Ok(Err(error)) => {
                state.last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
            Err(_) => {
                let error = format!(
                    "RabbitMQ at {} did not answer within {:?}",
                    self.url, self.connect_timeout
                );
                state.last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    async fn reopen(&self, connection: Option<Connection>) -> Result<Session, String> {
        let connection = match connection {
            Some(connection) => connection,
            None => {
                tracing::debug!(target: "orch::outbox", url = %self.url, "connecting to RabbitMQ");
                Connection::connect_uri(self.uri.clone(), ConnectionProperties::default())
                    .await
                    .map_err(|e| format!("cannot connect to RabbitMQ at {}: {e}", self.url))?
            }
        };
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a RabbitMQ channel on {}: {e}", self.url))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| format!("cannot enable publisher confirms on {}: {e}", self.url))?;
        Ok(Session {
            connection,
            channel,
        })
    }

    /// Closes the connection, if open.
    pub(super) async fn close(&self) {
        let mut state = self.state.lock().await;
        if let Some(session) = state.session.take()
            && session.connection.status().connected()
        {
            let _ = session.connection.close(200, "OK".into()).await;
        }
    }
}
