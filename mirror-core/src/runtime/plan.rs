//! What [`registry_up`](super::registry_up) will run, decided before anything starts: the
//! supervisor, the runtime (kept on a rerun unless another is asked for), the image (named, or
//! carried in an archive and run by its ID) or the host binary, the storage inputs and the
//! configuration, and the probe that proves the new registry starts.

use std::path::{Path, PathBuf};

use super::archive::{self, ArchiveImage, LoadedImage};
use super::config::{self, ConfigSpec, PathStyle};
use super::start::Probe;
use super::version::{self, DetectedVersion, RegistryVersion};
use super::{
    RegistryLayout, RunMode, RuntimeChoice, RuntimeState, SupervisorChoice, UNIT_NAME, UpOptions,
    host, process, service_name,
};
use crate::error::Error;
use crate::storage::{SecretAction, StorageSettings, ensure_http_secret};

/// The registry [`registry_up`](super::registry_up) will run, and how it was chosen.
pub(super) struct Plan {
    /// The state it will run in.
    pub(super) target: RuntimeState,
    /// What proves it starts while another registry still runs.
    pub(super) probe: Probe,
    /// The registry's version, when the configuration depends on it (S3 storage).
    pub(super) version: Option<DetectedVersion>,
    /// The runtime that runs was kept although [`RuntimeChoice::Auto`] would pick another.
    pub(super) runtime_kept: bool,
    /// The carried image, made present in podman's storage.
    pub(super) loaded: Option<LoadedImage>,
}

/// What the configuration is made from besides `opts`' own fields.
pub(super) struct Inputs<'a> {
    pub(super) storage: &'a StorageSettings,
    pub(super) http_secret: Option<&'a str>,
}

/// The storage inputs: with S3 the bucket is checked first; then the http secret file
/// (given, or the default with S3) is read, or made when missing: its path, the secret, and
/// whether it was made.
pub(super) fn prepare_storage(
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

/// Decides what runs. `carried` is the archive `opts` names and the image in it (read, not
/// loaded yet): it means podman, and is loaded here when podman lacks it.
pub(super) fn plan(
    layout: &RegistryLayout,
    opts: &UpOptions,
    running: Option<&RuntimeState>,
    carried: Option<(&Path, ArchiveImage)>,
    made: &Inputs<'_>,
) -> Result<Plan, Error> {
    let use_systemd = use_systemd(opts.run.supervisor)?;
    let asked = match (opts.run.runtime, &carried) {
        (RuntimeChoice::Auto, Some(_)) => RuntimeChoice::Podman,
        (r, _) => r,
    };
    let (podman, runtime_kept) = choose_podman(asked, running)?;
    let Some((podman, podman_version)) = podman else {
        let binary = process_binary(running, opts, asked)?;
        let (target, version) = process_state(layout, opts, &binary, use_systemd, made);
        return Ok(Plan {
            target,
            probe: Probe::Binary(binary),
            version,
            runtime_kept,
            loaded: None,
        });
    };
    // The carried image is run by its ID: exactly what was carried, never pulled.
    let (image, loaded) = match carried {
        Some((path, img)) => {
            let l = archive::load_image_archive(&podman, path, &img)?;
            (l.image.reference(), Some(l))
        }
        None => (opts.run.image.clone(), None),
    };
    let pod = Podman {
        podman: &podman,
        image: &image,
        names: loaded.as_ref().map_or(&[][..], |l| &l.image.names[..]),
        version: podman_version,
    };
    let (target, version) = podman_state(layout, opts, &pod, use_systemd, made);
    Ok(Plan {
        target,
        probe: Probe::Image {
            podman: podman.clone(),
            image,
        },
        version,
        runtime_kept,
        loaded,
    })
}

/// Whether systemd supervises the registry.
fn use_systemd(supervisor: SupervisorChoice) -> Result<bool, Error> {
    Ok(match supervisor {
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
    })
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// podman's path and version.
type Found = (PathBuf, (u32, u32));

/// podman when the registry runs in it (else a host binary), and whether
/// [`RuntimeChoice::Auto`] kept the process runtime that runs although podman is here now.
fn choose_podman(
    asked: RuntimeChoice,
    running: Option<&RuntimeState>,
) -> Result<(Option<Found>, bool), Error> {
    Ok(match (asked, running.map(|r| r.run.runtime())) {
        (RuntimeChoice::Process, _) => (None, false),
        (RuntimeChoice::Podman, _) => (Some(host::podman().ok_or_else(podman_missing)?), false),
        // A rerun keeps the runtime that runs: switching is asked for, never implied.
        (RuntimeChoice::Auto, Some(RuntimeChoice::Process)) => (None, host::podman().is_some()),
        (RuntimeChoice::Auto, Some(_)) => (Some(host::podman().ok_or_else(podman_missing)?), false),
        (RuntimeChoice::Auto, None) => (host::podman(), false),
    })
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

/// The distribution binary to run: the one that runs is kept unless another is asked for.
fn process_binary(
    running: Option<&RuntimeState>,
    opts: &UpOptions,
    asked: RuntimeChoice,
) -> Result<PathBuf, Error> {
    let recorded = running.and_then(|r| match &r.run {
        RunMode::Background { binary } | RunMode::ProcessUnit { binary, .. }
            if opts.run.binary.is_none() && binary.is_file() =>
        {
            Some(binary.clone())
        }
        _ => None,
    });
    if let Some(b) = recorded {
        return Ok(b);
    }
    process::find_binary(opts.run.binary.as_deref()).map_err(|e| {
        if asked == RuntimeChoice::Auto {
            Error::ToolMissing {
                what: "a registry runtime".into(),
                looked_for: format!(
                    "`podman` or `{}` on PATH",
                    process::BINARY_NAMES.join("` or `")
                ),
                install: format!(
                    "install podman ({}), or {}",
                    crate::preflight::tools::Installer::of_this_host().command("podman"),
                    process::install_binary()
                ),
            }
        } else {
            e
        }
    })
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

/// podman and the image it runs.
struct Podman<'a> {
    podman: &'a Path,
    /// A name, or a carried image's ID.
    image: &'a str,
    /// The names a carried image was saved under (their tags tell its version).
    names: &'a [String],
    /// podman's version.
    version: (u32, u32),
}

/// The state of a podman registry as `opts` asks for it.
fn podman_state(
    layout: &RegistryLayout,
    opts: &UpOptions,
    pod: &Podman<'_>,
    use_systemd: bool,
    made: &Inputs<'_>,
) -> (RuntimeState, Option<DetectedVersion>) {
    let (podman, image) = (pod.podman.to_path_buf(), pod.image.to_string());
    let run = if use_systemd {
        let unit = if host::has_quadlet(pod.version) {
            PathBuf::from("/etc/containers/systemd").join(format!("{UNIT_NAME}.container"))
        } else {
            PathBuf::from("/etc/systemd/system").join(service_name())
        };
        RunMode::ContainerUnit {
            podman,
            image,
            unit,
        }
    } else {
        RunMode::Container { podman, image }
    };
    let (config, detected) = render(layout, opts, PathStyle::Container, made, || {
        version::of_image(pod.podman, pod.image, pod.names)
    });
    let state = RuntimeState {
        run,
        port: opts.port,
        bind: opts.bind,
        config,
    };
    (state, detected)
}
