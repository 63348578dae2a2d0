//! Property test of the push options: many generated combinations of timeout, retries,
//! delay, run time, idempotency key and target, the documented edges among them, each
//! either refused with an error naming a field that breaks a documented rule, or stored
//! and read back as documented (timeouts to the millisecond, rounded up; run times and
//! delays to the microsecond).

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use orch::prelude::*;
use orch::{Error, When};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::commands::EchoCommand;
use crate::{Harness, SuiteBackend};

const CASES: u64 = 150;
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
const MAX_TIMEOUT: Duration = YEAR;
const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
const MAX_RETRIES: u32 = 100_000;
/// `EchoCommand`'s own retries, used when a push sets none.
const ECHO_RETRIES: u32 = 2;
/// `EngineConfig::default_timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

fn timeout(rng: &mut StdRng) -> Option<Duration> {
    // Edges (valid and not) one time in four; valid values otherwise.
    Some(match rng.random_range(0..28) {
        0 => Duration::ZERO,
        1 => Duration::from_micros(500),
        2 => Duration::from_millis(1),
        3 => MAX_TIMEOUT,
        4 => MAX_TIMEOUT + Duration::from_millis(1),
        5 => Duration::MAX,
        6 => Duration::from_nanos(rng.random_range(1..2_000_000)),
        7..=12 => return None,
        13..=18 => Duration::from_nanos(rng.random_range(1_000_000..10_000_000_000)),
        _ => Duration::from_millis(rng.random_range(1..=MAX_TIMEOUT.as_millis() as u64)),
    })
}

fn retries(rng: &mut StdRng) -> Option<u32> {
    Some(match rng.random_range(0..16) {
        0..=4 => return None,
        5 => 0,
        6 => MAX_RETRIES,
        7 => MAX_RETRIES + 1,
        8 => u32::MAX,
        9 => rng.random_range(MAX_RETRIES..u32::MAX),
        _ => rng.random_range(0..=MAX_RETRIES),
    })
}

fn instant(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).expect("in chrono's range")
}

fn when(rng: &mut StdRng) -> When {
    // 0001-01-01 and 10000-12-31, in seconds since the epoch.
    const FIRST: i64 = -62_135_596_800;
    const LAST: i64 = 253_433_923_200;
    // 9999-12-31T23:59:59, the last second stored.
    const LAST_STORED: i64 = 253_402_300_799;
    match rng.random_range(0..24) {
        0 => When::After(Duration::ZERO),
        1 => When::After(MAX_DELAY),
        2 => When::After(MAX_DELAY + Duration::from_secs(1)),
        3 => When::After(Duration::MAX),
        4 => When::At(instant(0, 0)),
        5 => When::At(instant(-1, 999_999_999)),
        6 => When::At(instant(LAST_STORED, 999_999_999)),
        7 => When::At(instant(LAST_STORED + 1, 0)),
        8 => When::At(instant(
            rng.random_range(FIRST..LAST),
            rng.random_range(0..1_000_000_000),
        )),
        9..=13 => When::Now,
        14..=18 => When::After(Duration::from_nanos(
            rng.random_range(0..=MAX_DELAY.as_nanos() as u64),
        )),
        _ => When::At(instant(
            rng.random_range(0..=LAST_STORED),
            rng.random_range(0..1_000_000_000),
        )),
    }
}

/// A key or target: none, or one that breaks a rule, or case-unique text of every kind of
/// character, from 1 byte to past the 255-byte limit.
fn text(rng: &mut StdRng, case: u64) -> Option<String> {
    const CHARS: [char; 14] = [
        'a', 'Z', '0', ' ', '%', '_', '\'', '"', '\\', 'é', '\u{301}', '😀', '\t', '中',
    ];
    Some(match rng.random_range(0..20) {
        0..=7 => return None,
        8 => String::new(),
        9 => format!("{case}\0nul"),
        10 => format!("{case}:{}", "x".repeat(300)),
        _ => {
            let mut s = format!("{case}:");
            let len = rng.random_range(0..90);
            for _ in 0..len {
                s.push(CHARS[rng.random_range(0..CHARS.len())]);
            }
            s
        }
    })
}

fn bad_text(value: Option<&String>) -> bool {
    value.is_some_and(|v| v.is_empty() || v.len() > 255 || v.contains('\0'))
}

/// Each push is refused naming a field that breaks a rule, or stored exactly as
/// documented. Every failure names its seed: `ORCH_PROPERTY_SEED=<seed>` replays it.
pub async fn push_options_are_refused_or_stored_exactly<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let seed: u64 = std::env::var("ORCH_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut stored, mut refused) = (0, 0);
    for case in 0..CASES {
        let (timeout, retries, when) = (timeout(&mut rng), retries(&mut rng), when(&mut rng));
        let (key, target) = (text(&mut rng, case), text(&mut rng, case));
        let mut push = Push::new();
        if let Some(t) = timeout {
            push = push.timeout(t);
        }
        if let Some(r) = retries {
            push = push.retries(r);
        }
        push = match when {
            When::At(at) => push.run_at(at),
            When::After(delay) => push.delay(delay),
            _ => push,
        };
        if let Some(k) = &key {
            push = push.idempotency_key(k.clone());
        }
        if let Some(t) = &target {
            push = push.target(t.clone());
        }
        let effective_timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let mut broken = Vec::new();
        if effective_timeout < Duration::from_millis(1) || effective_timeout > MAX_TIMEOUT {
            broken.push("timeout");
        }
        if retries.is_some_and(|r| r > MAX_RETRIES) {
            broken.push("retries");
        }
        match when {
            When::After(delay) if delay > MAX_DELAY => broken.push("delay"),
            When::At(at) if !(1970..=9999).contains(&at.year()) => broken.push("run_at"),
            _ => {}
        }
        if bad_text(key.as_ref()) {
            broken.push("idempotency_key");
        }
        if bad_text(target.as_ref()) {
            broken.push("target");
        }
        let what = format!(
            "case {case} (seed {seed}): timeout {timeout:?}, retries {retries:?}, {when:?}, key {key:?}, target {target:?}"
        );
        match orch.push_with(EchoCommand { n: case }, push).await {
            Err(Error::Config(error)) => {
                assert!(
                    broken.iter().any(|field| error.to_string().contains(field)),
                    "{what}: refused as {error}, but the broken fields are {broken:?}"
                );
                refused += 1;
            }
            Err(error) => panic!("{what}: failed with {error} instead of a clear refusal"),
            Ok(id) => {
                assert!(
                    broken.is_empty(),
                    "{what}: stored, though {broken:?} break a rule"
                );
                let rec = orch.get(id).await.expect("get").expect("stored");
                let millis = effective_timeout.as_nanos().div_ceil(1_000_000);
                assert_eq!(
                    rec.timeout,
                    Duration::from_millis(millis as u64),
                    "{what}: timeout"
                );
                assert_eq!(
                    rec.max_attempts,
                    retries.unwrap_or(ECHO_RETRIES) + 1,
                    "{what}: attempts"
                );
                match when {
                    When::At(at) => assert_eq!(
                        rec.run_at.timestamp_micros(),
                        at.timestamp_micros(),
                        "{what}: run time"
                    ),
                    When::After(delay) => assert_eq!(
                        (rec.run_at - rec.created_at).num_microseconds(),
                        Some(delay.as_micros() as i64),
                        "{what}: delay"
                    ),
                    _ => assert_eq!(rec.run_at, rec.created_at, "{what}: due now"),
                }
                assert_eq!(rec.idempotency_key, key, "{what}: key");
                assert_eq!(
                    rec.target,
                    target.unwrap_or_else(|| "default".into()),
                    "{what}: target"
                );
                stored += 1;
            }
        }
    }
    // Both outcomes are exercised (about half and half with these odds).
    assert!(
        stored >= 20 && refused >= 20,
        "{stored} stored, {refused} refused"
    );
}
