//! A Linux kernel under QEMU: the initramfs (busybox, the binary and its shared libraries, an
//! `/init` script that runs the experiments), the boot, and the serial console protocol.
//!
//! The guest never gets a network device (`-nic none`): every experiment stays on its own
//! loopback.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::experiments::Experiment;
use crate::proc;

/// How long one experiment may run inside the guest before the guest's `timeout` kills it (so
/// one hung experiment costs its own output, not the others').
const GUEST_STEP_SECS: u32 = 150;

/// How long QEMU may take to exit after the guest said it is done.
const POWEROFF_DEADLINE: Duration = Duration::from_secs(15);

/// How long the KVM probe may take: a KVM guest boots in a second or two.
const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// Console lines kept (outside every section) to explain a failed boot.
const STRAY_LINES: usize = 20;

/// QEMU's accelerator.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Accel {
    /// KVM if a probe guest boots with it, else TCG.
    Auto,
    /// Hardware virtualisation (/dev/kvm).
    Kvm,
    /// QEMU's own emulation: slower, works everywhere.
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Auto => "auto",
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The initramfs every kernel boots, and the marker its `/init` frames output with.
pub struct Initramfs {
    pub path: PathBuf,
    marker: String,
}

/// Build the initramfs in `work`: busybox, `binary` with the libraries `ldd` lists (and the
/// dynamic loader), and `/init`.
pub fn build_initramfs(
    work: &Path,
    binary: &Path,
    busybox: &Path,
    experiments: &[Experiment],
) -> Result<Initramfs, String> {
    let root = work.join("root");
    let _ = fs::remove_dir_all(&root);
    for dir in ["bin", "dev", "proc", "sys", "tmp"] {
        mkdir(&root.join(dir))?;
    }
    copy(busybox, &root.join("bin/busybox"))?;
    copy(binary, &root.join("bin/backlog-probe"))?;
    fs::write(
        root.join("bin/syn-retransmissions"),
        crate::experiments::SYN_RETRANSMISSIONS,
    )
    .map_err(|e| format!("cannot write /bin/syn-retransmissions: {e}"))?;
    for library in shared_libraries(binary)? {
        let inside = root.join(library.strip_prefix("/").unwrap_or(&library));
        mkdir(inside.parent().unwrap_or(&root))?;
        copy(&library, &inside)?;
    }
    let marker = format!("@@bp-{:x}", nonce());
    let init = root.join("init");
    fs::write(&init, init_script(&marker, experiments))
        .map_err(|e| format!("cannot write /init: {e}"))?;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    // The kernel unpacks an uncompressed newc archive as well as a compressed one, and the
    // guest then has nothing to decompress.
    let archive = proc::run(
        Command::new("sh")
            .args([
                "-c",
                "find . -print | LC_ALL=C sort | cpio -o -H newc --quiet",
            ])
            .current_dir(&root),
        Duration::from_secs(60),
    )?
    .ok("cpio")?;
    let path = work.join("initramfs.cpio");
    fs::write(&path, archive).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Initramfs { path, marker })
}

/// The `/init` script: mount, bring `lo` up, run each experiment with its output framed by
/// markers, power off. A kernel command line with `bp.probe` only answers the KVM probe.
fn init_script(marker: &str, experiments: &[Experiment]) -> String {
    let mut script = format!(
        r#"#!/bin/busybox sh
# Written by `cargo xtask stacks`: measure, print each output between markers, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# Kernel messages would land in the middle of the outputs: only emergencies from here on.
echo 1 > /proc/sys/kernel/printk
M='{marker}'
if grep -q bp.probe /proc/cmdline; then echo "$M PROBE ok@@"; poweroff -f; fi
ip link set lo up
# PID 1 starts with 4096 descriptors, soft and hard, and backlog-probe raises only its soft limit
# (never the hard one): the 4097-connection cases need more. fs.nr_open's default allows this.
ulimit -n 1048576
step() {{
  name=$1; shift
  echo "$M START $name@@"
  timeout -s KILL {GUEST_STEP_SECS} "$@" >/tmp/out 2>/tmp/err
  rc=$?
  echo "$M BEGIN $name@@"; cat /tmp/out; echo "$M END $name rc=$rc@@"
  echo "$M BEGIN $name.stderr@@"; cat /tmp/err; echo "$M END $name.stderr rc=0@@"
}}
step uname sh -c 'uname -r; uname -v'
"#
    );
    for experiment in experiments {
        script.push_str(&format!(
            "step {} {}\n",
            experiment.step,
            experiment.guest_command()
        ));
    }
    script.push_str("echo \"$M DONE all@@\"\npoweroff -f\n");
    script
}

/// The libraries `ldd` lists for `binary`, the dynamic loader included (not the vDSO).
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = proc::run(Command::new("ldd").arg(binary), Duration::from_secs(10))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    out.ok("ldd")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)".
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

fn mkdir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {}: {e}", from.display()))
}

/// A marker no output contains by chance.
fn nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// What the guest printed.
#[derive(Default)]
pub struct Console {
    /// Each framed section by name (`report`, `report.stderr`, ...): its lines and the exit
    /// code the guest gave it.
    pub sections: HashMap<String, Section>,
    /// Whether the guest reached its last line.
    pub done: bool,
    /// Whether the guest answered the KVM probe.
    pub probed: bool,
    /// The last console lines outside every section (a panic, a missing library ...).
    pub stray: Vec<String>,
    /// The step that had started but not finished when the console ended.
    pub running: Option<String>,
    /// The first line that reports a kernel oops or panic, wherever it appeared.
    alarm: Option<String>,
    current: Option<(String, Vec<String>)>,
}

pub struct Section {
    pub lines: Vec<String>,
    pub rc: i32,
}

/// A marker event, as the console parser reports it to its caller.
pub enum Event<'a> {
    Start(&'a str),
    End(&'a str),
}

impl Console {
    /// Take one console line (`\r` already stripped).
    fn feed(&mut self, marker: &str, line: &str) {
        let Some(at) = line.find(marker) else {
            self.content(line);
            return;
        };
        if at > 0 {
            // Output without a final newline runs into the marker; before the first marker,
            // the firmware's terminal escapes do.
            self.content(&line[..at]);
        }
        let body = line[at + marker.len()..].trim().trim_end_matches("@@");
        let mut words = body.split_whitespace();
        let (verb, name) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        match verb {
            "START" => self.running = Some(name.to_string()),
            "BEGIN" => self.current = Some((name.to_string(), Vec::new())),
            "END" => {
                let rc = words
                    .next()
                    .and_then(|w| w.strip_prefix("rc="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(-1);
                if let Some((open, lines)) = self.current.take() {
                    if open == name {
                        self.sections.insert(open, Section { lines, rc });
                    }
                }
                if !name.ends_with(".stderr") && self.running.as_deref() == Some(name) {
                    self.running = None;
                }
            }
            "DONE" => self.done = true,
            "PROBE" => self.probed = true,
            _ => self.content(line),
        }
    }

    fn content(&mut self, line: &str) {
        const ALARMS: [&str; 4] = ["Kernel panic", "Oops", "BUG:", "double fault"];
        if self.alarm.is_none() && ALARMS.iter().any(|word| line.contains(word)) {
            self.alarm = Some(line.trim().to_string());
        }
        match &mut self.current {
            Some((_, lines)) => lines.push(line.to_string()),
            None if !line.trim().is_empty() => {
                self.stray.push(line.to_string());
                if self.stray.len() > STRAY_LINES {
                    self.stray.remove(0);
                }
            }
            None => {}
        }
    }

    /// What explains a guest that stopped early: the first oops or panic line, if any, and
    /// the last console lines.
    pub fn last_words(&self) -> String {
        let last = &self.stray[self.stray.len().saturating_sub(2)..];
        let lines: Vec<&str> = self
            .alarm
            .iter()
            .map(String::as_str)
            .chain(
                last.iter()
                    .map(|line| line.trim())
                    .filter(|line| Some(*line) != self.alarm.as_deref()),
            )
            .collect();
        if lines.is_empty() {
            "(nothing)".to_string()
        } else {
            lines.join(" | ")
        }
    }

    /// A section's text, if the guest printed it whole.
    pub fn text(&self, name: &str) -> Option<(String, i32)> {
        self.sections.get(name).map(|s| (s.lines.join("\n"), s.rc))
    }
}

/// How a boot ended.
pub struct Boot {
    pub console: Console,
    /// QEMU's exit status, `None` if it was killed at the deadline.
    pub exited: Option<std::process::ExitStatus>,
    /// The deadline passed.
    pub timed_out: bool,
    /// QEMU's own stderr (accelerator errors and the like).
    pub qemu_stderr: String,
    /// From QEMU's start to the guest's first marker.
    pub boot_time: Option<Duration>,
}

impl Boot {
    /// Why the guest did not finish: the deadline, or QEMU's exit and its stderr; the step it
    /// was in; and what the console said last.
    pub fn failure(&self, deadline: Duration) -> String {
        let why = if self.timed_out {
            format!("timed out after {} s", deadline.as_secs())
        } else {
            format!(
                "QEMU exited ({}): {}",
                self.exited.map_or("killed".to_string(), |s| s.to_string()),
                proc::tail(self.qemu_stderr.as_bytes(), 2)
            )
        };
        let during = self
            .console
            .running
            .as_deref()
            .map_or(String::new(), |step| format!(" while running {step}"));
        format!("{why}{during}; console: {}", self.console.last_words())
    }

    /// The guest stopped (not timed out) before any experiment began: nothing was measured.
    pub fn died_before_experiments(&self) -> bool {
        !self.console.done
            && !self.timed_out
            && self.console.running.as_deref().is_none_or(|s| s == "uname")
            && self.console.sections.keys().all(|k| k.starts_with("uname"))
    }
}

/// QEMU's command line for one kernel.
fn qemu(qemu: &Path, accel: Accel, vmlinuz: &Path, initrd: &Path, append: &str) -> Command {
    let mut command = Command::new(qemu);
    command
        .args([
            "-accel",
            accel.name(),
            "-cpu",
            "max",
            "-m",
            "1024",
            "-smp",
            "2",
        ])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append]);
    command
}

/// Boot `vmlinuz` with the initramfs and follow its console until the guest is done, QEMU
/// exits, or `deadline` passes (then QEMU is killed). `on_step` hears each step start and end.
pub fn boot(
    qemu_binary: &Path,
    accel: Accel,
    vmlinuz: &Path,
    initramfs: &Initramfs,
    deadline: Duration,
    on_step: &mut dyn FnMut(Event<'_>),
) -> Result<Boot, String> {
    boot_with(
        qemu_binary,
        accel,
        vmlinuz,
        initramfs,
        "console=ttyS0 quiet panic=-1",
        deadline,
        on_step,
    )
}

/// Whether KVM really works here: nested KVM can exist as /dev/kvm and still fail at the first
/// instruction it must emulate (or abort on an MSR), so a probe guest must boot with it.
pub fn kvm_works(qemu_binary: &Path, vmlinuz: &Path, initramfs: &Initramfs) -> Result<(), String> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("/dev/kvm: {e}"))?;
    let boot = boot_with(
        qemu_binary,
        Accel::Kvm,
        vmlinuz,
        initramfs,
        "console=ttyS0 quiet panic=-1 bp.probe",
        PROBE_DEADLINE,
        &mut |_| {},
    )?;
    if boot.console.probed {
        Ok(())
    } else if boot.timed_out {
        Err(format!(
            "a KVM guest did not boot in {} s",
            PROBE_DEADLINE.as_secs()
        ))
    } else {
        Err(format!(
            "a KVM guest failed: {}",
            proc::tail(boot.qemu_stderr.as_bytes(), 2)
        ))
    }
}

fn boot_with(
    qemu_binary: &Path,
    accel: Accel,
    vmlinuz: &Path,
    initramfs: &Initramfs,
    append: &str,
    deadline: Duration,
    on_step: &mut dyn FnMut(Event<'_>),
) -> Result<Boot, String> {
    let start = Instant::now();
    let until = start + deadline;
    let mut child = qemu(qemu_binary, accel, vmlinuz, &initramfs.path, append)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", qemu_binary.display()))?;
    let stderr = proc::read_in_background(child.stderr.take());
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take();
    thread::spawn(move || {
        if let Some(stdout) = stdout {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let text = console_text(&String::from_utf8_lossy(&line));
                if tx.send(text).is_err() {
                    break;
                }
            }
        }
    });
    let mut console = Console::default();
    let mut boot_time = None;
    let mut timed_out = false;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let before = console.running.clone();
                console.feed(&initramfs.marker, &line);
                if line.contains(&initramfs.marker) && boot_time.is_none() {
                    boot_time = Some(start.elapsed());
                }
                if console.running != before {
                    match (&before, &console.running) {
                        (_, Some(now)) => on_step(Event::Start(now)),
                        (Some(was), None) => on_step(Event::End(was)),
                        (None, None) => {}
                    }
                }
                if console.done || console.probed {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let exit_deadline = if timed_out {
        Instant::now()
    } else {
        (Instant::now() + POWEROFF_DEADLINE).min(until)
    };
    let exited = proc::wait_until(&mut child, exit_deadline);
    let qemu_stderr = String::from_utf8_lossy(
        &stderr
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default(),
    )
    .into_owned();
    Ok(Boot {
        console,
        exited,
        timed_out: timed_out || exited.is_none(),
        qemu_stderr,
        boot_time,
    })
}

/// A console line without carriage returns and terminal escapes (the firmware clears the
/// screen; JSON never carries a raw escape).
fn console_text(line: &str) -> String {
    let mut text = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            '\u{1b}' => {
                // CSI: ESC [ parameters final-byte; anything else: ESC and one character.
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c => text.push(c),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_lose_escapes_and_carriage_returns() {
        assert_eq!(
            console_text("\u{1b}c\u{1b}[?7l\u{1b}[2J\u{1b}[0mSeaBIOS\r"),
            "SeaBIOS"
        );
        assert_eq!(
            console_text("  \"a\": \"\\u001b\",\r"),
            "  \"a\": \"\\u001b\","
        );
    }

    const M: &str = "@@bp-1f";

    fn feed_all(lines: &[&str]) -> Console {
        let mut console = Console::default();
        for line in lines {
            console.feed(M, line);
        }
        console
    }

    #[test]
    fn sections_between_markers() {
        let console = feed_all(&[
            "\u{1b}c\u{1b}[?7lSeaBIOS junk",
            "\u{1b}[2J@@bp-1f START uname@@",
            "@@bp-1f BEGIN uname@@",
            "6.1.0-57-cloud-amd64",
            "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3",
            "@@bp-1f END uname rc=0@@",
            "@@bp-1f START report@@",
            "@@bp-1f BEGIN report@@",
            "{",
            "}@@bp-1f END report rc=0@@",
            "@@bp-1f DONE all@@",
        ]);
        assert!(console.done);
        assert_eq!(console.running, None);
        let (uname, rc) = console.text("uname").expect("uname");
        assert_eq!(rc, 0);
        assert_eq!(uname.lines().count(), 2);
        assert_eq!(console.text("report").expect("report").0, "{\n}");
        assert_eq!(
            console.stray,
            ["\u{1b}c\u{1b}[?7lSeaBIOS junk", "\u{1b}[2J"]
        );
    }

    #[test]
    fn an_unfinished_step_is_named() {
        let console = feed_all(&[
            "@@bp-1f START burst@@",
            "[   12.0] Kernel panic - not syncing",
        ]);
        assert!(!console.done);
        assert_eq!(console.running.as_deref(), Some("burst"));
        assert!(console.text("burst").is_none());
        assert_eq!(console.last_words(), "[   12.0] Kernel panic - not syncing");
    }

    #[test]
    fn the_init_script_runs_every_experiment() {
        let script = init_script(M, crate::experiments::ALL);
        for experiment in crate::experiments::ALL {
            let line = format!("step {} {}\n", experiment.step, experiment.guest_command());
            assert!(script.contains(&line), "{line}");
        }
        assert!(script.contains("step report /bin/backlog-probe run"));
        assert!(script.ends_with("poweroff -f\n"));
        // Before the first experiment: the default matrix needs more than PID 1's 4096.
        let raise = script
            .find("ulimit -n 1048576")
            .expect("the descriptor limit is raised");
        assert!(raise < script.find("step uname").unwrap());
    }
}
