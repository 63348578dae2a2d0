//! orch-bench: throughput and latency figures per backend (`--help` lists the flags). A
//! program that prints numbers, never a test.
//!
//! ```text
//! cargo run --release -p orch-bench -- [--backends sqlite,postgres,mysql] [--drain 50000]
//!     [--workers 1000] [--claim 500] [--push 5000] [--latency 200] [--million]
//!     [--json bench-results/orch-bench.json]
//!     [--outbox memory,nats,rabbitmq] [--outbox-messages 20000] [--outbox-probes 200]
//!     [--outbox-only] [--unserved 200000 [--served 2000]] [--processes 4] [--idle 10]
//!     [--pushes-only 3]
//!     [--peers [--peer-bench ../shared/peer-bench] [--peer-jobs N] [--peer-workers 100,1000,5000]]
//! ```
//! `--peers` measures only orch beside its peers (River, apalis) and the bare-SQL limits in
//! one run, and prints each of the performance targets as a ratio against its bar (see
//! `peers.rs`).
//! `--pushes-only RUNS` measures only the single pushes of `--producers` tasks, `RUNS`
//! times per backend, on one fresh database each.
//! `--idle SECONDS` measures only what an idle engine costs: its CPU and the statements
//! the server sees (see `idle.rs`).
//! `--processes N` measures only scale-out: one engine process and N at once, draining
//! the same backlog on each server backend, twice each on fresh databases (see `fleet.rs`).
//! `--unserved N` measures only claims beside rows no engine serves: the drain of
//! `--served` commands and one claim of up to `--claim`, alone, beside `N` pending rows of
//! an unserved name, beside `N` of an unserved target, and beside an idle engine of
//! another target polling every 50 ms, each with its ratio to "alone".
//! `--outbox` adds the outbox relay's throughput and commit → broker-ack latency per
//! backend and publisher (NATS at `ORCH_TEST_NATS_URL`, RabbitMQ at `ORCH_TEST_AMQP_URL`).
//! Server URLs: `ORCH_TEST_POSTGRES_URL`, `ORCH_TEST_MYSQL_URL` (a fresh database is created
//! and dropped on each server). The transport is whatever those URLs say (TCP by default;
//! `?host=/var/run/postgresql` style URLs use the Unix socket).

mod args;
mod child;
mod fleet;
mod idle;
mod measure;
mod outbox;
mod peers;
mod ready;
mod report;
mod unserved;
mod workload;

use orch_tests::BackendKind;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = <args::Args as clap::Parser>::parse();
    if let Some(url) = &args.drain_worker {
        return fleet::worker(url, &args).await;
    }
    if let Some(url) = &args.wake_worker {
        return peers::wakeups::worker(url).await;
    }
    if args.pushes_only > 0 {
        for kind in &args.backends {
            let runs = measure::pushes_only(*kind, &args).await?;
            report::print_pushes_only(name(*kind), args.producers, &runs);
        }
        return Ok(());
    }
    if args.idle > 0 {
        report::print_idle(&idle::run(&args.backends, args.idle).await?);
        return Ok(());
    }
    if args.processes > 0 {
        let fleets = fleet::run(&args.backends, fleet::Plan::of(&args)).await?;
        report::print_fleets(&fleets);
        report::write_json(&args.json, &args, &[], &[], None, &fleets)?;
        return Ok(());
    }
    if args.peers {
        let peers = peers::run(&args).await?;
        report::print_peers(&peers);
        report::write_json(&args.json, &args, &[], &[], Some(&peers), &[])?;
        return Ok(());
    }
    if args.unserved > 0 {
        report::print_unserved(&unserved::run(&args).await?);
        return Ok(());
    }
    let mut results = Vec::new();
    if !args.outbox_only {
        for kind in &args.backends {
            let result = measure::backend(*kind, &args).await?;
            report::print_one(&result);
            results.push(result);
        }
        report::print_table(&results);
    }
    let outbox = outbox::run(
        &args.backends,
        &args.outbox,
        args.outbox_messages,
        args.outbox_probes,
    )
    .await?;
    report::print_outbox(&outbox);
    report::write_json(&args.json, &args, &results, &outbox, None, &[])?;
    Ok(())
}

/// The display name of a backend.
fn name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
        BackendKind::MySql => "mysql",
    }
}
