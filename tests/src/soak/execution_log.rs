//! The append-only side table `soak_executions`: one row per handler execution, written
//! by the handler in its own statement, so it counts executions however the engine's own
//! bookkeeping fared.

use std::time::Duration;

use orch::CommandId;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use uuid::Uuid;

/// How long an append keeps retrying across cut connections before its attempt fails.
const APPEND_PATIENCE: Duration = Duration::from_secs(20);

/// One execution of a command's handler, as the side table holds it.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The command.
    pub command: CommandId,
    /// Its attempt number.
    pub attempt: u32,
    /// The engine process's label (`slot.generation`).
    pub engine: String,
    /// The engine process's pid.
    pub pid: u32,
    /// When the handler started, in microseconds since the Unix epoch (host clock).
    pub started_us: i64,
}

/// The side table, seen from one engine process (or from the driver, which creates and
/// reads it).
#[derive(Debug, Clone)]
pub struct ExecutionLog {
    db: DatabaseConnection,
    engine: String,
    pid: u32,
}

impl ExecutionLog {
    /// Opens the log on `url` for the engine labelled `engine` (this process's pid).
    ///
    /// # Errors
    /// The database cannot be reached.
    pub async fn open(url: &str, engine: &str) -> Result<Self, sea_orm::DbErr> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(8).sqlx_logging(false);
        Ok(Self {
            db: Database::connect(options).await?,
            engine: engine.to_owned(),
            pid: std::process::id(),
        })
    }

    /// Creates the table (the driver does, before any engine starts).
    ///
    /// # Errors
    /// The statement failed.
    pub async fn create(&self) -> Result<(), sea_orm::DbErr> {
        let serial = match self.db.get_database_backend() {
            DbBackend::Postgres => "BIGSERIAL PRIMARY KEY",
            _ => "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        };
        self.db
            .execute_unprepared(&format!(
                "CREATE TABLE soak_executions (
                    id {serial},
                    command_id VARCHAR(36) NOT NULL,
                    attempt INTEGER NOT NULL,
                    engine VARCHAR(32) NOT NULL,
                    pid BIGINT NOT NULL,
                    started_us BIGINT NOT NULL,
                    UNIQUE (command_id, attempt, engine)
                )"
            ))
            .await
            .map(drop)
    }

    /// Appends one execution of `command`'s `attempt`, retrying across cut connections. A
    /// retry of an insert that did commit adds nothing (the row is unique per command,
    /// attempt and engine), so the table counts each execution once.
    ///
    /// # Errors
    /// The row could not be written for `APPEND_PATIENCE`.
    pub async fn append(
        &self,
        command: CommandId,
        attempt: u32,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO soak_executions (command_id, attempt, engine, pid, started_us) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            }
            _ => {
                "INSERT IGNORE INTO soak_executions (command_id, attempt, engine, pid, started_us) \
                 VALUES (?, ?, ?, ?, ?)"
            }
        };
        let values = vec![
            command.to_string().into(),
            i64::from(attempt).into(),
            self.engine.clone().into(),
            i64::from(self.pid).into(),
            started.timestamp_micros().into(),
        ];
        let give_up = tokio::time::Instant::now() + APPEND_PATIENCE;
        loop {
            let statement = Statement::from_sql_and_values(backend, sql, values.clone());
            match self.db.execute_raw(statement).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= give_up => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Every execution recorded.
    ///
    /// # Errors
    /// The query failed or a row is malformed.
    pub async fn read_all(&self) -> Result<Vec<Execution>, sea_orm::DbErr> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT command_id, attempt, engine, pid, started_us FROM soak_executions",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get_by_index(0)?;
                let id = Uuid::parse_str(&id)
                    .map_err(|e| sea_orm::DbErr::Custom(format!("command id {id:?}: {e}")))?;
                let attempt: i32 = row.try_get_by_index(1)?;
                let pid: i64 = row.try_get_by_index(3)?;
                Ok(Execution {
                    command: CommandId::from_uuid(id),
                    attempt: u32::try_from(attempt).unwrap_or(0),
                    engine: row.try_get_by_index(2)?,
                    pid: u32::try_from(pid).unwrap_or(0),
                    started_us: row.try_get_by_index(4)?,
                })
            })
            .collect()
    }

    /// Closes the log's connections.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}
