//! `backlog-probe hold`: a full listener on demand, stopped by its deadline or by Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use backlog_probe::sys;
use socket2::{Domain, Socket, Type};

/// Generous: the fill itself waits out the OS's pending deadline (up to 5 s on Windows).
const START_DEADLINE: Duration = Duration::from_secs(60);
const EXIT_DEADLINE: Duration = Duration::from_secs(30);

fn spawn_hold(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_backlog-probe"))
        .arg("hold")
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hold")
}

/// The address line, read on a thread so a silent child cannot hang the test. The thread keeps
/// reading until the child exits: hold ends early when its reader goes away.
fn address_of(child: &mut Child) -> SocketAddr {
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = sender.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = receiver.recv_timeout(START_DEADLINE).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("hold printed no address in time")
    });
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {line:?}"))
}

/// Wait for exit with a deadline; returns the exit code and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let started = Instant::now();
    while started.elapsed() < EXIT_DEADLINE {
        if let Ok(Some(_)) = child.try_wait() {
            let output = child.wait_with_output().expect("output");
            return (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("hold did not exit within {EXIT_DEADLINE:?}");
}

#[test]
fn a_held_listener_does_not_complete_a_connect_and_stops_on_time() {
    let mut child = spawn_hold(&["--backlog", "1", "--for", "2"]);
    let address = address_of(&mut child);
    assert!(address.ip().is_loopback(), "{address}");
    // A non-blocking connect that is neither writable nor failed after 500 ms is pending; one
    // that became writable must carry an error (a refusal). Either way it did not complete.
    let client = Socket::new(Domain::for_address(address), Type::STREAM, None).expect("socket");
    client.set_nonblocking(true).expect("non-blocking");
    let _ = client.connect(&address.into());
    let signalled = sys::wait_writable(&client, Duration::from_millis(500)).expect("poll");
    if signalled {
        let error = client.take_error().expect("SO_ERROR");
        assert!(
            error.is_some(),
            "the queue is full, yet the connect completed"
        );
    }
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("time is up"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_closes_everything_and_exits_0() {
    let mut child = spawn_hold(&["--backlog", "2", "--for", "600"]);
    let address = address_of(&mut child);
    assert!(address.ip().is_loopback(), "{address}");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: plain syscall on the child we spawned and still own.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The listener is gone: a connect now is refused rather than left pending.
    let after = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2));
    assert!(after.is_err(), "{after:?}");
}

#[test]
fn bad_hold_input_exits_2_with_one_line() {
    for args in [
        &["hold"][..],
        &["hold", "--backlog", "many"],
        &["hold", "--backlog", "1", "--for", "-3"],
        &["hold", "--backlog", "1", "--family", "both"],
    ] {
        let output = common::backlog_probe(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

/// `hold | head -c 1`: once the reader of its address goes away, hold notices (within its
/// 50 ms poll), closes everything and exits 0, instead of holding until `--for` ends.
#[test]
#[cfg_attr(
    not(unix),
    ignore = "a widowed pipe is detected through poll(2) and EPIPE"
)]
fn hold_ends_when_its_reader_goes_away() {
    use std::io::Read;
    let mut child = spawn_hold(&["--backlog", "1", "--for", "600"]);
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout
        .read_exact(&mut first)
        .expect("the first byte of the address");
    drop(stdout);
    let (code, stderr) = finish(child);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("stdout was closed"), "{stderr}");
}
