//! Reading report files back: the JSON must be a backlog-probe report of a schema version this
//! build understands. Used by `merge` and `docs`, so both accept and reject the same files.

use std::path::Path;

use super::{Report, SCHEMA_VERSION};

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Parse one report, checking that it is a backlog-probe report this version understands.
pub fn parse_report(text: &str) -> Result<Report, ReadError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReadError(format!("not JSON ({e})")))?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ReadError("not a backlog-probe report (no schema_version)".into()))?;
    if version != u64::from(SCHEMA_VERSION) {
        return Err(ReadError(format!(
            "schema_version {version} is not the supported {SCHEMA_VERSION}"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| ReadError(format!("not a backlog-probe report ({e})")))
}

/// Read a report file and parse it with [`parse_report`]; the error names the file.
pub fn read_report(path: &Path) -> Result<Report, ReadError> {
    let text = read_text(path)?;
    parse_report(&text).map_err(|e| ReadError(format!("{}: {e}", path.display())))
}

/// The text of an input file; the error names the file and the raw OS error.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|e| {
        ReadError(format!(
            "cannot read {}: {}",
            path.display(),
            crate::os_error::os_error_of(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_rejected_with_a_reason() {
        for (text, expected) in [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("[]", "no schema_version"),
            ("{\"schema_version\": 99}", "schema_version 99"),
            ("{\"schema_version\": 1}", "not a backlog-probe report"),
            ("{\"schema_version\": \"1\"}", "no schema_version"),
        ] {
            let err = parse_report(text).unwrap_err();
            assert!(err.0.contains(expected), "{text:?}: {err}");
        }
    }

    /// Fuzz-style: truncations, byte flips and spliced junk of a real report are read or
    /// rejected with a reason, never a panic.
    #[test]
    fn mangled_reports_never_panic_the_reader() {
        let original = std::fs::read(format!(
            "{}/tests/fixtures/report-linux.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let junk: &[&[u8]] = &[
            b"null",
            b"-1",
            b"1e999",
            b"\"\\u0000\"",
            b"[]",
            b"{}",
            b"\xff",
            b"99999999999999999999",
        ];
        let (mut read, mut rejected) = (0, 0);
        for round in 0..3000 {
            let mut bytes = original.clone();
            match round % 3 {
                0 => bytes.truncate((next() as usize) % bytes.len()),
                1 => {
                    for _ in 0..(1 + next() % 4) {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = (next() % 256) as u8;
                    }
                }
                _ => {
                    let at = (next() as usize) % bytes.len();
                    let piece = junk[(next() as usize) % junk.len()];
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
            match parse_report(&String::from_utf8_lossy(&bytes)) {
                Ok(_) => read += 1,
                Err(e) => {
                    assert!(!e.0.is_empty());
                    rejected += 1;
                }
            }
        }
        assert!(
            rejected > 2000,
            "most mangled reports are rejected ({read} read)"
        );
    }
}
