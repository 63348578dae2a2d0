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
