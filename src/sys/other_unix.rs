//! Unix systems without an OS module of their own: names, poll and rlimit only, no kernel view.

use std::collections::BTreeMap;
use std::time::Duration;

use socket2::Socket;

use super::{FdLimit, KernelQueue};

/// No kernel view to consult, so wait the full deadline.
pub const ADMISSION_GRACE: Duration = PENDING_DEADLINE;
/// BSD-derived stacks retransmit a SYN after about 1 s; 1.5 s covers it.
pub const PENDING_DEADLINE: Duration = Duration::from_millis(1500);
/// Watch the pending client through a few retransmissions.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

/// Not implemented for this OS.
pub fn kernel_queue(_socket: &Socket) -> Option<KernelQueue> {
    None
}
/// No kernel view, so no full test.
pub fn queue_full(_view: &KernelQueue) -> Option<bool> {
    None
}
/// The port is chosen at `bind()` here; nothing to defer (this system has no loopback source
/// address besides the first to spread clients over anyway).
pub fn defer_port_choice(_socket: &Socket) -> std::io::Result<()> {
    Ok(())
}

/// `SOMAXCONN` from the libc crate.
pub fn somaxconn_constant() -> i64 {
    i64::from(libc::SOMAXCONN)
}
/// Not read on this OS.
pub fn somaxconn_setting() -> Option<(&'static str, i64)> {
    None
}
/// Not read on this OS.
pub fn tcp_settings() -> BTreeMap<String, String> {
    BTreeMap::new()
}
/// `uname -r`.
pub fn kernel_version() -> Option<String> {
    super::unix::uname_release()
}
/// Soft limit up to the hard limit.
pub fn raise_fd_limit() -> Option<FdLimit> {
    super::unix::raise_fd_limit_to(None)
}
/// Nothing documented.
pub fn backlog_meaning(_backlog: i32) -> Option<String> {
    None
}
