//! Linux: which process holds a socket (`/proc/<pid>/fd/*` links read `socket:[INODE]`, as
//! `ss -p` and `lsof` find them), and the namespace's listen-overflow counters by name.
//!
//! Reading another user's `/proc/<pid>/fd` needs root or CAP_SYS_PTRACE (proc(5), "ptrace
//! access mode PTRACE_MODE_READ_FSCREDS"); a process whose descriptors cannot be read is counted,
//! so its sockets show as "not visible", never as ownerless.

use std::collections::HashMap;

use super::{ListenerViewError, OverflowCounters, ProcessRef, SocketOwners};

/// Every process whose descriptors this process may read, by socket inode.
pub fn socket_owners() -> SocketOwners {
    let mut owners = SocketOwners {
        by_inode: HashMap::new(),
        unreadable_processes: 0,
        supported: true,
    };
    let Ok(processes) = std::fs::read_dir("/proc") else {
        owners.supported = false;
        return owners;
    };
    for process in processes.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(descriptors) = std::fs::read_dir(process.path().join("fd")) else {
            // Gone meanwhile, or not ours to read.
            if process.path().exists() {
                owners.unreadable_processes += 1;
            }
            continue;
        };
        let mut name = None;
        for descriptor in descriptors.flatten() {
            let Ok(target) = std::fs::read_link(descriptor.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            let name = name.get_or_insert_with(|| process_name(pid)).clone();
            let holders: &mut Vec<ProcessRef> = owners.by_inode.entry(inode).or_default();
            if !holders.iter().any(|holder| holder.pid == pid) {
                holders.push(ProcessRef { pid, name });
            }
        }
    }
    owners
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `/proc/<pid>/comm`: the name the kernel keeps (at most 15 bytes), as `ss -p` and `ps` print.
pub fn process_name(pid: u32) -> Option<String> {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(name.trim_end_matches('\n').to_string())
}

/// The `TcpExt` counters of this thread's network namespace that a full listener moves
/// (`/proc/thread-self/net/netstat`; include/uapi/linux/snmp.h): `ListenOverflows` (a SYN or
/// final ACK met a full accept queue), `ListenDrops` (every drop at a listener, a superset),
/// `TCPReqQFullDrop` (a SYN dropped because the SYN queue was full and cookies were off) and
/// `TCPReqQFullDoCookies` (a SYN answered with a cookie because the SYN queue was full).
pub fn overflow_counters() -> Result<OverflowCounters, ListenerViewError> {
    const PATH: &str = "/proc/thread-self/net/netstat";
    let text = std::fs::read_to_string(PATH).map_err(|error| ListenerViewError::Call {
        call: "open(/proc/thread-self/net/netstat)",
        code: error.raw_os_error().unwrap_or(-1),
    })?;
    let values = parse_tcp_ext(
        &text,
        &[
            "ListenOverflows",
            "ListenDrops",
            "TCPReqQFullDrop",
            "TCPReqQFullDoCookies",
        ],
    );
    if values.is_empty() {
        return Err(ListenerViewError::Malformed {
            call: "/proc/thread-self/net/netstat",
            detail: "no TcpExt ListenOverflows row".to_string(),
        });
    }
    Ok(OverflowCounters {
        source: "/proc/net/netstat TcpExt, this network namespace",
        values,
    })
}

/// The named counters of the `TcpExt:` header and value lines, in the order asked, leaving out
/// those this kernel does not have.
fn parse_tcp_ext(text: &str, wanted: &[&str]) -> Vec<(String, u64)> {
    let mut lines = text.lines().filter(|line| line.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Vec::new();
    };
    let row: HashMap<&str, u64> = names
        .split_whitespace()
        .skip(1)
        .zip(values.split_whitespace().skip(1))
        .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect();
    wanted
        .iter()
        .filter_map(|name| Some((name.to_string(), *row.get(name)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_name_their_inode() {
        assert_eq!(socket_inode(b"socket:[4242]"), Some(4242));
        for other in [
            &b"pipe:[4242]"[..],
            b"/dev/null",
            b"socket:[]",
            b"socket:[12",
        ] {
            assert_eq!(socket_inode(other), None);
        }
    }

    #[test]
    fn tcp_ext_counters_are_found_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPReqQFullDoCookies\nTcpExt: 4 17 19 2\n";
        assert_eq!(
            parse_tcp_ext(
                text,
                &["ListenOverflows", "TCPReqQFullDrop", "TCPReqQFullDoCookies"]
            ),
            vec![
                ("ListenOverflows".to_string(), 17),
                ("TCPReqQFullDoCookies".to_string(), 2)
            ]
        );
        assert!(parse_tcp_ext("IpExt: A\nIpExt: 1\n", &["ListenOverflows"]).is_empty());
    }

    /// A listener this process holds is found under its own pid.
    #[test]
    fn our_own_socket_has_us_as_owner() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd()))
            .unwrap()
            .ino();
        let owners = socket_owners();
        let holders = owners.by_inode.get(&inode).expect("our socket is found");
        assert!(holders.iter().any(|p| p.pid == std::process::id()));
    }
}
