//! `mirrorctl install`: config file and flags merged in one place into validated settings,
//! then the library runs the steps.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mirror_core::{
    AuthFile, Credential, ImageRef, InstallConfigFile, InstallProgress, InstallSettings,
    PreflightOptions, Progress, Repository, Step, StepReport, StepStatus,
};

use super::access;
use crate::cli::{InstallArgs, OutputFormat, UninstallArgs};
use crate::output::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, hint_text, print_error};
use crate::progress::CliProgress;

/// A usage problem: the input it names, and the fix.
struct Bad {
    message: String,
    hint: Option<String>,
}

fn bad(message: impl Into<String>, hint: impl Into<Option<String>>) -> Bad {
    Bad {
        message: message.into(),
        hint: hint.into(),
    }
}

pub async fn run(args: InstallArgs, quiet: bool) -> u8 {
    let settings = match resolve(&args) {
        Ok(s) => s,
        Err(b) => {
            eprintln!("error: {}", b.message);
            if let Some(h) = b.hint {
                eprintln!("hint: {h}");
            }
            return EXIT_USAGE;
        }
    };
    let progress = StepPrinter {
        quiet,
        mirror: Mutex::new(None),
    };
    let result = mirror_core::install(&settings, &progress).await;
    progress.finish_mirror();
    match result {
        Ok(report) => {
            match args.output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                ),
                OutputFormat::Text => print!("{}", final_words(&settings, &report)),
            }
            EXIT_OK
        }
        Err(e) => {
            print_error(&e, hint_text(e.hint()));
            eprintln!(
                "note: nothing already done was undone; fix the cause and run the same command again"
            );
            EXIT_PROBLEM
        }
    }
}

struct StepPrinter {
    quiet: bool,
    /// The mirror step's progress, finished (its bar left drawn) before the next line.
    mirror: Mutex<Option<Arc<CliProgress>>>,
}

impl StepPrinter {
    fn finish_mirror(&self) {
        let taken = self.mirror.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(p) = taken {
            p.finish();
        }
    }
}

impl InstallProgress for StepPrinter {
    fn step(&self, r: &StepReport) {
        if self.quiet {
            return;
        }
        let status = match r.status {
            StepStatus::Done => "done",
            StepStatus::AlreadyDone => "already done",
            StepStatus::Skipped => "skipped",
            StepStatus::Planned => "planned",
        };
        self.finish_mirror();
        eprintln!("[{:>12}] {:<12} {}", status, r.step.name(), r.detail);
    }

    fn warning(&self, w: &mirror_core::Warning) {
        // Shown even with --quiet: it is not progress.
        eprintln!("warning: {}", w.message);
        if let Some(h) = &w.hint {
            eprintln!("hint: {h}");
        }
    }

    fn mirror(&self) -> Arc<dyn Progress> {
        let p = Arc::new(CliProgress::new(self.quiet));
        *self.mirror.lock().unwrap_or_else(|p| p.into_inner()) = Some(p.clone());
        p
    }
}

fn final_words(s: &InstallSettings, r: &mirror_core::InstallReport) -> String {
    if s.dry_run {
        return "Dry run: nothing was changed.\n".into();
    }
    let out = s.output_dir.display();
    let rotated = if r.password_rotated {
        format!(
            "\nThe password of user `{user}` was rotated: {root}/auth/htpasswd, {out}/pull-secret.json and\n{out}/install-config-snippet.yaml hold the new one, and the old one no longer logs in. Give running\nclusters the new pull secret:\n  oc set data secret/pull-secret -n openshift-config --from-file=.dockerconfigjson={out}/pull-secret.json\n",
            user = s.credential.username,
            root = s.root.display(),
        )
    } else {
        String::new()
    };
    let ready = format!(
        "The mirror registry is ready.\n\n  Registry:   {reg} (data in {root}/data)\n  Log in:     podman login {reg} -u {user}   (CA: {root}/certs/ca.crt)\n  Release:    {update}\n\nPaste {out}/install-config-snippet.yaml into install-config.yaml, apply the mirror policy in {out} to the cluster\nfor upgrades, and install with {out}/openshift-install (pinned to the mirrored release).\n",
        reg = r.registry,
        root = s.root.display(),
        user = s.credential.username,
        update = r.update_image.clone().unwrap_or_default(),
    );
    ready + &rotated
}

/// Merges the config file and the flags, reads the secrets, and validates everything
/// before any change.
fn resolve(a: &InstallArgs) -> Result<InstallSettings, Bad> {
    let file = match &a.config {
        Some(p) => {
            InstallConfigFile::load(p).map_err(|e| bad(e.to_string(), hint_text(e.hint())))?
        }
        None => InstallConfigFile::default(),
    };
    let need = |v: Option<String>, flag: &str, key: &str| {
        v.filter(|x| !x.trim().is_empty()).ok_or_else(|| {
            bad(
                format!("missing `{flag}`"),
                Some(format!("give `{flag}` or `{key}:` in the config file")),
            )
        })
    };
    let email = need(a.email.clone().or(file.email.clone()), "--email", "email")?;
    let username = need(
        a.username.clone().or(file.username.clone()),
        "--username",
        "username",
    )?;
    mirror_core::validate_username(&username)
        .map_err(|e| bad(format!("--username: {e}"), hint_text(e.hint())))?;
    let password = read_password(a, file.password_file.as_deref())?;
    mirror_core::validate_password(&password)
        .map_err(|e| bad(format!("registry password: {e}"), hint_text(e.hint())))?;
    let credential = Credential { username, password };
    let rh_account = read_rh_account(a, &file)?;

    let release_text = match (
        a.release.clone().or(file.release.clone()),
        a.version.clone().or(file.version.clone()),
    ) {
        (Some(r), _) => r,
        (None, Some(v)) => format!(
            "quay.io/openshift-release-dev/ocp-release:{v}-{}",
            a.architecture
                .clone()
                .or(file.architecture.clone())
                .unwrap_or_else(|| "x86_64".into())
        ),
        (None, None) => {
            return Err(bad(
                "missing `--version` or `--release`",
                Some("give `--version 4.14.1`, or `version:` in the config file".into()),
            ));
        }
    };
    let release = ImageRef::parse(&release_text)
        .map_err(|e| bad(format!("release: {e}"), hint_text(e.hint())))?;

    let pull_secret = a.pull_secret.clone().or(file.pull_secret.clone()).ok_or_else(|| {
        bad("missing `--pull-secret`", Some("download it from console.redhat.com/openshift/install/pull-secret and give `--pull-secret FILE`".into()))
    })?;
    AuthFile::load(&pull_secret)
        .map_err(|e| bad(format!("--pull-secret: {e}"), hint_text(e.hint())))?;

    let certificate_file = a
        .certificate_file
        .clone()
        .or(file.certificate_file.clone())
        .unwrap_or_else(|| PathBuf::from("certificate"));
    mirror_core::tls::Subject::from_file(&certificate_file)
        .map_err(|e| bad(format!("--certificate-file: {e}"), e.hint()))?;

    let hostname = match a.hostname.clone().or(file.hostname.clone()) {
        Some(h) => h,
        None => mirror_core::net::fqdn()
            .or_else(|| mirror_core::net::hostname().ok())
            .ok_or_else(|| {
                bad(
                    "cannot tell this host's name",
                    Some("give `--hostname FQDN`".into()),
                )
            })?,
    };
    let port = a.port.or(file.port).unwrap_or(mirror_core::DEFAULT_PORT);
    let bind = match (&a.bind, &file.bind) {
        (Some(b), _) => Some(super::registry::parse_bind(b, "--bind")),
        (None, Some(b)) => Some(super::registry::parse_bind(b, "bind")),
        (None, None) => None,
    }
    .transpose()
    .map_err(|(message, hint)| bad(message, Some(hint)))?;
    let root = a
        .root
        .clone()
        .or(file.root.clone())
        .unwrap_or_else(|| PathBuf::from("/opt/registry"));
    let output_dir = a
        .output_dir
        .clone()
        .or(file.output_dir.clone())
        .unwrap_or_else(|| PathBuf::from("mirror-install"));
    let repository = a
        .repository
        .clone()
        .or(file.repository.clone())
        .unwrap_or_else(|| "ocp4/openshift4".into());
    Repository::parse(&format!("{hostname}:{port}/{repository}"))
        .map_err(|e| bad(format!("--hostname/--port/--repository: {e}"), None))?;

    let mut skip = BTreeSet::new();
    for name in a.skip.iter().chain(&file.skip) {
        skip.insert(Step::parse(name).map_err(|e| bad(format!("--skip: {e}"), None))?);
    }
    let runtime_name = a
        .runtime
        .clone()
        .or(file.runtime.clone())
        .unwrap_or_else(|| "auto".into());
    let runtime = match runtime_name.as_str() {
        "podman" => mirror_core::RuntimeChoice::Podman,
        "process" => mirror_core::RuntimeChoice::Process,
        "auto" => mirror_core::RuntimeChoice::Auto,
        other => {
            return Err(bad(
                format!("--runtime: unknown runtime `{other}`"),
                Some("use podman, process or auto".into()),
            ));
        }
    };
    let ca_files: Vec<PathBuf> = a.ca_files.iter().chain(&file.ca_files).cloned().collect();
    let insecure: Vec<String> = a
        .insecure_registries
        .iter()
        .chain(&file.insecure_registries)
        .cloned()
        .collect();
    let access_flags = crate::cli::Access {
        registry_config: Some(pull_secret.clone()),
        ca_files: ca_files.clone(),
        insecure_registries: insecure.clone(),
        retry_times: 5,
    };
    let client = access::client_options(&access_flags)
        .map_err(|e| bad(e.to_string(), hint_text(e.hint())))?;

    let mut preflight = PreflightOptions {
        data_dir: root.join("data"),
        release: Some(release.clone()),
        to: None,
        client: client.clone(),
        port,
        root: root.clone(),
        hostname: Some(hostname.clone()),
        runtime,
        ..Default::default()
    };
    if let Some(size) = a.min_free.clone().or(file.min_free.clone()) {
        preflight.min_free =
            mirror_core::parse_size(&size).map_err(|e| bad(format!("--min-free: {e}"), None))?;
    }
    for name in a.skip_check.iter().chain(&file.skip_checks) {
        preflight.skip(name).map_err(|e| bad(e.to_string(), None))?;
    }
    let ip_addresses = mirror_core::net::host_addresses().unwrap_or_default();
    let short = hostname.split('.').next().unwrap_or_default().to_string();
    let extra_sans = if short != hostname && !short.is_empty() {
        vec![short]
    } else {
        vec![]
    };
    let image = a.image.clone().or(file.image.clone());
    let image_archive = a.image_archive.clone().or(file.image_archive.clone());
    if let Some(path) = &image_archive {
        // Read now, so a wrong file stops the install before anything changes.
        if runtime == mirror_core::RuntimeChoice::Process {
            return Err(bad(
                "--image-archive: an image archive is run by podman, not by the process runtime",
                Some("leave out `--runtime process` (the archive means podman)".into()),
            ));
        }
        mirror_core::read_image_archive(path)
            .map_err(|e| bad(format!("--image-archive: {e}"), hint_text(e.hint())))?;
    }
    Ok(InstallSettings {
        credential,
        rh_account,
        email,
        release,
        pull_secret,
        hostname,
        extra_sans,
        ip_addresses,
        port,
        root: root.clone(),
        certificate_file,
        output_dir,
        repository,
        ca_pems: client.ca_pems.clone(),
        insecure_registries: insecure,
        skip,
        preflight,
        trust_root: a.trust_root.clone().unwrap_or_else(|| PathBuf::from("/")),
        max_per_registry: a
            .max_per_registry
            .or(file.max_per_registry)
            .unwrap_or(mirror_core::DEFAULT_MAX_PER_REGISTRY),
        rotate_password: a.rotate_password,
        dry_run: a.dry_run,
        registry: mirror_core::UpOptions {
            bind,
            runtime,
            supervisor: match a.supervisor {
                super::registry::SupervisorArg::Auto => mirror_core::SupervisorChoice::Auto,
                super::registry::SupervisorArg::Systemd => mirror_core::SupervisorChoice::Systemd,
                super::registry::SupervisorArg::Process => mirror_core::SupervisorChoice::Process,
            },
            image: image.unwrap_or_else(|| mirror_core::DEFAULT_REGISTRY_IMAGE.to_string()),
            image_archive,
            firewall: !a.no_firewall,
            ..Default::default()
        },
    })
}

/// The password: `--password-file`, `--password-stdin`, `MIRROR_REGISTRY_PASSWORD`, the
/// config's `passwordFile`, or a prompt on a terminal. Never from argv.
fn read_password(a: &InstallArgs, file_from_config: Option<&Path>) -> Result<String, Bad> {
    let given = a.password.password_file.is_some()
        || a.password.password_stdin
        || std::env::var_os(super::secret_input::PASSWORD_ENV).is_some();
    if !given && let Some(p) = file_from_config {
        return super::secret_input::read_file(p)
            .map_err(|e| bad(format!("passwordFile: {e}"), None));
    }
    a.password.read("Registry password: ", true).map(|p| p.0).map_err(|why| {
        bad(
            format!("registry password: {why}"),
            Some("use --password-file FILE, --password-stdin or MIRROR_REGISTRY_PASSWORD (passwords are never taken as arguments)".into()),
        )
    })
}

/// The Red Hat account, when a user is given: its password from `--rh-password-file`,
/// `$MIRROR_RH_PASSWORD`, the config's `rhPasswordFile`, or a prompt on a terminal.
fn read_rh_account(a: &InstallArgs, file: &InstallConfigFile) -> Result<Option<Credential>, Bad> {
    let user = a.rh_username.clone().or(file.rh_username.clone());
    let password_file = a.rh_password_file.clone().or(file.rh_password_file.clone());
    let Some(username) = user.filter(|u| !u.trim().is_empty()) else {
        if password_file.is_some() || std::env::var_os(RH_PASSWORD_ENV).is_some() {
            return Err(bad(
                "a Red Hat account password was given without `--rh-username`",
                Some(
                    "give `--rh-username USER` (or `rhUsername:`) with it, or leave both out"
                        .into(),
                ),
            ));
        }
        return Ok(None);
    };
    let hint = || {
        Some(format!(
            "give `--rh-password-file FILE`, set ${RH_PASSWORD_ENV}, or run on a terminal to be asked (never as an argument)"
        ))
    };
    let password = if let Some(p) = &a.rh_password_file {
        super::secret_input::read_file(p)
            .map_err(|e| bad(format!("--rh-password-file: {e}"), None))?
    } else if let Some(v) = std::env::var_os(RH_PASSWORD_ENV) {
        v.into_string()
            .map_err(|_| bad(format!("${RH_PASSWORD_ENV} is not UTF-8"), None))?
    } else if let Some(p) = &file.rh_password_file {
        super::secret_input::read_file(p).map_err(|e| bad(format!("rhPasswordFile: {e}"), None))?
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) && !a.password.password_stdin {
        super::secret_input::prompt_hidden(&format!("Red Hat account password for {username}: "))
            .map_err(|why| bad(format!("Red Hat account password: {why}"), hint()))?
    } else {
        return Err(bad(
            format!("no password for the Red Hat account `{username}`"),
            hint(),
        ));
    };
    if password.is_empty() {
        return Err(bad("the Red Hat account password is empty", hint()));
    }
    Ok(Some(Credential { username, password }))
}

/// The environment variable holding the Red Hat account password.
const RH_PASSWORD_ENV: &str = "MIRROR_RH_PASSWORD";

pub fn uninstall(args: UninstallArgs, quiet: bool) -> u8 {
    let settings = mirror_core::UninstallSettings {
        root: args.root,
        output_dir: args.output_dir,
        registry: args.registry,
        trust_root: args.trust_root,
        keep_data: args.keep_data,
        dry_run: args.dry_run,
    };
    match mirror_core::uninstall(&settings) {
        Ok(steps) => {
            let printer = StepPrinter {
                quiet,
                mirror: Mutex::new(None),
            };
            for s in &steps {
                printer.step(s);
            }
            EXIT_OK
        }
        Err(e) => {
            print_error(&e, hint_text(e.hint()));
            EXIT_PROBLEM
        }
    }
}
