//! The sys contract, tested on whatever OS runs the tests: each function answers, and answers
//! consistently with the others.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::*;

fn listener(backlog: i32) -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(backlog).unwrap();
    let address = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, address)
}

/// A closed loopback port refuses: the raw code must print as the OS's refusal name.
#[test]
fn a_refused_connect_prints_by_name() {
    let (socket, address) = listener(1);
    drop(socket);
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    // A blocking connect: on Windows the client retries for about 2 s before it reports.
    let error = client
        .connect_timeout(&address.into(), Duration::from_secs(20))
        .unwrap_err();
    let code = error.raw_os_error().expect("a raw OS error");
    let name = error_name(code).expect("the refusal has a name");
    assert!(
        name == "ECONNREFUSED" || name == "WSAECONNREFUSED",
        "{name}"
    );
}

/// A non-blocking connect to a listener reports "in progress" or succeeds at once, becomes
/// writable, and the listener becomes readable.
#[test]
fn connect_progress_and_readiness() {
    let (socket, address) = listener(4);
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    client.set_nonblocking(true).unwrap();
    if let Err(error) = client.connect(&address.into()) {
        let code = error.raw_os_error().unwrap();
        assert!(is_in_progress(code), "{code}: {:?}", error_name(code));
    }
    assert!(wait_writable(&client, Duration::from_secs(10)).unwrap());
    assert!(client.take_error().unwrap().is_none());
    assert!(wait_readable(&socket, Duration::from_secs(10)).unwrap());
    socket.set_nonblocking(true).unwrap();
    socket.accept().unwrap();
    let again = socket.accept().unwrap_err();
    assert!(is_would_block(again.raw_os_error().unwrap()), "{again:?}");
    // Nothing left to accept: the listener is no longer readable.
    assert!(!wait_readable(&socket, Duration::from_millis(10)).unwrap());
}

/// Linux (TCP_INFO), macOS (proc_pidfdinfo) and FreeBSD (SO_LISTENQLEN) have a kernel view of a
/// listener's queue; it reports what listen() stored and counts a completed connection.
/// Elsewhere (Windows) there is none, and `kernel_queue` must say so rather than invent one.
#[test]
fn the_kernel_view_is_consistent_where_there_is_one() {
    let (socket, address) = listener(3);
    let view = kernel_queue(&socket);
    if !cfg!(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )) {
        assert!(view.is_none(), "{view:?} where the OS has no kernel view");
        return;
    }
    let before = view.expect("this OS has a kernel view of a listener");
    assert_eq!(before.queued, 0);
    // 3 is below every somaxconn in use, so every OS stores it unchanged.
    assert_eq!(before.limit, 3);
    let client = std::net::TcpStream::connect(address).unwrap();
    assert!(wait_readable(&socket, Duration::from_secs(10)).unwrap());
    assert_eq!(kernel_queue(&socket).unwrap().queued, 1);
    drop(client);
}

#[test]
fn somaxconn_values_are_sane() {
    assert!(somaxconn_constant() > 0);
    if let Some((name, value)) = somaxconn_setting() {
        assert!(!name.is_empty());
        assert!(value >= 0);
        assert_eq!(tcp_settings().get(name), Some(&value.to_string()));
    }
}

#[test]
fn the_fd_limit_is_raised_within_the_hard_limit() {
    if let Some(limit) = raise_fd_limit() {
        assert!(limit.soft >= limit.soft_before.min(limit.hard), "{limit:?}");
        assert!(limit.soft <= limit.hard, "{limit:?}");
    }
}

#[test]
fn backlog_meaning_leaves_ordinary_values_alone() {
    assert_eq!(backlog_meaning(5), None);
    assert_eq!(backlog_meaning(128), None);
}

/// The emulator is named only where one is detected; on Unix there is never one.
#[test]
fn the_emulator_is_named_consistently() {
    if let Some(name) = emulator() {
        assert!(name.starts_with("wine"), "{name}");
        assert_eq!(
            std::env::consts::OS,
            "windows",
            "only the Windows build can be emulated"
        );
    }
}

/// Network namespaces and per-namespace counters are Linux's; elsewhere the functions say
/// "unsupported" rather than pretending. (On Linux the namespace functions themselves are
/// exercised by tests/worlds.rs in a child process, never in the test process, which would
/// otherwise change the host's sysctls.)
#[test]
fn namespace_functions_answer_per_os() {
    if std::env::consts::OS == "linux" {
        let counters = listen_counters().expect("/proc/net/netstat TcpExt");
        assert!(counters.listen_drops >= counters.listen_overflows);
        assert_eq!(set_sysctl("net/../../etc", 1), Err(SysctlError::Unknown));
    } else {
        assert_eq!(listen_counters(), None);
        assert_eq!(
            set_sysctl("net.core.somaxconn", 1),
            Err(SysctlError::Unsupported)
        );
        assert_eq!(enter_network_namespace(), Err(NamespaceError::Unsupported));
    }
}

/// The parent's id is read where the OS offers one; a worker compares it to notice it was
/// orphaned.
#[test]
fn the_parent_is_known_where_the_os_tells() {
    #[cfg(unix)]
    assert_eq!(parent_pid(), Some(std::os::unix::process::parent_id()));
    #[cfg(windows)]
    assert_eq!(parent_pid(), None);
}
