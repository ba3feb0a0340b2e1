//! Argument types more than one subcommand shares.

use clap::ValueEnum;

use backlog_probe::plan::{self, Backlog, Family};

/// One loopback family (`burst`, `hold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    /// 127.0.0.1.
    Ipv4,
    /// ::1.
    Ipv6,
}

impl From<FamilyArg> for Family {
    fn from(arg: FamilyArg) -> Self {
        match arg {
            FamilyArg::Ipv4 => Family::Ipv4,
            FamilyArg::Ipv6 => Family::Ipv6,
        }
    }
}

/// The loopback families `run` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FamiliesArg {
    /// 127.0.0.1 only.
    Ipv4,
    /// ::1 only (exit 2 if IPv6 is unavailable).
    Ipv6,
    /// Both; an unavailable family is reported as such in its cases.
    Both,
}

impl FamiliesArg {
    /// The families, IPv4 first.
    pub fn families(self) -> Vec<Family> {
        match self {
            FamiliesArg::Ipv4 => vec![Family::Ipv4],
            FamiliesArg::Ipv6 => vec![Family::Ipv6],
            FamiliesArg::Both => Family::ALL.to_vec(),
        }
    }
}

/// A parsed `--backlog` list (a newtype, so clap takes the whole list as one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogList(pub Vec<Backlog>);

/// clap's parser for `--backlog LIST`.
pub fn parse_backlogs(text: &str) -> Result<BacklogList, String> {
    plan::parse_backlog_list(text)
        .map(BacklogList)
        .map_err(|e| e.to_string())
}
