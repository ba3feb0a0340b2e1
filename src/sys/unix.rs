//! What every Unix shares: errno names, `poll(2)`, and RLIMIT_NOFILE.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::Socket;

use super::FdLimit;

/// errno names, first match wins (so `EAGAIN` is printed where it equals `EWOULDBLOCK`).
const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::EINPROGRESS, "EINPROGRESS"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::EWOULDBLOCK, "EWOULDBLOCK"),
    (libc::EALREADY, "EALREADY"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::ENOTSUP, "ENOTSUP"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENFILE, "ENFILE"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EINVAL, "EINVAL"),
    (libc::EPERM, "EPERM"),
    (libc::EACCES, "EACCES"),
    (libc::EPIPE, "EPIPE"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::EINTR, "EINTR"),
    (libc::EBADF, "EBADF"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::ENOENT, "ENOENT"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EDQUOT, "EDQUOT"),
    (libc::EIO, "EIO"),
    (libc::EROFS, "EROFS"),
    (libc::EFBIG, "EFBIG"),
    (libc::EEXIST, "EEXIST"),
    (libc::EISDIR, "EISDIR"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::ENOTEMPTY, "ENOTEMPTY"),
    (libc::ENAMETOOLONG, "ENAMETOOLONG"),
    (libc::ELOOP, "ELOOP"),
    (libc::ENXIO, "ENXIO"),
    (libc::EXDEV, "EXDEV"),
];

/// The symbolic errno name of `code` on this target.
pub fn error_name(code: i32) -> Option<&'static str> {
    ERRNO_NAMES
        .iter()
        .find(|(value, _)| *value == code)
        .map(|(_, name)| *name)
}

/// `connect(2)` on a non-blocking socket reports the handshake as under way.
pub fn is_in_progress(code: i32) -> bool {
    code == libc::EINPROGRESS || code == libc::EINTR
}

/// `accept(2)` on a non-blocking listener found nothing queued.
pub fn is_would_block(code: i32) -> bool {
    code == libc::EAGAIN || code == libc::EWOULDBLOCK
}

/// A `connect()` found no free local port: the ephemeral port range is used up for this
/// source address (EADDRNOTAVAIL; Linux `__inet_hash_connect()`, the BSDs' `in_pcbconnect()`).
pub fn is_out_of_ports(code: i32) -> bool {
    code == libc::EADDRNOTAVAIL
}

/// The process (or system) is out of file descriptors or socket memory.
pub fn is_fd_exhausted(code: i32) -> bool {
    code == libc::EMFILE || code == libc::ENFILE || code == libc::ENOBUFS
}

/// Turn a C call's `-1` into the thread's `errno` as an `io::Error` (std's private `cvt`), so
/// every call site checks its result the same way.
pub(super) fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn poll_one(socket: &Socket, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    };
    // poll(2) takes milliseconds as c_int; round up so a short wait never becomes a busy loop of 0.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    loop {
        // SAFETY: `fd` is a valid pollfd for the duration of the call and nfds is 1.
        match cvt(unsafe { libc::poll(&mut fd, 1, millis) }) {
            Ok(n) => return Ok(n > 0 && fd.revents != 0),
            Err(err) if err.raw_os_error() == Some(libc::EINTR) => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Wait until a connecting socket is writable (connected) or reports an error or hang-up.
/// `Ok(false)` means the timeout passed with the handshake still pending.
pub fn wait_writable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    poll_one(socket, libc::POLLOUT, timeout)
}

/// Wait until a listener has a connection to accept (readable).
pub fn wait_readable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    poll_one(socket, libc::POLLIN, timeout)
}

/// `rlim_t` is u64 on Linux and macOS but i64 on FreeBSD, so one cast serves all.
#[allow(clippy::unnecessary_cast)]
fn rlim_to_u64(value: libc::rlim_t) -> u64 {
    value as u64
}

/// Raise the soft RLIMIT_NOFILE toward the hard limit (and no higher than `ceiling`, where the
/// OS caps a process below its hard limit). The hard limit is never raised, even where the
/// process is privileged: it is the user's (or the service manager's) decision, so `ulimit -n`
/// bounds the harness for root too, and a case that needs more reports the limit instead.
pub(super) fn raise_fd_limit_to(ceiling: Option<u64>) -> Option<FdLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }).ok()?;
    let soft_before = rlim_to_u64(limit.rlim_cur);
    let target = match ceiling {
        Some(ceiling) if limit.rlim_max == libc::RLIM_INFINITY => ceiling as libc::rlim_t,
        Some(ceiling) => limit.rlim_max.min(ceiling as libc::rlim_t),
        None => limit.rlim_max,
    };
    if limit.rlim_cur < target {
        let wanted = libc::rlimit {
            rlim_cur: target,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: plain syscall on a struct we own; failure leaves the limit as it was.
        if cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) }).is_ok() {
            limit.rlim_cur = target;
        }
    }
    Some(FdLimit {
        soft_before,
        soft: rlim_to_u64(limit.rlim_cur),
        hard: rlim_to_u64(limit.rlim_max),
    })
}

/// Open `path` read-only without waiting: `O_NONBLOCK` keeps `open(2)` from blocking on a FIFO
/// that has no writer, and `O_NOCTTY` from adopting a terminal. The caller checks what it
/// opened (a regular file reads as usual with `O_NONBLOCK`).
pub fn open_without_blocking(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// The mode for a new file meant to be read like any other (0o666, less the umask, as
/// `File::create` gives), where a temporary file would otherwise be the owner's alone.
pub fn readable_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o666))
}

/// The mode for a private directory: 0o700, as `mkdtemp(3)` makes it.
pub fn private_dir_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o700))
}

/// Unix binaries run natively; only the Windows build can find itself under an emulator.
pub fn emulator() -> Option<String> {
    None
}

/// `uname -r`.
pub(super) fn uname_release() -> Option<String> {
    uname_release_and_version().map(|(release, _)| release)
}

/// `uname -r` and `uname -v`.
pub(super) fn uname_release_and_version() -> Option<(String, String)> {
    // SAFETY: utsname is plain data; uname fills it.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is valid for the call.
    cvt(unsafe { libc::uname(&mut name) }).ok()?;
    let text = |field: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates every field.
        let text = unsafe { std::ffi::CStr::from_ptr(field.as_ptr()) };
        text.to_string_lossy().into_owned()
    };
    Some((text(&name.release), text(&name.version)))
}

/// `sysctlbyname(3)` into `buf`: the length the kernel wrote, `None` where the call failed.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn sysctl_into(name: &str, buf: &mut [u8]) -> Option<usize> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut len = buf.len();
    // SAFETY: the name is NUL-terminated; the buffer and its length are valid for the call.
    cvt(unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    })
    .ok()?;
    Some(len)
}

/// `sysctlbyname(3)` for an integer knob.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(super) fn sysctl_int(name: &str) -> Option<i64> {
    let mut buf = [0u8; 8];
    let len = sysctl_into(name, &mut buf)?;
    // Kernel integers come back as 4 or 8 bytes in native order.
    match len {
        4 => Some(i64::from(i32::from_ne_bytes(buf[..4].try_into().ok()?))),
        8 => Some(i64::from_ne_bytes(buf)),
        _ => None,
    }
}

/// `sysctlbyname(3)` for a string knob.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(super) fn sysctl_string(name: &str) -> Option<String> {
    let mut buf = [0u8; 256];
    let len = sysctl_into(name, &mut buf)?;
    let text = &buf[..len.min(buf.len())];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    Some(String::from_utf8_lossy(&text[..end]).into_owned())
}

/// Read each integer knob that exists, as text, for the report.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(super) fn sysctl_ints(names: &[&str]) -> std::collections::BTreeMap<String, String> {
    names
        .iter()
        .filter_map(|name| sysctl_int(name).map(|value| (name.to_string(), value.to_string())))
        .collect()
}

/// Whether the reader of this process's standard output has gone: stdout is a pipe or socket
/// whose other end closed. `poll(2)` reports that as `POLLERR` or `POLLHUP` on Linux and
/// FreeBSD; where it does not (macOS reports a widowed pipe as writable), a write of zero bytes
/// fails with `EPIPE` (SIGPIPE is ignored in Rust programs). A terminal or a file never reads as
/// gone.
pub fn stdout_reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `fd` is a valid pollfd for the call, nfds is 1, no waiting.
    let polled = unsafe { libc::poll(&mut fd, 1, 0) };
    if polled > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        return true;
    }
    // SAFETY: a zero-length write reads nothing from the (valid, empty) buffer.
    let written = unsafe { libc::write(libc::STDOUT_FILENO, [0u8; 1].as_ptr().cast(), 0) };
    written == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EPIPE)
}

/// This process's parent, as `getppid(2)` sees it now (it changes when the parent dies and the
/// process is reparented).
pub fn parent_pid() -> Option<u32> {
    // SAFETY: getppid has no preconditions and cannot fail.
    u32::try_from(unsafe { libc::getppid() }).ok()
}

/// `sysctlbyname(3)` for a structure or list of any size: ask for the size, then read into a
/// buffer a quarter larger (the list may grow in between), and again while it reports ENOMEM.
/// `Err` is the raw errno.
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
pub(super) fn sysctl_bytes(name: &str) -> Result<Vec<u8>, i32> {
    let cname = std::ffi::CString::new(name).map_err(|_| libc::EINVAL)?;
    let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    for _ in 0..8 {
        let mut len = 0usize;
        // SAFETY: a size query: no buffer, the length is written.
        let rc = unsafe {
            libc::sysctlbyname(
                cname.as_ptr(),
                std::ptr::null_mut(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc == -1 {
            return Err(errno());
        }
        let mut buffer = vec![0u8; len + len / 4 + 64];
        let mut got = buffer.len();
        // SAFETY: the buffer is valid for `got` bytes.
        let rc = unsafe {
            libc::sysctlbyname(
                cname.as_ptr(),
                buffer.as_mut_ptr().cast(),
                &mut got,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc == -1 {
            let code = errno();
            if code == libc::ENOMEM {
                continue;
            }
            return Err(code);
        }
        buffer.truncate(got);
        return Ok(buffer);
    }
    Err(libc::ENOMEM)
}
