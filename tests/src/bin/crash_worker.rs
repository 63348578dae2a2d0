//! A second process for the tests that need one, on the database URL given as its first
//! argument, doing what the second argument says until it is done or killed:
//! - `hang` (the default): an engine whose `Hang` handler never returns;
//! - `engine`: an engine with the leader tests' leader TTL;
//! - `contend`: its share of the lock contention test;
//! - `hold-lock NAME`: takes lock NAME, prints `held TOKEN` and waits to be killed.

use std::time::Duration;

use orch::Orch;
use orch::prelude::CancellationToken;
use orch_tests::commands::{Hang, HangHandler};
use orch_tests::conformance::{leader, locks};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: orch-crash-worker DATABASE_URL [hang|engine|contend|hold-lock NAME]")?;
    match args.next().as_deref().unwrap_or("hang") {
        "hang" => {
            let orch = Orch::builder()
                .database(url)
                .without_link_time_handlers()
                .handler::<Hang, _>(HangHandler { hang: true })
                .poll_interval(Duration::from_millis(50))
                .build()
                .await?;
            orch.run(CancellationToken::new()).await?;
        }
        "engine" => {
            let orch = Orch::builder()
                .database(url)
                .without_link_time_handlers()
                .configure(|c| c.leader_ttl = leader::TEST_LEADER_TTL)
                .build()
                .await?;
            orch.run(CancellationToken::new()).await?;
        }
        "contend" => locks::contend(&url).await,
        "hold-lock" => {
            let name = args.next().ok_or("hold-lock needs a lock name")?;
            locks::hold_until_killed(&url, &name).await;
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    }
    Ok(())
}
