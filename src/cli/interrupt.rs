//! Ctrl-C, SIGTERM and SIGHUP (on Windows: Ctrl-C, Ctrl-Break and closing the console), one
//! handler per process.
//!
//! The `ctrlc` crate serves both OSes and runs the handler on a thread of its own, not in a
//! signal context, so a handler may remove files (`extras`' socket directories) as well as set
//! a flag (`hold`). A hand-written signal handler could only set the flag safely.

use std::sync::atomic::{AtomicBool, Ordering};

use backlog_probe::experiment::extras::unix::remove_socket_dirs;

use super::output::report_error;

/// Set by the handler of [`catch`].
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status after a signal ended a command early: 128 + SIGINT, as a shell reports an
/// interrupted command.
const EXIT_INTERRUPTED: i32 = 130;

/// Turn the signals into a flag that [`interrupted`] reads, so a caller that polls it can close
/// its sockets and exit normally (`hold`). `Err` says why the handler could not be installed.
pub fn catch() -> Result<(), String> {
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)).map_err(|e| e.to_string())
}

/// Whether a signal arrived since [`catch`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// On a signal, remove the private directories of the Unix-domain sockets alive now, say so,
/// and exit with [`EXIT_INTERRUPTED`] (`extras`): the signal would otherwise end the process
/// without dropping anything and leave the directories behind.
pub fn clean_up_and_exit() -> Result<(), String> {
    ctrlc::set_handler(|| {
        // Held until the exit, so no new socket directory appears meanwhile.
        let _removed = remove_socket_dirs();
        report_error("interrupted; its socket files are removed");
        std::process::exit(EXIT_INTERRUPTED);
    })
    .map_err(|e| e.to_string())
}
