//! Cron jobs declared on `OrchBuilder`, reconciled at build.

use orch::cron::Job;

use super::SeaBackend;
use crate::Harness;
use crate::commands::Tick;

fn tick(label: &str) -> Tick {
    Tick {
        label: label.into(),
    }
}

/// Declared jobs are created at build, changed ones updated, undeclared ones left alone,
/// or deleted with `prune_cron_jobs`.
pub async fn declared_cron_jobs_are_reconciled(h: &Harness<SeaBackend>) {
    let first = h
        .backend()
        .orch_builder()
        .cron_job(Job::new("a", "@hourly", tick("a")))
        .cron_job(Job::new("b", "@daily", tick("b")))
        .build()
        .await
        .expect("build");
    let names = |jobs: Vec<orch::cron::JobInfo>| {
        jobs.iter()
            .map(|j| (j.name().to_owned(), j.definition.schedule.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(first.cron().list().await.expect("list")),
        [
            ("a".into(), "@hourly".into()),
            ("b".into(), "@daily".into())
        ]
    );
    let second = h
        .backend()
        .orch_builder()
        .cron_job(Job::new("a", "*/5 * * * *", tick("a")))
        .build()
        .await
        .expect("rebuild");
    assert_eq!(
        names(second.cron().list().await.expect("list")),
        [
            ("a".into(), "*/5 * * * *".into()),
            ("b".into(), "@daily".into())
        ],
        "changed one updated, undeclared one left alone"
    );
    let third = h
        .backend()
        .orch_builder()
        .cron_job(Job::new("a", "*/5 * * * *", tick("a")))
        .prune_cron_jobs()
        .build()
        .await
        .expect("rebuild with pruning");
    assert_eq!(
        names(third.cron().list().await.expect("list")),
        [("a".into(), "*/5 * * * *".into())]
    );
    let bad = h
        .backend()
        .orch_builder()
        .cron_job(Job::new("c", "not cron", tick("c")))
        .build()
        .await
        .expect_err("a bad declared job fails the build");
    assert!(bad.to_string().contains("schedule"), "{bad}");
}
