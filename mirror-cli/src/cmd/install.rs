//! `mirrorctl install`: the flags handed to the library, which merges them over the config file
//! and checks everything; then the library runs the steps and this renders them.

use std::sync::{Arc, Mutex};

use mirror_core::{
    install::{
        InstallConfigFile, InstallOptions, InstallProgress, InstallSettings, StepReport, StepStatus,
    },
    progress::Progress,
};

use crate::cli::{InstallArgs, OutputFormat, UninstallArgs};
use crate::output::{EXIT_OK, core_error, exit_code, hint_text, print_error};
use crate::progress::CliProgress;

pub async fn run(args: InstallArgs, quiet: bool) -> u8 {
    let settings = match resolve(&args) {
        Ok(s) => s,
        Err(e) => return core_error(&e),
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
            exit_code(e.is_usage())
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
        // The time of the steps that take a while (the mirror step is most of an install).
        let took = if r.seconds >= 1.0 {
            format!(" ({:.1} s)", r.seconds)
        } else {
            String::new()
        };
        eprintln!("[{:>12}] {:<12} {}{took}", status, r.step.name(), r.detail);
    }

    fn warning(&self, w: &mirror_core::pull_secret::Warning) {
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

fn final_words(s: &InstallSettings, r: &mirror_core::install::InstallReport) -> String {
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
    let data = match s.storage.s3() {
        Some(s3) => format!("data in bucket `{}` at {}", s3.bucket, s3.endpoint_str()),
        None => format!("data in {}/data", s.root.display()),
    };
    let ready = format!(
        "The mirror registry is ready.\n\n  Registry:   {reg} ({data})\n  Log in:     podman login {reg} -u {user}   (CA: {root}/certs/ca.crt)\n  Release:    {update}\n\nPaste {out}/install-config-snippet.yaml into install-config.yaml, apply the mirror policy in {out} to the cluster\nfor upgrades, and install with {out}/openshift-install (pinned to the mirrored release).\n",
        reg = r.registry,
        root = s.root.display(),
        user = s.credential.username,
        update = r.update_image.clone().unwrap_or_default(),
    );
    ready + &rotated
}

/// The flags as the program's layer of install settings; the config file is the other, and
/// the library merges and checks both ([`InstallOptions::build`]). Here only what a terminal
/// gives is read: passwords from flags, stdin, the environment or a prompt.
fn resolve(a: &InstallArgs) -> Result<InstallSettings, mirror_core::Error> {
    let file = match &a.config {
        Some(p) => InstallConfigFile::load(p).map_err(|e| mirror_core::Error::Setting {
            name: "--config".into(),
            source: Box::new(e),
        })?,
        None => InstallConfigFile::default(),
    };
    let mut opts = InstallOptions {
        given: given(a),
        file,
        supervisor: match a.supervisor {
            super::registry::SupervisorArg::Auto => mirror_core::runtime::SupervisorChoice::Auto,
            super::registry::SupervisorArg::Systemd => {
                mirror_core::runtime::SupervisorChoice::Systemd
            }
            super::registry::SupervisorArg::Process => {
                mirror_core::runtime::SupervisorChoice::Process
            }
        },
        rotate_password: a.rotate_password,
        dry_run: a.dry_run,
        trust_root: a.trust_root.clone(),
        names: Some(install_flag),
        ..Default::default()
    };
    // A bad command line is refused before a prompt asks for anything.
    opts.check_user()?;
    // Flags, stdin and the environment win over the config's `passwordFile`; with none of
    // them, a prompt on a terminal.
    let from_terminal = a.password.password_file.is_some()
        || a.password.password_stdin
        || std::env::var_os(super::secret_input::PASSWORD_ENV).is_some();
    if from_terminal || opts.needs_password() {
        let password = a
            .password
            .read("Registry password: ", true)
            .map_err(|why| missing(format!("registry password: {why}"), "use --password-file FILE, --password-stdin or MIRROR_REGISTRY_PASSWORD (passwords are never taken as arguments)"))?;
        opts.password = Some(password.0);
    }
    if let Some(v) = std::env::var_os(RH_PASSWORD_ENV) {
        let v = v.into_string().map_err(|_| {
            missing(
                format!("${RH_PASSWORD_ENV} is not UTF-8"),
                "put the password in a file and give `--rh-password-file FILE`",
            )
        })?;
        opts.rh_password = Some(v);
    }
    if opts.needs_rh_password() {
        let user = opts.rh_username().unwrap_or_default();
        let hint = format!(
            "give `--rh-password-file FILE`, set ${RH_PASSWORD_ENV}, or run on a terminal to be asked (never as an argument)"
        );
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) || a.password.password_stdin {
            return Err(missing(
                format!("no password for the Red Hat account `{user}`"),
                &hint,
            ));
        }
        let password =
            super::secret_input::prompt_hidden(&format!("Red Hat account password for {user}: "))
                .map_err(|why| missing(format!("Red Hat account password: {why}"), &hint))?;
        opts.rh_password = Some(password);
    }
    opts.build()
}

/// A value the terminal did not give, as a usage error.
fn missing(message: String, hint: &str) -> mirror_core::Error {
    mirror_core::Error::SettingMissing {
        message,
        hint: mirror_core::Hint::Worded {
            advice: hint.to_string(),
        },
    }
}

/// The flags that are settings, as the program's layer (the same fields as the config file).
fn given(a: &InstallArgs) -> InstallConfigFile {
    InstallConfigFile {
        email: a.email.clone(),
        username: a.username.clone(),
        password_file: None,
        rh_username: a.rh_username.clone(),
        rh_password_file: a.rh_password_file.clone(),
        version: a.version.clone(),
        release: a.release.clone(),
        architecture: a.architecture.clone(),
        from_dir: a.from_dir.clone(),
        pull_secret: a.pull_secret.clone(),
        hostname: a.hostname.clone(),
        port: a.port,
        bind: a.bind.clone(),
        root: a.root.clone(),
        runtime: a.runtime.clone(),
        certificate_file: a.certificate_file.clone(),
        output_dir: a.output_dir.clone(),
        repository: a.repository.clone(),
        ca_files: a.ca_files.clone(),
        insecure_registries: a.insecure_registries.clone(),
        skip: a.skip.clone(),
        skip_checks: a.skip_checks.clone(),
        min_free: a.min_free.clone(),
        max_per_registry: a.max_per_registry,
        retry_times: a.retry_times,
        bcrypt_cost: a.bcrypt_cost,
        image: a.image.clone(),
        image_archive: a.image_archive.clone(),
        firewall: a.no_firewall.then_some(false),
        storage: a.storage.kind(),
        s3: a.storage.s3_section(),
        http_secret_file: a.http_secret_file.clone(),
    }
}

/// How `install` names a setting: the flag whose argument id is the config key in snake case
/// (`pullSecret` -> `--pull-secret`, `s3.bucket` -> `--s3-bucket`), the negative flag of
/// `firewall` (`--no-firewall`); the password, which no flag holds, as `registry password`.
pub fn install_flag(key: &str) -> Option<String> {
    let id = match key {
        "password" => return Some("registry password".into()),
        "firewall" => "no_firewall".to_string(),
        _ => super::storage::arg_id(key),
    };
    let root = <crate::cli::Cli as clap::CommandFactory>::command();
    let install = root.find_subcommand("install")?;
    let arg = install
        .get_arguments()
        .find(|a| a.get_id() == id.as_str())?;
    arg.get_long().map(|l| format!("--{l}"))
}

/// The environment variable holding the Red Hat account password.
const RH_PASSWORD_ENV: &str = "MIRROR_RH_PASSWORD";

pub fn uninstall(args: UninstallArgs, quiet: bool) -> u8 {
    let settings = mirror_core::install::UninstallSettings {
        root: args.root,
        output_dir: args.output_dir,
        registry: args.registry,
        trust_root: args.trust_root,
        keep_data: args.keep_data,
        dry_run: args.dry_run,
    };
    match mirror_core::install::uninstall(&settings) {
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
        Err(e) => core_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every config-file key is named by an `install` flag in messages (or, for the password,
    /// by what it is), so no error names a setting `install` cannot take.
    #[test]
    fn every_config_key_has_an_install_flag() {
        // The `s3:` section's keys are named `s3.<key>`.
        let flags: Vec<String> = mirror_core::install::InstallConfigFile::KEYS
            .iter()
            .flat_map(|k| match *k {
                "s3" => mirror_core::install::S3ConfigFile::KEYS
                    .iter()
                    .map(|s| format!("s3.{s}"))
                    .collect(),
                k => vec![k.to_string()],
            })
            .map(|k| install_flag(&k).unwrap_or_else(|| format!("NONE for {k}")))
            .collect();
        assert_eq!(
            flags,
            [
                "--email",
                "--username",
                "--password-file",
                "--rh-username",
                "--rh-password-file",
                "--version",
                "--release",
                "--architecture",
                "--from-dir",
                "--pull-secret",
                "--hostname",
                "--port",
                "--bind",
                "--root",
                "--runtime",
                "--certificate-file",
                "--output-dir",
                "--repository",
                "--ca-file",
                "--insecure-registry",
                "--skip",
                "--skip-check",
                "--min-free",
                "--max-per-registry",
                "--retry-times",
                "--bcrypt-cost",
                "--image",
                "--image-archive",
                "--no-firewall",
                "--storage",
                "--s3-endpoint",
                "--s3-bucket",
                "--s3-region",
                "--s3-root",
                "--s3-credentials-file",
                "--s3-no-redirect",
                "--http-secret-file",
            ]
        );
        assert_eq!(
            install_flag("password").as_deref(),
            Some("registry password")
        );
    }
}
