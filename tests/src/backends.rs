//! The three backends: how to make and drop a fresh database for one test.

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// A database family under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A temporary SQLite file.
    Sqlite,
    /// The PostgreSQL server at `ORCH_TEST_POSTGRES_URL`.
    Postgres,
    /// The MariaDB/MySQL server at `ORCH_TEST_MYSQL_URL`.
    MySql,
}

/// The default PostgreSQL admin URL (a database the test can connect to and create others).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The default MariaDB admin URL.
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A fresh database and how to reach it.
#[derive(Debug, Clone)]
pub struct FreshDatabase {
    /// The URL of the new database.
    pub url: String,
    /// The admin URL and database name, for dropping it (servers only).
    drop: Option<(String, String)>,
    /// The SQLite file, for removing it.
    file: Option<std::path::PathBuf>,
}

/// The admin URL of `kind`'s test server: `ORCH_TEST_POSTGRES_URL` or `ORCH_TEST_MYSQL_URL`,
/// or the local default (empty for SQLite, which has no server).
pub fn server_url(kind: BackendKind) -> String {
    match kind {
        BackendKind::Postgres => std::env::var("ORCH_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned()),
        BackendKind::MySql => {
            std::env::var("ORCH_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
        }
        BackendKind::Sqlite => String::new(),
    }
}

/// Replaces the database name (the last path segment) of a server URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |s| s + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl FreshDatabase {
    /// Creates a fresh database. Panics with a clear message when the server is down.
    pub async fn create(kind: BackendKind) -> Self {
        let name = format!("orch_t_{}", Uuid::new_v4().simple());
        match kind {
            BackendKind::Sqlite => {
                let file = std::env::temp_dir().join(format!("{name}.db"));
                Self {
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    drop: None,
                    file: Some(file),
                }
            }
            BackendKind::Postgres | BackendKind::MySql => Self::create_on(&server_url(kind), &name)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "{e} (start the server, or set ORCH_TEST_{}_URL)",
                        if kind == BackendKind::Postgres {
                            "POSTGRES"
                        } else {
                            "MYSQL"
                        }
                    )
                }),
        }
    }

    /// Creates the database `name` on the server at `admin` (a PostgreSQL or MariaDB URL
    /// whose own database the caller may connect to), owned by the value returned: its
    /// [`FreshDatabase::drop_database`] drops it.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the `CREATE DATABASE`.
    pub async fn create_on(admin: &str, name: &str) -> Result<Self, String> {
        let db = Database::connect(admin).await.map_err(|e| {
            format!(
                "cannot reach the database server at {}: {e}",
                orch_sea::redact(admin)
            )
        })?;
        let created = db
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("create database {name}: {e}"));
        let _ = db.close().await;
        created?;
        Ok(Self {
            url: with_database(admin, name),
            drop: Some((admin.to_owned(), name.to_owned())),
            file: None,
        })
    }

    /// The database's name on its server (`None` for SQLite files and for databases this
    /// value does not own).
    pub fn name(&self) -> Option<&str> {
        self.drop.as_ref().map(|(_, name)| name.as_str())
    }

    /// A database that already exists (made by another process), which this value does
    /// not own: dropping it is the maker's job.
    pub fn existing(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            drop: None,
            file: None,
        }
    }

    /// Drops the database (best effort).
    pub async fn drop_database(&self) {
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
        if let Some((admin, name)) = &self.drop
            && let Ok(db) = Database::connect(admin).await
        {
            let force = if admin.starts_with("postgres") {
                " WITH (FORCE)"
            } else {
                ""
            };
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                .await;
            let _ = db.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_database_names() {
        assert_eq!(
            with_database("postgres://p@h:5432/postgres", "x"),
            "postgres://p@h:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h/test?ssl-mode=disabled", "x"),
            "mysql://root@h/x?ssl-mode=disabled"
        );
    }
}
