//! `listen()` again on a socket that is already listening, with a different backlog.
//!
//! Linux (net/socket.c `__sys_listen_socket()` clamps to somaxconn, then net/ipv4/af_inet.c
//! `__inet_listen_sk()`, called by `inet_listen()`, stores `WRITE_ONCE(sk->sk_max_ack_backlog,
//! backlog)`: "Really, if the socket is already in listen state we can only allow the backlog
//! to be adjusted"), macOS and FreeBSD (`solisten_proto()` stores the new
//! `so_qlimit`/`sol_qlimit`) apply the new value; the Remarks of Windows' listen() documentation say a
//! call on an already listening socket succeeds without changing the backlog. The harness measures the queue afterwards.

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};

use super::fill::{FillResult, drain, fill};
use crate::experiment::loopback;
use crate::os_error::os_error_of;
use crate::plan::Family;
use crate::report::ListenReport;
use crate::sys::{self, KernelQueue};

/// The (first, second) backlog pairs: the second smaller, then larger.
pub const RELISTEN_PAIRS: [(i32, i32); 2] = [(5, 2), (5, 10)];
/// The most clients one re-listen case opens.
const RELISTEN_CAP: u32 = 10_000;

/// One re-listen experiment on an IPv4 loopback TCP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelistenCase {
    /// The backlog of the first `listen()`.
    pub first_backlog: i32,
    /// The backlog of the second `listen()` on the same, already listening socket.
    pub second_backlog: i32,
    /// Setup up to and including the first `listen()`.
    pub first_listen: ListenReport,
    /// The second `listen()`: `ok`, or its raw error (`failed_at: "listen"`).
    pub second_listen: Option<ListenReport>,
    /// The kernel's view after the second call, where the OS has one: `limit` shows which
    /// backlog the kernel kept.
    pub kernel_queue: Option<KernelQueue>,
    /// The sequential fill after the second call.
    pub fill: Option<FillResult>,
    /// Connections accepted afterwards.
    pub accepted: u32,
}

fn ok() -> ListenReport {
    ListenReport {
        ok: true,
        failed_at: None,
        os_error: None,
    }
}

fn failed(stage: &str, error: &std::io::Error) -> ListenReport {
    ListenReport {
        ok: false,
        failed_at: Some(stage.to_string()),
        os_error: Some(os_error_of(error)),
    }
}

fn first_listener(backlog: i32) -> Result<Socket, ListenReport> {
    let address = loopback(Family::Ipv4);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| failed("socket", &e))?;
    socket
        .bind(&address.into())
        .map_err(|e| failed("bind", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| failed("bind", &e))?;
    socket.listen(backlog).map_err(|e| failed("listen", &e))?;
    Ok(socket)
}

/// Listen with `first`, listen again with `second`, then fill and drain.
pub fn relisten_case(first: i32, second: i32) -> RelistenCase {
    let mut case = RelistenCase {
        first_backlog: first,
        second_backlog: second,
        first_listen: ok(),
        second_listen: None,
        kernel_queue: None,
        fill: None,
        accepted: 0,
    };
    let listener = match first_listener(first) {
        Ok(listener) => listener,
        Err(report) => {
            case.first_listen = report;
            return case;
        }
    };
    case.second_listen = Some(match listener.listen(second) {
        Ok(()) => ok(),
        Err(e) => failed("listen", &e),
    });
    let target = match listener.local_addr() {
        Ok(address) => address,
        Err(e) => {
            case.first_listen = failed("listen", &e);
            return case;
        }
    };
    let held = fill(&target, Type::STREAM, Some(&listener), RELISTEN_CAP);
    case.kernel_queue = sys::kernel_queue(&listener);
    case.fill = Some(held.result.clone());
    case.accepted = drain(&listener);
    drop(held);
    case
}
