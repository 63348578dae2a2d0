//! A child `orch-bench` process driven through its pipes: the parent writes lines to its
//! stdin and reads the words it answers with on stdout (the scale-out's drain engines, the
//! wake-up probes' engine).

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

type BoxError = Box<dyn std::error::Error>;

/// A child `orch-bench` and its pipes; killed if dropped before [`Self::finish`].
pub(crate) struct ChildBench {
    child: Child,
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl ChildBench {
    /// Starts this program again with `args`.
    pub(crate) fn spawn<I, S>(args: I) -> Result<Self, BoxError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        Ok(Self {
            child,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// The next line the child says, which must start with `word`; returns the rest.
    pub(crate) async fn expect(&mut self, word: &str) -> Result<String, BoxError> {
        let line = self
            .lines
            .next_line()
            .await?
            .ok_or_else(|| format!("a child orch-bench exited before saying {word:?}"))?;
        line.strip_prefix(word)
            .map(|rest| rest.trim().to_owned())
            .ok_or_else(|| format!("a child orch-bench said {line:?}, not {word:?}").into())
    }

    /// Writes `line` to the child's stdin.
    pub(crate) async fn send(&mut self, line: &str) -> Result<(), BoxError> {
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Closes the child's stdin (its signal to stop), reads its last answer, which must
    /// start with `word`, and waits for it to exit; returns the rest of that answer.
    pub(crate) async fn finish(mut self, word: &str) -> Result<String, BoxError> {
        drop(self.child.stdin.take());
        let rest = self.expect(word).await?;
        self.child.wait().await?;
        Ok(rest)
    }
}
