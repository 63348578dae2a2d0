//! Printing the figures and writing them as JSON.

use crate::args::Args;
use crate::measure::BackendResult;
use crate::peers::PeersReport;
use crate::peers::targets::PER_SECOND;

pub(crate) fn print_one(r: &BackendResult) {
    eprintln!("[{}] done: drain {:.0}/s", r.backend, r.drain_per_s);
}

#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_table(results: &[BackendResult]) {
    println!();
    println!(
        "{:<9} {:>11} {:>11} {:>11} {:>11} {:>22} {:>22}",
        "backend",
        "push 1x1/s",
        "push 8x/s",
        "push batch/s",
        "drain/s",
        "latency in-proc p50/p99",
        "latency other p50/p99"
    );
    for r in results {
        println!(
            "{:<9} {:>11.0} {:>11.0} {:>11.0} {:>11.0} {:>13.2}/{:<8.2} {:>13.2}/{:<8.2}",
            r.backend,
            r.push_one_by_one_per_s,
            r.push_concurrent_per_s,
            r.push_batched_per_s,
            r.drain_per_s,
            r.latency_in_process_ms.p50,
            r.latency_in_process_ms.p99,
            r.latency_other_client_ms.p50,
            r.latency_other_client_ms.p99,
        );
        println!(
            "          {} KiB push: p50 {:.2} ms, p99 {:.2} ms",
            r.blob_kib, r.push_blob_ms.p50, r.push_blob_ms.p99
        );
        if let Some(m) = &r.million {
            println!(
                "          1,000,000 drained at {:.0}/s; RSS before {:.1} MiB, peak {:.1} MiB, after {:.1} MiB",
                m.drain_per_s, m.rss_before_mib, m.rss_peak_mib, m.rss_after_mib
            );
        }
    }
}

/// The outbox table: one row per backend and publisher.
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_outbox(results: &[crate::outbox::OutboxResult]) {
    if results.is_empty() {
        return;
    }
    println!();
    println!("| backend | publisher | relay msgs/s | commit→ack p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in results {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.backend,
            r.publisher,
            r.relay_per_s,
            r.commit_to_ack_ms.p50,
            r.commit_to_ack_ms.p99,
            r.commit_to_ack_ms.max
        );
    }
}

/// The claim-cost table: per backend and case, the drain and the median claim, each with
/// its ratio to the case "alone".
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_unserved(results: &[crate::unserved::BackendCases]) {
    println!();
    println!("| backend | case | drain of served | × alone | claim p50 | × alone |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in results {
        let Some(alone) = r.cases.first() else {
            continue;
        };
        for c in &r.cases {
            println!(
                "| {} | {} ({} served, {} unserved) | {:.3} s | {:.2} | {:.2} ms | {:.2} |",
                r.backend,
                c.label,
                r.served,
                r.unserved,
                c.drain_s,
                c.drain_s / alone.drain_s,
                c.claim_ms,
                c.claim_ms / alone.claim_ms
            );
        }
    }
}

/// The `--idle` figures.
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_idle(results: &[crate::idle::Idle]) {
    println!();
    println!("| backend | idle for | process CPU | server sees |");
    println!("| --- | --- | --- | --- |");
    for r in results {
        let server = r.server_per_s.map_or_else(
            || r.counted.to_owned(),
            |v| format!("{v:.1}/s {}", r.counted),
        );
        println!(
            "| {} | {:.1} s | {:.2} % of a core | {} |",
            r.backend, r.seconds, r.cpu_percent, server
        );
    }
}

/// The `--processes` figures: one process alone, N together (each the mean of two drains,
/// both shown), and each process's share per drain.
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_fleets(fleets: &[crate::fleet::Fleet]) {
    println!();
    println!(
        "| backend | commands | workers × claim per process | 1 process | processes | together | × one | commands per process |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for f in fleets {
        println!(
            "| {} | {} | {} × {} | {:.0}/s ({}) | {} | {:.0}/s ({}) | {:.2} | {} |",
            f.backend,
            f.commands,
            f.workers,
            f.claim,
            f.one_per_s,
            runs(&f.one_runs),
            f.processes,
            f.all_per_s,
            runs(&f.all_runs),
            f.ratio(),
            f.split_text()
        );
    }
}

fn runs(per_s: &[f64]) -> String {
    let each: Vec<String> = per_s.iter().map(|v| format!("{v:.0}")).collect();
    each.join(" · ")
}

/// Writes the settings and every figure to `path`; `peers` (from `--peers`) and `fleets`
/// (from `--processes`) under keys of their own.
pub(crate) fn write_json(
    path: &str,
    args: &Args,
    results: &[BackendResult],
    outbox: &[crate::outbox::OutboxResult],
    peers: Option<&PeersReport>,
    fleets: &[crate::fleet::Fleet],
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut doc = serde_json::json!({
        "settings": {
            "drain_commands": args.drain,
            "workers": args.workers,
            "max_claim": args.claim,
            "pushes": args.push,
            "producers": args.producers,
            "latency_probes": args.latency,
            "postgres_url": std::env::var("ORCH_TEST_POSTGRES_URL").ok().map(|u| orch_sea_redact(&u)),
            "mysql_url": std::env::var("ORCH_TEST_MYSQL_URL").ok().map(|u| orch_sea_redact(&u)),
        },
        "results": results,
        "outbox": outbox,
    });
    if let Some(peers) = peers {
        doc["peers"] = serde_json::to_value(peers)?;
    }
    if !fleets.is_empty() {
        doc["scale_out"] = serde_json::to_value(fleets)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("wrote {path}");
    Ok(())
}

/// The `--peers` figures: the machine, orch's drains, the peers' figures (missing ones
/// with their reason), and one row per target with its ratio and result.
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_peers(r: &PeersReport) {
    println!();
    println!("machine: {}", r.machine);
    println!();
    println!("| orch | workers | claim | drained/s |");
    println!("| --- | --- | --- | --- |");
    for d in &r.orch.drains {
        println!(
            "| {} drain of {}{} | {} | {} | {} |",
            d.backend,
            r.drain_commands,
            if d.delete_succeeded {
                ", deleting what succeeds"
            } else {
                ""
            },
            d.workers,
            d.claim,
            per_s(d.per_s, d.error.as_deref())
        );
    }
    println!(
        "| postgres single pushes, {} producers | | | {} |",
        r.orch.producers,
        per_s(r.orch.push_concurrent_per_s, r.orch.push_error.as_deref())
    );
    println!();
    println!("| peer (JOBS={}) | workers | per s |", r.peer_jobs);
    println!("| --- | --- | --- |");
    for p in &r.peers {
        let workers = p.workers.map_or_else(String::new, |w| w.to_string());
        let figure = per_s(p.per_s, p.error.as_deref());
        println!("| {} | {workers} | {figure} |", p.peer.label());
    }
    println!();
    println!("| item | orch | reference | ratio | bar | result | why missed |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for t in &r.targets {
        let side = |label: &str, v: Option<f64>| match v {
            Some(v) if t.unit == PER_SECOND => format!("{label}: {v:.0}{}", t.unit),
            Some(v) => format!("{label}: {v:.1}{}", t.unit),
            None => label.to_owned(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            t.item,
            side(&t.orch_label, t.orch),
            side(&t.reference_label, t.reference),
            t.ratio
                .map_or_else(String::new, |x| ratio(x, t.bar, t.at_most)),
            t.bar.map_or_else(String::new, |b| bar(b, t.at_most)),
            cell(&t.result),
            t.why.as_deref().map_or_else(String::new, cell)
        );
    }
}

/// A figure per second, or "missing" with the reason.
fn per_s(v: Option<f64>, error: Option<&str>) -> String {
    match v {
        Some(v) => format!("{v:.0}"),
        None => cell(&format!("missing: {}", error.unwrap_or("not run"))),
    }
}

/// `text` made safe for one Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "/").replace('\n', " ")
}

/// A ratio as the issue writes its bar: a percentage below 1× or against a bound (to a
/// tenth, so a figure just short of its bar does not print as the bar), a multiple from 1×.
fn ratio(x: f64, bar: Option<f64>, at_most: bool) -> String {
    if at_most || bar.is_some_and(|b| b < 1.0) {
        format!("{:.1} %", x * 100.0)
    } else {
        format!("{x:.2}×")
    }
}

/// A bar as the issue writes it: a whole percentage below 1×, a multiple from 1×; a bound
/// (`at_most`) as the share of it a figure may reach.
fn bar(b: f64, at_most: bool) -> String {
    if at_most {
        format!("≤ {:.0} %", b * 100.0)
    } else if b < 1.0 {
        format!("≥ {:.0} %", b * 100.0)
    } else {
        format!("≥ {b:.2}×")
    }
}

fn orch_sea_redact(url: &str) -> String {
    orch::internal::redact(url)
}

/// Prints `--pushes-only`'s runs of one backend.
#[allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) fn print_pushes_only(backend: &str, producers: usize, runs: &[f64]) {
    for (run, per_s) in runs.iter().enumerate() {
        println!(
            "{backend} run {}: {per_s:.0} single pushes/s from {producers} producers",
            run + 1
        );
    }
}
