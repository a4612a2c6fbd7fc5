//! `preflight`: named host checks run before anything on the host changes.
//!
//! A registry of checks ([`checks`]), each with a kebab-case name, a [`CheckSeverity`] and a
//! description. Running them is two steps: [`HostFacts::gather`] reads the host (and, unless
//! offline, the release source), then [`evaluate`] turns facts and [`PreflightOptions`] into a
//! [`PreflightReport`] without any I/O, so every check is tested on facts built by hand.
//! [`run_preflight`] does both.

mod disk;
mod facts;
mod firewall;
mod hostname;
mod network;
mod os;
mod port;
mod resources;
mod storage;
pub(crate) mod tools;
mod upstream;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

pub use mirror_net::{ClusterNetworks, InterfaceNetwork, IpNet, PortStatus, ProcessInfo};
use serde::Serialize;

use crate::auth::AuthFile;
use crate::error::{Error, ErrorChain};
use crate::reference::{ImageRef, Repository};
use crate::registry::ClientOptions;
use crate::runtime::RuntimeChoice;

#[cfg(test)]
use crate::runtime::PortOpen;
pub(crate) use facts::disk_space;
pub use facts::{
    DiskSpace, FirewallFacts, HostFacts, HostnameFacts, Probe, ReleaseSize, Tools, UpstreamFacts,
};
pub use network::{InstallConfig, parse_cidr_arg};
pub use os::OsRelease;
pub use resources::{MIN_CPUS, MIN_MEMORY_BYTES};

/// The data directory the registry stores blobs in, unless `--data-dir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "/opt/registry/data";
/// The free space required by default: 1000 GiB, as the original script did.
pub const DEFAULT_MIN_FREE: u64 = 1000 << 30;
/// The registry port, unless `--port` says otherwise.
pub const DEFAULT_PORT: u16 = 5000;

/// What a problem found by a check means for the install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckSeverity {
    /// A problem blocks the install: the check can fail.
    Fatal,
    /// A problem is worth knowing but does not block: the check warns at worst (and fails only
    /// with `--strict`).
    Warning,
}

impl fmt::Display for CheckSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckSeverity::Fatal => "fatal",
            CheckSeverity::Warning => "warning",
        })
    }
}

/// A check in the registry: its name, severity and what it looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// Kebab-case name, as `--skip` takes it.
    pub name: &'static str,
    /// What a problem means.
    pub severity: CheckSeverity,
    /// One line saying what is checked.
    pub description: &'static str,
}

type CheckFn = fn(&HostFacts, &PreflightOptions) -> Outcome;

struct Check {
    info: CheckInfo,
    run: CheckFn,
}

const fn check(
    name: &'static str,
    severity: CheckSeverity,
    description: &'static str,
    run: CheckFn,
) -> Check {
    Check {
        info: CheckInfo {
            name,
            severity,
            description,
        },
        run,
    }
}

/// The checks, in the order they run and are reported.
const REGISTRY: &[Check] = &[
    check(
        "os",
        CheckSeverity::Fatal,
        "RHEL-family OS from /etc/os-release (others warn) on x86_64 or aarch64",
        os::check,
    ),
    check(
        "disk",
        CheckSeverity::Fatal,
        "free space on the filesystem of --data-dir against --min-free, and against the release's size with --release",
        disk::check,
    ),
    check(
        "memory",
        CheckSeverity::Warning,
        "total memory of at least 4 GiB",
        resources::check_memory,
    ),
    check(
        "cpu",
        CheckSeverity::Warning,
        "at least 2 CPUs",
        resources::check_cpu,
    ),
    check(
        "cidr",
        CheckSeverity::Fatal,
        "mirror networks disjoint from cluster networks; install-config networking valid",
        network::check,
    ),
    check(
        "port",
        CheckSeverity::Fatal,
        "the registry port is free or held by the mirror registry under --root",
        port::check,
    ),
    check(
        "firewall",
        CheckSeverity::Warning,
        "whether firewalld, when it runs, lets other hosts reach the registry port",
        firewall::check,
    ),
    check(
        "hostname",
        CheckSeverity::Fatal,
        "the registry host name is an FQDN resolving to an address of this host",
        hostname::check,
    ),
    check(
        "tools",
        CheckSeverity::Fatal,
        "the runtime's programs (podman, or a distribution registry binary) and the OS trust-store tool",
        tools::check,
    ),
    check(
        "storage",
        CheckSeverity::Fatal,
        "with S3 storage: the bucket answers, the access key works, a small object can be written and removed",
        storage::check,
    ),
    check(
        "upstream",
        CheckSeverity::Fatal,
        "the release source answers and accepts the auth file's credentials",
        upstream::check,
    ),
];

/// Every check, in the order they run.
pub fn checks() -> impl ExactSizeIterator<Item = CheckInfo> {
    REGISTRY.iter().map(|c| c.info)
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing wrong.
    Pass,
    /// Worth fixing; does not block (unless `--strict`).
    Warn,
    /// Blocks the install.
    Fail,
    /// The check could not run (a file or interface could not be read); nothing is known.
    Error,
    /// Not run: skipped with `--skip`, or it does not apply (no `--release`, `--offline`).
    Skipped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skipped => "skipped",
        })
    }
}

/// One thing a check found, when it finds several (each overlapping CIDR pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `warn` or `fail`.
    pub status: Status,
    /// What is wrong, naming the values.
    pub message: String,
    /// The likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What a check function returns; [`evaluate`] adds the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    status: Status,
    detail: String,
    hint: Option<String>,
    problems: Vec<Problem>,
}

impl Outcome {
    fn new(status: Status, detail: impl Into<String>) -> Self {
        Outcome {
            status,
            detail: detail.into(),
            hint: None,
            problems: Vec::new(),
        }
    }
    fn pass(detail: impl Into<String>) -> Self {
        Self::new(Status::Pass, detail)
    }
    fn warn(detail: impl Into<String>) -> Self {
        Self::new(Status::Warn, detail)
    }
    fn fail(detail: impl Into<String>) -> Self {
        Self::new(Status::Fail, detail)
    }
    fn skipped(detail: impl Into<String>) -> Self {
        Self::new(Status::Skipped, detail)
    }
    /// The check could not run because a fact could not be read: the error's chain, and its
    /// hint as a library words it.
    fn error(err: &Error) -> Self {
        Self::new(Status::Error, ErrorChain(err).to_string())
            .hint(err.hint().map(|h| h.to_string()))
    }
    fn hint(mut self, hint: impl Into<Option<String>>) -> Self {
        self.hint = hint.into();
        self
    }
    /// Adds problems; the status becomes the worst of the current one and theirs.
    fn with_problems(mut self, problems: Vec<Problem>) -> Self {
        for p in &problems {
            self.status = self.status.max(p.status);
        }
        self.problems.extend(problems);
        self
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: &'static str,
    /// Its severity.
    pub severity: CheckSeverity,
    /// What it found.
    pub status: Status,
    /// One line: what was measured, or what is wrong, naming the values.
    pub detail: String,
    /// The likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Each problem when there are several (every overlapping pair, every install-config
    /// finding).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// How many checks ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warned.
    pub warn: usize,
    /// Failed.
    pub fail: usize,
    /// Could not run.
    pub error: usize,
    /// Skipped or not applicable.
    pub skipped: usize,
}

/// The API version of [`PreflightReport`] and [`CheckList`].
pub const PREFLIGHT_API_VERSION: &str = "mirrorctl.openshift.io/v1alpha1";

/// Everything `mirrorctl preflight` found (`--output json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PreflightReport {
    /// `mirrorctl.openshift.io/v1alpha1`.
    pub api_version: &'static str,
    /// `PreflightReport`.
    pub kind: &'static str,
    /// True when nothing failed or could not run (and, with `strict`, nothing warned).
    pub passed: bool,
    /// Whether warnings count as failures.
    pub strict: bool,
    /// Counts per status.
    pub summary: Summary,
    /// One result per check, in registry order.
    pub checks: Vec<CheckResult>,
}

/// The check registry as `--list --output json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckList {
    /// `mirrorctl.openshift.io/v1alpha1`.
    pub api_version: &'static str,
    /// `PreflightCheckList`.
    pub kind: &'static str,
    /// The checks.
    pub checks: Vec<CheckInfo>,
}

impl CheckList {
    /// The registry.
    pub fn new() -> Self {
        CheckList {
            api_version: PREFLIGHT_API_VERSION,
            kind: "PreflightCheckList",
            checks: checks().collect(),
        }
    }
}

impl Default for CheckList {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings for a preflight run, validated. Defaults are those of `mirrorctl preflight` without
/// flags.
#[derive(Debug, Clone)]
pub struct PreflightOptions {
    /// Where the registry will store blobs (default [`DEFAULT_DATA_DIR`]); it need not exist:
    /// the nearest existing parent's filesystem is measured.
    pub data_dir: PathBuf,
    /// Free bytes required there (default [`DEFAULT_MIN_FREE`]).
    pub min_free: u64,
    /// The release to size (for `disk`) and whose source to reach (for `upstream`).
    pub release: Option<ImageRef>,
    /// The mirror repository; with `release`, blobs it already holds are not counted as needed.
    pub to: Option<Repository>,
    /// How to reach registries (auth file, CA files, plain-HTTP registries).
    pub client: ClientOptions,
    /// Release manifests fetched at once when sizing a release.
    pub concurrency: usize,
    /// The mirror's networks; empty means this host's interface networks (without loopback
    /// and link-local).
    pub mirror_cidrs: Vec<IpNet>,
    /// Cluster networks given directly (a cluster VNet's address space).
    pub cluster_cidrs: Vec<IpNet>,
    /// The install-config whose `networking` section is checked.
    pub install_config: Option<InstallConfig>,
    /// The registry port (default [`DEFAULT_PORT`]).
    pub port: u16,
    /// The registry's root (default [`crate::runtime::DEFAULT_REGISTRY_ROOT`]): a distribution registry
    /// holding the port passes `port` only when it serves `<root>/config.yml`.
    pub root: PathBuf,
    /// The registry's host name; `None` means this host's FQDN.
    pub hostname: Option<String>,
    /// How the registry will run.
    pub runtime: RuntimeChoice,
    /// Do not reach the network: `upstream` is skipped and `disk` does not size the release.
    pub offline: bool,
    /// Checks not to run (names from [`checks`], see [`PreflightOptions::skip`]).
    pub skip: BTreeSet<&'static str>,
    /// Warnings count as failures.
    pub strict: bool,
    /// Where the registry will store content (default filesystem); with S3 the `storage`
    /// check proves the bucket (also with `offline`: the store is part of the mirror, not the
    /// release source) and `disk` does not count the release against local space.
    pub storage: crate::storage::StorageSettings,
}

impl Default for PreflightOptions {
    fn default() -> Self {
        PreflightOptions {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            min_free: DEFAULT_MIN_FREE,
            release: None,
            to: None,
            client: ClientOptions::default(),
            concurrency: crate::copy::DEFAULT_MAX_PER_REGISTRY,
            mirror_cidrs: Vec::new(),
            cluster_cidrs: Vec::new(),
            install_config: None,
            port: DEFAULT_PORT,
            root: PathBuf::from(crate::runtime::DEFAULT_REGISTRY_ROOT),
            hostname: None,
            runtime: RuntimeChoice::Auto,
            offline: false,
            skip: BTreeSet::new(),
            strict: false,
            storage: crate::storage::StorageSettings::Filesystem,
        }
    }
}

impl PreflightOptions {
    /// Adds `name` to the checks skipped; an unknown name is [`Error::UnknownName`], whose hint
    /// lists the known ones.
    pub fn skip(&mut self, name: &str) -> Result<(), Error> {
        let found = REGISTRY.iter().find(|c| c.info.name == name.trim());
        match found {
            Some(c) => {
                self.skip.insert(c.info.name);
                Ok(())
            }
            None => Err(Error::UnknownName {
                kind: "check",
                name: name.to_string(),
                known: REGISTRY.iter().map(|c| c.info.name).collect(),
            }),
        }
    }

    /// Whether the check `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        !self.skip.contains(name)
    }

    /// The auth file in use, if any.
    fn auth(&self) -> Option<&AuthFile> {
        self.client.auth.as_ref()
    }
}

/// Runs every check not skipped on `facts`: pure, no I/O.
pub fn evaluate(facts: &HostFacts, opts: &PreflightOptions) -> PreflightReport {
    let results: Vec<CheckResult> = REGISTRY
        .iter()
        .map(|c| {
            let mut out = if opts.runs(c.info.name) {
                (c.run)(facts, opts)
            } else {
                Outcome::skipped("skipped with `--skip`")
            };
            if c.info.severity == CheckSeverity::Warning && out.status == Status::Fail {
                out.status = Status::Warn;
            }
            CheckResult {
                name: c.info.name,
                severity: c.info.severity,
                status: out.status,
                detail: out.detail,
                hint: out.hint,
                problems: out.problems,
            }
        })
        .collect();
    PreflightReport::from_checks(results, opts.strict)
}

impl PreflightReport {
    /// The report of `checks`, counted: it passes when nothing failed or errored (and, with
    /// `strict`, nothing warned).
    pub fn from_checks(checks: Vec<CheckResult>, strict: bool) -> Self {
        let mut summary = Summary::default();
        for c in &checks {
            match c.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Error => summary.error += 1,
                Status::Skipped => summary.skipped += 1,
            }
        }
        let passed = summary.fail == 0 && summary.error == 0 && (!strict || summary.warn == 0);
        PreflightReport {
            api_version: PREFLIGHT_API_VERSION,
            kind: "PreflightReport",
            passed,
            strict,
            summary,
            checks,
        }
    }
}

/// Gathers the facts from this host (and from the release source unless offline) and evaluates
/// every check not skipped.
///
/// ```no_run
/// # async fn demo() {
/// let report = mirror_core::run_preflight(&mirror_core::preflight::PreflightOptions::default()).await;
/// for check in &report.checks {
///     println!("{}: {:?}", check.name, check.status);
/// }
/// # }
/// ```
pub async fn run_preflight(opts: &PreflightOptions) -> PreflightReport {
    let facts = HostFacts::gather(opts).await;
    evaluate(&facts, opts)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Facts of a healthy RHEL 9 host: every check passes with default options (apart from
    /// `upstream`, skipped without `--release`).
    pub fn healthy() -> HostFacts {
        HostFacts {
            os_release: Ok(os::tests::RHEL9.to_string()),
            arch: "x86_64".to_string(),
            disk: Ok(DiskSpace {
                data_dir: PathBuf::from(DEFAULT_DATA_DIR),
                measured: PathBuf::from("/"),
                free_bytes: 2000 << 30,
                total_bytes: 4000 << 30,
            }),
            memory_bytes: Ok(16 << 30),
            cpus: Ok(4),
            networks: Ok(vec![mirror_net::InterfaceNetwork {
                interface: "eth0".into(),
                net: "10.1.0.0/24".parse().unwrap(),
            }]),
            port: Ok(mirror_net::PortStatus::Free),
            port_held_by_mirror: false,
            firewall: Ok(FirewallFacts::NotInstalled),
            hostname: Ok(HostnameFacts {
                name: "mirror.example.com".into(),
                resolved: Ok(vec!["10.1.0.4".parse().unwrap()]),
                local: vec!["10.1.0.4".parse().unwrap()],
            }),
            tools: Tools::found(&["podman", "update-ca-trust"]),
            release_size: None,
            upstream: None,
            storage: None,
        }
    }

    /// The result of check `name` as `status | detail | hint | problems...`.
    pub fn run_one(name: &str, facts: &HostFacts, opts: &PreflightOptions) -> String {
        let report = evaluate(facts, opts);
        let r = report.checks.iter().find(|c| c.name == name).unwrap();
        render(r)
    }

    pub fn render(r: &CheckResult) -> String {
        let mut s = format!("{} | {}", r.status, r.detail);
        if let Some(h) = &r.hint {
            s.push_str(&format!(" | hint: {h}"));
        }
        for p in &r.problems {
            s.push_str(&format!("\n  {}: {}", p.status, p.message));
            if let Some(h) = &p.hint {
                s.push_str(&format!(" | hint: {h}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::facts::unreadable;
    use super::test_support::*;
    use super::*;

    #[test]
    fn registry_names_are_unique_kebab_case() {
        let names: Vec<&str> = checks().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "os", "disk", "memory", "cpu", "cidr", "port", "firewall", "hostname", "tools",
                "storage", "upstream"
            ]
        );
        for c in checks() {
            assert!(
                c.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn healthy_host_passes() {
        let report = evaluate(&healthy(), &PreflightOptions::default());
        let got: Vec<String> = report
            .checks
            .iter()
            .map(|c| format!("{} {}", c.name, c.status))
            .collect();
        assert_eq!(
            got,
            [
                "os pass",
                "disk pass",
                "memory pass",
                "cpu pass",
                "cidr skipped",
                "port pass",
                "firewall pass",
                "hostname pass",
                "tools pass",
                "storage skipped",
                "upstream skipped"
            ]
        );
        assert!(report.passed);
        assert_eq!(
            report.summary,
            Summary {
                pass: 8,
                skipped: 3,
                ..Default::default()
            }
        );
    }

    #[test]
    fn skip_and_strict() {
        let mut opts = PreflightOptions::default();
        let err = opts.skip("nosuch").unwrap_err();
        assert_eq!(
            (err.to_string(), err.hint().unwrap().to_string()),
            (
                "unknown check `nosuch`".to_string(),
                "known checks: os, disk, memory, cpu, cidr, port, firewall, hostname, tools, storage, upstream"
                    .to_string()
            )
        );
        opts.skip("disk").unwrap();
        let mut facts = healthy();
        facts.disk = unreadable("statvfs `/`: boom");
        facts.memory_bytes = Ok(1 << 30);
        let report = evaluate(&facts, &opts);
        assert_eq!(
            run_one("disk", &facts, &opts),
            "skipped | skipped with `--skip`"
        );
        assert_eq!(
            run_one("memory", &facts, &opts),
            "warn | 1GiB of memory, below the 4GiB recommended | hint: the registry itself needs little; 4GiB leaves room for podman and for mirroring"
        );
        assert!(report.passed);
        opts.strict = true;
        assert!(!evaluate(&facts, &opts).passed);
    }

    #[test]
    fn could_not_run_is_not_a_failure_but_does_not_pass() {
        let mut facts = healthy();
        facts.memory_bytes = unreadable("read `/proc/meminfo`: denied");
        facts.disk = unreadable("statvfs `/`: denied");
        let report = evaluate(&facts, &PreflightOptions::default());
        assert_eq!(
            (report.summary.error, report.summary.fail, report.passed),
            (2, 0, false)
        );
    }

    #[test]
    fn report_json_is_versioned() {
        let report = evaluate(&healthy(), &PreflightOptions::default());
        let v = serde_json::to_value(&report).unwrap();
        assert_eq!(v["apiVersion"], "mirrorctl.openshift.io/v1alpha1");
        assert_eq!(v["kind"], "PreflightReport");
        assert_eq!(v["passed"], true);
        assert_eq!(v["checks"][0]["name"], "os");
        assert_eq!(v["checks"][0]["status"], "pass");
        assert_eq!(v["checks"][0]["severity"], "fatal");
        assert_eq!(v["summary"]["pass"], 8);
        let list = serde_json::to_value(CheckList::new()).unwrap();
        assert_eq!(list["kind"], "PreflightCheckList");
        assert_eq!(list["checks"][2]["name"], "memory");
        assert_eq!(list["checks"][2]["severity"], "warning");
    }
}
