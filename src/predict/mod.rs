//! The prediction model: what each OS's kernel source or documentation says `listen(fd, backlog)`
//! should do, as data.
//!
//! A [`Prediction`] is never a measurement. The harness measures; this module reads the rules
//! out of the kernel sources and vendor documentation (each rule names its [`Prediction::source`])
//! so a report can put the expected value *beside* the measured one and mark every
//! disagreement. Nothing here is ever written into a measured field of a
//! [`CaseReport`]: predictions live in their own [`CasePrediction`] object.
//!
//! Rules, by OS family:
//!
//! | OS | effective queue | a full queue looks like |
//! |---|---|---|
//! | Linux | `min(backlog as u32, somaxconn) + 1` | SYN dropped silently |
//! | macOS | `backlog <= 0` or `> somaxconn` → somaxconn; no `+ 1` | SYN dropped silently |
//! | FreeBSD | `backlog < 0` or `> somaxconn` → somaxconn; then `⌊3·b/2⌋ + 1` | handshake completes, then RST |
//! | Windows | plain backlogs up to about 200 (documented only); negatives are `SOMAXCONN_HINT`, clamped to 200..65535 | RST, reported as WSAECONNREFUSED after about 2 s of client retries |

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod runtimes;

use crate::classify::tcp::OverflowKind;
use crate::environment::Environment;
use crate::report::{CasePrediction, CaseReport, Confidence, Report};

/// An OS family the model has rules for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    /// Linux.
    Linux,
    /// macOS (XNU).
    Macos,
    /// FreeBSD.
    Freebsd,
    /// Windows (Winsock, Microsoft TCP/IP provider).
    Windows,
}

impl OsFamily {
    /// Every family, in the order documents list them.
    pub const ALL: [OsFamily; 4] = [
        OsFamily::Linux,
        OsFamily::Macos,
        OsFamily::Freebsd,
        OsFamily::Windows,
    ];

    /// The family for a `std::env::consts::OS` value (`linux`, `macos`, `freebsd`, `windows`).
    pub fn from_target_os(target_os: &str) -> Option<Self> {
        match target_os {
            "linux" => Some(OsFamily::Linux),
            "macos" => Some(OsFamily::Macos),
            "freebsd" => Some(OsFamily::Freebsd),
            "windows" => Some(OsFamily::Windows),
            _ => None,
        }
    }

    /// `linux`, `macos`, `freebsd` or `windows` (the `target_os` spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Linux => "linux",
            OsFamily::Macos => "macos",
            OsFamily::Freebsd => "freebsd",
            OsFamily::Windows => "windows",
        }
    }

    /// `Linux`, `macOS`, `FreeBSD` or `Windows`.
    pub fn display_name(self) -> &'static str {
        match self {
            OsFamily::Linux => "Linux",
            OsFamily::Macos => "macOS",
            OsFamily::Freebsd => "FreeBSD",
            OsFamily::Windows => "Windows",
        }
    }
}

impl fmt::Display for OsFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The system limits a rule depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The platform `SOMAXCONN` constant: what `listen(fd, SOMAXCONN)` passes.
    pub somaxconn_constant: i64,
    /// The system's own clamp (`net.core.somaxconn`, `kern.ipc.somaxconn`,
    /// `kern.ipc.soacceptqueue`), where the OS has one and it was read.
    pub somaxconn_setting: Option<i64>,
    /// macOS `kern.ipc.soqlimitcompat` (1 by default: no 3/2 factor).
    pub soqlimitcompat: Option<i64>,
    /// Linux `net.ipv4.tcp_syncookies` (1 by default); only backlog 0 depends on it.
    pub syncookies: Option<i64>,
}

impl Limits {
    /// The out-of-the-box limits of each family (os-semantics §5 and §8): Linux 4096 (since
    /// 5.4, glibc `SOMAXCONN` 4096), macOS and FreeBSD 128, Windows `SOMAXCONN` = 0x7fffffff.
    pub fn typical(os: OsFamily) -> Limits {
        match os {
            OsFamily::Linux => Limits {
                somaxconn_constant: 4096,
                somaxconn_setting: Some(4096),
                soqlimitcompat: None,
                syncookies: Some(1),
            },
            OsFamily::Macos => Limits {
                somaxconn_constant: 128,
                somaxconn_setting: Some(128),
                soqlimitcompat: Some(1),
                syncookies: None,
            },
            OsFamily::Freebsd => Limits {
                somaxconn_constant: 128,
                somaxconn_setting: Some(128),
                soqlimitcompat: None,
                syncookies: None,
            },
            OsFamily::Windows => Limits {
                somaxconn_constant: i64::from(i32::MAX),
                somaxconn_setting: None,
                soqlimitcompat: None,
                syncookies: None,
            },
        }
    }

    /// The limits recorded in a report's environment.
    pub fn from_environment(environment: &Environment) -> Limits {
        let setting = |name: &str| {
            environment
                .settings
                .get(name)
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        Limits {
            somaxconn_constant: environment.somaxconn.constant,
            somaxconn_setting: environment.somaxconn.setting,
            soqlimitcompat: setting("kern.ipc.soqlimitcompat"),
            syncookies: setting("net.ipv4.tcp_syncookies"),
        }
    }

    /// The clamp the kernel applies: the setting where known, else the constant.
    pub fn somaxconn(&self) -> i64 {
        self.somaxconn_setting.unwrap_or(self.somaxconn_constant)
    }
}

/// What the model expects for one backlog on one OS family. Data, not a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    /// Connections a client can complete before the first overflow; `None` when the sources
    /// leave it open.
    pub queue_length: Option<u32>,
    /// What the first connection that does not fit should see.
    pub overflow: OverflowKind,
    /// When and how the client notices, in words.
    pub client_notices: &'static str,
    /// The formula, in words.
    pub rule: &'static str,
    /// Where the rule comes from: a kernel file and function, or a documentation URL.
    pub source: &'static str,
    /// How firmly the rule is known.
    pub confidence: Confidence,
}

const LINUX_SOURCE: &str = "net/socket.c __sys_listen_socket() (clamp); include/net/sock.h sk_acceptq_is_full() (`>`: N+1); net/ipv4/tcp_input.c tcp_conn_request() (drop)";
const LINUX_NOTICES: &str = "no error: the SYN is retransmitted at 1, 2, 3, 4, 5, 7, 11 … s and gets in once a slot frees; ETIMEDOUT after about 131 s";
const MACOS_SOURCE: &str = "xnu bsd/kern/uipc_socket.c solisten() (clamp); bsd/kern/uipc_socket2.c sonewconn_internal() (full test); bsd/netinet/tcp_input.c (drop)";
const MACOS_NOTICES: &str = "no error: the SYN is retransmitted at 1, 2, 3, 4, 5, 7, 11 … s; ETIMEDOUT at 75 s (net.inet.tcp.keepinit)";
const FREEBSD_SOURCE: &str = "sys/kern/uipc_socket.c solisten_proto() (clamp), solisten_clone() (`sol_qlen > 3*sol_qlimit/2`); sys/netinet/tcp_syncache.c rst_on_sock_fail=1";
const FREEBSD_NOTICES: &str = "connect() succeeds (the syncache answers the SYN), then the final ACK is answered with RST: ECONNRESET on the next I/O";
const WINDOWS_LISTEN_DOC: &str =
    "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen";
const WINDOWS_NOTICES: &str =
    "RST to the SYN; a Windows client retries and reports WSAECONNREFUSED after about 2 s";

fn clamp_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// What the model expects for `listen(fd, backlog)` on `os` with these limits.
pub fn predict(os: OsFamily, backlog: i32, limits: &Limits) -> Prediction {
    match os {
        OsFamily::Linux => linux(backlog, limits),
        OsFamily::Macos => macos(backlog, limits),
        OsFamily::Freebsd => freebsd(backlog, limits),
        OsFamily::Windows => windows(backlog),
    }
}

fn linux(backlog: i32, limits: &Limits) -> Prediction {
    // The cast to unsigned makes every negative backlog huge, so it clamps to somaxconn.
    let somaxconn = clamp_u32(limits.somaxconn());
    let clamped = (backlog as u32).min(somaxconn);
    let base = Prediction {
        queue_length: Some(clamped.saturating_add(1)),
        overflow: OverflowKind::Dropped,
        client_notices: LINUX_NOTICES,
        rule: "min(backlog as u32, somaxconn) + 1: negatives become huge unsigned values and clamp to somaxconn; the full test is `>`, so N queues N + 1",
        source: LINUX_SOURCE,
        confidence: Confidence::Source,
    };
    if clamped == 0 && limits.syncookies == Some(0) {
        // Before commit 3479c7549fb1 (6.13, backported Jan 2025) the SYN-queue test was `>=`,
        // so with syncookies off a zero backlog admitted nothing.
        return Prediction {
            queue_length: None,
            rule: "a clamped backlog of 0 admits 1 on kernels with commit 3479c7549fb1 (6.13; stable backports Jan 2025), 0 before it when tcp_syncookies=0",
            source: "include/net/inet_connection_sock.h inet_csk_reqsk_queue_is_full(); commit 3479c7549fb1",
            confidence: Confidence::Low,
            ..base
        };
    }
    base
}

fn macos(backlog: i32, limits: &Limits) -> Prediction {
    let somaxconn = limits.somaxconn();
    let stored = if backlog <= 0 || i64::from(backlog) > somaxconn {
        somaxconn
    } else {
        i64::from(backlog)
    };
    let base = Prediction {
        queue_length: Some(clamp_u32(stored)),
        overflow: OverflowKind::Dropped,
        client_notices: MACOS_NOTICES,
        rule: "backlog <= 0 or > somaxconn becomes somaxconn; the queue holds exactly that many (no + 1; incomplete and completed count together)",
        source: MACOS_SOURCE,
        confidence: Confidence::Source,
    };
    if stored > i64::from(i16::MAX) {
        return Prediction {
            queue_length: None,
            rule: "so_qlimit is a short: a clamped backlog above 32767 truncates",
            source: "xnu bsd/sys/socketvar.h (short so_qlimit); bsd/kern/uipc_socket.c solisten()",
            confidence: Confidence::Low,
            ..base
        };
    }
    if limits.soqlimitcompat == Some(0) {
        return Prediction {
            queue_length: Some(clamp_u32(3 * stored / 2)),
            rule: "with kern.ipc.soqlimitcompat=0 the full test is so_qlen >= 3*so_qlimit/2",
            ..base
        };
    }
    base
}

fn freebsd(backlog: i32, limits: &Limits) -> Prediction {
    let somaxconn = limits.somaxconn();
    let stored = if backlog < 0 || i64::from(backlog) > somaxconn {
        somaxconn
    } else {
        i64::from(backlog)
    };
    Prediction {
        queue_length: Some(clamp_u32(3 * stored / 2 + 1)),
        overflow: OverflowKind::Reset,
        client_notices: FREEBSD_NOTICES,
        rule: "backlog < 0 or > somaxconn becomes somaxconn (0 stays 0); the full test is `sol_qlen > 3*q/2`, so floor(3q/2) + 1 queue",
        source: FREEBSD_SOURCE,
        confidence: Confidence::Source,
    }
}

fn windows(backlog: i32) -> Prediction {
    let base = Prediction {
        queue_length: None,
        overflow: OverflowKind::Refused,
        client_notices: WINDOWS_NOTICES,
        rule: "",
        source: WINDOWS_LISTEN_DOC,
        confidence: Confidence::Low,
    };
    match backlog {
        i32::MIN => Prediction {
            rule: "SOMAXCONN_HINT(b) is -(b): -(INT_MIN) overflows, so the value is undefined",
            ..base
        },
        b if b < 0 => {
            let hint = i64::from(b).unsigned_abs().clamp(200, 65535);
            Prediction {
                queue_length: Some(u32::try_from(hint).unwrap_or(65535)),
                rule: "a negative backlog is SOMAXCONN_HINT(-b), documented as adjusted into 200..65535",
                confidence: Confidence::Documented,
                ..base
            }
        }
        0 => Prediction {
            rule: "backlog 0 is not documented (\"illegal values are replaced by the nearest legal value\")",
            ..base
        },
        i32::MAX => Prediction {
            queue_length: Some(200),
            rule: "SOMAXCONN (0x7fffffff) means \"a maximum reasonable value\", reported as typically 200 (low confidence)",
            source: "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen; microsoft/CSS_SQL_Networking_Tools wiki \"Server has a Connection Backlog\"",
            ..base
        },
        b if b > 200 => Prediction {
            queue_length: Some(200),
            rule: "a plain backlog above 200 is capped at about 200 (low confidence: openjdk/jdk PR #25819, the \"Weave\" measurement)",
            source: "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen; openjdk/jdk PR #25819",
            ..base
        },
        b => Prediction {
            queue_length: Some(clamp_u32(i64::from(b))),
            rule: "a plain backlog up to about 200 is used as given (documented only; low confidence: icerpc-csharp #4099 saw 30-47 for 18)",
            ..base
        },
    }
}

/// Whether a measured case matches a prediction (`None` when the comparison says nothing).
pub fn agreement(prediction: &Prediction, case: &CaseReport) -> Option<bool> {
    let predicted = prediction.queue_length?;
    let measured = case.queue_length?;
    match case.overflow.kind {
        // The cap ended the case: only a queue already longer than predicted is a finding.
        OverflowKind::None => (measured > predicted).then_some(false),
        OverflowKind::ListenFailed | OverflowKind::Unavailable | OverflowKind::Inconclusive => None,
        kind => Some(measured == predicted && kind == prediction.overflow),
    }
}

/// The prediction for a measured case of a report, or `None` for an OS the model has no rules
/// for.
pub fn for_case(environment: &Environment, case: &CaseReport) -> Option<CasePrediction> {
    let os = OsFamily::from_target_os(&environment.target_os)?;
    let prediction = predict(os, case.backlog, &Limits::from_environment(environment));
    // Under an emulator the TCP stack is the host's, so a comparison would mislead.
    let agrees = if environment.emulator.is_some() {
        None
    } else {
        agreement(&prediction, case)
    };
    Some(CasePrediction {
        queue_length: prediction.queue_length,
        overflow: prediction.overflow,
        rule: prediction.rule.to_string(),
        source: prediction.source.to_string(),
        confidence: prediction.confidence,
        agrees,
    })
}

/// Fill every case's `prediction` from the report's own environment.
pub fn annotate(report: &mut Report) {
    for case in &mut report.cases {
        case.prediction = for_case(&report.environment, case);
    }
}

#[cfg(test)]
mod tests;
