//! What the binary writes: progress and errors on stderr, the report on stdout.

use std::io::{self, Write};

use super::UsageError;
use backlog_probe::os_error::OsError;

/// One line on stderr, prefixed with the program name.
pub fn report_error(message: &str) {
    progress_message(&format!("backlog-probe: {message}"));
}

/// A line on stderr; a closed stderr is ignored rather than a reason to panic.
pub fn progress_message(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// An I/O error as a message shows it: the raw error by name and number where there is one,
/// std's own words otherwise (never "os error -1").
pub fn io_error_text(error: &io::Error) -> String {
    OsError::from_io(error).map_or_else(|| error.to_string(), |e| e.to_string())
}

/// Whether stdout took everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Every byte was written and flushed.
    All,
    /// The reader went away (a closed pipe, `| head`): not an error, the rest was unwanted.
    ReaderGone,
}

/// Write the whole text to stdout and flush it. A reader that went away is [`Delivered::ReaderGone`];
/// any other failure (a full disk, `/dev/full`, a closed descriptor) is an error, so the
/// command exits non-zero instead of leaving a cut-off report behind an exit 0.
pub fn write_stdout(text: &str) -> Result<Delivered, UsageError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Delivered::All),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Delivered::ReaderGone),
        Err(e) => Err(UsageError(format!(
            "cannot write the output to stdout: {}; it is incomplete",
            io_error_text(&e)
        ))),
    }
}
