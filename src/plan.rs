//! What to run: address families, backlog values, and the default matrix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::sys;

/// A loopback address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// 127.0.0.1
    Ipv4,
    /// ::1
    Ipv6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// `ipv4` or `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backlog as the user names it: a number, or the platform's `SOMAXCONN` constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Backlog {
    /// This exact value is passed to `listen()`.
    Value(i32),
    /// The platform constant `SOMAXCONN` (`libc::SOMAXCONN`, or windows-sys on Windows).
    Somaxconn,
}

impl Backlog {
    /// The default list: 0, 1, 5, SOMAXCONN, -1, i32::MIN, i32::MAX.
    pub const DEFAULTS: [Backlog; 7] = [
        Backlog::Value(0),
        Backlog::Value(1),
        Backlog::Value(5),
        Backlog::Somaxconn,
        Backlog::Value(-1),
        Backlog::Value(i32::MIN),
        Backlog::Value(i32::MAX),
    ];

    /// The i32 passed to `listen()`. On Windows `SOMAXCONN` is 0x7fffffff, which is i32::MAX.
    pub fn value(self) -> i32 {
        match self {
            Backlog::Value(v) => v,
            Backlog::Somaxconn => i32::try_from(sys::somaxconn_constant()).unwrap_or(i32::MAX),
        }
    }

    /// A stable label: `somaxconn`, `i32::min`, `i32::max` or the number.
    pub fn label(self) -> String {
        match self {
            Backlog::Somaxconn => "somaxconn".to_string(),
            Backlog::Value(i32::MIN) => "i32::min".to_string(),
            Backlog::Value(i32::MAX) => "i32::max".to_string(),
            Backlog::Value(v) => v.to_string(),
        }
    }

    /// A name usable in identifiers: `zero`, `one`, `five`, `somaxconn`, `minus_one`,
    /// `i32_min`, `i32_max`, else `n<value>` / `minus_<value>`.
    pub fn slug(self) -> String {
        match self {
            Backlog::Somaxconn => "somaxconn".into(),
            Backlog::Value(0) => "zero".into(),
            Backlog::Value(1) => "one".into(),
            Backlog::Value(5) => "five".into(),
            Backlog::Value(-1) => "minus_one".into(),
            Backlog::Value(i32::MIN) => "i32_min".into(),
            Backlog::Value(i32::MAX) => "i32_max".into(),
            Backlog::Value(v) if v < 0 => format!("minus_{}", v.unsigned_abs()),
            Backlog::Value(v) => format!("n{v}"),
        }
    }
}

/// Why a backlog word could not be read; each displays as one line for the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BacklogParseError {
    /// Nothing between two commas.
    #[error("empty backlog value")]
    Empty,
    /// An integer that is not an `i32`.
    #[error("backlog {0} is outside i32 ({min}..={max})", min = i32::MIN, max = i32::MAX)]
    OutOfRange(i64),
    /// Neither an integer nor a backlog word.
    #[error("'{0}' is not a backlog: use an integer, somaxconn, i32::min or i32::max")]
    NotABacklog(String),
}

impl FromStr for Backlog {
    type Err = BacklogParseError;

    /// Accepts an i32 (`-1`, `4096`), `somaxconn`, `i32::min`/`min` and `i32::max`/`max`,
    /// case-insensitively.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let word = text.trim().to_ascii_lowercase();
        match word.as_str() {
            "somaxconn" => return Ok(Backlog::Somaxconn),
            "i32::min" | "min" => return Ok(Backlog::Value(i32::MIN)),
            "i32::max" | "max" => return Ok(Backlog::Value(i32::MAX)),
            "" => return Err(BacklogParseError::Empty),
            _ => {}
        }
        match word.parse::<i64>() {
            Ok(v) => i32::try_from(v)
                .map(Backlog::Value)
                .map_err(|_| BacklogParseError::OutOfRange(v)),
            Err(_) => Err(BacklogParseError::NotABacklog(text.trim().to_string())),
        }
    }
}

/// Parse a comma-separated backlog list; duplicates (after resolving `somaxconn`) are kept once.
pub fn parse_backlog_list(text: &str) -> Result<Vec<Backlog>, BacklogParseError> {
    let mut out: Vec<Backlog> = Vec::new();
    for part in text.split(',') {
        let backlog: Backlog = part.parse()?;
        if !out.iter().any(|b| b.value() == backlog.value()) {
            out.push(backlog);
        }
    }
    Ok(out)
}

/// One experiment: a family and a backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseSpec {
    /// Loopback family.
    pub family: Family,
    /// Backlog passed to `listen()`.
    pub backlog: Backlog,
}

impl CaseSpec {
    /// `ipv4_backlog_zero`-style name, used for snapshots.
    pub fn name(&self) -> String {
        format!("{}_backlog_{}", self.family, self.backlog.slug())
    }
}

/// The cases for families × backlogs, family-major.
pub fn matrix(families: &[Family], backlogs: &[Backlog]) -> Vec<CaseSpec> {
    families
        .iter()
        .flat_map(|&family| {
            backlogs
                .iter()
                .map(move |&backlog| CaseSpec { family, backlog })
        })
        .collect()
}

/// Knobs of a run that are not per case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Stop filling a queue after this many completed connections.
    pub cap: u32,
    /// End the whole run after this many milliseconds: unfinished cases are reported as
    /// inconclusive, cases not yet started as not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// With `run --repeat N`: how many times the whole matrix ran (the report shows the first
    /// run, and each case's `stability` over all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
}

impl Settings {
    /// The default cap: above every default somaxconn in use (65535 is the largest value
    /// runtimes clamp to), so a case that reaches it is a finding, not a limit of the harness.
    pub const DEFAULT_CAP: u32 = 70_000;
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cap: Self::DEFAULT_CAP,
            deadline_ms: None,
            repeat: None,
        }
    }
}

/// A whole run: which families and backlogs ([`matrix`] of them), with the run's [`Settings`].
/// [`crate::measure_matrix`] measures one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The loopback families, each with every backlog.
    pub families: Vec<Family>,
    /// The backlogs passed to `listen()`.
    pub backlogs: Vec<Backlog>,
    /// The cap on connections per case, and the run's deadline.
    pub settings: Settings,
}

impl Plan {
    /// `families` × `backlogs` with the default [`Settings`].
    pub fn new(families: &[Family], backlogs: &[Backlog]) -> Self {
        Plan {
            families: families.to_vec(),
            backlogs: backlogs.to_vec(),
            settings: Settings::default(),
        }
    }

    /// The cases of the plan, family-major.
    pub fn cases(&self) -> Vec<CaseSpec> {
        matrix(&self.families, &self.backlogs)
    }
}

impl Default for Plan {
    /// What `backlog-probe run` measures: both families × [`Backlog::DEFAULTS`].
    fn default() -> Self {
        Plan::new(&Family::ALL, &Backlog::DEFAULTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_words_parse() {
        let cases = [
            ("0", Backlog::Value(0)),
            ("-1", Backlog::Value(-1)),
            (" 5 ", Backlog::Value(5)),
            ("SOMAXCONN", Backlog::Somaxconn),
            ("i32::MIN", Backlog::Value(i32::MIN)),
            ("max", Backlog::Value(i32::MAX)),
            ("-2147483648", Backlog::Value(i32::MIN)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Backlog>().unwrap(), expected, "{text}");
        }
    }

    #[rstest::rstest]
    #[case("", BacklogParseError::Empty)]
    #[case("five", BacklogParseError::NotABacklog("five".into()))]
    #[case("2147483648", BacklogParseError::OutOfRange(2_147_483_648))]
    #[case("-2147483649", BacklogParseError::OutOfRange(-2_147_483_649))]
    #[case("1.5", BacklogParseError::NotABacklog("1.5".into()))]
    #[case("0x10", BacklogParseError::NotABacklog("0x10".into()))]
    #[case("--1", BacklogParseError::NotABacklog("--1".into()))]
    fn bad_backlogs_are_rejected_with_a_reason(#[case] text: &str, #[case] why: BacklogParseError) {
        let err = text.parse::<Backlog>().unwrap_err();
        assert_eq!(err, why, "{text}");
        let line = err.to_string();
        assert!(!line.is_empty() && !line.contains('\n'), "{line}");
    }

    #[test]
    fn list_keeps_order_and_drops_duplicates() {
        let list = parse_backlog_list("5,0,5,-1").unwrap();
        assert_eq!(
            list,
            vec![Backlog::Value(5), Backlog::Value(0), Backlog::Value(-1)]
        );
        assert!(parse_backlog_list("1,,2").is_err());
    }

    #[test]
    fn case_names_read_as_identifiers() {
        let spec = CaseSpec {
            family: Family::Ipv6,
            backlog: Backlog::Value(i32::MIN),
        };
        assert_eq!(spec.name(), "ipv6_backlog_i32_min");
        assert_eq!(Backlog::Value(-7).slug(), "minus_7");
        assert_eq!(Backlog::Value(64).slug(), "n64");
    }
}
