//! Bringing the registry up, down, and finding its log: the runtime decisions (podman or a
//! host binary, systemd or a background process) and the idempotence rules.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::config::{self, PathStyle};
use super::{
    CONTAINER_NAME, RegistryLayout, RunMode, RuntimeChoice, RuntimeState, SupervisorChoice,
    UNIT_NAME, UpAction, UpOptions, UpReport, connect_addr, host, process, service_name, units,
};
use crate::error::Error;
use crate::fsutil::{CONFIG_MODE, create_dirs, write_atomic};

/// Brings the registry up under `opts.root`, idempotently: already running with the same
/// configuration is [`UpAction::AlreadyRunning`]; running with another is restarted.
///
/// Needs `certs/domain.crt`, `certs/domain.key` and `auth/htpasswd` under the root; creates
/// `data/`. A port held by another process is an [`Error::PortInUse`] naming it.
pub fn registry_up(opts: &UpOptions) -> Result<UpReport, Error> {
    let layout = RegistryLayout::new(&opts.root);
    check_inputs(&layout)?;
    create_dirs(&layout.data())?;
    let previous = RuntimeState::load(&layout)?;
    let use_systemd = match opts.supervisor {
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
    let podman = match opts.runtime {
        RuntimeChoice::Process => None,
        RuntimeChoice::Podman => Some(host::podman().ok_or_else(|| Error::ToolMissing {
            what: "podman".into(),
            looked_for: "`podman version` on PATH".into(),
            install: "install podman (`dnf install podman` or `apt-get install podman`), or use `--runtime process`".into(),
        })?),
        RuntimeChoice::Auto => host::podman(),
    };
    match podman {
        Some((podman, version)) => podman_up(
            &layout,
            opts,
            &podman,
            version,
            use_systemd,
            previous.as_ref(),
        ),
        None => {
            let binary = process::find_binary(opts.binary.as_deref()).map_err(|e| {
                if opts.runtime == RuntimeChoice::Auto {
                    Error::ToolMissing {
                        what: "a registry runtime".into(),
                        looked_for: format!(
                            "`podman` or `{}` on PATH",
                            process::BINARY_NAMES.join("` or `")
                        ),
                        install: format!(
                            "install podman (`dnf install podman`), or {}",
                            process::INSTALL_BINARY
                        ),
                    }
                } else {
                    e
                }
            })?;
            process_up(&layout, opts, &binary, use_systemd, previous.as_ref())
        }
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
    let report = mirror_tls::verify_dir(&layout.certs_dir(), None, std::time::SystemTime::now())
        .map_err(|e| Error::TlsSetup {
            reason: e.to_string(),
        })?;
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

/// Fails with [`Error::PortInUse`] when something listens on `port` (of `bind`, else of every
/// interface); an address that is not this host's is an [`Error::InvalidSetting`].
fn ensure_port_free(bind: Option<IpAddr>, port: u16) -> Result<(), Error> {
    let ip = bind.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, port);
    match mirror_net::port_status(addr) {
        Ok(mirror_net::PortStatus::Free) => Ok(()),
        Ok(mirror_net::PortStatus::InUse { holder }) => Err(Error::PortInUse {
            port,
            holder: holder.map(|h| format!("`{}` (pid {})", h.name, h.pid)),
        }),
        Err(mirror_net::Error::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrNotAvailable =>
        {
            Err(Error::InvalidSetting {
                name: "bind".into(),
                reason: format!("`{ip}` is not an address of this host ({source})"),
            })
        }
        Err(e) => Err(Error::Runtime {
            reason: format!("cannot check port {port}: {e}"),
            log: None,
        }),
    }
}

fn process_up(
    layout: &RegistryLayout,
    opts: &UpOptions,
    binary: &Path,
    use_systemd: bool,
    previous: Option<&RuntimeState>,
) -> Result<UpReport, Error> {
    let config = config::render_config(&layout.root, opts.port, opts.bind, PathStyle::Host);
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
    let state = RuntimeState {
        run: run.clone(),
        port: opts.port,
        bind: opts.bind,
        config: config.clone(),
    };
    let running = previous.is_some_and(|p| is_running(layout, p));
    if running && previous == Some(&state) {
        return Ok(UpReport {
            action: UpAction::AlreadyRunning,
            pid: process::running_pid(layout)?,
            run,
            port: opts.port,
            bind: opts.bind,
            config: layout.config(),
        });
    }
    if let Some(prev) = previous.filter(|_| running) {
        stop(layout, prev)?;
    }
    ensure_port_free(opts.bind, opts.port)?;
    write_atomic(&layout.config(), config.as_bytes(), CONFIG_MODE)?;
    let mut pid = None;
    match &run {
        RunMode::ProcessUnit { unit, .. } => {
            let text = units::process_service(binary, &layout.config());
            write_atomic(unit, text.as_bytes(), CONFIG_MODE)?;
            host::systemctl(&["daemon-reload"])?;
            host::systemctl(&["enable", &service_name()])?;
            host::systemctl(&["restart", &service_name()])?;
            wait_port(connect_addr(opts.bind, opts.port), opts.wait, None)?;
        }
        _ => {
            pid = Some(process::start(
                layout,
                binary,
                connect_addr(opts.bind, opts.port),
                opts.wait,
            )?)
        }
    }
    state.save(layout)?;
    Ok(UpReport {
        action: if running {
            UpAction::Restarted
        } else {
            UpAction::Started
        },
        run,
        port: opts.port,
        bind: opts.bind,
        pid,
        config: layout.config(),
    })
}

fn podman_up(
    layout: &RegistryLayout,
    opts: &UpOptions,
    podman: &Path,
    version: (u32, u32),
    use_systemd: bool,
    previous: Option<&RuntimeState>,
) -> Result<UpReport, Error> {
    let config = config::render_config(&layout.root, opts.port, opts.bind, PathStyle::Container);
    let run = if use_systemd {
        let unit = if host::has_quadlet(version) {
            PathBuf::from("/etc/containers/systemd").join(format!("{UNIT_NAME}.container"))
        } else {
            PathBuf::from("/etc/systemd/system").join(service_name())
        };
        RunMode::ContainerUnit {
            podman: podman.to_path_buf(),
            image: opts.image.clone(),
            unit,
        }
    } else {
        RunMode::Container {
            podman: podman.to_path_buf(),
            image: opts.image.clone(),
        }
    };
    let state = RuntimeState {
        run: run.clone(),
        port: opts.port,
        bind: opts.bind,
        config: config.clone(),
    };
    let running = previous.is_some_and(|p| is_running(layout, p));
    if running && previous == Some(&state) {
        return Ok(UpReport {
            action: UpAction::AlreadyRunning,
            run,
            port: opts.port,
            bind: opts.bind,
            pid: None,
            config: layout.config(),
        });
    }
    if let Some(prev) = previous.filter(|_| running) {
        stop(layout, prev)?;
    }
    // A container left by the old script (or a failed run) holds the name.
    if !use_systemd {
        let _ = host::run(podman, &["rm", "-f", "--ignore", CONTAINER_NAME]);
    }
    ensure_port_free(opts.bind, opts.port)?;
    write_atomic(&layout.config(), config.as_bytes(), CONFIG_MODE)?;
    match &run {
        RunMode::ContainerUnit { unit, .. } => {
            let text = if host::has_quadlet(version) {
                units::quadlet_unit(&layout.root, opts.port, opts.bind, &opts.image)
            } else {
                units::podman_service(podman, &layout.root, opts.port, opts.bind, &opts.image)
            };
            if let Some(dir) = unit.parent() {
                create_dirs(dir)?;
            }
            write_atomic(unit, text.as_bytes(), CONFIG_MODE)?;
            host::systemctl(&["daemon-reload"])?;
            if !host::has_quadlet(version) {
                host::systemctl(&["enable", &service_name()])?;
            }
            host::systemctl(&["restart", &service_name()])?;
        }
        _ => {
            let args = units::podman_run_args(&layout.root, opts.port, opts.bind, &opts.image);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            host::run(podman, &args)?;
        }
    }
    wait_port(connect_addr(opts.bind, opts.port), opts.wait, None)?;
    state.save(layout)?;
    Ok(UpReport {
        action: if running {
            UpAction::Restarted
        } else {
            UpAction::Started
        },
        run,
        port: opts.port,
        bind: opts.bind,
        pid: None,
        config: layout.config(),
    })
}

fn wait_port(addr: SocketAddr, wait: Duration, log: Option<PathBuf>) -> Result<(), Error> {
    let start = std::time::Instant::now();
    while start.elapsed() < wait {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(Error::Runtime {
        reason: format!(
            "nothing listens on {addr} after {}s: see `mirrorctl registry logs`",
            wait.as_secs()
        ),
        log,
    })
}

/// Whether the registry recorded in `state` runs.
pub fn is_running(layout: &RegistryLayout, state: &RuntimeState) -> bool {
    match &state.run {
        RunMode::Background { .. } => process::running_pid(layout).ok().flatten().is_some(),
        RunMode::ProcessUnit { .. } | RunMode::ContainerUnit { .. } => {
            host::unit_active(&service_name())
        }
        RunMode::Container { podman, .. } => host::container_running(podman, CONTAINER_NAME),
    }
}

fn stop(layout: &RegistryLayout, state: &RuntimeState) -> Result<(), Error> {
    match &state.run {
        RunMode::Background { .. } => {
            if let Some(pid) = process::running_pid(layout)? {
                process::stop_pid(pid, Duration::from_secs(15))?;
            }
            let _ = std::fs::remove_file(layout.pid_file());
        }
        RunMode::ProcessUnit { unit, .. } | RunMode::ContainerUnit { unit, .. } => {
            if host::unit_active(&service_name()) {
                host::systemctl(&["stop", &service_name()])?;
            }
            if unit.extension().is_some_and(|e| e == "service") {
                let _ = host::systemctl(&["disable", &service_name()]);
            }
            match std::fs::remove_file(unit) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", unit, e)),
            }
            host::systemctl(&["daemon-reload"])?;
        }
        RunMode::Container { podman, .. } => {
            host::run(podman, &["rm", "-f", "--ignore", CONTAINER_NAME])?;
        }
    }
    Ok(())
}

/// What [`registry_down`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownReport {
    /// Whether a running registry was stopped (false: nothing was running).
    pub stopped: bool,
    /// How it ran, when `<root>` recorded it.
    pub run: Option<RunMode>,
}

/// Stops the registry started under `root` and removes its unit, pid file and state file.
/// Nothing running is not an error.
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
        return Ok(DownReport {
            stopped: pid.is_some(),
            run: None,
        });
    };
    let running = is_running(&layout, &state);
    stop(&layout, &state)?;
    match std::fs::remove_file(layout.state_file()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("remove", layout.state_file(), e)),
    }
    Ok(DownReport {
        stopped: running,
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
    use crate::runtime::DEFAULT_REGISTRY_IMAGE;

    #[test]
    fn up_names_missing_inputs_with_the_command_that_makes_them() {
        let dir = tempfile::tempdir().unwrap();
        let opts = UpOptions {
            root: dir.path().to_path_buf(),
            runtime: RuntimeChoice::Process,
            supervisor: SupervisorChoice::Process,
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
                run: None
            }
        );
    }

    #[test]
    fn a_busy_port_names_the_holder() {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = ensure_port_free(None, port).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("port {port} is already in use")),
            "{msg}"
        );
        // This test process is the holder; /proc shows it when readable.
        if let Error::PortInUse {
            holder: Some(h), ..
        } = &err
        {
            assert!(h.contains(&format!("pid {}", std::process::id())), "{h}");
        }
        assert!(err.hint().unwrap().contains("--port"));
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
