//! Writing a bundle (`release mirror --to-dir`): the same mirror as into a registry, through
//! [`BundleSink`]; then the layout's index, the volumes, and the metadata file last.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::format::{
    BLOBS, BlobSet, BundleLayout, BundleMetadata, CHECKSUM_FILE, METADATA_FILE, METADATA_KIND,
    SCHEMA_VERSION, SIGNATURES_DIR, SinceInfo, TMP_DIR, ToolInfo, VolumeEntry, new_bundle_id,
    now_rfc3339,
};
use super::layout::{
    bundle_releases, images_found, inventory, listed_files, write_layout, write_upgrade_files,
};
use super::pack::{MIN_ARCHIVE_SIZE, loose_files, pack};
use super::sink::{BundleSink, free_space, no_space};
use super::upgrade::{BundleUpgrade, IMAGESET_FILE, upgrade_files};
use super::volume::sync_dir;
use crate::copy::{CopyPlan, DEFAULT_MAX_PER_REGISTRY, Source};
use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;
use crate::progress::{MirrorEvent, Progress};
use crate::reference::Repository;
use crate::registry::RetryPolicy;
use crate::release::mirror::{
    MirrorOptions, MirrorReport, MirrorRequest, ReleaseEntry, mirror_releases,
};
use crate::release::signature::SignatureOptions;
use crate::upgrade::UpgradePlan;

/// The registry name the bundle's images are keyed under (never contacted; `.invalid` is
/// reserved for names that resolve nowhere).
pub const BUNDLE_REGISTRY: &str = "bundle.mirrorctl.invalid";
/// The repository path release images and components get in a bundle (as `oc`'s
/// `file://openshift/release`).
pub const BUNDLE_REPOSITORY: &str = "openshift/release";

/// The repository a bundle's release images are written to.
pub fn bundle_repository() -> Repository {
    Repository {
        registry: BUNDLE_REGISTRY.into(),
        path: BUNDLE_REPOSITORY.into(),
    }
}

/// Settings for [`write_bundle`].
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// The bundle directory (`--to-dir`): new, empty, or a bundle to continue.
    pub dir: PathBuf,
    /// Write the files as tar volumes of at most this many bytes (`--archive-size`).
    pub archive_size: Option<u64>,
    /// An earlier bundle (its directory or metadata file): blobs it carried or relied on are
    /// left out (`--since`).
    pub since: Option<PathBuf>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Transfers in flight at once. Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_per_registry: usize,
    /// How a streamed blob copy is retried as a whole.
    pub retry: RetryPolicy,
    /// The commands to run on the disconnected side, recorded in the metadata (worded by the
    /// program that embeds this library).
    pub instructions: Vec<String>,
    /// Release signatures: checked as for a registry mirror; once verified, the ConfigMap and
    /// the store tree are written into the bundle's `signatures/` (their `to_dir` is
    /// replaced), so the far side verifies offline. `skip` also skips sigstore tags.
    pub signatures: SignatureOptions,
    /// The upgrade plan the releases were picked with (channels from the upgrade graph):
    /// every graph read is saved as `graph/<arch>-<channel>.json`, listed with its sha256,
    /// and the channels, versions and paths picked are recorded in the metadata, so the far
    /// side shows the same plan.
    pub upgrade: Option<UpgradePlan>,
    /// The ImageSetConfiguration the request came from: copied into the bundle as
    /// `imageset-config.yaml` (listed with its sha256).
    pub image_set: Option<PathBuf>,
}

impl WriteOptions {
    /// Options with defaults for bundle directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            archive_size: None,
            since: None,
            dry_run: false,
            max_per_registry: DEFAULT_MAX_PER_REGISTRY,
            retry: RetryPolicy::default(),
            instructions: Vec::new(),
            signatures: SignatureOptions::default(),
            upgrade: None,
            image_set: None,
        }
    }
}

/// The outcome of [`write_bundle`] (`--output json` prints it).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WriteReport {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `ReleaseBundleReport`.
    pub kind: &'static str,
    /// The bundle directory.
    pub dir: PathBuf,
    /// True when nothing was written.
    pub dry_run: bool,
    /// The bundle's id (none for a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Directory or volumes.
    pub layout: BundleLayout,
    /// The releases.
    pub releases: Vec<ReleaseEntry>,
    /// Images in all.
    pub images: usize,
    /// The copy plan (what the bundle lacked).
    pub plan: CopyPlan,
    /// Blobs written by this run.
    pub blobs_written: usize,
    /// Their bytes.
    pub bytes_written: u64,
    /// Blobs the bundle already held or the earlier bundle carried.
    pub blobs_skipped: usize,
    /// Their bytes.
    pub bytes_skipped: u64,
    /// Blobs left to the earlier bundle (`--since`).
    pub blobs_in_base: usize,
    /// Their bytes.
    pub bytes_in_base: u64,
    /// Free bytes needed before writing (the plan, plus a volume while packing).
    pub bytes_needed: u64,
    /// Free bytes at the bundle directory before writing.
    pub bytes_free: u64,
    /// The volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeEntry>,
    /// The earlier bundle this one builds on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<SinceInfo>,
    /// Source repositories the mirror instructions will name.
    pub mirror_sources: Vec<String>,
    /// Warnings (a file bigger than the volume size).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The commands for the disconnected side.
    pub instructions: Vec<String>,
    /// Wall time.
    pub duration_seconds: f64,
}

/// What a bundle directory holds before a run.
enum DirState {
    /// Nothing (or it does not exist).
    New,
    /// An unfinished bundle.
    Partial,
    /// A complete bundle.
    Complete(Box<BundleMetadata>),
}

/// Mirrors the releases and images of `request` from `source` into the bundle directory
/// `opts.dir`, then writes its index, its volumes (with `archive_size`) and, last, its
/// metadata file.
pub async fn write_bundle<S: Source>(
    source: &S,
    request: &MirrorRequest,
    opts: &WriteOptions,
    progress: Arc<dyn Progress>,
) -> Result<WriteReport, Error> {
    let start = Instant::now();
    check_archive_size(opts.archive_size)?;
    // Read before anything is written: a file that cannot be read stops here.
    let upgrade = upgrade_files(opts.upgrade.as_ref(), opts.image_set.as_deref())?;
    let (old, base, since) = prepare(opts, request)?;
    let reserve = opts.archive_size.unwrap_or(0).saturating_mul(2);
    let sink = if opts.dry_run {
        BundleSink::open(&opts.dir, base.clone())?
    } else {
        BundleSink::create(&opts.dir, base.clone())?
    }
    .reserve(reserve);
    let tap: Arc<dyn Progress> = Arc::new(PlanTap {
        inner: progress.clone(),
        planned: sink.planned_counter(),
    });
    let mut signatures = opts.signatures.clone();
    if !signatures.skip {
        signatures.to_dir = Some(opts.dir.join(SIGNATURES_DIR));
    }
    let mirror_opts = MirrorOptions {
        dry_run: opts.dry_run,
        max_per_registry: opts.max_per_registry,
        retry: opts.retry.clone(),
        sigstore: !signatures.skip,
        signatures,
        ..MirrorOptions::new(bundle_repository())
    };
    let report = mirror_releases(source, &sink, request, &mirror_opts, tap).await?;
    let mut out = new_report(opts, &report, reserve, since.clone());
    if opts.dry_run {
        out.duration_seconds = start.elapsed().as_secs_f64();
        return Ok(out);
    }
    let found = images_found(&report.images, old.as_ref())?;
    let (images, blobs, requires) = inventory(&sink, found, &base).await?;
    let images = write_layout(&sink, images)?;
    write_upgrade_files(&sink, &upgrade)?;
    sync_dir(&opts.dir.join(BLOBS))?;
    out.blobs_in_base = requires.len();
    out.bytes_in_base = requires.iter().map(|b| b.size).sum();
    let (mut store, _lock) = sink.into_parts();
    if opts.archive_size.is_some() || !store.volumes().is_empty() {
        let max = opts.archive_size.unwrap_or(u64::MAX);
        check_pack_space(&opts.dir, max)?;
        let known = old.as_ref().map(|o| o.volumes.clone()).unwrap_or_default();
        let mut warnings = Vec::new();
        let mut warn = |w: String| {
            progress.event(MirrorEvent::Warning(&w));
            warnings.push(w);
        };
        out.volumes = pack(&mut store, max, &known, &mut warn)?;
        out.warnings = warnings;
        out.layout = BundleLayout::Volumes;
    }
    let upgrade = (opts.upgrade.is_some() || opts.image_set.is_some()).then(|| {
        BundleUpgrade::new(
            opts.upgrade.as_ref(),
            opts.image_set.as_ref().map(|_| IMAGESET_FILE.to_string()),
        )
    });
    let mut meta = BundleMetadata {
        schema_version: SCHEMA_VERSION,
        kind: METADATA_KIND.into(),
        bundle_id: new_bundle_id(),
        created_at: now_rfc3339(),
        tool: ToolInfo {
            name: "mirrorctl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        layout: out.layout,
        since,
        releases: bundle_releases(&report, &images),
        images,
        mirror_sources: out.mirror_sources.clone(),
        blobs: BlobSet::new(blobs),
        requires: BlobSet::new(requires),
        upgrade,
        files: listed_files(&opts.dir)?,
        volumes: out.volumes.clone(),
        instructions: opts.instructions.clone(),
    };
    finish(&opts.dir, &mut meta, old.as_ref())?;
    out.bundle_id = Some(meta.bundle_id);
    out.duration_seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

fn check_archive_size(size: Option<u64>) -> Result<(), Error> {
    match size {
        Some(size) if size < MIN_ARCHIVE_SIZE => Err(Error::InvalidSetting {
            name: "archive-size".into(),
            reason: format!(
                "{} is below the smallest volume size, {}",
                crate::size::format_size(size),
                crate::size::format_size(MIN_ARCHIVE_SIZE)
            ),
        }),
        _ => Ok(()),
    }
}

/// What the directory holds already (a complete bundle of the same request, or nothing of
/// use), and the earlier bundle's blobs with `--since`.
#[allow(clippy::type_complexity)]
fn prepare(
    opts: &WriteOptions,
    request: &MirrorRequest,
) -> Result<(Option<BundleMetadata>, BTreeSet<Digest>, Option<SinceInfo>), Error> {
    let old = match inspect_dir(&opts.dir)? {
        DirState::Complete(m) => {
            check_same_request(&m, request, &opts.dir)?;
            Some(*m)
        }
        DirState::Partial | DirState::New => None,
    };
    let (base, since) = match &opts.since {
        Some(p) => {
            let m = BundleMetadata::read(p)?;
            if old.as_ref().is_some_and(|o| o.bundle_id == m.bundle_id) {
                return Err(Error::InvalidSetting {
                    name: "since".into(),
                    reason: format!("`{}` is the bundle being written", p.display()),
                });
            }
            (m.known_blobs(), Some(m.as_base()))
        }
        None => (BTreeSet::new(), None),
    };
    Ok((old, base, since))
}

/// The report of a run whose mirror into the bundle is done (counts of what is written
/// after, zero).
fn new_report(
    opts: &WriteOptions,
    report: &MirrorReport,
    reserve: u64,
    since: Option<SinceInfo>,
) -> WriteReport {
    WriteReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseBundleReport",
        dir: opts.dir.clone(),
        dry_run: opts.dry_run,
        bundle_id: None,
        layout: if opts.archive_size.is_some() {
            BundleLayout::Volumes
        } else {
            BundleLayout::Directory
        },
        releases: report.releases.clone(),
        images: report.plan.images,
        plan: report.plan.clone(),
        blobs_written: report.blobs_copied,
        bytes_written: report.bytes_copied,
        blobs_skipped: report.blobs_skipped,
        bytes_skipped: report.bytes_skipped,
        blobs_in_base: 0,
        bytes_in_base: 0,
        bytes_needed: report.plan.bytes_to_upload + reserve.min(report.plan.bytes_to_upload),
        bytes_free: free_space(&opts.dir).unwrap_or(0),
        volumes: Vec::new(),
        since,
        mirror_sources: report
            .instructions
            .sources
            .iter()
            .map(|s| s.source.clone())
            .collect(),
        warnings: Vec::new(),
        instructions: opts.instructions.clone(),
        duration_seconds: 0.0,
    }
}

/// Writes the checksum list (volumes) and the metadata file, last, unless an identical
/// bundle is already recorded; then removes the temporary directory.
fn finish(
    dir: &Path,
    meta: &mut BundleMetadata,
    old: Option<&BundleMetadata>,
) -> Result<(), Error> {
    let tmp = dir.join(TMP_DIR);
    if let Some(o) = old {
        let mut same = meta.clone();
        same.bundle_id.clone_from(&o.bundle_id);
        same.created_at.clone_from(&o.created_at);
        if &same == o {
            *meta = same;
            return remove_tmp(&tmp);
        }
    }
    if !meta.volumes.is_empty() {
        let list: String = meta
            .volumes
            .iter()
            .map(|v| format!("{}  {}\n", v.sha256, v.name))
            .collect();
        super::sink::write_atomic_in(
            &tmp.join("checksums.partial"),
            &dir.join(CHECKSUM_FILE),
            list.as_bytes(),
        )?;
    }
    super::sink::write_atomic_in(
        &tmp.join("metadata.partial"),
        &dir.join(METADATA_FILE),
        &meta.to_bytes(),
    )?;
    sync_dir(dir)?;
    remove_tmp(&tmp)
}

fn remove_tmp(tmp: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(tmp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", tmp, e)),
    }
}

/// Packing needs room for the volumes being written and closed before the files they hold
/// are removed: two at most.
fn check_pack_space(dir: &Path, max: u64) -> Result<(), Error> {
    let loose: u64 = loose_files(dir)?.iter().map(|(_, s)| s).sum();
    let needed = max.saturating_mul(2).min(loose + (1 << 20));
    match free_space(dir) {
        Some(free) if free < needed && loose > 0 => Err(no_space(dir, needed, free)),
        _ => Ok(()),
    }
}

/// Learns the plan's bytes for the sink's space check, passing every event on.
struct PlanTap {
    inner: Arc<dyn Progress>,
    planned: Arc<AtomicU64>,
}

impl Progress for PlanTap {
    fn event(&self, e: MirrorEvent<'_>) {
        if let MirrorEvent::Planned(p) = &e {
            self.planned.store(p.bytes_to_upload, Ordering::Relaxed);
        }
        self.inner.event(e);
    }
}

fn inspect_dir(dir: &Path) -> Result<DirState, Error> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirState::New),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::Bundle {
                path: dir.to_path_buf(),
                reason: "is a file, not a directory".into(),
                hint: Box::new(Hint::BundleDirNotEmpty),
            });
        }
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    if dir.join(METADATA_FILE).exists() {
        return Ok(DirState::Complete(Box::new(BundleMetadata::read(dir)?)));
    }
    if dir.join(TMP_DIR).is_dir() {
        return Ok(DirState::Partial);
    }
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(DirState::New);
    }
    names.sort();
    Err(Error::Bundle {
        path: dir.to_path_buf(),
        reason: format!(
            "is not empty and holds no bundle (it holds `{}`{})",
            names[0],
            if names.len() > 1 {
                format!(" and {} more", names.len() - 1)
            } else {
                String::new()
            }
        ),
        hint: Box::new(Hint::BundleDirNotEmpty),
    })
}

/// What a bundle was made from: its releases and additional images, as given.
fn request_sources(request: &MirrorRequest) -> BTreeSet<String> {
    request
        .releases
        .iter()
        .map(ToString::to_string)
        .chain(request.additional.iter().map(|a| a.image.to_string()))
        .collect()
}

fn check_same_request(
    m: &BundleMetadata,
    request: &MirrorRequest,
    dir: &Path,
) -> Result<(), Error> {
    let have: BTreeSet<String> = match super::source::request_of(m) {
        Ok(r) => request_sources(&r),
        Err(_) => BTreeSet::new(),
    };
    if have == request_sources(request) {
        return Ok(());
    }
    let list: Vec<String> = have.iter().map(|s| format!("`{s}`")).collect();
    Err(Error::Bundle {
        path: dir.join(METADATA_FILE),
        reason: format!(
            "holds a complete bundle of other releases: {}",
            list.join(", ")
        ),
        hint: Box::new(Hint::BundleOtherContent),
    })
}
