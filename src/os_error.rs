//! Raw OS error codes, printed by name.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::sys;

/// A raw OS error: the number the OS returned and its symbolic name on the OS that returned it.
///
/// The name is resolved where the error happened, so a report from Windows read on Linux still
/// says `WSAECONNREFUSED`. `io::ErrorKind` and message text are never used: the first drifts
/// between Rust releases, the second between OS languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsError {
    /// Symbolic name (`ECONNREFUSED`, `WSAECONNREFUSED`), or `null` if the harness has no name
    /// for this code.
    pub name: Option<String>,
    /// The raw number (`errno` or `WSAGetLastError()`).
    pub code: i32,
}

impl OsError {
    /// The error for a raw code on the running OS.
    pub fn from_code(code: i32) -> Self {
        OsError {
            name: sys::error_name(code).map(str::to_string),
            code,
        }
    }

    /// The raw code carried by an `io::Error`, if it has one (errors synthesised by std or
    /// socket2, such as a timeout, have none).
    pub fn from_io(error: &io::Error) -> Option<Self> {
        error.raw_os_error().map(Self::from_code)
    }

    /// An error known by name, for fixtures and tests.
    pub fn named(name: &str, code: i32) -> Self {
        OsError {
            name: Some(name.to_string()),
            code,
        }
    }

    /// True if this error has one of the given names.
    pub fn is_any(&self, names: &[&str]) -> bool {
        self.name.as_deref().is_some_and(|n| names.contains(&n))
    }
}

impl fmt::Display for OsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.code),
            None => write!(f, "os error {}", self.code),
        }
    }
}

/// Turn an `io::Error` into an [`OsError`], keeping synthetic errors visible as code -1.
pub(crate) fn os_error_of(error: &io::Error) -> OsError {
    OsError::from_io(error).unwrap_or(OsError {
        name: None,
        code: -1,
    })
}
