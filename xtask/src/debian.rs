//! Debian's cloud kernels, fetched with an apt configuration of our own (sources, lists and
//! package cache under the runner's cache directory), so the system's apt state is never read
//! for sources or written.
//!
//! A suite's `linux-image-cloud-amd64` depends on the versioned image package
//! (`linux-image-6.1.0-57-cloud-amd64`), which holds `boot/vmlinuz-<release>`. From sid on the
//! image package is a stub that depends on `linux-binary-<release>`, which holds
//! `usr/lib/modules/<release>/vmlinuz`. Nothing else is needed: the cloud images boot an
//! initramfs without modules.
//!
//! A release leaves Debian's main archive about a year after its LTS ends (buster did, bullseye
//! will) and moves to the archive of retired releases, which has the same layout. Each suite is
//! looked for in the main archive first, then there; the manifest records which one served it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::proc;

/// The archive signing keys (package `debian-archive-keyring`).
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The archives of a suite, by their path under a mirror's base.
const MIRROR: &str = "debian";
const SECURITY: &str = "debian-security";

/// The meta package every suite has, depending on the suite's current cloud image.
const META: &str = "linux-image-cloud-amd64";

const APT_UPDATE_DEADLINE: Duration = Duration::from_secs(300);
const PROBE_DEADLINE: Duration = Duration::from_secs(60);
const APT_QUERY_DEADLINE: Duration = Duration::from_secs(60);
const DOWNLOAD_DEADLINE: Duration = Duration::from_secs(600);
const EXTRACT_DEADLINE: Duration = Duration::from_secs(120);

/// A kernel the runner knows how to fetch.
pub struct Kernel {
    /// What `--kernel` accepts: the series for the stable suites, the suite name otherwise.
    pub id: &'static str,
    /// Other names `--kernel` accepts.
    pub aliases: &'static [&'static str],
    /// The apt sources, `(archive, suite)` with the archive's path under a mirror (`debian`,
    /// `debian-security`); the highest version among them is taken.
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

/// Where Debian's suites are served: `current`, the main archive of supported releases, and
/// `retired`, the archive of releases that left it; both with `debian/` and
/// `debian-security/` under them.
pub struct Mirrors {
    pub current: String,
    pub retired: String,
}

impl Mirrors {
    /// Debian's own.
    pub fn debian() -> Self {
        Mirrors {
            current: "http://deb.debian.org".to_string(),
            retired: "http://archive.debian.org".to_string(),
        }
    }
}

/// One suite as it was found: the archive's URL, the suite, and whether that is the archive of
/// retired releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub suite: String,
    pub retired: bool,
}

impl Source {
    /// `http://deb.debian.org/debian bullseye`, as the manifest lists it.
    pub fn describe(&self) -> String {
        format!("{} {}", self.url, self.suite)
    }
}

/// Which archive served a kernel's suites, for the manifest: `current` (Debian's main
/// archive), `retired` (the archive of retired releases) or `both`.
pub fn archive_of(sources: &[Source]) -> &'static str {
    match (
        sources.iter().any(|s| !s.retired),
        sources.iter().any(|s| s.retired),
    ) {
        (true, true) => "both",
        (false, true) => "retired",
        _ => "current",
    }
}

/// A kernel on disk, ready to boot.
pub struct Fetched {
    pub kernel: &'static Kernel,
    /// The suites its index was read from, each in the archive that had it.
    pub sources: Vec<Source>,
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
    mirrors: &Mirrors,
    cache: &Path,
    refresh: bool,
    say: &dyn Fn(String),
) -> Result<Fetched, String> {
    let dirs = Dirs::new(cache, kernel);
    if let Some(fetched) = cached(kernel, &dirs).filter(|_| !refresh) {
        return Ok(fetched);
    }
    let sources = locate(kernel, mirrors)?;
    for source in sources.iter().filter(|s| s.retired) {
        say(format!(
            "{} is in the archive of retired releases: {}",
            source.suite,
            source.describe()
        ));
    }
    prepare(&sources, &dirs)?;
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
    let record = json!({
        "package": package,
        "version": version,
        "vmlinuz": vmlinuz,
        "sources": sources.iter().map(|s| json!({ "url": s.url, "suite": s.suite, "retired": s.retired })).collect::<Vec<_>>(),
    });
    fs::write(dirs.current(), format!("{record:#}\n"))
        .map_err(|e| format!("cannot write {}: {e}", dirs.current().display()))?;
    remove_other_images(&dirs, &vmlinuz);
    Ok(Fetched {
        kernel,
        sources,
        package,
        version,
        vmlinuz,
    })
}

/// The image fetched last time, if it is still there (and its record says where it came from).
fn cached(kernel: &'static Kernel, dirs: &Dirs) -> Option<Fetched> {
    let text = fs::read_to_string(dirs.current()).ok()?;
    let record: Value = serde_json::from_str(&text).ok()?;
    let field = |key: &str| record.get(key).and_then(Value::as_str).map(String::from);
    let vmlinuz = PathBuf::from(field("vmlinuz")?);
    let sources = record
        .get("sources")?
        .as_array()?
        .iter()
        .map(|s| {
            Some(Source {
                url: s.get("url")?.as_str()?.to_string(),
                suite: s.get("suite")?.as_str()?.to_string(),
                retired: s.get("retired")?.as_bool()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    vmlinuz.is_file().then_some(Fetched {
        kernel,
        sources,
        package: field("package")?,
        version: field("version")?,
        vmlinuz,
    })
}

/// Each of the kernel's suites in the archive that has it: Debian's main archive, or once the
/// release has left it, the archive of retired releases. A suite in neither is an error naming
/// both; an archive that cannot be reached is an error too, never a reason to try the other.
pub fn locate(kernel: &Kernel, mirrors: &Mirrors) -> Result<Vec<Source>, String> {
    kernel
        .sources
        .iter()
        .map(|(archive, suite)| {
            let places = [(&mirrors.current, false), (&mirrors.retired, true)]
                .map(|(base, retired)| (format!("{base}/{archive}"), retired));
            for (url, retired) in &places {
                if has_suite(url, suite)? {
                    return Ok(Source {
                        url: url.clone(),
                        suite: suite.to_string(),
                        retired: *retired,
                    });
                }
            }
            Err(format!(
                "{suite} is in neither {} nor {} (no dists/{suite}/Release)",
                places[0].0, places[1].0
            ))
        })
        .collect()
}

/// Whether `archive` has `dists/SUITE/Release`, by a HEAD request with curl (http, https, or
/// file for a local archive): yes, no (HTTP 404 or 410, or no such file), or an error.
fn has_suite(archive: &str, suite: &str) -> Result<bool, String> {
    let url = format!("{archive}/dists/{suite}/Release");
    let out = proc::run(
        Command::new("curl").args([
            "-sS",
            "-I",
            "-L",
            "--retry",
            "2",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            "-w",
            "%{response_code}",
            &url,
        ]),
        PROBE_DEADLINE,
    )?;
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // curl's exit 37: a file:// URL whose file does not exist.
    const FILE_MISSING: i32 = 37;
    match out.status.and_then(|s| s.code()) {
        Some(0) if code.starts_with('2') || (url.starts_with("file:") && code == "000") => Ok(true),
        Some(0) if code == "404" || code == "410" => Ok(false),
        Some(FILE_MISSING) => Ok(false),
        Some(0) => Err(format!("{url}: HTTP {code}")),
        _ => Err(format!(
            "cannot reach {url}: {}",
            out.ok("curl").err().unwrap_or_default()
        )),
    }
}

/// The apt directories and the sources file: the suites where [`locate`] found them. A retired
/// release's Release files have expired (their `Valid-Until` passed), which apt must accept.
fn prepare(sources: &[Source], dirs: &Dirs) -> Result<(), String> {
    for dir in [
        dirs.apt.join("lists/partial"),
        dirs.apt.join("cache/archives/partial"),
        dirs.kernel.clone(),
    ] {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let sources = sources_list(sources);
    let write = |name: &str, text: &str| {
        fs::write(dirs.apt.join(name), text).map_err(|e| format!("cannot write apt {name}: {e}"))
    };
    write("sources.list", &sources)?;
    write("status", "")
}

/// The `sources.list` lines for the located suites.
fn sources_list(sources: &[Source]) -> String {
    sources
        .iter()
        .map(|source| {
            let expired = if source.retired {
                " check-valid-until=no"
            } else {
                ""
            };
            format!(
                "deb [signed-by={KEYRING}{expired}] {} {} main\n",
                source.url, source.suite
            )
        })
        .collect()
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
            sources: Vec::new(),
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

    /// A fake pair of archives under the temporary directory, served as file:// URLs: the main
    /// one has bookworm, the retired one bullseye (as once bullseye has left the main archive).
    struct FakeArchives(PathBuf);

    impl FakeArchives {
        fn new(tag: &str) -> Self {
            let root =
                std::env::temp_dir().join(format!("xtask-debian-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            for dists in [
                "current/debian/dists/bookworm",
                "current/debian-security/dists/bookworm-security",
                "retired/debian/dists/bullseye",
                "retired/debian-security/dists/bullseye-security",
            ] {
                fs::create_dir_all(root.join(dists)).unwrap();
                fs::write(root.join(dists).join("Release"), "Origin: Debian\n").unwrap();
            }
            FakeArchives(root)
        }

        fn mirrors(&self) -> Mirrors {
            Mirrors {
                current: format!("file://{}", self.0.join("current").display()),
                retired: format!("file://{}", self.0.join("retired").display()),
            }
        }
    }

    impl Drop for FakeArchives {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_release_that_left_the_main_archive_comes_from_the_retired_one() {
        let archives = FakeArchives::new("retired");
        let mirrors = archives.mirrors();
        let bullseye = locate(Kernel::named("5.10").unwrap(), &mirrors).expect("located");
        assert_eq!(
            bullseye,
            [
                Source {
                    url: format!("{}/debian", mirrors.retired),
                    suite: "bullseye".to_string(),
                    retired: true,
                },
                Source {
                    url: format!("{}/debian-security", mirrors.retired),
                    suite: "bullseye-security".to_string(),
                    retired: true,
                },
            ]
        );
        assert_eq!(archive_of(&bullseye), "retired");
        // apt reads it there, and accepts the expired Release files of a retired release.
        let list = sources_list(&bullseye);
        assert_eq!(
            list.lines().next(),
            Some(
                format!(
                    "deb [signed-by={KEYRING} check-valid-until=no] {}/debian bullseye main",
                    mirrors.retired
                )
                .as_str()
            )
        );

        // A supported release stays in the main archive, with apt's usual checks.
        let bookworm = locate(Kernel::named("6.1").unwrap(), &mirrors).expect("located");
        assert!(bookworm.iter().all(|s| !s.retired), "{bookworm:?}");
        assert_eq!(archive_of(&bookworm), "current");
        assert_eq!(
            bookworm[0].describe(),
            format!("{}/debian bookworm", mirrors.current)
        );
        assert!(!sources_list(&bookworm).contains("check-valid-until"));

        // In neither archive: an error that names both.
        let error = locate(Kernel::named("6.12").unwrap(), &mirrors).unwrap_err();
        assert!(
            error.contains("trixie is in neither") && error.contains(&mirrors.retired),
            "{error}"
        );
    }

    /// An archive that cannot be reached is an error, not a sign that the release retired.
    #[test]
    fn an_unreachable_archive_is_an_error_not_a_retirement() {
        let archives = FakeArchives::new("unreachable");
        let mirrors = Mirrors {
            // Port 1 on loopback: nothing listens, the connection is refused at once.
            current: "http://127.0.0.1:1".to_string(),
            retired: archives.mirrors().retired,
        };
        let error = locate(Kernel::named("5.10").unwrap(), &mirrors).unwrap_err();
        assert!(
            error.contains("cannot reach http://127.0.0.1:1/debian"),
            "{error}"
        );
    }

    #[test]
    fn the_archive_of_mixed_sources_is_both() {
        let source = |retired| Source {
            url: String::new(),
            suite: String::new(),
            retired,
        };
        assert_eq!(archive_of(&[source(false), source(true)]), "both");
        assert_eq!(archive_of(&[]), "current");
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
