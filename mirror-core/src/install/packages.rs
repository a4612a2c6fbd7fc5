//! The `packages` step: install what the chosen runtime needs, only when it is missing.
//!
//! The decision is a pure function of the OS family, the runtime and what is on `PATH`, so
//! it is table-tested; running the package manager is the only side effect.

use mirror_tls::OsFamily;

use crate::error::Error;
use crate::runtime::RuntimeChoice;

/// What the host has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostTools {
    /// `podman` on PATH.
    pub podman: bool,
    /// `docker-registry` or `registry` on PATH.
    pub registry_binary: bool,
    /// `update-ca-trust` / `update-ca-certificates` for the family.
    pub trust_tool: bool,
}

impl HostTools {
    /// Looks at `PATH`.
    pub fn probe(family: OsFamily) -> Self {
        let on_path = |n: &str| crate::runtime::process::which(n).is_some();
        HostTools {
            podman: on_path("podman"),
            registry_binary: on_path("docker-registry") || on_path("registry"),
            trust_tool: on_path(match family {
                OsFamily::Rhel => "update-ca-trust",
                _ => "update-ca-certificates",
            }),
        }
    }
}

/// The packages to install (empty when everything is there), and the command that installs
/// them.
pub fn plan(
    family: OsFamily,
    runtime: RuntimeChoice,
    have: HostTools,
) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut pkgs = Vec::new();
    let runtime_ok = match runtime {
        RuntimeChoice::Podman => have.podman,
        RuntimeChoice::Process => have.registry_binary,
        RuntimeChoice::Auto => have.podman || have.registry_binary,
    };
    if !runtime_ok {
        pkgs.push(match (runtime, family) {
            (RuntimeChoice::Process, OsFamily::Rhel) => "docker-distribution",
            (RuntimeChoice::Process, _) => "docker-registry",
            // The script's choice: podman with the registry:2 image.
            _ => "podman",
        });
    }
    if !have.trust_tool {
        pkgs.push("ca-certificates");
    }
    let cmd = match family {
        OsFamily::Rhel => vec!["dnf", "install", "-y"],
        _ => vec!["apt-get", "install", "-y"],
    };
    (pkgs, cmd)
}

/// Installs `pkgs` with `cmd`. On RHEL a failure caused by a missing subscription is
/// reported with the registration command to run (interactively: the account password is
/// never passed as an argument).
pub fn install(family: OsFamily, cmd: &[&str], pkgs: &[&str]) -> Result<(), Error> {
    let run = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| Error::InvalidSetting {
                name: "packages".into(),
                reason: format!("cannot run `{}`: {e}", args[0]),
            })
    };
    if family == OsFamily::Debian {
        run(&["apt-get", "update", "-qq"])?;
    }
    let mut full: Vec<&str> = cmd.to_vec();
    full.extend_from_slice(pkgs);
    let out = run(&full)?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut reason = format!(
        "`{}` failed: {}",
        full.join(" "),
        stderr.lines().last().unwrap_or_default()
    );
    if family == OsFamily::Rhel
        && (stderr.contains("not registered") || stderr.contains("subscription"))
    {
        reason.push_str(" (this host is not registered: run `subscription-manager register` and answer its prompts, then rerun)");
    }
    Err(Error::InvalidSetting {
        name: "packages".into(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let all = HostTools {
            podman: true,
            registry_binary: true,
            trust_tool: true,
        };
        let none = HostTools::default();
        let only_binary = HostTools {
            registry_binary: true,
            trust_tool: true,
            ..none
        };
        let table = [
            (OsFamily::Rhel, RuntimeChoice::Auto, all, vec![], "dnf"),
            (
                OsFamily::Debian,
                RuntimeChoice::Auto,
                only_binary,
                vec![],
                "apt-get",
            ),
            (
                OsFamily::Rhel,
                RuntimeChoice::Auto,
                none,
                vec!["podman", "ca-certificates"],
                "dnf",
            ),
            (
                OsFamily::Rhel,
                RuntimeChoice::Podman,
                only_binary,
                vec!["podman"],
                "dnf",
            ),
            (
                OsFamily::Rhel,
                RuntimeChoice::Process,
                HostTools {
                    trust_tool: true,
                    ..none
                },
                vec!["docker-distribution"],
                "dnf",
            ),
            (
                OsFamily::Debian,
                RuntimeChoice::Process,
                HostTools {
                    podman: true,
                    trust_tool: true,
                    ..none
                },
                vec!["docker-registry"],
                "apt-get",
            ),
            (
                OsFamily::Debian,
                RuntimeChoice::Auto,
                HostTools {
                    podman: true,
                    ..none
                },
                vec!["ca-certificates"],
                "apt-get",
            ),
        ];
        for (family, runtime, have, want, tool) in table {
            let (pkgs, cmd) = plan(family, runtime, have);
            assert_eq!(
                (pkgs, cmd[0]),
                (want, tool),
                "{family:?} {runtime:?} {have:?}"
            );
        }
    }
}
