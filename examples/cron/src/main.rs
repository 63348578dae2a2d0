//! orch cron on embedded SQLite: declares a job firing every 2 seconds, lets the engine
//! (the elected leader, being the only one) run it for about 6 seconds, then prints the
//! job and its run history. Run it with `cargo run -p cron-jobs`.

#![allow(clippy::print_stdout, reason = "an example that shows its steps")]

use std::time::Duration;

use orch::cron::Job;
use orch::prelude::*;

/// Refreshes a cache (name: `refresh_cache`).
#[orch_command(timeout = "10s")]
#[derive(Serialize, Deserialize)]
pub struct RefreshCacheCommand {
    /// Which cache.
    pub cache: String,
}

/// Refreshes caches.
#[derive(Default)]
pub struct Refresher;

#[orch_handler]
impl Handler<RefreshCacheCommand> for Refresher {
    async fn run(&self, cmd: RefreshCacheCommand, ctx: &Ctx) -> Result<(), HandlerError> {
        println!("  refreshing {} (run {})", cmd.cache, ctx.id());
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("orch-cron-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let job = Job::new(
        "refresh-prices",
        "*/2 * * * * *", // every 2 seconds (6 fields: seconds first)
        RefreshCacheCommand {
            cache: "prices".into(),
        },
    );
    let orch = Orch::builder()
        .database(&url)
        .cron_job(job) // reconciled with the stored jobs at build
        .configure(|c| c.cron_interval = Duration::from_millis(250))
        .build()
        .await?;
    let info = orch
        .cron()
        .get("refresh-prices")
        .await?
        .ok_or("job missing")?;
    println!(
        "job {} ({}), next fire at {:?}",
        info.definition.name, info.definition.schedule, info.next_fire_at
    );

    let stop = CancellationToken::new();
    let engine = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    tokio::time::sleep(Duration::from_millis(6_200)).await;
    orch.cron().pause("refresh-prices").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    engine.await??;

    let runs = orch.cron().runs("refresh-prices", 100).await?;
    println!("run history, newest first:");
    for run in &runs {
        println!(
            "  fire time {}  {}  attempts {}",
            run.run_at, run.status, run.attempts
        );
    }
    for file in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{file}", path.display()));
    }
    let done = runs
        .iter()
        .filter(|r| r.status == CommandStatus::Succeeded)
        .count();
    if done < 2 {
        return Err(format!("expected at least 2 finished runs in 6 s, saw {done}").into());
    }
    println!("{done} runs, one per fire time");
    Ok(())
}
