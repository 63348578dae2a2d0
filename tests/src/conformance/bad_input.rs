//! Bad input gets a clear error, and nothing is lost.

use std::time::Duration;

use orch::ListFilter;
use orch::prelude::*;
use orch::{ConfigError, Error};

use super::SOON;
use crate::commands::{Big, ShapeHandler, ShapeV1, ShapeV1Handler, ShapeV2};
use crate::wait::wait_for_status;
use crate::{Harness, SuiteBackend};

/// A payload that no longer deserializes fails its command at once with the decode error:
/// no retries, and the worker goes on.
pub async fn undecodable_payload_dies_without_retry<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.engine::<ShapeV2, _>(ShapeHandler, &super::ledger()).await;
    let old = orch
        .push(ShapeV1 { x: "text".into() })
        .await
        .expect("push old shape");
    let new = orch.push(ShapeV2 { x: 7 }).await.expect("push new shape");
    let running = h.start(&orch);
    let rec = wait_for_status(h, old, CommandStatus::Dead, SOON).await;
    wait_for_status(h, new, CommandStatus::Succeeded, SOON).await;
    running.stop().await;
    assert_eq!(rec.attempts, 1, "no retry storm");
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, FailureKind::Decode);
    let message = &rec.errors[0].message;
    assert!(
        message.contains("shape") && message.contains("ShapeV2"),
        "{message}"
    );
    assert_eq!(
        rec.input, r#"{"x":"text"}"#,
        "the payload is kept for inspection"
    );
}

/// A payload above the limit is refused at push, naming the command, and nothing is stored.
pub async fn oversized_payload_is_refused<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h
        .builder()
        .configure(|c| c.max_payload_bytes = 1024)
        .build()
        .await
        .expect("build");
    let err = orch
        .push(Big {
            blob: "x".repeat(2000),
        })
        .await
        .expect_err("too big");
    match &err {
        Error::PayloadTooLarge { name, size, limit } => {
            assert_eq!(name, "big");
            assert_eq!(*limit, 1024);
            assert!(*size > 2000);
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("max_payload_bytes"));
    assert!(
        orch.list(&ListFilter::new())
            .await
            .expect("list")
            .is_empty()
    );
    orch.push(Big {
        blob: "x".repeat(900),
    })
    .await
    .expect("under the limit");
}

/// Two command types with one name are a start-up error naming both.
pub async fn duplicate_names_fail_at_start<B: SuiteBackend>(h: &Harness<B>) {
    let err = h
        .builder()
        .handler::<ShapeV1, _>(ShapeV1Handler)
        .handler::<ShapeV2, _>(ShapeHandler)
        .build()
        .await
        .expect_err("duplicate name");
    let text = err.to_string();
    assert!(
        text.contains("`shape`") && text.contains("ShapeV1") && text.contains("ShapeV2"),
        "{text}"
    );
}

/// An empty or over-long idempotency key or target is refused at push, naming the field.
pub async fn bad_push_options_are_refused<B: SuiteBackend>(h: &Harness<B>) {
    use orch::Push;
    let orch = h.client().await;
    for (push, field) in [
        (Push::new().idempotency_key(""), "idempotency_key"),
        (
            Push::new().idempotency_key("k".repeat(256)),
            "idempotency_key",
        ),
        (Push::new().target(""), "target"),
        (Push::new().target("a\0b"), "target"),
        (Push::new().idempotency_key("k\0"), "idempotency_key"),
        (Push::new().timeout(Duration::ZERO), "timeout"),
        (Push::new().timeout(Duration::from_micros(10)), "timeout"),
        (Push::new().timeout(Duration::MAX), "timeout"),
        (Push::new().retries(u32::MAX), "retries"),
        (Push::new().delay(Duration::MAX), "delay"),
        (
            Push::new().run_at(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            "run_at",
        ),
        (
            Push::new().run_at(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            "run_at",
        ),
    ] {
        let err = orch
            .push_with(Big { blob: "x".into() }, push)
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, Error::Config(ConfigError::Invalid { field: f, .. }) if *f == field),
            "{err:?}"
        );
    }
    assert!(
        orch.list(&ListFilter::new())
            .await
            .expect("list")
            .is_empty()
    );
    // The extremes that are allowed are stored and read back exactly.
    let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59.999999Z")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let id = orch
        .push_with(
            Big { blob: "x".into() },
            Push::new()
                .run_at(far)
                .timeout(Duration::from_secs(365 * 24 * 3600))
                .retries(100_000),
        )
        .await
        .expect("extremes within range");
    let rec = orch.get(id).await.expect("get").expect("stored");
    assert_eq!(rec.run_at, far);
    assert_eq!(rec.timeout, Duration::from_secs(365 * 24 * 3600));
    assert_eq!(rec.max_attempts, 100_001);
}

/// Outputs over `max_output_bytes` fail their command for good with the sizes named; many
/// large outputs that together exceed what one statement may carry (MariaDB's 16 MiB
/// packet) are all recorded, in statements bounded by bytes.
pub async fn large_outputs_are_bounded<B: SuiteBackend>(h: &Harness<B>) {
    use crate::commands::{Sized, SizedHandler};
    let orch = h
        .builder()
        .handler::<Sized, _>(SizedHandler)
        .concurrency(32)
        .build()
        .await
        .expect("build");
    let running = h.start(&orch);
    // Short results first, one and several at a time, so statements of the same shapes
    // are prepared (and cached) with short values before long ones come.
    for round in 1..=3 {
        let short: Vec<_> = (0..round).map(|_| Sized { kib: 1 }).collect();
        for id in orch.push_many(short).await.expect("push") {
            crate::wait::wait_for_status(h, id, CommandStatus::Succeeded, SOON).await;
        }
    }
    let mut fine = Vec::new();
    for _ in 0..20 {
        fine.push(orch.push(Sized { kib: 900 }).await.expect("push"));
    }
    let too_big = orch.push(Sized { kib: 1100 }).await.expect("push");
    for id in &fine {
        let record = crate::wait::wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
        assert_eq!(
            record.output.as_ref().map(String::len),
            Some(900 * 1024 + 2),
            "{:?} {:?}",
            record
                .output
                .as_ref()
                .map(|o| o.chars().take(20).collect::<String>()),
            record.errors
        );
        assert_eq!(record.attempts, 1, "recorded the first time");
    }
    let dead = crate::wait::wait_for_status(h, too_big, CommandStatus::Dead, SOON).await;
    assert_eq!(dead.attempts, 1, "not retried");
    let error = dead.last_error.unwrap_or_default();
    assert!(
        error.contains("max_output_bytes") && error.contains("1048576"),
        "{error}"
    );
    running.stop().await;
}
