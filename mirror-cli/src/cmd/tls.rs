//! `mirrorctl tls generate` and `mirrorctl tls verify`.
//!
//! The clap syntax of this group lives here, next to the code that resolves it.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Subcommand, ValueEnum};
use mirror_tls::{CertAction, GenerateOptions, KeyType, Subject, VerifyReport};

use crate::cli::OutputFormat;
use crate::output::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, exit_code, print_error, stdout};

/// `mirrorctl tls ...`
#[derive(Subcommand, Debug)]
pub enum TlsCommand {
    /// Create (or keep, or renew) the registry's CA and SAN server certificate
    Generate(GenerateArgs),
    /// Check a certificate, its key and chain the way podman, skopeo and the cluster will
    Verify(VerifyArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    #[value(name = "rsa-4096")]
    Rsa4096,
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Where ca.crt, ca.key, domain.crt and domain.key go
    #[arg(long, value_name = "DIR", default_value = "/opt/registry/certs")]
    pub dir: PathBuf,
    /// The script's subject file (countrycode=, state=, locality=, organization=, unit=)
    #[arg(long, value_name = "FILE", default_value = "./certificate")]
    pub certificate_file: PathBuf,
    /// emailAddress of the server certificate's subject
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    /// The registry's host name: CN and first SAN [default: this host's FQDN]
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Another DNS name or IP address for the SAN list; repeatable
    #[arg(long, value_name = "NAME_OR_IP")]
    pub san: Vec<String>,
    /// Leave this host's own IP addresses out of the SAN list
    #[arg(long)]
    pub no_host_ips: bool,
    /// Validity of the server certificate in days
    #[arg(long, value_name = "N", default_value_t = 825)]
    pub days: u32,
    /// Key type of the CA and server certificate
    #[arg(long, value_enum, default_value = "rsa-4096")]
    pub key_type: KeyTypeArg,
    /// Replace the CA and server certificate even when they are valid
    #[arg(long)]
    pub force: bool,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The server certificate, optionally followed by its chain (domain.crt)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/opt/registry/certs/domain.crt"
    )]
    pub cert: PathBuf,
    /// The server's private key (domain.key)
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/opt/registry/certs/domain.key"
    )]
    pub key: PathBuf,
    /// The CA clients trust (ca.crt)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The name clients connect to (HOST or HOST:PORT)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

pub fn run(cmd: TlsCommand, quiet: bool) -> u8 {
    match cmd {
        TlsCommand::Generate(args) => generate(args, quiet),
        TlsCommand::Verify(args) => verify(args),
    }
}

/// Prints a `mirror-tls` error with its causes and hint; returns its exit code.
pub fn tls_error(err: &mirror_tls::Error) -> u8 {
    print_error(err, err.hint());
    exit_code(err.is_usage())
}

fn generate(args: GenerateArgs, quiet: bool) -> u8 {
    let subject = match Subject::from_file(&args.certificate_file) {
        Ok(s) => s,
        Err(e) => return tls_error(&e),
    };
    let hostname = match &args.hostname {
        Some(h) => h.clone(),
        None => match mirror_net::fqdn() {
            Some(f) => f,
            None => match mirror_net::hostname() {
                Ok(h) => {
                    if !quiet {
                        eprintln!(
                            "warning: this host's name `{h}` is not fully qualified; pass `--hostname FQDN` for the name the cluster uses"
                        );
                    }
                    h
                }
                Err(e) => {
                    print_error(&e, Some("pass `--hostname FQDN`".into()));
                    return EXIT_USAGE;
                }
            },
        },
    };
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    for san in &args.san {
        match san.parse::<std::net::IpAddr>() {
            Ok(ip) => ip_addresses.push(ip),
            Err(_) => dns_names.push(san.clone()),
        }
    }
    if !args.no_host_ips {
        match mirror_net::host_addresses() {
            Ok(ips) => ip_addresses.extend(ips),
            Err(e) => {
                if !quiet {
                    eprintln!(
                        "warning: cannot list this host's addresses ({e}); add them with `--san IP`"
                    );
                }
            }
        }
    }
    let opts = GenerateOptions {
        subject,
        email: args.email,
        hostname,
        dns_names,
        ip_addresses,
        days: args.days,
        key_type: match args.key_type {
            KeyTypeArg::Rsa4096 => KeyType::Rsa4096,
            KeyTypeArg::Rsa2048 => KeyType::Rsa2048,
            KeyTypeArg::EcdsaP256 => KeyType::EcdsaP256,
        },
        ..Default::default()
    };
    if !quiet && matches!(opts.key_type, KeyType::Rsa4096) && !args.dir.join("ca.key").exists() {
        eprintln!("info: generating RSA 4096 keys (a few seconds)");
    }
    let outcome =
        match mirror_tls::ensure_certificates(&args.dir, &opts, args.force, SystemTime::now()) {
            Ok(o) => o,
            Err(e) => return tls_error(&e),
        };
    let value = serde_json::to_value(&outcome).unwrap_or_default();
    match args.output {
        OutputFormat::Json => {
            let mut v = serde_json::json!({
                "apiVersion": "mirrorctl.openshift.io/v1alpha1",
                "kind": "CertificateOutcome",
            });
            if let (Some(obj), serde_json::Value::Object(rest)) = (v.as_object_mut(), value) {
                obj.extend(rest);
            }
            stdout(&(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
        }
        OutputFormat::Text => {
            let what = match outcome.action {
                CertAction::Created => "created: a new CA and server certificate".to_string(),
                CertAction::Kept => "kept (already right): the CA and server certificate".into(),
                CertAction::Renewed => format!(
                    "renewed: a new server certificate from the same CA{}",
                    outcome
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
                CertAction::Replaced => {
                    "replaced (--force): a new CA and server certificate".into()
                }
            };
            let sans: Vec<String> = outcome.sans.iter().map(|s| s.to_string()).collect();
            stdout(&format!(
                "{what} in {}\nSANs:      {}\nexpires:   {}\nCA:        {}\ncert:      {}\nkey:       {}\n",
                args.dir.display(),
                sans.join(", "),
                value["not_after"].as_str().unwrap_or("unknown"),
                outcome.paths.ca_cert.display(),
                outcome.paths.cert.display(),
                outcome.paths.key.display()
            ));
        }
    }
    EXIT_OK
}

fn verify(args: VerifyArgs) -> u8 {
    let read = |p: &PathBuf, what: &str| {
        std::fs::read(p).map_err(|e| {
            eprintln!("error: cannot read {what} `{}`: {e}", p.display());
            EXIT_USAGE
        })
    };
    let chain = match read(&args.cert, "certificate") {
        Ok(b) => b,
        Err(code) => return code,
    };
    let key = match read(&args.key, "key") {
        Ok(b) => b,
        Err(code) => return code,
    };
    let ca = match args.ca.as_ref().map(|p| read(p, "CA")).transpose() {
        Ok(b) => b,
        Err(code) => return code,
    };
    let report = mirror_tls::verify(
        &chain,
        &key,
        ca.as_deref(),
        args.hostname.as_deref(),
        SystemTime::now(),
    );
    match args.output {
        OutputFormat::Json => {
            let mut v = serde_json::json!({
                "apiVersion": "mirrorctl.openshift.io/v1alpha1",
                "kind": "CertificateVerification",
            });
            if let (Some(obj), Ok(serde_json::Value::Object(rest))) =
                (v.as_object_mut(), serde_json::to_value(&report))
            {
                obj.extend(rest);
            }
            stdout(&(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
        }
        OutputFormat::Text => stdout(&render_verify(&report)),
    }
    if report.ok { EXIT_OK } else { EXIT_PROBLEM }
}

/// The text report of `tls verify`.
pub fn render_verify(r: &VerifyReport) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let name = serde_json::to_value(c.name)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mark = if c.passed { "ok  " } else { "FAIL" };
        out.push_str(&format!("{mark}  {name:18} {}\n", c.detail));
    }
    if let Some(s) = &r.subject {
        out.push_str(&format!("subject:   {s}\n"));
    }
    if let Some(s) = &r.issuer {
        out.push_str(&format!("issuer:    {s}\n"));
    }
    if let Some(k) = &r.key {
        out.push_str(&format!("key:       {k}\n"));
    }
    if !r.sans.is_empty() {
        let sans: Vec<String> = r.sans.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!("SANs:      {}\n", sans.join(", ")));
    }
    if let (Some(na), Some(days)) = (&r.not_after, r.days_left) {
        out.push_str(&format!("expires:   {na} ({days} days left)\n"));
    }
    out.push_str(if r.ok {
        "result:    ok\n"
    } else {
        "result:    FAILED\n"
    });
    out
}
