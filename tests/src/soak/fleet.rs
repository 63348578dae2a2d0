//! The engine processes: started, killed with SIGKILL at random, started again, and
//! stopped at the end.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orch::WorkerId;
use rand::Rng;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio_util::sync::CancellationToken;

use super::config::EngineSpec;

/// How long engines get to stop gracefully at the end before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// One SIGKILL the fleet sent.
#[derive(Debug, Clone)]
pub struct Kill {
    /// The killed engine's label.
    pub engine: String,
    /// Its pid.
    pub pid: u32,
    /// When the signal was sent, in microseconds since the Unix epoch (host clock).
    pub at_us: i64,
    /// Whether it led at the time, if the leader could be read.
    pub was_leader: Option<bool>,
}

/// One engine process.
struct EngineProcess {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    /// Its worker id, once it printed it.
    worker: Arc<Mutex<Option<String>>>,
}

/// The engine processes of one soak, `engines` of them at all times.
pub struct Fleet {
    bin: PathBuf,
    url: String,
    spec: String,
    slots: Vec<EngineProcess>,
    started: u32,
    kills: Vec<Kill>,
    unexpected_exits: Vec<String>,
    start_failures: Vec<String>,
}

/// What the fleet saw during a run.
#[derive(Debug, Default)]
pub struct FleetLog {
    /// The SIGKILLs sent.
    pub kills: Vec<Kill>,
    /// Engines that exited on their own once running, or would not stop at the end.
    pub unexpected_exits: Vec<String>,
    /// Engines that exited before they were running (their start met a cut connection,
    /// as an application's would; they were started again).
    pub start_failures: Vec<String>,
}

impl Fleet {
    /// Starts `engines` processes of `bin`'s `engine` mode on `url`.
    ///
    /// # Errors
    /// A process could not be started.
    pub fn start(
        bin: PathBuf,
        url: &str,
        spec: &EngineSpec,
        engines: usize,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut fleet = Self {
            bin,
            url: url.to_owned(),
            spec: serde_json::to_string(spec)?,
            slots: Vec::with_capacity(engines),
            started: 0,
            kills: Vec::new(),
            unexpected_exits: Vec::new(),
            start_failures: Vec::new(),
        };
        for slot in 0..engines {
            let process = fleet.spawn(slot)?;
            fleet.slots.push(process);
        }
        Ok(fleet)
    }

    fn spawn(&mut self, slot: usize) -> std::io::Result<EngineProcess> {
        self.started += 1;
        let label = format!("{slot}.{}", self.started);
        let mut child = tokio::process::Command::new(&self.bin)
            .args([
                "engine",
                self.url.as_str(),
                label.as_str(),
                self.spec.as_str(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let worker = Arc::new(Mutex::new(None));
        if let Some(stdout) = child.stdout.take() {
            let worker = worker.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(id) = line.strip_prefix("worker ") {
                        *lock(&worker) = Some(id.to_owned());
                    }
                }
            });
        }
        Ok(EngineProcess {
            label,
            stdin: child.stdin.take(),
            pid: child.id().unwrap_or(0),
            child,
            worker,
        })
    }

    /// Kills a random engine every `every` on average (each gap drawn from half to one and
    /// a half times it) and starts another in its place, until `stop`. `leader` reads the
    /// current leader's worker id, to say whether each victim led. Engines that exit on
    /// their own are restarted too, and reported.
    pub async fn run_kills<F, Fut>(&mut self, every: Duration, leader: F, stop: CancellationToken)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Option<WorkerId>>,
    {
        loop {
            let gap = every.mul_f64(rand::rng().random_range(0.5..1.5));
            let next = tokio::time::Instant::now() + gap;
            while tokio::time::Instant::now() < next {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => self.restart_exited(),
                }
            }
            let leading = leader().await.map(|w| w.to_string());
            self.kill_one(leading).await;
        }
    }

    async fn kill_one(&mut self, leading: Option<String>) {
        if self.slots.is_empty() {
            return;
        }
        let slot = rand::rng().random_range(0..self.slots.len());
        let victim = &mut self.slots[slot];
        let was_leader = leading.map(|l| lock(&victim.worker).as_deref() == Some(l.as_str()));
        let at_us = chrono::Utc::now().timestamp_micros();
        if victim.child.start_kill().is_err() {
            return;
        }
        let _ = victim.child.wait().await;
        self.kills.push(Kill {
            engine: victim.label.clone(),
            pid: victim.pid,
            at_us,
            was_leader,
        });
        self.replace(slot);
    }

    /// Restarts every engine that exited without being killed, noting each.
    fn restart_exited(&mut self) {
        for slot in 0..self.slots.len() {
            let process = &mut self.slots[slot];
            if let Ok(Some(status)) = process.child.try_wait() {
                let what = format!("engine {} exited on its own: {status}", process.label);
                if lock(&process.worker).is_some() {
                    self.unexpected_exits.push(what);
                } else {
                    self.start_failures.push(what);
                }
                self.replace(slot);
            }
        }
    }

    fn replace(&mut self, slot: usize) {
        match self.spawn(slot) {
            Ok(process) => self.slots[slot] = process,
            Err(e) => self
                .unexpected_exits
                .push(format!("engine slot {slot} could not be restarted: {e}")),
        }
    }

    /// Stops every engine gracefully (stdin closed), killing any still running after a
    /// grace period; returns what happened to the engines during the run.
    pub async fn stop(mut self) -> FleetLog {
        self.restart_exited();
        for process in &mut self.slots {
            process.stdin.take();
        }
        for process in &mut self.slots {
            match tokio::time::timeout(STOP_GRACE, process.child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => self
                    .unexpected_exits
                    .push(format!("engine {} stopped with {status}", process.label)),
                Ok(Err(e)) => self
                    .unexpected_exits
                    .push(format!("engine {}: {e}", process.label)),
                Err(_) => {
                    let _ = process.child.kill().await;
                    self.unexpected_exits.push(format!(
                        "engine {} did not stop within {STOP_GRACE:?}",
                        process.label
                    ));
                }
            }
        }
        FleetLog {
            kills: self.kills,
            unexpected_exits: self.unexpected_exits,
            start_failures: self.start_failures,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
