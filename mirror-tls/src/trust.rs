//! Installing the mirror's CA in the host's trust stores: the system anchors (for curl, oc,
//! the installer) and `/etc/containers/certs.d` (for podman and skopeo).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result, read_err, write_err};
use crate::fsutil::{PUBLIC_MODE, create_dirs, read_optional, write_atomic};
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
    let certs_d = under(&opts.root, Path::new(CERTS_D));
    for (is_anchor, path) in [(true, anchor), (false, containers)] {
        let action = match read_optional(&path)? {
            Some(old) if old == pem.as_bytes() => TrustAction::Unchanged { path },
            existing => {
                if !opts.dry_run {
                    let made_certs_d =
                        !is_anchor && !certs_d.try_exists().map_err(read_err(&certs_d))?;
                    if let Some(dir) = path.parent() {
                        create_dirs(dir)?;
                    }
                    if made_certs_d {
                        // Remembers that `certs.d` is ours, so that `remove` deletes it
                        // again, and only then.
                        let marker = certs_d.join(CERTS_D_MARKER);
                        write_atomic(&marker, b"", PUBLIC_MODE)?;
                    }
                    write_atomic(&path, pem.as_bytes(), PUBLIC_MODE)?;
                }
                anchor_changed |= is_anchor;
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

/// Removes the files [`install_trust`] writes for `opts.registry`, then refreshes the system
/// store if the anchor was removed. `opts.ca_pem` is not needed.
///
/// On Debian it also removes the links `update-ca-certificates` made for the anchor in
/// `/etc/ssl/certs` (`mirrorctl-HOST_PORT.pem` and the hash links pointing at it), which that
/// command leaves dangling once the anchor is gone. The registry's `certs.d` directory is
/// removed when that leaves it empty, and `certs.d` itself when `install` created it and
/// nothing else is in it, so the trust store ends as it was before `install`.
pub fn remove_trust(opts: &TrustOptions) -> Result<TrustReport> {
    let anchor = opts.anchor_path()?;
    let containers = opts.containers_path()?;
    let mut report = TrustReport {
        dry_run: opts.dry_run,
        actions: Vec::new(),
    };
    let mut anchor_removed = false;
    for (is_anchor, path) in [(true, anchor.clone()), (false, containers.clone())] {
        let exists = path.try_exists().map_err(read_err(&path))?;
        if !exists {
            report.actions.push(TrustAction::Absent { path });
            continue;
        }
        if !opts.dry_run {
            std::fs::remove_file(&path).map_err(write_err(&path))?;
        }
        anchor_removed |= is_anchor;
        report.actions.push(TrustAction::Removed { path });
    }
    let mut removed_pem = None;
    if opts.family == OsFamily::Debian {
        for (i, link) in debian_links(opts, &anchor)?.into_iter().enumerate() {
            if !opts.dry_run {
                std::fs::remove_file(&link).map_err(write_err(&link))?;
            }
            if i == 0 && link.extension().is_some_and(|x| x == "pem") {
                removed_pem = link
                    .file_name()
                    .map(|n| Path::new("/etc/ssl/certs").join(n));
            }
            anchor_removed = true;
            report.actions.push(TrustAction::Removed { path: link });
        }
    }
    if !opts.dry_run
        && let Some(dir) = containers.parent()
    {
        // Only succeeds when empty, which is the intent; anything else is left alone.
        let _ = std::fs::remove_dir(dir);
        let certs_d = under(&opts.root, Path::new(CERTS_D));
        let marker = certs_d.join(CERTS_D_MARKER);
        let only_marker = std::fs::read_dir(&certs_d).is_ok_and(|entries| {
            entries
                .map(|e| e.map(|e| e.file_name()))
                .collect::<std::io::Result<Vec<_>>>()
                .is_ok_and(|names| names == [CERTS_D_MARKER])
        });
        if only_marker {
            std::fs::remove_file(&marker).map_err(write_err(&marker))?;
            let _ = std::fs::remove_dir(&certs_d);
        }
    }
    if anchor_removed {
        report.actions.push(refresh(opts)?);
    }
    if let Some(pem) = removed_pem
        && opts.run_refresh
    {
        report.actions.extend(debian_removal_hooks(opts, &pem)?);
    }
    Ok(report)
}

/// Tells Debian's trust-store hooks (`/etc/ca-certificates/update.d/*`, such as the Java
/// keystore's `jks-keystore`) that `pem` is gone, the way `update-ca-certificates` does for
/// the certificates it removes: a line `-PEM` on the hook's stdin.
///
/// `update-ca-certificates` reports a deleted local anchor to no hook, so without this the
/// Java keystore (`/etc/ssl/certs/java/cacerts`) would keep trusting the removed CA.
fn debian_removal_hooks(opts: &TrustOptions, pem: &Path) -> Result<Vec<TrustAction>> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = under(&opts.root, Path::new("/etc/ca-certificates/update.d"));
    let mut hooks = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(&dir)(e)),
    };
    hooks.sort();
    let mut actions = Vec::new();
    for hook in hooks {
        let command = format!("{} (told `-{}`)", hook.display(), pem.display());
        if opts.dry_run {
            actions.push(TrustAction::Refreshed { command });
            continue;
        }
        let line = format!("-{}\n", pem.display());
        run_command(Command::new(&hook), &command, Some(line.as_bytes()))?;
        actions.push(TrustAction::Refreshed { command });
    }
    Ok(actions)
}

/// `/etc/containers/certs.d`.
const CERTS_D: &str = "/etc/containers/certs.d";
/// The empty file `install_trust` leaves in `certs.d` when it created that directory.
const CERTS_D_MARKER: &str = ".mirrorctl-created";

/// The links `update-ca-certificates` made in `<root>/etc/ssl/certs` for `anchor`: the
/// `mirrorctl-HOST_PORT.pem` symlink to the anchor and the `HASH.N` symlinks to that.
///
/// These are removed one by one rather than with `update-ca-certificates --fresh`: `--fresh`
/// deletes and recreates every certificate's links, including ones other tools or the admin
/// made, while plain `update-ca-certificates` never removes links for a deleted local anchor
/// (it only cleans orphans when it also added or removed a listed certificate). Only links
/// whose target names our anchor are touched.
fn debian_links(opts: &TrustOptions, anchor: &Path) -> Result<Vec<PathBuf>> {
    let etc_certs = under(&opts.root, Path::new("/etc/ssl/certs"));
    let (Some(stem), Some(crt)) = (anchor.file_stem(), anchor.file_name()) else {
        return Ok(Vec::new());
    };
    let pem_name = format!("{}.pem", stem.to_string_lossy());
    let pem = etc_certs.join(&pem_name);
    let system_anchor = opts.family.anchors_dir().join(crt);
    let mut links = Vec::new();
    match std::fs::read_link(&pem) {
        Ok(target) if target == system_anchor || target == anchor => links.push(pem.clone()),
        // Not a link, or a link to something else: not ours, leave it and its hash links.
        Ok(_) => return Ok(links),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return Ok(links),
        Err(e) => return Err(read_err(&pem)(e)),
    }
    let entries = match std::fs::read_dir(&etc_certs) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(links),
        Err(e) => return Err(read_err(&etc_certs)(e)),
    };
    let system_pem = Path::new("/etc/ssl/certs").join(&pem_name);
    let mut hashes = Vec::new();
    for entry in entries {
        let path = entry.map_err(read_err(&etc_certs))?.path();
        if path == pem {
            continue;
        }
        if let Ok(target) = std::fs::read_link(&path)
            && (target == Path::new(&pem_name) || target == system_pem || target == pem)
        {
            hashes.push(path);
        }
    }
    hashes.sort();
    links.extend(hashes);
    Ok(links)
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
    run(argv)?;
    Ok(TrustAction::Refreshed { command })
}

/// Runs `argv`; a failure to start or a non-zero exit is an error naming the command, with its
/// standard error.
fn run(argv: &[&str]) -> Result<()> {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    run_command(cmd, &argv.join(" "), None)
}

/// Runs `cmd` (named `command` in errors) with `input` on its stdin (else none); a failure to
/// start or a non-zero exit is an error with its standard error.
fn run_command(mut cmd: Command, command: &str, input: Option<&[u8]>) -> Result<()> {
    use std::io::Write as _;
    use std::process::Stdio;
    let spawn_err = |source| Error::RefreshSpawn {
        command: command.to_string(),
        source,
    };
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).map_err(spawn_err)?;
    }
    let output = child.wait_with_output().map_err(spawn_err)?;
    if !output.status.success() {
        return Err(Error::RefreshFailed {
            command: command.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn detects_the_family_from_os_release() {
        let cases: &[(&str, &str, Result<OsFamily, &str>)] = &[
            (
                "RHEL 9",
                "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\n\
                 ID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n",
                Ok(OsFamily::Rhel),
            ),
            (
                "Fedora",
                "NAME=\"Fedora Linux\"\nID=fedora\n",
                Ok(OsFamily::Rhel),
            ),
            (
                "CentOS Stream",
                "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\n",
                Ok(OsFamily::Rhel),
            ),
            (
                "Rocky",
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
                Ok(OsFamily::Rhel),
            ),
            (
                "Debian 12",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
                Ok(OsFamily::Debian),
            ),
            (
                "Ubuntu",
                "ID=ubuntu\nID_LIKE=debian\n",
                Ok(OsFamily::Debian),
            ),
            (
                "Alpine",
                "ID=alpine\n",
                Err("unsupported operating system `alpine` (ID_LIKE ``)"),
            ),
            (
                "SUSE",
                "ID=\"sles\"\nID_LIKE=\"suse\"\n",
                Err("unsupported operating system `sles` (ID_LIKE `suse`)"),
            ),
        ];
        for (name, text, want) in cases {
            let got = detect_os_family(text).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{name}");
        }
    }

    fn ca_pem() -> String {
        let opts = crate::GenerateOptions {
            hostname: "mirror.example.com".into(),
            key_type: crate::KeyType::EcdsaP256,
            ..Default::default()
        };
        crate::generate_ca(&opts, SystemTime::now())
            .unwrap()
            .cert_pem
    }

    /// Every file under `root`, relative, with its content.
    fn tree(root: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(root).unwrap().display().to_string();
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn install_and_remove_in_a_temp_root() {
        let ca = ca_pem();
        let cases = [
            (
                OsFamily::Rhel,
                "etc/pki/ca-trust/source/anchors/mirrorctl-mirror.example.com_5000.crt",
                "update-ca-trust extract",
            ),
            (
                OsFamily::Debian,
                "usr/local/share/ca-certificates/mirrorctl-mirror.example.com_5000.crt",
                "update-ca-certificates",
            ),
        ];
        for (family, anchor_rel, command) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path();
            let mut opts = TrustOptions::new(root, ca.clone(), "mirror.example.com:5000", family);
            assert!(!opts.run_refresh, "no refresh outside /");
            let anchor = root.join(anchor_rel);
            let containers = root.join("etc/containers/certs.d/mirror.example.com:5000/ca.crt");
            let command = command.to_string();

            opts.dry_run = true;
            let planned = install_trust(&opts).unwrap();
            assert_eq!(
                planned,
                TrustReport {
                    dry_run: true,
                    actions: vec![
                        TrustAction::Created {
                            path: anchor.clone()
                        },
                        TrustAction::Created {
                            path: containers.clone()
                        },
                        TrustAction::RefreshSkipped {
                            command: command.clone()
                        },
                    ],
                },
                "{family:?}"
            );
            assert_eq!(tree(root), vec![], "{family:?}: dry run writes nothing");

            opts.dry_run = false;
            let installed = install_trust(&opts).unwrap();
            assert_eq!(
                (installed.changed(), &installed.actions[..]),
                (true, &planned.actions[..]),
                "{family:?}"
            );
            assert_eq!(
                tree(root),
                vec![
                    (
                        "etc/containers/certs.d/.mirrorctl-created".to_string(),
                        String::new()
                    ),
                    (
                        "etc/containers/certs.d/mirror.example.com:5000/ca.crt".to_string(),
                        ca.clone()
                    ),
                    (anchor_rel.to_string(), ca.clone()),
                ],
                "{family:?}"
            );
            for path in [&anchor, &containers] {
                let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o644, "{family:?}");
            }

            let modified = std::fs::metadata(&anchor).unwrap().modified().unwrap();
            let again = install_trust(&opts).unwrap();
            assert_eq!(
                (again.changed(), again.actions),
                (
                    false,
                    vec![
                        TrustAction::Unchanged {
                            path: anchor.clone()
                        },
                        TrustAction::Unchanged {
                            path: containers.clone()
                        },
                    ]
                ),
                "{family:?}"
            );
            assert_eq!(
                std::fs::metadata(&anchor).unwrap().modified().unwrap(),
                modified,
                "{family:?}: not rewritten"
            );

            let new_ca = ca_pem();
            let updated = install_trust(&TrustOptions {
                ca_pem: new_ca.clone(),
                ..opts.clone()
            })
            .unwrap();
            assert_eq!(
                updated.actions,
                vec![
                    TrustAction::Updated {
                        path: anchor.clone()
                    },
                    TrustAction::Updated {
                        path: containers.clone()
                    },
                    TrustAction::RefreshSkipped {
                        command: command.clone()
                    },
                ],
                "{family:?}"
            );
            assert_eq!(std::fs::read_to_string(&anchor).unwrap(), new_ca);

            opts.dry_run = true;
            let planned = remove_trust(&opts).unwrap();
            assert_eq!(tree(root).len(), 3, "{family:?}: dry run removes nothing");
            opts.dry_run = false;
            let removed = remove_trust(&opts).unwrap();
            let want = vec![
                TrustAction::Removed {
                    path: anchor.clone(),
                },
                TrustAction::Removed {
                    path: containers.clone(),
                },
                TrustAction::RefreshSkipped {
                    command: command.clone(),
                },
            ];
            assert_eq!((&planned.actions, &removed.actions), (&want, &want));
            assert_eq!(tree(root), vec![], "{family:?}");
            assert!(!containers.parent().unwrap().exists(), "{family:?}");

            let again = remove_trust(&opts).unwrap();
            assert_eq!(
                (again.changed(), again.actions),
                (
                    false,
                    vec![
                        TrustAction::Absent { path: anchor },
                        TrustAction::Absent { path: containers },
                    ]
                ),
                "{family:?}"
            );
        }
    }

    /// Every entry under `root`, relative: directories end in `/`, symlinks show their target.
    fn listing(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.is_symlink() {
                    let target = std::fs::read_link(&path).unwrap();
                    out.push(format!("{rel} -> {}", target.display()));
                } else if meta.is_dir() {
                    out.push(format!("{rel}/"));
                    stack.push(path);
                } else {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn remove_leaves_the_store_as_before_install() {
        let ca = ca_pem();
        let crt = "/usr/local/share/ca-certificates/mirrorctl-mirror.example.com_5000.crt";
        let pem = "mirrorctl-mirror.example.com_5000.pem";
        // (name, pre-existing certs.d, links update-ca-certificates makes for our anchor)
        type Case<'a> = (&'a str, bool, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("fresh host", false, &[(pem, crt), ("0a1b2c3d.0", pem)]),
            (
                "certs.d already there, absolute hash link",
                true,
                &[
                    (pem, crt),
                    (
                        "0a1b2c3d.1",
                        "/etc/ssl/certs/mirrorctl-mirror.example.com_5000.pem",
                    ),
                ],
            ),
            ("links never made", true, &[]),
        ];
        for (name, has_certs_d, links) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path();
            let certs = root.join("etc/ssl/certs");
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::create_dir_all(root.join("usr/local/share/ca-certificates")).unwrap();
            std::fs::create_dir_all(root.join("etc/containers")).unwrap();
            // Someone else's certificate, with a hash that collides with ours.
            std::os::unix::fs::symlink(
                "/usr/share/ca-certificates/x/Other.crt",
                certs.join("Other.pem"),
            )
            .unwrap();
            std::os::unix::fs::symlink("Other.pem", certs.join("0a1b2c3d.0.other")).unwrap();
            if *has_certs_d {
                std::fs::create_dir_all(root.join("etc/containers/certs.d/other:5000")).unwrap();
            }
            let before = listing(root);

            let opts = TrustOptions::new(
                root,
                ca.clone(),
                "mirror.example.com:5000",
                OsFamily::Debian,
            );
            install_trust(&opts).unwrap();
            for (link, target) in *links {
                std::os::unix::fs::symlink(target, certs.join(link)).unwrap();
            }
            let dry = remove_trust(&TrustOptions {
                dry_run: true,
                ..opts.clone()
            })
            .unwrap();
            let removed = remove_trust(&opts).unwrap();
            assert_eq!(dry.actions, removed.actions, "{name}");
            let mut want_removed: Vec<PathBuf> = vec![
                root.join(crt.trim_start_matches('/')),
                root.join("etc/containers/certs.d/mirror.example.com:5000/ca.crt"),
            ];
            want_removed.extend(links.iter().map(|(link, _)| certs.join(link)));
            let got_removed: Vec<PathBuf> = removed
                .actions
                .iter()
                .filter_map(|a| match a {
                    TrustAction::Removed { path } => Some(path.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(got_removed, want_removed, "{name}");
            assert_eq!(listing(root), before, "{name}");
        }
    }

    #[test]
    fn refuses_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            (
                TrustOptions::new(tmp.path(), ca_pem(), "", OsFamily::Rhel),
                "invalid registry ``: expected `host:port`",
            ),
            (
                TrustOptions::new(tmp.path(), ca_pem(), "../etc:5000", OsFamily::Rhel),
                "invalid registry `../etc:5000`: expected `host:port` with letters, digits, \
                 `.`, `-`, `_`, `:`, `[` and `]`",
            ),
            (
                TrustOptions::new(tmp.path(), "not a pem", "mirror:5000", OsFamily::Debian),
                "bad certificate in `CA PEM`: no `BEGIN CERTIFICATE` block",
            ),
        ];
        for (opts, want) in cases {
            assert_eq!(install_trust(&opts).unwrap_err().to_string(), want);
        }
        assert_eq!(tree(tmp.path()), vec![]);
    }

    #[test]
    fn refresh_failures_name_the_command() {
        let err = run(&["sh", "-c", "echo 'cannot lock store' >&2; exit 3"]).unwrap_err();
        assert_eq!(
            (err.to_string(), err.hint()),
            (
                "`sh -c echo 'cannot lock store' >&2; exit 3` failed (exit status: 3): \
                 cannot lock store"
                    .to_string(),
                Some("run `sh -c echo 'cannot lock store' >&2; exit 3` as root".to_string())
            )
        );
        let err = run(&["mirrorctl-no-such-command"]).unwrap_err();
        assert_eq!(err.to_string(), "cannot run `mirrorctl-no-such-command`");
        run(&["true"]).unwrap();
    }
}
