//! `mirrorctl uninstall`: stops and removes what `install` created.

use std::path::{Path, PathBuf};

use super::{Step, StepReport, StepStatus};
use crate::error::Error;

/// Settings for [`uninstall`].
#[derive(Clone, Debug)]
pub struct UninstallSettings {
    /// The registry root install used (`/opt/registry`).
    pub root: PathBuf,
    /// The output directory install used; its `install-summary.json` names what to remove.
    pub output_dir: PathBuf,
    /// `host:port` whose trust entries to remove; default: from the summary.
    pub registry: Option<String>,
    /// Prefix of the host trust store (`/`).
    pub trust_root: PathBuf,
    /// Keep `<root>/data` (the mirrored images).
    pub keep_data: bool,
    /// Say what would be removed; remove nothing.
    pub dry_run: bool,
}

fn remove(path: &Path, dry_run: bool, removed: &mut Vec<String>) -> Result<(), Error> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("inspect", path, e)),
    };
    removed.push(path.display().to_string());
    if dry_run {
        return Ok(());
    }
    let r = if md.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    r.map_err(|e| Error::io("remove", path, e))
}

/// Stops the registry and removes its files, its trust entries and install's outputs.
/// Reports per step: `registry`, `trust`, `directories`, `outputs`; the first failure stops.
pub fn uninstall(s: &UninstallSettings) -> Result<Vec<StepReport>, Error> {
    let summary: Option<serde_json::Value> =
        std::fs::read(s.output_dir.join("install-summary.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    let layout = crate::runtime::RegistryLayout::new(&s.root);
    Ok(vec![
        stop_registry(s, &layout)?,
        remove_trust(s, summary.as_ref())?,
        remove_files(s, &layout)?,
        remove_outputs(s, summary.as_ref())?,
    ])
}

/// Planned on a dry run, done when it changed something, else already done.
fn report(s: &UninstallSettings, step: Step, changed: bool, detail: String) -> StepReport {
    let status = match (s.dry_run, changed) {
        (true, true) => StepStatus::Planned,
        (_, true) => StepStatus::Done,
        (_, false) => StepStatus::AlreadyDone,
    };
    StepReport {
        step,
        status,
        detail,
        seconds: 0.0,
    }
}

/// The registry, and the port `registry up` opened for it in firewalld (closed before
/// `<root>` goes, since `<root>/firewall.json` says which).
fn stop_registry(
    s: &UninstallSettings,
    layout: &crate::runtime::RegistryLayout,
) -> Result<StepReport, Error> {
    let known =
        crate::runtime::RuntimeState::load(layout)?.is_some() || layout.pid_file().is_file();
    let mut detail = if s.dry_run || !known {
        if known {
            "stop the registry"
        } else {
            "not running"
        }
    } else if crate::runtime::registry_down(&s.root)?.stopped {
        "stopped"
    } else {
        "was not running; state removed"
    }
    .to_string();
    let mut changed = known;
    for f in crate::runtime::close_registry_ports(&s.root, s.dry_run)? {
        use crate::runtime::FirewallAction as A;
        let (verb, change) = match (f.action, s.dry_run) {
            (A::Closed, true) => ("close", true),
            (A::Closed, false) => ("closed", true),
            (A::NotRunning, _) => ("left", false),
            _ => ("nothing to close for", false),
        };
        changed |= change;
        detail.push_str(&format!("; {verb} {}/tcp in firewalld", f.port));
        if let Some(d) = f.detail {
            detail.push_str(&format!(" ({d})"));
        }
    }
    Ok(report(s, Step::Registry, changed, detail))
}

/// The trust entries of the registry named, or of the one in install's summary.
fn remove_trust(
    s: &UninstallSettings,
    summary: Option<&serde_json::Value>,
) -> Result<StepReport, Error> {
    let registry = s
        .registry
        .clone()
        .or_else(|| summary.and_then(|v| v["registry"].as_str().map(str::to_string)));
    let Some(reg) = registry else {
        return Ok(report(
            s,
            Step::Trust,
            false,
            "no registry named (give --registry HOST:PORT) and no install summary".into(),
        ));
    };
    let family = mirror_tls::read_os_family(&s.trust_root)?;
    let mut opts =
        mirror_tls::TrustOptions::new(s.trust_root.clone(), String::new(), reg.clone(), family);
    opts.dry_run = s.dry_run;
    let removed = mirror_tls::remove_trust(&opts)?;
    Ok(report(
        s,
        Step::Trust,
        removed.changed(),
        format!("trust entries for {reg}"),
    ))
}

/// The registry's files: auth, certs, its config and state, and its data unless kept.
fn remove_files(
    s: &UninstallSettings,
    layout: &crate::runtime::RegistryLayout,
) -> Result<StepReport, Error> {
    let mut removed = Vec::new();
    for p in [
        s.root.join("auth"),
        s.root.join("certs"),
        layout.config(),
        layout.state_file(),
        layout.pid_file(),
        layout.log_file(),
    ] {
        remove(&p, s.dry_run, &mut removed)?;
    }
    if !s.keep_data {
        remove(&layout.data(), s.dry_run, &mut removed)?;
    }
    if !s.dry_run {
        // Remove the root itself only when nothing else is left in it.
        let _ = std::fs::remove_dir(&s.root);
    }
    let kept = if s.keep_data {
        format!("; kept {}", layout.data().display())
    } else {
        String::new()
    };
    Ok(report(
        s,
        Step::Directories,
        !removed.is_empty(),
        format!("{} removed{kept}", removed.len()),
    ))
}

/// install's outputs: those its summary lists under the output directory, and the summary.
fn remove_outputs(
    s: &UninstallSettings,
    summary: Option<&serde_json::Value>,
) -> Result<StepReport, Error> {
    let mut removed = Vec::new();
    let listed: Vec<PathBuf> = summary
        .and_then(|v| v["outputs"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str().map(PathBuf::from))
        .filter(|p| p.starts_with(&s.output_dir))
        .collect();
    for p in listed.iter().chain(
        [
            s.output_dir.join("install-summary.json"),
            s.output_dir.join(".extract"),
        ]
        .iter(),
    ) {
        remove(p, s.dry_run, &mut removed)?;
    }
    if !s.dry_run {
        let _ = std::fs::remove_dir(&s.output_dir);
    }
    Ok(report(
        s,
        Step::Outputs,
        !removed.is_empty(),
        format!("{} removed from {}", removed.len(), s.output_dir.display()),
    ))
}
