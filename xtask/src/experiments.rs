//! What runs on every stack, and the file each output is written to.

use serde_json::Value;
use stack_files::StackFile;

/// The backlogs of the knob worlds: below, at and above somaxconn 16 (tests/worlds.rs uses
/// subsets of these on the host).
const WORLD_BACKLOGS: &str = "--backlog=0,1,5,16,17,100,-1";

/// What an output is, which decides its file name and how it is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `run --format json`: the default matrix.
    Report,
    /// `run --sysctl KNOB --backlog=...`: a knob world, named for its file (`somaxconn_16`).
    World {
        name: &'static str,
        sysctl: &'static str,
    },
    /// `extras --format json --runtimes python`.
    Extras,
    /// `burst --format json`.
    Burst,
    /// The guest script [`SYN_RETRANSMISSIONS`]: when a client whose SYN meets a full queue
    /// retransmits it. Kernels only: gVisor's `/proc/net/netstat` counters are zeros.
    SynRetransmissions,
}

/// One invocation of backlog-probe.
pub struct Experiment {
    /// A short step name for progress lines and the guest's markers (`report`,
    /// `world-somaxconn_16`, ...).
    pub step: &'static str,
    pub kind: Kind,
    /// The arguments to backlog-probe (a world's knob and backlogs follow them, see
    /// [`Experiment::args`]).
    args: &'static [&'static str],
}

/// A guest script (busybox sh) that times one client's SYN retransmissions: `backlog-probe hold
/// --backlog 0` keeps a listener full, busybox `nc` connects to it, and the script polls the
/// kernel's `TcpExt TCPSynRetrans` counter in `/proc/net/netstat` every 0.1 s for 9 s, printing
/// each increase's time after the connect as JSON. Linux 6.5+ (linear timeouts) should show
/// 1, 2, 3, 4, 5, 7 s; older kernels 1, 3, 7 s.
pub const SYN_RETRANSMISSIONS: &str = r#"#!/bin/busybox sh
retrans() {
  awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "TCPSynRetrans") c = i; h = 1 } else if (c) print $c }' /proc/net/netstat
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
[ -n "$(retrans)" ] || { echo "no TcpExt TCPSynRetrans in /proc/net/netstat" >&2; exit 1; }
/bin/backlog-probe hold --backlog 0 --for 12 >/tmp/hold.out 2>/tmp/hold.err &
hold=$!
n=0
while [ ! -s /tmp/hold.out ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
addr=$(head -n 1 /tmp/hold.out)
[ -n "$addr" ] || { echo "hold printed no address" >&2; cat /tmp/hold.err >&2; exit 1; }
last=$(retrans)
start=$(uptime_s)
nc -w 12 "${addr%:*}" "${addr##*:}" </dev/null >/dev/null 2>&1 &
client=$!
times=""
while :; do
  now=$(uptime_s)
  elapsed=$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.2f", a - b }')
  awk -v e="$elapsed" 'BEGIN { exit !(e >= 9) }' && break
  count=$(retrans)
  if [ "$count" != "$last" ]; then
    # Two retransmissions within one poll are listed at the same time.
    while [ "$last" -lt "$count" ]; do times="$times${times:+,}$elapsed"; last=$((last + 1)); done
  fi
  sleep 0.1
done
kill "$client" "$hold" 2>/dev/null
wait
printf '{"schema_version": 1, "kind": "syn_retransmissions", "environment": {"kernel": "%s"}, "backlog": 0, "client": "busybox nc", "counter": "TcpExt TCPSynRetrans", "poll_s": 0.1, "window_s": 9, "times_s": [%s]}
' "$(uname -r)" "$times"
"#;

/// `run` as the default matrix and the worlds call it.
const RUN: &[&str] = &["run", "--format", "json", "--quiet"];

const fn world(step: &'static str, name: &'static str, sysctl: &'static str) -> Experiment {
    Experiment {
        step,
        kind: Kind::World { name, sysctl },
        args: RUN,
    }
}

/// Every experiment, in the order a stack runs them (the longest first).
pub const ALL: &[Experiment] = &[
    Experiment {
        step: "report",
        kind: Kind::Report,
        args: RUN,
    },
    world(
        "world-syncookies_0",
        "syncookies_0",
        "net.ipv4.tcp_syncookies=0",
    ),
    world(
        "world-somaxconn_16",
        "somaxconn_16",
        "net.core.somaxconn=16",
    ),
    world("world-somaxconn_0", "somaxconn_0", "net.core.somaxconn=0"),
    world(
        "world-abort_on_overflow_1",
        "abort_on_overflow_1",
        "net.ipv4.tcp_abort_on_overflow=1",
    ),
    // The stacks are about kernels: of the runtime programs only Python runs there (in a VM
    // it is not installed and says so; gVisor runs the host's), as before the others existed.
    Experiment {
        step: "extras",
        kind: Kind::Extras,
        args: &["extras", "--format", "json", "--runtimes", "python"],
    },
    Experiment {
        step: "burst",
        kind: Kind::Burst,
        args: &[
            "burst",
            "--backlog",
            "5",
            "--clients",
            "64",
            "--format",
            "json",
            "--quiet",
        ],
    },
    Experiment {
        step: "syn-retransmissions",
        kind: Kind::SynRetransmissions,
        args: &[],
    },
];

impl Experiment {
    /// True for what only a kernel guest runs (not gVisor).
    pub fn kernel_only(&self) -> bool {
        self.kind == Kind::SynRetransmissions
    }

    /// The guest command line: backlog-probe with its arguments, or a script.
    pub fn guest_command(&self) -> String {
        match self.kind {
            Kind::SynRetransmissions => "sh /bin/syn-retransmissions".to_string(),
            _ => format!("/bin/backlog-probe {}", self.args().join(" ")),
        }
    }

    /// The arguments to backlog-probe.
    pub fn args(&self) -> Vec<&'static str> {
        let mut args = self.args.to_vec();
        if let Kind::World { sysctl, .. } = self.kind {
            args.extend(["--sysctl", sysctl, WORLD_BACKLOGS]);
        }
        args
    }

    /// The output file for `stack` (`linux-6.1`) on `arch`: `report-linux-6.1-x86_64.json`,
    /// `world-linux-6.1-x86_64-somaxconn_16.json`, `extras-...`, `burst-...`.
    pub fn file_name(&self, stack: &str, arch: &str) -> String {
        let file = match self.kind {
            Kind::Report => StackFile::Report,
            Kind::World { name, .. } => StackFile::World(name),
            Kind::Extras => StackFile::Extras,
            Kind::Burst => StackFile::Burst,
            Kind::SynRetransmissions => StackFile::Retransmissions,
        };
        file.name(&stack_files::key(stack, arch))
    }

    /// backlog-probe's output as it should be written, or why it is not a usable output:
    /// JSON of this kind, at least structurally (the runner does not depend on the library's
    /// types, which are being moved; tests/stacks.rs reads the files with them).
    pub fn check(&self, text: &str) -> Result<String, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("output is not JSON ({e})"))?;
        let has_array = |key: &str| value.get(key).and_then(Value::as_array).is_some();
        let complete = value.get("schema_version").is_some()
            && value.get("environment").is_some()
            && match self.kind {
                Kind::Report => non_empty(&value, "cases"),
                Kind::World { .. } => non_empty(&value, "cases") && value.get("world").is_some(),
                Kind::Extras => has_array("udp") && has_array("unix_domain"),
                Kind::Burst => has_array("outcomes") && has_array("clients"),
                Kind::SynRetransmissions => non_empty(&value, "times_s"),
            };
        if !complete {
            return Err("output is JSON but lacks the fields of its kind".to_string());
        }
        let mut text = text.trim_end().to_string();
        text.push('\n');
        Ok(text)
    }
}

/// For a report or world: the cases whose kernel view (`kernel_queue.queued`) disagrees with
/// the client's count (`queue_length`), as one line, or `None` when all agree. On Linux they
/// agree by construction unless the harness raced the kernel; gVisor's `TCP_INFO` on a
/// listener is not Linux's, so there they disagree.
pub fn view_disagreements(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let cases = value.get("cases")?.as_array()?;
    let disagreeing: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let view = case.get("kernel_queue")?;
            let (queued, count) = (view.get("queued")?, case.get("queue_length")?);
            (!count.is_null() && queued != count).then(|| {
                format!(
                    "{} (client {count}, kernel {queued}/{})",
                    case["name"].as_str().unwrap_or("?"),
                    view["limit"]
                )
            })
        })
        .collect();
    (!disagreeing.is_empty()).then(|| {
        let shown = disagreeing.iter().take(3).cloned().collect::<Vec<_>>();
        format!(
            "the kernel view disagrees with the client count in {} of {} cases: {}{}",
            disagreeing.len(),
            cases.len(),
            shown.join(", "),
            if disagreeing.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )
    })
}

/// For a report or world: the cases that ended inconclusive (`overflow.kind`), with the
/// harness's reason, as one line, or `None` when there are none. A stack's case has no reason
/// to be inconclusive (nothing else runs in the guest), so the runner counts it as a failure.
pub fn inconclusive_cases(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let cases = value.get("cases")?.as_array()?;
    let inconclusive: Vec<String> = cases
        .iter()
        .filter(|case| case["overflow"]["kind"] == "inconclusive")
        .map(|case| {
            format!(
                "{} ({})",
                case["name"].as_str().unwrap_or("?"),
                case["overflow"]["detail"].as_str().unwrap_or("no detail")
            )
        })
        .collect();
    (!inconclusive.is_empty()).then(|| {
        let shown = inconclusive.iter().take(2).cloned().collect::<Vec<_>>();
        format!(
            "{} of {} cases inconclusive: {}{}",
            inconclusive.len(),
            cases.len(),
            shown.join(", "),
            if inconclusive.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )
    })
}

fn non_empty(value: &Value, key: &str) -> bool {
    value
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let names: Vec<String> = ALL
            .iter()
            .map(|e| e.file_name("linux-6.1", "x86_64"))
            .collect();
        assert_eq!(names[0], "report-linux-6.1-x86_64.json");
        assert!(names.contains(&"world-linux-6.1-x86_64-somaxconn_16.json".to_string()));
        assert!(names.contains(&"extras-linux-6.1-x86_64.json".to_string()));
        assert!(names.contains(&"burst-linux-6.1-x86_64.json".to_string()));
        assert!(names.contains(&"retrans-linux-6.1-x86_64.json".to_string()));
    }

    #[test]
    fn the_retransmission_script_prints_its_kind() {
        let retrans = ALL
            .iter()
            .find(|e| e.kind == Kind::SynRetransmissions)
            .unwrap();
        assert!(retrans.kernel_only());
        assert_eq!(retrans.guest_command(), "sh /bin/syn-retransmissions");
        assert_eq!(
            ALL[0].guest_command(),
            "/bin/backlog-probe run --format json --quiet"
        );
        let out = r#"{"schema_version": 1, "kind": "syn_retransmissions", "environment": {"kernel": "6.1.0"}, "times_s": [1.05,3.1]}"#;
        assert!(retrans.check(out).is_ok());
        let none = r#"{"schema_version": 1, "environment": {}, "times_s": []}"#;
        assert!(
            retrans.check(none).is_err(),
            "no retransmission seen is a failure"
        );
        assert!(SYN_RETRANSMISSIONS.contains("TCPSynRetrans"));
    }

    #[test]
    fn worlds_add_their_knob_and_backlogs() {
        assert_eq!(
            ALL[2].args(),
            [
                "run",
                "--format",
                "json",
                "--quiet",
                "--sysctl",
                "net.core.somaxconn=16",
                "--backlog=0,1,5,16,17,100,-1"
            ]
        );
        assert_eq!(ALL[0].args(), RUN);
    }

    #[test]
    fn outputs_are_checked_by_kind() {
        let report = &ALL[0];
        assert!(report.check("{").is_err());
        assert!(report.check(r#"{"schema_version": 1}"#).is_err());
        let text = r#"{"schema_version": 1, "environment": {}, "cases": [{}]}"#;
        assert_eq!(report.check(text).expect("a report"), format!("{text}\n"));
        assert!(ALL[1].check(text).is_err(), "a world records its world");
    }

    #[test]
    fn inconclusive_cases_are_named() {
        let text = r#"{"cases": [
            {"name": "ipv4_backlog_one", "overflow": {"kind": "dropped"}},
            {"name": "ipv4_backlog_five", "overflow": {"kind": "inconclusive", "detail": "fd budget"}}
        ]}"#;
        assert_eq!(
            inconclusive_cases(text).as_deref(),
            Some("1 of 2 cases inconclusive: ipv4_backlog_five (fd budget)")
        );
        assert_eq!(
            inconclusive_cases(r#"{"cases": [{"name": "a", "overflow": {"kind": "dropped"}}]}"#),
            None
        );
        assert_eq!(inconclusive_cases(r#"{"udp": []}"#), None);
    }

    #[test]
    fn disagreeing_kernel_views_are_named() {
        let agree = r#"{"cases": [{"name": "a", "queue_length": 6, "kernel_queue": {"queued": 6, "limit": 5}},
            {"name": "b", "queue_length": null, "kernel_queue": {"queued": 0, "limit": 5}},
            {"name": "c", "queue_length": 6, "kernel_queue": null}]}"#;
        assert_eq!(view_disagreements(agree), None);
        let differ = r#"{"cases": [{"name": "a", "queue_length": 18, "kernel_queue": {"queued": 17, "limit": 16}}]}"#;
        assert_eq!(
            view_disagreements(differ).as_deref(),
            Some(
                "the kernel view disagrees with the client count in 1 of 1 cases: a (client 18, kernel 17/16)"
            )
        );
    }
}
