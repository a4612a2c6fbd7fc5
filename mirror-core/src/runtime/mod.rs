//! The registry itself: the distribution registry (the program in the `registry:2` image) run
//! under `<root>` with TLS and htpasswd, by podman or as a host process, under systemd where it
//! runs or as a tracked background process otherwise.
//!
//! `<root>` holds `certs/{ca.crt,domain.crt,domain.key}`, `auth/htpasswd`, `data/`, and the
//! files written here: `config.yml`, `registry-state.json` (how it was started, for `status`,
//! `down` and `logs`), and for a background process `registry.pid` and `registry.log`.

mod archive;
mod config;
mod control;
pub(crate) mod firewall;
mod host;
mod plan;
pub(crate) mod process;
mod start;
mod status;
mod units;
mod version;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::storage::StorageSettings;
use mirror_tls::fsutil::{PUBLIC_MODE, SECRET_MODE, read_optional, write_atomic};

pub(crate) use archive::carried_image;
pub use archive::{ArchiveImage, LoadedImage, read_image_archive};
pub use control::{DownReport, LogSource, registry_down, registry_logs, registry_up};
pub use firewall::{FirewallAction, FirewallReport, PortOpen, close_registry_ports};
pub use start::is_running;
pub use status::{CheckState, StatusCheck, StatusOptions, StatusReport, registry_status};
pub use units::{CONTAINER_NAME, UNIT_NAME};
pub use version::{DetectedVersion, RegistryVersion};

/// Default `<root>`, as `createMirrorRegistry.sh` used it.
pub const DEFAULT_REGISTRY_ROOT: &str = "/opt/registry";
/// Default port.
pub const DEFAULT_REGISTRY_PORT: u16 = 5000;
/// Default image for the podman runtime.
pub const DEFAULT_REGISTRY_IMAGE: &str = "docker.io/library/registry:2";

/// `port`, when a registry can listen on it (not 0); else [`Error::InvalidPort`].
pub fn validate_port(port: u16) -> Result<u16, Error> {
    match port {
        0 => Err(Error::InvalidPort { port }),
        p => Ok(p),
    }
}

/// An address to listen on: an IPv4 or IPv6 address, IPv6 with or without brackets; anything
/// else (a host name, an address with a port) is [`Error::InvalidAddress`].
pub fn parse_bind(text: &str) -> Result<IpAddr, Error> {
    let t = text.trim();
    let bare = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    bare.parse().map_err(|_| Error::InvalidAddress {
        text: text.to_string(),
    })
}

/// The files under a registry root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryLayout {
    /// The root (made absolute).
    pub root: PathBuf,
}

impl RegistryLayout {
    /// The layout under `root` (relative roots are made absolute).
    pub fn new(root: impl AsRef<Path>) -> Self {
        let root = root.as_ref();
        Self {
            root: std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()),
        }
    }
    /// `certs/`.
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs")
    }
    /// `certs/ca.crt`: the CA clients trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("certs/ca.crt")
    }
    /// `certs/domain.crt`.
    pub fn cert(&self) -> PathBuf {
        self.root.join("certs/domain.crt")
    }
    /// `certs/domain.key`.
    pub fn key(&self) -> PathBuf {
        self.root.join("certs/domain.key")
    }
    /// `auth/htpasswd`.
    pub fn htpasswd(&self) -> PathBuf {
        self.root.join("auth/htpasswd")
    }
    /// `data/`: the registry's storage.
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `config.yml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.yml")
    }
    /// `registry.pid` (background process).
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("registry.pid")
    }
    /// `registry.log` (background process).
    pub fn log_file(&self) -> PathBuf {
        self.root.join("registry.log")
    }
    /// `registry-state.json`.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("registry-state.json")
    }
}

/// Which runtime [`registry_up`] uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeChoice {
    /// podman when it answers, else a host binary, else an error saying what to install.
    #[default]
    Auto,
    /// The `registry:2` image (or `image`) in a podman container.
    Podman,
    /// A distribution binary on the host (`docker-registry`, `registry`).
    Process,
}

/// Who keeps the registry running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SupervisorChoice {
    /// systemd where it runs this host and we are root, else [`SupervisorChoice::Process`].
    #[default]
    Auto,
    /// A systemd unit (it comes back after a reboot).
    Systemd,
    /// No unit: a detached background process (or a podman container with
    /// `--restart=always`), tracked under `<root>`.
    Process,
}

/// How the registry was started: recorded in `<root>/registry-state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum RunMode {
    /// A host binary as a background process; pid in `registry.pid`, log in `registry.log`.
    Background {
        /// The binary.
        binary: PathBuf,
    },
    /// A host binary as the systemd service `mirror-registry.service`.
    ProcessUnit {
        /// The binary.
        binary: PathBuf,
        /// The unit file.
        unit: PathBuf,
    },
    /// A podman container `mirror-registry` with `--restart=always`.
    Container {
        /// podman.
        podman: PathBuf,
        /// The image.
        image: String,
    },
    /// A podman container run by systemd (a Quadlet `.container`, or a generated service).
    ContainerUnit {
        /// podman.
        podman: PathBuf,
        /// The image.
        image: String,
        /// The unit file (`.container` or `.service`).
        unit: PathBuf,
    },
}

impl RunMode {
    /// The runtime: [`RuntimeChoice::Podman`] or [`RuntimeChoice::Process`].
    pub fn runtime(&self) -> RuntimeChoice {
        match self {
            RunMode::Background { .. } | RunMode::ProcessUnit { .. } => RuntimeChoice::Process,
            RunMode::Container { .. } | RunMode::ContainerUnit { .. } => RuntimeChoice::Podman,
        }
    }

    /// One line for humans, e.g. `process (background, pid file /opt/registry/registry.pid)`.
    pub fn describe(&self, layout: &RegistryLayout) -> String {
        match self {
            RunMode::Background { binary } => format!(
                "process `{}` in the background (pid file {}, log {})",
                binary.display(),
                layout.pid_file().display(),
                layout.log_file().display()
            ),
            RunMode::ProcessUnit { binary, unit } => format!(
                "process `{}` as systemd unit {} ({})",
                binary.display(),
                service_name(),
                unit.display()
            ),
            RunMode::Container { image, .. } => {
                format!("podman container `{CONTAINER_NAME}` from {image}")
            }
            RunMode::ContainerUnit { image, unit, .. } => format!(
                "podman container `{CONTAINER_NAME}` from {image} as systemd unit {} ({})",
                service_name(),
                unit.display()
            ),
        }
    }
}

/// The state file's content. `Debug` leaves out the configuration text (it may hold the S3
/// secret key and `http.secret`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// How it runs.
    pub run: RunMode,
    /// The port.
    pub port: u16,
    /// The address it listens on; `None`: every interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<IpAddr>,
    /// The `config.yml` it was started with.
    pub config: String,
}

impl std::fmt::Debug for RuntimeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeState")
            .field("run", &self.run)
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("config", &format_args!("<{} bytes>", self.config.len()))
            .finish()
    }
}

impl RuntimeState {
    /// Reads `<root>/registry-state.json`; `None` when absent.
    pub fn load(layout: &RegistryLayout) -> Result<Option<Self>, Error> {
        let path = layout.state_file();
        let Some(bytes) = read_optional(&path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Runtime {
                reason: format!(
                    "`{}` does not parse ({e}): delete it and run `mirrorctl registry up` again",
                    path.display()
                ),
                log: None,
            })
    }

    /// Writes the state file: 0600 when the configuration it records holds secrets.
    fn save(&self, layout: &RegistryLayout) -> Result<(), Error> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        write_atomic(&layout.state_file(), text.as_bytes(), self.file_mode())?;
        Ok(())
    }

    /// The mode of `config.yml` and of the state file: 0600 when the configuration holds a
    /// secret key or `http.secret`, else 0644.
    pub(crate) fn file_mode(&self) -> u32 {
        if config::holds_secrets(&self.config) {
            SECRET_MODE
        } else {
            PUBLIC_MODE
        }
    }
}

fn service_name() -> String {
    format!("{UNIT_NAME}.service")
}

/// `host:port` for a listen address: `127.0.0.1:5000`, `[::1]:5000`, or `:5000` (every
/// interface) without `bind`. The registry's `http.addr` and podman's `-p` read it.
pub(crate) fn listen_addr(bind: Option<IpAddr>, port: u16) -> String {
    match bind {
        None => format!(":{port}"),
        Some(ip) => SocketAddr::new(ip, port).to_string(),
    }
}

/// Where to connect to reach a registry listening on `bind`: loopback for every interface
/// (or an unspecified address), else the address itself.
pub(crate) fn connect_addr(bind: Option<IpAddr>, port: u16) -> SocketAddr {
    match bind {
        Some(ip) if !ip.is_unspecified() => SocketAddr::new(ip, port),
        Some(IpAddr::V6(_)) => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        _ => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    }
}

/// For humans: `127.0.0.1:5000`, or `every interface, port 5000`.
pub fn describe_listen(bind: Option<IpAddr>, port: u16) -> String {
    match bind {
        None => format!("every interface, port {port}"),
        Some(ip) => SocketAddr::new(ip, port).to_string(),
    }
}

/// How the registry runs, wherever it lives: the runtime, who supervises it, the image or
/// binary. [`install`](fn@crate::install) takes these as they are; [`UpOptions`] adds where.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Which runtime. Default [`RuntimeChoice::Auto`].
    pub runtime: RuntimeChoice,
    /// Who keeps it running. Default [`SupervisorChoice::Auto`].
    pub supervisor: SupervisorChoice,
    /// Image for podman. Default [`DEFAULT_REGISTRY_IMAGE`]. With `image_archive`: which of
    /// the archive's images to run when it holds several.
    pub image: String,
    /// An archive of the registry image (`podman save`, `skopeo copy ... docker-archive:`)
    /// to load with `podman load` when podman lacks it; the registry then runs that image by
    /// its ID (`sha256:...`), never pulled. Means podman ([`RuntimeChoice::Auto`] picks it;
    /// [`RuntimeChoice::Process`] is an error). Default `None`.
    pub image_archive: Option<PathBuf>,
    /// The distribution binary for the process runtime. Default: found on `PATH`.
    pub binary: Option<PathBuf>,
    /// How long to wait for the port to answer. Default 30 s.
    pub wait: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            runtime: RuntimeChoice::Auto,
            supervisor: SupervisorChoice::Auto,
            image: DEFAULT_REGISTRY_IMAGE.into(),
            image_archive: None,
            binary: None,
            wait: Duration::from_secs(30),
        }
    }
}

/// Settings of [`registry_up`]: where the registry lives, keeps its content and listens, and
/// how it runs.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The registry root. Default [`DEFAULT_REGISTRY_ROOT`].
    pub root: PathBuf,
    /// The port it listens on. Default [`DEFAULT_REGISTRY_PORT`].
    pub port: u16,
    /// The address it listens on. Default `None`: every interface, as
    /// `createMirrorRegistry.sh` did. For podman this is the host side of `-p`.
    pub bind: Option<IpAddr>,
    /// Where content is stored. Default [`StorageSettings::Filesystem`] (`<root>/data`).
    /// With S3 the bucket is checked before anything starts.
    pub storage: StorageSettings,
    /// The file holding `http.secret` (created, random and 0600, when missing). Default:
    /// none with filesystem storage (the registry makes one per start, as before);
    /// [`crate::storage::default_http_secret_file`] with S3, so replicas can share it.
    pub http_secret_file: Option<PathBuf>,
    /// Open the port in firewalld when it runs (and the registry does not listen on loopback
    /// only), in its default zone, now and permanently. Default `true`.
    pub firewall: bool,
    /// How it runs.
    pub run: RunOptions,
}

impl Default for UpOptions {
    fn default() -> Self {
        Self {
            root: PathBuf::from(DEFAULT_REGISTRY_ROOT),
            port: DEFAULT_REGISTRY_PORT,
            bind: None,
            storage: StorageSettings::Filesystem,
            http_secret_file: None,
            firewall: true,
            run: RunOptions::default(),
        }
    }
}

/// What [`registry_up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpAction {
    /// It was not running: it was started.
    Started,
    /// It was running with another configuration: it was restarted with this one.
    Restarted,
    /// It was already running with this configuration: nothing was done.
    AlreadyRunning,
}

/// The result of [`registry_up`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UpReport {
    /// What was done.
    pub action: UpAction,
    /// How it runs.
    pub run: RunMode,
    /// The port.
    pub port: u16,
    /// The address it listens on; `None`: every interface.
    pub bind: Option<IpAddr>,
    /// The background process's pid.
    pub pid: Option<u32>,
    /// The configuration file.
    pub config: PathBuf,
    /// [`RuntimeChoice::Auto`] kept the runtime of the registry that runs although it would
    /// pick another now (podman installed after a process registry was started): a switch
    /// is asked for with an explicit runtime.
    pub runtime_kept: bool,
    /// Where content is stored, for humans (`filesystem`, `s3 bucket ...`).
    pub storage: String,
    /// The registry's version, when the configuration depends on it (S3 storage).
    pub version: Option<DetectedVersion>,
    /// The `http.secret` file, when one is used.
    pub http_secret_file: Option<PathBuf>,
    /// Whether that file was created now.
    pub http_secret_created: bool,
    /// The image archive given, and whether it was loaded (podman lacked it).
    pub image_archive: Option<LoadedImage>,
    /// The port in firewalld. [`FirewallAction::Failed`] leaves the registry running, but
    /// unreachable from other hosts: the command has found a problem.
    pub firewall: FirewallReport,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_and_connect_addresses() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for (bind, listen, connect, human) in [
            (
                None,
                ":5000",
                "127.0.0.1:5000",
                "every interface, port 5000",
            ),
            (
                ip("127.0.0.1"),
                "127.0.0.1:5000",
                "127.0.0.1:5000",
                "127.0.0.1:5000",
            ),
            (
                ip("192.0.2.7"),
                "192.0.2.7:5000",
                "192.0.2.7:5000",
                "192.0.2.7:5000",
            ),
            (
                ip("0.0.0.0"),
                "0.0.0.0:5000",
                "127.0.0.1:5000",
                "0.0.0.0:5000",
            ),
            (ip("::1"), "[::1]:5000", "[::1]:5000", "[::1]:5000"),
            (ip("::"), "[::]:5000", "[::1]:5000", "[::]:5000"),
        ] {
            assert_eq!(listen_addr(bind, 5000), listen, "{bind:?}");
            assert_eq!(connect_addr(bind, 5000).to_string(), connect, "{bind:?}");
            assert_eq!(describe_listen(bind, 5000), human, "{bind:?}");
        }
    }

    #[test]
    fn run_modes_name_their_runtime_and_old_state_files_still_load() {
        let podman = || PathBuf::from("/usr/bin/podman");
        let binary = || PathBuf::from("/usr/bin/docker-registry");
        let unit = || PathBuf::from("/etc/systemd/system/mirror-registry.service");
        for (run, want) in [
            (
                RunMode::Background { binary: binary() },
                RuntimeChoice::Process,
            ),
            (
                RunMode::ProcessUnit {
                    binary: binary(),
                    unit: unit(),
                },
                RuntimeChoice::Process,
            ),
            (
                RunMode::Container {
                    podman: podman(),
                    image: DEFAULT_REGISTRY_IMAGE.into(),
                },
                RuntimeChoice::Podman,
            ),
            (
                RunMode::ContainerUnit {
                    podman: podman(),
                    image: DEFAULT_REGISTRY_IMAGE.into(),
                    unit: unit(),
                },
                RuntimeChoice::Podman,
            ),
        ] {
            assert_eq!(run.runtime(), want, "{run:?}");
        }
        // Written before `bind` existed: every interface, and saved back byte for byte.
        let old = r#"{"run":{"mode":"background","binary":"/usr/bin/docker-registry"},"port":5000,"config":"x"}"#;
        let state: RuntimeState = serde_json::from_str(old).unwrap();
        assert_eq!(state.bind, None);
        assert_eq!(serde_json::to_string(&state).unwrap(), old);
    }
}
