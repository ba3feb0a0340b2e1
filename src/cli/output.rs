//! What the binary writes: progress and errors on stderr, the report on stdout.

use std::io::{self, Write};

/// One line on stderr, prefixed with the program name.
pub fn report_error(message: &str) {
    progress_message(&format!("backlog-probe: {message}"));
}

/// A line on stderr; a closed stderr is ignored rather than a reason to panic.
pub fn progress_message(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Write to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn write_stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
