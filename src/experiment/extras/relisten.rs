//! `listen()` again on a socket that is already listening, with a different backlog.
//!
//! Linux (net/socket.c `__sys_listen_socket()` clamps to somaxconn, then net/ipv4/af_inet.c
//! `__inet_listen_sk()`, called by `inet_listen()`, stores `WRITE_ONCE(sk->sk_max_ack_backlog,
//! backlog)`: "Really, if the socket is already in listen state we can only allow the backlog
//! to be adjusted"), macOS and FreeBSD (`solisten_proto()` stores the new
//! `so_qlimit`/`sol_qlimit`) apply the new value; the Remarks of Windows' listen() documentation say a
//! call on an already listening socket succeeds without changing the backlog. The harness measures the queue afterwards.

use socket2::{Domain, Protocol, Socket, Type};

use crate::experiment::budget::FdBudget;
use crate::experiment::connect::{drain_all, fill_held};
use crate::experiment::loopback;
use crate::observation::extras::RelistenCase;
use crate::observation::{ListenReport, SetupStage};
use crate::os_error::os_error_of;
use crate::plan::Family;
use crate::sys;

/// The (first, second) backlog pairs: the second smaller, then larger.
pub const RELISTEN_PAIRS: [(i32, i32); 2] = [(5, 2), (5, 10)];
/// The most clients one re-listen case opens.
const RELISTEN_CAP: u32 = 10_000;

fn failed(stage: SetupStage, error: &std::io::Error) -> ListenReport {
    ListenReport::failed(stage, os_error_of(error))
}

fn first_listener(backlog: i32) -> Result<Socket, ListenReport> {
    let address = loopback(Family::Ipv4);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| failed(SetupStage::Socket, &e))?;
    socket
        .bind(&address.into())
        .map_err(|e| failed(SetupStage::Bind, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| failed(SetupStage::Bind, &e))?;
    socket
        .listen(backlog)
        .map_err(|e| failed(SetupStage::Listen, &e))?;
    Ok(socket)
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
        Err(e) => failed(SetupStage::Listen, &e),
    });
    let target = match listener.local_addr() {
        Ok(address) => address,
        Err(e) => {
            case.first_listen = failed(SetupStage::Listen, &e);
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
