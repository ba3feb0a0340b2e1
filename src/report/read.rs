//! Reading report files back: the JSON must be a backlog-probe report of a schema version this
//! build understands. Used by `merge` and `docs`, so both accept and reject the same files.
//!
//! Input is bounded: only a regular file is read (a FIFO, a device such as `/dev/zero`, a
//! directory or a symlink to one of them is refused before a byte is read, and opening never
//! waits for a FIFO's writer), at most [`DEFAULT_MAX_INPUT_BYTES`] unless the caller allows
//! more (`--max-input-bytes`), and parsed as a stream, so memory follows the report rather than
//! the file's text.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::extras::{EXTRAS_SCHEMA_VERSION, ExtrasReport};
use super::{Report, SCHEMA_VERSION};

/// The largest input file read unless the caller allows more: 64 MiB. A default run's report is
/// about 20 KB, and even 10 000 cases stay far below it.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// What kind of file an input is when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotRegular {
    /// A directory.
    Directory,
    /// A FIFO, a socket or a device.
    Special,
}

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotRegular::Directory => "a directory",
            NotRegular::Special => "a FIFO, socket or device",
        })
    }
}

/// Why a report could not be read. Each case displays as one line for the CLI; a caller or
/// test branches on the case (a file read through [`read_report`] or [`read_extras`] is
/// [`ReadError::InFile`], whose [`ReadError::reason`] is the case itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file cannot be opened or its metadata read.
    #[error("cannot read {}: {message}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The raw error, where the OS gave one.
        os_error: Option<crate::os_error::OsError>,
        /// The raw error by name and number, else the I/O error's words.
        message: String,
    },
    /// The path names a directory, a FIFO, a socket or a device.
    #[error("{} is not a regular file ({kind}); backlog-probe reads reports from regular files only", path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: NotRegular,
    },
    /// The file is larger than the input limit.
    #[error("{} is {size} bytes, more than the input limit of {limit} bytes; raise it with --max-input-bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The input grew past the limit while it was read.
    #[error("larger than the input limit of {limit} bytes; raise it with --max-input-bytes")]
    PastLimit {
        /// The limit.
        limit: u64,
    },
    /// The input is not JSON (or not one JSON value).
    #[error("not JSON ({message})")]
    NotJson {
        /// serde_json's line of the error (1-based, 0 at the end of the input).
        line: usize,
        /// Its column.
        column: usize,
        /// serde_json's words, with the position.
        message: String,
    },
    /// The input is JSON but not the document expected (fields missing or of the wrong type).
    #[error("not {what} ({message})")]
    NotThisDocument {
        /// `a backlog-probe report`, `a backlog-probe extras report`, `a stack manifest`, ...
        what: String,
        /// serde_json's line of the error.
        line: usize,
        /// Its column.
        column: usize,
        /// serde_json's words, with the position.
        message: String,
    },
    /// An object without a numeric top-level `schema_version`.
    #[error("not {what} (no schema_version)")]
    NoSchemaVersion {
        /// The document expected.
        what: String,
    },
    /// A schema version this build does not read.
    #[error("schema_version {found} is not the supported {supported}")]
    UnknownSchemaVersion {
        /// The file's version.
        found: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// `environment.settings` names one knob twice.
    #[error("not {what} ({message})")]
    DuplicateSetting {
        /// The document expected.
        what: String,
        /// The knob named twice.
        key: String,
        /// serde_json's line of the error.
        line: usize,
        /// Its column.
        column: usize,
        /// serde_json's words, with the position.
        message: String,
    },
    /// The file could not be read a second time (after its schema version was checked).
    #[error("cannot read it again: {message}")]
    Reread {
        /// The I/O error's words.
        message: String,
    },
    /// One of the cases above, in the file `path`.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: Box<ReadError>,
    },
}

impl ReadError {
    /// The case itself, whether or not it names its file ([`ReadError::InFile`]).
    pub fn reason(&self) -> &ReadError {
        match self {
            ReadError::InFile { source, .. } => source.reason(),
            other => other,
        }
    }
}

/// The knob a `unique_keys` refusal names, from its message (`the setting "k" appears twice`).
fn duplicate_setting(message: &str) -> Option<String> {
    let quoted = message
        .strip_prefix(DUPLICATE_SETTING)?
        .split(" appears twice")
        .next()?;
    serde_json::from_str(quoted).ok()
}

const DUPLICATE_SETTING: &str = "the setting ";

/// Counts what passes through and refuses to read past `max` bytes since the start, so a
/// parser cannot be fed more than the limit however the input grows (a FIFO, `/dev/zero`).
#[derive(Debug)]
pub(crate) struct Limited<R> {
    inner: R,
    read: u64,
    max: u64,
    over: bool,
}

impl<R> Limited<R> {
    /// Read at most `max` bytes of `inner`.
    pub(crate) fn new(inner: R, max: u64) -> Self {
        Limited {
            inner,
            read: 0,
            max,
            over: false,
        }
    }

    /// True once a read went past the limit (and failed).
    pub(crate) fn is_over(&self) -> bool {
        self.over
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit is enough to know the input is too large.
        let room = self.max.saturating_add(1).saturating_sub(self.read);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if self.read > self.max {
            self.over = true;
            return Err(io::Error::other("input larger than its limit"));
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Limited<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let at = self.inner.seek(to)?;
        self.read = at;
        Ok(at)
    }
}

/// The top-level `schema_version`, read without keeping anything else: `Some` only for an object
/// that has the key.
struct SchemaProbe(Option<serde_json::Value>);

impl<'de> Deserialize<'de> for SchemaProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Probe;
        impl<'de> Visitor<'de> for Probe {
            type Value = SchemaProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchemaProbe, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "schema_version" && version.is_none() {
                        version = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(SchemaProbe(version))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SchemaProbe, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SchemaProbe(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
            fn visit_unit<E>(self) -> Result<SchemaProbe, E> {
                Ok(SchemaProbe(None))
            }
        }
        deserializer.deserialize_any(Probe)
    }
}

/// A parse error as a reason: the input's own size limit, else serde_json's words.
fn parse_failure(error: &serde_json::Error, over: bool, max: u64, what: &str) -> ReadError {
    if over {
        return ReadError::PastLimit { limit: max };
    }
    let (line, column, message) = (error.line(), error.column(), error.to_string());
    match error.classify() {
        serde_json::error::Category::Data => match duplicate_setting(&message) {
            Some(key) => ReadError::DuplicateSetting {
                what: what.to_string(),
                key,
                line,
                column,
                message,
            },
            None => ReadError::NotThisDocument {
                what: what.to_string(),
                line,
                column,
                message,
            },
        },
        _ => ReadError::NotJson {
            line,
            column,
            message,
        },
    }
}

/// Parse `input` as a `T` whose top-level `schema_version` must be `expected`, in two streaming
/// passes: the version first (so a report of another version is named as such, not as a
/// mismatch of fields), then the whole value.
fn parse_versioned<T: DeserializeOwned, R: Read + Seek>(
    input: R,
    max: u64,
    expected: u32,
    what: &str,
) -> Result<T, ReadError> {
    let mut limited = Limited::new(input, max);
    let mut reader = BufReader::new(&mut limited);
    let probe: Result<SchemaProbe, _> = serde_json::from_reader(&mut reader);
    drop(reader);
    let version = match probe {
        Ok(SchemaProbe(version)) => version,
        Err(e) => return Err(parse_failure(&e, limited.over, max, what)),
    };
    let version = version
        .as_ref()
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| ReadError::NoSchemaVersion {
            what: what.to_string(),
        })?;
    if version != u64::from(expected) {
        return Err(ReadError::UnknownSchemaVersion {
            found: version,
            supported: expected,
        });
    }
    limited
        .seek(SeekFrom::Start(0))
        .map_err(|e| ReadError::Reread {
            message: e.to_string(),
        })?;
    let mut reader = BufReader::new(&mut limited);
    let parsed: Result<T, _> = serde_json::from_reader(&mut reader);
    drop(reader);
    parsed.map_err(|e| parse_failure(&e, limited.over, max, what))
}

/// Deserialize a map of strings refusing a key that appears twice. A JSON object may repeat a
/// key, and a plain map keeps the last value silently; a report whose `environment.settings`
/// says two things about one knob is refused instead, naming the key, so `merge` and `docs`
/// never show one of the two as if it were the only one.
pub(crate) fn unique_keys<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    struct UniqueKeys;
    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = std::collections::BTreeMap<String, String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of strings, each key once")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = std::collections::BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if keys.contains_key(&key) {
                    return Err(serde::de::Error::custom(format_args!(
                        "{DUPLICATE_SETTING}{key:?} appears twice"
                    )));
                }
                keys.insert(key, value);
            }
            Ok(keys)
        }
    }
    deserializer.deserialize_map(UniqueKeys)
}

const REPORT: &str = "a backlog-probe report";
const EXTRAS: &str = "a backlog-probe extras report";

/// Parse one report, checking that it is a backlog-probe report this version understands.
pub fn parse_report(text: &str) -> Result<Report, ReadError> {
    parse_versioned(
        io::Cursor::new(text.as_bytes()),
        u64::MAX,
        SCHEMA_VERSION,
        REPORT,
    )
}

/// Parse one extras report (`backlog-probe extras --format json`), checking its schema version.
pub fn parse_extras(text: &str) -> Result<ExtrasReport, ReadError> {
    parse_versioned(
        io::Cursor::new(text.as_bytes()),
        u64::MAX,
        EXTRAS_SCHEMA_VERSION,
        EXTRAS,
    )
}

/// An input file opened for reading: a regular file no larger than its limit.
#[derive(Debug)]
pub struct InputFile {
    file: File,
    path: PathBuf,
    max_bytes: u64,
}

/// Open `path` as an input: it must be (or name, through symlinks) a regular file of at most
/// `max_bytes`. The error is one line naming the file: it cannot be opened, it is a FIFO, a
/// device or a directory, or it is too large (and how to allow more).
pub fn open_input(path: &Path, max_bytes: u64) -> Result<InputFile, ReadError> {
    let cannot = |e: &io::Error| {
        let os_error = crate::os_error::OsError::from_io(e);
        ReadError::Unreadable {
            path: path.to_path_buf(),
            message: os_error
                .as_ref()
                .map_or_else(|| e.to_string(), ToString::to_string),
            os_error,
        }
    };
    // Opening does not wait for a FIFO's writer; the type check below refuses it.
    let file = crate::sys::open_without_blocking(path).map_err(|e| {
        // Windows refuses to open a directory as a file (ERROR_ACCESS_DENIED): say what it is.
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            ReadError::NotRegularFile {
                path: path.to_path_buf(),
                kind: NotRegular::Directory,
            }
        } else {
            cannot(&e)
        }
    })?;
    let metadata = file.metadata().map_err(|e| cannot(&e))?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegularFile {
            path: path.to_path_buf(),
            kind: if metadata.is_dir() {
                NotRegular::Directory
            } else {
                NotRegular::Special
            },
        });
    }
    if metadata.len() > max_bytes {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: metadata.len(),
            limit: max_bytes,
        });
    }
    Ok(InputFile {
        file,
        path: path.to_path_buf(),
        max_bytes,
    })
}

impl InputFile {
    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parse it as a report (streaming, schema-checked); the error is the bare reason.
    pub fn report(self) -> Result<Report, ReadError> {
        parse_versioned(self.file, self.max_bytes, SCHEMA_VERSION, REPORT)
    }

    /// Parse it as some other JSON `what` the tools write (a stack manifest, a timing), within
    /// the same limit but without a schema version; the error is the bare reason.
    pub fn json<T: DeserializeOwned>(self, what: &str) -> Result<T, ReadError> {
        let mut limited = Limited::new(self.file, self.max_bytes);
        let mut reader = BufReader::new(&mut limited);
        let parsed: Result<T, _> = serde_json::from_reader(&mut reader);
        drop(reader);
        parsed.map_err(|e| parse_failure(&e, limited.over, self.max_bytes, what))
    }

    /// Parse it as an extras report (streaming, schema-checked); the error is the bare reason.
    pub fn extras(self) -> Result<ExtrasReport, ReadError> {
        parse_versioned(self.file, self.max_bytes, EXTRAS_SCHEMA_VERSION, EXTRAS)
    }
}

/// Read a report file of at most `max_bytes` ([`open_input`], then [`InputFile::report`]); the
/// error is one line that names the file.
pub fn read_report(path: &Path, max_bytes: u64) -> Result<Report, ReadError> {
    open_input(path, max_bytes)?
        .report()
        .map_err(|e| ReadError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
}

/// Read an extras report file of at most `max_bytes`; the error is one line that names the file.
pub fn read_extras(path: &Path, max_bytes: u64) -> Result<ExtrasReport, ReadError> {
    open_input(path, max_bytes)?
        .extras()
        .map_err(|e| ReadError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
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
            ("\u{0}", "not JSON"),
            ("1 2", "not JSON"),
            ("{\"schema_version\": \"1\"}", "no schema_version"),
        ] {
            let err = parse_report(text).unwrap_err();
            assert!(err.to_string().contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn each_refusal_is_a_case_of_its_own() {
        assert!(matches!(
            parse_report("{"),
            Err(ReadError::NotJson {
                line: 1,
                column: 1,
                ..
            })
        ));
        assert!(matches!(
            parse_report("[]"),
            Err(ReadError::NoSchemaVersion { .. })
        ));
        assert!(matches!(
            parse_report("{\"schema_version\": 99}"),
            Err(ReadError::UnknownSchemaVersion {
                found: 99,
                supported: SCHEMA_VERSION
            })
        ));
        assert!(matches!(
            parse_report("{\"schema_version\": 1}"),
            Err(ReadError::NotThisDocument { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let err = open_input(dir.path(), 10).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegularFile {
                    kind: NotRegular::Directory,
                    ..
                }
            ),
            "{err:?}"
        );
        let file = dir.path().join("report.json");
        std::fs::write(&file, "{}").unwrap();
        let err = open_input(&file, 1).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TooLarge {
                    size: 2,
                    limit: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{} is 2 bytes, more than the input limit of 1 bytes; raise it with --max-input-bytes",
                file.display()
            )
        );
        let err = read_report(&file, 10).unwrap_err();
        assert!(
            matches!(err.reason(), ReadError::NoSchemaVersion { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not a backlog-probe report (no schema_version)",
                file.display()
            )
        );
        let missing = dir.path().join("missing.json");
        let err = open_input(&missing, 10).unwrap_err();
        let ReadError::Unreadable { os_error, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(os_error.is_some(), "{err:?}");
    }

    #[test]
    fn a_setting_given_twice_is_refused_not_half_read() {
        let text = include_str!("../../tests/fixtures/report-linux.json");
        let report: serde_json::Value = serde_json::from_str(text).unwrap();
        let settings = report["environment"]["settings"].as_object().unwrap();
        let (key, value) = settings.iter().next().unwrap();
        let entry = format!("{key:?}: {value}");
        assert!(text.contains(&entry), "{entry}");
        // The same key once more, with another value, right after the first.
        let doubled = text.replacen(&entry, &format!("{entry}, {key:?}: \"other\""), 1);
        let err = parse_report(&doubled).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("the setting {key:?} appears twice")),
            "{err}"
        );
        assert!(
            matches!(&err, ReadError::DuplicateSetting { key: named, .. } if named == key),
            "{err:?}"
        );
        assert!(parse_report(text).is_ok());
    }

    #[test]
    fn extras_reports_are_schema_checked_too() {
        let text = include_str!("../../tests/fixtures/extras-linux.json");
        assert!(parse_extras(text).is_ok());
        let other = text.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
        assert_ne!(other, text);
        let err = parse_extras(&other).unwrap_err();
        assert_eq!(err.to_string(), "schema_version 2 is not the supported 1");
        assert_eq!(
            err,
            ReadError::UnknownSchemaVersion {
                found: 2,
                supported: 1
            }
        );
        // A main report is not an extras report, and the other way round.
        let report = include_str!("../../tests/fixtures/report-linux.json");
        assert!(parse_extras(report).is_err());
        assert!(parse_report(text).is_err());
    }

    #[test]
    fn a_stream_past_its_limit_is_named_as_such() {
        let mut text = include_str!("../../tests/fixtures/report-linux.json").to_string();
        let limit = text.len() as u64;
        assert!(
            parse_versioned::<Report, _>(io::Cursor::new(text.as_bytes()), limit, 1, REPORT)
                .is_ok()
        );
        // Trailing whitespace keeps it valid JSON, so only the limit can refuse it.
        text.push_str("   ");
        let err = parse_versioned::<Report, _>(io::Cursor::new(text.as_bytes()), limit, 1, REPORT)
            .unwrap_err();
        assert!(
            err.to_string().contains("larger than the input limit"),
            "{err}"
        );
        assert_eq!(err, ReadError::PastLimit { limit });
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
                    assert!(!e.to_string().is_empty());
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
