//! Records what `backlog-probe extras` reports as the version of its in-process runtimes: the
//! compiler that built Rust std (`rustc --version`), and the tokio and mio that Cargo.lock locks.

use std::process::Command;

/// The version Cargo.lock locks for `name`, if it lists the package once.
fn locked(lock: &str, name: &str) -> Option<String> {
    let mut versions = lock.split("[[package]]").filter_map(|entry| {
        let mut lines = entry.lines().map(str::trim);
        let named = lines.clone().any(|l| l == format!("name = \"{name}\""));
        named.then(|| {
            lines
                .find_map(|l| l.strip_prefix("version = \""))
                .map(|v| v.trim_end_matches('"').to_string())
        })?
    });
    let first = versions.next()?;
    versions.next().is_none().then_some(first)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "rustc (version unknown)".to_string());
    println!("cargo:rustc-env=BACKLOG_PROBE_RUSTC_VERSION={version}");
    let lock = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("Cargo.lock");
    let lock = std::fs::read_to_string(lock).unwrap_or_default();
    let crate_version = |name: &str| locked(&lock, name).unwrap_or_else(|| "unknown".to_string());
    println!(
        "cargo:rustc-env=BACKLOG_PROBE_TOKIO_VERSION=tokio {}, mio {}",
        crate_version("tokio"),
        crate_version("mio")
    );
}
