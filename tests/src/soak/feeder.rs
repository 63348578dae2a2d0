//! Pushes the soak's commands from several tasks, each with the idempotency key
//! `soak-{n}`, so a push retried after its connection was cut never makes a second
//! command.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use orch::{CommandId, Push};
use rand::Rng;

use super::command::SoakCommand;
use super::config::SoakConfig;
use crate::Node;

/// What the feeder pushed.
#[derive(Debug, Default)]
pub struct Feed {
    /// The id of each command pushed, by number.
    pub ids: Vec<Option<CommandId>>,
    /// Pushes that failed and were tried again.
    pub retries: u64,
}

/// Pushes `plan.commands` commands with `plan.pushers` tasks on `client`, at
/// `plan.push_rate` per second in all (or as fast as the database takes them), each
/// working for a time drawn from
/// zero to twice `work`. A failed push is tried again until it succeeds or `give_up`
/// passes (the command then stays unpushed).
pub async fn push_commands<Tx: ?Sized + Send + Sync + 'static>(
    client: &Node<Tx>,
    plan: &SoakConfig,
    give_up: tokio::time::Instant,
) -> Feed {
    let (commands, rate, work) = (plan.commands, plan.push_rate, plan.work);
    let next = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let started = tokio::time::Instant::now();
    let max_work_us = u64::try_from(work.as_micros() * 2).unwrap_or(u64::MAX);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.pushers.max(1) {
        let (client, next, retries) = (client.clone(), next.clone(), retries.clone());
        tasks.spawn(async move {
            let mut pushed = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= commands {
                    return pushed;
                }
                if let Some(rate) = rate.filter(|r| *r > 0) {
                    let due = Duration::from_secs_f64(n as f64 / f64::from(rate));
                    tokio::time::sleep_until(started + due).await;
                }
                let cmd = SoakCommand {
                    n,
                    work_us: rand::rng().random_range(0..=max_work_us),
                };
                loop {
                    let push = Push::new().idempotency_key(format!("soak-{n}"));
                    match client.submit(cmd, push).await {
                        Ok(done) => {
                            pushed.push((n, done.id));
                            break;
                        }
                        Err(_) if tokio::time::Instant::now() >= give_up => break,
                        Err(_) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
    }
    let mut ids = vec![None; usize::try_from(commands).unwrap_or(usize::MAX)];
    while let Some(done) = tasks.join_next().await {
        for (n, id) in done.unwrap_or_default() {
            if let Some(slot) = usize::try_from(n).ok().and_then(|n| ids.get_mut(n)) {
                *slot = Some(id);
            }
        }
    }
    Feed {
        ids,
        retries: retries.load(Ordering::Relaxed),
    }
}
