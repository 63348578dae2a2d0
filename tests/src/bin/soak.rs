//! `orch-soak`: the chaos soak. Pushes commands to engine processes on a fresh PostgreSQL
//! or MariaDB database while SIGKILLing a random engine every few seconds and cutting the
//! database's connections on the server, then audits what the database recorded and prints
//! the figures (plain text, or JSON with `--json`); exits 1 when the audit found a problem.
//! Run with `--help` for the flags. `orch-soak engine …` is one engine process, started by
//! the driver.

use std::io::Write;
use std::process::ExitCode;

use orch_tests::soak::{self, Invocation, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(std::io::stdout(), "{USAGE}");
        return ExitCode::SUCCESS;
    }
    let this_bin = match std::env::current_exe() {
        Ok(path) => path,
        Err(e) => return fail(&format!("cannot find this executable: {e}")),
    };
    match Invocation::parse(std::env::args().skip(1), this_bin) {
        Err(e) => fail(&format!("{e}\n{USAGE}")),
        Ok(Invocation::Engine { url, label, spec }) => {
            let code = match soak::serve_engine(&url, &label, spec).await {
                Ok(()) => 0,
                Err(e) => {
                    fail(&format!("engine {label}: {e}"));
                    1
                }
            };
            // Without waiting for the thread that watches stdin.
            std::process::exit(code)
        }
        Ok(Invocation::Drive { config, json }) => match soak::run(&config).await {
            Err(e) => fail(&format!("soak: {e}")),
            Ok(report) => {
                let text = if json {
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                } else {
                    report.plain()
                };
                let _ = writeln!(std::io::stdout(), "{text}");
                if report.problems().is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
        },
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "{message}");
    ExitCode::FAILURE
}
