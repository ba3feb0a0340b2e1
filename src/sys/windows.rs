//! Windows (Winsock): WSA error names, `select()`, SOMAXCONN_HINT, and Wine detection.
//!
//! Windows offers no way to read a listener's queue ("There is no standard provision to obtain
//! the actual backlog value", listen() documentation), so `kernel_queue` is always `None` and
//! a full queue is recognised by what the client sees.

use std::collections::BTreeMap;
use std::io;
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use socket2::Socket;
use windows_sys::Win32::Networking::WinSock as ws;

use super::{FdLimit, KernelQueue};

/// No kernel view can confirm a drop, so the full deadline applies.
pub const ADMISSION_GRACE: Duration = PENDING_DEADLINE;
/// A full Windows queue answers the SYN with RST, and the Windows client retries before it
/// reports WSAECONNREFUSED after about 2 s (2002–2011 ms on windows-latest for a closed loopback
/// port, unslothai/unsloth PR #11213; libuv PR #2896). 5 s leaves room on a loaded runner.
pub const PENDING_DEADLINE: Duration = Duration::from_secs(5);
/// A client that is still pending after the first accept is watched through its retries.
pub const LATE_WINDOW: Duration = Duration::from_millis(3500);

const WSA_NAMES: &[(i32, &str)] = &[
    (ws::WSAECONNREFUSED, "WSAECONNREFUSED"),
    (ws::WSAECONNRESET, "WSAECONNRESET"),
    (ws::WSAETIMEDOUT, "WSAETIMEDOUT"),
    (ws::WSAEWOULDBLOCK, "WSAEWOULDBLOCK"),
    (ws::WSAEINPROGRESS, "WSAEINPROGRESS"),
    (ws::WSAEALREADY, "WSAEALREADY"),
    (ws::WSAECONNABORTED, "WSAECONNABORTED"),
    (ws::WSAEADDRINUSE, "WSAEADDRINUSE"),
    (ws::WSAEADDRNOTAVAIL, "WSAEADDRNOTAVAIL"),
    (ws::WSAEAFNOSUPPORT, "WSAEAFNOSUPPORT"),
    (ws::WSAEPROTONOSUPPORT, "WSAEPROTONOSUPPORT"),
    (ws::WSAEPROTOTYPE, "WSAEPROTOTYPE"),
    (ws::WSAESOCKTNOSUPPORT, "WSAESOCKTNOSUPPORT"),
    (ws::WSAEOPNOTSUPP, "WSAEOPNOTSUPP"),
    (ws::WSAENETUNREACH, "WSAENETUNREACH"),
    (ws::WSAEHOSTUNREACH, "WSAEHOSTUNREACH"),
    (ws::WSAENETDOWN, "WSAENETDOWN"),
    (ws::WSAEMFILE, "WSAEMFILE"),
    (ws::WSAENOBUFS, "WSAENOBUFS"),
    (ws::WSAEINVAL, "WSAEINVAL"),
    (ws::WSAEACCES, "WSAEACCES"),
    (ws::WSAEISCONN, "WSAEISCONN"),
    (ws::WSAENOTCONN, "WSAENOTCONN"),
    (ws::WSAEINTR, "WSAEINTR"),
    (ws::WSAENOTSOCK, "WSAENOTSOCK"),
    (ws::WSAEFAULT, "WSAEFAULT"),
    (ws::WSAESHUTDOWN, "WSAESHUTDOWN"),
    (ws::WSANOTINITIALISED, "WSANOTINITIALISED"),
];

/// The WSA name of a Winsock error code.
pub fn error_name(code: i32) -> Option<&'static str> {
    WSA_NAMES
        .iter()
        .find(|(value, _)| *value == code)
        .map(|(_, name)| *name)
}

/// A non-blocking `connect` returns WSAEWOULDBLOCK while the handshake runs.
pub fn is_in_progress(code: i32) -> bool {
    code == ws::WSAEWOULDBLOCK || code == ws::WSAEINPROGRESS
}

/// A non-blocking `accept` found nothing.
pub fn is_would_block(code: i32) -> bool {
    code == ws::WSAEWOULDBLOCK
}

/// A `connect()` found no free local port (the dynamic port range is used up): Winsock reports
/// WSAEADDRNOTAVAIL, or WSAENOBUFS when the implicit bind finds no port.
pub fn is_out_of_ports(code: i32) -> bool {
    code == ws::WSAEADDRNOTAVAIL || code == ws::WSAENOBUFS || code == ws::WSAEADDRINUSE
}

/// Out of handles or buffer space.
pub fn is_fd_exhausted(code: i32) -> bool {
    code == ws::WSAEMFILE || code == ws::WSAENOBUFS
}

fn fd_set_of(socket: &Socket) -> ws::FD_SET {
    let mut set = ws::FD_SET {
        fd_count: 1,
        fd_array: [0; 64],
    };
    set.fd_array[0] = socket.as_raw_socket() as ws::SOCKET;
    set
}

fn timeval(timeout: Duration) -> ws::TIMEVAL {
    ws::TIMEVAL {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as i32,
        tv_usec: timeout.subsec_micros() as i32,
    }
}

/// `select()` with the socket in the write and except sets: Winsock reports a failed
/// non-blocking connect only through the except set (WSAPoll missed it before Windows 10 2004).
pub fn wait_writable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    let mut write = fd_set_of(socket);
    let mut except = fd_set_of(socket);
    let tv = timeval(timeout);
    // SAFETY: the sets and the timeval live for the duration of the call.
    let n = unsafe { ws::select(0, std::ptr::null_mut(), &mut write, &mut except, &tv) };
    if n == ws::SOCKET_ERROR {
        // SAFETY: plain Winsock call.
        return Err(io::Error::from_raw_os_error(unsafe {
            ws::WSAGetLastError()
        }));
    }
    Ok(n > 0)
}

/// `select()` with the listener in the read set.
pub fn wait_readable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    let mut read = fd_set_of(socket);
    let tv = timeval(timeout);
    // SAFETY: as above.
    let n = unsafe {
        ws::select(
            0,
            &mut read,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &tv,
        )
    };
    if n == ws::SOCKET_ERROR {
        // SAFETY: plain Winsock call.
        return Err(io::Error::from_raw_os_error(unsafe {
            ws::WSAGetLastError()
        }));
    }
    Ok(n > 0)
}

/// Windows has no API for a listener's queue.
pub fn kernel_queue(_socket: &Socket) -> Option<KernelQueue> {
    None
}

/// No kernel view, so no full test.
pub fn queue_full(_view: &KernelQueue) -> Option<bool> {
    None
}

/// Before a client is bound to a chosen source address: `SO_REUSE_UNICASTPORT` lets the
/// connect pick a port that only has to be unique for its connection ("allow ephemeral port
/// reuse for Winsock API connection functions which require an explicit bind", SOL_SOCKET
/// socket options documentation).
pub fn defer_port_choice(socket: &Socket) -> io::Result<()> {
    let one: u32 = 1;
    // SAFETY: the option value is a DWORD that lives for the call.
    let rc = unsafe {
        ws::setsockopt(
            socket.as_raw_socket() as ws::SOCKET,
            ws::SOL_SOCKET,
            ws::SO_REUSE_UNICASTPORT,
            (&one as *const u32).cast(),
            std::mem::size_of::<u32>() as i32,
        )
    };
    if rc == ws::SOCKET_ERROR {
        // SAFETY: plain Winsock call.
        return Err(io::Error::from_raw_os_error(unsafe {
            ws::WSAGetLastError()
        }));
    }
    Ok(())
}

/// `SOMAXCONN` from winsock2.h: 0x7fffffff, "a maximum reasonable value".
pub fn somaxconn_constant() -> i64 {
    i64::from(ws::SOMAXCONN)
}

/// Windows has no somaxconn knob.
pub fn somaxconn_setting() -> Option<(&'static str, i64)> {
    None
}

/// The SYN-retry settings that shape the ~2 s refusal live in `Get-NetTCPSetting`, which needs
/// PowerShell; the CI workflow prints them. Nothing is read in-process.
pub fn tcp_settings() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// os_info carries the Windows build; there is no separate kernel release.
pub fn kernel_version() -> Option<String> {
    None
}

/// Windows counts handles, not descriptors: there is no per-process limit to raise.
pub fn raise_fd_limit() -> Option<FdLimit> {
    None
}

/// winsock2.h: `SOMAXCONN_HINT(b)` is `(-(b))`, so every negative backlog is a hint, which the
/// listen() documentation says is "adjusted to be within the range (200, 65535)".
pub fn backlog_meaning(backlog: i32) -> Option<String> {
    if backlog == i32::MAX {
        Some("SOMAXCONN (0x7fffffff): \"a maximum reasonable value\"".to_string())
    } else if backlog == i32::MIN {
        Some("SOMAXCONN_HINT(-(i32::MIN)) overflows: undocumented".to_string())
    } else if backlog < 0 {
        Some(format!(
            "SOMAXCONN_HINT({}), documented as clamped to 200..65535",
            -backlog
        ))
    } else {
        None
    }
}

/// Open `path` read-only. Opening a file never waits on Windows; the caller checks that it is a
/// regular file.
pub fn open_without_blocking(path: &std::path::Path) -> io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// No mode to set: a new file inherits its directory's ACL.
pub fn readable_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// No mode to set: the temporary directory is under the user's profile, private by its ACL.
pub fn private_dir_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Wine exports `wine_get_version` from ntdll; real Windows does not.
pub fn emulator() -> Option<String> {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    // SAFETY: both names are NUL-terminated literals; ntdll is always loaded.
    let proc = unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        if ntdll.is_null() {
            return None;
        }
        GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast())
    }?;
    // SAFETY: wine_get_version takes no arguments and returns a static C string.
    let version = unsafe {
        let get: unsafe extern "C" fn() -> *const std::ffi::c_char = std::mem::transmute(proc);
        let ptr = get();
        if ptr.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(ptr).to_string_lossy().into_owned()
        }
    };
    Some(format!("wine {version}").trim().to_string())
}

/// Whether the reader of this process's standard output has gone: stdout is a pipe whose read
/// end closed, which a zero-byte `WriteFile` reports as `ERROR_NO_DATA` or
/// `ERROR_BROKEN_PIPE`. A console or a file never reads as gone.
pub fn stdout_reader_gone() -> bool {
    use windows_sys::Win32::Foundation::{
        ERROR_BROKEN_PIPE, ERROR_NO_DATA, GetLastError, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::Storage::FileSystem::{FILE_TYPE_PIPE, GetFileType, WriteFile};
    use windows_sys::Win32::System::Console::{GetStdHandle, STD_OUTPUT_HANDLE};
    // SAFETY: GetStdHandle has no preconditions.
    let handle = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
    if handle.is_null() || handle == INVALID_HANDLE_VALUE {
        return false;
    }
    // SAFETY: a valid handle; GetFileType only queries it.
    if unsafe { GetFileType(handle) } != FILE_TYPE_PIPE {
        return false;
    }
    let mut written = 0u32;
    // SAFETY: zero bytes from a valid buffer; `written` outlives the call; no OVERLAPPED.
    let ok = unsafe {
        WriteFile(
            handle,
            [0u8; 1].as_ptr(),
            0,
            &mut written,
            std::ptr::null_mut(),
        )
    };
    // SAFETY: no preconditions.
    ok == 0 && matches!(unsafe { GetLastError() }, ERROR_NO_DATA | ERROR_BROKEN_PIPE)
}

/// Windows has no cheap parent id to compare; a worker watches its stdout pipe instead.
pub fn parent_pid() -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winsock_codes_print_by_name() {
        assert_eq!(error_name(10061), Some("WSAECONNREFUSED"));
        assert_eq!(error_name(10054), Some("WSAECONNRESET"));
        assert_eq!(error_name(10035), Some("WSAEWOULDBLOCK"));
    }

    #[test]
    fn negative_backlogs_are_hints() {
        assert!(backlog_meaning(-1).unwrap().contains("SOMAXCONN_HINT(1)"));
        assert_eq!(backlog_meaning(5), None);
    }
}
