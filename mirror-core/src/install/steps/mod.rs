//! The steps of [`install`](super::install), one function each over a small context: each
//! returns its [`StepReport`] or the error that stops the run. Host and registry steps are in
//! `host.rs`, the mirror and what follows from it in `release.rs`.

mod host;
mod release;

use std::path::{Path, PathBuf};

use super::settings::InstallSettings;
use super::{InstallProgress, Step, StepReport, StepStatus};
use crate::digest::Digest;
use crate::error::Error;
use crate::reference::Repository;
use crate::release::instructions::{InstructionKind, MirrorInstructions};
use mirror_tls::fsutil;

/// What the steps share: the settings, the paths derived from them, and what earlier steps
/// found for later ones.
pub(super) struct Ctx<'a> {
    pub(super) s: &'a InstallSettings,
    pub(super) progress: &'a dyn InstallProgress,
    /// `host:port`.
    pub(super) registry: String,
    /// The mirror repository.
    pub(super) mirror: Repository,
    /// `<root>/certs`.
    certs: PathBuf,
    /// `<root>/certs/ca.crt`.
    pub(super) ca_file: PathBuf,
    /// `<root>/auth/htpasswd`.
    pub(super) htpasswd: PathBuf,
    /// `<out>/pull-secret.json`.
    pub(super) pull_secret_out: PathBuf,
    /// The user's password differs from htpasswd's and `rotate_password` replaces it.
    pub(super) rotating: bool,
    /// What the mirror step found (or planned), for `extract` and `outputs`.
    pub(super) mirrored: Option<Mirrored>,
    /// Files the outputs step wrote.
    pub(super) outputs: Vec<PathBuf>,
}

/// The mirror step's result that later steps use.
pub(super) struct Mirrored {
    /// The release digest (a real run).
    pub(super) release_digest: Option<Digest>,
    /// The mirrored release image.
    pub(super) update_image: String,
    /// ICSP or IDMS for this release.
    pub(super) kind: InstructionKind,
    /// The mirror policy's content.
    pub(super) instructions: MirrorInstructions,
    /// The release signature ConfigMap written to the output directory, when verified.
    pub(super) signature: Option<PathBuf>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(s: &'a InstallSettings, progress: &'a dyn InstallProgress) -> Self {
        let registry = format!("{}:{}", s.hostname, s.port);
        let certs = s.root.join("certs");
        Ctx {
            s,
            progress,
            mirror: Repository {
                registry: registry.clone(),
                path: s.repository.clone(),
            },
            registry,
            ca_file: certs.join("ca.crt"),
            certs,
            htpasswd: s.root.join("auth").join("htpasswd"),
            pull_secret_out: s.output_dir.join("pull-secret.json"),
            rotating: false,
            mirrored: None,
            outputs: Vec::new(),
        }
    }

    /// `detail`, and what rotating the password changed, when it does.
    fn rotated(&self, detail: String, what: &str) -> String {
        if self.rotating {
            format!("{detail} ({what})")
        } else {
            detail
        }
    }
}

/// Runs one step.
pub(super) async fn run(step: Step, cx: &mut Ctx<'_>) -> Result<StepReport, Error> {
    match step {
        Step::Preflight => host::preflight(cx).await,
        Step::Packages => host::install_packages(cx),
        Step::Directories => host::directories(cx),
        Step::Certificates => host::certificates(cx),
        Step::User => host::user(cx),
        Step::Registry => host::registry(cx),
        Step::Trust => host::trust(cx),
        Step::Check => host::check(cx).await,
        Step::PullSecret => host::pull_secret(cx),
        Step::Mirror => release::mirror(cx).await,
        Step::Extract => release::extract(cx).await,
        Step::Outputs => release::write_outputs(cx),
    }
}

fn report(step: Step, status: StepStatus, detail: impl Into<String>) -> StepReport {
    StepReport {
        step,
        status,
        detail: detail.into(),
        seconds: 0.0,
    }
}

/// Done when it changed something, else already done.
fn changed(step: Step, changed: bool, detail: impl Into<String>) -> StepReport {
    let status = if changed {
        StepStatus::Done
    } else {
        StepStatus::AlreadyDone
    };
    report(step, status, detail)
}

fn planned(step: Step, what: impl Into<String>) -> StepReport {
    report(step, StepStatus::Planned, what)
}

/// A serde enum's kebab-case name (`created`, `already-running`).
fn kebab(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Writes `bytes` unless `path` holds them already; true when it wrote.
pub(super) fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, Error> {
    if fsutil::read_optional(path)?.as_deref() == Some(bytes) {
        return Ok(false);
    }
    fsutil::write_atomic(path, bytes, mode)?;
    Ok(true)
}
