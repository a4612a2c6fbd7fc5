//! Bringing the registry up, down, and finding its log: the runtime decisions (podman or a
//! host binary, systemd or a background process) and the idempotence rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::config::{self, ConfigSpec, PathStyle};
use super::start::{Probe, installed, is_running, remove_if_present, start, stop};
use super::version::{self, DetectedVersion, RegistryVersion};
use super::{
    CONTAINER_NAME, RegistryLayout, RunMode, RuntimeChoice, RuntimeState, SupervisorChoice,
    UNIT_NAME, UpAction, UpOptions, UpReport, host, process, service_name,
};
use crate::error::{Error, ErrorChain};
use crate::storage::{SecretAction, StorageSettings, ensure_http_secret};
use mirror_tls::fsutil::{SECRET_MODE, create_dirs, read_optional, write_atomic};

/// Brings the registry up under `opts.root`, idempotently: already running with the same
/// configuration is [`UpAction::AlreadyRunning`]; running with another is restarted.
///
/// A rerun never makes things worse than they were:
/// - with [`RuntimeChoice::Auto`], a running registry keeps its runtime (podman installed after
///   a process registry was started does not take over); [`UpReport::runtime_kept`] says so;
/// - before a running registry is stopped (to switch runtime or apply a new configuration),
///   the new one is proven to start: for podman the image is present (or pulled) and a
///   container from it runs; for a host binary it answers `--version`. Otherwise nothing is
///   touched and the error is an [`Error::KeptRunning`];
/// - when the new registry then fails to start, what the attempt created (a container, a
///   unit, a process) is removed, `config.yml` and the state file are put back, and the
///   registry that ran before is started again ([`Error::KeptRunning`] as well).
///
/// Needs `certs/domain.crt`, `certs/domain.key` and `auth/htpasswd` under the root; creates
/// `data/`. A port held by another process is an [`Error::PortInUse`] naming it.
///
/// With S3 storage the bucket is checked first ([`crate::check_s3`]: it answers, the key
/// works, a small object can be written and removed): wrong credentials, a missing bucket or
/// an unreachable endpoint are an [`Error::ObjectStorage`] and nothing is written or started.
/// The configuration then holds the key and `http.secret` (from
/// [`UpOptions::http_secret_file`], created when missing), so `config.yml` and the state file
/// are 0600; the S3 keys follow the registry's version (2.x or 3.x, see
/// [`RegistryVersion`]).
pub fn registry_up(opts: &UpOptions) -> Result<UpReport, Error> {
    let layout = RegistryLayout::new(&opts.root);
    check_inputs(&layout)?;
    let (secret_file, http_secret, http_secret_created) = prepare_storage(opts, &layout)?;
    let made = Inputs {
        storage: &opts.storage,
        http_secret: http_secret.as_deref(),
    };
    // Also with S3: podman mounts `<root>/data` whatever the storage.
    create_dirs(&layout.data())?;
    let previous = RuntimeState::load(&layout)?;
    let running = previous.as_ref().filter(|p| is_running(&layout, p));
    let use_systemd = match opts.run.supervisor {
        SupervisorChoice::Process => false,
        SupervisorChoice::Systemd => {
            if !host::systemd_usable() {
                return Err(Error::InvalidSetting {
                    name: "supervisor".into(),
                    reason: "systemd does not run this host (no /run/systemd/system, or systemctl does not answer)".into(),
                });
            }
            true
        }
        SupervisorChoice::Auto => is_root() && host::systemd_usable(),
    };
    let mut runtime_kept = false;
    let podman = match (opts.run.runtime, running.map(|r| r.run.runtime())) {
        (RuntimeChoice::Process, _) => None,
        (RuntimeChoice::Podman, _) => Some(host::podman().ok_or_else(podman_missing)?),
        // A rerun keeps the runtime that runs: switching is asked for, never implied.
        (RuntimeChoice::Auto, Some(RuntimeChoice::Process)) => {
            runtime_kept = host::podman().is_some();
            None
        }
        (RuntimeChoice::Auto, Some(_)) => Some(host::podman().ok_or_else(podman_missing)?),
        (RuntimeChoice::Auto, None) => host::podman(),
    };
    let (target, probe, registry_version) = match podman {
        Some((podman, version)) => {
            let (target, registry_version) =
                podman_state(&layout, opts, &podman, version, use_systemd, &made);
            (
                target,
                Probe::Image {
                    podman,
                    image: opts.run.image.clone(),
                },
                registry_version,
            )
        }
        None => {
            // The binary that runs is kept unless another is asked for.
            let recorded = running.and_then(|r| match &r.run {
                RunMode::Background { binary } | RunMode::ProcessUnit { binary, .. }
                    if opts.run.binary.is_none() && binary.is_file() =>
                {
                    Some(binary.clone())
                }
                _ => None,
            });
            let binary = match recorded {
                Some(b) => b,
                None => process::find_binary(opts.run.binary.as_deref()).map_err(|e| {
                    if opts.run.runtime == RuntimeChoice::Auto {
                        Error::ToolMissing {
                            what: "a registry runtime".into(),
                            looked_for: format!(
                                "`podman` or `{}` on PATH",
                                process::BINARY_NAMES.join("` or `")
                            ),
                            install: format!(
                                "install podman ({}), or {}",
                                crate::preflight::tools::Installer::of_this_host()
                                    .command("podman"),
                                process::install_binary()
                            ),
                        }
                    } else {
                        e
                    }
                })?,
            };
            let (target, registry_version) =
                process_state(&layout, opts, &binary, use_systemd, &made);
            (target, Probe::Binary(binary), registry_version)
        }
    };
    let report = |action, pid| UpReport {
        action,
        run: target.run.clone(),
        port: target.port,
        bind: target.bind,
        pid,
        config: layout.config(),
        runtime_kept,
        storage: opts.storage.describe(),
        version: registry_version.clone(),
        http_secret_file: secret_file.clone(),
        http_secret_created,
    };
    if let Some(prev) = running {
        if prev == &target {
            let pid = process::running_pid(&layout)?;
            return Ok(report(UpAction::AlreadyRunning, pid));
        }
        // Prove the new registry can start before the running one is stopped.
        probe.run().map_err(|e| Error::KeptRunning {
            reason: format!(
                "cannot restart the registry as {}: {}; the registry that runs was left alone ({})",
                target.run.describe(&layout),
                ErrorChain(&e),
                prev.run.describe(&layout)
            ),
            hint: crate::Hint::Run {
                advice: probe.hint(),
            },
        })?;
        stop(&layout, prev)?;
    }
    let old_config = read_optional(&layout.config())?;
    let prev_mode = previous
        .as_ref()
        .map_or(SECRET_MODE, RuntimeState::file_mode);
    match start(&layout, &target, opts.run.wait) {
        Ok(pid) => {
            target.save(&layout)?;
            let action = if running.is_some() {
                UpAction::Restarted
            } else {
                UpAction::Started
            };
            Ok(report(action, pid))
        }
        Err(e) => {
            // Nothing half-done: remove what the attempt created, put the files back.
            let _ = stop(&layout, &target);
            let restore_files = || -> Result<(), Error> {
                match &old_config {
                    Some(bytes) => write_atomic(&layout.config(), bytes, prev_mode)?,
                    None => remove_if_present(&layout.config())?,
                }
                match &previous {
                    Some(p) => p.save(&layout),
                    None => remove_if_present(&layout.state_file()),
                }
            };
            let Some(prev) = running else {
                let _ = restore_files();
                return Err(e);
            };
            let hint = e.hint();
            match restore_files().and_then(|()| start(&layout, prev, opts.run.wait)) {
                Ok(_) => Err(Error::KeptRunning {
                    reason: format!(
                        "the registry did not start as {}: {}; the registry that ran before was started again ({})",
                        target.run.describe(&layout),
                        ErrorChain(&e),
                        prev.run.describe(&layout)
                    ),
                    hint: hint.unwrap_or_else(|| crate::Hint::Run {
                        advice: "fix the cause above and rerun; `mirrorctl registry status` checks the registry that runs".into(),
                    }),
                }),
                Err(e2) => Err(Error::Runtime {
                    reason: format!(
                        "the registry did not start as {}: {}; starting the registry that ran before again failed too: {}",
                        target.run.describe(&layout),
                        ErrorChain(&e),
                        ErrorChain(&e2)
                    ),
                    log: Some(layout.log_file()),
                }),
            }
        }
    }
}

fn podman_missing() -> Error {
    Error::ToolMissing {
        what: "podman".into(),
        looked_for: "`podman version` on PATH".into(),
        install: format!(
            "install podman ({}), or run the registry as a process (the process runtime)",
            crate::preflight::tools::Installer::of_this_host().command("podman")
        ),
    }
}

fn check_inputs(layout: &RegistryLayout) -> Result<(), Error> {
    for (path, fix) in [
        (
            layout.cert(),
            format!(
                "mirrorctl tls generate --dir {}",
                layout.certs_dir().display()
            ),
        ),
        (
            layout.key(),
            format!(
                "mirrorctl tls generate --dir {}",
                layout.certs_dir().display()
            ),
        ),
        (
            layout.htpasswd(),
            format!(
                "mirrorctl registry user add --htpasswd {} --username USER",
                layout.htpasswd().display()
            ),
        ),
    ] {
        if !path.is_file() {
            return Err(Error::Runtime {
                reason: format!("`{}` is missing: create it with `{fix}`", path.display()),
                log: None,
            });
        }
    }
    check_certificate(layout)
}

/// Refuses a server certificate that clients would reject (no SANs, a key that does not
/// match, a broken chain, expired): the registry would start and then fail every client.
fn check_certificate(layout: &RegistryLayout) -> Result<(), Error> {
    let report = mirror_tls::verify_dir(&layout.certs_dir(), None, std::time::SystemTime::now())?;
    if report.ok {
        return Ok(());
    }
    let problems = report
        .failures()
        .map(|c| {
            let name = serde_json::to_value(c.name)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{name}: {}", c.detail)
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(Error::BadCertificate {
        path: layout.cert(),
        problems,
        certs_dir: layout.certs_dir(),
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// What the configuration is made from besides `opts`' own fields.
/// With S3 the bucket is checked first; then the http secret file (given, or the default
/// with S3) is read, or made when missing: its path, the secret, and whether it was made.
fn prepare_storage(
    opts: &UpOptions,
    layout: &RegistryLayout,
) -> Result<(Option<PathBuf>, Option<String>, bool), Error> {
    if let Some(s3) = opts.storage.s3() {
        crate::storage::check_s3_blocking(s3)?;
    }
    let secret_file = opts.http_secret_file.clone().or_else(|| {
        opts.storage
            .s3()
            .map(|_| crate::storage::default_http_secret_file(&layout.root))
    });
    Ok(match &secret_file {
        Some(path) => {
            let (secret, action) = ensure_http_secret(path)?;
            (
                secret_file.clone(),
                Some(secret),
                action == SecretAction::Created,
            )
        }
        None => (None, None, false),
    })
}

struct Inputs<'a> {
    storage: &'a StorageSettings,
    http_secret: Option<&'a str>,
}

/// The configuration text, and the registry's version when it matters (S3 storage).
fn render(
    layout: &RegistryLayout,
    opts: &UpOptions,
    style: PathStyle,
    made: &Inputs<'_>,
    version: impl FnOnce() -> DetectedVersion,
) -> (String, Option<DetectedVersion>) {
    let detected = made.storage.s3().map(|_| version());
    let text = config::render(&ConfigSpec {
        root: &layout.root,
        port: opts.port,
        bind: opts.bind,
        style,
        storage: made.storage,
        version: detected
            .as_ref()
            .map_or(RegistryVersion::DEFAULT, |d| d.version),
        http_secret: made.http_secret,
    });
    (text, detected)
}

/// The state of a host binary registry as `opts` asks for it.
fn process_state(
    layout: &RegistryLayout,
    opts: &UpOptions,
    binary: &Path,
    use_systemd: bool,
    made: &Inputs<'_>,
) -> (RuntimeState, Option<DetectedVersion>) {
    let run = if use_systemd {
        RunMode::ProcessUnit {
            binary: binary.to_path_buf(),
            unit: PathBuf::from("/etc/systemd/system").join(service_name()),
        }
    } else {
        RunMode::Background {
            binary: binary.to_path_buf(),
        }
    };
    let (config, detected) = render(layout, opts, PathStyle::Host, made, || {
        version::of_binary(binary)
    });
    let state = RuntimeState {
        run,
        port: opts.port,
        bind: opts.bind,
        config,
    };
    (state, detected)
}

/// The state of a podman registry as `opts` asks for it.
fn podman_state(
    layout: &RegistryLayout,
    opts: &UpOptions,
    podman: &Path,
    version: (u32, u32),
    use_systemd: bool,
    made: &Inputs<'_>,
) -> (RuntimeState, Option<DetectedVersion>) {
    let run = if use_systemd {
        let unit = if host::has_quadlet(version) {
            PathBuf::from("/etc/containers/systemd").join(format!("{UNIT_NAME}.container"))
        } else {
            PathBuf::from("/etc/systemd/system").join(service_name())
        };
        RunMode::ContainerUnit {
            podman: podman.to_path_buf(),
            image: opts.run.image.clone(),
            unit,
        }
    } else {
        RunMode::Container {
            podman: podman.to_path_buf(),
            image: opts.run.image.clone(),
        }
    };
    let (config, detected) = render(layout, opts, PathStyle::Container, made, || {
        version::of_image(podman, &opts.run.image)
    });
    let state = RuntimeState {
        run,
        port: opts.port,
        bind: opts.bind,
        config,
    };
    (state, detected)
}

/// What [`registry_down`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownReport {
    /// Whether a running registry was stopped (false: nothing was running).
    pub stopped: bool,
    /// Whether a registry that was not running was still installed (a created or exited
    /// container, a unit file) and was removed.
    pub removed: bool,
    /// How it ran, when `<root>` recorded it.
    pub run: Option<RunMode>,
}

/// Stops the registry started under `root` and removes its unit, container, pid file and
/// state file, also when it was not running (a container that was created but never started,
/// or exited). Nothing there is not an error.
pub fn registry_down(root: &Path) -> Result<DownReport, Error> {
    let layout = RegistryLayout::new(root);
    let state = RuntimeState::load(&layout)?;
    let Some(state) = state else {
        // No state: a background process may still be recorded in the pid file.
        let pid = process::running_pid(&layout)?;
        if let Some(pid) = pid {
            process::stop_pid(pid, Duration::from_secs(15))?;
            let _ = std::fs::remove_file(layout.pid_file());
        }
        // A container of that name that does not run (left by a failed start before the
        // state was written, or by the old script) only blocks the next start.
        let mut removed = false;
        if let Some((podman, _)) = host::podman()
            && host::container_exists(&podman, CONTAINER_NAME)
            && !host::container_running(&podman, CONTAINER_NAME)
        {
            host::run(&podman, &["rm", "-f", "--ignore", CONTAINER_NAME])?;
            removed = true;
        }
        return Ok(DownReport {
            stopped: pid.is_some(),
            removed,
            run: None,
        });
    };
    let running = is_running(&layout, &state);
    let leftover = !running && installed(&state);
    stop(&layout, &state)?;
    remove_if_present(&layout.state_file())?;
    Ok(DownReport {
        stopped: running,
        removed: leftover,
        run: Some(state.run),
    })
}

/// Where the registry's log is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogSource {
    /// A file (`<root>/registry.log`).
    File(PathBuf),
    /// A command that prints it (`journalctl -u ...`, `podman logs ...`).
    Command(Vec<String>),
}

/// Where the log of the registry under `root` is, from its state file (the log file of a
/// background process when there is none).
pub fn registry_logs(root: &Path) -> Result<LogSource, Error> {
    let layout = RegistryLayout::new(root);
    Ok(match RuntimeState::load(&layout)?.map(|s| s.run) {
        None | Some(RunMode::Background { .. }) => LogSource::File(layout.log_file()),
        Some(RunMode::ProcessUnit { .. }) | Some(RunMode::ContainerUnit { .. }) => {
            LogSource::Command(vec![
                "journalctl".into(),
                "--no-pager".into(),
                "-u".into(),
                service_name(),
            ])
        }
        Some(RunMode::Container { podman, .. }) => LogSource::Command(vec![
            podman.display().to_string(),
            "logs".into(),
            CONTAINER_NAME.into(),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{DEFAULT_REGISTRY_IMAGE, RunOptions};

    #[test]
    fn up_names_missing_inputs_with_the_command_that_makes_them() {
        let dir = tempfile::tempdir().unwrap();
        let opts = UpOptions {
            root: dir.path().to_path_buf(),
            run: RunOptions {
                runtime: RuntimeChoice::Process,
                supervisor: SupervisorChoice::Process,
                ..Default::default()
            },
            ..Default::default()
        };
        let err = registry_up(&opts).unwrap_err().to_string();
        assert!(err.contains("certs/domain.crt` is missing"), "{err}");
        assert!(err.contains("mirrorctl tls generate --dir"), "{err}");
    }

    #[test]
    fn down_with_nothing_running_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry_down(dir.path()).unwrap();
        assert_eq!(
            r,
            DownReport {
                stopped: false,
                removed: false,
                run: None
            }
        );
    }

    #[test]
    fn state_round_trips_and_logs_follow_it() {
        let dir = tempfile::tempdir().unwrap();
        let layout = RegistryLayout::new(dir.path());
        let state = RuntimeState {
            run: RunMode::Container {
                podman: "/usr/bin/podman".into(),
                image: DEFAULT_REGISTRY_IMAGE.into(),
            },
            port: 5000,
            bind: None,
            config: "x".into(),
        };
        state.save(&layout).unwrap();
        assert_eq!(RuntimeState::load(&layout).unwrap(), Some(state));
        assert_eq!(
            registry_logs(dir.path()).unwrap(),
            LogSource::Command(vec![
                "/usr/bin/podman".into(),
                "logs".into(),
                "mirror-registry".into()
            ])
        );
        std::fs::remove_file(layout.state_file()).unwrap();
        assert_eq!(
            registry_logs(dir.path()).unwrap(),
            LogSource::File(layout.log_file())
        );
    }
}
