//! gVisor: a second TCP implementation (netstack) behind the same Linux system calls.
//!
//! `runsc --network=none --platform=ptrace do BINARY ARGS` runs the host's binary in a sandbox
//! whose network is netstack's own loopback and nothing else. `--network=sandbox` would set up
//! NAT towards a private address range with iptables: never used here.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::proc;

/// `runsc --version`'s first line without its prefix: `0.0~20221219.0` (Debian's package),
/// `release-20250106.0` (gVisor's release channel).
pub fn version(runsc: &Path) -> Result<String, String> {
    let out = proc::run(
        Command::new(runsc).arg("--version"),
        Duration::from_secs(20),
    )?
    .ok("runsc --version")?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let first = text.lines().next().unwrap_or("").trim();
    let version = first.strip_prefix("runsc version ").unwrap_or(first).trim();
    if version.is_empty() {
        return Err("runsc --version printed no version".to_string());
    }
    Ok(version.to_string())
}

/// The stack's name from runsc's version: the release date part, which both the Debian
/// package (`0.0~20221219.0`) and gVisor's releases (`release-20221219.0`) carry.
pub fn stack_name(version: &str) -> String {
    let release = version.rsplit('~').next().unwrap_or(version);
    let release = release.strip_prefix("release-").unwrap_or(release);
    let safe: String = release
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("gvisor-{safe}")
}

/// Run the binary with `args` in a fresh sandbox whose state lives under `state` (not the
/// system's /var/run/runsc). runsc's sandbox and gofer die with it (parent-death signal), so
/// killing runsc at the deadline ends the whole sandbox.
pub fn run(
    runsc: &Path,
    state: &Path,
    binary: &Path,
    args: &[&str],
    deadline: Duration,
) -> Result<proc::Finished, String> {
    proc::run(
        Command::new(runsc)
            .arg("--root")
            .arg(state)
            .args(["--network=none", "--platform=ptrace", "do"])
            .arg(binary)
            .args(args),
        deadline,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names() {
        assert_eq!(stack_name("0.0~20221219.0"), "gvisor-20221219.0");
        assert_eq!(stack_name("release-20250106.0"), "gvisor-20250106.0");
        assert_eq!(stack_name("20250106.0-rc1"), "gvisor-20250106.0-rc1");
    }
}
