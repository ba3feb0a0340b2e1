//! Child processes with a deadline: every wait in the stack runner ends, and a child that
//! outlives its deadline is killed (by its own pid, never by name).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How often a running child is polled.
const POLL: Duration = Duration::from_millis(20);

/// How long the output readers may take once the child is gone (a grandchild can hold a pipe
/// open; its output is then cut, not waited for).
const DRAIN: Duration = Duration::from_secs(2);

/// What a child did.
pub struct Finished {
    /// Its exit status, or `None` when the deadline passed and it was killed.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    /// stdout if the child exited with 0, else an error naming `what` with the status and the
    /// end of stderr.
    pub fn ok(self, what: &str) -> Result<Vec<u8>, String> {
        match self.status {
            Some(status) if status.success() => Ok(self.stdout),
            Some(status) => Err(format!(
                "{what} failed ({status}): {}",
                tail(&self.stderr, 6)
            )),
            None => Err(format!("{what} did not finish in time and was killed")),
        }
    }
}

/// Run `command` (stdin closed, output captured) and wait at most `deadline`.
pub fn run(command: &mut Command, deadline: Duration) -> Result<Finished, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let status = wait_until(&mut child, Instant::now() + deadline);
    Ok(Finished {
        status,
        stdout: stdout.recv_timeout(DRAIN).unwrap_or_default(),
        stderr: stderr.recv_timeout(DRAIN).unwrap_or_default(),
    })
}

/// Wait for `child` until `deadline`; past it, kill the child and return `None`.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Everything a pipe yields, read on a thread of its own.
pub fn read_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// The last `lines` non-empty lines of some output, joined with " | ".
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = kept.len().saturating_sub(lines);
    if kept.is_empty() {
        "(no output)".to_string()
    } else {
        kept[start..].join(" | ")
    }
}

/// `name` on `PATH`, as `command -v` would find it.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
