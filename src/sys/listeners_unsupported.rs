//! Listener views for the OSes without one yet: each says so rather than answering with an
//! empty list.

use super::{
    ListenerEntry, ListenerView, ListenerViewError, OverflowCounters, SocketOwners,
    UnixListenerEntry,
};

/// Not implemented for this OS.
pub fn tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "listing this OS's TCP listeners is not implemented",
    ))
}

/// Not implemented for this OS.
pub fn unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "listing this OS's Unix-domain listeners is not implemented",
    ))
}

/// No per-socket owner view here.
pub fn socket_owners() -> SocketOwners {
    SocketOwners::default()
}

/// Not looked up on this OS.
pub fn process_name(_pid: u32) -> Option<String> {
    None
}

/// Not read on this OS.
pub fn overflow_counters() -> Result<OverflowCounters, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "this OS's listen-overflow counters are not read",
    ))
}

/// Nothing is listed here.
pub fn listener_view() -> ListenerView {
    ListenerView {
        source: "none",
        queue: false,
        limit: false,
        syn_queue: false,
        syn_queue_note: "not read on this OS",
        owners: "not read on this OS",
    }
}

/// No queue, so no full test.
pub fn listener_full(_entry: &ListenerEntry) -> Option<bool> {
    None
}
