//! What the database says after a soak: every command's final state from the commands
//! table, every execution from the side table, and the failed attempts of every command
//! that needed more than one; and the verdict drawn from them.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::StreamExt;
use orch::internal::SeaStore;
use orch::{AttemptError, CommandId, FailureKind};
use sea_orm::{ConnectionTrait, Statement};
use serde::Serialize;

use super::execution_log::{Execution, ExecutionLog};
use super::feeder::Feed;
use super::fleet::Kill;
use crate::Node;

/// Most violations described one by one in a report (all are counted).
const DESCRIBED: usize = 20;

/// A command's row as the commands table holds it at the end.
#[derive(Debug, Clone)]
pub(crate) struct CommandRow {
    pub(crate) status: String,
    pub(crate) attempts: u32,
}

/// Everything the audit reads.
pub(crate) struct Evidence {
    pub(crate) commands: HashMap<CommandId, CommandRow>,
    /// Each command's executions, by attempt.
    pub(crate) executions: HashMap<CommandId, Vec<Execution>>,
    /// The failed attempts of each command that had more than one attempt.
    pub(crate) errors: HashMap<CommandId, Vec<AttemptError>>,
}

impl Evidence {
    /// Reads the commands table through `store`, the side table through `log`, and the
    /// failed attempts through `client`.
    pub(crate) async fn gather<Tx: ?Sized + Send + Sync + 'static>(
        store: &SeaStore,
        log: &ExecutionLog,
        client: &Node<Tx>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let db = store.connection();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT id, status, attempts FROM {}",
                    store.commands_table()
                ),
            ))
            .await?;
        let mut commands = HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: uuid::Uuid = row.try_get_by_index(0)?;
            let attempts: i32 = row.try_get_by_index(2)?;
            commands.insert(
                CommandId::from_uuid(id),
                CommandRow {
                    status: row.try_get_by_index(1)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                },
            );
        }
        let mut executions: HashMap<CommandId, Vec<Execution>> = HashMap::new();
        for e in log.read_all().await? {
            executions.entry(e.command).or_default().push(e);
        }
        for list in executions.values_mut() {
            list.sort_by_key(|e| (e.attempt, e.started_us));
        }
        let retried: Vec<CommandId> = commands
            .iter()
            .filter(|(_, row)| row.attempts > 1)
            .map(|(id, _)| *id)
            .collect();
        let mut errors = HashMap::with_capacity(retried.len());
        let mut reads = futures::stream::iter(retried)
            .map(|id| async move { (id, client.get(id).await) })
            .buffer_unordered(16);
        while let Some((id, record)) = reads.next().await {
            if let Some(record) = record? {
                errors.insert(id, record.errors);
            }
        }
        Ok(Self {
            commands,
            executions,
            errors,
        })
    }
}

/// The audit's findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// Commands the feeder pushed (with an id back).
    pub pushed: u64,
    /// Commands the feeder never got an id for.
    pub unpushed: u64,
    /// Pushed commands missing from the commands table.
    pub lost: u64,
    /// Commands in the table the feeder did not push.
    pub unexpected: u64,
    /// Commands by final status.
    pub statuses: BTreeMap<String, u64>,
    /// Pushed commands whose final status is not `succeeded`.
    pub not_succeeded: u64,
    /// Rows in the side table.
    pub executions: u64,
    /// Commands executed more than once.
    pub duplicates: u64,
    /// Executions beyond the first, summed over the duplicated commands.
    pub extra_executions: u64,
    /// Duplicated commands whose earlier execution was in an engine later SIGKILLed.
    pub duplicates_after_sigkill: u64,
    /// Duplicated commands whose earlier execution was in an engine that lived on but lost
    /// the lease (its connections cut, or too slow to renew).
    pub duplicates_after_lapse: u64,
    /// Failed attempts recorded `lease_expired`.
    pub lease_expired_attempts: u64,
    /// Failed attempts of any other kind, by kind (the handler never fails on its own).
    pub other_failures: BTreeMap<String, u64>,
    /// Breaches of the delivery contract: an execution after the recorded result (the
    /// fenced path ran twice), one attempt executed twice, an executed attempt that did
    /// not end `lease_expired`, a success with no execution. Must be 0.
    pub violations: u64,
    /// The first violations, described.
    pub violation_examples: Vec<String>,
}

impl Audit {
    /// Checks `evidence` against what the feeder pushed and the kills the fleet sent.
    pub(crate) fn of(evidence: &Evidence, feed: &Feed, kills: &[Kill]) -> Self {
        let mut audit = Self::default();
        let pushed: HashSet<CommandId> = feed.ids.iter().flatten().copied().collect();
        audit.pushed = pushed.len() as u64;
        audit.unpushed = feed.ids.iter().filter(|id| id.is_none()).count() as u64;
        audit.lost = pushed
            .iter()
            .filter(|id| !evidence.commands.contains_key(id))
            .count() as u64;
        audit.executions = evidence.executions.values().map(|v| v.len() as u64).sum();
        let killed_at: HashMap<&str, i64> =
            kills.iter().map(|k| (k.engine.as_str(), k.at_us)).collect();
        for (id, row) in &evidence.commands {
            *audit.statuses.entry(row.status.clone()).or_default() += 1;
            if !pushed.contains(id) {
                audit.unexpected += 1;
            } else if row.status != "succeeded" {
                audit.not_succeeded += 1;
            }
            let errors = evidence.errors.get(id).map_or(&[][..], Vec::as_slice);
            for error in errors {
                if error.kind == FailureKind::LeaseExpired {
                    audit.lease_expired_attempts += 1;
                } else {
                    *audit
                        .other_failures
                        .entry(error.kind.as_str().to_owned())
                        .or_default() += 1;
                }
            }
            let executions = evidence.executions.get(id).map_or(&[][..], Vec::as_slice);
            audit.check_command(*id, row, executions, errors, &killed_at);
        }
        audit
    }

    fn check_command(
        &mut self,
        id: CommandId,
        row: &CommandRow,
        executions: &[Execution],
        errors: &[AttemptError],
        killed_at: &HashMap<&str, i64>,
    ) {
        let succeeded = row.status == "succeeded";
        if succeeded && !executions.iter().any(|e| e.attempt == row.attempts) {
            self.violation(format!(
                "{id}: succeeded on attempt {} with no execution of it",
                row.attempts
            ));
        }
        for pair in executions.windows(2) {
            if pair[0].attempt == pair[1].attempt {
                self.violation(format!(
                    "{id}: attempt {} executed by engines {} and {}",
                    pair[0].attempt, pair[0].engine, pair[1].engine
                ));
            }
        }
        let mut after_sigkill = false;
        for e in executions {
            if e.attempt > row.attempts || (succeeded && e.attempt == row.attempts) {
                if e.attempt > row.attempts {
                    self.violation(format!(
                        "{id}: attempt {} executed by engine {} after the recorded attempt {}",
                        e.attempt, e.engine, row.attempts
                    ));
                }
                continue;
            }
            // An earlier attempt made its effect: its result must never have been recorded.
            let ended = errors.iter().find(|x| x.attempt == e.attempt);
            match ended {
                Some(x) if x.kind == FailureKind::LeaseExpired => {}
                Some(x) => self.violation(format!(
                    "{id}: attempt {} made its effect in engine {} yet ended {}",
                    e.attempt, e.engine, x.kind
                )),
                None => self.violation(format!(
                    "{id}: attempt {} made its effect in engine {} and has no recorded end",
                    e.attempt, e.engine
                )),
            }
            if killed_at
                .get(e.engine.as_str())
                .is_some_and(|at| *at > e.started_us)
            {
                after_sigkill = true;
            }
        }
        if executions.len() > 1 {
            self.duplicates += 1;
            self.extra_executions += executions.len() as u64 - 1;
            if after_sigkill {
                self.duplicates_after_sigkill += 1;
            } else {
                self.duplicates_after_lapse += 1;
            }
        }
    }

    fn violation(&mut self, what: String) {
        self.violations += 1;
        if self.violation_examples.len() < DESCRIBED {
            self.violation_examples.push(what);
        }
    }
}
