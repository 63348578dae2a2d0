//! The backend-agnostic storage error.

use std::fmt;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of storage failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The database could not be reached, or the connection broke. Worth retrying later.
    Connection,
    /// A transient conflict (deadlock, lock timeout, busy database). Worth retrying at once.
    Conflict,
    /// A row held data the store could not read back.
    Corrupt,
    /// The database refused the statement for what it held: a value a column, a constraint
    /// or a trigger does not accept, or a statement over the server's size limit. Retrying
    /// the same rows fails again; other rows may succeed.
    Rejected,
    /// Any other statement failure.
    Query,
}

/// A storage failure, with the backend's own error kept as its source.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    context: String,
    source: Option<BoxError>,
}

impl StoreError {
    /// A new error of `kind` while doing `context` (e.g. "claim due commands").
    pub fn new(kind: StoreErrorKind, context: impl Into<String>, source: Option<BoxError>) -> Self {
        Self {
            kind,
            context: context.into(),
            source,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Connection | StoreErrorKind::Conflict
        )
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage failed to {}", self.context)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
