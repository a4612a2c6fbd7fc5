//! `mirrorctl trust install` and `mirrorctl trust remove`.
//!
//! The clap syntax of this group lives here, next to the code that resolves it.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use mirror_tls::{OsFamily, TrustAction, TrustOptions, TrustReport};

use super::tls::tls_error;
use crate::cli::OutputFormat;
use crate::output::{EXIT_OK, EXIT_USAGE};

/// `mirrorctl trust ...`
#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    /// Trust the CA system-wide and in /etc/containers/certs.d/HOST:PORT for podman and skopeo
    Install(TrustArgs),
    /// Undo `trust install` for a registry
    Remove(TrustArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FamilyArg {
    Rhel,
    Debian,
}

#[derive(Args, Debug)]
pub struct TrustArgs {
    /// The CA certificate (PEM); not needed by `remove`
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/opt/registry/certs/ca.crt"
    )]
    pub ca: PathBuf,
    /// The registry as clients address it
    #[arg(long, value_name = "HOST:PORT")]
    pub registry: String,
    /// Say what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// File system root to work under (for tests and images); the trust store is refreshed only for /
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The distribution family [default: from <ROOT>/etc/os-release]
    #[arg(long, value_enum)]
    pub os_family: Option<FamilyArg>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub fn run(cmd: TrustCommand) -> u8 {
    let (args, install) = match cmd {
        TrustCommand::Install(a) => (a, true),
        TrustCommand::Remove(a) => (a, false),
    };
    let family = match args.os_family {
        Some(FamilyArg::Rhel) => OsFamily::Rhel,
        Some(FamilyArg::Debian) => OsFamily::Debian,
        None => match mirror_tls::read_os_family(&args.root) {
            Ok(f) => f,
            Err(e) => return tls_error(&e),
        },
    };
    let ca_pem = if install {
        match std::fs::read_to_string(&args.ca) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: cannot read CA `{}`: {e}", args.ca.display());
                eprintln!("hint: create it with `mirrorctl tls generate`, or pass `--ca FILE`");
                return EXIT_USAGE;
            }
        }
    } else {
        String::new()
    };
    let mut opts = TrustOptions::new(args.root.clone(), ca_pem, args.registry.clone(), family);
    opts.dry_run = args.dry_run;
    let result = if install {
        mirror_tls::install_trust(&opts)
    } else {
        mirror_tls::remove_trust(&opts)
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => return tls_error(&e),
    };
    match args.output {
        OutputFormat::Json => {
            let mut v = serde_json::json!({
                "apiVersion": "mirrorctl.openshift.io/v1alpha1",
                "kind": "TrustReport",
                "registry": args.registry,
                "changed": report.changed(),
            });
            if let (Some(obj), Ok(serde_json::Value::Object(rest))) =
                (v.as_object_mut(), serde_json::to_value(&report))
            {
                obj.extend(rest);
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        OutputFormat::Text => print!("{}", render(&report)),
    }
    EXIT_OK
}

/// One line per action; a dry run says "would".
pub fn render(r: &TrustReport) -> String {
    let would = if r.dry_run { "would be " } else { "" };
    let mut out = String::new();
    for a in &r.actions {
        let line = match a {
            TrustAction::Created { path } => format!("{would}created: {}", path.display()),
            TrustAction::Updated { path } => format!("{would}updated: {}", path.display()),
            TrustAction::Unchanged { path } => {
                format!("kept (already right): {}", path.display())
            }
            TrustAction::Removed { path } => format!("{would}removed: {}", path.display()),
            TrustAction::Absent { path } => {
                format!("absent (already right): {}", path.display())
            }
            TrustAction::Refreshed { command } => format!("{would}refreshed: `{command}`"),
            TrustAction::RefreshSkipped { command } => {
                format!("not refreshed (not the real root): run `{command}` inside that root")
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
