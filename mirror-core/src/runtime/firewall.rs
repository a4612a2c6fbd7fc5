//! firewalld, when it runs (RHEL's default): the registry's port is opened when the registry
//! starts, so that clients on other hosts (the cluster) reach it, and closed again when the
//! registry is purged or uninstalled. Only what mirrorctl opened is closed: the ports it added
//! are recorded in `<root>/firewall.json`; a port the administrator had opened is left alone.
//!
//! A port is opened in firewalld's default zone, in the runtime configuration and in the
//! permanent one (two `firewall-cmd` calls) rather than permanently plus `--reload`: a reload
//! throws away the runtime-only rules other software added (podman's, libvirt's).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::RegistryLayout;
use super::process::which;
use crate::error::Error;
use crate::hint::Hint;
use mirror_tls::fsutil::{PUBLIC_MODE, read_optional, write_atomic};

/// The program firewalld is driven with.
pub(crate) const FIREWALL_CMD: &str = "firewall-cmd";

/// firewalld on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Firewalld {
    /// No `firewall-cmd` on `PATH`.
    NotInstalled,
    /// `firewall-cmd --state` says it does not run.
    NotRunning,
    /// It runs; `firewall-cmd` is here.
    Running(PathBuf),
}

/// Whether firewalld runs here (`firewall-cmd --state` exits 0).
pub(crate) fn firewalld() -> Firewalld {
    let Some(cmd) = which(FIREWALL_CMD) else {
        return Firewalld::NotInstalled;
    };
    match Command::new(&cmd).arg("--state").output() {
        Ok(o) if o.status.success() => Firewalld::Running(cmd),
        _ => Firewalld::NotRunning,
    }
}

/// Whether a port is open in firewalld's default zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortOpen {
    /// The default zone.
    pub zone: String,
    /// Open now (the runtime configuration).
    pub runtime: bool,
    /// Open after a reload or reboot (the permanent configuration).
    pub permanent: bool,
}

fn port_arg(port: u16) -> String {
    format!("{port}/tcp")
}

/// `firewall-cmd args...` as one line, for reports and errors.
fn line(args: &[&str]) -> String {
    std::iter::once(FIREWALL_CMD)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a `--query-*`: exit 0 is yes, 1 is no, anything else an error.
fn query(cmd: &Path, args: &[&str]) -> Result<bool, Error> {
    let failed = |detail: String| Error::CommandFailed {
        command: line(args),
        detail,
    };
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err(failed(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Whether `port`/tcp is open in the default zone, now and permanently.
pub(crate) fn query_port(cmd: &Path, port: u16) -> Result<PortOpen, Error> {
    let p = format!("--query-port={}", port_arg(port));
    Ok(PortOpen {
        zone: super::host::run(cmd, &["--get-default-zone"])?,
        runtime: query(cmd, &[&p])?,
        permanent: query(cmd, &["--permanent", &p])?,
    })
}

/// What was done about the registry's port in firewalld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirewallAction {
    /// firewalld is not installed: nothing to do.
    NotInstalled,
    /// firewalld does not run: nothing to do (or, when closing, nothing could be done).
    NotRunning,
    /// Left alone on purpose: the registry listens on loopback only, or it was asked.
    Skipped,
    /// It was open already (an administrator opened it, or an earlier run did).
    AlreadyOpen,
    /// It was opened now.
    Opened,
    /// It was closed now.
    Closed,
    /// Nothing mirrorctl opened is open any more.
    AlreadyClosed,
    /// `firewall-cmd` failed: see `detail`.
    Failed,
}

/// The registry's port in firewalld: what [`registry_up`](super::registry_up) and
/// [`close_registry_ports`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FirewallReport {
    /// The port (`/tcp`).
    pub port: u16,
    /// What was done.
    pub action: FirewallAction,
    /// firewalld's default zone, when it runs.
    pub zone: Option<String>,
    /// The `firewall-cmd` commands that changed something, in order.
    pub commands: Vec<String>,
    /// Why it was skipped, or what failed.
    pub detail: Option<String>,
}

impl FirewallReport {
    fn new(port: u16, action: FirewallAction) -> Self {
        FirewallReport {
            port,
            action,
            zone: None,
            commands: Vec::new(),
            detail: None,
        }
    }

    /// The fix when `firewall-cmd` failed.
    pub fn hint(&self) -> Option<Hint> {
        (self.action == FirewallAction::Failed).then_some(Hint::FirewallPort {
            port: self.port,
            open: true,
        })
    }
}

/// `<root>/firewall.json`: the ports mirrorctl opened.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Opened {
    ports: Vec<u16>,
}

fn record_path(layout: &RegistryLayout) -> PathBuf {
    layout.root.join("firewall.json")
}

fn load(layout: &RegistryLayout) -> Result<Opened, Error> {
    let path = record_path(layout);
    match read_optional(&path)? {
        None => Ok(Opened::default()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Runtime {
            reason: format!(
                "`{}` does not parse ({e}): it lists the ports mirrorctl opened in firewalld; fix or delete it",
                path.display()
            ),
            log: None,
        }),
    }
}

fn save(layout: &RegistryLayout, opened: &Opened) -> Result<(), Error> {
    let path = record_path(layout);
    if opened.ports.is_empty() {
        return super::start::remove_if_present(&path);
    }
    let mut text = serde_json::to_string_pretty(opened).unwrap_or_default();
    text.push('\n');
    Ok(write_atomic(&path, text.as_bytes(), PUBLIC_MODE)?)
}

/// Runs `firewall-cmd args...`, recording it in `report`.
fn change(cmd: &Path, args: &[&str], report: &mut FirewallReport) -> Result<(), Error> {
    super::host::run(cmd, args)?;
    report.commands.push(line(args));
    Ok(())
}

/// Opens `port` in firewalld when it runs, now and permanently, and closes the ports an
/// earlier run opened for another port of this registry. Records what it opened.
pub(crate) fn open_registry_port(layout: &RegistryLayout, port: u16) -> FirewallReport {
    let cmd = match firewalld() {
        Firewalld::NotInstalled => return FirewallReport::new(port, FirewallAction::NotInstalled),
        Firewalld::NotRunning => return FirewallReport::new(port, FirewallAction::NotRunning),
        Firewalld::Running(cmd) => cmd,
    };
    let mut report = FirewallReport::new(port, FirewallAction::AlreadyOpen);
    let result = (|| -> Result<(), Error> {
        let mut opened = load(layout)?;
        let state = query_port(&cmd, port)?;
        report.zone = Some(state.zone.clone());
        let add = format!("--add-port={}", port_arg(port));
        if !state.runtime {
            change(&cmd, &[&add], &mut report)?;
        }
        if !state.permanent {
            change(&cmd, &["--permanent", &add], &mut report)?;
        }
        if !report.commands.is_empty() {
            report.action = FirewallAction::Opened;
            if !opened.ports.contains(&port) {
                opened.ports.push(port);
            }
        }
        // The registry moved to another port: close what mirrorctl opened for the old one.
        for old in opened.ports.clone().into_iter().filter(|p| *p != port) {
            close_port(&cmd, old, &mut report)?;
            opened.ports.retain(|p| *p != old);
        }
        save(layout, &opened)
    })();
    if let Err(e) = result {
        report.action = FirewallAction::Failed;
        report.detail = Some(e.to_string());
    }
    report
}

/// A report for a registry whose port is left alone, saying why.
pub(crate) fn skipped(port: u16, why: &str) -> FirewallReport {
    let mut r = FirewallReport::new(port, FirewallAction::Skipped);
    r.detail = Some(why.to_string());
    r
}

fn close_port(cmd: &Path, port: u16, report: &mut FirewallReport) -> Result<(), Error> {
    let state = query_port(cmd, port)?;
    report.zone.get_or_insert(state.zone);
    let remove = format!("--remove-port={}", port_arg(port));
    if state.runtime {
        change(cmd, &[&remove], report)?;
    }
    if state.permanent {
        change(cmd, &["--permanent", &remove], report)?;
    }
    Ok(())
}

/// Closes in firewalld the ports mirrorctl opened for the registry under `root` (none when it
/// opened none: a port the administrator opened stays open). With `dry_run`, says what it
/// would close and changes nothing. A failing `firewall-cmd` is an [`Error::Firewall`]; the
/// record keeps the ports still open, so a rerun (as root) finishes.
pub fn close_registry_ports(root: &Path, dry_run: bool) -> Result<Vec<FirewallReport>, Error> {
    let layout = RegistryLayout::new(root);
    let mut opened = load(&layout)?;
    if opened.ports.is_empty() {
        return Ok(Vec::new());
    }
    let cmd = match firewalld() {
        Firewalld::Running(cmd) => cmd,
        // Its rules went with it.
        Firewalld::NotInstalled => {
            if !dry_run {
                save(&layout, &Opened::default())?;
            }
            return Ok(Vec::new());
        }
        Firewalld::NotRunning => {
            return Ok(opened
                .ports
                .iter()
                .map(|p| {
                    let mut r = FirewallReport::new(*p, FirewallAction::NotRunning);
                    r.detail = Some(format!(
                        "firewalld does not run: {p}/tcp stays in its permanent configuration; `firewall-offline-cmd --remove-port={p}/tcp` removes it"
                    ));
                    r
                })
                .collect());
        }
    };
    let mut reports = Vec::new();
    for port in opened.ports.clone() {
        let mut report = FirewallReport::new(port, FirewallAction::AlreadyClosed);
        let result = if dry_run {
            query_port(&cmd, port).map(|s| {
                report.zone = Some(s.zone);
                if s.runtime || s.permanent {
                    report.action = FirewallAction::Closed;
                }
            })
        } else {
            close_port(&cmd, port, &mut report).map(|()| {
                if !report.commands.is_empty() {
                    report.action = FirewallAction::Closed;
                }
            })
        };
        if let Err(e) = result {
            // The record keeps what is still open, for a rerun.
            if !dry_run {
                save(&layout, &opened)?;
            }
            return Err(Error::Firewall {
                port,
                open: false,
                reason: e.to_string(),
            });
        }
        opened.ports.retain(|p| *p != port);
        reports.push(report);
    }
    if !dry_run {
        save(&layout, &opened)?;
    }
    Ok(reports)
}
