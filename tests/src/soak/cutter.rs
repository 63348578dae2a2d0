//! Cuts every connection of the soak's database on the server: PostgreSQL
//! `pg_terminate_backend`, MariaDB `KILL`. Its own connection is on the server's admin
//! database, so only the soak's database loses connections, never another test's.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use tokio_util::sync::CancellationToken;

/// What the cutter did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CutStats {
    /// Rounds run (each terminates every connection found).
    pub rounds: u64,
    /// Connections terminated in all.
    pub connections: u64,
    /// Rounds that failed (the admin connection's own trouble).
    pub failed_rounds: u64,
}

/// Terminates the connections of one database.
pub struct ConnectionCutter {
    admin: DatabaseConnection,
    database: String,
}

impl ConnectionCutter {
    /// A cutter for `database`, connected to the server at `server_url` (its admin
    /// database).
    ///
    /// # Errors
    /// The server cannot be reached.
    pub async fn connect(server_url: &str, database: &str) -> Result<Self, sea_orm::DbErr> {
        let mut options = ConnectOptions::new(server_url.to_owned());
        options.max_connections(1).sqlx_logging(false);
        Ok(Self {
            admin: Database::connect(options).await?,
            database: database.to_owned(),
        })
    }

    /// Terminates every connection to the database; returns how many.
    ///
    /// # Errors
    /// The server refused the listing.
    pub async fn cut(&self) -> Result<u64, sea_orm::DbErr> {
        let backend = self.admin.get_database_backend();
        if backend == DbBackend::Postgres {
            let rows = self
                .admin
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    [self.database.clone().into()],
                ))
                .await?;
            return Ok(rows.len() as u64);
        }
        let rows = self
            .admin
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM information_schema.processlist \
                 WHERE db = ? AND id <> CONNECTION_ID()",
                [self.database.clone().into()],
            ))
            .await?;
        let mut killed = 0;
        for row in &rows {
            let id = row
                .try_get_by_index::<u64>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(i64::cast_unsigned))?;
            // A connection that ended meanwhile is "unknown thread": nothing to cut.
            if self
                .admin
                .execute_unprepared(&format!("KILL {id}"))
                .await
                .is_ok()
            {
                killed += 1;
            }
        }
        Ok(killed)
    }

    /// Cuts every `every` until `stop`.
    pub async fn run(&self, every: Duration, stop: CancellationToken) -> CutStats {
        let mut stats = CutStats::default();
        loop {
            tokio::select! {
                () = stop.cancelled() => return stats,
                () = tokio::time::sleep(every) => {}
            }
            stats.rounds += 1;
            match self.cut().await {
                Ok(n) => stats.connections += n,
                Err(_) => stats.failed_rounds += 1,
            }
        }
    }

    /// Closes the cutter's connection.
    pub async fn close(self) {
        let _ = self.admin.close().await;
    }
}
