//! `listen()` again on a socket that is already listening, with a different backlog.
//!
//! Linux (net/socket.c `__sys_listen_socket()` clamps to somaxconn, then net/ipv4/af_inet.c
//! `__inet_listen_sk()`, called by `inet_listen()`, stores `WRITE_ONCE(sk->sk_max_ack_backlog,
//! backlog)`: "Really, if the socket is already in listen state we can only allow the backlog
//! to be adjusted"), macOS and FreeBSD (`solisten_proto()` stores the new
//! `so_qlimit`/`sol_qlimit`) apply the new value; the Remarks of Windows' listen() documentation say a
//! call on an already listening socket succeeds without changing the backlog. The harness measures the queue afterwards.

use socket2::{Protocol, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::experiment::{listen_at, loopback};
use crate::observation::extras::RelistenCase;
use crate::observation::{ListenReport, SetupStage};
use crate::os_error::os_error_of;
use crate::plan::Family;
use crate::sys;

/// The (first, second) backlog pairs: the second smaller, then larger.
pub const RELISTEN_PAIRS: [(i32, i32); 2] = [(5, 2), (5, 10)];
/// The most clients one re-listen case opens.
const RELISTEN_CAP: u32 = 10_000;

/// An IPv4 loopback TCP listener after its first `listen()`; `Err` reports the failed step.
fn first_listener(backlog: i32) -> Result<Socket, ListenReport> {
    listen_at(
        &loopback(Family::Ipv4).into(),
        Type::STREAM,
        Some(Protocol::TCP),
        backlog,
    )
    .map_err(|(stage, error)| ListenReport::failed(stage, error))
}

/// Listen with `first`, listen again with `second`, then fill (with descriptors from `budget`)
/// and drain.
pub fn relisten_case(first: i32, second: i32, budget: &FdBudget) -> RelistenCase {
    let mut case = RelistenCase {
        first_backlog: first,
        second_backlog: second,
        first_listen: ListenReport::ok(),
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
        Ok(()) => ListenReport::ok(),
        Err(e) => ListenReport::failed(SetupStage::Listen, os_error_of(&e)),
    });
    let target = match listener.local_addr() {
        Ok(address) => address,
        Err(e) => {
            case.first_listen = ListenReport::failed(SetupStage::Listen, os_error_of(&e));
            return case;
        }
    };
    let held = fill_held(&target, Type::STREAM, Some(&listener), RELISTEN_CAP, budget);
    case.kernel_queue = sys::kernel_queue(&listener);
    case.fill = Some(held.result.clone());
    case.accepted = drain_all(&listener);
    drop(held);
    case
}
