//! `mirrorctl install`: everything `createMirrorRegistry.sh` did, as ordered, idempotent
//! steps. Each step reports done / already done / skipped / planned (dry run); the first
//! failure stops the run with the step, the error and its hint, and nothing already done is
//! undone. A rerun finishes what is missing.

pub(crate) mod config;
pub(crate) mod outputs;
pub(crate) mod packages;
pub(crate) mod rhsm;
pub(crate) mod settings;
mod steps;
pub(crate) mod uninstall;

pub use config::{InstallConfigFile, S3ConfigFile};
pub use settings::{
    DEFAULT_ARCHITECTURE, DEFAULT_CERTIFICATE_FILE, DEFAULT_MIRROR_REPOSITORY, DEFAULT_OUTPUT_DIR,
    DEFAULT_RELEASE_REPOSITORY, InstallOptions, SettingNames,
};
pub use uninstall::{UninstallSettings, uninstall};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;
use crate::htpasswd::UserState;
use crate::progress::{NoProgress, Progress};
use crate::pull_secret::Warning;
pub use settings::InstallSettings;

/// The steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Step {
    /// Host checks (`mirrorctl preflight`).
    Preflight,
    /// podman or the registry binary, and the trust-store tool, when missing.
    Packages,
    /// Directories `<root>/{auth,certs,data}`.
    Directories,
    /// CA and server certificate in `<root>/certs`.
    Certificates,
    /// The htpasswd user in `<root>/auth/htpasswd`.
    User,
    /// The registry itself.
    Registry,
    /// The CA in the host trust store and `/etc/containers/certs.d`.
    Trust,
    /// Login and `_catalog` against the running registry.
    Check,
    /// `pull-secret.json` with the mirror's credentials.
    PullSecret,
    /// The release mirror.
    Mirror,
    /// `openshift-install` pinned to the mirrored release.
    Extract,
    /// install-config snippet, mirror policy, summary.
    Outputs,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 12] = [
        Step::Preflight,
        Step::Packages,
        Step::Directories,
        Step::Certificates,
        Step::User,
        Step::Registry,
        Step::Trust,
        Step::Check,
        Step::PullSecret,
        Step::Mirror,
        Step::Extract,
        Step::Outputs,
    ];

    /// The kebab-case name used by `--skip`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Preflight => "preflight",
            Step::Packages => "packages",
            Step::Directories => "directories",
            Step::Certificates => "certificates",
            Step::User => "user",
            Step::Registry => "registry",
            Step::Trust => "trust",
            Step::Check => "check",
            Step::PullSecret => "pull-secret",
            Step::Mirror => "mirror",
            Step::Extract => "extract",
            Step::Outputs => "outputs",
        }
    }

    /// Parses a step name; an unknown one is [`Error::UnknownName`], whose hint lists the
    /// known ones.
    pub fn parse(name: &str) -> Result<Step, Error> {
        Step::ALL
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| Error::UnknownName {
                kind: "step",
                name: name.to_string(),
                known: Step::ALL.iter().map(|s| s.name()).collect(),
            })
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// It changed something.
    Done,
    /// Everything was already right; nothing changed.
    AlreadyDone,
    /// Skipped by `--skip`.
    Skipped,
    /// Dry run: what it would do.
    Planned,
}

/// One step's report.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// What it did.
    pub status: StepStatus,
    /// One line about it.
    pub detail: String,
    /// How long it took, in seconds (what each step costs: the mirror step is most of an
    /// install). `uninstall` does not time its steps: 0 there.
    pub seconds: f64,
}

/// Receives step reports as they happen.
pub trait InstallProgress: Send + Sync {
    /// A step finished (or was skipped or planned).
    fn step(&self, report: &StepReport);
    /// Something is wrong that does not stop the install (a pull secret without Red Hat
    /// entries); it is also kept in [`InstallReport::warnings`].
    fn warning(&self, _warning: &Warning) {}
    /// The mirror's progress, forwarded.
    fn mirror(&self) -> Arc<dyn Progress> {
        Arc::new(NoProgress)
    }
}

/// A failed install: the step and why.
#[derive(Debug, thiserror::Error)]
#[error("step `{}` failed", step.name())]
pub struct InstallError {
    /// The step that failed.
    pub step: Step,
    /// What went wrong.
    #[source]
    pub source: Error,
    /// The steps finished before it.
    pub done: Vec<StepReport>,
}

impl InstallError {
    /// The likely fix.
    pub fn hint(&self) -> Option<Hint> {
        self.source.hint()
    }

    /// Always false: an install runs on settings checked before it starts
    /// ([`InstallOptions::build`](settings::InstallOptions::build)); a step that fails found a
    /// problem.
    pub fn is_usage(&self) -> bool {
        false
    }
}

/// What `install` did and where things are (also written as `install-summary.json`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InstallReport {
    /// Schema.
    pub api_version: &'static str,
    /// `InstallReport`.
    pub kind: &'static str,
    /// `host:port`.
    pub registry: String,
    /// Mirror repository.
    pub mirror: String,
    /// The release as given.
    pub release: String,
    /// Its digest.
    pub release_digest: Option<Digest>,
    /// The mirrored release image.
    pub update_image: Option<String>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Per step.
    pub steps: Vec<StepReport>,
    /// Whether the user's password was replaced (`rotate_password` and another password in
    /// htpasswd): clusters holding the old pull secret need the new one.
    pub password_rotated: bool,
    /// What was wrong without stopping the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Runs the install: every step in order ([`Step::ALL`]), each reported to `progress` as it
/// ends; the first failure stops the run.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mirror_core::{install::{InstallConfigFile, InstallOptions, InstallProgress, StepReport}};
/// struct Print;
/// impl InstallProgress for Print {
///     fn step(&self, r: &StepReport) {
///         eprintln!("{:?}: {}", r.step, r.detail);
///     }
/// }
/// let settings = InstallOptions {
///     file: InstallConfigFile::load("install.yaml".as_ref())?,
///     password: Some("s3cret".into()),
///     ..InstallOptions::default()
/// }
/// .build()?;
/// let report = mirror_core::install(&settings, &Print).await?;
/// println!("{:?}", report.update_image);
/// # Ok(()) }
/// ```
pub async fn install(
    s: &InstallSettings,
    progress: &dyn InstallProgress,
) -> Result<InstallReport, InstallError> {
    let mut cx = steps::Ctx::new(s, progress);
    let warnings = warnings(&cx);
    cx.rotating = rotating(&cx).map_err(|source| InstallError {
        step: Step::User,
        source,
        done: Vec::new(),
    })?;
    let mut done = Vec::new();
    for step in Step::ALL {
        let started = std::time::Instant::now();
        let mut report = if s.skip.contains(&step) {
            StepReport {
                step,
                status: StepStatus::Skipped,
                detail: "skipped (--skip)".into(),
                seconds: 0.0,
            }
        } else {
            steps::run(step, &mut cx)
                .await
                .map_err(|source| InstallError {
                    step,
                    source,
                    done: done.clone(),
                })?
        };
        report.seconds = started.elapsed().as_secs_f64();
        progress.step(&report);
        done.push(report);
    }
    let (release_digest, update_image) = match cx.mirrored.take() {
        Some(m) => (m.release_digest, Some(m.update_image)),
        None => (None, None),
    };
    let mut report = InstallReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "InstallReport",
        registry: cx.registry.clone(),
        mirror: cx.mirror.to_string(),
        release: s.release.to_string(),
        release_digest,
        update_image,
        outputs: std::mem::take(&mut cx.outputs),
        password_rotated: cx.rotating && !s.dry_run && !s.skip.contains(&Step::User),
        steps: done,
        warnings,
    };
    if !s.dry_run && !s.skip.contains(&Step::Outputs) {
        write_summary(&mut report, &cx.ca_file, &s.output_dir).map_err(|source| InstallError {
            step: Step::Outputs,
            source,
            done: report.steps.clone(),
        })?;
    }
    Ok(report)
}

/// What is wrong without stopping the run, told to `progress` before anything runs: a pull
/// secret without Red Hat entries (`{"auths":{}}`) is valid JSON but cannot pull the release
/// (preflight's `upstream` then fails on it too).
fn warnings(cx: &steps::Ctx<'_>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if let Ok(ps) = crate::pull_secret::PullSecret::load(&cx.s.pull_secret)
        && let Some(w) = ps.missing_red_hat_entries(Some(&cx.registry))
    {
        cx.progress.warning(&w);
        warnings.push(w);
    }
    warnings
}

/// Whether this run replaces the user's password. A password other than the one in htpasswd
/// would rehash the user and rewrite the pull secret and the snippet: every node with the old
/// pull secret would be refused. Only on purpose (`rotate_password`), and decided before
/// anything runs. (An unreadable file is the `user` step's to report.)
fn rotating(cx: &steps::Ctx<'_>) -> Result<bool, Error> {
    let s = cx.s;
    let differs = crate::htpasswd::htpasswd_user_state(&cx.htpasswd, &s.credential)
        .is_ok_and(|state| state == UserState::Differs);
    if differs && !s.rotate_password {
        let rewrites = [
            cx.pull_secret_out.clone(),
            s.output_dir.join("install-config-snippet.yaml"),
        ]
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
        return Err(Error::PasswordChange {
            username: s.credential.username.clone(),
            htpasswd: cx.htpasswd.clone(),
            rewrites,
        });
    }
    Ok(differs)
}

/// Writes `install-summary.json` (stable content only, no timings, so a rerun that changes
/// nothing rewrites nothing) and lists it in the report's outputs.
fn write_summary(report: &mut InstallReport, ca_file: &Path, out: &Path) -> Result<(), Error> {
    let path = out.join("install-summary.json");
    report.outputs.push(path.clone());
    let summary = serde_json::json!({
        "apiVersion": report.api_version, "kind": "InstallSummary",
        "registry": report.registry, "mirror": report.mirror, "release": report.release,
        "releaseDigest": report.release_digest, "updateImage": report.update_image,
        "caFile": ca_file, "outputs": report.outputs,
    });
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    steps::write_if_changed(&path, text.as_bytes(), mirror_tls::fsutil::PUBLIC_MODE)?;
    Ok(())
}
