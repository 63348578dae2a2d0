//! orch timers on embedded SQLite: schedules two reminders two seconds ahead, calls one
//! off before it fires, and waits for the other. Run it with `cargo run -p timers`.

#![allow(clippy::print_stdout, reason = "an example that shows its steps")]

use std::time::Duration;

use orch::prelude::*;

/// Reminds a user of something (name: `remind`).
#[orch_command(timeout = "10s")]
#[derive(Serialize, Deserialize)]
pub struct Remind {
    /// Who.
    pub user: String,
    /// Of what.
    pub note: String,
}

/// Sends reminders.
#[derive(Default)]
pub struct Reminders;

#[orch_handler]
impl Handler<Remind> for Reminders {
    async fn run(&self, cmd: Remind, _ctx: &Ctx) -> Result<(), HandlerError> {
        println!("  reminder for {}: {}", cmd.user, cmd.note);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("orch-timers-{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let orch = Orch::builder()
        .database(&url)
        .poll_interval(Duration::from_millis(100))
        .build()
        .await?;

    let at = orch.database_now().await? + chrono::Duration::seconds(2);
    let kept = orch
        .schedule(
            Remind {
                user: "ada".into(),
                note: "stand-up".into(),
            },
            at,
        )
        .await?;
    let dropped = orch
        .schedule(
            Remind {
                user: "bob".into(),
                note: "never sent".into(),
            },
            at,
        )
        .await?;
    for timer in orch.pending_timers(10).await? {
        println!("pending timer {} due at {}", timer.id, timer.run_at);
    }
    println!(
        "called off {dropped}: {}",
        orch.cancel_timer(dropped).await?
    );

    let stop = CancellationToken::new();
    let engine = tokio::spawn({
        let (orch, stop) = (orch.clone(), stop.clone());
        async move { orch.run(stop).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rec = orch.get(kept).await?.ok_or("timer vanished")?;
        if rec.status.is_terminal() {
            println!(
                "timer {kept}: {} (due {}, fired once)",
                rec.status, rec.run_at
            );
            break;
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the timer did not fire within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    engine.await??;
    let called_off = orch.get(dropped).await?.ok_or("timer vanished")?;
    for file in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{file}", path.display()));
    }
    if called_off.status != CommandStatus::Canceled {
        return Err(format!("the called-off timer is {}", called_off.status).into());
    }
    println!("timer {dropped}: canceled, never ran");
    Ok(())
}
