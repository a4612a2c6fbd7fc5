//! Installing the mirror's CA in the host's trust stores: the system anchors (for curl, oc,
//! the installer) and `/etc/containers/certs.d` (for podman and skopeo).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result, read_err, write_err};
use crate::fsutil::{CERT_MODE, create_dirs, read_optional, write_atomic};
use crate::inspect;

/// A distribution family, which decides where anchors go and how the store is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OsFamily {
    /// RHEL, CentOS, Fedora, Rocky, Alma, ...: `/etc/pki/ca-trust/source/anchors/` and
    /// `update-ca-trust extract`.
    Rhel,
    /// Debian, Ubuntu, ...: `/usr/local/share/ca-certificates/` (files ending in `.crt`) and
    /// `update-ca-certificates`.
    Debian,
}

impl OsFamily {
    /// Where anchor files go, as an absolute path on the target system.
    pub fn anchors_dir(self) -> &'static Path {
        Path::new(match self {
            OsFamily::Rhel => "/etc/pki/ca-trust/source/anchors",
            OsFamily::Debian => "/usr/local/share/ca-certificates",
        })
    }

    /// The command that rebuilds the system trust store from the anchors.
    pub fn refresh_command(self) -> &'static [&'static str] {
        match self {
            OsFamily::Rhel => &["update-ca-trust", "extract"],
            OsFamily::Debian => &["update-ca-certificates"],
        }
    }
}

/// Detects the family from the text of `/etc/os-release`: `ID` or `ID_LIKE` naming `rhel`,
/// `fedora` or `centos` is [`OsFamily::Rhel`]; `debian` or `ubuntu` is
/// [`OsFamily::Debian`]. Anything else is an [`Error::UnsupportedOs`].
pub fn detect_os_family(os_release: &str) -> Result<OsFamily> {
    let mut id = String::new();
    let mut id_like = String::new();
    for line in os_release.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        match key.trim() {
            "ID" => id = value.to_ascii_lowercase(),
            "ID_LIKE" => id_like = value.to_ascii_lowercase(),
            _ => {}
        }
    }
    let words = || {
        std::iter::once(id.as_str())
            .chain(id_like.split_whitespace())
            .filter(|w| !w.is_empty())
    };
    if words().any(|w| matches!(w, "rhel" | "fedora" | "centos")) {
        return Ok(OsFamily::Rhel);
    }
    if words().any(|w| matches!(w, "debian" | "ubuntu")) {
        return Ok(OsFamily::Debian);
    }
    Err(Error::UnsupportedOs { id, id_like })
}

/// Reads `<root>/etc/os-release` (or `<root>/usr/lib/os-release`) and runs
/// [`detect_os_family`] on it.
pub fn read_os_family(root: &Path) -> Result<OsFamily> {
    let primary = root.join("etc/os-release");
    let text = match read_optional(&primary)? {
        Some(bytes) => bytes,
        None => {
            let fallback = root.join("usr/lib/os-release");
            std::fs::read(&fallback).map_err(read_err(&fallback))?
        }
    };
    detect_os_family(&String::from_utf8_lossy(&text))
}

/// What [`install_trust`] and [`remove_trust`] work on.
///
/// ```
/// let opts = mirror_tls::TrustOptions::new(
///     "/",
///     "-----BEGIN CERTIFICATE-----\n...",
///     "mirror.example.com:5000",
///     mirror_tls::OsFamily::Rhel,
/// );
/// assert!(opts.run_refresh && !opts.dry_run);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustOptions {
    /// The file system root the paths are under: `/` in production, a temporary directory in
    /// tests. Default: `/`.
    pub root: PathBuf,
    /// The CA certificate, PEM. Default: empty (install then fails; remove does not need it).
    pub ca_pem: String,
    /// The registry as clients address it: `host:port` (or `host`). Default: empty.
    pub registry: String,
    /// Where the anchors go. Default: [`OsFamily::Rhel`].
    pub family: OsFamily,
    /// Report what would be done and write nothing. Default: false.
    pub dry_run: bool,
    /// Run the family's refresh command after the anchors change. Default: true; set by
    /// [`TrustOptions::new`] to true only when `root` is `/`.
    pub run_refresh: bool,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            root: PathBuf::from("/"),
            ca_pem: String::new(),
            registry: String::new(),
            family: OsFamily::Rhel,
            dry_run: false,
            run_refresh: true,
        }
    }
}

impl TrustOptions {
    /// Options for `registry` under `root`, refreshing the store only when `root` is `/`.
    pub fn new(
        root: impl Into<PathBuf>,
        ca_pem: impl Into<String>,
        registry: impl Into<String>,
        family: OsFamily,
    ) -> TrustOptions {
        let root = root.into();
        TrustOptions {
            run_refresh: root == Path::new("/"),
            root,
            ca_pem: ca_pem.into(),
            registry: registry.into(),
            family,
            dry_run: false,
        }
    }

    /// The anchor file, e.g. `<root>/etc/pki/ca-trust/source/anchors/mirrorctl-mirror.example.com_5000.crt`.
    pub fn anchor_path(&self) -> Result<PathBuf> {
        let registry = self.checked_registry()?;
        let name: String = registry
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(under(&self.root, self.family.anchors_dir()).join(format!("mirrorctl-{name}.crt")))
    }

    /// The containers file, `<root>/etc/containers/certs.d/<host:port>/ca.crt`.
    pub fn containers_path(&self) -> Result<PathBuf> {
        let registry = self.checked_registry()?;
        Ok(under(&self.root, Path::new("/etc/containers/certs.d"))
            .join(registry)
            .join("ca.crt"))
    }

    fn checked_registry(&self) -> Result<&str> {
        let registry = self.registry.as_str();
        let invalid = |reason: &str| Error::InvalidOption {
            option: "registry",
            value: registry.to_string(),
            reason: reason.to_string(),
        };
        if registry.is_empty() {
            return Err(invalid("expected `host:port`"));
        }
        if registry == "."
            || registry == ".."
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
        {
            return Err(invalid(
                "expected `host:port` with letters, digits, `.`, `-`, `_`, `:`, `[` and `]`",
            ));
        }
        Ok(registry)
    }
}

/// `root` + an absolute `path`.
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// One thing [`install_trust`] or [`remove_trust`] did, or would do in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum TrustAction {
    /// A file was written where there was none.
    Created {
        /// The file.
        path: PathBuf,
    },
    /// A file with other content was replaced.
    Updated {
        /// The file.
        path: PathBuf,
    },
    /// The file already had this content; it was not rewritten.
    Unchanged {
        /// The file.
        path: PathBuf,
    },
    /// A file was removed.
    Removed {
        /// The file.
        path: PathBuf,
    },
    /// The file to remove was not there.
    Absent {
        /// The file.
        path: PathBuf,
    },
    /// The refresh command ran.
    Refreshed {
        /// The command line.
        command: String,
    },
    /// The anchors changed but the refresh command was not run (`run_refresh: false`); run it
    /// by hand.
    RefreshSkipped {
        /// The command line.
        command: String,
    },
}

/// What [`install_trust`] or [`remove_trust`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustReport {
    /// Whether this was a dry run: the actions are planned, nothing was written.
    pub dry_run: bool,
    /// The actions, in order.
    pub actions: Vec<TrustAction>,
}

impl TrustReport {
    /// Whether anything was (or, in a dry run, would be) changed.
    pub fn changed(&self) -> bool {
        self.actions.iter().any(|a| {
            !matches!(
                a,
                TrustAction::Unchanged { .. } | TrustAction::Absent { .. }
            )
        })
    }
}

/// Installs the CA as a system anchor and as the containers CA for `opts.registry`, then
/// refreshes the system store if the anchor changed (and `opts.run_refresh`).
///
/// Files with identical content are left alone and reported [`TrustAction::Unchanged`];
/// directories are created as needed; files are written atomically, mode 0644. With
/// `opts.dry_run` the report lists what would be done and nothing is written or run.
pub fn install_trust(opts: &TrustOptions) -> Result<TrustReport> {
    let anchor = opts.anchor_path()?;
    let containers = opts.containers_path()?;
    inspect::parse_certs(opts.ca_pem.as_bytes(), "CA PEM")?;
    let mut pem = opts.ca_pem.clone();
    if !pem.ends_with('\n') {
        pem.push('\n');
    }

    let mut report = TrustReport {
        dry_run: opts.dry_run,
        actions: Vec::new(),
    };
    let mut anchor_changed = false;
    for path in [anchor, containers] {
        let action = match read_optional(&path)? {
            Some(old) if old == pem.as_bytes() => TrustAction::Unchanged { path },
            existing => {
                if !opts.dry_run {
                    if let Some(dir) = path.parent() {
                        create_dirs(dir)?;
                    }
                    write_atomic(&path, pem.as_bytes(), CERT_MODE)?;
                }
                if report.actions.is_empty() {
                    anchor_changed = true;
                }
                match existing {
                    Some(_) => TrustAction::Updated { path },
                    None => TrustAction::Created { path },
                }
            }
        };
        report.actions.push(action);
    }
    if anchor_changed {
        report.actions.push(refresh(opts)?);
    }
    Ok(report)
}

/// Removes the files [`install_trust`] writes for `opts.registry` (and the registry's
/// `certs.d` directory when that leaves it empty), then refreshes the system store if the
/// anchor was removed. `opts.ca_pem` is not needed.
pub fn remove_trust(opts: &TrustOptions) -> Result<TrustReport> {
    let anchor = opts.anchor_path()?;
    let containers = opts.containers_path()?;
    let mut report = TrustReport {
        dry_run: opts.dry_run,
        actions: Vec::new(),
    };
    let mut anchor_removed = false;
    for path in [anchor, containers] {
        let exists = path.try_exists().map_err(read_err(&path))?;
        if !exists {
            report.actions.push(TrustAction::Absent { path });
            continue;
        }
        if !opts.dry_run {
            std::fs::remove_file(&path).map_err(write_err(&path))?;
        }
        if report.actions.is_empty() {
            anchor_removed = true;
        }
        report.actions.push(TrustAction::Removed { path });
    }
    if !opts.dry_run {
        if let Some(dir) = opts.containers_path()?.parent() {
            // Only succeeds when empty, which is the intent; anything else is left alone.
            let _ = std::fs::remove_dir(dir);
        }
    }
    if anchor_removed {
        report.actions.push(refresh(opts)?);
    }
    Ok(report)
}

fn refresh(opts: &TrustOptions) -> Result<TrustAction> {
    let argv = opts.family.refresh_command();
    let command = argv.join(" ");
    if opts.dry_run {
        return Ok(if opts.run_refresh {
            TrustAction::Refreshed { command }
        } else {
            TrustAction::RefreshSkipped { command }
        });
    }
    if !opts.run_refresh {
        return Ok(TrustAction::RefreshSkipped { command });
    }
    let output = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|source| Error::RefreshSpawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::RefreshFailed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(TrustAction::Refreshed { command })
}
