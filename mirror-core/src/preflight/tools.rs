//! `tools`: the programs the chosen runtime needs, and the OS family's trust-store tool.

use super::os::OsRelease;
use super::{HostFacts, Outcome, PreflightOptions, Status};
use crate::runtime::RuntimeChoice as Runtime;

/// Every program the check looks for.
pub(super) const PROGRAMS: [&str; 5] = [
    "podman",
    "registry",
    "docker-registry",
    "update-ca-trust",
    "update-ca-certificates",
];

const REGISTRY_BINARIES: [&str; 2] = ["registry", "docker-registry"];

/// The host's package manager, from `/etc/os-release` as the `os` check reads it, so that hints
/// name the command this host has: the same choice the install's `packages` step makes
/// (`dnf`, `yum` on RHEL 7, `apt-get` on Debian and Ubuntu).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Installer {
    Dnf,
    Yum,
    AptGet,
    Zypper,
    /// The family is not known: name the two common ones.
    Unknown,
}

impl Installer {
    /// This host's, from `/etc/os-release` (or `/usr/lib/os-release`).
    pub(crate) fn of_this_host() -> Self {
        let os = super::facts::read_os_release().ok();
        Self::for_os(os.map(|t| OsRelease::parse(&t)).as_ref())
    }

    fn for_os(os: Option<&OsRelease>) -> Self {
        match os {
            // RHEL 7 and its rebuilds have only `yum`; Fedora and RHEL 8 on have `dnf`.
            Some(os) if os.is_rhel_family() => match os.major_version() {
                Some("7") if os.id != "fedora" => Installer::Yum,
                _ => Installer::Dnf,
            },
            Some(os) if os.is_debian_family() => Installer::AptGet,
            Some(os) if os.is_suse_family() => Installer::Zypper,
            _ => Installer::Unknown,
        }
    }

    /// `` `dnf install PKG` `` (or `yum`, `apt-get`, `zypper`).
    pub(crate) fn command(self, package: &str) -> String {
        match self {
            Installer::Dnf => format!("`dnf install {package}`"),
            Installer::Yum => format!("`yum install {package}`"),
            Installer::AptGet => format!("`apt-get install {package}`"),
            Installer::Zypper => format!("`zypper install {package}`"),
            Installer::Unknown => {
                format!("`dnf install {package}` or `apt-get install {package}`")
            }
        }
    }

    /// How to get a distribution registry binary (`registry` or `docker-registry`) here.
    pub(crate) fn registry_binary(self) -> String {
        match self {
            Installer::Dnf | Installer::Yum => format!(
                "{}, from EPEL; or the `registry` binary from github.com/distribution/distribution releases",
                self.command("docker-distribution")
            ),
            Installer::AptGet => self.command("docker-registry"),
            Installer::Zypper => self.command("distribution-registry"),
            Installer::Unknown => "`dnf install docker-distribution` (RHEL family, EPEL) or `apt-get install docker-registry` (Debian and Ubuntu)".to_string(),
        }
    }
}

pub(super) fn check(facts: &HostFacts, opts: &PreflightOptions) -> Outcome {
    let tools = &facts.tools;
    let found = |name: &str| tools.get(name).map(|p| format!("`{}`", p.display()));
    let mut parts = Vec::new();
    let mut hints = Vec::new();
    let mut status = Status::Pass;

    let podman = found("podman");
    let binary = REGISTRY_BINARIES
        .iter()
        .find_map(|n| found(n).map(|p| (*n, p)));
    let os = facts.os_release.as_deref().ok().map(OsRelease::parse);
    let install = Installer::for_os(os.as_ref());
    let podman_hint = format!("install podman ({})", install.command("podman"));
    let binary_hint = format!(
        "install the distribution registry binary ({})",
        install.registry_binary()
    );
    match (opts.runtime, podman, binary) {
        (Runtime::Podman | Runtime::Auto, Some(p), _) => {
            parts.push(format!("runtime podman at {p}"))
        }
        (Runtime::Process | Runtime::Auto, _, Some((name, p))) => {
            parts.push(format!("runtime process: `{name}` at {p}"))
        }
        (Runtime::Podman, None, _) => {
            status = Status::Fail;
            parts.push("`podman` not found".to_string());
            hints.push(format!("{podman_hint}, or use `--runtime process`"));
        }
        (Runtime::Process, _, None) => {
            status = Status::Fail;
            parts.push("neither `registry` nor `docker-registry` found".to_string());
            hints.push(format!("{binary_hint}, or use `--runtime podman`"));
        }
        (Runtime::Auto, None, None) => {
            status = Status::Fail;
            parts.push("no runtime: neither `podman` nor a `registry` binary found".to_string());
            hints.push(format!("{podman_hint}, or {binary_hint}"));
        }
    }

    let wanted: &[&str] = match &os {
        Some(os) if os.is_rhel_family() => &["update-ca-trust"],
        Some(os) if os.is_debian_family() || os.is_suse_family() => &["update-ca-certificates"],
        _ => &["update-ca-trust", "update-ca-certificates"],
    };
    match wanted.iter().find_map(|n| found(n).map(|p| (*n, p))) {
        Some((name, p)) => parts.push(format!("trust store: `{name}` at {p}")),
        None => {
            status = Status::Fail;
            let names = wanted
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ");
            parts.push(format!("trust-store tool {names} not found"));
            hints.push(format!(
                "install the `ca-certificates` package ({})",
                install.command("ca-certificates")
            ));
        }
    }
    let hint = (!hints.is_empty()).then(|| hints.join("; "));
    Outcome::new(status, parts.join("; ")).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{healthy, run_one};
    use super::super::{PreflightOptions, Tools};
    use crate::runtime::RuntimeChoice as Runtime;

    const UBUNTU: &str = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n";
    const DEBIAN: &str = "ID=debian\nVERSION_ID=\"12\"\n";

    #[test]
    fn tools_table() {
        let rhel = super::super::os::tests::RHEL9;
        let cases: [(Runtime, &[&str], &str, &str); 13] = [
            (
                Runtime::Auto,
                &["podman", "update-ca-trust"],
                rhel,
                "pass | runtime podman at `/usr/bin/podman`; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust`",
            ),
            (
                Runtime::Auto,
                &["registry", "update-ca-trust"],
                rhel,
                "pass | runtime process: `registry` at `/usr/bin/registry`; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust`",
            ),
            (
                Runtime::Process,
                &["podman", "docker-registry", "update-ca-certificates"],
                UBUNTU,
                "pass | runtime process: `docker-registry` at `/usr/bin/docker-registry`; trust store: `update-ca-certificates` at `/usr/bin/update-ca-certificates`",
            ),
            (
                Runtime::Podman,
                &["registry", "update-ca-trust"],
                rhel,
                "fail | `podman` not found; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust` | hint: install podman (`dnf install podman`), or use `--runtime process`",
            ),
            (
                Runtime::Process,
                &["podman", "update-ca-trust"],
                rhel,
                "fail | neither `registry` nor `docker-registry` found; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust` | hint: install the distribution registry binary (`dnf install docker-distribution`, from EPEL; or the `registry` binary from github.com/distribution/distribution releases), or use `--runtime podman`",
            ),
            (
                Runtime::Auto,
                &["update-ca-trust"],
                rhel,
                "fail | no runtime: neither `podman` nor a `registry` binary found; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust` | hint: install podman (`dnf install podman`), or install the distribution registry binary (`dnf install docker-distribution`, from EPEL; or the `registry` binary from github.com/distribution/distribution releases)",
            ),
            (
                Runtime::Auto,
                &["podman", "update-ca-trust"],
                UBUNTU,
                "fail | runtime podman at `/usr/bin/podman`; trust-store tool `update-ca-certificates` not found | hint: install the `ca-certificates` package (`apt-get install ca-certificates`)",
            ),
            (
                Runtime::Auto,
                &["podman", "update-ca-certificates"],
                "ID=weird\n",
                "pass | runtime podman at `/usr/bin/podman`; trust store: `update-ca-certificates` at `/usr/bin/update-ca-certificates`",
            ),
            // The hints name this host's package manager.
            (
                Runtime::Auto,
                &[],
                DEBIAN,
                "fail | no runtime: neither `podman` nor a `registry` binary found; trust-store tool `update-ca-certificates` not found | hint: install podman (`apt-get install podman`), or install the distribution registry binary (`apt-get install docker-registry`); install the `ca-certificates` package (`apt-get install ca-certificates`)",
            ),
            (
                Runtime::Podman,
                &["update-ca-certificates"],
                UBUNTU,
                "fail | `podman` not found; trust store: `update-ca-certificates` at `/usr/bin/update-ca-certificates` | hint: install podman (`apt-get install podman`), or use `--runtime process`",
            ),
            (
                Runtime::Process,
                &[],
                super::super::os::tests::RHEL7,
                "fail | neither `registry` nor `docker-registry` found; trust-store tool `update-ca-trust` not found | hint: install the distribution registry binary (`yum install docker-distribution`, from EPEL; or the `registry` binary from github.com/distribution/distribution releases), or use `--runtime podman`; install the `ca-certificates` package (`yum install ca-certificates`)",
            ),
            (
                Runtime::Podman,
                &["update-ca-certificates"],
                "ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n",
                "fail | `podman` not found; trust store: `update-ca-certificates` at `/usr/bin/update-ca-certificates` | hint: install podman (`zypper install podman`), or use `--runtime process`",
            ),
            (
                Runtime::Auto,
                &["update-ca-trust"],
                "ID=weird\n",
                "fail | no runtime: neither `podman` nor a `registry` binary found; trust store: `update-ca-trust` at `/usr/bin/update-ca-trust` | hint: install podman (`dnf install podman` or `apt-get install podman`), or install the distribution registry binary (`dnf install docker-distribution` (RHEL family, EPEL) or `apt-get install docker-registry` (Debian and Ubuntu))",
            ),
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|(runtime, found, os, _)| {
                let mut f = healthy();
                f.tools = Tools::found(found);
                f.os_release = Ok(os.to_string());
                let opts = PreflightOptions {
                    runtime: *runtime,
                    ..Default::default()
                };
                run_one("tools", &f, &opts)
            })
            .collect();
        assert_eq!(got, cases.iter().map(|c| c.3).collect::<Vec<_>>());
    }
}
