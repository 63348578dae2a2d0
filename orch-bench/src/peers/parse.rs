//! Reading the peers' figures from what their scripts print: `key=value` lines from the
//! queue libraries, pgbench's `tps = …`, and the MariaDB limit's `= N jobs/s`.

/// What a figure was read from, or why it could not be.
pub(super) type Read<'a> = Result<(f64, &'a str), &'static str>;

/// `drain_per_s` of the line for `workers` among those whose label (the text before the
/// first `key=value`) contains `label`.
pub(super) fn read_drain<'a>(stdout: &'a str, label: &str, workers: usize) -> Read<'a> {
    stdout
        .lines()
        .find_map(|line| {
            let (name, fields) = split_line(line);
            if !name.contains(label) || field::<usize>(&fields, "workers") != Some(workers) {
                return None;
            }
            field(&fields, "drain_per_s").map(|per_s| (per_s, line))
        })
        .ok_or("no drain_per_s line for these workers")
}

/// pgbench's last `tps = …`. When the last line is a bare count of rows left pending
/// (`sql-drain-limit.sh`) and it is 0, the table ran empty before pgbench's timed run ended
/// and cycles on an empty table were counted too, so there is no figure.
pub(super) fn read_tps(stdout: &str) -> Read<'_> {
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    if last.and_then(|l| l.trim().parse::<u64>().ok()) == Some(0) {
        return Err("the table ran empty before the timed run ended (raise N)");
    }
    stdout
        .lines()
        .rev()
        .find_map(|line| {
            let tps = line.trim().strip_prefix("tps = ")?;
            let tps = tps.split_whitespace().next()?.parse::<f64>().ok()?;
            Some((tps, line))
        })
        .ok_or("no `tps = …` line")
}

/// N of the first line reading `… = N jobs/s …`.
pub(super) fn read_jobs_per_s(stdout: &str) -> Read<'_> {
    stdout
        .lines()
        .find_map(|line| {
            let (before, _) = line.split_once(" jobs/s")?;
            let n = before.rsplit('=').next()?.trim().parse::<f64>().ok()?;
            Some((n, line))
        })
        .ok_or("no `= N jobs/s` line")
}

/// A peer line's label (text before the first `key=value` word) and its `key=value` words.
fn split_line(line: &str) -> (&str, Vec<(&str, &str)>) {
    let start = line
        .split_whitespace()
        .find(|w| w.contains('='))
        .and_then(|w| line.find(w))
        .unwrap_or(line.len());
    let fields = line[start..]
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    (line[..start].trim(), fields)
}

/// The number under `key`.
fn field<T: std::str::FromStr>(fields: &[(&str, &str)], key: &str) -> Option<T> {
    fields
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_river_line() {
        let line = "river-rust 0.5.0 postgres: jobs=2000 workers=100 cooldown_ms=1 pool=20 insert_batched_per_s=9000 drain_per_s=1234";
        let (label, fields) = split_line(line);
        assert_eq!(label, "river-rust 0.5.0 postgres:");
        assert_eq!(field::<usize>(&fields, "workers"), Some(100));
        assert_eq!(field::<f64>(&fields, "drain_per_s"), Some(1234.0));
    }

    #[test]
    fn finds_the_drain_of_the_asked_workers() {
        let out = "apalis 1.0.0: jobs=9 workers=100 drain_per_s=5 transport=tcp\n\
                   apalis 1.0.0: jobs=9 workers=1000 drain_per_s=7 transport=tcp\n";
        assert_eq!(read_drain(out, "apalis", 1000).map(|r| r.0), Ok(7.0));
        assert!(read_drain(out, "apalis", 5000).is_err());
        assert!(read_drain(out, "sqlite:", 100).is_err());
    }

    #[test]
    fn reads_the_last_tps_and_refuses_an_emptied_table() {
        let out = "drain cycles of 100 (claim + delete), 8 clients:\n\
                   tps = 1129.186868 (without initial connection time)\n17\n";
        assert_eq!(read_tps(out).map(|r| r.0), Ok(1129.186868));
        assert!(read_tps("tps = 3325.3 (without initial connection time)\n0\n").is_err());
        assert!(read_tps("single-row insert commits, 8 clients:\n").is_err());
    }

    #[test]
    fn reads_jobs_per_s() {
        let out =
            "mariadb sql drain limit: 50000 jobs in 8.1 s = 6211 jobs/s (claims of 100, 8 clients)";
        assert_eq!(read_jobs_per_s(out).map(|r| r.0), Ok(6211.0));
    }

    #[test]
    fn a_line_without_fields_is_all_label() {
        let (label, fields) = split_line("drain cycles of 100");
        assert_eq!(label, "drain cycles of 100");
        assert!(fields.is_empty());
    }
}
