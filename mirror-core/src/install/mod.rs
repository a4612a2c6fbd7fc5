//! `mirrorctl install`: everything `createMirrorRegistry.sh` did, as ordered, idempotent
//! steps. Each step reports done / already done / skipped / planned (dry run); the first
//! failure stops the run with the step, the error and its hint, and nothing already done is
//! undone. A rerun finishes what is missing.

pub(crate) mod config;
pub(crate) mod outputs;
pub(crate) mod packages;
pub(crate) mod rhsm;
pub(crate) mod uninstall;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::auth::{AuthFile, Credential};
use crate::digest::Digest;
use crate::error::Error;
use crate::fsutil;
use crate::hint::Hint;
use crate::htpasswd::UserState;
use crate::preflight::{PreflightOptions, Status};
use crate::progress::{NoProgress, Progress};
use crate::pull_secret::Warning;
use crate::reference::{ImageRef, Repository};
use crate::registry::{ClientOptions, RegistryClient};
use crate::release::extract::extract_installer;
use crate::release::instructions::InstructionKind;
use crate::release::mirror::{MirrorOptions, mirror_release};
use crate::runtime::{UpAction, UpOptions};
use mirror_tls::OsFamily;

/// The steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
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

    /// Parses a `--skip` value; an unknown name lists the known ones.
    pub fn parse(name: &str) -> Result<Step, Error> {
        Step::ALL
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(|| Error::InvalidSetting {
                name: "skip".into(),
                reason: format!(
                    "unknown step `{name}` (steps: {})",
                    Step::ALL
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
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
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// What it did.
    pub status: StepStatus,
    /// One line about it.
    pub detail: String,
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
#[error("step `{}` failed: {source}", step.name())]
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
}

/// Validated settings for [`install`].
#[derive(Clone, Debug)]
pub struct InstallSettings {
    /// The registry user and password.
    pub credential: Credential,
    /// The Red Hat account (the script's first two arguments), used only on RHEL when
    /// installing packages fails because the host is not registered.
    pub rh_account: Option<Credential>,
    /// Email for the pull-secret entry and the certificate.
    pub email: String,
    /// The release to mirror.
    pub release: ImageRef,
    /// The Red Hat pull secret (read, never modified).
    pub pull_secret: PathBuf,
    /// The registry's host name (certificate CN and SAN, mirror address).
    pub hostname: String,
    /// Extra names and addresses for the certificate (the host's own addresses by default).
    pub extra_sans: Vec<String>,
    /// The host's addresses, added to the certificate.
    pub ip_addresses: Vec<IpAddr>,
    /// Registry port (5000).
    pub port: u16,
    /// Registry root (`/opt/registry`).
    pub root: PathBuf,
    /// The script's `certificate` file.
    pub certificate_file: PathBuf,
    /// Output directory.
    pub output_dir: PathBuf,
    /// Mirror repository (`ocp4/openshift4`).
    pub repository: String,
    /// Extra CA files (PEM) for reaching the source.
    pub ca_pems: Vec<Vec<u8>>,
    /// Plain-HTTP source registries.
    pub insecure_registries: Vec<String>,
    /// Steps to skip.
    pub skip: BTreeSet<Step>,
    /// Preflight settings (checks to skip, minimum free space, runtime, ...).
    pub preflight: PreflightOptions,
    /// Prefix for the host trust store (`/`; a temp dir in tests).
    pub trust_root: PathBuf,
    /// Transfers in flight per registry.
    pub max_per_registry: usize,
    /// Replace the user's password when the htpasswd file holds another one, and with it the
    /// pull secret and the install-config snippet. Without it such a run is refused
    /// ([`Error::PasswordChange`]) before anything changes: nodes holding the old pull secret
    /// would lose access.
    pub rotate_password: bool,
    /// Plan only.
    pub dry_run: bool,
    /// How the registry runs (runtime, supervisor, image, binary, bind address); its `root`
    /// and `port` are taken from the fields above.
    pub registry: UpOptions,
}

/// What `install` did and where things are (also written as `install-summary.json`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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

struct Run<'a> {
    progress: &'a dyn InstallProgress,
    steps: Vec<StepReport>,
}

impl Run<'_> {
    fn record(&mut self, step: Step, status: StepStatus, detail: impl Into<String>) {
        let r = StepReport {
            step,
            status,
            detail: detail.into(),
        };
        self.progress.step(&r);
        self.steps.push(r);
    }

    fn fail(&self, step: Step, source: Error) -> InstallError {
        InstallError {
            step,
            source,
            done: self.steps.clone(),
        }
    }
}

fn status(changed: bool) -> StepStatus {
    if changed {
        StepStatus::Done
    } else {
        StepStatus::AlreadyDone
    }
}

/// Runs the install.
pub async fn install(
    s: &InstallSettings,
    progress: &dyn InstallProgress,
) -> Result<InstallReport, InstallError> {
    let mut run = Run {
        progress,
        steps: Vec::new(),
    };
    let registry = format!("{}:{}", s.hostname, s.port);
    let mirror = Repository {
        registry: registry.clone(),
        path: s.repository.clone(),
    };
    let certs = s.root.join("certs");
    let ca_file = certs.join("ca.crt");
    let htpasswd = s.root.join("auth").join("htpasswd");
    let pull_secret_out = s.output_dir.join("pull-secret.json");
    let mut release_digest = None;
    let mut update_image = None;
    let mut outputs = Vec::new();
    let mut instructions = None;
    let mut kind = InstructionKind::Idms;
    // A pull secret without Red Hat entries (`{"auths":{}}`) is valid JSON but cannot pull the
    // release; say so before anything runs (preflight's `upstream` then fails on it too).
    let mut warnings = Vec::new();
    if let Ok(ps) = crate::pull_secret::PullSecret::load(&s.pull_secret)
        && let Some(w) = ps.missing_red_hat_entries(Some(&registry))
    {
        progress.warning(&w);
        warnings.push(w);
    }

    // A password other than the one in htpasswd would rehash the user and rewrite the pull
    // secret and the snippet: every node with the old pull secret would be refused. Only on
    // purpose, and decided before anything runs. (An unreadable file is the `user` step's to
    // report.)
    let rotating = crate::htpasswd::htpasswd_user_state(&htpasswd, &s.credential)
        .is_ok_and(|state| state == UserState::Differs);
    if rotating && !s.rotate_password {
        let rewrites = [
            pull_secret_out.clone(),
            s.output_dir.join("install-config-snippet.yaml"),
        ]
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
        return Err(run.fail(
            Step::User,
            Error::PasswordChange {
                username: s.credential.username.clone(),
                htpasswd: htpasswd.clone(),
                rewrites,
            },
        ));
    }
    let rotated = |detail: String, what: &str| {
        if rotating {
            format!("{detail} ({what})")
        } else {
            detail
        }
    };

    for step in Step::ALL {
        if s.skip.contains(&step) {
            run.record(step, StepStatus::Skipped, "skipped (--skip)");
            continue;
        }
        let planned = |what: String| (StepStatus::Planned, what);
        let result: Result<(StepStatus, String), Error> = async {
            match step {
                Step::Preflight => {
                    let report = crate::preflight::run_preflight(&s.preflight).await;
                    let failed = blocking_failures(&report, s.preflight.strict, !s.skip.contains(&Step::Packages));
                    if !failed.is_empty() {
                        return Err(Error::InvalidSetting {
                            name: "preflight".into(),
                            reason: format!("{} (run `mirrorctl preflight` for details and hints; `--skip-check NAME` to waive one)", failed.join("; ")),
                        });
                    }
                    Ok((StepStatus::AlreadyDone, format!("{} passed, {} warned, {} skipped", report.summary.pass, report.summary.warn, report.summary.skipped)))
                }
                Step::Packages => {
                    let family = mirror_tls::read_os_family(&s.trust_root).map_err(tls_err)?;
                    let host = rhsm::Host::system();
                    let (pkgs, cmd) = packages::plan(family, s.registry.runtime, packages::HostTools::probe(&host, family));
                    if pkgs.is_empty() {
                        return Ok((StepStatus::AlreadyDone, "the registry runtime and the trust-store tool are installed".to_string()));
                    }
                    if s.dry_run {
                        let mut what = format!("{} {}", cmd.join(" "), pkgs.join(" "));
                        if let (OsFamily::Rhel, Some(a)) = (family, &s.rh_account) {
                            what.push_str(&format!(" (registering with Red Hat as `{}` first if the install needs it)", a.username));
                        }
                        return Ok(planned(what));
                    }
                    let what = packages::install(&host, family, &cmd, &pkgs, s.rh_account.as_ref())?;
                    Ok((StepStatus::Done, what))
                }
                Step::Directories => {
                    let dirs = ["auth", "certs", "data"].map(|d| s.root.join(d));
                    let missing: Vec<&PathBuf> = dirs.iter().filter(|d| !d.is_dir()).collect();
                    if s.dry_run {
                        return Ok(planned(format!("create {} of {}/{{auth,certs,data}}", missing.len(), s.root.display())));
                    }
                    for d in &missing {
                        fsutil::create_dirs(d)?;
                    }
                    Ok((status(!missing.is_empty()), format!("{}/{{auth,certs,data}}", s.root.display())))
                }
                Step::Certificates => {
                    if s.dry_run {
                        return Ok(planned(format!("ensure CA and server certificate for `{}` in {}", s.hostname, certs.display())));
                    }
                    let subject = mirror_tls::Subject::from_file(&s.certificate_file).map_err(tls_err)?;
                    let opts = mirror_tls::GenerateOptions {
                        subject,
                        email: Some(s.email.clone()),
                        hostname: s.hostname.clone(),
                        dns_names: s.extra_sans.clone(),
                        ip_addresses: s.ip_addresses.clone(),
                        ..Default::default()
                    };
                    let out = mirror_tls::ensure_certificates(&certs, &opts, false, std::time::SystemTime::now()).map_err(tls_err)?;
                    let changed = !matches!(out.action, mirror_tls::CertAction::Kept);
                    let action = serde_json::to_value(out.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
                    Ok((status(changed), format!("{action}: {}", out.paths.cert.display())))
                }
                Step::User => {
                    if s.dry_run {
                        let verb = if rotating { "rotate the password of" } else { "add" };
                        return Ok(planned(format!("{verb} user `{}` in {}", s.credential.username, htpasswd.display())));
                    }
                    let action = crate::htpasswd::set_htpasswd_user(&htpasswd, &s.credential, crate::htpasswd::DEFAULT_BCRYPT_COST)?;
                    Ok((status(action != crate::htpasswd::UserAction::Unchanged), rotated(format!("user `{}` in {}", s.credential.username, htpasswd.display()), "password rotated")))
                }
                Step::Registry => {
                    if s.dry_run {
                        let runtime = format!("{:?}", s.registry.runtime).to_lowercase();
                        return Ok(planned(format!("start the registry ({runtime} runtime) on {} under {}", crate::runtime::describe_listen(s.registry.bind, s.port), s.root.display())));
                    }
                    let up = UpOptions { root: s.root.clone(), port: s.port, ..s.registry.clone() };
                    let report = crate::runtime::registry_up(&up)?;
                    let mut detail = format!("{} on {} ({})", serde_json::to_value(report.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(), crate::runtime::describe_listen(report.bind, report.port), report.run.describe(&crate::runtime::RegistryLayout::new(&s.root)));
                    if report.runtime_kept {
                        detail.push_str("; kept the process runtime that runs although podman is installed now (`--runtime podman` switches)");
                    }
                    Ok((status(report.action != UpAction::AlreadyRunning), detail))
                }
                Step::Trust => {
                    if s.dry_run && !ca_file.is_file() {
                        return Ok(planned(format!("trust {} for {registry}", ca_file.display())));
                    }
                    let ca_pem = std::fs::read_to_string(&ca_file).map_err(|e| Error::io("read", &ca_file, e))?;
                    let family = mirror_tls::read_os_family(&s.trust_root).map_err(tls_err)?;
                    let mut opts = mirror_tls::TrustOptions::new(s.trust_root.clone(), ca_pem, registry.clone(), family);
                    opts.dry_run = s.dry_run;
                    let report = mirror_tls::install_trust(&opts).map_err(tls_err)?;
                    if s.dry_run {
                        return Ok(planned(format!("trust the CA for {registry} ({} actions)", report.actions.len())));
                    }
                    Ok((status(report.changed()), format!("CA trusted for {registry}")))
                }
                Step::Check => {
                    if s.dry_run {
                        return Ok(planned(format!("log in to {registry} as `{}` and list its catalog", s.credential.username)));
                    }
                    let client = target_client(s, &ca_file, &registry)?;
                    client.ping(&mirror).await?;
                    let repos = client.catalog(&mirror, 1000).await?;
                    Ok((StepStatus::AlreadyDone, format!("login as `{}` works; catalog lists {} repositories", s.credential.username, repos.len())))
                }
                Step::PullSecret => {
                    if s.dry_run {
                        return Ok(planned(format!("write {} with an entry for {registry}", pull_secret_out.display())));
                    }
                    fsutil::create_dirs(&s.output_dir)?;
                    let report = crate::pull_secret::merge_pull_secret(&crate::pull_secret::MergeOptions {
                        input: s.pull_secret.clone(),
                        output: pull_secret_out.clone(),
                        registry: registry.clone(),
                        credential: s.credential.clone(),
                        email: Some(s.email.clone()),
                        pretty: false,
                        force: true,
                    })?;
                    Ok((status(report.output != crate::pull_secret::OutputAction::Unchanged), rotated(format!("{}", pull_secret_out.display()), &format!("entry `{registry}` holds the rotated password"))))
                }
                Step::Mirror => {
                    let client = mirror_client(s, &ca_file, &pull_secret_out)?;
                    let opts = MirrorOptions { dry_run: s.dry_run, max_per_registry: s.max_per_registry, ..MirrorOptions::new(mirror.clone()) };
                    let report = match mirror_release(&client, &s.release, &opts, progress.mirror()).await {
                        // A dry run before the registry exists: plan from the source alone.
                        Err(Error::Connection { .. } | Error::Image { .. }) if s.dry_run => {
                            let release = crate::release::payload::read_release(&client, &s.release, &client.options().retry).await?;
                            let info = crate::release::info::release_info(&client, &s.release, s.max_per_registry).await?;
                            kind = InstructionKind::default_for(&release.version);
                            instructions = Some(crate::release::instructions::MirrorInstructions::new(
                                release.source_repositories().into_iter().map(|r| r.to_string()),
                                &[mirror.to_string()],
                            ));
                            update_image = Some(format!("{mirror}:{}-{}", release.version, release.architecture));
                            return Ok(planned(format!(
                                "mirror {} images ({} unique blobs, {} bytes; the target is not up yet) to {mirror}",
                                info.components.len() + 1,
                                info.unique_blobs,
                                info.unique_bytes
                            )));
                        }
                        r => r?,
                    };
                    release_digest = report.release_digest.clone();
                    update_image = Some(report.update_image.clone());
                    kind = report.default_instructions;
                    instructions = Some(report.instructions.clone());
                    let p = &report.plan;
                    if s.dry_run {
                        return Ok(planned(format!("mirror {} images ({} to copy, {} blobs, {} bytes) to {mirror}", p.images, p.images_to_copy, p.blobs_to_copy, p.bytes_to_copy)));
                    }
                    let changed = p.images_present != p.images;
                    Ok((status(changed), format!("{} at {}; {} bytes copied", report.version, report.update_image, report.bytes_copied)))
                }
                Step::Extract => {
                    let target = s.output_dir.join("openshift-install");
                    if s.dry_run {
                        return Ok(planned(format!("extract {} pinned to the mirrored release", target.display())));
                    }
                    let Some(update) = &update_image else {
                        return Err(Error::InvalidSetting { name: "skip".into(), reason: "`extract` needs the `mirror` step".into() });
                    };
                    let client = mirror_client(s, &ca_file, &pull_secret_out)?;
                    let from = ImageRef::parse(update)?;
                    // Extract next to the output and compare: an identical binary is left alone.
                    let staging = s.output_dir.join(".extract");
                    let report = extract_installer(&client, &from, &staging).await?;
                    let new = std::fs::read(&report.path).map_err(|e| Error::io("read", &report.path, e))?;
                    let same = std::fs::read(&target).ok().is_some_and(|old| old == new);
                    if same {
                        let _ = std::fs::remove_dir_all(&staging);
                        return Ok((StepStatus::AlreadyDone, format!("{} pinned to {}", target.display(), report.release_image)));
                    }
                    std::fs::rename(&report.path, &target).map_err(|e| Error::io("write", &target, e))?;
                    let _ = std::fs::remove_dir_all(&staging);
                    Ok((StepStatus::Done, format!("{} pinned to {}", target.display(), report.release_image)))
                }
                Step::Outputs => {
                    let Some(instr) = &instructions else {
                        return Err(Error::InvalidSetting { name: "skip".into(), reason: "`outputs` needs the `mirror` step".into() });
                    };
                    let (policy_name, policy) = outputs::mirror_policy(instr, kind);
                    if s.dry_run {
                        return Ok(planned(format!("write install-config-snippet.yaml, {policy_name}, install-summary.json in {}", s.output_dir.display())));
                    }
                    let ps = std::fs::read_to_string(&pull_secret_out).map_err(|e| Error::io("read", &pull_secret_out, e))?;
                    let ca = std::fs::read_to_string(&ca_file).map_err(|e| Error::io("read", &ca_file, e))?;
                    let snippet = outputs::install_config_snippet(&ps, &ca, instr, kind);
                    let mut changed = false;
                    // The snippet holds the pull secret: 0600.
                    for (name, text, mode) in [("install-config-snippet.yaml", snippet, fsutil::SECRET_MODE), (policy_name, policy, fsutil::CONFIG_MODE)] {
                        let path = s.output_dir.join(name);
                        changed |= write_if_changed(&path, text.as_bytes(), mode)?;
                        outputs.push(path);
                    }
                    outputs.push(pull_secret_out.clone());
                    outputs.push(s.output_dir.join("openshift-install"));
                    Ok((status(changed), rotated(format!("{}", s.output_dir.display()), "install-config-snippet.yaml holds the rotated password")))
                }
            }
        }
        .await;
        match result {
            Ok((st, detail)) => run.record(step, st, detail),
            Err(e) => return Err(run.fail(step, e)),
        }
    }
    let mut report = InstallReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "InstallReport",
        registry,
        mirror: mirror.to_string(),
        release: s.release.to_string(),
        release_digest,
        update_image,
        outputs,
        password_rotated: rotating && !s.dry_run && !s.skip.contains(&Step::User),
        steps: run.steps.clone(),
        warnings,
    };
    if !s.dry_run && !s.skip.contains(&Step::Outputs) {
        let path = s.output_dir.join("install-summary.json");
        report.outputs.push(path.clone());
        // Stable content only (no timings), so a rerun that changes nothing rewrites nothing.
        let summary = serde_json::json!({
            "apiVersion": report.api_version, "kind": "InstallSummary",
            "registry": report.registry, "mirror": report.mirror, "release": report.release,
            "releaseDigest": report.release_digest, "updateImage": report.update_image,
            "caFile": ca_file, "outputs": report.outputs,
        });
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
        write_if_changed(&path, text.as_bytes(), fsutil::CONFIG_MODE)
            .map_err(|e| run.fail(Step::Outputs, e))?;
    }
    Ok(report)
}

/// The preflight results that stop an install: failures and checks that could not run (and
/// warnings with `strict`). A failed `tools` check does not block when the `packages` step
/// will install what is missing.
fn blocking_failures(
    report: &crate::preflight::PreflightReport,
    strict: bool,
    packages_step: bool,
) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|r| {
            matches!(r.status, Status::Fail | Status::Error) || (strict && r.status == Status::Warn)
        })
        .filter(|r| !(packages_step && r.name == "tools" && r.status == Status::Fail))
        .map(|r| format!("{}: {}", r.name, r.detail))
        .collect()
}

fn tls_err(e: mirror_tls::Error) -> Error {
    Error::InvalidSetting {
        name: "tls".into(),
        reason: format!(
            "{e}{}",
            e.hint()
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default()
        ),
    }
}

fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, Error> {
    if fsutil::read_optional(path)?.as_deref() == Some(bytes) {
        return Ok(false);
    }
    fsutil::write_atomic(path, bytes, mode)?;
    Ok(true)
}

/// A client for the new registry: its CA, the user's credentials.
fn target_client(
    s: &InstallSettings,
    ca_file: &Path,
    registry: &str,
) -> Result<RegistryClient, Error> {
    let ca = std::fs::read(ca_file).map_err(|e| Error::io("read", ca_file, e))?;
    let auth =
        serde_json::json!({ "auths": { registry: { "auth": s.credential.to_auth_value() } } })
            .to_string();
    RegistryClient::new(ClientOptions {
        auth: Some(AuthFile::parse(&auth, Path::new("<registry user>"))?),
        ca_pems: vec![ca],
        ..Default::default()
    })
}

/// A client for the mirror step: the merged pull secret (source and mirror credentials),
/// our CA plus any `--ca-file`, even when the host trust step was skipped.
fn mirror_client(
    s: &InstallSettings,
    ca_file: &Path,
    pull_secret: &Path,
) -> Result<RegistryClient, Error> {
    let mut ca_pems = s.ca_pems.clone();
    if let Ok(ca) = std::fs::read(ca_file) {
        ca_pems.push(ca);
    }
    let auth = if pull_secret.is_file() {
        AuthFile::load(pull_secret)?
    } else {
        AuthFile::load(&s.pull_secret)?
    };
    RegistryClient::new(ClientOptions {
        auth: Some(auth),
        ca_pems,
        insecure_registries: s.insecure_registries.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::{CheckResult, CheckSeverity, PreflightReport, Summary};

    fn report(results: &[(&'static str, Status)]) -> PreflightReport {
        PreflightReport {
            api_version: "v",
            kind: "PreflightReport",
            passed: false,
            strict: false,
            summary: Summary::default(),
            checks: results
                .iter()
                .map(|(name, status)| CheckResult {
                    name,
                    severity: CheckSeverity::Fatal,
                    status: *status,
                    detail: format!("{name} detail"),
                    hint: None,
                    problems: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn what_blocks_an_install() {
        let r = report(&[
            ("os", Status::Warn),
            ("tools", Status::Fail),
            ("disk", Status::Pass),
        ]);
        assert_eq!(
            blocking_failures(&r, false, true),
            Vec::<String>::new(),
            "packages installs the tools"
        );
        assert_eq!(
            blocking_failures(&r, false, false),
            vec!["tools: tools detail"],
            "--skip packages"
        );
        assert_eq!(
            blocking_failures(&r, true, true),
            vec!["os: os detail"],
            "--strict"
        );
        let r = report(&[
            ("disk", Status::Fail),
            ("port", Status::Error),
            ("tools", Status::Error),
        ]);
        assert_eq!(
            blocking_failures(&r, false, true),
            vec![
                "disk: disk detail",
                "port: port detail",
                "tools: tools detail"
            ]
        );
    }
}
