//! A child process of the benchmark (this binary re-run with an environment variable
//! saying what to be) that talks in lines: commands on its stdin, answers on its stdout. It
//! exits when its stdin closes; dropping a [`Process`] closes it, waits two seconds and
//! then kills the child (by its own handle).

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A child process we started.
pub struct Process {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Process {
    /// Starts this binary again with `env` set; `name` is for error messages.
    pub fn spawn(name: &str, env: &[(&str, String)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut command = Command::new(exe);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(|e| format!("start {name}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Process {
            name: name.to_string(),
            child,
            stdin,
            lines,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one command line.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("{}: {e}", self.name))
    }

    /// The next line starting with `prefix` (the rest of it), within `timeout`. A line
    /// starting with `error:` is returned as the error; other lines are skipped.
    pub fn expect(&self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_string());
                    }
                    if line.starts_with("error:") {
                        return Err(format!("{}: {line}", self.name));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: no {prefix:?} within {timeout:?}", self.name))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: exited before {prefix:?}", self.name))
                }
            }
        }
    }

    /// Sends `command` and returns the rest of the answer line starting with `prefix`.
    pub fn ask(
        &mut self,
        command: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        self.send(command)?;
        self.expect(prefix, timeout)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The commands a child process reads from its stdin, one per line, on a thread of their
/// own; the process exits when its stdin closes (the parent went or dropped its [`Process`]).
pub fn stdin_commands() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (commands, receiver) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if commands.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    receiver
}
