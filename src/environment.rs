//! Where the experiments ran: OS, kernel, the somaxconn constant and setting, other knobs, and
//! the descriptor limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sys::{self, FdLimit, Sandbox};

/// The OS as os_info reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// OS type (`Ubuntu`, `Mac OS`, `Windows`, `FreeBSD`, ...).
    pub os_type: String,
    /// Version (`24.4.0`, `15.5.0`, `10.0.26100`).
    pub version: String,
    /// Edition, where there is one (`Windows Server 2025 Datacenter`).
    pub edition: Option<String>,
    /// Codename, where there is one (`noble`).
    pub codename: Option<String>,
    /// `32-bit` / `64-bit`.
    pub bitness: String,
    /// CPU architecture as the OS names it (`x86_64`, `arm64`, `aarch64`).
    pub architecture: Option<String>,
}

/// The somaxconn constant and the system's own limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Somaxconn {
    /// `SOMAXCONN` as the platform headers define it (libc crate; windows-sys on Windows).
    pub constant: i64,
    /// The system's effective limit, where the OS has a knob for it (Linux
    /// `net.core.somaxconn`, macOS `kern.ipc.somaxconn`, FreeBSD `kern.ipc.soacceptqueue`).
    pub setting: Option<i64>,
    /// The knob's name, where there is one.
    pub setting_name: Option<String>,
}

/// The environment of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Environment {
    /// `std::env::consts::OS` of the binary (`linux`, `macos`, `windows`, `freebsd`).
    pub target_os: String,
    /// `std::env::consts::ARCH` of the binary (`x86_64`, `aarch64`).
    pub target_arch: String,
    /// os_info's view of the OS.
    pub os: OsInfo,
    /// Kernel release (`uname -r`), where there is one.
    pub kernel: Option<String>,
    /// somaxconn constant and setting.
    pub somaxconn: Somaxconn,
    /// Other knobs that shape the results, by sysctl name. On Linux this includes
    /// `kernel.version` (`uname -v`), which carries the upstream patch level where `kernel` is a
    /// distribution's ABI name (`5.10.0-32-cloud-amd64`, `#1 SMP Debian 5.10.223-1 (...)`).
    #[serde(deserialize_with = "crate::report::read::unique_keys")]
    pub settings: BTreeMap<String, String>,
    /// The descriptor limit before and after the harness raised it; `null` where the OS has
    /// none (Windows).
    pub fd_limit: Option<FdLimit>,
    /// A compatibility layer the binary runs under (`wine 8.0`): its TCP is the host's, not
    /// the target OS's, so its results must not be read as the target's.
    pub emulator: Option<String>,
    /// A sandbox the process runs in, where one is detected (`gvisor`, `wsl`, `container`);
    /// absent otherwise. Under gVisor the TCP stack is gVisor's own and `kernel` is the release
    /// gVisor makes up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// The UTC day the run started, `YYYY-MM-DD`, from the system clock. Absent in reports
    /// written before it was added, and where the clock is before 1970.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_on: Option<String>,
}

impl Environment {
    /// Read the environment of this process (and raise its descriptor limit, once).
    pub fn detect() -> Self {
        let info = os_info::get();
        let setting = sys::somaxconn_setting();
        Environment {
            target_os: std::env::consts::OS.to_string(),
            target_arch: std::env::consts::ARCH.to_string(),
            os: OsInfo {
                os_type: info.os_type().to_string(),
                version: info.version().to_string(),
                edition: info.edition().map(str::to_string),
                codename: info.codename().map(str::to_string),
                bitness: info.bitness().to_string(),
                architecture: info.architecture().map(str::to_string),
            },
            kernel: sys::kernel_version(),
            somaxconn: Somaxconn {
                constant: sys::somaxconn_constant(),
                setting: setting.map(|(_, value)| value),
                setting_name: setting.map(|(name, _)| name.to_string()),
            },
            settings: sys::tcp_settings(),
            fd_limit: sys::fd_limit(),
            emulator: sys::emulator(),
            sandbox: sys::sandbox(),
            measured_on: utc_date(std::time::SystemTime::now()),
        }
    }

    /// This environment for a run that started at `started` (detected later, or beside it):
    /// `measured_on` is that day.
    pub fn started_at(mut self, started: std::time::SystemTime) -> Self {
        self.measured_on = utc_date(started);
        self
    }

    /// The OS as a person would name it: `Debian 12.0.0`, or `Linux (unknown distribution)`
    /// where os_info found no release file (a bare initramfs, a minimal container).
    pub fn os_name(&self) -> String {
        if self.os.version == os_info::Version::Unknown.to_string() {
            format!("{} (unknown distribution)", self.os.os_type)
        } else {
            format!("{} {}", self.os.os_type, self.os.version)
        }
    }

    /// A one-line description for progress output and snapshot metadata.
    pub fn summary(&self) -> String {
        let mut text = match self.sandbox {
            // The release gVisor reports is not a kernel: say so, and whose stack it is.
            Some(Sandbox::Gvisor) => format!(
                "gVisor ({} userland, reports kernel {})",
                self.os_name(),
                self.kernel.as_deref().unwrap_or("?")
            ),
            _ => {
                let mut text = self.os_name();
                if let Some(kernel) = &self.kernel {
                    text.push_str(&format!(", kernel {kernel}"));
                }
                if let Some(sandbox) = self.sandbox {
                    text.push_str(&format!(", in {}", sandbox.display_name()));
                }
                text
            }
        };
        text.push_str(&format!(", {}", self.target_arch));
        match (&self.somaxconn.setting_name, self.somaxconn.setting) {
            (Some(name), Some(value)) => text.push_str(&format!(", {name}={value}")),
            _ => text.push_str(&format!(", SOMAXCONN={}", self.somaxconn.constant)),
        }
        if let Some(emulator) = &self.emulator {
            text.push_str(&format!(", under {emulator}"));
        }
        text
    }
}

/// The UTC civil date of `time`, `YYYY-MM-DD`; `None` before 1970-01-01.
pub fn utc_date(time: std::time::SystemTime) -> Option<String> {
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let (year, month, day) = civil_from_days(i64::try_from(seconds / 86_400).ok()?);
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// The proleptic Gregorian date `days` after 1970-01-01: Howard Hinnant's `civil_from_days`
/// ("chrono-Compatible Low-Level Date Algorithms"), eras of 400 years starting on March 1st.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn utc_dates_of_known_instants() {
        let at = |seconds: u64| utc_date(UNIX_EPOCH + Duration::from_secs(seconds));
        // `date -u -d @SECONDS +%F` for each.
        for (seconds, day) in [
            (0, "1970-01-01"),
            (86_399, "1970-01-01"),
            (86_400, "1970-01-02"),
            (951_782_400, "2000-02-29"),
            (951_868_800, "2000-03-01"),
            (1_709_164_800, "2024-02-29"),
            (1_798_761_599, "2026-12-31"),
            (1_798_761_600, "2027-01-01"),
            (4_107_542_400, "2100-03-01"),
        ] {
            assert_eq!(at(seconds).as_deref(), Some(day), "{seconds}");
        }
        assert_eq!(utc_date(UNIX_EPOCH - Duration::from_secs(1)), None);
    }

    fn fixture() -> Environment {
        let report: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/report-linux.json")).unwrap();
        serde_json::from_value(report["environment"].clone()).unwrap()
    }

    #[test]
    fn a_missing_release_file_reads_as_an_unknown_distribution() {
        let mut environment = fixture();
        environment.os.version = "Unknown".to_string();
        environment.os.os_type = "Linux".to_string();
        assert!(
            environment
                .summary()
                .starts_with("Linux (unknown distribution), kernel 6.18"),
            "{}",
            environment.summary()
        );
    }

    #[test]
    fn gvisor_is_named_instead_of_its_made_up_kernel() {
        let mut environment = fixture();
        environment.sandbox = Some(Sandbox::Gvisor);
        environment.kernel = Some("4.4.0".to_string());
        let summary = environment.summary();
        assert!(
            summary.starts_with("gVisor (Debian 12.0.0 userland, reports kernel 4.4.0)"),
            "{summary}"
        );
        assert!(!summary.contains(", kernel 4.4.0"), "{summary}");
        let json = serde_json::to_value(&environment).unwrap();
        assert_eq!(json["sandbox"], "gvisor");
        environment.sandbox = None;
        let json = serde_json::to_value(&environment).unwrap();
        assert!(json.get("sandbox").is_none(), "absent for the host");
    }
}
