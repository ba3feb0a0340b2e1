//! The memory limit of the process's cgroup (Linux): cgroup v1's `memory.limit_in_bytes` and
//! v2's `memory.max`, found by following `/proc/self/cgroup` to the hierarchy's mount in
//! `/proc/self/mountinfo`, and the tightest of the cgroup and its ancestors (a parent's limit
//! binds its children: Documentation/admin-guide/cgroup-v2.rst, "memory.max"; v1 with
//! `memory.use_hierarchy`, cgroup-v1/memory.rst). Kernel socket memory is charged there (v2
//! always; v1 through kernel-memory accounting of the socket slabs), so a run that queues more
//! connections than the limit holds is OOM-killed without a word.

use std::path::{Path, PathBuf};

use super::MemoryLimit;

/// A mounted cgroup hierarchy: where it is mounted, and which cgroup path its root is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    point: PathBuf,
    root: String,
}

/// The mounts of the v1 memory hierarchy and of the v2 hierarchy, from mountinfo's text
/// (proc(5): field 4 is the root within the filesystem, field 5 the mount point, and after
/// the ` - ` separator come the type, the source and the super options).
fn mounts(mountinfo: &str) -> (Option<Mount>, Option<Mount>) {
    let mut v1 = None;
    let mut v2 = None;
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = before.split(' ').collect();
        let tail: Vec<&str> = after.split(' ').collect();
        let (Some(root), Some(point), Some(kind)) = (fields.get(3), fields.get(4), tail.first())
        else {
            continue;
        };
        let mount = Mount {
            point: PathBuf::from(unescape(point)),
            root: unescape(root),
        };
        match *kind {
            "cgroup2" if v2.is_none() => v2 = Some(mount),
            "cgroup"
                if v1.is_none()
                    && tail
                        .get(2)
                        .is_some_and(|options| options.split(',').any(|o| o == "memory")) =>
            {
                v1 = Some(mount)
            }
            _ => {}
        }
    }
    (v1, v2)
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The process's cgroup paths in the v1 memory hierarchy and in v2, from `/proc/self/cgroup`
/// (`ID:controllers:path`; v2's line is `0::path`).
fn own_paths(cgroup: &str) -> (Option<String>, Option<String>) {
    let mut v1 = None;
    let mut v2 = None;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            v2 = Some(path.to_string());
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = Some(path.to_string());
        }
    }
    (v1, v2)
}

/// The directory of cgroup `path` under `mount` (a path outside the mount's root, as seen from
/// another cgroup namespace, is not there to read).
fn directory(mount: &Mount, path: &str) -> Option<PathBuf> {
    let relative = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str())?
    };
    Some(mount.point.join(relative.trim_start_matches('/')))
}

/// A limit file's value: a number of bytes, `None` for "max" (v2) or a v1 value so large it
/// means no limit (the page-rounded i64::MAX, 9223372036854771712).
fn limit_value(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().filter(|&v| v < 1 << 62)
}

/// The tightest limit from `leaf` up to `mount`'s point: at each level with a limit, how much
/// of it is in use (the usage file counts the level's whole subtree), keeping the level with
/// the least room left.
fn tightest(
    mount: &Mount,
    leaf: &Path,
    limit_file: &str,
    usage_file: &str,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<MemoryLimit> {
    let mut best: Option<MemoryLimit> = None;
    let mut dir = Some(leaf);
    while let Some(level) = dir {
        if !level.starts_with(&mount.point) {
            break;
        }
        let limit = read(&level.join(limit_file)).and_then(|t| limit_value(&t));
        let usage = read(&level.join(usage_file)).and_then(|t| t.trim().parse::<u64>().ok());
        if let (Some(limit), Some(in_use)) = (limit, usage) {
            let found = MemoryLimit {
                limit_bytes: limit,
                in_use_bytes: in_use,
                file: limit_file.to_string(),
            };
            if best
                .as_ref()
                .is_none_or(|b| found.headroom_bytes() < b.headroom_bytes())
            {
                best = Some(found);
            }
        }
        dir = level.parent();
    }
    best
}

/// The process's memory limit from these texts of `/proc/self/mountinfo` and
/// `/proc/self/cgroup`, reading the cgroup files with `read`: the v2 limit and the v1 limit
/// where both exist, whichever leaves less room.
fn limit_from(
    mountinfo: &str,
    cgroup: &str,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<MemoryLimit> {
    let (v1_mount, v2_mount) = mounts(mountinfo);
    let (v1_path, v2_path) = own_paths(cgroup);
    let v2 = v2_mount.zip(v2_path).and_then(|(mount, path)| {
        let leaf = directory(&mount, &path)?;
        tightest(&mount, &leaf, "memory.max", "memory.current", read)
    });
    let v1 = v1_mount.zip(v1_path).and_then(|(mount, path)| {
        let leaf = directory(&mount, &path)?;
        tightest(
            &mount,
            &leaf,
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            read,
        )
    });
    match (v1, v2) {
        (Some(a), Some(b)) => Some(if a.headroom_bytes() <= b.headroom_bytes() {
            a
        } else {
            b
        }),
        (a, b) => a.or(b),
    }
}

/// The memory limit of this process's cgroup now, if it has one.
pub fn memory_limit() -> Option<MemoryLimit> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    limit_from(&mountinfo, &cgroup, &|path| {
        std::fs::read_to_string(path).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    fn reader(files: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let files: HashMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        move |path| files.get(path).cloned()
    }

    #[test]
    fn the_v1_limit_is_followed_from_the_process_cgroup() {
        let cgroup = "4:memory:/box/run\n0::/box/run\n";
        let read = reader(&[
            (
                "/sys/fs/cgroup/memory/box/run/memory.limit_in_bytes",
                "33554432\n",
            ),
            (
                "/sys/fs/cgroup/memory/box/run/memory.usage_in_bytes",
                "1048576\n",
            ),
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712\n",
            ),
            ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "999999999\n"),
        ]);
        let limit = limit_from(MOUNTINFO, cgroup, &read).unwrap();
        assert_eq!(limit.limit_bytes, 32 << 20);
        assert_eq!(limit.in_use_bytes, 1 << 20);
        assert_eq!(limit.file, "memory.limit_in_bytes");
    }

    #[test]
    fn a_tighter_parent_binds_and_v2_max_counts() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let cgroup = "0::/a/b\n";
        let read = reader(&[
            ("/sys/fs/cgroup/a/b/memory.max", "max\n"),
            ("/sys/fs/cgroup/a/b/memory.current", "100\n"),
            ("/sys/fs/cgroup/a/memory.max", "67108864\n"),
            ("/sys/fs/cgroup/a/memory.current", "16777216\n"),
        ]);
        let limit = limit_from(mountinfo, cgroup, &read).unwrap();
        assert_eq!(limit.limit_bytes, 64 << 20);
        assert_eq!(limit.headroom_bytes(), 48 << 20);
        assert_eq!(limit.file, "memory.max");
    }

    #[test]
    fn no_limit_is_none() {
        let cgroup = "4:memory:/\n0::/\n";
        let read = reader(&[
            (
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "9223372036854771712",
            ),
            ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "5"),
            ("/sys/fs/cgroup/unified/memory.max", "max"),
            ("/sys/fs/cgroup/unified/memory.current", "5"),
        ]);
        assert_eq!(limit_from(MOUNTINFO, cgroup, &read), None);
        assert_eq!(limit_from("", "", &read), None);
    }

    #[test]
    fn a_namespaced_root_is_stripped_and_escapes_are_read() {
        let mount = Mount {
            point: PathBuf::from("/sys/fs/cgroup"),
            root: "/docker/abc".to_string(),
        };
        assert_eq!(
            directory(&mount, "/docker/abc/inner"),
            Some(PathBuf::from("/sys/fs/cgroup/inner"))
        );
        assert_eq!(directory(&mount, "/elsewhere"), None);
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}
