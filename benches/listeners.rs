//! How long `backlog-probe listeners` takes with 10 000 listeners: the release binary, as a
//! user runs it, against listeners this benchmark opens on loopback (half IPv4, half IPv6
//! where available), and the sock_diag dump alone, in-process.
//!
//! ```text
//! cargo bench --bench listeners -- 10000 5     # 10 000 listeners, 5 runs of each
//! ```
//!
//! Prints the median and the slowest of each. Needs a descriptor limit above the listener
//! count (`ulimit -n`); the benchmark raises the soft limit toward the hard one and says so
//! when that is not enough.

// The shared module also holds the default run, which this benchmark does not time.
#[allow(dead_code)]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

fn median_and_max(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (
        times[times.len() / 2],
        *times.last().expect("at least one run"),
    )
}

fn main() {
    let mut args = common::own_args().into_iter();
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let limit = backlog_probe::sys::fd_limit();
    let room = limit.map_or(u64::MAX, |l| l.soft);
    if room < count as u64 + 64 {
        eprintln!(
            "listeners bench: the descriptor limit {room} cannot hold {count} listeners; raise `ulimit -n`"
        );
        std::process::exit(1);
    }
    let ipv6 = Socket::new(Domain::IPV6, Type::STREAM, None)
        .and_then(|s| s.bind(&"[::1]:0".parse::<std::net::SocketAddr>().unwrap().into()))
        .is_ok();
    let opened = Instant::now();
    let listeners: Vec<Socket> = (0..count)
        .map(|i| {
            let address = if ipv6 && i % 2 == 1 {
                "[::1]:0"
            } else {
                "127.0.0.1:0"
            };
            let address: std::net::SocketAddr = address.parse().unwrap();
            let socket = Socket::new(Domain::for_address(address), Type::STREAM, None).unwrap();
            socket.bind(&address.into()).unwrap();
            socket.listen(128).unwrap();
            socket
        })
        .collect();
    println!(
        "{} listeners opened in {:.2} s ({})",
        listeners.len(),
        opened.elapsed().as_secs_f64(),
        if ipv6 { "half IPv4, half IPv6" } else { "IPv4" }
    );

    let mut dumps = Vec::new();
    let mut listed = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let entries = backlog_probe::sys::tcp_listeners().expect("the listener list");
        dumps.push(started.elapsed());
        listed = entries.len();
    }
    let (median, max) = median_and_max(dumps);
    println!(
        "sys::tcp_listeners(): {listed} listeners, median {:.1} ms, slowest {:.1} ms over {runs} runs",
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );

    for format in ["table", "json"] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let output = Command::new(common::BINARY)
                .args(["listeners", "--format", format])
                .stderr(Stdio::inherit())
                .output()
                .expect("backlog-probe starts");
            times.push(started.elapsed());
            assert!(output.status.success(), "backlog-probe listeners failed");
        }
        let (median, max) = median_and_max(times);
        println!(
            "backlog-probe listeners --format {format}: median {:.3} s, slowest {:.3} s over {runs} runs",
            median.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    drop(listeners);
}
