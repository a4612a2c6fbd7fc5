//! Starting, proving and stopping the one registry a [`RuntimeState`] describes: the
//! mechanics under the decisions of `control.rs`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    CONTAINER_NAME, RegistryLayout, RunMode, RuntimeState, connect_addr, host, process,
    service_name, units,
};
use crate::error::{Error, ErrorChain};
use mirror_tls::fsutil::{PUBLIC_MODE, create_dirs, write_atomic};

/// What proves a new registry can start while the old one still holds the port.
pub(crate) enum Probe {
    /// The image is present or can be pulled, and a container from it runs.
    Image { podman: PathBuf, image: String },
    /// The host binary runs (`--version`).
    Binary(PathBuf),
}

impl Probe {
    pub(crate) fn run(&self) -> Result<(), Error> {
        match self {
            Probe::Image { podman, image } => {
                if host::run(podman, &["image", "exists", image]).is_err() {
                    host::run(podman, &["pull", image])?;
                }
                // The image's entrypoint runs `registry --version`: no port, no volume.
                host::run(podman, &["run", "--rm", image, "--version"])?;
            }
            Probe::Binary(binary) => {
                host::run(binary, &["--version"])?;
            }
        }
        Ok(())
    }

    pub(crate) fn hint(&self) -> String {
        match self {
            Probe::Image { image, .. } => format!(
                "the registry that runs still serves; to switch, make `{image}` available to podman (`podman pull {image}`, or a mirrored copy with `--image`) and check that podman runs containers here (`podman run --rm {image} --version`); without `--runtime` a rerun keeps the runtime that runs"
            ),
            Probe::Binary(binary) => format!(
                "the registry that runs still serves; check that `{} --version` runs, or keep the current runtime by leaving out `--runtime`",
                binary.display()
            ),
        }
    }
}

pub(crate) fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
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
            reason: format!("cannot check port {port}: {}", ErrorChain(&e)),
            log: None,
        }),
    }
}

/// Starts the registry `state` describes: writes `config.yml` and the unit, starts it, waits
/// for its port. Returns the background process's pid.
pub(crate) fn start(
    layout: &RegistryLayout,
    state: &RuntimeState,
    wait: Duration,
) -> Result<Option<u32>, Error> {
    if let RunMode::Container { podman, .. } = &state.run {
        // A container left by the old script (or a failed run) holds the name.
        let _ = host::run(podman, &["rm", "-f", "--ignore", CONTAINER_NAME]);
    }
    ensure_port_free(state.bind, state.port)?;
    write_atomic(&layout.config(), state.config.as_bytes(), state.file_mode())?;
    let addr = connect_addr(state.bind, state.port);
    match &state.run {
        RunMode::Background { binary } => {
            return Ok(Some(process::start(layout, binary, addr, wait)?));
        }
        RunMode::ProcessUnit { binary, unit } => {
            let text = units::process_service(binary, &layout.config());
            write_atomic(unit, text.as_bytes(), PUBLIC_MODE)?;
            host::systemctl(&["daemon-reload"])?;
            host::systemctl(&["enable", &service_name()])?;
            host::systemctl(&["restart", &service_name()])?;
        }
        RunMode::ContainerUnit {
            podman,
            image,
            unit,
        } => {
            let quadlet = unit.extension().is_some_and(|e| e == "container");
            let text = if quadlet {
                units::quadlet_unit(&layout.root, state.port, state.bind, image)
            } else {
                units::podman_service(podman, &layout.root, state.port, state.bind, image)
            };
            if let Some(dir) = unit.parent() {
                create_dirs(dir)?;
            }
            write_atomic(unit, text.as_bytes(), PUBLIC_MODE)?;
            host::systemctl(&["daemon-reload"])?;
            if !quadlet {
                host::systemctl(&["enable", &service_name()])?;
            }
            host::systemctl(&["restart", &service_name()])?;
        }
        RunMode::Container { podman, image } => {
            let args = units::podman_run_args(&layout.root, state.port, state.bind, image);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            host::run(podman, &args)?;
        }
    }
    wait_port(addr, wait, None)?;
    Ok(None)
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

pub(crate) fn stop(layout: &RegistryLayout, state: &RuntimeState) -> Result<(), Error> {
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

/// Whether what `up` set up to run `state` is still there (a container in any state, a
/// unit file).
pub(crate) fn installed(state: &RuntimeState) -> bool {
    match &state.run {
        RunMode::Background { .. } => false,
        RunMode::ProcessUnit { unit, .. } | RunMode::ContainerUnit { unit, .. } => unit.exists(),
        RunMode::Container { podman, .. } => host::container_exists(podman, CONTAINER_NAME),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(err.hint(), Some(crate::Hint::PortInUse { port }));
    }
}
