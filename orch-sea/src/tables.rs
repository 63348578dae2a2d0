//! The quoted names of orch's tables and indexes for one prefix.

use crate::backend::Backend;

/// Table and index names, already quoted for the backend.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) prefix: String,
    pub(crate) commands: String,
    pub(crate) errors: String,
    pub(crate) migrations: String,
    pub(crate) locks: String,
    pub(crate) cron_jobs: String,
    pub(crate) outbox: String,
    pub(crate) inbox: String,
    /// Canceled commands whose `on_cancel` follow-ups are still owed.
    pub(crate) owed_follow_ups: String,
    /// The PostgreSQL notification channel (unquoted: passed as a bind value).
    pub(crate) channel: String,
}

impl Tables {
    /// Names for a prefix that passed [`crate::validate_table_prefix`].
    pub(crate) fn new(backend: Backend, prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            commands: backend.quote(&format!("{prefix}commands")),
            errors: backend.quote(&format!("{prefix}command_errors")),
            migrations: backend.quote(&format!("{prefix}migrations")),
            locks: backend.quote(&format!("{prefix}locks")),
            cron_jobs: backend.quote(&format!("{prefix}cron_jobs")),
            outbox: backend.quote(&format!("{prefix}outbox")),
            inbox: backend.quote(&format!("{prefix}inbox")),
            owed_follow_ups: backend.quote(&format!("{prefix}owed_follow_ups")),
            channel: format!("{prefix}wake"),
        }
    }

    /// A quoted index name.
    pub(crate) fn index(&self, backend: Backend, suffix: &str) -> String {
        backend.quote(&format!("{}{suffix}", self.prefix))
    }
}
