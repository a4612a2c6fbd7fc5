//! The bundle's own files once its images are in: the inventory of images and blobs, the
//! OCI layout's index and one-entry indexes, the release records, and the loose files
//! (signatures, upgrade graphs, the ImageSetConfiguration) with their sha256.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::format::{
    BlobEntry, BundleImage, BundleMetadata, BundleRelease, Descriptor, FileEntry, INDEX,
    OCI_LAYOUT, OCI_LAYOUT_JSON, OciIndex, REF_NAME, SIGNATURES_DIR, SOURCE_ANNOTATION, blob_path,
    ref_dir,
};
use super::sink::BundleSink;
use super::upgrade::{GRAPH_DIR, IMAGESET_FILE};
use super::write::bundle_repository;
use crate::copy::Sink;
use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;
use crate::manifest::{ManifestKind, parse_kind};
use crate::reference::ImageRef;
use crate::release::mirror::{ImageEntry, MirrorReport};

/// The images of the bundle: those the run's report lists (optional ones the source lacks
/// left out), then those an earlier run recorded that this run did not plan (the engine
/// plans no signature job for an image already complete, so a rerun's report lacks them).
pub(crate) fn images_found(
    report: &[ImageEntry],
    old: Option<&BundleMetadata>,
) -> Result<Vec<BundleImage>, Error> {
    let mut out = Vec::new();
    for w in report {
        let (true, Some(digest)) = (w.present, &w.digest) else {
            continue;
        };
        let reference = w
            .source
            .strip_prefix(&w.source_repository)
            .map(|r| r.trim_start_matches([':', '@']))
            .unwrap_or_default()
            .to_string();
        out.push(BundleImage {
            name: w.name.clone(),
            source: w.source_repository.clone(),
            reference,
            digest: digest.clone(),
            media_type: String::new(),
            size: 0,
            repository: ImageRef::parse(&w.target)?.repo.path,
            tag: w.tag.clone(),
            role: serde_json::to_value(w.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            oci_ref: None,
        });
    }
    let key = |i: &BundleImage| {
        (
            i.repository.clone(),
            i.tag.clone().unwrap_or_else(|| i.digest.to_string()),
        )
    };
    let seen: BTreeSet<(String, String)> = out.iter().map(key).collect();
    for i in old.map(|o| o.images.as_slice()).unwrap_or_default() {
        if !seen.contains(&key(i)) {
            out.push(BundleImage {
                oci_ref: None,
                ..i.clone()
            });
        }
    }
    Ok(out)
}

/// Every image with its manifest's media type and size, and every blob the images reference:
/// those in the bundle, and those left to the earlier bundle. A blob in neither means the
/// mirror did not finish, which is an error.
pub(crate) async fn inventory(
    sink: &BundleSink,
    found: Vec<BundleImage>,
    base: &BTreeSet<Digest>,
) -> Result<(Vec<BundleImage>, Vec<BlobEntry>, Vec<BlobEntry>), Error> {
    let repo = bundle_repository();
    let mut carried: BTreeMap<Digest, BlobEntry> = BTreeMap::new();
    let mut required: BTreeMap<Digest, BlobEntry> = BTreeMap::new();
    let mut images = Vec::new();
    let missing = |d: &Digest| Error::Bundle {
        path: sink.dir().join(blob_path(d)),
        reason: "missing: the mirror into the bundle did not finish".into(),
        hint: Box::new(Hint::BundleIncomplete),
    };
    for mut img in found {
        let m = sink
            .manifest(&repo, &img.digest)
            .await?
            .ok_or_else(|| missing(&img.digest))?;
        let mut stack = vec![m.clone()];
        while let Some(m) = stack.pop() {
            carried.insert(
                m.digest.clone(),
                BlobEntry {
                    digest: m.digest.clone(),
                    size: m.bytes.len() as u64,
                    media_type: m.media_type.clone(),
                },
            );
            let kind = parse_kind(&m.media_type, &m.bytes).map_err(|reason| Error::Manifest {
                target: blob_path(&m.digest),
                reason,
            })?;
            match kind {
                ManifestKind::List { children } => {
                    for c in children {
                        let child = sink
                            .manifest(&repo, &c.digest)
                            .await?
                            .ok_or_else(|| missing(&c.digest))?;
                        stack.push(child);
                    }
                }
                ManifestKind::Image { config, layers } => {
                    for b in std::iter::once(config).chain(layers) {
                        let e = BlobEntry {
                            digest: b.digest.clone(),
                            size: b.size,
                            media_type: b.media_type,
                        };
                        if sink.store().locate_blob(&b.digest).is_some() {
                            carried.insert(b.digest, e);
                        } else if base.contains(&b.digest) {
                            required.insert(b.digest, e);
                        } else {
                            return Err(missing(&b.digest));
                        }
                    }
                }
            }
        }
        img.media_type.clone_from(&m.media_type);
        img.size = m.bytes.len() as u64;
        images.push(img);
    }
    Ok((
        images,
        carried.into_values().collect(),
        required.into_values().collect(),
    ))
}

/// Writes `oci-layout`, `index.json` (a descriptor per image, tagged ones named
/// `<repository>:<tag>`) and a one-entry index per image under `refs/` (for readers that
/// cannot read Docker media types by name); a file already holding the same bytes is left
/// alone.
pub(crate) fn write_layout(
    sink: &BundleSink,
    mut images: Vec<BundleImage>,
) -> Result<Vec<BundleImage>, Error> {
    let ensure = |rel: &str, bytes: &[u8]| -> Result<(), Error> {
        if sink.store().read_sync(rel, 64 << 20)?.as_deref() == Some(bytes) {
            return Ok(());
        }
        sink.write_file(rel, bytes)
    };
    ensure(OCI_LAYOUT, OCI_LAYOUT_JSON)?;
    let mut all = Vec::new();
    for (n, img) in images.iter_mut().enumerate() {
        let plain = Descriptor {
            media_type: img.media_type.clone(),
            digest: img.digest.clone(),
            size: img.size,
            annotations: BTreeMap::new(),
        };
        let dir = ref_dir(n + 1);
        ensure(&format!("{dir}/{OCI_LAYOUT}"), OCI_LAYOUT_JSON)?;
        ensure(
            &format!("{dir}/{INDEX}"),
            &OciIndex::new(vec![plain.clone()]).to_bytes(),
        )?;
        img.oci_ref = Some(dir);
        let mut named = plain;
        if let Some(t) = &img.tag {
            named
                .annotations
                .insert(REF_NAME.into(), format!("{}:{t}", img.repository));
        }
        named.annotations.insert(
            SOURCE_ANNOTATION.into(),
            format!("{}@{}", img.source, img.digest),
        );
        all.push(named);
    }
    ensure(INDEX, &OciIndex::new(all).to_bytes())?;
    Ok(images)
}

pub(crate) fn bundle_releases(report: &MirrorReport, images: &[BundleImage]) -> Vec<BundleRelease> {
    report
        .releases
        .iter()
        .map(|r| BundleRelease {
            version: r.version.clone(),
            architecture: r.architecture.clone(),
            source: r.release.clone(),
            digest: r.digest.clone(),
            media_type: images
                .iter()
                .find(|i| i.digest == r.digest)
                .map(|i| i.media_type.clone())
                .unwrap_or_default(),
            components: r.components,
            signature: serde_json::to_value(r.signatures.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
        })
        .collect()
}

/// The loose files listed in the metadata, with their sizes and sha256: everything under
/// `signatures/` and `graph/` (temporary files left by an interrupted write aside), and the
/// ImageSetConfiguration's copy.
pub(crate) fn listed_files(dir: &Path) -> Result<Vec<FileEntry>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(SIGNATURES_DIR), dir.join(GRAPH_DIR)];
    let mut files = vec![dir.join(IMAGESET_FILE)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let e = e.map_err(|e| Error::io("read directory", &d, e))?;
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for p in files {
        if !p.is_file() {
            continue;
        }
        let (size, sha256) = super::volume::file_sha256(&p)?;
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        out.push(FileEntry {
            path: rel,
            size,
            sha256,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Writes the upgrade files (`graph/...`, the ImageSetConfiguration) atomically, a file
/// already holding the same bytes left alone, and removes saved graphs an earlier,
/// unfinished run left that this run did not read.
pub(crate) fn write_upgrade_files(
    sink: &BundleSink,
    files: &[(String, Vec<u8>)],
) -> Result<(), Error> {
    let root = sink.dir().to_path_buf();
    let keep: BTreeSet<&str> = files.iter().map(|(rel, _)| rel.as_str()).collect();
    let graphs = root.join(GRAPH_DIR);
    if let Ok(rd) = std::fs::read_dir(&graphs) {
        for e in rd.filter_map(Result::ok) {
            let rel = format!("{GRAPH_DIR}/{}", e.file_name().to_string_lossy());
            if !keep.contains(rel.as_str()) && e.path().is_file() {
                std::fs::remove_file(e.path()).map_err(|err| Error::io("remove", e.path(), err))?;
            }
        }
    }
    if !keep.contains(IMAGESET_FILE) && root.join(IMAGESET_FILE).is_file() {
        std::fs::remove_file(root.join(IMAGESET_FILE))
            .map_err(|e| Error::io("remove", root.join(IMAGESET_FILE), e))?;
    }
    for (rel, bytes) in files {
        if std::fs::read(root.join(rel)).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        sink.write_file(rel, bytes)?;
    }
    Ok(())
}
