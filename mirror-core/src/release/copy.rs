//! Digest-exact release mirroring (docs/release-mirror.md).
//!
//! Order of work: read and validate the release; check what the target already has (a tag
//! that already points at the right digest costs one `HEAD`); fetch the manifests still
//! needed; copy every missing blob once (deduplicated across the release, `HEAD` first,
//! mounted between repositories of the target, streamed and verified); push component
//! manifests (children of lists first); push the release tag strictly last, so its presence
//! means the mirror is complete.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::instructions::{InstructionKind, MirrorInstructions};
use super::mount;
use super::payload::{Release, read_release};
use super::signature::{SignatureOptions, SignatureReport};
use crate::digest::{Digest, DigestHasher};
use crate::error::Error;
use crate::manifest::{BlobRef, ManifestKind, parse_kind};
use crate::reference::{ImageRef, Repository, Target};
use crate::registry::{MountOutcome, RegistryClient};

use super::mount::{How, Step};

/// Requests in flight per registry when nothing is said. Measured: see docs/performance.md.
pub const DEFAULT_MAX_PER_REGISTRY: usize = 8;

/// Settings for [`mirror_release`].
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// Target repository for components (`--to`), e.g. `mirror.example.com:5000/ocp4/openshift4`.
    pub to: Repository,
    /// Where the release image goes (`--to-release-image`); default `<to>:<version>-<arch>`.
    pub to_release_image: Option<ImageRef>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Transfers in flight at once (`--max-per-registry`). Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_per_registry: usize,
    /// Attempts per blob copy (each a fresh download and upload). Default 4.
    pub blob_tries: u32,
    /// Release signatures: checked before anything is copied. Default: verify with the
    /// payload's keys and stores; an unsigned release is a warning.
    pub signatures: SignatureOptions,
}

impl MirrorOptions {
    /// Options with defaults for target `to`.
    pub fn new(to: Repository) -> Self {
        Self {
            to,
            to_release_image: None,
            dry_run: false,
            max_per_registry: DEFAULT_MAX_PER_REGISTRY,
            blob_tries: 4,
            signatures: SignatureOptions::default(),
        }
    }
}

/// What happened to a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobAction {
    /// Downloaded and uploaded.
    Copied,
    /// Mounted from another repository of the target.
    Mounted,
    /// Already at the target.
    Skipped,
}

/// What happened to an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageAction {
    /// Its tag already pointed at the right digest.
    Present,
    /// The manifest was at the target; only the tag was written.
    Tagged,
    /// Copied.
    Copied,
}

/// Progress reported while mirroring. The CLI draws these; libraries never print.
#[derive(Debug)]
#[non_exhaustive]
pub enum MirrorEvent<'a> {
    /// The release was read.
    ReleaseRead {
        /// Version.
        version: &'a str,
        /// Release digest.
        digest: &'a Digest,
        /// Number of images (components + the release).
        images: usize,
    },
    /// The release signatures were checked (before anything is copied).
    Signatures(&'a SignatureReport),
    /// The plan is known.
    Planned(&'a MirrorPlan),
    /// Bytes moved (called often, per chunk).
    Bytes(u64),
    /// A blob finished.
    Blob {
        /// Its digest.
        digest: &'a Digest,
        /// Its size.
        size: u64,
        /// What was done.
        action: BlobAction,
    },
    /// An image finished.
    Image {
        /// Its name (component or `release`).
        name: &'a str,
        /// What was done.
        action: ImageAction,
    },
    /// A transfer failed and will be tried again.
    Retrying {
        /// What is retried.
        what: &'a str,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next one.
        delay: Duration,
        /// Why.
        reason: String,
    },
}

/// Receives [`MirrorEvent`]s.
pub trait Progress: Send + Sync {
    /// Called for each event; must be cheap.
    fn event(&self, event: MirrorEvent<'_>);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: MirrorEvent<'_>) {}
}

/// What a mirror will do (and, in a dry run, all it does).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MirrorPlan {
    /// Images in the release, the release image included.
    pub images: usize,
    /// Images whose tag already points at the right digest.
    pub images_present: usize,
    /// Images whose manifest is at the target but whose tag must be written.
    pub images_to_tag: usize,
    /// Images to copy.
    pub images_to_copy: usize,
    /// Unique blobs referenced by the images to copy.
    pub unique_blobs: usize,
    /// Their size after deduplication.
    pub unique_bytes: u64,
    /// Blobs to transfer (not at the target).
    pub blobs_to_copy: usize,
    /// Bytes to transfer after deduplication and after subtracting what the target holds.
    pub bytes_to_copy: u64,
    /// Blob transfers (one per blob and target repository) that will be mounted from another
    /// repository of the same registry: one filled earlier in this run, the source itself, or
    /// an earlier mirror of the release found in the registry's `_catalog`.
    pub blobs_to_mount: usize,
    /// Their bytes (nothing crosses the network for them).
    pub bytes_to_mount: u64,
    /// Blob transfers that will be streamed from the source.
    pub blobs_to_upload: usize,
    /// Their bytes: what the copy will move.
    pub bytes_to_upload: u64,
    /// The repository mounted from, per target registry, when an earlier mirror was found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mount_sources: Vec<String>,
}

/// The outcome of [`mirror_release`] (`--output json` prints it).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorReport {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `ReleaseMirrorReport`.
    pub kind: &'static str,
    /// The release as given.
    pub release: String,
    /// Its digest.
    pub release_digest: Digest,
    /// Its version.
    pub version: String,
    /// Its architecture suffix.
    pub architecture: String,
    /// Where the release image is now (`Update image:`).
    pub update_image: String,
    /// `Mirror prefix:` lines.
    pub mirror_prefixes: Vec<String>,
    /// True when nothing was written.
    pub dry_run: bool,
    /// The plan.
    pub plan: MirrorPlan,
    /// Blobs copied.
    pub blobs_copied: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Blobs mounted.
    pub blobs_mounted: usize,
    /// Bytes mounted.
    pub bytes_mounted: u64,
    /// Blobs already at the target.
    pub blobs_skipped: usize,
    /// Their bytes.
    pub bytes_skipped: u64,
    /// Wall time.
    pub duration_seconds: f64,
    /// Sources and mirrors, as data.
    pub instructions: MirrorInstructions,
    /// Which instructions fit this release (ICSP before 4.14, IDMS from 4.14).
    pub default_instructions: InstructionKind,
    /// The release signature check.
    pub signatures: SignatureReport,
}

/// A manifest to push, with its children.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) digest: Digest,
    pub(crate) media_type: String,
    bytes: Bytes,
    /// Already at the target by digest.
    present: bool,
    children: Vec<Node>,
    blobs: Vec<BlobRef>,
}

#[derive(Clone, Debug)]
struct Job {
    name: String,
    src: Repository,
    digest: Digest,
    dst: Repository,
    tag: String,
}

impl Job {
    fn label(&self) -> String {
        format!("{} ({}@{})", self.name, self.src, self.digest)
    }
}

enum JobState {
    Present,
    Tag,
    Copy(Node),
}

struct BlobTask {
    size: u64,
    src: Repository,
    /// Target repositories that still need it.
    missing: Vec<Repository>,
    used_by: String,
    /// The jobs (indices) whose images reference it.
    jobs: Vec<usize>,
    /// How each repository of `missing` gets it, in order (decided when planning).
    steps: Vec<Step>,
}

#[derive(Default)]
struct Counters {
    blobs_copied: AtomicUsize,
    bytes_copied: AtomicU64,
    blobs_mounted: AtomicUsize,
    bytes_mounted: AtomicU64,
}

/// Mirrors the release `from` into `opts.to`, digests preserved, release tag last.
pub async fn mirror_release(
    client: &RegistryClient,
    from: &ImageRef,
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let start = Instant::now();
    if opts.max_per_registry == 0 {
        return Err(Error::InvalidSetting {
            name: "max-per-registry".into(),
            reason: "must be at least 1".into(),
        });
    }
    if let Some(r) = &opts.to_release_image
        && !matches!(r.target, Target::Tag(_))
    {
        return Err(Error::InvalidSetting {
            name: "to-release-image".into(),
            reason: format!("`{r}` must name a tag, not a digest"),
        });
    }
    let release = read_release(client, from).await?;
    let signatures = super::signature::check_release(
        &release,
        &opts.signatures,
        opts.dry_run,
        progress.as_ref(),
    )
    .await?;
    let jobs = jobs_for(&release, opts)?;
    progress.event(MirrorEvent::ReleaseRead {
        version: &release.version,
        digest: &release.digest,
        images: jobs.len(),
    });
    let n = opts.max_per_registry;

    // 1. What the target already has.
    let states: Vec<JobState> = futures_util::stream::iter(jobs.iter())
        .map(|job| async move { target_state(client, job).await.map_err(|e| wrap(job, e)) })
        .buffered(n)
        .try_collect()
        .await?;

    // 2. Blobs of the images to copy, deduplicated across the release.
    let mut tasks: BTreeMap<Digest, BlobTask> = BTreeMap::new();
    let mut plan = MirrorPlan {
        images: jobs.len(),
        ..Default::default()
    };
    for (j, (job, state)) in jobs.iter().zip(&states).enumerate() {
        match state {
            JobState::Present => plan.images_present += 1,
            JobState::Tag => plan.images_to_tag += 1,
            JobState::Copy(node) => {
                plan.images_to_copy += 1;
                let mut blobs = Vec::new();
                collect_blobs(node, &mut blobs);
                for b in blobs {
                    let t = tasks.entry(b.digest.clone()).or_insert_with(|| BlobTask {
                        size: b.size,
                        src: job.src.clone(),
                        missing: Vec::new(),
                        used_by: job.label(),
                        jobs: Vec::new(),
                        steps: Vec::new(),
                    });
                    if !t.missing.contains(&job.dst) {
                        t.missing.push(job.dst.clone());
                    }
                    if !t.jobs.contains(&j) {
                        t.jobs.push(j);
                    }
                }
            }
        }
    }
    plan.unique_blobs = tasks.len();
    plan.unique_bytes = tasks.values().map(|t| t.size).sum();

    // 3. Subtract what the target holds (HEAD per repository).
    let checks: Vec<(Digest, Repository)> = tasks
        .iter()
        .flat_map(|(d, t)| t.missing.iter().map(move |r| (d.clone(), r.clone())))
        .collect();
    let present: Vec<(Digest, Repository, bool)> = futures_util::stream::iter(checks)
        .map(|(d, r)| async move {
            let there = client.blob_exists(&r, &d).await?.is_some();
            Ok::<_, Error>((d, r, there))
        })
        .buffer_unordered(n)
        .try_collect()
        .await?;
    let mut skipped = (0usize, 0u64);
    for (d, r, there) in present {
        if there && let Some(t) = tasks.get_mut(&d) {
            t.missing.retain(|x| x != &r);
            if t.missing.is_empty() {
                skipped.0 += 1;
                skipped.1 += t.size;
                progress.event(MirrorEvent::Blob {
                    digest: &d,
                    size: t.size,
                    action: BlobAction::Skipped,
                });
            }
        }
    }
    tasks.retain(|_, t| !t.missing.is_empty());
    plan.blobs_to_copy = tasks.len();
    plan.bytes_to_copy = tasks.values().map(|t| t.size).sum();

    // 3b. Mount instead of upload where the target registry already has the blob elsewhere:
    // an earlier mirror of this release (read-only checks: catalog and HEADs).
    let sources = if tasks.is_empty() {
        BTreeMap::new()
    } else {
        let mut targets: Vec<Repository> = Vec::new();
        for j in &jobs {
            if !targets.contains(&j.dst) {
                targets.push(j.dst.clone());
            }
        }
        mount::find_sources(client, &targets, &release.digest, n).await
    };
    plan.mount_sources = sources.values().map(|r| r.to_string()).collect();
    let source_checks: Vec<(Digest, Repository)> = tasks
        .iter()
        .flat_map(|(d, t)| {
            mount::registries_to_check(&t.missing, &t.src)
                .into_iter()
                .filter_map(|reg| sources.get(&reg).cloned())
                .map(move |r| (d.clone(), r))
        })
        .collect();
    let held: Vec<(Digest, String)> = futures_util::stream::iter(source_checks)
        .map(|(d, r)| async move {
            let there = client.blob_exists(&r, &d).await?.is_some();
            Ok::<_, Error>(there.then_some((d, r.registry)))
        })
        .buffer_unordered(n)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await?;
    let mut held_by: BTreeMap<Digest, BTreeSet<String>> = BTreeMap::new();
    for (d, reg) in held {
        held_by.entry(d).or_default().insert(reg);
    }
    let no_registry = BTreeSet::new();
    for (d, t) in tasks.iter_mut() {
        t.steps = mount::steps_for(
            &t.missing,
            &t.src,
            &sources,
            held_by.get(d).unwrap_or(&no_registry),
        );
        for s in &t.steps {
            if s.how == How::Upload {
                plan.blobs_to_upload += 1;
                plan.bytes_to_upload += t.size;
            } else {
                plan.blobs_to_mount += 1;
                plan.bytes_to_mount += t.size;
            }
        }
    }
    progress.event(MirrorEvent::Planned(&plan));

    let release_target = jobs
        .last()
        .map(|j| j.dst.display_ref(&j.tag))
        .unwrap_or_default();
    let counters = Arc::new(Counters::default());
    if !opts.dry_run {
        copy_and_push(
            client,
            &jobs,
            &states,
            &tasks,
            opts,
            &counters,
            progress.clone(),
        )
        .await?;
    }

    let mut mirrors = vec![opts.to.to_string()];
    let mut prefixes = vec![opts.to.to_string()];
    if let Some(r) = &opts.to_release_image {
        mirrors.push(r.repo.to_string());
        prefixes.push(r.to_string());
    }
    let instructions = MirrorInstructions::new(
        release
            .source_repositories()
            .into_iter()
            .map(|r| r.to_string()),
        &mirrors,
    );
    Ok(MirrorReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseMirrorReport",
        release: from.to_string(),
        release_digest: release.digest.clone(),
        version: release.version.clone(),
        architecture: release.architecture.clone(),
        update_image: release_target,
        mirror_prefixes: prefixes,
        dry_run: opts.dry_run,
        plan,
        blobs_copied: counters.blobs_copied.load(Ordering::Relaxed),
        bytes_copied: counters.bytes_copied.load(Ordering::Relaxed),
        blobs_mounted: counters.blobs_mounted.load(Ordering::Relaxed),
        bytes_mounted: counters.bytes_mounted.load(Ordering::Relaxed),
        blobs_skipped: skipped.0,
        bytes_skipped: skipped.1,
        duration_seconds: start.elapsed().as_secs_f64(),
        instructions,
        default_instructions: InstructionKind::default_for(&release.version),
        signatures,
    })
}

/// Steps 4 to 6: the blobs; each component's manifests as soon as its last blob is in (so
/// progress counts images while blobs still flow); the release, strictly last.
async fn copy_and_push(
    client: &RegistryClient,
    jobs: &[Job],
    states: &[JobState],
    tasks: &BTreeMap<Digest, BlobTask>,
    opts: &MirrorOptions,
    counters: &Arc<Counters>,
    progress: Arc<dyn Progress>,
) -> Result<(), Error> {
    let n = opts.max_per_registry;
    let release = jobs.len() - 1;
    let mut pending = vec![0usize; jobs.len()];
    for t in tasks.values() {
        for &j in &t.jobs {
            pending[j] += 1;
        }
    }
    // Blobs in the order of the first image that needs them, so images complete one by one.
    let mut order: Vec<(&Digest, &BlobTask)> = tasks.iter().collect();
    order.sort_by_key(|(_, t)| t.jobs.iter().min().copied().unwrap_or(usize::MAX));
    let mut blobs = futures_util::stream::iter(order)
        .map(|(digest, task)| {
            let progress = progress.clone();
            async move {
                copy_blob_everywhere(client, digest, task, opts.blob_tries, counters, progress)
                    .await
                    .map(|()| task)
            }
        })
        .buffer_unordered(n);
    let finish = |j: usize| {
        let progress = progress.clone();
        async move {
            finish_image(client, &jobs[j], &states[j], progress.as_ref())
                .await
                .map_err(|e| wrap(&jobs[j], e))
        }
    };
    let mut ready: VecDeque<usize> = (0..release).filter(|&j| pending[j] == 0).collect();
    let mut pushing = futures_util::stream::FuturesUnordered::new();
    let mut blobs_done = false;
    loop {
        while pushing.len() < n
            && let Some(j) = ready.pop_front()
        {
            pushing.push(finish(j));
        }
        if blobs_done && pushing.is_empty() {
            break;
        }
        tokio::select! {
            next = blobs.next(), if !blobs_done => match next {
                Some(task) => {
                    for &j in &task?.jobs {
                        pending[j] -= 1;
                        if pending[j] == 0 && j != release {
                            ready.push_back(j);
                        }
                    }
                }
                None => blobs_done = true,
            },
            Some(done) = pushing.next(), if !pushing.is_empty() => done?,
        }
    }
    finish(release).await
}

/// Tag rules of the distribution spec: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn jobs_for(release: &Release, opts: &MirrorOptions) -> Result<Vec<Job>, Error> {
    let prefix = format!("{}-{}", release.version, release.architecture);
    let mut jobs = Vec::with_capacity(release.components.len() + 1);
    for c in &release.components {
        let tag = format!("{prefix}-{}", c.name);
        if !valid_tag(&tag) {
            return Err(Error::Payload {
                image: release.image.to_string(),
                reason: format!("component `{}` gives the invalid tag `{tag}`", c.name),
            });
        }
        jobs.push(Job {
            name: c.name.clone(),
            src: c.image.repo.clone(),
            digest: c.digest.clone(),
            dst: opts.to.clone(),
            tag,
        });
    }
    let (dst, tag) = match &opts.to_release_image {
        Some(r) => (r.repo.clone(), r.target.as_str().to_string()),
        None => (opts.to.clone(), prefix),
    };
    jobs.push(Job {
        name: "release".into(),
        src: release.image.repo.clone(),
        digest: release.digest.clone(),
        dst,
        tag,
    });
    Ok(jobs)
}

fn wrap(job: &Job, e: Error) -> Error {
    match e {
        Error::Image { .. } => e,
        e => Error::Image {
            image: job.label(),
            source: Box::new(e),
        },
    }
}

async fn target_state(client: &RegistryClient, job: &Job) -> Result<JobState, Error> {
    if client.head_manifest(&job.dst, &job.tag).await?.as_ref() == Some(&job.digest) {
        return Ok(JobState::Present);
    }
    if client
        .head_manifest(&job.dst, job.digest.as_str())
        .await?
        .is_some()
    {
        return Ok(JobState::Tag);
    }
    Ok(JobState::Copy(
        fetch_node(client, &job.src, Some(&job.dst), &job.digest, true).await?,
    ))
}

pub(crate) async fn fetch_node(
    client: &RegistryClient,
    src: &Repository,
    dst: Option<&Repository>,
    digest: &Digest,
    top: bool,
) -> Result<Node, Error> {
    let m = client
        .get_manifest(src, digest.as_str())
        .await?
        .ok_or_else(|| Error::Registry {
            op: "get manifest",
            target: src.display_ref(digest.as_str()),
            status: 404,
            code: Some("MANIFEST_UNKNOWN".into()),
            message: Some("the release references an image the source does not have".into()),
            tries: 1,
            auth_entry: None,
        })?;
    let kind = parse_kind(&m.media_type, &m.bytes).map_err(|reason| Error::Manifest {
        target: src.display_ref(digest.as_str()),
        reason,
    })?;
    let mut node = Node {
        digest: m.digest,
        media_type: m.media_type,
        bytes: m.bytes,
        present: false,
        children: Vec::new(),
        blobs: Vec::new(),
    };
    match kind {
        ManifestKind::Image { config, layers } => {
            node.blobs.push(config);
            node.blobs.extend(layers);
        }
        ManifestKind::List { children } => {
            if !top {
                return Err(Error::Manifest {
                    target: src.display_ref(digest.as_str()),
                    reason: "nested manifest lists are not supported".into(),
                });
            }
            for c in children {
                let mut child = Box::pin(fetch_node(client, src, dst, &c.digest, false)).await?;
                if let Some(dst) = dst {
                    child.present = client
                        .head_manifest(dst, c.digest.as_str())
                        .await?
                        .is_some();
                }
                node.children.push(child);
            }
        }
    }
    Ok(node)
}

pub(crate) fn collect_blobs(node: &Node, out: &mut Vec<BlobRef>) {
    if node.present {
        return;
    }
    out.extend(node.blobs.iter().cloned());
    for c in &node.children {
        collect_blobs(c, out);
    }
}

async fn finish_image(
    client: &RegistryClient,
    job: &Job,
    state: &JobState,
    progress: &dyn Progress,
) -> Result<(), Error> {
    let action = match state {
        JobState::Present => ImageAction::Present,
        JobState::Tag => {
            let m = client
                .get_manifest(&job.dst, job.digest.as_str())
                .await?
                .ok_or_else(|| Error::Manifest {
                    target: job.dst.display_ref(job.digest.as_str()),
                    reason: "vanished from the target while mirroring".into(),
                })?;
            client
                .put_manifest(&job.dst, &job.tag, m.bytes, &m.media_type)
                .await?;
            ImageAction::Tagged
        }
        JobState::Copy(node) => {
            for c in node.children.iter().filter(|c| !c.present) {
                client
                    .put_manifest(&job.dst, c.digest.as_str(), c.bytes.clone(), &c.media_type)
                    .await?;
            }
            let d = client
                .put_manifest(&job.dst, &job.tag, node.bytes.clone(), &node.media_type)
                .await?;
            if d != job.digest {
                return Err(Error::DigestMismatch {
                    target: job.dst.display_ref(&job.tag),
                    expected: job.digest.to_string(),
                    actual: d.to_string(),
                });
            }
            ImageAction::Copied
        }
    };
    progress.event(MirrorEvent::Image {
        name: &job.name,
        action,
    });
    Ok(())
}

/// Brings one blob into every repository that lacks it, following the planned steps.
async fn copy_blob_everywhere(
    client: &RegistryClient,
    digest: &Digest,
    task: &BlobTask,
    tries: u32,
    counters: &Counters,
    progress: Arc<dyn Progress>,
) -> Result<(), Error> {
    for step in &task.steps {
        let mounted = match &step.how {
            How::Upload => false,
            How::Mount(from) => matches!(
                client.mount_blob(&step.dst, digest, from).await?,
                MountOutcome::Mounted
            ),
        };
        let (action, blobs, bytes) = if mounted {
            (
                BlobAction::Mounted,
                &counters.blobs_mounted,
                &counters.bytes_mounted,
            )
        } else {
            upload_with_retries(client, digest, task, &step.dst, tries, progress.clone()).await?;
            (
                BlobAction::Copied,
                &counters.blobs_copied,
                &counters.bytes_copied,
            )
        };
        blobs.fetch_add(1, Ordering::Relaxed);
        bytes.fetch_add(task.size, Ordering::Relaxed);
        progress.event(MirrorEvent::Blob {
            digest,
            size: task.size,
            action,
        });
    }
    Ok(())
}

/// Streams the blob from the source into `dst`, the whole copy tried again on transient
/// failures.
async fn upload_with_retries(
    client: &RegistryClient,
    digest: &Digest,
    task: &BlobTask,
    dst: &Repository,
    tries: u32,
    progress: Arc<dyn Progress>,
) -> Result<(), Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match copy_one(client, &task.src, dst, digest, task.size, progress.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && attempt < tries.max(1) => {
                let delay = Duration::from_millis(500 * u64::from(attempt));
                progress.event(MirrorEvent::Retrying {
                    what: digest.as_str(),
                    attempt,
                    delay,
                    reason: e.to_string(),
                });
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                return Err(Error::Image {
                    image: task.used_by.clone(),
                    source: Box::new(with_tries(e, attempt)),
                });
            }
        }
    }
}

fn with_tries(mut e: Error, attempts: u32) -> Error {
    if let Error::Registry { tries, .. } | Error::Connection { tries, .. } = &mut e {
        *tries *= attempts;
    }
    e
}

/// One attempt: stream the blob from `src` into a fresh upload at `dst`, hashing on the way.
async fn copy_one(
    client: &RegistryClient,
    src: &Repository,
    dst: &Repository,
    digest: &Digest,
    size: u64,
    progress: Arc<dyn Progress>,
) -> Result<(), Error> {
    let session = client.begin_upload(dst).await?;
    let blob = client.get_blob(src, digest).await?;
    let target = src.display_ref(digest.as_str());
    if let Some(n) = blob.size
        && n != size
    {
        return Err(Error::Manifest {
            target,
            reason: format!("the source serves {n} bytes where the manifest says {size}"),
        });
    }
    let bad = Arc::new(AtomicBool::new(false));
    let actual = Arc::new(std::sync::Mutex::new(None::<Digest>));
    let (bad2, actual2, expected) = (bad.clone(), actual.clone(), digest.clone());
    let mut hasher = Some(DigestHasher::new());
    // The digest is checked when the declared size is reached. Chunks after that must be
    // empty: HTTP/2 may end a body with an empty DATA frame.
    if size == 0 && digest != &Digest::of(b"") {
        return Err(Error::DigestMismatch {
            target,
            expected: digest.to_string(),
            actual: Digest::of(b"").to_string(),
        });
    }
    let stream = blob.stream.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if chunk.is_empty() {
            return Ok(chunk);
        }
        progress.event(MirrorEvent::Bytes(chunk.len() as u64));
        let Some(h) = hasher.as_mut() else {
            bad2.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "source sent more bytes than the manifest declares",
            ));
        };
        h.update(&chunk);
        if h.len() > size {
            bad2.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "source sent more bytes than the manifest declares",
            ));
        }
        if h.len() == size {
            let d = hasher.take().map(DigestHasher::finish);
            if d.as_ref() != Some(&expected) {
                bad2.store(true, Ordering::Relaxed);
                *actual2.lock().unwrap_or_else(|p| p.into_inner()) = d;
                return Err(std::io::Error::other("digest mismatch"));
            }
        }
        Ok(chunk)
    });
    let result = client
        .put_blob_stream(dst, session, digest, size, stream)
        .await;
    if bad.load(Ordering::Relaxed) {
        let got = actual.lock().unwrap_or_else(|p| p.into_inner()).take();
        return Err(Error::DigestMismatch {
            target,
            expected: digest.to_string(),
            actual: got
                .map(|d| d.to_string())
                .unwrap_or_else(|| "more bytes than declared".into()),
        });
    }
    result
}
