//! A worker process for crash tests: runs an engine on the database URL given as its first
//! argument, with a handler for `Hang` that never returns, until it is killed.

use std::time::Duration;

use orch::Orch;
use orch::prelude::CancellationToken;
use orch_tests::commands::{Hang, HangHandler};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: crash_worker DATABASE_URL")?;
    let orch = Orch::builder()
        .database(url)
        .without_link_time_handlers()
        .handler::<Hang, _>(HangHandler { hang: true })
        .poll_interval(Duration::from_millis(50))
        .build()
        .await?;
    orch.run(CancellationToken::new()).await?;
    Ok(())
}
