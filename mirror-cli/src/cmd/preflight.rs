//! `mirrorctl preflight`: resolve the flags, run the checks, print the report.

use std::fmt::Write as _;
use std::io::Write as _;

use mirror_core::{
    ClientOptions, ImageRef, RegistryClient, Repository,
    auth::AuthFile,
    preflight::{
        CheckList, InstallConfig, PreflightOptions, PreflightReport, Status, checks, parse_cidr_arg,
    },
    runtime::{RuntimeChoice, validate_port},
    size::parse_size,
};

use crate::cli::{OutputFormat, PreflightArgs, PreflightRuntime};
use crate::output::{EXIT_OK, EXIT_PROBLEM, core_error, report_json};

/// `e` as the value of `flag`: a usage error naming it.
fn flag(flag: &str) -> impl FnOnce(mirror_core::Error) -> mirror_core::Error + '_ {
    move |e| mirror_core::Error::Setting {
        name: flag.to_string(),
        source: Box::new(e),
    }
}

pub async fn run(args: PreflightArgs, quiet: bool) -> u8 {
    if args.list {
        return list(args.output);
    }
    let opts = match resolve(&args) {
        Ok(o) => o,
        Err(e) => return core_error(&e),
    };
    let report = mirror_core::run_preflight(&opts).await;
    let out = match args.output {
        OutputFormat::Json => report_json(&report),
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

/// Flags into validated options; every bad value is reported before any check runs, as a
/// usage error naming its flag.
fn resolve(args: &PreflightArgs) -> Result<PreflightOptions, mirror_core::Error> {
    validate_port(args.port).map_err(flag("--port"))?;
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
        storage: args.storage.resolve()?,
        ..Default::default()
    };
    for name in &args.skip {
        opts.skip(name).map_err(flag("--skip"))?;
    }
    opts.min_free = parse_size(&args.min_free).map_err(flag("--min-free"))?;
    for value in &args.mirror_cidrs {
        opts.mirror_cidrs
            .push(parse_cidr_arg("--mirror-cidr", value)?);
    }
    for value in &args.cluster_cidrs {
        opts.cluster_cidrs
            .push(parse_cidr_arg("--cluster-cidr", value)?);
    }
    if let Some(path) = &args.install_config {
        opts.install_config = Some(InstallConfig::load(path).map_err(flag("--install-config"))?);
    }
    if let Some(r) = &args.release {
        opts.release = Some(ImageRef::parse(r).map_err(flag("--release"))?);
    }
    if let Some(r) = &args.to {
        opts.to = Some(Repository::parse(r).map_err(flag("--to"))?);
    }
    // Credentials and CAs matter only when a registry is contacted; an explicit `-a` is read
    // (and must be valid) regardless.
    let online = opts.release.is_some() && !opts.offline;
    let access = &args.access;
    let auth = if online || access.registry_config.is_some() {
        AuthFile::discover(access.registry_config.as_deref()).map_err(flag("--registry-config"))?
    } else {
        None
    };
    let mut ca_pems = Vec::new();
    for f in &access.ca_files {
        let pem = std::fs::read(f)
            .map_err(|e| mirror_core::Error::Io {
                action: "read",
                path: f.clone(),
                source: e,
            })
            .map_err(flag("--ca-file"))?;
        ca_pems.push(pem);
    }
    opts.client = ClientOptions {
        auth,
        ca_pems,
        insecure_registries: access.insecure_registries.clone(),
        ..Default::default()
    };
    if online {
        RegistryClient::new(opts.client.clone()).map_err(flag("--ca-file"))?;
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
    use mirror_core::preflight::{CheckResult, CheckSeverity, PreflightReport, Problem, Status};

    #[test]
    fn table_layout() {
        let report = PreflightReport::from_checks(
            vec![
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
            false,
        );
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
