//! orch quickstart: embedded SQLite, no server, no set-up.
//!
//! Pushes a chained command (its success enqueues a follow-up), a command that fails once
//! and succeeds on retry, and one that runs past its timeout; prints each step and a final
//! table of statuses. Run it with `cargo run -p quickstart`.

#![allow(clippy::print_stdout, reason = "an example that shows its steps")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use orch::ListFilter;
use orch::RetryPolicy;
use orch::prelude::*;

/// Generates a monthly report; on success, e-mails it.
#[orch_command(name = "reports.generate", timeout = "10s", output = ReportResult)]
#[derive(Serialize, Deserialize)]
pub struct GenerateReport {
    /// The month, 1–12.
    pub month: u32,
}

/// What a report run produced.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReportResult {
    /// Rows in the report.
    pub rows: u32,
}

impl Chain for GenerateReport {
    fn on_success(&self, out: &ReportResult) -> FollowUps {
        FollowUps::one(SendEmailCommand {
            to: "finance@example.com".into(),
            subject: format!("Report for month {} ({} rows)", self.month, out.rows),
        })
    }
}

/// Sends an e-mail (name: `send_email`). Fails on its first attempt, to show a retry.
#[orch_command(timeout = "5s", retries = 3)]
#[derive(Serialize, Deserialize)]
pub struct SendEmailCommand {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
}

/// Sleeps longer than its timeout allows (name: `slow_export`).
#[orch_command(timeout = "300ms", retries = 0)]
#[derive(Serialize, Deserialize)]
pub struct SlowExportCommand {
    /// How long the export would take, in milliseconds.
    pub millis: u64,
}

/// A stand-in for an e-mail gateway that is down on the first call.
#[derive(Default)]
pub struct Mailer {
    calls: AtomicU32,
}

/// Runs reports.
#[derive(Default)]
pub struct Reports;

#[orch_handler]
impl Handler<GenerateReport> for Reports {
    async fn run(&self, cmd: GenerateReport, ctx: &Ctx) -> Result<ReportResult, HandlerError> {
        println!(
            "  [{}] generating the report for month {}",
            ctx.name(),
            cmd.month
        );
        Ok(ReportResult { rows: 42 })
    }
}

/// Sends e-mails through the [`Mailer`] state.
#[derive(Default)]
pub struct Emails;

#[orch_handler]
impl Handler<SendEmailCommand> for Emails {
    async fn run(&self, cmd: SendEmailCommand, ctx: &Ctx) -> Result<(), HandlerError> {
        let mailer = ctx.state::<Mailer>()?;
        if mailer.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            println!(
                "  [{}] attempt {}: gateway down, will retry",
                ctx.name(),
                ctx.attempt()
            );
            return Err(HandlerError::retryable("smtp gateway unavailable"));
        }
        println!(
            "  [{}] attempt {}: sent {:?} to {}",
            ctx.name(),
            ctx.attempt(),
            cmd.subject,
            cmd.to
        );
        Ok(())
    }
}

/// Runs exports, slowly.
#[derive(Default)]
pub struct Exports;

#[orch_handler]
impl Handler<SlowExportCommand> for Exports {
    async fn run(&self, cmd: SlowExportCommand, ctx: &Ctx) -> Result<(), HandlerError> {
        println!(
            "  [{}] exporting for {} ms (timeout 300 ms)",
            ctx.name(),
            cmd.millis
        );
        tokio::time::sleep(Duration::from_millis(cmd.millis)).await;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("orch-quickstart-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    println!("orch quickstart on {url}");

    let orch = Orch::builder()
        .database(&url)
        .state(Mailer::default())
        .retry_policy(
            RetryPolicy::new()
                .base(Duration::from_millis(200))
                .jitter(0.0),
        )
        .poll_interval(Duration::from_millis(100))
        .build()
        .await?;

    let report = orch.push(GenerateReport { month: 11 }).await?;
    println!("pushed reports.generate {report}");
    let export = orch.push(SlowExportCommand { millis: 2_000 }).await?;
    println!("pushed slow_export      {export}");

    let stop = CancellationToken::new();
    let engine = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });

    // Wait until the report, its e-mail follow-up and the export have all finished.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let email = loop {
        let rec = orch.get(report).await?.ok_or("report vanished")?;
        let email = find_child(&orch, report).await?;
        let export_done = orch
            .get(export)
            .await?
            .is_some_and(|r| r.status.is_terminal());
        if let Some(email) = email
            && rec.status.is_terminal()
            && export_done
            && orch
                .get(email)
                .await?
                .is_some_and(|r| r.status.is_terminal())
        {
            break email;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("commands did not finish within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.cancel();
    engine.await??;

    println!();
    println!(
        "{:<18} {:<10} {:>8}  last error",
        "command", "status", "attempts"
    );
    for id in [report, email, export] {
        let rec = orch.get(id).await?.ok_or("missing")?;
        println!(
            "{:<18} {:<10} {:>8}  {}",
            rec.name,
            rec.status.as_str(),
            format!("{}/{}", rec.attempts, rec.max_attempts),
            rec.errors
                .last()
                .map(|e| format!("{}: {}", e.kind, e.message))
                .unwrap_or_default()
        );
    }
    let ok = orch
        .get(report)
        .await?
        .is_some_and(|r| r.status == CommandStatus::Succeeded)
        && orch
            .get(email)
            .await?
            .is_some_and(|r| r.status == CommandStatus::Succeeded && r.attempts == 2)
        && orch
            .get(export)
            .await?
            .is_some_and(|r| r.status == CommandStatus::Dead);
    drop(orch);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if !ok {
        return Err("unexpected final statuses".into());
    }
    println!("\nall as expected: chained, retried once, timed out");
    Ok(())
}

/// The follow-up a parent enqueued.
async fn find_child(orch: &Orch, parent: CommandId) -> orch::Result<Option<CommandId>> {
    let children = orch.list(&ListFilter::new().parent(parent)).await?;
    Ok(children.first().map(|c| c.id))
}
