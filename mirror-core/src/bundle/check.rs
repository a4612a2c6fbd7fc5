//! Checking a bundle (`bundle verify`, and the checks before publishing) and describing it
//! (`bundle info`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::{
    BLOBS, BundleLayout, BundleMetadata, CHECKSUM_FILE, INDEX, OCI_LAYOUT, TMP_DIR, blob_digest,
    blob_path,
};
use super::volume::{Loc, file_sha256, range_sha256};
use crate::digest::DigestHasher;
use crate::error::Error;
use crate::hint::Hint;

/// The largest file FAT32 holds: 4 GiB less one byte.
pub const FAT32_MAX_FILE: u64 = (4 << 30) - 1;

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BundleProblem {
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// The outcome of [`verify_bundle`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VerifyReport {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `BundleVerifyReport`.
    pub kind: &'static str,
    /// The bundle directory.
    pub dir: PathBuf,
    /// Its id.
    pub bundle_id: String,
    /// Directory or volumes.
    pub layout: BundleLayout,
    /// Volumes read and checked.
    pub volumes_checked: usize,
    /// Blobs (manifests included) whose size and digest were checked.
    pub blobs_checked: usize,
    /// Bytes read.
    pub bytes_checked: u64,
    /// What is wrong; empty for a sound bundle.
    pub problems: Vec<BundleProblem>,
    /// What is odd but harmless.
    pub warnings: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every file of the bundle at `dir`: each volume's presence, size and sha256 (and
/// the checksum list), each blob's presence, size and digest, the layout's own files. An
/// unreadable or unknown metadata file is an error; everything else is listed in the report.
pub fn verify_bundle(dir: &Path) -> Result<VerifyReport, Error> {
    let meta = BundleMetadata::read(dir)?;
    let mut r = VerifyReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "BundleVerifyReport",
        dir: dir.to_path_buf(),
        bundle_id: meta.bundle_id.clone(),
        layout: meta.layout,
        volumes_checked: 0,
        blobs_checked: 0,
        bytes_checked: 0,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    // name -> (file, size, sha256 hex) of every file found in the volumes.
    let mut members: BTreeMap<String, (PathBuf, u64, String)> = BTreeMap::new();
    for v in &meta.volumes {
        let path = dir.join(&v.name);
        let problem = |reason: String| BundleProblem {
            path: path.clone(),
            reason,
        };
        match std::fs::metadata(&path) {
            Err(_) => {
                r.problems.push(problem("missing".into()));
                continue;
            }
            Ok(m) if m.len() != v.size => r.problems.push(problem(format!(
                "has {} bytes, the bundle lists {}{}",
                m.len(),
                v.size,
                if m.len() < v.size { " (cut short)" } else { "" }
            ))),
            Ok(_) => {}
        }
        match scan_volume(&path) {
            Ok((total, sha, found)) => {
                r.volumes_checked += 1;
                r.bytes_checked += total;
                if sha != v.sha256 {
                    r.problems.push(problem(format!(
                        "sha256 is {sha}, the bundle lists {}",
                        v.sha256
                    )));
                }
                for (name, size, sha) in found {
                    members.insert(name, (path.clone(), size, sha));
                }
            }
            Err(reason) => r.problems.push(problem(reason)),
        }
    }
    if !meta.volumes.is_empty() {
        check_checksum_list(dir, &meta, &mut r);
    }
    check_blobs(dir, &meta, &members, &mut r)?;
    for f in &meta.files {
        let path = dir.join(&f.path);
        match file_sha256(&path) {
            Err(_) => r.problems.push(BundleProblem {
                path,
                reason: "missing".into(),
            }),
            Ok((size, sha)) if size != f.size || sha != f.sha256 => {
                r.problems.push(BundleProblem {
                    path,
                    reason: format!(
                        "has {size} bytes hashing to {sha}, the bundle lists {} bytes hashing to {}",
                        f.size, f.sha256
                    ),
                })
            }
            Ok((size, _)) => r.bytes_checked += size,
        }
    }
    for f in [OCI_LAYOUT, INDEX] {
        if !members.contains_key(f) && !dir.join(f).is_file() {
            r.problems.push(BundleProblem {
                path: dir.join(f),
                reason: "missing".into(),
            });
        }
    }
    if dir.join(TMP_DIR).exists() {
        r.warnings.push(format!(
            "`{}` is left from a run that did not finish; the bundle it describes is complete",
            dir.join(TMP_DIR).display()
        ));
    }
    Ok(r)
}

/// Each blob the metadata lists: in a volume (already hashed) or loose (hashed now).
fn check_blobs(
    dir: &Path,
    meta: &BundleMetadata,
    members: &BTreeMap<String, (PathBuf, u64, String)>,
    r: &mut VerifyReport,
) -> Result<(), Error> {
    for b in &meta.blobs.list {
        let rel = blob_path(&b.digest);
        let (path, size, sha) = match members.get(&rel) {
            Some(m) => m.clone(),
            None => {
                let path = dir.join(&rel);
                let Ok(m) = std::fs::metadata(&path) else {
                    let where_ = if meta.volumes.is_empty() {
                        path
                    } else {
                        dir.to_path_buf()
                    };
                    r.problems.push(BundleProblem {
                        path: where_,
                        reason: format!("`{rel}` is missing"),
                    });
                    continue;
                };
                let loc = Loc {
                    file: path.clone(),
                    offset: 0,
                    size: m.len(),
                };
                let sha = range_sha256(&loc)?.unwrap_or_default();
                r.bytes_checked += m.len();
                (path, m.len(), sha)
            }
        };
        r.blobs_checked += 1;
        if size != b.size {
            r.problems.push(BundleProblem {
                path,
                reason: format!("`{rel}` has {size} bytes, the bundle lists {}", b.size),
            });
        } else if sha != b.digest.hex() {
            r.problems.push(BundleProblem {
                path,
                reason: format!("`{rel}` holds bytes that hash to `sha256:{sha}`"),
            });
        }
    }
    if meta.volumes.is_empty()
        && let Ok(rd) = std::fs::read_dir(dir.join(BLOBS))
    {
        let listed: std::collections::BTreeSet<_> =
            meta.blobs.list.iter().map(|b| &b.digest).collect();
        for e in rd.flatten() {
            let rel = format!("{BLOBS}/{}", e.file_name().to_string_lossy());
            if blob_digest(&rel).is_none_or(|d| !listed.contains(&d)) {
                r.warnings
                    .push(format!("`{rel}` is not part of the bundle (ignored)"));
            }
        }
    }
    Ok(())
}

/// The checksum list agrees with the metadata.
fn check_checksum_list(dir: &Path, meta: &BundleMetadata, r: &mut VerifyReport) {
    let path = dir.join(CHECKSUM_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        r.warnings.push(format!(
            "`{}` is missing; the metadata's checksums were used",
            path.display()
        ));
        return;
    };
    for v in &meta.volumes {
        let listed = text
            .lines()
            .find_map(|l| l.split_once("  ").filter(|(_, n)| *n == v.name))
            .map(|(sha, _)| sha.to_string());
        if listed.as_deref() != Some(&v.sha256) {
            r.problems.push(BundleProblem {
                path: path.clone(),
                reason: format!(
                    "lists `{}` as {}, the metadata as {}",
                    v.name,
                    listed.as_deref().unwrap_or("nothing"),
                    v.sha256
                ),
            });
        }
    }
}

/// Reads a volume once: its sha256, and each member's name, size and sha256.
#[allow(clippy::type_complexity)]
fn scan_volume(path: &Path) -> Result<(u64, String, Vec<(String, u64, String)>), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader = Hashing {
        inner: BufReader::with_capacity(1 << 20, file),
        hasher: DigestHasher::new(),
        total: 0,
    };
    let mut archive = tar::Archive::new(reader);
    let mut found = Vec::new();
    {
        let entries = archive
            .entries()
            .map_err(|e| format!("not a tar volume: {e}"))?;
        let mut buf = vec![0; 1 << 20];
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("unreadable (cut short?): {e}"))?;
            let name = entry
                .path()
                .map_err(|e| format!("unreadable name: {e}"))?
                .to_string_lossy()
                .into_owned();
            let mut h = DigestHasher::new();
            let mut size = 0u64;
            loop {
                let n = entry
                    .read(&mut buf)
                    .map_err(|e| format!("`{name}` is unreadable (cut short?): {e}"))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                size += n as u64;
            }
            if size != entry.size() {
                return Err(format!(
                    "cut short: `{name}` has {size} of its {} bytes",
                    entry.size()
                ));
            }
            found.push((name, size, h.finish().hex().to_string()));
        }
    }
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| format!("unreadable: {e}"))?;
    let total = rest.total;
    Ok((total, rest.hasher.finish().hex().to_string(), found))
}

/// A reader that hashes and counts what passes.
struct Hashing<R> {
    inner: R,
    hasher: DigestHasher,
    total: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.total += n as u64;
        Ok(n)
    }
}

/// The checks made before publishing: every volume present with its size and sha256 (read
/// whole), or every loose blob present with its size (digests are checked while streaming).
/// The first problem is the error, naming its file; the count of others is added.
pub(crate) fn check_before_publish(dir: &Path, meta: &BundleMetadata) -> Result<(), Error> {
    let mut problems: Vec<BundleProblem> = Vec::new();
    for v in &meta.volumes {
        let path = dir.join(&v.name);
        match std::fs::metadata(&path) {
            Err(_) => problems.push(BundleProblem {
                path,
                reason: "missing: the bundle lists this volume".into(),
            }),
            Ok(m) if m.len() != v.size => problems.push(BundleProblem {
                path,
                reason: format!(
                    "has {} bytes, the bundle lists {}{}",
                    m.len(),
                    v.size,
                    if m.len() < v.size { " (cut short)" } else { "" }
                ),
            }),
            Ok(_) => {
                let (_, sha) = file_sha256(&path)?;
                if sha != v.sha256 {
                    problems.push(BundleProblem {
                        path,
                        reason: format!("sha256 is {sha}, the bundle lists {}", v.sha256),
                    });
                }
            }
        }
    }
    if meta.volumes.is_empty() {
        for b in &meta.blobs.list {
            let path = dir.join(blob_path(&b.digest));
            match std::fs::metadata(&path) {
                Err(_) => problems.push(BundleProblem {
                    path,
                    reason: "missing".into(),
                }),
                Ok(m) if m.len() != b.size => problems.push(BundleProblem {
                    path,
                    reason: format!("has {} bytes, the bundle lists {}", m.len(), b.size),
                }),
                Ok(_) => {}
            }
        }
    }
    for f in &meta.files {
        let path = dir.join(&f.path);
        match std::fs::metadata(&path) {
            Err(_) => problems.push(BundleProblem {
                path,
                reason: "missing".into(),
            }),
            Ok(m) if m.len() != f.size => problems.push(BundleProblem {
                path,
                reason: format!("has {} bytes, the bundle lists {}", m.len(), f.size),
            }),
            Ok(_) => {}
        }
    }
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let more = match problems.len() {
        1 => String::new(),
        n => format!(" (and {} more problems)", n - 1),
    };
    Err(Error::Bundle {
        path: first.path.clone(),
        reason: format!("{}{more}; nothing was published", first.reason),
        hint: Box::new(Hint::BundleDamaged),
    })
}

/// What `bundle info` shows.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BundleInfo {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `BundleInfo`.
    pub kind: &'static str,
    /// The bundle directory.
    pub dir: PathBuf,
    /// The metadata, as written.
    pub bundle: BundleMetadata,
    /// The largest file a medium must hold (a volume, or a blob).
    pub largest_file: u64,
    /// True when every file fits on FAT32 (under 4 GiB).
    pub fits_fat32: bool,
}

/// Reads the bundle at `dir` (its metadata only; nothing is hashed).
pub fn bundle_info(dir: &Path) -> Result<BundleInfo, Error> {
    let bundle = BundleMetadata::read(dir)?;
    let largest_file = if bundle.volumes.is_empty() {
        bundle.blobs.list.iter().map(|b| b.size).max().unwrap_or(0)
    } else {
        bundle.volumes.iter().map(|v| v.size).max().unwrap_or(0)
    };
    Ok(BundleInfo {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "BundleInfo",
        dir: dir.to_path_buf(),
        fits_fat32: largest_file <= FAT32_MAX_FILE,
        largest_file,
        bundle,
    })
}
