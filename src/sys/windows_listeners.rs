//! Windows: the TCP listeners and their owning processes from the IP Helper API,
//! `GetExtendedTcpTable(..., TCP_TABLE_OWNER_PID_LISTENER)` (iphlpapi.h), for AF_INET and
//! AF_INET6.
//!
//! Windows exposes no listener's queue length or backlog through any API ("There is no
//! standard provision to obtain the actual backlog value", listen() documentation), so `queue`,
//! `limit` and `syn_queue` are always `None`: the view says so rather than estimate.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_INSUFFICIENT_BUFFER, NO_ERROR};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID, TCP_TABLE_OWNER_PID_LISTENER,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};

use super::{
    ListenerEntry, ListenerView, ListenerViewError, OverflowCounters, SocketOwners,
    UnixListenerEntry,
};

/// What Windows shows: listeners and their pids, nothing about their queues.
pub fn listener_view() -> ListenerView {
    ListenerView {
        source: "GetExtendedTcpTable(TCP_TABLE_OWNER_PID_LISTENER), the IP Helper API netstat -ano reads",
        queue: false,
        limit: false,
        syn_queue: false,
        syn_queue_note: "Windows exposes no listener's queue length, SYN queue or backlog through any API (listen() documentation: \"There is no standard provision to obtain the actual backlog value\"); those columns stay empty rather than show an estimate",
        owners: "the owning pid from GetExtendedTcpTable; the name where OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION) is allowed",
    }
}

/// The whole table of one family: ask for the size, then read, again if it grew meanwhile.
fn table(family: u16) -> Result<Vec<u8>, ListenerViewError> {
    let call = if family == AF_INET {
        "GetExtendedTcpTable(AF_INET, TCP_TABLE_OWNER_PID_LISTENER)"
    } else {
        "GetExtendedTcpTable(AF_INET6, TCP_TABLE_OWNER_PID_LISTENER)"
    };
    let mut size = 0u32;
    for _ in 0..8 {
        // u32 elements keep the buffer aligned for the DWORD fields of the rows.
        let mut buffer = vec![0u32; (size as usize).div_ceil(4).max(1)];
        let mut given = (buffer.len() * 4) as u32;
        // SAFETY: the buffer is valid for `given` bytes; the call writes at most that.
        let rc = unsafe {
            GetExtendedTcpTable(
                buffer.as_mut_ptr().cast(),
                &mut given,
                0,
                u32::from(family),
                TCP_TABLE_OWNER_PID_LISTENER,
                0,
            )
        };
        match rc {
            NO_ERROR => {
                let bytes: Vec<u8> = buffer.iter().flat_map(|w| w.to_ne_bytes()).collect();
                return Ok(bytes[..(given as usize).min(bytes.len())].to_vec());
            }
            ERROR_INSUFFICIENT_BUFFER => size = given,
            code => {
                return Err(ListenerViewError::Call {
                    call,
                    code: code as i32,
                });
            }
        }
    }
    Err(ListenerViewError::Malformed {
        call,
        detail: "the table kept growing while it was read".to_string(),
    })
}

/// Rows of a `MIB_TCPTABLE_OWNER_PID` / `MIB_TCP6TABLE_OWNER_PID`: a DWORD count, then the rows.
fn rows<T: Copy>(bytes: &[u8]) -> Vec<T> {
    if bytes.len() < 4 {
        return Vec::new();
    }
    let count = u32::from_ne_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    let size = std::mem::size_of::<T>();
    (0..count)
        .map_while(|i| {
            let start = 4 + i * size;
            let row = bytes.get(start..start + size)?;
            // SAFETY: T is a plain-data row struct and `row` holds exactly its bytes.
            Some(unsafe { std::ptr::read_unaligned(row.as_ptr().cast::<T>()) })
        })
        .collect()
}

/// `dwLocalPort` holds the port in network byte order in its low 16 bits.
fn port(dword: u32) -> u16 {
    u16::from_be_bytes([(dword & 0xff) as u8, ((dword >> 8) & 0xff) as u8])
}

/// A row's listener; pid 0 (the System Idle Process on Windows, and what Wine reports for a
/// socket of a process outside it) is no owner anyone can act on: not visible.
fn entry(addr: SocketAddr, pid: u32) -> ListenerEntry {
    ListenerEntry {
        addr,
        queue: None,
        limit: None,
        syn_queue: None,
        uid: None,
        inode: None,
        owner_pid: (pid != 0).then_some(pid),
    }
}

/// Every TCP listener, IPv4 first, with its owning pid.
pub fn tcp_listeners() -> Result<Vec<ListenerEntry>, ListenerViewError> {
    let mut listeners = Vec::new();
    for row in rows::<MIB_TCPROW_OWNER_PID>(&table(AF_INET)?) {
        // dwLocalAddr is the address in network byte order, as in_addr stores it.
        let ip = Ipv4Addr::from(row.dwLocalAddr.to_ne_bytes());
        listeners.push(entry(
            SocketAddr::from((ip, port(row.dwLocalPort))),
            row.dwOwningPid,
        ));
    }
    for row in rows::<MIB_TCP6ROW_OWNER_PID>(&table(AF_INET6)?) {
        let ip = Ipv6Addr::from(row.ucLocalAddr);
        let scope = if ip.is_unicast_link_local() {
            row.dwLocalScopeId
        } else {
            0
        };
        listeners.push(entry(
            SocketAddr::V6(SocketAddrV6::new(ip, port(row.dwLocalPort), 0, scope)),
            row.dwOwningPid,
        ));
    }
    Ok(listeners)
}

/// Windows has Unix-domain sockets (AF_UNIX, since 1803) but no API that lists them.
pub fn unix_listeners() -> Result<Vec<UnixListenerEntry>, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "Windows offers no API that lists Unix-domain listeners",
    ))
}

/// No queue is known, so no full test.
pub fn listener_full(_entry: &ListenerEntry) -> Option<bool> {
    None
}

/// The owner comes with each row; there is nothing to look up by inode.
pub fn socket_owners() -> SocketOwners {
    SocketOwners::default()
}

/// The executable's file name (`nginx.exe`), where the process may be queried.
pub fn process_name(pid: u32) -> Option<String> {
    // SAFETY: a plain call; a null handle (no access, no such process) is checked.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        return None;
    }
    let mut name = vec![0u16; 1024];
    let mut length = name.len() as u32;
    // SAFETY: the buffer holds `length` UTF-16 units; the handle is open.
    let ok = unsafe {
        QueryFullProcessImageNameW(handle, PROCESS_NAME_WIN32, name.as_mut_ptr(), &mut length)
    };
    // SAFETY: the handle came from OpenProcess and is closed once.
    unsafe { CloseHandle(handle) };
    if ok == 0 {
        return None;
    }
    let path = String::from_utf16_lossy(&name[..length as usize]);
    Some(path.rsplit('\\').next().unwrap_or(&path).to_string())
}

/// Windows keeps no counter of connections refused at a full listener: `GetTcpStatisticsEx`
/// has only host-wide totals (`dwAttemptFails`) that count far more than that.
pub fn overflow_counters() -> Result<OverflowCounters, ListenerViewError> {
    Err(ListenerViewError::Unsupported(
        "Windows keeps no listen-overflow counter (GetTcpStatisticsEx's dwAttemptFails counts every failed connection attempt, not overflows)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_in_network_order() {
        // 8080 = 0x1f90, stored as the bytes 0x1f 0x90 in the low word.
        assert_eq!(port(u32::from_ne_bytes([0x1f, 0x90, 0, 0])), 8080);
    }
}
