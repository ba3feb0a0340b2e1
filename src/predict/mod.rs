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
//! | Linux | `min(backlog as u32, somaxconn) + 1`; with `tcp_syncookies=0`, `listen(0)` admits 0 on kernels without commit 3479c7549fb1 ([`kernel`]) | SYN dropped silently |
//! | macOS | `backlog <= 0` or `> somaxconn` → somaxconn, stored in a `short`; no `+ 1` | SYN dropped silently |
//! | FreeBSD | `backlog < 0` or `> somaxconn` → somaxconn; then `⌊3·b/2⌋ + 1` | handshake completes, then RST |
//! | Windows | plain backlogs up to 200 undocumented (unknown), above 200 about 200; negatives are `SOMAXCONN_HINT`, clamped to 200..65535 | RST, reported as WSAECONNREFUSED after about 2 s of client retries |
//! | gVisor (netstack, under `runsc`) | `min(backlog as u32, 1024) + 1`, whatever somaxconn or syncookies say | SYN dropped silently |
//!
//! The Linux rules read the kernel version where the source says behaviour changed
//! ([`kernel`]); under gVisor they never apply, since its TCP is netstack, not Linux, and its
//! `uname -r` is made up.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod kernel;
pub mod relisten;
pub mod runtimes;

use crate::classify::tcp::OverflowKind;
use crate::environment::Environment;
use crate::report::{CasePrediction, CaseReport, Confidence, Report};
use crate::sys::Sandbox;
use kernel::{KernelVersion, ZeroBacklogFix};

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
    /// gVisor's netstack: a Linux binary's sockets under `runsc`, a TCP stack of its own. Not an
    /// OS of [`OsFamily::ALL`]; chosen from a report's `environment.sandbox`.
    Gvisor,
}

impl OsFamily {
    /// Every OS, in the order documents list them (gVisor, a sandbox, is not one of them).
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

    /// The family whose rules apply to a run: gVisor's under gVisor (its TCP stack is its own,
    /// whatever the binary's target), else the target OS's.
    pub fn of(environment: &Environment) -> Option<Self> {
        if environment.sandbox == Some(Sandbox::Gvisor) {
            return Some(OsFamily::Gvisor);
        }
        OsFamily::from_target_os(&environment.target_os)
    }

    /// `linux`, `macos`, `freebsd`, `windows` (the `target_os` spelling) or `gvisor`.
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Linux => "linux",
            OsFamily::Macos => "macos",
            OsFamily::Freebsd => "freebsd",
            OsFamily::Windows => "windows",
            OsFamily::Gvisor => "gvisor",
        }
    }

    /// `Linux`, `macOS`, `FreeBSD`, `Windows` or `gVisor`.
    pub fn display_name(self) -> &'static str {
        match self {
            OsFamily::Linux => "Linux",
            OsFamily::Macos => "macOS",
            OsFamily::Freebsd => "FreeBSD",
            OsFamily::Windows => "Windows",
            OsFamily::Gvisor => "gVisor",
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
    /// Linux `net.ipv4.tcp_syn_linear_timeouts` (4 by default from 6.5); `Some(0)` also when
    /// the report read the other TCP knobs and this one did not exist (a kernel before 6.5).
    pub syn_linear_timeouts: Option<i64>,
    /// The Linux kernel's upstream version, from `uname -r` and `uname -v` ([`kernel`]).
    pub kernel: Option<KernelVersion>,
}

impl Limits {
    /// The out-of-the-box limits of each family (os-semantics §5 and §8): Linux 4096 (since
    /// 5.4, glibc `SOMAXCONN` 4096; the kernel version unknown), macOS and FreeBSD 128, Windows
    /// `SOMAXCONN` = 0x7fffffff; gVisor none that it obeys (the libc constant is passed).
    pub fn typical(os: OsFamily) -> Limits {
        match os {
            OsFamily::Linux => Limits {
                somaxconn_constant: 4096,
                somaxconn_setting: Some(4096),
                soqlimitcompat: None,
                syncookies: Some(1),
                syn_linear_timeouts: Some(4),
                kernel: None,
            },
            OsFamily::Macos => Limits {
                somaxconn_constant: 128,
                somaxconn_setting: Some(128),
                soqlimitcompat: Some(1),
                syncookies: None,
                syn_linear_timeouts: None,
                kernel: None,
            },
            OsFamily::Freebsd => Limits {
                somaxconn_constant: 128,
                somaxconn_setting: Some(128),
                soqlimitcompat: None,
                syncookies: None,
                syn_linear_timeouts: None,
                kernel: None,
            },
            OsFamily::Windows => Limits {
                somaxconn_constant: i64::from(i32::MAX),
                somaxconn_setting: None,
                soqlimitcompat: None,
                syncookies: None,
                syn_linear_timeouts: None,
                kernel: None,
            },
            OsFamily::Gvisor => Limits {
                somaxconn_constant: 4096,
                somaxconn_setting: None,
                soqlimitcompat: None,
                syncookies: None,
                syn_linear_timeouts: None,
                kernel: None,
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
        let read_tcp_knobs = environment
            .settings
            .keys()
            .any(|k| k.starts_with("net.ipv4.tcp_"));
        let kernel = if environment.target_os == "linux" {
            environment.kernel.as_deref().and_then(|release| {
                KernelVersion::parse(
                    release,
                    environment
                        .settings
                        .get("kernel.version")
                        .map(String::as_str),
                )
            })
        } else {
            None
        };
        Limits {
            somaxconn_constant: environment.somaxconn.constant,
            somaxconn_setting: environment.somaxconn.setting,
            soqlimitcompat: setting("kern.ipc.soqlimitcompat"),
            syncookies: setting("net.ipv4.tcp_syncookies"),
            syn_linear_timeouts: setting("net.ipv4.tcp_syn_linear_timeouts")
                .or(read_tcp_knobs.then_some(0)),
            kernel,
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
const LINUX_NOTICES_LINEAR: &str = "no error: the SYN is dropped and retransmitted at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s (tcp_syn_linear_timeouts=4, the default from Linux 6.5, commit ccce324dabfe) and gets in once a slot frees; ETIMEDOUT after about 131 s";
const LINUX_NOTICES_EXPONENTIAL: &str = "no error: the SYN is dropped and retransmitted at 1, 3, 7, 15, 31, 63 s (no linear SYN timeouts: a kernel before 6.5, or tcp_syn_linear_timeouts=0) and gets in once a slot frees; ETIMEDOUT after about 127 s";
const LINUX_NOTICES_OTHER_LINEAR: &str = "no error: the SYN is dropped and retransmitted, the first tcp_syn_linear_timeouts retries 1 s apart and then doubling, and gets in once a slot frees";
const LINUX_NOTICES_EITHER: &str = "no error: the SYN is dropped and retransmitted, at 1, 2, 3, 4, 5, 7, 11 … s on Linux 6.5 and later (tcp_syn_linear_timeouts=4; ETIMEDOUT after about 131 s) or at 1, 3, 7, 15, 31, 63 s before (about 127 s), and gets in once a slot frees";
const LINUX_ZERO_SOURCE: &str = "include/net/inet_connection_sock.h inet_csk_reqsk_queue_is_full(); commit 3479c7549fb1 (6.13) and its stable backports 6.12.10, 6.6.72, 6.1.125, 5.15.177, 5.10.234, 5.4.290";
const LINUX_ZERO_NOTICES: &str = "no error: every SYN is dropped before a SYN-ACK (no cookie to fall back on) and connect() fails with ETIMEDOUT after the SYN retries";
const MACOS_SOURCE: &str = "xnu bsd/kern/uipc_socket.c solisten() (clamp); bsd/kern/uipc_socket2.c sonewconn_internal() (full test); bsd/netinet/tcp_input.c (drop)";
const MACOS_NOTICES: &str = "no error for a one-at-a-time fill: the SYN is dropped and retried with the backoff 1, 1, 1, 1, 1, 2, 4, 8 … (tcp_syn_backoff[]) times an RTO that XNU seeds from the route's cached RTT (tcp_getrt_rtt(), floor TCPTV_REXMTMIN, about 30 ms), so on a warmed-up loopback route the retries can come well under 1 s apart; ETIMEDOUT at 75 s (TCPTV_KEEP_INIT). Under concurrent connects tcp_dropdropablreq() evicts a half-open connection without RST, and its final ACK is then answered with RST (dropwithreset): ECONNRESET";
const FREEBSD_SOURCE: &str = "sys/kern/uipc_socket.c solisten_proto() (clamp); the full test `sol_qlen > 3*sol_qlimit/2` in solisten_clone() (FreeBSD 14 and later) or sonewconn() (13.x, as read in a 13.1-based tree); sys/netinet/tcp_syncache.c rst_on_sock_fail=1";
const FREEBSD_NOTICES: &str = "connect() succeeds (the syncache answers the SYN), then the final ACK is answered with RST: ECONNRESET on the next I/O";
const WINDOWS_LISTEN_DOC: &str =
    "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen";
const WINDOWS_NOTICES: &str =
    "RST to the SYN; a Windows client retries and reports WSAECONNREFUSED after about 2 s";
const GVISOR_SOURCE: &str = "gvisor pkg/sentry/syscalls/linux/sys_socket.go Listen() (`args[1].Uint()`, clamped to maxListenBacklog = 1024, then `backlog++`); pkg/tcpip/transport/tcp/accept.go acceptQueue.isFull() (`endpoints.Len() >= capacity`), handleListenSegment() (SYN dropped: ListenOverflowSynDrop); release-20221219.0 and release-20260817.0 alike";
const GVISOR_NOTICES: &str = "no error: the SYN is dropped (ListenOverflowSynDrop); netstack's own client retries after 1 s and then at doubling intervals (InitialRTO = 1 s, backoffTimer doubles, DefaultSynRetries = 6)";

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
        OsFamily::Gvisor => gvisor(backlog),
    }
}

/// Linux's clamp: the setting where it was read, else the default of the kernel's version
/// (128 before 5.4), else the platform constant.
fn linux_somaxconn(limits: &Limits) -> i64 {
    match (limits.somaxconn_setting, limits.kernel) {
        (Some(setting), _) => setting,
        (None, Some(version)) => kernel::default_somaxconn(version),
        (None, None) => limits.somaxconn_constant,
    }
}

/// How a client of a full Linux queue retries: by `tcp_syn_linear_timeouts` where it was read,
/// else by the kernel version.
fn linux_notices(limits: &Limits) -> &'static str {
    match (limits.syn_linear_timeouts, limits.kernel) {
        (Some(4), _) => LINUX_NOTICES_LINEAR,
        (Some(n), _) if n <= 0 => LINUX_NOTICES_EXPONENTIAL,
        (Some(_), _) => LINUX_NOTICES_OTHER_LINEAR,
        (None, Some(version)) if kernel::has_linear_syn_timeouts(version) => LINUX_NOTICES_LINEAR,
        (None, Some(_)) => LINUX_NOTICES_EXPONENTIAL,
        (None, None) => LINUX_NOTICES_EITHER,
    }
}

fn linux(backlog: i32, limits: &Limits) -> Prediction {
    // The cast to unsigned makes every negative backlog huge, so it clamps to somaxconn.
    let somaxconn = clamp_u32(linux_somaxconn(limits));
    let clamped = (backlog as u32).min(somaxconn);
    let base = Prediction {
        queue_length: Some(clamped.saturating_add(1)),
        overflow: OverflowKind::Dropped,
        client_notices: linux_notices(limits),
        rule: if limits.somaxconn_setting.is_none()
            && limits.kernel.is_some_and(|v| !v.at_least(5, 4))
        {
            "min(backlog as u32, somaxconn) + 1, with somaxconn 128, the default before 5.4 (19f92a030ca6 raised it to 4096); the full test is `>`, so N queues N + 1"
        } else {
            "min(backlog as u32, somaxconn) + 1: negatives become huge unsigned values and clamp to somaxconn; the full test is `>`, so N queues N + 1"
        },
        source: LINUX_SOURCE,
        confidence: Confidence::Source,
    };
    if limits.kernel.is_some_and(kernel::counts_n) {
        return Prediction {
            queue_length: Some(clamped),
            rule: "5.12-rc5 and -rc6 only: sk_acceptq_is_full() tested `>=` (f211ac154577, reverted by c609e6aae4ef in 5.12-rc7), so N queues N",
            source: "include/net/sock.h sk_acceptq_is_full(); commits f211ac154577 and c609e6aae4ef",
            ..base
        };
    }
    if clamped == 0 && limits.syncookies == Some(0) {
        return match kernel::zero_backlog_fix(limits.kernel) {
            ZeroBacklogFix::Present => Prediction {
                rule: "with commit 3479c7549fb1 the SYN-queue test is `>` like the accept queue's: a clamped backlog of 0 admits 1 even with tcp_syncookies=0",
                source: LINUX_ZERO_SOURCE,
                ..base
            },
            ZeroBacklogFix::Absent => Prediction {
                queue_length: Some(0),
                client_notices: LINUX_ZERO_NOTICES,
                rule: "without commit 3479c7549fb1 inet_csk_reqsk_queue_is_full() tests `>=`: a clamped backlog of 0 is always full, and with tcp_syncookies=0 every SYN is dropped",
                source: LINUX_ZERO_SOURCE,
                ..base
            },
            ZeroBacklogFix::Unknown(rule) => Prediction {
                queue_length: None,
                rule,
                source: LINUX_ZERO_SOURCE,
                confidence: Confidence::Low,
                ..base
            },
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
    // `so->so_qlimit = (short)backlog;` (bsd/sys/socketvar.h: `short so_qlimit`): the C cast
    // keeps the low 16 bits, as `as i16` does. A negative limit makes `so_qlen >= so_qlimit`
    // (and the compat-off `3 * so_qlimit / 2`, computed in int) always true.
    let qlimit = i64::from(stored as i16);
    let compat_off = limits.soqlimitcompat == Some(0);
    let admitted = if compat_off { 3 * qlimit / 2 } else { qlimit };
    if stored > i64::from(i16::MAX) {
        return Prediction {
            queue_length: Some(clamp_u32(admitted)),
            rule: "so_qlimit is a short: a clamped backlog of 32768-65535 turns negative and the full test so_qlen >= so_qlimit always holds, so nothing is admitted (larger values wrap modulo 65536)",
            source: "xnu bsd/sys/socketvar.h (short so_qlimit); bsd/kern/uipc_socket.c solisten() (`so->so_qlimit = (short)backlog`); bsd/kern/uipc_socket2.c sonewconn_internal()",
            ..base
        };
    }
    if compat_off {
        return Prediction {
            queue_length: Some(clamp_u32(admitted)),
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
            rule: "i32::MIN is no SOMAXCONN_HINT(n): -(n) = INT_MIN has no 32-bit solution, and how the provider decodes a negative backlog that no hint produces is not documented",
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
            rule: "a plain backlog above 200 is capped at about 200 (low confidence: c-schembri/weave measured 200 for a plain listen(8192) on one Windows 11 host, 3 of 3 runs)",
            source: "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen; https://github.com/c-schembri/weave/blob/855f392a781dbf42a7c41e8598874ed66d2baa86/docs/tcp-backlog.md",
            ..base
        },
        _ => Prediction {
            rule: "a plain backlog from 1 to 200 is not documented (\"limited (silently) to a reasonable value\"); icerpc-csharp completed 30 and 47 connections for Listen(18) (issue #4099, PR #4100)",
            source: "https://learn.microsoft.com/en-us/windows/win32/api/winsock2/nf-winsock2-listen; https://github.com/icerpc/icerpc-csharp/issues/4099; https://github.com/icerpc/icerpc-csharp/pull/4100",
            ..base
        },
    }
}

/// gVisor's netstack, read at release-20221219.0 (Debian 12's runsc) and release-20260817.0:
/// the system call layer reads the backlog as unsigned, clamps it to 1024 (not to somaxconn,
/// whose /proc file is a static text) and adds one; the accept queue is full at
/// `endpoints.Len() >= capacity`, so N queues N + 1; a SYN meeting a full queue is dropped.
/// There is no `tcp_syncookies=0`: a zero backlog's SYN queue answers with cookies, and 1 gets
/// in.
fn gvisor(backlog: i32) -> Prediction {
    let clamped = (backlog as u32).min(1024);
    Prediction {
        queue_length: Some(clamped + 1),
        overflow: OverflowKind::Dropped,
        client_notices: GVISOR_NOTICES,
        rule: "min(backlog as u32, 1024) + 1: read as unsigned and clamped to the constant 1024 whatever somaxconn says, then one more; the full test is `>=` on that, so N queues N + 1; syncookies cannot be turned off",
        source: GVISOR_SOURCE,
        confidence: Confidence::Source,
    }
}

/// Linux's SYN retransmissions with `tcp_syn_linear_timeouts=4` (6.5 and later), in seconds
/// after the connect: ip-sysctl.rst "67seconds (with tcp_syn_linear_timeouts = 4) till the last
/// retransmission".
pub const LINEAR_SYN_RETRANSMISSIONS: [u32; 10] = [1, 2, 3, 4, 5, 7, 11, 19, 35, 67];
/// Exponential backoff from a 1 s RTO with 6 retries: Linux before 6.5 ("63seconds till the last
/// retransmission"), and gVisor's netstack (InitialRTO 1 s, doubling).
pub const EXPONENTIAL_SYN_RETRANSMISSIONS: [u32; 6] = [1, 3, 7, 15, 31, 63];

/// When a client whose SYN meets a full queue retransmits it, in seconds after its connect, by
/// the source, for the client's stack on loopback; `None` where the source does not fix it
/// (macOS seeds the RTO from the route's cached RTT; a Linux kernel of unknown version; Windows
/// and FreeBSD, whose clients are not timed here).
pub fn syn_retransmissions(os: OsFamily, limits: &Limits) -> Option<&'static [u32]> {
    match os {
        OsFamily::Linux => match linux_notices(limits) {
            LINUX_NOTICES_LINEAR => Some(&LINEAR_SYN_RETRANSMISSIONS),
            LINUX_NOTICES_EXPONENTIAL => Some(&EXPONENTIAL_SYN_RETRANSMISSIONS),
            _ => None,
        },
        OsFamily::Gvisor => Some(&EXPONENTIAL_SYN_RETRANSMISSIONS),
        OsFamily::Macos | OsFamily::Freebsd | OsFamily::Windows => None,
    }
}

/// Whether measured retransmission times (seconds after the connect, within `window_s`) match a
/// schedule: the same count, each within half a second.
pub fn retransmissions_agree(schedule: &[u32], measured: &[f64], window_s: f64) -> bool {
    let expected: Vec<f64> = schedule
        .iter()
        .map(|&t| f64::from(t))
        .filter(|&t| t < window_s)
        .collect();
    expected.len() == measured.len()
        && expected
            .iter()
            .zip(measured)
            .all(|(e, m)| (e - m).abs() < 0.5)
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
    let os = OsFamily::of(environment)?;
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
