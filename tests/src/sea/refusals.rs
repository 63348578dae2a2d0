//! Rows the database refuses, and a database too slow to take results: real triggers on
//! the commands table play a column, constraint or server that refuses one row, and a
//! server that takes a while per row. One refused row never holds back the others, and a
//! slow database stops claims instead of piling up results in memory.

use std::time::Duration;

use orch::outbox::OwnerToken;
use orch::prelude::*;
use sea_orm::ConnectionTrait;

use super::SeaBackend;
use crate::commands::{Big, EchoCommand, EchoHandler, Notice, Say, SayHandler};
use crate::conformance::{SOON, ledger};
use crate::wait::{wait_for_status, wait_until};
use crate::{BackendKind, Harness};

/// Runs DDL on the test's database (`{commands}` names the commands table), unprepared
/// (MariaDB does not prepare `CREATE TRIGGER`).
async fn ddl(backend: &SeaBackend, template: &str) {
    let store = backend.admin().await;
    let sql = template.replace("{commands}", store.commands_table());
    store
        .connection()
        .execute_unprepared(&sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A `BEFORE UPDATE` trigger on the commands table that refuses the update when `when`
/// (an SQL condition on `OLD` and `NEW`) holds, with the message `refused by the test`.
async fn refuse_updates_when(backend: &SeaBackend, when: &str) {
    refuse_when(backend, "UPDATE", when).await;
}

/// A `BEFORE {event}` trigger on the commands table that refuses the row when `when` (an
/// SQL condition on `NEW`, and `OLD` for updates) holds.
async fn refuse_when(backend: &SeaBackend, event: &str, when: &str) {
    match backend.kind() {
        BackendKind::Postgres => {
            ddl(
                backend,
                &format!(
                    "CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN IF {when} THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
            )
            .await;
            ddl(
                backend,
                &format!("CREATE TRIGGER test_refuse BEFORE {event} ON {{commands}} FOR EACH ROW EXECUTE FUNCTION test_refuse()"),
            )
            .await;
        }
        BackendKind::MySql => {
            ddl(
                backend,
                &format!(
                    "CREATE TRIGGER test_refuse BEFORE {event} ON {{commands}} FOR EACH ROW BEGIN IF {when} THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF; END"
                ),
            )
            .await;
        }
        BackendKind::Sqlite => {
            ddl(
                backend,
                &format!(
                    "CREATE TRIGGER test_refuse BEFORE {event} ON {{commands}} WHEN {when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ),
            )
            .await;
        }
    }
}

/// A trigger that makes every update recording a success take a while (about 200 ms a
/// row), as a database slowed down by load or a failing disk would.
async fn slow_successes(backend: &SeaBackend) {
    match backend.kind() {
        BackendKind::Postgres => {
            ddl(
                backend,
                "CREATE FUNCTION test_slow() RETURNS trigger AS $$ BEGIN IF NEW.status = 'succeeded' THEN PERFORM pg_sleep(0.2); END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
            )
            .await;
            ddl(
                backend,
                "CREATE TRIGGER test_slow BEFORE UPDATE ON {commands} FOR EACH ROW EXECUTE FUNCTION test_slow()",
            )
            .await;
        }
        BackendKind::MySql => {
            ddl(
                backend,
                "CREATE TRIGGER test_slow BEFORE UPDATE ON {commands} FOR EACH ROW BEGIN IF NEW.status = 'succeeded' THEN SET @slept = SLEEP(0.2); END IF; END",
            )
            .await;
        }
        BackendKind::Sqlite => {
            // No sleep in SQLite's SQL: a large join does the waiting.
            ddl(backend, "CREATE TABLE test_slow_rows (x INTEGER NOT NULL)").await;
            ddl(
                backend,
                "INSERT INTO test_slow_rows WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1200) SELECT x FROM c",
            )
            .await;
            ddl(
                backend,
                "CREATE TRIGGER test_slow BEFORE UPDATE ON {commands} WHEN NEW.status = 'succeeded' BEGIN SELECT count(*) FROM test_slow_rows a, test_slow_rows b; END",
            )
            .await;
        }
    }
}

async fn drop_slow_successes(backend: &SeaBackend) {
    let sql = match backend.kind() {
        BackendKind::Postgres => "DROP TRIGGER test_slow ON {commands}",
        _ => "DROP TRIGGER test_slow",
    };
    ddl(backend, sql).await;
}

/// Handlers whose outputs the database refuses run beside many that it takes, claimed and
/// recorded in the same batches: every accepted result is written once (never run again),
/// each refused one is recorded `dead` with a `refused` attempt naming the database's
/// reason, its `on_failure` follow-up is inserted, and nothing waits for a lease to
/// expire. An error message holding NUL (which PostgreSQL text cannot store) is stored
/// with the NUL replaced.
pub async fn refused_results_are_isolated(h: &Harness<SeaBackend>) {
    refuse_updates_when(h.backend(), "NEW.output LIKE '%poison%'").await;
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<Say, _>(SayHandler)
        .concurrency(64)
        .build()
        .await
        .expect("build");
    let mut says: Vec<Say> = (0..40)
        .map(|i| Say {
            text: format!("fine {i}"),
            fail: false,
        })
        .collect();
    for i in 0..3 {
        says.insert(
            i * 13,
            Say {
                text: format!("poison {i}"),
                fail: false,
            },
        );
    }
    says.push(Say {
        text: "nul \0 inside".into(),
        fail: true,
    });
    // Pushed before the engine starts: claimed, run and recorded together.
    let ids = orch.push_many(says.clone()).await.expect("push");
    let running = h.start(&orch);
    for (say, id) in says.iter().zip(&ids) {
        if say.text.starts_with("poison") {
            let rec = wait_for_status(h, *id, CommandStatus::Dead, SOON).await;
            assert_eq!(rec.attempts, 1, "not retried: {rec:?}");
            assert_eq!(rec.errors.len(), 1, "{:?}", rec.errors);
            assert_eq!(rec.errors[0].kind, FailureKind::Refused);
            let error = rec.last_error.unwrap_or_default();
            assert!(
                error.contains("the database refused to record this attempt's output")
                    && error.contains("refused by the test"),
                "{error}"
            );
            assert_eq!(ledger.runs(&say.text), 1);
            let notices = wait_until(SOON, "the on_failure follow-up", || async {
                let found = orch
                    .list(&orch::ListFilter::new().parent(*id))
                    .await
                    .expect("list");
                (!found.is_empty()).then_some(found)
            })
            .await;
            let notice: Notice = serde_json::from_str(&notices[0].input).expect("notice");
            assert_eq!(notice.what, format!("{}:refused", say.text));
        } else if say.fail {
            let rec = wait_for_status(h, *id, CommandStatus::Dead, SOON).await;
            assert_eq!(rec.errors.len(), 2, "{:?}", rec.errors);
            assert_eq!(rec.last_error.as_deref(), Some("nul \u{FFFD} inside"));
        } else {
            let rec = wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
            assert_eq!(rec.attempts, 1, "recorded the first time: {rec:?}");
            assert_eq!(rec.output, Some(format!("\"{}\"", say.text)));
        }
    }
    running.stop().await;
    for say in says.iter().filter(|s| !s.fail) {
        assert_eq!(ledger.runs(&say.text), 1, "{} ran once", say.text);
    }
}

/// More expired leases than one reaper batch belong to rows the database refuses to
/// change in any form: the reaper records what it can behind them, and leaves those rows
/// out of its later passes.
pub async fn reaper_skips_rows_it_cannot_move(h: &Harness<SeaBackend>) {
    // No handler here: the test holds the commands through the work-queue API.
    let orch = h.client().await;
    let stuck: Vec<CommandId> = orch
        .push_many((0..105).map(|i| Say {
            text: format!("stuck {i}"),
            fail: false,
        }))
        .await
        .expect("push stuck");
    let free: Vec<CommandId> = orch
        .push_many((0..5).map(|i| Say {
            text: format!("free {i}"),
            fail: false,
        }))
        .await
        .expect("push free");
    let claimed = orch
        .command_queue()
        .claim(OwnerToken::new(), &["say"], Duration::from_secs(60), 200)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 110);
    // The stuck rows' leases expired first, so every reaper pass meets them first.
    h.backend()
        .exec(
            "UPDATE {commands} SET lease_expires_at = lease_expires_at - 7200000000 WHERE input LIKE '%stuck%'",
            vec![],
        )
        .await;
    h.backend()
        .exec(
            "UPDATE {commands} SET lease_expires_at = lease_expires_at - 3600000000 WHERE input LIKE '%free%'",
            vec![],
        )
        .await;
    refuse_updates_when(
        h.backend(),
        "OLD.status = 'running' AND OLD.input LIKE '%stuck%'",
    )
    .await;
    assert_eq!(
        orch.reap_now().await.expect("reap past the stuck rows"),
        5,
        "the free rows are recovered"
    );
    for id in &free {
        let rec = orch.get(*id).await.expect("get").expect("exists");
        assert_eq!(rec.status, CommandStatus::Pending);
        assert_eq!(rec.errors.len(), 1);
        assert_eq!(rec.errors[0].kind, FailureKind::LeaseExpired);
    }
    for id in &stuck {
        let rec = orch.get(*id).await.expect("get").expect("exists");
        assert_eq!(rec.status, CommandStatus::Running, "left as it is");
    }
    assert_eq!(
        orch.reap_now().await.expect("a later pass"),
        0,
        "the stuck rows are left out"
    );
}

/// A database that takes a long time to record results (a trigger sleeps on every
/// success) stops the engine's claims: commands claimed but not yet recorded never exceed
/// four times the engine's concurrency, instead of the whole queue piling up in memory. Once
/// the database is fast again, everything completes.
pub async fn slow_database_stops_claims(h: &Harness<SeaBackend>) {
    slow_successes(h.backend()).await;
    let ledger = ledger();
    let orch = h
        .builder()
        .state(ledger.clone())
        .handler::<EchoCommand, _>(EchoHandler)
        .concurrency(4)
        .build()
        .await
        .expect("build");
    let ids = orch
        .push_many((0..80).map(|n| EchoCommand { n }))
        .await
        .expect("push");
    let running = h.start(&orch);
    let mut most = 0;
    for _ in 0..30 {
        most = most.max(h.count(CommandStatus::Running).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop_slow_successes(h.backend()).await;
    for id in &ids {
        wait_for_status(h, *id, CommandStatus::Succeeded, SOON).await;
    }
    running.stop().await;
    assert!(most >= 1, "the engine claimed while the database was slow");
    assert!(
        most <= 16,
        "{most} commands claimed and unrecorded at once, above four times the concurrency of 4"
    );
}

/// `push_many` is one transaction at any count: a row the database refuses in the second
/// statement of a large push leaves none of the push behind, and the error says why.
/// Large payloads are split into statements bounded by bytes (20 MB in one push here,
/// above MariaDB's default 16 MiB packet), and all of them are stored.
pub async fn push_many_is_all_or_nothing(h: &Harness<SeaBackend>) {
    refuse_when(h.backend(), "INSERT", "NEW.input LIKE '%poison%'").await;
    let orch = h.client().await;
    let mut says: Vec<Say> = (0..1500)
        .map(|i| Say {
            text: format!("fine {i}"),
            fail: false,
        })
        .collect();
    says.push(Say {
        text: "poison".into(),
        fail: false,
    });
    let error = orch
        .push_many(says)
        .await
        .expect_err("the refused row fails the push");
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(
        h.count(CommandStatus::Pending).await,
        0,
        "nothing of it stored"
    );

    let blob = "b".repeat(200 * 1024);
    let ids = orch
        .push_many((0..100).map(|_| Big { blob: blob.clone() }))
        .await
        .expect("20 MB in one push");
    assert_eq!(ids.len(), 100);
    assert_eq!(h.count(CommandStatus::Pending).await, 100);
    let rec = orch.get(ids[99]).await.expect("get").expect("stored");
    assert_eq!(rec.input.len(), blob.len() + r#"{"blob":""}"#.len());
}

/// Single pushes made at the same time share a statement, yet each keeps its own outcome:
/// a push the database refuses fails alone, with the database's reason, while the pushes
/// written beside it are stored; and pushes of one idempotency key made at once resolve to
/// one command, created by exactly one of them.
pub async fn concurrent_pushes_keep_their_own_outcome(h: &Harness<SeaBackend>) {
    refuse_when(h.backend(), "INSERT", "NEW.input LIKE '%poison%'").await;
    let orch = h.client().await;
    const PUSHES: usize = 48;
    let mut tasks = Vec::new();
    for i in 0..PUSHES {
        let orch = orch.clone();
        let text = if i % 3 == 0 {
            format!("poison {i}")
        } else {
            format!("fine {i}")
        };
        tasks.push(tokio::spawn(async move {
            let pushed = orch
                .push(Say {
                    text: text.clone(),
                    fail: false,
                })
                .await;
            (text, pushed)
        }));
    }
    let mut stored: i64 = 0;
    for task in tasks {
        let (text, pushed) = task.await.expect("push task");
        if text.starts_with("poison") {
            let error = pushed.expect_err("a refused push fails");
            assert!(error.to_string().contains("refused by the test"), "{error}");
        } else {
            let id = pushed.unwrap_or_else(|e| panic!("{text}: {e}"));
            let record = orch.get(id).await.expect("get").expect("stored");
            assert!(record.input.contains(&text), "{text}: {}", record.input);
            stored += 1;
        }
    }
    assert_eq!(stored, i64::try_from(PUSHES - PUSHES / 3).expect("small"));
    assert_eq!(
        h.count(CommandStatus::Pending).await,
        stored,
        "only the pushes that succeeded are stored"
    );

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let orch = orch.clone();
        tasks.push(tokio::spawn(async move {
            orch.submit(
                Notice {
                    what: "once".into(),
                },
                Push::new().idempotency_key("together-once"),
            )
            .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for task in tasks {
        let pushed = task.await.expect("push task").expect("keyed push");
        ids.insert(pushed.id);
        created += usize::from(pushed.created);
    }
    assert_eq!(ids.len(), 1, "one command for one key");
    assert_eq!(created, 1, "created by exactly one push");

    // Callers that stop waiting (a timeout drops the push mid-write) neither wedge the
    // pushes after them nor lose one that reported success.
    for round in 0..5u64 {
        let mut tasks = Vec::new();
        for i in 0..24u64 {
            let orch = orch.clone();
            tasks.push(tokio::spawn(async move {
                let push = orch.push(EchoCommand { n: round * 100 + i });
                tokio::time::timeout(Duration::from_micros(200 * (i % 6)), push).await
            }));
        }
        for task in tasks {
            if let Ok(pushed) = task.await.expect("push task") {
                let id = pushed.expect("a push that finished succeeded");
                assert!(orch.get(id).await.expect("get").is_some(), "stored");
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(10), orch.push(EchoCommand { n: 9_999 }))
        .await
        .expect("pushes still go through after abandoned ones")
        .expect("push");
}
