//! `backlog-probe listeners`: the kernel's own list of listeners, checked against `ss` and
//! against listeners of known backlogs made here.
//!
//! The Linux tests run in private network namespaces with a chosen `net.core.somaxconn`
//! (entered on a thread of their own, so the listeners, the clients, `ss` and the binary all
//! live in it and nothing else does); where namespaces cannot be made they are reported as
//! ignored, with the reason. The listeners are the test's own (socket2), `backlog-probe hold`
//! and a Python one. The expectations cite the kernel: `sk_max_ack_backlog = min(backlog,
//! somaxconn)` (net/socket.c `__sys_listen_socket()`), `idiag_rqueue = sk_ack_backlog` and
//! `idiag_wqueue = sk_max_ack_backlog` (net/ipv4/tcp_diag.c `tcp_diag_get_info()`), and
//! `sk_acceptq_is_full()` = `sk_ack_backlog > sk_max_ack_backlog` (include/net/sock.h), so a
//! listener with backlog B takes B + 1 connections and is then full.
//!
//! The plain tests run on every OS of the CI matrix: a listener this test makes is listed with
//! its limit (Windows: with its owner and no limit), and bad input is exit 2.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use socket2::{Domain, Socket, Type};

const BIN: &str = env!("CARGO_BIN_EXE_backlog-probe");

fn listener(address: &str, backlog: i32) -> (Socket, SocketAddr) {
    let address: SocketAddr = address.parse().unwrap();
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None).unwrap();
    socket.bind(&address.into()).unwrap();
    socket.listen(backlog).unwrap();
    let bound = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, bound)
}

fn listeners_json(args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(["listeners", "--quiet", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "listeners {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON report")
}

fn by_address(listeners: &Value, address: SocketAddr) -> &Value {
    listeners
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["address"] == address.to_string())
        .unwrap_or_else(|| panic!("{address} is listed: {listeners:#}"))
}

/// The lines a child writes on stderr, as they come (read on a thread of their own).
#[cfg(unix)]
fn progress_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The first line a child prints on stdout, read with a deadline.
fn first_line(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the child printed its address in time")
        .trim()
        .to_string()
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use backlog_probe::sys;
    use std::process::Stdio;

    /// `clients` completed connections (a loopback handshake completes inside `connect()`).
    fn fill(address: SocketAddr, clients: usize) -> Vec<Socket> {
        (0..clients)
            .map(|_| {
                let client = Socket::new(Domain::for_address(address), Type::STREAM, None).unwrap();
                client
                    .connect_timeout(&address.into(), Duration::from_secs(10))
                    .expect("a client the queue has room for connects");
                client
            })
            .collect()
    }

    /// A child process killed when the test is done with it (or panics).
    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Run `test` on a thread in a fresh network namespace (loopback up) with
    /// `net.core.somaxconn` set; every process it starts is in that namespace too.
    pub fn in_namespace<T: Send + 'static>(
        somaxconn: Option<i64>,
        test: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        std::thread::spawn(move || {
            sys::enter_network_namespace().expect("a private network namespace");
            if let Some(value) = somaxconn {
                assert_eq!(sys::set_sysctl("net.core.somaxconn", value), Ok(value));
            }
            test()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// One LISTEN row of `ss -lntHep` / `ss -lxHep`: address, Recv-Q, Send-Q, inode, pids.
    #[derive(Debug, PartialEq, Eq)]
    pub struct SsRow {
        pub local: String,
        pub recv_q: u32,
        pub send_q: u32,
        pub inode: u64,
        pub pids: Vec<u32>,
    }

    /// `ss` with the given flags, parsed: `LISTEN recv-q send-q local peer [users:((..,pid=N,..))]
    /// ... ino:N ...` (for Unix sockets, `u_str`/`u_seq` first and the inode after the path).
    pub fn ss(flags: &str) -> Vec<SsRow> {
        let output = Command::new("ss").arg(flags).output().expect("ss runs");
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        text.lines()
            .map(|line| {
                let mut fields: Vec<&str> = line.split_whitespace().collect();
                let unix = fields[0].starts_with("u_");
                if unix {
                    fields.remove(0);
                }
                assert_eq!(fields[0], "LISTEN", "{line}");
                // ss -x prints the socket's inode as the column after the path (its `ino:` is
                // the path's filesystem inode); ss -t prints it as `ino:`.
                let inode = if unix {
                    fields[4].parse().unwrap()
                } else {
                    fields
                        .iter()
                        .find_map(|f| f.strip_prefix("ino:"))
                        .expect("ss -e prints ino:")
                        .parse()
                        .unwrap()
                };
                let mut pids: Vec<u32> = line
                    .split("pid=")
                    .skip(1)
                    .map(|rest| {
                        rest.split(|c: char| !c.is_ascii_digit())
                            .next()
                            .unwrap()
                            .parse()
                            .unwrap()
                    })
                    .collect();
                pids.sort_unstable();
                pids.dedup();
                SsRow {
                    local: fields[3].to_string(),
                    recv_q: fields[1].parse().unwrap(),
                    send_q: fields[2].parse().unwrap(),
                    inode,
                    pids,
                }
            })
            .collect()
    }

    fn pids_of(row: &Value) -> Vec<u32> {
        let mut pids: Vec<u32> = row["owners"]
            .as_array()
            .map(|owners| {
                owners
                    .iter()
                    .map(|o| o["pid"].as_u64().unwrap() as u32)
                    .collect()
            })
            .unwrap_or_default();
        pids.sort_unstable();
        pids
    }

    /// Every field against `ss -lnt` and against what was made, for two somaxconn values: the
    /// test's own listeners (one filled, one full, one clamped, an idle IPv6 one), a `hold`
    /// (full, in another process) and a Python listener; a Unix-domain listener against
    /// `ss -lx`; the --pid and --port filters.
    pub fn every_field_agrees_with_ss_and_with_what_was_made() {
        for somaxconn in [64i64, 512] {
            in_namespace(Some(somaxconn), move || compare_with_ss(somaxconn));
        }
    }

    fn compare_with_ss(somaxconn: i64) {
        let (partly, partly_address) = listener("127.0.0.1:0", 5);
        let _partly_clients = fill(partly_address, 3);
        let (clamped, clamped_address) = listener("127.0.0.1:0", 1000);
        let (idle6, idle6_address) = listener("[::1]:0", 7);
        let (full, full_address) = listener("127.0.0.1:0", 2);
        let _full_clients = fill(full_address, 3);
        let mut hold = Killed(
            Command::new(BIN)
                .args(["hold", "--backlog", "4", "--for", "120"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let hold_address: SocketAddr = first_line(&mut hold.0).parse().unwrap();
        let mut python = Killed(
            Command::new("python3")
                .args([
                    "-c",
                    "import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(9)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(120)",
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let python_port: u16 = first_line(&mut python.0).parse().unwrap();
        let python_address: SocketAddr = ([127, 0, 0, 1], python_port).into();
        let dir = tempfile::tempdir().unwrap();
        let unix_path = dir.path().join("l.sock");
        let unix = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        unix.bind(&socket2::SockAddr::unix(&unix_path).unwrap())
            .unwrap();
        unix.listen(4).unwrap();
        let _unix_clients: Vec<_> = (0..2)
            .map(|_| std::os::unix::net::UnixStream::connect(&unix_path).unwrap())
            .collect();

        let report = listeners_json(&["--unix"]);
        let tcp = ss("-lntHep");
        let listed = report["listeners"].as_array().unwrap();
        assert_eq!(report["somaxconn"]["value"], somaxconn);
        assert_eq!(report["somaxconn"]["scope"], "this network namespace");
        assert_eq!(
            listed.len(),
            tcp.len(),
            "ss and backlog-probe list the same listeners: {tcp:?} {listed:#?}"
        );
        for row in &tcp {
            let ours = listed
                .iter()
                .find(|l| l["address"] == row.local)
                .unwrap_or_else(|| panic!("{} from ss is listed", row.local));
            assert_eq!(ours["queue"], row.recv_q, "{}: queue is Recv-Q", row.local);
            assert_eq!(ours["limit"], row.send_q, "{}: limit is Send-Q", row.local);
            assert_eq!(ours["inode"], row.inode, "{}: inode", row.local);
            assert_eq!(pids_of(ours), row.pids, "{}: owners as ss -p", row.local);
            assert_eq!(ours["syn_queue"], Value::Null, "sock_diag has no SYN queue");
        }

        let me = std::process::id();
        // (address, limit, queue, full, limit_source, owner) as made. min(backlog, somaxconn).
        let expected = [
            (partly_address, 5, 3, false, "below_setting", me),
            (
                clamped_address,
                1000.min(somaxconn),
                0,
                false,
                "clamped",
                me,
            ),
            (idle6_address, 7, 0, false, "below_setting", me),
            (full_address, 2, 3, true, "below_setting", me),
            (hold_address, 4, 5, true, "below_setting", hold.0.id()),
            (python_address, 9, 0, false, "below_setting", python.0.id()),
        ];
        for (address, limit, queue, is_full, source, owner) in expected {
            let row = by_address(&report["listeners"], address);
            assert_eq!(row["limit"], limit, "{address}");
            assert_eq!(row["queue"], queue, "{address}");
            assert_eq!(row["full"], is_full, "{address}");
            assert_eq!(row["limit_source"]["kind"], source, "{address}");
            assert_eq!(pids_of(row), vec![owner], "{address}");
        }
        assert_eq!(
            by_address(&report["listeners"], idle6_address)["family"],
            "ipv6"
        );
        let notes = report["notes"].to_string();
        assert!(
            notes.contains(&format!(
                "clamped by net.core.somaxconn={somaxconn} in this network namespace"
            )),
            "{notes}"
        );
        assert!(notes.contains("cannot tell"), "{notes}");

        // The Unix-domain listener: two queued of four, as ss -lx shows it.
        let path = unix_path.to_str().unwrap();
        let unix_row = report["unix_listeners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["path"] == path)
            .expect("the Unix-domain listener is listed");
        assert_eq!(
            (&unix_row["queue"], &unix_row["limit"]),
            (&2.into(), &4.into())
        );
        let ss_unix = ss("-lxHep");
        let ss_row = ss_unix
            .iter()
            .find(|row| row.local == path)
            .expect("ss -lx lists it");
        assert_eq!(unix_row["queue"], ss_row.recv_q);
        assert_eq!(unix_row["limit"], ss_row.send_q);
        assert_eq!(unix_row["inode"], ss_row.inode);

        // Filters: the Python process's listener alone; one port alone.
        let python_only = listeners_json(&["--pid", &python.0.id().to_string()]);
        let rows = python_only["listeners"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0]["address"], python_address.to_string());
        let one_port = listeners_json(&["--port", &full_address.port().to_string()]);
        assert_eq!(one_port["listeners"].as_array().unwrap().len(), 1);

        // The table says the clamp in words.
        let table = Command::new(BIN).arg("listeners").output().unwrap();
        let table = String::from_utf8(table.stdout).unwrap();
        assert!(
            table.contains(&format!("clamped by net.core.somaxconn={somaxconn}")),
            "{table}"
        );
        drop((partly, clamped, idle6, full, unix));
    }

    /// During a watch, a listener with backlog 1 takes two connections and drops the rest:
    /// the watch sees its queue reach 2 and full, `ListenOverflows` and `ListenDrops` move by
    /// at least the two dropped SYNs (net/ipv4/tcp_input.c `tcp_conn_request()` counts
    /// LINUX_MIB_LISTENOVERFLOWS and drops when `sk_acceptq_is_full()`), and a listener closed
    /// halfway is reported as closed.
    pub fn a_watch_sees_an_overflow_the_counters_and_a_close() {
        in_namespace(None, || {
            let (busy, busy_address) = listener("127.0.0.1:0", 1);
            let (closing, closing_address) = listener("[::1]:0", 3);
            let (idle, idle_address) = listener("127.0.0.1:0", 8);
            let mut watch = Command::new(BIN)
                .args([
                    "listeners",
                    "--format",
                    "json",
                    "--watch",
                    "6",
                    "--interval",
                    "50ms",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // The first progress line comes after a second of samples: every listener has
            // been seen by then, however slowly the child started.
            let progress = progress_lines(&mut watch);
            let first = progress
                .recv_timeout(Duration::from_secs(60))
                .expect("a progress line on stderr");
            assert!(first.contains("watching"), "{first}");
            let clients: Vec<Socket> = (0..4)
                .map(|_| {
                    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                    client.set_nonblocking(true).unwrap();
                    let _ = client.connect(&busy_address.into());
                    client
                })
                .collect();
            std::thread::sleep(Duration::from_millis(500));
            drop(closing);
            let output = watch.wait_with_output().unwrap();
            drop(clients);
            let stderr: Vec<String> = progress.try_iter().collect();
            assert!(output.status.success(), "{stderr:?}");
            let report: Value = serde_json::from_slice(&output.stdout).unwrap();
            let watch = &report["watch"];
            assert_eq!(watch["ended"], "window");
            assert!(watch["samples"].as_u64().unwrap() >= 5, "{watch:#}");
            let seen = &watch["listeners"];
            let busy_row = by_address(seen, busy_address);
            assert_eq!(busy_row["max_queue"], 2, "backlog 1 takes 2: {busy_row:#}");
            assert_eq!(busy_row["reached_full"], true);
            assert_eq!(busy_row["closed_mid_watch"], false);
            let closed = by_address(seen, closing_address);
            assert_eq!(closed["closed_mid_watch"], true, "{closed:#}");
            let idle_row = by_address(seen, idle_address);
            assert_eq!(
                (&idle_row["max_queue"], &idle_row["reached_full"]),
                (&0.into(), &false.into())
            );
            // The final listing no longer has the closed one.
            assert!(
                report["listeners"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|l| l["address"] != closing_address.to_string())
            );
            let counter = |name: &str| {
                watch["counters"]["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
                    .unwrap_or_else(|| panic!("{name} is read: {watch:#}"))["delta"]
                    .as_u64()
                    .unwrap()
            };
            assert!(counter("ListenOverflows") >= 2, "{watch:#}");
            assert!(counter("ListenDrops") >= counter("ListenOverflows"));
            drop((busy, idle));
        });
    }
}

/// A listener this test made is listed with its limit and this process as its owner; on
/// Windows, which exposes neither a queue nor a limit, with its owner and no limit.
fn our_own_listener_is_listed() {
    let (socket, address) = listener("127.0.0.1:0", 5);
    let report = listeners_json(&["--port", &address.port().to_string()]);
    let row = by_address(&report["listeners"], address);
    let owners = row["owners"].as_array();
    if cfg!(windows) {
        assert_eq!(row["limit"], Value::Null, "{row:#}");
        assert_eq!(row["queue"], Value::Null);
        match (owners, backlog_probe::sys::emulator()) {
            (Some(owners), _) => assert_eq!(owners[0]["pid"], std::process::id()),
            // Wine's IP Helper reports pid 0 for every socket (its TCP is the Linux host's,
            // whose sockets it does not map to Windows processes): not visible, not a guess.
            (None, Some(_)) => {}
            (None, None) => panic!("Windows lists the owning pid: {row:#}"),
        }
        assert!(
            report["notes"].to_string().contains("Windows"),
            "{report:#}"
        );
    } else {
        // solisten()/__sys_listen_socket() store 5: it is below every somaxconn in use.
        assert_eq!(row["limit"], 5, "{row:#}");
        assert_eq!(row["queue"], 0);
        assert_eq!(row["full"], false);
        if cfg!(target_os = "linux") {
            assert_eq!(
                owners.expect("our own process is visible")[0]["pid"],
                std::process::id()
            );
        }
    }
    drop(socket);
}

/// `--watch 0`, negative, huge or not a number, and other bad values: exit 2, one line.
fn bad_input_is_exit_2_with_one_line() {
    for args in [
        &["--watch", "0"][..],
        &["--watch=-5"],
        &["--watch", "100000000000"],
        &["--watch", "soon"],
        &["--watch", "1", "--interval", "0"],
        &["--watch", "1", "--interval", "2h"],
        &["--interval", "100"],
        &["--port", "0"],
        &["--port", "65536"],
        &["--pid", "-1"],
        &["--format", "xml"],
    ] {
        let output: Output = Command::new(BIN)
            .arg("listeners")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// `hold --accept-every 100`: a slow server. It fills its queue, then accepts one connection
/// every 100 ms, so within its 2 s every queued connection is accepted and its queue drains
/// (on Linux the listing shows it below the full queue it started with).
fn hold_accept_every_drains_its_queue() {
    use std::io::Read;
    let mut hold = Command::new(BIN)
        .args([
            "hold",
            "--backlog",
            "3",
            "--accept-every",
            "100",
            "--for",
            "3",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut hold);
    let address: SocketAddr = line
        .parse()
        .unwrap_or_else(|_| panic!("an address: {line:?}"));
    if cfg!(target_os = "linux") {
        // The fill left 4 queued (backlog 3 takes 4); 100 ms turns drain it within a second.
        std::thread::sleep(Duration::from_millis(1500));
        let report = listeners_json(&["--port", &address.port().to_string()]);
        let row = by_address(&report["listeners"], address);
        assert_eq!(row["limit"], 3);
        assert!(row["queue"].as_u64().unwrap() < 4, "{row:#}");
    }
    let mut stderr = String::new();
    hold.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(hold.wait().unwrap().success(), "{stderr}");
    assert!(stderr.contains("accepting one every 100 ms"), "{stderr}");
    let accepted: u64 = stderr
        .split("; ")
        .find_map(|part| part.strip_suffix(" connections accepted"))
        .unwrap_or_else(|| panic!("the accepted count: {stderr}"))
        .parse()
        .unwrap();
    assert!(accepted >= 1, "{stderr}");
}

/// Ctrl-C (SIGINT) ends a watch early with the partial result, marked as such.
#[cfg(unix)]
fn an_interrupted_watch_prints_the_partial_result() {
    let mut child = Command::new(BIN)
        .args(["listeners", "--format", "json", "--watch", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A progress line means the Ctrl-C handler is in place (it is installed first).
    let progress = progress_lines(&mut child);
    progress
        .recv_timeout(Duration::from_secs(60))
        .expect("a progress line on stderr");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["watch"]["ended"], "interrupted");
    assert!(report["watch"]["elapsed_ms"].as_u64().unwrap() < 60_000);
}

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    let privileged: &[(&'static str, fn())] = &[
        (
            "every_field_agrees_with_ss_and_with_what_was_made",
            linux::every_field_agrees_with_ss_and_with_what_was_made,
        ),
        (
            "a_watch_sees_an_overflow_the_counters_and_a_close",
            linux::a_watch_sees_an_overflow_the_counters_and_a_close,
        ),
    ];
    #[cfg(not(target_os = "linux"))]
    let privileged: &[(&'static str, fn())] = &[];
    let plain: Vec<(&'static str, fn())> = vec![
        ("our_own_listener_is_listed", our_own_listener_is_listed),
        (
            "bad_input_is_exit_2_with_one_line",
            bad_input_is_exit_2_with_one_line,
        ),
        (
            "hold_accept_every_drains_its_queue",
            hold_accept_every_drains_its_queue,
        ),
        #[cfg(unix)]
        (
            "an_interrupted_watch_prints_the_partial_result",
            an_interrupted_watch_prints_the_partial_result,
        ),
    ];
    common::run_with_namespaces_and_tools(privileged, &["ss", "python3"], &plain)
}
