//! The files `cargo xtask stacks` writes for each stack it measures (a Debian kernel under
//! QEMU, gVisor under `runsc`), in one place: how each is named, and the stack manifest that
//! lists them. The runner (xtask) writes them with these names and this type; the docs
//! generator (docs-gen) reads them back with the same ones, so the two cannot drift apart.
//!
//! A stack's key is `STACK-ARCH` (`linux-6.1-x86_64`, `gvisor-20221219.0-x86_64`):
//!
//! ```text
//! report-KEY.json          the default matrix (backlog-probe run --format json)
//! world-KEY-WORLD.json     a knob world (run --sysctl ...)
//! extras-KEY.json          backlog-probe extras --format json
//! burst-KEY.json           backlog-probe burst
//! retrans-KEY.json         kernels only: when a client's SYN to a full queue is retransmitted
//! repeat-KEY-N.json        gVisor's further runs of the default matrix (N from 2)
//! stack-KEY.json           the manifest: what ran, the files, timings, notes and problems
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One of a stack's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackFile<'a> {
    /// `report-KEY.json`.
    Report,
    /// `world-KEY-WORLD.json`.
    World(&'a str),
    /// `extras-KEY.json`.
    Extras,
    /// `burst-KEY.json`.
    Burst,
    /// `retrans-KEY.json`.
    Retransmissions,
    /// `repeat-KEY-N.json`.
    Repeat(u32),
    /// `stack-KEY.json`.
    Manifest,
}

/// The prefix of every manifest's file name.
pub const MANIFEST_PREFIX: &str = "stack-";
/// The prefix of a knob world's report.
pub const WORLD_PREFIX: &str = "world-";
/// The prefix of a further run of the default matrix.
pub const REPEAT_PREFIX: &str = "repeat-";
/// The prefix of a SYN retransmission timing.
pub const RETRANSMISSIONS_PREFIX: &str = "retrans-";

/// A stack's key: `linux-6.1` on `x86_64` is `linux-6.1-x86_64`.
pub fn key(stack: &str, arch: &str) -> String {
    format!("{stack}-{arch}")
}

impl StackFile<'_> {
    /// The file's name for the stack `key`.
    pub fn name(self, key: &str) -> String {
        match self {
            StackFile::Report => format!("report-{key}.json"),
            StackFile::World(world) => format!("{WORLD_PREFIX}{key}-{world}.json"),
            StackFile::Extras => format!("extras-{key}.json"),
            StackFile::Burst => format!("burst-{key}.json"),
            StackFile::Retransmissions => format!("{RETRANSMISSIONS_PREFIX}{key}.json"),
            StackFile::Repeat(run) => format!("{REPEAT_PREFIX}{key}-{run}.json"),
            StackFile::Manifest => format!("{MANIFEST_PREFIX}{key}.json"),
        }
    }
}

/// The stack key of a manifest's file name (`stack-linux-6.1-x86_64.json` → `linux-6.1-x86_64`).
pub fn manifest_key(file_name: &str) -> Option<&str> {
    file_name
        .strip_prefix(MANIFEST_PREFIX)
        .and_then(|rest| rest.strip_suffix(".json"))
}

/// The world a file of stack `key` is the report of (`world-KEY-syncookies_0.json` →
/// `syncookies_0`), if it is one.
pub fn world_of<'a>(file_name: &'a str, key: &str) -> Option<&'a str> {
    file_name
        .strip_prefix(WORLD_PREFIX)?
        .strip_prefix(key)?
        .strip_prefix('-')?
        .strip_suffix(".json")
}

/// The run a file of stack `key` is (`repeat-KEY-2.json` → 2), if it is one.
pub fn repeat_of(file_name: &str, key: &str) -> Option<u32> {
    file_name
        .strip_prefix(REPEAT_PREFIX)?
        .strip_prefix(key)?
        .strip_prefix('-')?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// What the runner recorded about one stack (`stack-<stack>-<arch>.json`): the fields the pages
/// show. Everything but the name is optional, so an older manifest still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackManifest {
    /// `linux-5.10`, `gvisor-20221219.0`.
    pub stack: String,
    /// `x86_64`.
    #[serde(default)]
    pub arch: String,
    /// `linux-qemu` or `gvisor`.
    #[serde(default)]
    pub kind: String,
    /// The runner (`cargo xtask stacks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// The kernel image package (`linux-image-5.10.0-46-cloud-amd64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Its Debian version (`5.10.262-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_version: Option<String>,
    /// The archives and suites it came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// `uname -r` and `uname -v` in the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uname_r: Option<String>,
    /// `#1 SMP Debian 5.10.262-1 (2026-07-31)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uname_v: Option<String>,
    /// QEMU's accelerator (`tcg`, `kvm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel: Option<String>,
    /// `runsc --version` (`0.0~20221219.0`, `release-20250106.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runsc_version: Option<String>,
    /// runsc's platform (`ptrace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// runsc's network (`none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The files the run wrote.
    #[serde(default)]
    pub files: Vec<String>,
    /// What was seen but is no failure (an unsupported world, disagreeing kernel views).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What failed.
    #[serde(default)]
    pub problems: Vec<String>,
    /// gVisor: cases that differed between the runs of the default matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences_between_runs: Vec<String>,
    /// Each step's wall time, in seconds (`boot`, `report`, ...).
    #[serde(default)]
    pub seconds: BTreeMap<String, f64>,
    /// The whole stack's wall time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_seconds: Option<f64>,
    /// gVisor: how many times the default matrix ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_matrix_runs: Option<u32>,
    /// Fields this version does not know (a newer runner's), kept as they were.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The runner's SYN retransmission timing (`retrans-<stack>-<arch>.json`, kernels only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynRetransmissions {
    /// The client (`busybox nc`).
    pub client: String,
    /// The kernel counter polled (`TcpExt TCPSynRetrans`).
    pub counter: String,
    /// Seconds between polls.
    pub poll_s: f64,
    /// Seconds watched.
    pub window_s: f64,
    /// Each retransmission, in seconds after the connect.
    pub times_s: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_their_parsers_agree() {
        let key = key("linux-6.1", "x86_64");
        assert_eq!(StackFile::Report.name(&key), "report-linux-6.1-x86_64.json");
        assert_eq!(
            StackFile::Manifest.name(&key),
            "stack-linux-6.1-x86_64.json"
        );
        assert_eq!(
            manifest_key(&StackFile::Manifest.name(&key)),
            Some(key.as_str())
        );
        let world = StackFile::World("somaxconn_16").name(&key);
        assert_eq!(world, "world-linux-6.1-x86_64-somaxconn_16.json");
        assert_eq!(world_of(&world, &key), Some("somaxconn_16"));
        assert_eq!(world_of(&world, "linux-6.12-x86_64"), None);
        let repeat = StackFile::Repeat(3).name(&key);
        assert_eq!(repeat, "repeat-linux-6.1-x86_64-3.json");
        assert_eq!(repeat_of(&repeat, &key), Some(3));
        assert_eq!(repeat_of("repeat-linux-6.1-x86_64-x.json", &key), None);
    }

    #[test]
    fn a_manifest_keeps_what_it_does_not_know() {
        let text = r#"{"stack": "linux-6.1", "arch": "x86_64", "archive": "deb", "files": ["a"]}"#;
        let manifest: StackManifest = serde_json::from_str(text).unwrap();
        assert_eq!(manifest.stack, "linux-6.1");
        assert_eq!(manifest.other["archive"], "deb");
        let again = serde_json::to_value(&manifest).unwrap();
        assert_eq!(again["archive"], "deb");
        assert_eq!(again["files"][0], "a");
        // An older manifest, with the name alone, still reads.
        let old: StackManifest = serde_json::from_str(r#"{"stack": "gvisor-1"}"#).unwrap();
        assert!(old.files.is_empty());
    }
}
