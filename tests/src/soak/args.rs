//! The `orch-soak` command line.

use std::path::PathBuf;
use std::time::Duration;

use super::config::{EngineSpec, SoakConfig};
use crate::backends::{BackendKind, server_url};

/// The usage text.
pub const USAGE: &str = "\
usage: orch-soak [--backend postgres|mysql | --url SERVER_URL] [--commands N] [--engines N]
                 [--kill-every-ms MS] [--cut-every-ms MS (0: no cuts)] [--work-ms MS]
                 [--pushers N] [--push-rate PER_SECOND] [--concurrency N] [--max-claim N]
                 [--lease-ttl-ms MS] [--lease-buffer-ms MS] [--heartbeat-ms MS]
                 [--reaper-ms MS] [--leader-ttl-ms MS] [--poll-ms MS] [--deadline-s S]
                 [--serialize-claims] [--keep-database] [--json]
       orch-soak engine DATABASE_URL LABEL SPEC_JSON   (started by the driver)";

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run a soak and print its report (as JSON with `--json`).
    Drive {
        /// The soak.
        config: Box<SoakConfig>,
        /// Print JSON rather than plain text.
        json: bool,
    },
    /// Be one engine process of a soak.
    Engine {
        /// The soak's database.
        url: String,
        /// This engine's label.
        label: String,
        /// What it runs with.
        spec: EngineSpec,
    },
}

impl Invocation {
    /// Reads `args` (without the program name); `this_bin` is the executable engines are
    /// started from.
    ///
    /// # Errors
    /// An unknown flag, a missing or malformed value.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        this_bin: PathBuf,
    ) -> Result<Self, String> {
        let mut args = args.into_iter().peekable();
        if args.peek().map(String::as_str) == Some("engine") {
            args.next();
            let mut next = |what: &str| args.next().ok_or(format!("engine needs {what}"));
            let url = next("DATABASE_URL")?;
            let label = next("LABEL")?;
            let spec = serde_json::from_str(&next("SPEC_JSON")?).map_err(|e| e.to_string())?;
            return Ok(Self::Engine { url, label, spec });
        }
        let mut config = SoakConfig::new(server_url(BackendKind::Postgres), this_bin);
        let mut json = false;
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            let timings = &mut config.engine.timings;
            match flag.as_str() {
                "--backend" => {
                    config.server_url = match value()?.as_str() {
                        "postgres" => server_url(BackendKind::Postgres),
                        "mysql" | "mariadb" => server_url(BackendKind::MySql),
                        other => return Err(format!("unknown backend {other:?}")),
                    }
                }
                "--url" => config.server_url = value()?,
                "--commands" => config.commands = number(&flag, &value()?)?,
                "--engines" => config.engines = number(&flag, &value()?)?,
                "--kill-every-ms" => config.kill_every = ms(&flag, &value()?)?,
                "--cut-every-ms" => {
                    config.cut_every = Some(ms(&flag, &value()?)?).filter(|d| !d.is_zero());
                }
                "--work-ms" => config.work = ms(&flag, &value()?)?,
                "--pushers" => config.pushers = number(&flag, &value()?)?,
                "--push-rate" => {
                    config.push_rate = Some(number(&flag, &value()?)?).filter(|r| *r > 0);
                }
                "--concurrency" => config.engine.concurrency = number(&flag, &value()?)?,
                "--max-claim" => config.engine.max_claim = number(&flag, &value()?)?,
                "--lease-ttl-ms" => timings.lease_ttl = ms(&flag, &value()?)?,
                "--lease-buffer-ms" => timings.lease_buffer = ms(&flag, &value()?)?,
                "--heartbeat-ms" => timings.heartbeat_interval = ms(&flag, &value()?)?,
                "--reaper-ms" => timings.reaper_interval = ms(&flag, &value()?)?,
                "--leader-ttl-ms" => timings.leader_ttl = ms(&flag, &value()?)?,
                "--poll-ms" => timings.poll_interval = ms(&flag, &value()?)?,
                "--deadline-s" => {
                    config.deadline = Duration::from_secs(number(&flag, &value()?)?);
                }
                "--serialize-claims" => config.engine.serialize_claims = true,
                "--keep-database" => config.keep_database = true,
                "--json" => json = true,
                other => return Err(format!("unknown flag {other:?}")),
            }
        }
        Ok(Self::Drive {
            config: Box::new(config),
            json,
        })
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: {value:?} is not a number"))
}

fn ms(flag: &str, value: &str) -> Result<Duration, String> {
    number(flag, value).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::Invocation;

    fn parse(args: &[&str]) -> Result<Invocation, String> {
        Invocation::parse(args.iter().map(|a| (*a).to_owned()), "orch-soak".into())
    }

    #[test]
    fn reads_flags_and_modes() {
        let Ok(Invocation::Drive { config, json }) = parse(&[
            "--url",
            "mysql://root@h/test",
            "--commands",
            "2500",
            "--cut-every-ms",
            "0",
            "--json",
        ]) else {
            panic!("a drive invocation")
        };
        assert!(json);
        assert_eq!(config.commands, 2500);
        assert_eq!(config.cut_every, None);
        assert_eq!(config.server_url, "mysql://root@h/test");
        assert!(parse(&["--engines"]).is_err());
        assert!(parse(&["--what"]).is_err());
        let spec = serde_json::to_string(&config.engine).expect("spec");
        assert!(matches!(
            parse(&["engine", "postgres://x/y", "0.1", &spec]),
            Ok(Invocation::Engine { label, .. }) if label == "0.1"
        ));
    }
}
