//! Listener views for the OSes without one yet: each says so rather than answering with an
//! empty list.

use super::{ListenerEntry, ListenerViewError, UnixListenerEntry};

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
