//! The `packages` step: install what the chosen runtime needs, only when it is missing.
//!
//! The decision is a pure function of the OS family, the runtime and what is on `PATH`, so
//! it is table-tested; running the package manager is the only side effect.

use mirror_tls::OsFamily;

use super::rhsm::{self, Host};
use crate::auth::Credential;
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
    /// `dnf` on PATH (RHEL 8 and later; RHEL 7 has only `yum`).
    pub dnf: bool,
}

impl HostTools {
    /// Looks at the host's `PATH`.
    pub(crate) fn probe(host: &Host, family: OsFamily) -> Self {
        let on_path = |n: &str| host.find(n).is_some();
        HostTools {
            podman: on_path("podman"),
            registry_binary: on_path("docker-registry") || on_path("registry"),
            trust_tool: on_path(match family {
                OsFamily::Rhel => "update-ca-trust",
                _ => "update-ca-certificates",
            }),
            dnf: on_path("dnf"),
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
        OsFamily::Rhel if have.dnf => vec!["dnf", "install", "-y"],
        OsFamily::Rhel => vec!["yum", "install", "-y"],
        _ => vec!["apt-get", "install", "-y"],
    };
    (pkgs, cmd)
}

/// Installs `pkgs` with `cmd` and says what it did.
///
/// On RHEL, when the install fails and the host is not registered with Red Hat, the host is
/// registered with `account` (the script's Red Hat account user and password) and the
/// install tried once more. Without an account the error says how to give one. A host
/// whose repositories work without registration (cloud images with RHUI, Satellite,
/// a local mirror) is never registered.
pub(crate) fn install(
    host: &Host,
    family: OsFamily,
    cmd: &[&str],
    pkgs: &[&str],
    account: Option<&Credential>,
) -> Result<String, Error> {
    let mut full: Vec<&str> = cmd.to_vec();
    full.extend_from_slice(pkgs);
    let shown = full.join(" ");
    let run = |args: &[&str]| {
        host.command(args[0])
            .args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::HostPackages {
                reason: format!("cannot run `{}`: {e}", args[0]),
                hint: "run it as root on a host with its package manager, or install the packages yourself and rerun with `--skip packages`".into(),
            })
    };
    let failure = |out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_string();
        format!("`{shown}` failed ({}): {last}", out.status)
    };
    let generic_hint = || {
        format!(
            "install {} yourself (or fix the package repositories) and rerun; `--skip packages` leaves this step out",
            pkgs.join(" ")
        )
    };
    if family == OsFamily::Debian {
        run(&["apt-get", "update", "-qq"])?;
    }
    let out = run(&full)?;
    if out.status.success() {
        return Ok(shown);
    }
    if family != OsFamily::Rhel || rhsm::registered(host) != Some(false) {
        return Err(Error::HostPackages {
            reason: failure(&out),
            hint: generic_hint(),
        });
    }
    let Some(account) = account else {
        return Err(Error::HostPackages {
            reason: format!(
                "{}; this host is not registered with Red Hat, so it has no package repositories",
                failure(&out)
            ),
            hint: "give the Red Hat account with `--rh-username USER` and `--rh-password-file FILE` (or MIRROR_RH_PASSWORD) and install registers the host, or run `subscription-manager register` yourself; then rerun".into(),
        });
    };
    let said = rhsm::register(host, account)?;
    let out = run(&full)?;
    if !out.status.success() {
        return Err(Error::HostPackages {
            reason: format!(
                "{} after registering this host as `{}`",
                failure(&out),
                account.username
            ),
            hint: "the account may have no subscription that includes the packages: check `subscription-manager repos --list-enabled`".into(),
        });
    }
    Ok(format!(
        "registered with Red Hat as `{}` ({said}); {shown}",
        account.username
    ))
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
            dnf: true,
        };
        let none = HostTools::default();
        let only_binary = HostTools {
            registry_binary: true,
            trust_tool: true,
            dnf: true,
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
                "yum",
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
                "yum",
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

    /// Stand-ins for RHEL's programs (this is a Debian machine): `subscription-manager`
    /// behaves as the current one does (refuses to prompt without a terminal, reads the
    /// password from the controlling terminal with echo off, records what it was given) and
    /// `dnf` fails until the host is registered (or a `rhui` file says its repositories work
    /// without registration).
    struct FakeRhel {
        dir: tempfile::TempDir,
    }

    const FAKE_SM: &str = r#"#!/bin/sh
d=$(dirname "$0")
case "$1" in
identity)
  if [ -f "$d/registered" ]; then echo "system identity: 5e8b"; exit 0; fi
  echo "This system is not yet registered. Try 'subscription-manager register --help' for more information." >&2
  exit 1 ;;
register)
  printf '%s\n' "$*" > "$d/register-argv"
  env > "$d/register-env"
  if ! [ -t 0 ]; then echo "Error: --password is a required parameter in non-interactive mode." >&2; exit 64; fi
  exec 3<>/dev/tty || exit 70
  stty -echo <&3
  printf 'Password: ' >&3
  IFS= read -r pw <&3
  stty echo <&3
  printf '\n' >&3
  printf '%s' "$pw" > "$d/register-password"
  if [ "$pw" != "$(cat "$d/account-password")" ]; then echo "Invalid username or password. To create a login, please visit https://www.redhat.com/wapps/ugc/register.html"; exit 70; fi
  touch "$d/registered"
  echo "The system has been registered with ID: 5e8b"
  exit 0 ;;
esac
exit 2
"#;

    const FAKE_DNF: &str = r#"#!/bin/sh
d=$(dirname "$0")
echo "$*" >> "$d/dnf-calls"
if [ -f "$d/registered" ] || [ -f "$d/rhui" ]; then echo "Complete!"; exit 0; fi
echo "This system is not registered with an entitlement server. You can use subscription-manager to register." >&2
echo "Error: There are no enabled repositories in \"/etc/yum.repos.d\", \"/etc/yum/repos.d\", \"/etc/distro.repos.d\"." >&2
exit 1
"#;

    impl FakeRhel {
        fn new(account_password: &str) -> Self {
            use std::os::unix::fs::PermissionsExt as _;
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in [("subscription-manager", FAKE_SM), ("dnf", FAKE_DNF)] {
                let p = dir.path().join(name);
                std::fs::write(&p, text).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            std::fs::write(dir.path().join("account-password"), account_password).unwrap();
            FakeRhel { dir }
        }
        fn host(&self) -> Host {
            Host::with_path(format!("{}:/usr/bin:/bin", self.dir.path().display()))
        }
        fn read(&self, name: &str) -> Option<String> {
            std::fs::read_to_string(self.dir.path().join(name)).ok()
        }
        fn dnf_calls(&self) -> usize {
            self.read("dnf-calls").map_or(0, |t| t.lines().count())
        }
    }

    fn account(password: &str) -> Credential {
        Credential {
            username: "rh-admin".into(),
            password: password.into(),
        }
    }

    const DNF: [&str; 3] = ["dnf", "install", "-y"];

    #[test]
    fn unregistered_rhel_is_registered_through_a_terminal_then_installs() {
        let pw = "s3cret pass:word";
        let rhel = FakeRhel::new(pw);
        let host = rhel.host();
        assert_eq!(rhsm::registered(&host), Some(false));
        let what = install(&host, OsFamily::Rhel, &DNF, &["podman"], Some(&account(pw))).unwrap();
        assert!(
            what.contains("registered with Red Hat as `rh-admin`")
                && what.contains("5e8b")
                && what.ends_with("dnf install -y podman"),
            "{what}"
        );
        assert!(!what.contains(pw));
        // The password arrived at the prompt, not on the command line or in the environment.
        assert_eq!(rhel.read("register-password").as_deref(), Some(pw));
        let argv = rhel.read("register-argv").unwrap();
        assert_eq!(argv.trim(), "register --username rh-admin");
        assert!(!rhel.read("register-env").unwrap().contains(pw));
        assert_eq!(rhsm::registered(&host), Some(true));
        assert_eq!(rhel.dnf_calls(), 2, "tried, registered, tried again");
    }

    #[test]
    fn unregistered_rhel_without_an_account_says_how_to_give_one() {
        let rhel = FakeRhel::new("pw");
        let err = install(&rhel.host(), OsFamily::Rhel, &DNF, &["podman"], None).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("dnf install -y podman")
                && msg.contains("no enabled repositories")
                && msg.contains("not registered with Red Hat"),
            "{msg}"
        );
        let hint = err.hint().unwrap().to_string();
        assert!(
            hint.contains("--rh-username") && hint.contains("--rh-password-file"),
            "{hint}"
        );
        assert!(
            rhel.read("register-argv").is_none(),
            "no registration without an account"
        );
    }

    #[test]
    fn working_repositories_are_never_registered() {
        // A cloud image with RHUI: not registered, yet dnf works.
        let rhel = FakeRhel::new("pw");
        std::fs::write(rhel.dir.path().join("rhui"), "").unwrap();
        let what = install(
            &rhel.host(),
            OsFamily::Rhel,
            &DNF,
            &["podman"],
            Some(&account("pw")),
        )
        .unwrap();
        assert_eq!(what, "dnf install -y podman");
        assert!(rhel.read("register-argv").is_none());
        assert_eq!(rhel.dnf_calls(), 1);
    }

    #[test]
    fn a_refused_account_is_named_with_the_servers_words_and_never_the_password() {
        let rhel = FakeRhel::new("right");
        let err = install(
            &rhel.host(),
            OsFamily::Rhel,
            &DNF,
            &["podman"],
            Some(&account("wrong-pass")),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`rh-admin`") && msg.contains("Invalid username or password"),
            "{msg}"
        );
        assert!(
            !msg.contains("wrong-pass") && !err.hint().unwrap().to_string().contains("wrong-pass")
        );
        assert_eq!(
            rhel.dnf_calls(),
            1,
            "no second install after a failed registration"
        );
    }

    #[test]
    fn a_registered_host_with_a_failing_install_reports_the_package_manager() {
        let rhel = FakeRhel::new("pw");
        std::fs::write(rhel.dir.path().join("registered"), "").unwrap();
        // Registered, so dnf succeeds in the stand-in; make it fail on an unknown package
        // by replacing it.
        let dnf = rhel.dir.path().join("dnf");
        std::fs::write(
            &dnf,
            "#!/bin/sh\necho 'Error: Unable to find a match: podmn' >&2\nexit 1\n",
        )
        .unwrap();
        let err = install(
            &rhel.host(),
            OsFamily::Rhel,
            &DNF,
            &["podmn"],
            Some(&account("pw")),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("Unable to find a match: podmn"),
            "{err}"
        );
        assert!(rhel.read("register-argv").is_none());
    }
}
