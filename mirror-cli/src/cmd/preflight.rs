//! `mirrorctl preflight`: resolve the flags, run the checks, print the report.

use std::fmt::Write as _;
use std::io::Write as _;

use mirror_core::{
    AuthFile, CheckList, ClientOptions, ImageRef, InstallConfig, PreflightOptions, PreflightReport,
    RegistryClient, Repository, RuntimeChoice, Status, checks, parse_cidr_arg, parse_size,
};

use crate::cli::{OutputFormat, PreflightArgs, PreflightRuntime};
use crate::output::{EXIT_OK, EXIT_PROBLEM, EXIT_USAGE};

/// A flag that cannot be used: printed as `error:` and `hint:`, exit 2.
struct Usage {
    message: String,
    hint: Option<String>,
}

impl From<mirror_core::InvalidArgument> for Usage {
    fn from(e: mirror_core::InvalidArgument) -> Self {
        Usage {
            message: e.to_string(),
            hint: e.hint,
        }
    }
}

fn core(flag: &str, e: mirror_core::Error) -> Usage {
    Usage {
        message: format!("{flag}: {e}"),
        hint: crate::output::hint_text(e.hint()),
    }
}

pub async fn run(args: PreflightArgs, quiet: bool) -> u8 {
    if args.list {
        return list(args.output);
    }
    let opts = match resolve(&args) {
        Ok(o) => o,
        Err(u) => {
            eprintln!("error: {}", u.message);
            if let Some(h) = u.hint {
                eprintln!("hint: {h}");
            }
            return EXIT_USAGE;
        }
    };
    let report = mirror_core::run_preflight(&opts).await;
    let out = match args.output {
        OutputFormat::Json => serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .unwrap_or_default(),
        OutputFormat::Text => render_table(&report),
    };
    if write_stdout(&out).is_err() {
        return EXIT_PROBLEM;
    }
    if !quiet {
        let s = report.summary;
        eprintln!(
            "preflight: {} passed, {} warned, {} failed, {} could not run, {} skipped{}",
            s.pass,
            s.warn,
            s.fail,
            s.error,
            s.skipped,
            if report.strict && s.warn > 0 {
                " (--strict: warnings fail)"
            } else {
                ""
            }
        );
    }
    if report.passed { EXIT_OK } else { EXIT_PROBLEM }
}

fn list(output: OutputFormat) -> u8 {
    let out = match output {
        OutputFormat::Json => serde_json::to_string_pretty(&CheckList::new())
            .map(|s| s + "\n")
            .unwrap_or_default(),
        OutputFormat::Text => {
            let width = checks().map(|c| c.name.len()).max().unwrap_or(0).max(5);
            let mut s = format!("{:width$}  {:8}  DESCRIPTION\n", "CHECK", "SEVERITY");
            for c in checks() {
                let _ = writeln!(
                    s,
                    "{:width$}  {:8}  {}",
                    c.name,
                    c.severity.to_string(),
                    c.description
                );
            }
            s
        }
    };
    if write_stdout(&out).is_err() {
        return EXIT_PROBLEM;
    }
    EXIT_OK
}

fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Flags into validated options; every bad value is reported before any check runs.
fn resolve(args: &PreflightArgs) -> Result<PreflightOptions, Usage> {
    if args.port == 0 {
        return Err(Usage {
            message: "--port: `0` is not a port".to_string(),
            hint: Some("pass a port from 1 to 65535".to_string()),
        });
    }
    let mut opts = PreflightOptions {
        data_dir: args.data_dir.clone(),
        strict: args.strict,
        offline: args.offline,
        port: args.port,
        root: args.root.clone(),
        hostname: args.hostname.clone(),
        runtime: match args.runtime {
            PreflightRuntime::Podman => RuntimeChoice::Podman,
            PreflightRuntime::Process => RuntimeChoice::Process,
            PreflightRuntime::Auto => RuntimeChoice::Auto,
        },
        storage: args.storage.resolve().map_err(|(message, hint)| Usage {
            message,
            hint: Some(hint),
        })?,
        ..Default::default()
    };
    for name in &args.skip {
        opts.skip(name)?;
    }
    opts.min_free = parse_size(&args.min_free).map_err(|e| Usage {
        message: format!("--min-free: {e}"),
        hint: Some(e.hint()),
    })?;
    for value in &args.mirror_cidrs {
        opts.mirror_cidrs
            .push(parse_cidr_arg("--mirror-cidr", value)?);
    }
    for value in &args.cluster_cidrs {
        opts.cluster_cidrs
            .push(parse_cidr_arg("--cluster-cidr", value)?);
    }
    if let Some(path) = &args.install_config {
        opts.install_config = Some(InstallConfig::load(path)?);
    }
    if let Some(r) = &args.release {
        opts.release = Some(ImageRef::parse(r).map_err(|e| core("--release", e))?);
    }
    if let Some(r) = &args.to {
        opts.to = Some(Repository::parse(r).map_err(|e| core("--to", e))?);
    }
    // Credentials and CAs matter only when a registry is contacted; an explicit `-a` is read
    // (and must be valid) regardless.
    let online = opts.release.is_some() && !opts.offline;
    let access = &args.access;
    let auth = if online || access.registry_config.is_some() {
        AuthFile::discover(access.registry_config.as_deref())
            .map_err(|e| core("--registry-config", e))?
    } else {
        None
    };
    let mut ca_pems = Vec::new();
    for f in &access.ca_files {
        let pem = std::fs::read(f).map_err(|e| Usage {
            message: format!("--ca-file: read `{}`: {e}", f.display()),
            hint: None,
        })?;
        ca_pems.push(pem);
    }
    opts.client = ClientOptions {
        auth,
        ca_pems,
        insecure_registries: access.insecure_registries.clone(),
        ..Default::default()
    };
    if online {
        RegistryClient::new(opts.client.clone()).map_err(|e| core("--ca-file", e))?;
    }
    Ok(opts)
}

/// The report as a table: check, status, detail; hints and individual problems on the lines
/// below, indented under the detail column.
pub fn render_table(report: &PreflightReport) -> String {
    let name_w = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0)
        .max("CHECK".len());
    let status_w = "skipped".len();
    let indent = " ".repeat(name_w + status_w + 4);
    let mut out = format!("{:name_w$}  {:status_w$}  DETAIL\n", "CHECK", "STATUS");
    for c in &report.checks {
        let _ = writeln!(
            out,
            "{:name_w$}  {:status_w$}  {}",
            c.name,
            c.status.to_string(),
            c.detail
        );
        if let Some(h) = &c.hint {
            let _ = writeln!(out, "{indent}hint: {h}");
        }
        for p in &c.problems {
            let mark = match p.status {
                Status::Fail => "fail",
                Status::Warn => "warn",
                _ => "note",
            };
            let _ = writeln!(out, "{indent}- {mark}: {}", p.message);
            if let Some(h) = &p.hint {
                let _ = writeln!(out, "{indent}  hint: {h}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use mirror_core::{
        CheckResult, CheckSeverity, PREFLIGHT_API_VERSION, PreflightReport, Problem, Status,
        Summary,
    };

    #[test]
    fn table_layout() {
        let report = PreflightReport {
            api_version: PREFLIGHT_API_VERSION,
            kind: "PreflightReport",
            passed: false,
            strict: false,
            summary: Summary::default(),
            checks: vec![
                CheckResult {
                    name: "os",
                    severity: CheckSeverity::Fatal,
                    status: Status::Pass,
                    detail: "Fedora Linux 40 (`fedora` 40), x86_64".into(),
                    hint: None,
                    problems: vec![],
                },
                CheckResult {
                    name: "cidr",
                    severity: CheckSeverity::Fatal,
                    status: Status::Fail,
                    detail: "mirror 10.0.0.0/16 vs cluster 10.0.0.0/16: 1 overlapping pair".into(),
                    hint: None,
                    problems: vec![Problem {
                        status: Status::Fail,
                        message: "mirror network `10.0.0.0/16` is the same network as cluster network `10.0.0.0/16`".into(),
                        hint: Some("move the mirror".into()),
                    }],
                },
                CheckResult {
                    name: "upstream",
                    severity: CheckSeverity::Fatal,
                    status: Status::Skipped,
                    detail: "`--offline`".into(),
                    hint: Some("drop `--offline`".into()),
                    problems: vec![],
                },
            ],
        };
        assert_eq!(
            super::render_table(&report),
            "\
CHECK     STATUS   DETAIL
os        pass     Fedora Linux 40 (`fedora` 40), x86_64
cidr      fail     mirror 10.0.0.0/16 vs cluster 10.0.0.0/16: 1 overlapping pair
                   - fail: mirror network `10.0.0.0/16` is the same network as cluster network `10.0.0.0/16`
                     hint: move the mirror
upstream  skipped  `--offline`
                   hint: drop `--offline`
"
        );
    }
}
