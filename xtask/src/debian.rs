//! Debian's cloud kernels, fetched with an apt configuration of our own (sources, lists and
//! package cache under the runner's cache directory), so the system's apt state is never read
//! for sources or written.
//!
//! A suite's `linux-image-cloud-amd64` depends on the versioned image package
//! (`linux-image-6.1.0-57-cloud-amd64`), which holds `boot/vmlinuz-<release>`. From sid on the
//! image package is a stub that depends on `linux-binary-<release>`, which holds
//! `usr/lib/modules/<release>/vmlinuz`. Nothing else is needed: the cloud images boot an
//! initramfs without modules.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::proc;

/// The archive signing keys (package `debian-archive-keyring`).
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

const MIRROR: &str = "http://deb.debian.org/debian";
const SECURITY: &str = "http://deb.debian.org/debian-security";

/// The meta package every suite has, depending on the suite's current cloud image.
const META: &str = "linux-image-cloud-amd64";

const APT_UPDATE_DEADLINE: Duration = Duration::from_secs(300);
const APT_QUERY_DEADLINE: Duration = Duration::from_secs(60);
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(600);
const EXTRACT_DEADLINE: Duration = Duration::from_secs(120);

/// A kernel the runner knows how to fetch.
pub struct Kernel {
    /// What `--kernel` accepts: the series for the stable suites, the suite name otherwise.
    pub id: &'static str,
    /// Other names `--kernel` accepts.
    pub aliases: &'static [&'static str],
    /// The apt sources, `(archive, suite)`; the highest version among them is taken.
    pub sources: &'static [(&'static str, &'static str)],
    /// Part of the default set (no `--kernel`).
    pub default: bool,
    /// How the stack is named: `linux-<major.minor>`, or with the full upstream version where
    /// another kernel of the same series is in the catalogue.
    pub exact_name: bool,
    /// A few words for error messages.
    pub about: &'static str,
}

/// Every known kernel: the four suites, then the cheap extras.
pub const KERNELS: &[Kernel] = &[
    Kernel {
        id: "5.10",
        aliases: &["bullseye"],
        sources: &[(MIRROR, "bullseye"), (SECURITY, "bullseye-security")],
        default: true,
        exact_name: false,
        about: "bullseye + bullseye-security",
    },
    Kernel {
        id: "6.1",
        aliases: &["bookworm"],
        sources: &[(MIRROR, "bookworm"), (SECURITY, "bookworm-security")],
        default: true,
        exact_name: false,
        about: "bookworm + bookworm-security",
    },
    Kernel {
        id: "6.12",
        aliases: &["trixie"],
        sources: &[(MIRROR, "trixie"), (SECURITY, "trixie-security")],
        default: true,
        exact_name: false,
        about: "trixie + trixie-security",
    },
    Kernel {
        id: "sid",
        aliases: &["unstable"],
        sources: &[(MIRROR, "sid")],
        default: true,
        exact_name: false,
        about: "sid, the newest packaged kernel",
    },
    Kernel {
        id: "bullseye-release",
        aliases: &[],
        sources: &[(MIRROR, "bullseye")],
        default: false,
        exact_name: true,
        about: "bullseye without security updates, an older 5.10.y",
    },
    Kernel {
        id: "bookworm-backports",
        aliases: &[],
        sources: &[(MIRROR, "bookworm-backports")],
        default: false,
        exact_name: true,
        about: "an older 6.12.y",
    },
    Kernel {
        id: "experimental",
        aliases: &[],
        sources: &[(MIRROR, "experimental")],
        default: false,
        exact_name: true,
        about: "release candidates, when there are any",
    },
];

impl Kernel {
    /// The kernel `--kernel name` means, by id or alias.
    pub fn named(name: &str) -> Option<&'static Kernel> {
        KERNELS
            .iter()
            .find(|k| k.id == name || k.aliases.contains(&name))
    }
}

/// A kernel on disk, ready to boot.
pub struct Fetched {
    pub kernel: &'static Kernel,
    /// The package that held the image (`linux-image-6.1.0-57-cloud-amd64`,
    /// `linux-binary-7.2.13+deb14-cloud-amd64`).
    pub package: String,
    /// Its Debian version (`6.1.192-3`).
    pub version: String,
    pub vmlinuz: PathBuf,
}

impl Fetched {
    /// The upstream version from the Debian one: `6.1.192-3` → `6.1.192`,
    /// `6.12.95-1~bpo12+1` → `6.12.95`, `7.3~rc5-1~exp1` → `7.3`.
    pub fn upstream(&self) -> &str {
        let no_revision = self.version.split('-').next().unwrap_or(&self.version);
        no_revision.split('~').next().unwrap_or(no_revision)
    }

    /// `linux-6.1`, or `linux-5.10.223` for a kernel named by its exact version.
    pub fn stack_name(&self) -> String {
        let upstream = self.upstream();
        if self.kernel.exact_name {
            return format!("linux-{upstream}");
        }
        let series: Vec<&str> = upstream.split('.').take(2).collect();
        format!("linux-{}", series.join("."))
    }
}

/// Where one kernel's apt state and image live.
struct Dirs {
    apt: PathBuf,
    kernel: PathBuf,
}

impl Dirs {
    fn new(cache: &Path, kernel: &Kernel) -> Self {
        Dirs {
            apt: cache.join("apt").join(kernel.id),
            kernel: cache.join("kernels").join(kernel.id),
        }
    }

    fn current(&self) -> PathBuf {
        self.kernel.join("current.json")
    }

    /// apt-get/apt-cache options that confine apt to this kernel's own state: its sources,
    /// lists, package cache, an empty dpkg status and no pinning; no translations or AppStream.
    fn apt_options(&self) -> Vec<String> {
        let apt = &self.apt;
        [
            format!(
                "Dir::Etc::sourcelist={}",
                apt.join("sources.list").display()
            ),
            "Dir::Etc::sourceparts=-".to_string(),
            format!("Dir::State::Lists={}", apt.join("lists").display()),
            format!("Dir::Cache={}", apt.join("cache").display()),
            format!("Dir::State::status={}", apt.join("status").display()),
            "Dir::Etc::preferences=/dev/null".to_string(),
            "Dir::Etc::preferencesparts=-".to_string(),
            "Acquire::Languages=none".to_string(),
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_string(),
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_string(),
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false".to_string(),
            "APT::Sandbox::User=root".to_string(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect()
    }

    fn apt(&self, tool: &str) -> Command {
        let mut command = Command::new(tool);
        command.args(self.apt_options());
        command
    }
}

/// The kernel's image, from the cache when it is there (and `refresh` is false), else resolved
/// from the suite's package index and downloaded. `say` gets progress lines.
pub fn fetch(
    kernel: &'static Kernel,
    cache: &Path,
    refresh: bool,
    say: &dyn Fn(String),
) -> Result<Fetched, String> {
    let dirs = Dirs::new(cache, kernel);
    if let Some(fetched) = cached(kernel, &dirs).filter(|_| !refresh) {
        return Ok(fetched);
    }
    prepare(kernel, &dirs)?;
    say(format!(
        "reading the package index of {}",
        kernel
            .sources
            .iter()
            .map(|(_, suite)| *suite)
            .collect::<Vec<_>>()
            .join(" + ")
    ));
    proc::run(
        dirs.apt("apt-get").args(["-q", "update"]),
        APT_UPDATE_DEADLINE,
    )?
    .ok("apt-get update")?;
    let (package, version) = resolve(&dirs)?;
    let vmlinuz = dirs.kernel.join(format!("{package}_{version}.vmlinuz"));
    if !vmlinuz.is_file() {
        say(format!("downloading {package} {version}"));
        download(&dirs, &package, &version, &vmlinuz)?;
    }
    let record = json!({ "package": package, "version": version, "vmlinuz": vmlinuz });
    fs::write(dirs.current(), format!("{record:#}\n"))
        .map_err(|e| format!("cannot write {}: {e}", dirs.current().display()))?;
    remove_other_images(&dirs, &vmlinuz);
    Ok(Fetched {
        kernel,
        package,
        version,
        vmlinuz,
    })
}

/// The image fetched last time, if it is still there.
fn cached(kernel: &'static Kernel, dirs: &Dirs) -> Option<Fetched> {
    let text = fs::read_to_string(dirs.current()).ok()?;
    let record: Value = serde_json::from_str(&text).ok()?;
    let field = |key: &str| record.get(key).and_then(Value::as_str).map(String::from);
    let vmlinuz = PathBuf::from(field("vmlinuz")?);
    vmlinuz.is_file().then_some(Fetched {
        kernel,
        package: field("package")?,
        version: field("version")?,
        vmlinuz,
    })
}

/// The apt directories and the sources file.
fn prepare(kernel: &Kernel, dirs: &Dirs) -> Result<(), String> {
    for dir in [
        dirs.apt.join("lists/partial"),
        dirs.apt.join("cache/archives/partial"),
        dirs.kernel.clone(),
    ] {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let sources: String = kernel
        .sources
        .iter()
        .map(|(archive, suite)| format!("deb [signed-by={KEYRING}] {archive} {suite} main\n"))
        .collect();
    let write = |name: &str, text: &str| {
        fs::write(dirs.apt.join(name), text).map_err(|e| format!("cannot write apt {name}: {e}"))
    };
    write("sources.list", &sources)?;
    write("status", "")
}

/// The package holding the current image and its version: the meta package's
/// `linux-image-*` dependency, or that package's `linux-binary-*` dependency where the image
/// package is a stub.
fn resolve(dirs: &Dirs) -> Result<(String, String), String> {
    let meta = show(dirs, META)?;
    let image = depends(&meta)
        .into_iter()
        .find(|name| name.starts_with("linux-image-") && name != META)
        .ok_or_else(|| format!("{META} depends on no linux-image-* package"))?;
    let image_record = show(dirs, &image)?;
    let package = depends(&image_record)
        .into_iter()
        .find(|name| name.starts_with("linux-binary-"))
        .unwrap_or(image);
    let record = if package.starts_with("linux-binary-") {
        show(dirs, &package)?
    } else {
        image_record
    };
    let version = field(&record, "Version").ok_or_else(|| format!("{package} has no Version"))?;
    Ok((package, version))
}

/// `apt-cache show` of the candidate version.
fn show(dirs: &Dirs, package: &str) -> Result<String, String> {
    let out = proc::run(
        dirs.apt("apt-cache")
            .args(["show", "--no-all-versions", package]),
        APT_QUERY_DEADLINE,
    )?
    .ok(&format!("apt-cache show {package}"))?;
    let text = String::from_utf8_lossy(&out).into_owned();
    if text.trim().is_empty() {
        return Err(format!("{package} is not in the index"));
    }
    Ok(text)
}

/// A field of a control record (single-line fields only).
fn field(record: &str, name: &str) -> Option<String> {
    record.lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|value| value.trim().to_string())
    })
}

/// The first alternative of each dependency, without version constraints.
fn depends(record: &str) -> Vec<String> {
    field(record, "Depends")
        .unwrap_or_default()
        .split(',')
        .filter_map(|dep| dep.split('|').next())
        .filter_map(|alt| alt.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Download `package=version`, extract its vmlinuz to `target` and drop the rest.
fn download(dirs: &Dirs, package: &str, version: &str, target: &Path) -> Result<(), String> {
    let work = dirs.kernel.join("download");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = download_into(dirs, &work, package, version, target);
    let _ = fs::remove_dir_all(&work);
    result
}

fn download_into(
    dirs: &Dirs,
    work: &Path,
    package: &str,
    version: &str,
    target: &Path,
) -> Result<(), String> {
    proc::run(
        dirs.apt("apt-get").current_dir(work).args([
            "-q",
            "download",
            &format!("{package}={version}"),
        ]),
        DOWNLOAD_DEADLINE,
    )?
    .ok(&format!("apt-get download {package}"))?;
    let deb = fs::read_dir(work)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "deb"))
        .ok_or_else(|| format!("apt-get download {package} left no .deb"))?;
    let tree = work.join("tree");
    proc::run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree),
        EXTRACT_DEADLINE,
    )?
    .ok("dpkg-deb -x")?;
    let image = find_vmlinuz(&tree)
        .ok_or_else(|| format!("{package} holds no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz"))?;
    fs::rename(&image, target).map_err(|e| format!("cannot move the image: {e}"))
}

/// `boot/vmlinuz-*` or `usr/lib/modules/*/vmlinuz` in an extracted package.
fn find_vmlinuz(tree: &Path) -> Option<PathBuf> {
    let entries = |dir: PathBuf| {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
    };
    entries(tree.join("boot"))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .or_else(|| {
            entries(tree.join("usr/lib/modules"))
                .map(|dir| dir.join("vmlinuz"))
                .find(|p| p.is_file())
        })
}

/// Keep one image per kernel in the cache.
fn remove_other_images(dirs: &Dirs, keep: &Path) {
    for entry in fs::read_dir(&dirs.kernel).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "vmlinuz") && path != keep {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(id: &str, version: &str) -> Fetched {
        Fetched {
            kernel: Kernel::named(id).expect("known"),
            package: "p".to_string(),
            version: version.to_string(),
            vmlinuz: PathBuf::new(),
        }
    }

    #[test]
    fn stack_names_from_debian_versions() {
        assert_eq!(fetched("6.1", "6.1.192-3").stack_name(), "linux-6.1");
        assert_eq!(fetched("sid", "7.2.13-1").stack_name(), "linux-7.2");
        assert_eq!(
            fetched("bookworm-backports", "6.12.95-1~bpo12+1").stack_name(),
            "linux-6.12.95"
        );
        assert_eq!(
            fetched("experimental", "7.3~rc5-1~exp1").stack_name(),
            "linux-7.3"
        );
    }

    #[test]
    fn control_fields_and_dependencies() {
        let record = "Package: linux-image-7.2.13+deb14-cloud-amd64\nVersion: 7.2.13-1\n\
            Depends: dracut | initramfs-tools (>= 0.120+deb8u2), linux-binary-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)\n";
        assert_eq!(field(record, "Version").as_deref(), Some("7.2.13-1"));
        assert_eq!(
            depends(record),
            ["dracut", "linux-binary-7.2.13+deb14-cloud-amd64"]
        );
    }

    #[test]
    fn every_kernel_name_is_unique() {
        let mut names: Vec<&str> = KERNELS
            .iter()
            .flat_map(|k| std::iter::once(k.id).chain(k.aliases.iter().copied()))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
