//! Bringing the registry up, down, and finding its log: the idempotence rules (what runs is
//! decided in `plan.rs`), the firewall port, and putting things back when a start fails.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::start::{installed, is_running, remove_if_present, start, stop};
use super::{
    CONTAINER_NAME, RegistryLayout, RunMode, RuntimeState, UpAction, UpOptions, UpReport, archive,
    firewall, host, plan, process, service_name,
};
use crate::error::{Error, ErrorChain};
use mirror_tls::fsutil::{SECRET_MODE, create_dirs, read_optional, write_atomic};

/// Brings the registry up under `opts.root`, idempotently: already running with the same
/// configuration is [`UpAction::AlreadyRunning`]; running with another is restarted.
///
/// A rerun never makes things worse than they were:
/// - with [`RuntimeChoice::Auto`](super::RuntimeChoice::Auto), a running registry keeps its
///   runtime (podman installed after a process registry was started does not take over);
///   [`UpReport::runtime_kept`] says so;
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
/// With S3 storage the bucket is checked first ([`crate::storage::check_s3`]: it answers, the key
/// works, a small object can be written and removed): wrong credentials, a missing bucket or
/// an unreachable endpoint are an [`Error::ObjectStorage`] and nothing is written or started.
/// The configuration then holds the key and `http.secret` (from
/// [`UpOptions::http_secret_file`], created when missing), so `config.yml` and the state file
/// are 0600; the S3 keys follow the registry's version (2.x or 3.x, see
/// [`RegistryVersion`](super::RegistryVersion)).
///
/// With [`RunOptions::image_archive`](super::RunOptions::image_archive) the archive is read
/// before anything changes and means podman: the image is loaded when podman lacks it and
/// runs by its ID ([`UpReport::image_archive`]). Once the registry runs, its port is opened
/// in firewalld when firewalld runs ([`UpOptions::firewall`], [`UpReport::firewall`]).
pub fn registry_up(opts: &UpOptions) -> Result<UpReport, Error> {
    let layout = RegistryLayout::new(&opts.root);
    check_inputs(&layout)?;
    // An archive is read before anything changes, and means podman.
    let carried = archive::carried_image(&opts.run)?;
    let (secret_file, http_secret, http_secret_created) = plan::prepare_storage(opts, &layout)?;
    let made = plan::Inputs {
        storage: &opts.storage,
        http_secret: http_secret.as_deref(),
    };
    // Also with S3: podman mounts `<root>/data` whatever the storage.
    create_dirs(&layout.data())?;
    let previous = RuntimeState::load(&layout)?;
    let running = previous.as_ref().filter(|p| is_running(&layout, p));
    let plan = plan::plan(&layout, opts, running, carried, &made)?;
    let target = &plan.target;
    // Made once the registry runs: its port in firewalld is opened then (a rerun opens it
    // again when it was closed since).
    let report = |action, pid| UpReport {
        action,
        run: target.run.clone(),
        port: target.port,
        bind: target.bind,
        pid,
        config: layout.config(),
        runtime_kept: plan.runtime_kept,
        storage: opts.storage.describe(),
        version: plan.version.clone(),
        http_secret_file: secret_file.clone(),
        http_secret_created,
        image_archive: plan.loaded.clone(),
        firewall: open_port(opts, &layout, target),
    };
    if let Some(prev) = running {
        if prev == target {
            let pid = process::running_pid(&layout)?;
            return Ok(report(UpAction::AlreadyRunning, pid));
        }
        // Prove the new registry can start before the running one is stopped.
        plan.probe.run().map_err(|e| Error::KeptRunning {
            reason: format!(
                "cannot restart the registry as {}: {}; the registry that runs was left alone ({})",
                target.run.describe(&layout),
                ErrorChain(&e),
                prev.run.describe(&layout)
            ),
            hint: crate::Hint::Run {
                advice: plan.probe.hint(),
            },
        })?;
        stop(&layout, prev)?;
    }
    let pid = start_or_restore(&layout, target, previous.as_ref(), running, opts.run.wait)?;
    let action = if running.is_some() {
        UpAction::Restarted
    } else {
        UpAction::Started
    };
    Ok(report(action, pid))
}

/// Starts `target` and records it. When it fails nothing is left half-done: what the attempt
/// created is removed, `config.yml` and the state file are put back (`previous` is what the
/// state file held), and the registry that ran before (`running`, stopped by now) is started
/// again.
fn start_or_restore(
    layout: &RegistryLayout,
    target: &RuntimeState,
    previous: Option<&RuntimeState>,
    running: Option<&RuntimeState>,
    wait: Duration,
) -> Result<Option<u32>, Error> {
    let old_config = read_optional(&layout.config())?;
    let prev_mode = previous.map_or(SECRET_MODE, RuntimeState::file_mode);
    let e = match start(layout, target, wait) {
        Ok(pid) => {
            target.save(layout)?;
            return Ok(pid);
        }
        Err(e) => e,
    };
    let _ = stop(layout, target);
    let restore_files = || -> Result<(), Error> {
        match &old_config {
            Some(bytes) => write_atomic(&layout.config(), bytes, prev_mode)?,
            None => remove_if_present(&layout.config())?,
        }
        match previous {
            Some(p) => p.save(layout),
            None => remove_if_present(&layout.state_file()),
        }
    };
    let Some(prev) = running else {
        let _ = restore_files();
        return Err(e);
    };
    let hint = e.hint();
    match restore_files().and_then(|()| start(layout, prev, wait)) {
        Ok(_) => Err(Error::KeptRunning {
            reason: format!(
                "the registry did not start as {}: {}; the registry that ran before was started again ({})",
                target.run.describe(layout),
                ErrorChain(&e),
                prev.run.describe(layout)
            ),
            hint: hint.unwrap_or_else(|| crate::Hint::Run {
                advice: "fix the cause above and rerun; `mirrorctl registry status` checks the registry that runs".into(),
            }),
        }),
        Err(e2) => Err(Error::Runtime {
            reason: format!(
                "the registry did not start as {}: {}; starting the registry that ran before again failed too: {}",
                target.run.describe(layout),
                ErrorChain(&e),
                ErrorChain(&e2)
            ),
            log: Some(layout.log_file()),
        }),
    }
}

/// The registry's port in firewalld, as `opts` asks: left alone on loopback or when asked.
fn open_port(
    opts: &UpOptions,
    layout: &RegistryLayout,
    target: &RuntimeState,
) -> firewall::FirewallReport {
    match (opts.firewall, target.bind) {
        (false, _) => firewall::skipped(target.port, "left alone, as asked"),
        (_, Some(ip)) if ip.is_loopback() => {
            firewall::skipped(target.port, "the registry listens on loopback only")
        }
        _ => firewall::open_registry_port(layout, target.port),
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

/// What [`registry_down`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
    use crate::runtime::{DEFAULT_REGISTRY_IMAGE, RunOptions, RuntimeChoice, SupervisorChoice};

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
