//! The naive baseline that `benches/default_run.rs` compares backlog-probe against: the same
//! cases, one at a time, each connection with a fixed deadline, the way a quick hand-written
//! probe does it. It is deliberately simple and slow: a case only ends when one connect times out.
//!
//! `cargo run --release --example naive_probe` prints one line per case.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

/// Long enough for a Windows refusal (about 2 s) and a Linux SYN retransmit (1 s).
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(3);

/// Connections that connected before the first one that timed out or failed.
pub fn probe(address: SocketAddr, backlog: i32, cap: usize) -> std::io::Result<usize> {
    let listener = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    listener.bind(&address.into())?;
    listener.listen(backlog)?;
    let target = listener
        .local_addr()?
        .as_socket()
        .expect("an IP listener has an IP address");
    let mut clients = Vec::new();
    while clients.len() < cap {
        match TcpStream::connect_timeout(&target, CONNECT_DEADLINE) {
            Ok(stream) => clients.push(stream),
            Err(_) => break,
        }
    }
    Ok(clients.len())
}

/// The default matrix, one case after another: (family, backlog, queue, seconds).
pub fn run_all() -> Vec<(&'static str, i32, Option<usize>, f64)> {
    let backlogs = [
        0,
        1,
        5,
        backlog_probe::plan::Backlog::Somaxconn.value(),
        -1,
        i32::MIN,
        i32::MAX,
    ];
    let families = [
        ("ipv4", SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
        ("ipv6", SocketAddr::from((Ipv6Addr::LOCALHOST, 0))),
    ];
    let mut rows = Vec::new();
    for (family, address) in families {
        for backlog in backlogs {
            let started = Instant::now();
            let queue = probe(address, backlog, 70_000).ok();
            rows.push((family, backlog, queue, started.elapsed().as_secs_f64()));
        }
    }
    rows
}

#[allow(dead_code)]
fn main() {
    for (family, backlog, queue, secs) in run_all() {
        println!("{family} backlog {backlog}: queue {queue:?} ({secs:.1} s)");
    }
}
