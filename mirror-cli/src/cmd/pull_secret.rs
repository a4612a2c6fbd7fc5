//! `mirrorctl pull-secret merge` and `mirrorctl pull-secret check`.
//!
//! The clap syntax of this group lives here, next to the code that resolves it.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use mirror_core::{
    auth::Credential,
    pull_secret::{EntryAction, MergeOptions, OutputAction, PullSecret},
};

use super::secret_input::PasswordArgs;
use crate::cli::OutputFormat;
use crate::output::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, core_error, json_report, stdout};

/// `mirrorctl pull-secret ...`
#[derive(Subcommand, Debug)]
pub enum PullSecretCommand {
    /// Write a copy of a pull secret with the mirror's credentials added (the input is never modified)
    Merge(MergeArgs),
    /// Validate a pull secret; with --login, try each registry's credentials
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The pull secret from console.redhat.com
    #[arg(long, value_name = "FILE", default_value = "./pull-secret")]
    pub pull_secret: PathBuf,
    /// The mirror registry, as the cluster reaches it
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: String,
    /// The mirror's user
    #[arg(long, value_name = "USER")]
    pub username: String,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The entry's `email` [default: keep the entry's, or none]
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// Where to write the result (mode 0600) [default: ./pull-secret.json]
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
    /// Indented JSON instead of one line
    #[arg(long)]
    pub pretty: bool,
    /// Replace an existing output file that holds something else
    #[arg(long)]
    pub force: bool,
    /// Output format on stdout: text or json (`--output FILE`, the old spelling of `--to FILE`, still works)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = merge_output)]
    pub output: MergeOutput,
}

/// `pull-secret merge --output`: a format, or (before `--to` existed) the output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeOutput {
    /// `text` or `json`.
    Format(OutputFormat),
    /// A path: the old meaning of `--output`, kept so existing scripts still work.
    LegacyPath(PathBuf),
}

fn merge_output(v: &str) -> Result<MergeOutput, String> {
    Ok(match v {
        "text" => MergeOutput::Format(OutputFormat::Text),
        "json" => MergeOutput::Format(OutputFormat::Json),
        path => MergeOutput::LegacyPath(PathBuf::from(path)),
    })
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The pull secret to check
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Try each entry's credentials against its registry's /v2/
    #[arg(long)]
    pub login: bool,
    /// Extra CA certificate (PEM) to trust for --login, e.g. the mirror's ca.crt; repeatable
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Registry to reach over plain HTTP for --login; repeatable
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub async fn run(cmd: PullSecretCommand) -> u8 {
    match cmd {
        PullSecretCommand::Merge(args) => merge(args),
        PullSecretCommand::Check(args) => check(args).await,
    }
}

fn merge(args: MergeArgs) -> u8 {
    let (format, to) = match (args.output, args.to) {
        (MergeOutput::LegacyPath(p), None) => {
            eprintln!(
                "warning: `--output FILE` is the old spelling of `--to FILE`; `--output` now takes the format (text or json)"
            );
            (OutputFormat::Text, p)
        }
        (MergeOutput::LegacyPath(p), Some(_)) => {
            eprintln!(
                "error: `--output {}`: expected a format, `text` or `json`",
                p.display()
            );
            eprintln!("hint: the output file is `--to FILE`");
            return EXIT_USAGE;
        }
        (MergeOutput::Format(f), to) => (f, to.unwrap_or_else(|| "./pull-secret.json".into())),
    };
    let password = match args
        .password
        .read("Password for the mirror registry: ", false)
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let opts = MergeOptions {
        input: args.pull_secret,
        output: to,
        registry: args.registry,
        credential: Credential {
            username: args.username,
            password: password.0,
        },
        email: args.email,
        pretty: args.pretty,
        force: args.force,
    };
    let report = match mirror_core::merge_pull_secret(&opts) {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    // Warnings go to stderr: stdout carries the report only.
    for w in &report.warnings {
        eprintln!("warning: {}", w.message);
        if let Some(h) = &w.hint {
            eprintln!("hint: {h}");
        }
    }
    let entry = match report.entry {
        EntryAction::Added => "added",
        EntryAction::Replaced => "replaced",
        EntryAction::Unchanged => "kept (already right)",
    };
    let output = match report.output {
        OutputAction::Written => "written",
        OutputAction::Overwritten => "overwritten (--force)",
        OutputAction::Unchanged => "unchanged (already right)",
    };
    if format == OutputFormat::Json {
        let changed = report.output != OutputAction::Unchanged;
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("registry".into(), opts.registry.clone().into());
            obj.insert("changed".into(), changed.into());
        }
        stdout(&json_report("PullSecretMerge", v));
        return EXIT_OK;
    }
    stdout(&format!(
        "entry `{}`: {entry}\n{}: {output} ({} entries: {})\n",
        opts.registry,
        report.path.display(),
        report.keys.len(),
        report.keys.join(", ")
    ));
    EXIT_OK
}

async fn check(args: CheckArgs) -> u8 {
    let secret = match PullSecret::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            if args.output == OutputFormat::Json {
                print_json(&args, None, Some(&mirror_core::ErrorChain(&e).to_string()));
            }
            return core_error(&e);
        }
    };
    let mut logins = None;
    if args.login {
        let mut ca_pems = Vec::new();
        for f in &args.ca_files {
            match std::fs::read(f) {
                Ok(pem) => ca_pems.push(pem),
                Err(e) => {
                    eprintln!("error: cannot read CA file `{}`: {e}", f.display());
                    return EXIT_USAGE;
                }
            }
        }
        match mirror_core::pull_secret::check_logins(
            &secret,
            ca_pems,
            args.insecure_registries.clone(),
        )
        .await
        {
            Ok(l) => logins = Some(l),
            Err(e) => return core_error(&e),
        }
    }
    let failed = logins.iter().flatten().any(|l| !l.ok);
    match args.output {
        OutputFormat::Json => print_json(&args, Some((&secret, logins.as_deref())), None),
        OutputFormat::Text => {
            let entries = secret.entries();
            let w = entries.iter().map(|e| e.key.len()).max().unwrap_or(0);
            for e in &entries {
                let who = match &e.username {
                    Some(u) => format!("user `{u}`"),
                    None => "credsStore".to_string(),
                };
                let login = logins
                    .iter()
                    .flatten()
                    .find(|l| l.key == e.key)
                    .map(|l| {
                        if l.ok {
                            "  login ok".to_string()
                        } else {
                            format!("  login FAILED: {}", l.detail)
                        }
                    })
                    .unwrap_or_default();
                stdout(&format!("{:w$}  {who}{login}\n", e.key));
            }
            stdout(&format!(
                "{}: valid, {} entries\n",
                secret.path().display(),
                entries.len()
            ));
            for l in logins.iter().flatten().filter(|l| !l.ok) {
                if let Some(h) = &l.hint {
                    eprintln!("hint: {}: {h}", l.key);
                }
            }
        }
    }
    if failed { EXIT_PROBLEM } else { EXIT_OK }
}

fn print_json(
    args: &CheckArgs,
    found: Option<(&PullSecret, Option<&[mirror_core::pull_secret::LoginCheck]>)>,
    error: Option<&str>,
) {
    let value = serde_json::json!({
        "apiVersion": "mirrorctl.openshift.io/v1alpha1",
        "kind": "PullSecretCheck",
        "file": args.file,
        "valid": error.is_none(),
        "error": error,
        "entries": found.map(|(s, _)| s.entries()),
        "logins": found.and_then(|(_, l)| l),
    });
    stdout(&(serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"));
}
