//! Lone claims: how long one claim of orch's default size and one of the wide size take
//! from a backlog on PostgreSQL, through the store the engine uses, with nothing else
//! running. An engine has one claim in flight at a time, so these bound its drains from
//! above; [`super::targets`] quotes them when item 1, or item 2 deleting what succeeds,
//! misses its bar.

use std::time::{Duration, Instant};

use orch::internal::LeaseToken;
use orch::internal::store::{ClaimParams, Store};
use orch::prelude::*;
use orch_tests::BackendKind;
use serde::Serialize;

use crate::measure;
use crate::workload::Noop;

type BoxError = Box<dyn std::error::Error>;

/// Rounds of one claim of each size; each round takes one claim of each.
const ROUNDS: usize = 25;

/// The median round trip of a lone claim of each size.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct LoneClaims {
    /// The smaller size (orch's default `max_claim`).
    pub(crate) small: u32,
    /// Its median round trip, in milliseconds.
    pub(crate) small_ms: f64,
    /// The wider size (the peak configurations' claims).
    pub(crate) wide: u32,
    /// Its median round trip, in milliseconds.
    pub(crate) wide_ms: f64,
}

impl LoneClaims {
    /// Commands per second that back-to-back claims of the smaller size allow.
    pub(crate) fn small_rate(&self) -> f64 {
        f64::from(self.small) / self.small_ms * 1000.0
    }

    /// Commands per second that back-to-back claims of the wider size allow.
    pub(crate) fn wide_rate(&self) -> f64 {
        f64::from(self.wide) / self.wide_ms * 1000.0
    }
}

/// On a fresh PostgreSQL database: [`ROUNDS`] rounds, each a claim of `small` then one of
/// `wide` from a settled backlog, each claim timed alone and its commands then finished
/// (untimed), as an engine's are.
pub(crate) async fn measure(small: u32, wide: u32) -> Result<LoneClaims, BoxError> {
    measure::on_fresh(BackendKind::Postgres, |url| async move {
        let client = measure::builder(&url).build().await?;
        let backlog = (ROUNDS as u64 + 2) * u64::from(small + wide);
        measure::fill(&client, backlog).await?;
        crate::ready::settle(&client).await?;
        crate::ready::open_claims_pool(&client).await?;
        let (mut smalls, mut wides) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            smalls.push(timed_claim(&client, small).await?);
            wides.push(timed_claim(&client, wide).await?);
        }
        Ok(LoneClaims {
            small,
            small_ms: median_ms(&mut smalls),
            wide,
            wide_ms: median_ms(&mut wides),
        })
    })
    .await
}

/// One claim of `limit` no-op commands, timed; its commands are then recorded as
/// succeeded.
async fn timed_claim(client: &Orch, limit: u32) -> Result<Duration, BoxError> {
    let commands = client.store().commands();
    let params = ClaimParams {
        worker: orch::WorkerId::new(),
        token: LeaseToken::new(),
        names: vec![Noop::NAME.to_owned()],
        targets: vec![orch::config::DEFAULT_INSTANCE_KEY.to_owned()],
        limit,
        lease_ttl: Duration::from_secs(60),
        lease_buffer: Duration::from_secs(10),
    };
    let started = Instant::now();
    let claimed = commands.claim(&params).await?;
    let took = started.elapsed();
    if claimed.len() != limit as usize {
        return Err(format!("a claim of {limit} took {} commands", claimed.len()).into());
    }
    let finishes = orch_tests::sea::finish_cost::successes(&claimed);
    commands.finish(&finishes).await?;
    Ok(took)
}

/// The median of `times`, in milliseconds.
fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0)
}
