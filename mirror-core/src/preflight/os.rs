//! `os`: the distribution from `/etc/os-release` and the architecture.

use super::{HostFacts, Outcome, PreflightOptions};

/// IDs of the RHEL family: these pass.
const RHEL_FAMILY: [&str; 5] = ["rhel", "centos", "rocky", "almalinux", "fedora"];
/// Architectures OpenShift release payloads and the registry are tested on here.
const ARCHITECTURES: [&str; 2] = ["x86_64", "aarch64"];

/// The fields of os-release(5) that preflight uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`rhel`, `ubuntu`), lowercase; `linux` when absent, as os-release(5) says.
    pub id: String,
    /// `ID_LIKE`, split on spaces (`["rhel", "fedora"]`).
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`9.4`).
    pub version_id: Option<String>,
    /// `PRETTY_NAME` (`Red Hat Enterprise Linux 9.4 (Plow)`).
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// Parse os-release text: `KEY=value` lines, values optionally in single or double quotes
    /// (with backslash escapes inside double quotes); comments and malformed lines skipped.
    pub fn parse(text: &str) -> Self {
        let mut out = OsRelease::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = unquote(value.trim());
            match key.trim() {
                "ID" => out.id = value.to_ascii_lowercase(),
                "ID_LIKE" => {
                    out.id_like = value
                        .split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect()
                }
                "VERSION_ID" => out.version_id = Some(value).filter(|v| !v.is_empty()),
                "PRETTY_NAME" => out.pretty_name = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        if out.id.is_empty() {
            out.id = "linux".to_string();
        }
        out
    }

    /// The major version: `VERSION_ID` up to the first dot (`9` for `9.4`).
    pub fn major_version(&self) -> Option<&str> {
        let v = self.version_id.as_deref()?;
        Some(v.split('.').next().unwrap_or(v))
    }

    /// Whether this is RHEL or a member of its family, by `ID` or `ID_LIKE`.
    pub fn is_rhel_family(&self) -> bool {
        RHEL_FAMILY.contains(&self.id.as_str())
            || self
                .id_like
                .iter()
                .any(|l| RHEL_FAMILY.contains(&l.as_str()))
    }

    /// Whether this is Debian, Ubuntu or a derivative, by `ID` or `ID_LIKE`.
    pub fn is_debian_family(&self) -> bool {
        let debian = |s: &str| s == "debian" || s == "ubuntu";
        debian(&self.id) || self.id_like.iter().any(|l| debian(l))
    }

    /// Whether this is SUSE (SLES, openSUSE), by `ID` or `ID_LIKE`.
    pub fn is_suse_family(&self) -> bool {
        let suse = |s: &str| s.starts_with("sles") || s.starts_with("opensuse") || s == "suse";
        suse(&self.id) || self.id_like.iter().any(|l| suse(l))
    }

    fn describe(&self) -> String {
        let name = self.pretty_name.as_deref().unwrap_or(&self.id);
        match self.major_version() {
            Some(major) => format!("{name} (`{}` {major})", self.id),
            None => format!("{name} (`{}`)", self.id),
        }
    }
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0] == b'\'' && bytes[bytes.len() - 1] == b'\'' {
        return value[1..value.len() - 1].to_string();
    }
    if bytes.len() >= 2 && bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"' {
        let mut out = String::new();
        let mut chars = value[1..value.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    value.to_string()
}

pub(super) fn check(facts: &HostFacts, _opts: &PreflightOptions) -> Outcome {
    let text = match &facts.os_release {
        Ok(t) => t,
        Err(e) => return Outcome::error(e),
    };
    let os = OsRelease::parse(text);
    let what = format!("{}, {}", os.describe(), facts.arch);
    if !ARCHITECTURES.contains(&facts.arch.as_str()) {
        return Outcome::fail(format!(
            "{what}: architecture `{}` is not supported",
            facts.arch
        ))
        .hint("use an x86_64 or aarch64 host".to_string());
    }
    if RHEL_FAMILY.contains(&os.id.as_str()) {
        Outcome::pass(what)
    } else if os.is_rhel_family() {
        Outcome::pass(format!("{what}, RHEL-compatible"))
    } else {
        Outcome::warn(format!("{what}: not in the RHEL family"))
            .hint("mirrorctl is tested on RHEL, CentOS Stream, Rocky Linux, AlmaLinux and Fedora; elsewhere package names and the trust store differ".to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::PreflightOptions;
    use super::super::facts::unreadable;
    use super::super::test_support::{healthy, run_one};

    pub const RHEL9: &str = r#"NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
"#;
    pub const RHEL7: &str = r#"NAME="Red Hat Enterprise Linux Server"
VERSION="7.9 (Maipo)"
ID="rhel"
ID_LIKE="fedora"
VARIANT="Server"
VERSION_ID="7.9"
PRETTY_NAME="Red Hat Enterprise Linux Server 7.9 (Maipo)"
"#;
    const CENTOS: &str = r#"NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PRETTY_NAME="CentOS Stream 9"
"#;
    const ROCKY: &str = r#"NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
"#;
    const ALMA: &str = r#"NAME="AlmaLinux"
VERSION="8.9 (Midnight Oncilla)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="8.9"
PRETTY_NAME="AlmaLinux 8.9 (Midnight Oncilla)"
"#;
    const FEDORA: &str = "NAME=\"Fedora Linux\"\nVERSION=\"40 (Server Edition)\"\nID=fedora\nVERSION_ID=40\nPRETTY_NAME=\"Fedora Linux 40 (Server Edition)\"\n";
    const ORACLE: &str = "NAME=\"Oracle Linux Server\"\nID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Oracle Linux Server 9.3\"\n";
    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian
"#;
    const UBUNTU: &str = r#"PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
ID=ubuntu
ID_LIKE=debian
"#;
    const ODD: &str = "# comment\nID='weird'\nPRETTY_NAME=\"Weird \\\"OS\\\"\"\ngarbage line\n";

    #[test]
    fn os_table() {
        let cases = [
            (
                RHEL9,
                "x86_64",
                "pass | Red Hat Enterprise Linux 9.4 (Plow) (`rhel` 9), x86_64",
            ),
            (
                RHEL7,
                "x86_64",
                "pass | Red Hat Enterprise Linux Server 7.9 (Maipo) (`rhel` 7), x86_64",
            ),
            (
                CENTOS,
                "aarch64",
                "pass | CentOS Stream 9 (`centos` 9), aarch64",
            ),
            (
                ROCKY,
                "x86_64",
                "pass | Rocky Linux 9.3 (Blue Onyx) (`rocky` 9), x86_64",
            ),
            (
                ALMA,
                "x86_64",
                "pass | AlmaLinux 8.9 (Midnight Oncilla) (`almalinux` 8), x86_64",
            ),
            (
                FEDORA,
                "x86_64",
                "pass | Fedora Linux 40 (Server Edition) (`fedora` 40), x86_64",
            ),
            (
                ORACLE,
                "x86_64",
                "pass | Oracle Linux Server 9.3 (`ol` 9), x86_64, RHEL-compatible",
            ),
            (
                DEBIAN,
                "x86_64",
                "warn | Debian GNU/Linux 12 (bookworm) (`debian` 12), x86_64: not in the RHEL family | hint: mirrorctl is tested on RHEL, CentOS Stream, Rocky Linux, AlmaLinux and Fedora; elsewhere package names and the trust store differ",
            ),
            (
                UBUNTU,
                "x86_64",
                "warn | Ubuntu 22.04.4 LTS (`ubuntu` 22), x86_64: not in the RHEL family | hint: mirrorctl is tested on RHEL, CentOS Stream, Rocky Linux, AlmaLinux and Fedora; elsewhere package names and the trust store differ",
            ),
            (
                ODD,
                "x86_64",
                "warn | Weird \"OS\" (`weird`), x86_64: not in the RHEL family | hint: mirrorctl is tested on RHEL, CentOS Stream, Rocky Linux, AlmaLinux and Fedora; elsewhere package names and the trust store differ",
            ),
            (
                "",
                "x86_64",
                "warn | linux (`linux`), x86_64: not in the RHEL family | hint: mirrorctl is tested on RHEL, CentOS Stream, Rocky Linux, AlmaLinux and Fedora; elsewhere package names and the trust store differ",
            ),
            (
                RHEL9,
                "s390x",
                "fail | Red Hat Enterprise Linux 9.4 (Plow) (`rhel` 9), s390x: architecture `s390x` is not supported | hint: use an x86_64 or aarch64 host",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(text, arch, _)| {
                let mut f = healthy();
                f.os_release = Ok(text.to_string());
                f.arch = arch.to_string();
                run_one("os", &f, &PreflightOptions::default())
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.2).collect::<Vec<_>>());
    }

    #[test]
    fn unreadable_os_release_could_not_run() {
        let mut f = healthy();
        f.os_release = unreadable("read `/etc/os-release`: No such file or directory (os error 2)");
        assert_eq!(
            run_one("os", &f, &PreflightOptions::default()),
            "error | read `/etc/os-release`: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn families() {
        use super::OsRelease;
        let fam = |t: &str| {
            let o = OsRelease::parse(t);
            (o.is_rhel_family(), o.is_debian_family())
        };
        assert_eq!(
            [RHEL9, CENTOS, UBUNTU, DEBIAN, ORACLE].map(fam),
            [
                (true, false),
                (true, false),
                (false, true),
                (false, true),
                (true, false)
            ]
        );
    }
}
