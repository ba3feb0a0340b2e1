//! The Linux-only part of the sys contract (network namespaces, per-namespace counters,
//! sandbox detection) for every other OS: each function says "unsupported" or "none" rather
//! than pretending.

/// Network namespaces are Linux's.
pub fn enter_network_namespace() -> Result<(), super::NamespaceError> {
    Err(super::NamespaceError::Unsupported)
}
/// Per-namespace sysctls are Linux's.
pub fn set_sysctl(_key: &str, _value: i64) -> Result<i64, super::SysctlError> {
    Err(super::SysctlError::Unsupported)
}
/// Not read on this OS (its counters are system-wide, not per namespace).
pub fn listen_counters() -> Option<super::ListenCounters> {
    None
}
/// The sandboxes detected here run Linux binaries only.
pub fn sandbox() -> Option<super::Sandbox> {
    None
}
/// No kernel mechanism here: a worker watches its parent itself (its stdout pipe closing, its
/// parent id changing).
#[doc(hidden)]
pub fn die_with_parent() -> std::io::Result<bool> {
    Ok(false)
}
