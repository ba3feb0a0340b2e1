//! Every judgement, one module per pipeline: pure functions over
//! [`observation`](crate::observation)s, tested with tables.
//!
//! - [`tcp`]: what the first overflow of a sequential TCP experiment looked like, and what the
//!   pending client did afterwards.
//! - [`burst`]: what each client of a burst got, and the counts and percentiles per outcome.
//! - [`extras`]: whether a sequential fill measured a full queue.
//! - [`listeners`]: a listener's limit against somaxconn, its owner, a `--watch` window.
//!
//! Errors are matched by their symbolic names, which the OS module resolved where the error
//! happened, so a report from Windows classifies the same on any machine. The name lists live
//! here, once.

pub mod burst;
pub mod extras;
pub mod listeners;
pub mod tcp;

use crate::os_error::OsError;

const REFUSED: &[&str] = &["ECONNREFUSED", "WSAECONNREFUSED"];
const RESET: &[&str] = &["ECONNRESET", "WSAECONNRESET"];
const TIMED_OUT: &[&str] = &["ETIMEDOUT", "WSAETIMEDOUT"];
/// What `socket()`/`bind()` say when a family is missing: no IPv6 module, IPv6 disabled, or no
/// `::1` on loopback.
const FAMILY_MISSING: &[&str] = &[
    "EAFNOSUPPORT",
    "EPROTONOSUPPORT",
    "EADDRNOTAVAIL",
    "WSAEAFNOSUPPORT",
    "WSAEPROTONOSUPPORT",
    "WSAEADDRNOTAVAIL",
];

/// What kind of error a raw OS error is, as far as the verdicts care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// ECONNREFUSED / WSAECONNREFUSED: an RST in answer to the SYN.
    Refused,
    /// ECONNRESET / WSAECONNRESET: reset during or after the handshake.
    Reset,
    /// ETIMEDOUT / WSAETIMEDOUT: the client stack gave up.
    TimedOut,
    /// Anything else.
    Other,
}

/// The class of a connect error, by its name.
pub fn error_class(error: &OsError) -> ErrorClass {
    if error.is_any(REFUSED) {
        ErrorClass::Refused
    } else if error.is_any(RESET) {
        ErrorClass::Reset
    } else if error.is_any(TIMED_OUT) {
        ErrorClass::TimedOut
    } else {
        ErrorClass::Other
    }
}

/// True if a setup error says the address family is missing here (no IPv6).
pub fn is_family_missing(error: &OsError) -> bool {
    error.is_any(FAMILY_MISSING)
}

/// Whole milliseconds, saturating.
pub(crate) fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("ECONNREFUSED", 111, ErrorClass::Refused)]
    #[case("WSAECONNREFUSED", 10061, ErrorClass::Refused)]
    #[case("ECONNRESET", 54, ErrorClass::Reset)]
    #[case("WSAECONNRESET", 10054, ErrorClass::Reset)]
    #[case("ETIMEDOUT", 110, ErrorClass::TimedOut)]
    #[case("WSAETIMEDOUT", 10060, ErrorClass::TimedOut)]
    #[case("EADDRNOTAVAIL", 99, ErrorClass::Other)]
    fn error_classes_by_name_on_every_os(
        #[case] name: &str,
        #[case] code: i32,
        #[case] class: ErrorClass,
    ) {
        assert_eq!(error_class(&OsError::named(name, code)), class, "{name}");
    }

    #[test]
    fn an_unnamed_error_has_no_class_and_a_missing_family_is_named() {
        let unnamed = OsError {
            name: None,
            code: 111,
        };
        assert_eq!(error_class(&unnamed), ErrorClass::Other);
        assert!(is_family_missing(&OsError::named("WSAEAFNOSUPPORT", 10047)));
        assert!(!is_family_missing(&OsError::named("EACCES", 13)));
    }
}
