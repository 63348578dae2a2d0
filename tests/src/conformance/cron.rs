//! Cron jobs: idempotent definitions, exactly one run per fire time, misfire and overlap
//! policies, manual runs, history, and a leader killed mid-schedule.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use orch::cron::{Job, Misfire, Overlap, Upserted};
use orch::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{SOON, ledger};
use crate::commands::{Blocker, BlockerHandler, Tick, TickHandler};
use crate::node::Node;
use crate::wait::wait_until;
use crate::{Harness, SuiteBackend};

fn tick(label: &str) -> Tick {
    Tick {
        label: label.into(),
    }
}

async fn cron_engine<B: SuiteBackend>(
    h: &Harness<B>,
    ledger: &std::sync::Arc<crate::commands::Ledger>,
) -> Node<B::Tx> {
    h.builder()
        .state(ledger.clone())
        .handler::<Tick, _>(TickHandler)
        .handler::<Blocker, _>(BlockerHandler)
        .configure(|c| c.cron_interval = Duration::from_millis(200))
        .build()
        .await
        .expect("build")
}

/// Upserting is idempotent: the same definition changes nothing, a new one updates the
/// job and recomputes its next fire time; bad names, expressions and zones are refused
/// with errors that name them; pause, resume and delete say whether the job exists.
pub async fn cron_upsert_is_idempotent_and_validates<B: SuiteBackend>(h: &Harness<B>) {
    let orch = h.client().await;
    let cron = orch.cron();
    let job = Job::new("report", "0 0 2 * * *", tick("a")).time_zone("Europe/Paris");
    assert_eq!(
        cron.upsert(job.clone()).await.expect("create"),
        Upserted::Created
    );
    assert_eq!(cron.upsert(job).await.expect("again"), Upserted::Unchanged);
    let before = cron.get("report").await.expect("get").expect("stored");
    assert_eq!(before.definition.time_zone, "Europe/Paris");
    assert_eq!(before.definition.command, "tick");
    let next = before.next_fire_at.expect("a next fire time");
    let local = next.with_timezone(&chrono_tz::Europe::Paris);
    assert_eq!(
        (
            chrono::Timelike::hour(&local),
            chrono::Timelike::minute(&local)
        ),
        (2, 0)
    );
    let changed = Job::new("report", "30 * * * *", tick("a"));
    assert_eq!(
        cron.upsert(changed).await.expect("update"),
        Upserted::Updated
    );
    let after = cron.get("report").await.expect("get").expect("stored");
    assert_eq!(after.definition.schedule, "30 * * * *");
    assert_ne!(after.next_fire_at, before.next_fire_at, "recomputed");
    for (job, field) in [
        (Job::new("bad", "61 * * * * *", tick("x")), "schedule"),
        (Job::new("bad", "* * *", tick("x")), "schedule"),
        (Job::new("bad", "@fortnightly", tick("x")), "schedule"),
        (
            Job::new("bad", "@daily", tick("x")).time_zone("Mars/Olympus"),
            "time_zone",
        ),
        (Job::new("", "@daily", tick("x")), "job name"),
    ] {
        let error = cron.upsert(job).await.expect_err(field).to_string();
        assert!(error.contains(field), "{field}: {error}");
    }
    assert!(
        cron.get("bad").await.expect("get").is_none(),
        "nothing stored"
    );
    assert!(cron.pause("report").await.expect("pause"));
    assert!(cron.pause("report").await.expect("pause twice"));
    assert!(
        cron.get("report")
            .await
            .expect("get")
            .expect("stored")
            .paused
    );
    let paused_again = Job::new("report", "30 * * * *", tick("a"));
    cron.upsert(paused_again).await.expect("upsert");
    assert!(
        cron.get("report")
            .await
            .expect("get")
            .expect("stored")
            .paused,
        "an upsert keeps a paused job paused"
    );
    assert!(cron.resume("report").await.expect("resume"));
    assert!(!cron.pause("missing").await.expect("pause missing"));
    assert!(!cron.resume("missing").await.expect("resume missing"));
    assert_eq!(cron.list().await.expect("list").len(), 1);
    assert!(cron.delete("report").await.expect("delete"));
    assert!(!cron.delete("report").await.expect("delete twice"));
    assert!(cron.list().await.expect("list").is_empty());
}

/// A per-second job runs once for every fire time, each run due at its fire time, and
/// its history lists them newest first; a paused job makes no runs.
pub async fn cron_job_runs_every_fire_time_once<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = cron_engine(h, &ledger).await;
    orch.cron()
        .upsert(Job::new("every-second", "* * * * * *", tick("s")))
        .await
        .expect("upsert");
    let running = h.start(&orch);
    let runs = wait_until(SOON, "three finished runs", || async {
        let runs = orch.cron().runs("every-second", 100).await.expect("runs");
        (runs
            .iter()
            .filter(|r| r.status == CommandStatus::Succeeded)
            .count()
            >= 3)
            .then_some(runs)
    })
    .await;
    assert!(orch.cron().pause("every-second").await.expect("pause"));
    running.stop().await;
    let fires: Vec<_> = runs.iter().map(|r| r.run_at).collect();
    let distinct: BTreeSet<_> = fires.iter().copied().collect();
    assert_eq!(distinct.len(), fires.len(), "no fire time twice: {fires:?}");
    assert!(fires.windows(2).all(|w| w[0] > w[1]), "newest first");
    for r in &runs {
        assert_eq!(r.run_at.timestamp_subsec_micros(), 0, "on whole seconds");
        assert!(
            r.idempotency_key
                .as_deref()
                .is_some_and(|k| k.starts_with("cron:every-second:"))
        );
    }
    let info = orch
        .cron()
        .get("every-second")
        .await
        .expect("get")
        .expect("job");
    assert!(info.last_fire_at.is_some());
    // Paused: no more runs however long it waits.
    let count = orch
        .cron()
        .runs("every-second", 1000)
        .await
        .expect("runs")
        .len();
    let running = h.start(&orch);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.stop().await;
    let later = orch
        .cron()
        .runs("every-second", 1000)
        .await
        .expect("runs")
        .len();
    assert_eq!(count, later, "a paused job makes no runs");
}

/// Fire times missed while no scheduler ran follow the job's policy: run once, run all,
/// or skip; the next fire time is in the future afterwards.
pub async fn cron_misfire_policies<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = cron_engine(h, &ledger).await;
    let cron = orch.cron();
    for (name, policy) in [
        ("once", Misfire::RunOnce),
        ("all", Misfire::RunAll),
        ("skip", Misfire::Skip),
    ] {
        cron.upsert(Job::new(name, "0 0 * * * *", tick(name)).misfire(policy))
            .await
            .expect("upsert");
        // Five hours and a bit late: five or six hourly fire times were missed.
        h.backend()
            .shift_cron_job(name, Duration::from_secs(5 * 3600 + 60))
            .await;
    }
    let running = h.start(&orch);
    wait_until(SOON, "every job to move on", || async {
        let now = orch.database_now().await.expect("now");
        let mut all = true;
        for name in ["once", "all", "skip"] {
            let info = cron.get(name).await.expect("get").expect("job");
            all &= info.next_fire_at.is_some_and(|n| n > now);
        }
        all.then_some(())
    })
    .await;
    running.stop().await;
    let now = orch.database_now().await.expect("now");
    // A fire time within `cron_misfire_after` (a minute) of the pass was not missed: it
    // runs on time whatever the policy. The test may start just after the hour, so the
    // policies are told apart by the runs due more than a few minutes ago.
    let late = |name: &'static str| {
        let cron = cron.clone();
        async move {
            cron.runs(name, 100)
                .await
                .expect("runs")
                .iter()
                .filter(|run| now - run.run_at > chrono::Duration::minutes(3))
                .count()
        }
    };
    assert_eq!(late("once").await, 1, "run once for all the missed ones");
    let all = cron.runs("all", 100).await.expect("runs").len();
    assert!((5..=6).contains(&all), "every missed fire time: {all}");
    assert_eq!(late("skip").await, 0, "none");
}

/// Overlap: `skip` makes no run while one is unfinished; `queue` runs the waiting fire
/// time once the earlier run ends; a manual run leaves the schedule alone.
pub async fn cron_overlap_and_manual_runs<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = cron_engine(h, &ledger).await;
    let cron = orch.cron();
    let blocker = |label: &str| Blocker {
        label: label.into(),
    };
    cron.upsert(Job::new("skipper", "* * * * * *", blocker("skipper")).overlap(Overlap::Skip))
        .await
        .expect("upsert");
    cron.upsert(Job::new("queuer", "* * * * * *", blocker("queuer")).overlap(Overlap::Queue))
        .await
        .expect("upsert");
    let running = h.start(&orch);
    wait_until(SOON, "both first runs to start", || async {
        (ledger.saw("skipper:start") && ledger.saw("queuer:start")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for job in ["skipper", "queuer"] {
        let runs = cron.runs(job, 100).await.expect("runs");
        assert_eq!(runs.len(), 1, "{job}: no second run beside a running one");
    }
    // End the queuer's run: its waiting fire time runs next.
    let first = cron.runs("queuer", 1).await.expect("runs")[0].id;
    orch.cancel(first).await.expect("cancel");
    wait_until(SOON, "the queued run", || async {
        (cron.runs("queuer", 100).await.expect("runs").len() >= 2).then_some(())
    })
    .await;
    assert!(cron.pause("skipper").await.expect("pause"));
    assert!(cron.pause("queuer").await.expect("pause"));
    for job in ["skipper", "queuer"] {
        for run in cron.runs(job, 100).await.expect("runs") {
            orch.cancel(run.id).await.expect("cancel");
        }
    }
    running.stop().await;

    cron.upsert(Job::new("yearly", "@yearly", tick("manual")))
        .await
        .expect("upsert");
    let before = cron.get("yearly").await.expect("get").expect("job");
    let id = cron
        .trigger_now("yearly")
        .await
        .expect("trigger")
        .expect("job exists");
    assert!(
        cron.trigger_now("missing")
            .await
            .expect("trigger")
            .is_none()
    );
    let after = cron.get("yearly").await.expect("get").expect("job");
    assert_eq!(
        before.next_fire_at, after.next_fire_at,
        "schedule unchanged"
    );
    let runs = cron.runs("yearly", 10).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
}

/// Two engine processes run a per-second job for a minute while the leader is killed
/// with SIGKILL half-way: every fire time from the first run to the last has exactly one run.
pub async fn cron_survives_a_killed_leader<B: SuiteBackend>(h: &Harness<B>) {
    let observer = h.client().await;
    observer
        .cron()
        .upsert(Job::new("heartbeat-job", "* * * * * *", tick("hb")))
        .await
        .expect("upsert");
    let mut children = Vec::new();
    for _ in 0..2 {
        let mut child = h
            .worker(&["cron"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start an engine process");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the engine reports in time")
            .expect("read")
            .expect("a line");
        let worker = line
            .strip_prefix("worker ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_owned();
        children.push((worker, child));
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    let leader = observer
        .leader()
        .await
        .expect("leader")
        .expect("a leader")
        .worker
        .to_string();
    let at = children
        .iter()
        .position(|(w, _)| *w == leader)
        .expect("the leader is one of the engines");
    let (_, mut killed) = children.remove(at);
    killed.start_kill().expect("SIGKILL the leader");
    killed.wait().await.expect("reap the leader");
    tokio::time::sleep(Duration::from_secs(30)).await;
    for (_, mut child) in children {
        child.start_kill().expect("stop the survivor");
        child.wait().await.expect("reap");
    }
    let runs = observer
        .cron()
        .runs("heartbeat-job", 10_000)
        .await
        .expect("runs");
    let fires: BTreeSet<i64> = runs.iter().map(|r| r.run_at.timestamp()).collect();
    assert_eq!(fires.len(), runs.len(), "no fire time doubled");
    let (first, last) = (*fires.first().expect("runs"), *fires.last().expect("runs"));
    let missing: Vec<i64> = (first..=last).filter(|s| !fires.contains(s)).collect();
    assert!(missing.is_empty(), "fire times without a run: {missing:?}");
    assert!(runs.len() >= 50, "about a minute of runs: {}", runs.len());
}

/// Finished runs older than `cron_history` are deleted, with their errors; the job stays.
pub async fn cron_history_is_pruned<B: SuiteBackend>(h: &Harness<B>) {
    let ledger = ledger();
    let orch = cron_engine(h, &ledger).await;
    orch.cron()
        .upsert(Job::new("short-lived", "* * * * * *", tick("p")))
        .await
        .expect("upsert");
    let running = h.start(&orch);
    wait_until(SOON, "two finished runs", || async {
        let runs = orch.cron().runs("short-lived", 100).await.expect("runs");
        (runs.iter().filter(|r| r.status.is_terminal()).count() >= 2).then_some(())
    })
    .await;
    assert!(orch.cron().pause("short-lived").await.expect("pause"));
    running.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A new leader with a one-second history prunes at its first pass.
    let pruner = h
        .builder()
        .handler::<Tick, _>(TickHandler)
        .configure(|c| {
            c.cron_interval = Duration::from_millis(200);
            c.cron_history = Duration::from_secs(1);
        })
        .build()
        .await
        .expect("build");
    let running = h.start(&pruner);
    wait_until(SOON, "the finished runs to be pruned", || async {
        let runs = orch.cron().runs("short-lived", 100).await.expect("runs");
        runs.iter().all(|r| !r.status.is_terminal()).then_some(())
    })
    .await;
    running.stop().await;
    assert!(orch.cron().get("short-lived").await.expect("get").is_some());
}
