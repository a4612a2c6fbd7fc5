//! Mirroring OpenShift releases (docs/release-mirror.md): the release read and validated,
//! one copy job per component (`<to>:<version>-<arch>-<component>`) and one for the release
//! image (`<to>:<version>-<arch>`), which comes after all of its components, so that its tag
//! at the target means the release is complete. Several releases share one plan: a blob they
//! have in common is copied once.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::instructions::{InstructionKind, MirrorInstructions};
use super::payload::{Release, read_release};
use crate::copy::{
    self, CopyJob, CopyOptions, CopyPlan, DEFAULT_MAX_PER_REGISTRY, Role, Sink, Source,
};
use crate::digest::Digest;
use crate::error::Error;
use crate::progress::{MirrorEvent, Progress};
use crate::reference::{ImageRef, Repository, Target, valid_tag};
use crate::registry::{RegistryClient, RetryPolicy};
use crate::{AdditionalImage, AdditionalMirrors};

/// The figures of a mirror plan (see [`CopyPlan`]).
pub type MirrorPlan = CopyPlan;

/// Settings for [`mirror_release`] and [`mirror_releases`].
#[derive(Clone, Debug)]
pub struct MirrorOptions {
    /// Target repository for components (`--to`), e.g. `mirror.example.com:5000/ocp4/openshift4`.
    pub to: Repository,
    /// Where the release image goes (`--to-release-image`); default `<to>:<version>-<arch>`.
    /// Only with a single release.
    pub to_release_image: Option<ImageRef>,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Transfers in flight at once (`--max-per-registry`). Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_per_registry: usize,
    /// How a streamed blob copy is retried as a whole (requests are retried by the clients).
    pub retry: RetryPolicy,
    /// Copy each image's sigstore signature tag (`sha256-<hex>.sig`) when the source has one.
    /// Default true.
    pub sigstore: bool,
    /// Where additional images go: `<registry of to>/<namespace>/<their repository path>`.
    /// Default: no namespace.
    pub namespace: String,
}

impl MirrorOptions {
    /// Options with defaults for target `to`.
    pub fn new(to: Repository) -> Self {
        Self {
            to,
            to_release_image: None,
            dry_run: false,
            max_per_registry: DEFAULT_MAX_PER_REGISTRY,
            retry: RetryPolicy::default(),
            sigstore: true,
            namespace: String::new(),
        }
    }
}

/// What one run mirrors: releases (each with its components), and images beside them.
#[derive(Clone, Debug, Default)]
pub struct MirrorRequest {
    /// Release images, by tag or digest.
    pub releases: Vec<ImageRef>,
    /// Other images (by tag or digest), kept at their repository path under the namespace.
    pub additional: Vec<AdditionalImage>,
}

/// One image a [`MirrorReport`] covers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageEntry {
    /// A short name (`cli`, `release`, `cli signature`, an additional image's name).
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Where it came from: the source repository with the tag or digest asked for.
    pub source: String,
    /// The source repository alone.
    pub source_repository: String,
    /// Its manifest digest (absent for a signature the source does not have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Its manifest media type, when this run read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Where it is at the target (`repo:tag`, or `repo@digest`).
    pub target: String,
    /// The tag written, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// False for an optional image the source does not have (nothing was written).
    pub present: bool,
}

/// One release of a [`MirrorReport`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReleaseEntry {
    /// The release as given.
    pub release: String,
    /// Its digest.
    pub digest: Digest,
    /// Its version.
    pub version: String,
    /// Its architecture suffix.
    pub architecture: String,
    /// Where the release image is at the target (`oc adm upgrade --to-image` takes it).
    pub update_image: String,
    /// The same, by digest.
    pub update_image_digest: String,
    /// Components.
    pub components: usize,
    /// Blobs this release adds on top of the releases before it in this run and of what the
    /// target holds.
    pub new_blobs: usize,
    /// Their bytes.
    pub new_bytes: u64,
}

/// The outcome of [`mirror_release`] (`--output json` prints it).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MirrorReport {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `ReleaseMirrorReport`.
    pub kind: &'static str,
    /// The (first) release as given.
    pub release: String,
    /// Its digest (none when the run mirrors no release).
    pub release_digest: Option<Digest>,
    /// Its version.
    pub version: String,
    /// Its architecture suffix.
    pub architecture: String,
    /// Where the (first) release image is now (`Update image:`).
    pub update_image: String,
    /// Every release of the run, in order.
    pub releases: Vec<ReleaseEntry>,
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
    /// Which instructions fit these releases (ICSP before 4.14, IDMS from 4.14; the oldest
    /// release decides).
    pub default_instructions: InstructionKind,
    /// Mirrors of the additional images: by digest (IDMS) and by tag (ImageTagMirrorSet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_instructions: Option<AdditionalMirrors>,
    /// Every image of the run, signatures included, in job order.
    pub images: Vec<ImageEntry>,
}

/// Mirrors the release `from` from its registry into `opts.to`, digests preserved, release
/// tag last.
///
/// ```no_run
/// # async fn demo() -> Result<(), mirror_core::Error> {
/// use std::sync::Arc;
/// use mirror_core::{ClientOptions, ImageRef, MirrorOptions, NoProgress, RegistryClient, Repository};
/// let client = RegistryClient::new(ClientOptions::default())?;
/// let from = ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64")?;
/// let opts = MirrorOptions::new(Repository::parse("mirror.example.com:5000/ocp4/openshift4")?);
/// let report = mirror_core::mirror_release(&client, &from, &opts, Arc::new(NoProgress)).await?;
/// println!("{} blobs copied", report.blobs_copied);
/// # Ok(()) }
/// ```
pub async fn mirror_release(
    client: &RegistryClient,
    from: &ImageRef,
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let request = MirrorRequest {
        releases: vec![from.clone()],
        additional: Vec::new(),
    };
    mirror_releases(client, client, &request, opts, progress).await
}

/// Mirrors the releases and images of `request` from `source` into `sink` in one plan: blobs
/// they share are copied once, and each release's tag is written as soon as that release
/// (its components and signatures) is complete.
pub async fn mirror_releases<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    request: &MirrorRequest,
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let start = Instant::now();
    check_options(request, opts)?;
    let mut releases = Vec::with_capacity(request.releases.len());
    for from in &request.releases {
        let release = read_release(source, from, &opts.retry).await?;
        progress.event(MirrorEvent::ReleaseRead {
            version: &release.version,
            digest: &release.digest,
            images: release.components.len() + 1,
        });
        releases.push(release);
    }
    let mut jobs = Vec::new();
    let mut groups = Vec::new();
    for release in &releases {
        let first = jobs.len();
        jobs.extend(jobs_for(release, opts)?.into_iter().map(|j| {
            let after: Vec<usize> = j.after.iter().map(|k| k + first).collect();
            CopyJob { after, ..j }
        }));
        groups.push((first..jobs.len()).collect::<Vec<usize>>());
    }
    for a in &request.additional {
        let to = a.mirror_image(&opts.to.registry, &opts.namespace);
        jobs.push(
            CopyJob::new(
                a.name.clone(),
                a.image.repo.clone(),
                a.image.target.clone(),
                to.repo,
                match &a.image.target {
                    Target::Tag(t) => Some(t.clone()),
                    Target::Digest(_) => None,
                },
            )
            .role(Role::Additional),
        );
    }
    let copy_opts = CopyOptions {
        max_in_flight: opts.max_per_registry,
        retry: opts.retry.clone(),
        sigstore: opts.sigstore,
    };
    let planned = copy::plan(source, sink, jobs, &copy_opts, &progress).await?;
    let outcome = if opts.dry_run {
        copy::CopyOutcome::default()
    } else {
        copy::execute(source, sink, &planned, &copy_opts, &progress).await?
    };
    let jobs = planned.jobs();
    let added = planned.added_by(&groups);
    let entries: Vec<ReleaseEntry> = releases
        .iter()
        .zip(&groups)
        .zip(added)
        .map(|((r, g), (new_blobs, new_bytes))| {
            let job = &jobs[*g.last().expect("a release has its own job")];
            ReleaseEntry {
                release: r.image.to_string(),
                digest: r.digest.clone(),
                version: r.version.clone(),
                architecture: r.architecture.clone(),
                update_image: job.destination(),
                update_image_digest: job.dst.display_ref(r.digest.as_str()),
                components: r.components.len(),
                new_blobs,
                new_bytes,
            }
        })
        .collect();
    let images = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| ImageEntry {
            name: job.name.clone(),
            role: job.role,
            source: job.src.display_ref(job.reference.as_str()),
            source_repository: job.src.to_string(),
            digest: planned.digest(j).cloned(),
            media_type: planned.media_type(j).map(str::to_string),
            target: match (&job.tag, planned.digest(j)) {
                (Some(t), _) => job.dst.display_ref(t),
                (None, Some(d)) => job.dst.display_ref(d.as_str()),
                (None, None) => job.dst.display_ref(job.reference.as_str()),
            },
            tag: job.tag.clone(),
            present: planned.is_there(j),
        })
        .collect();
    let (mirrors, prefixes) = mirrors_and_prefixes(opts);
    let instructions = MirrorInstructions::new(
        releases
            .iter()
            .flat_map(Release::source_repositories)
            .map(|r| r.to_string()),
        &mirrors,
    );
    let additional_instructions = (!request.additional.is_empty()).then(|| {
        crate::additional_mirrors(&request.additional, &opts.to.registry, &opts.namespace)
    });
    let oldest = if releases
        .iter()
        .any(|r| InstructionKind::default_for(&r.version) == InstructionKind::Icsp)
    {
        InstructionKind::Icsp
    } else {
        InstructionKind::Idms
    };
    let first = entries.first();
    Ok(MirrorReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseMirrorReport",
        release: first.map(|e| e.release.clone()).unwrap_or_default(),
        release_digest: first.map(|e| e.digest.clone()),
        version: first.map(|e| e.version.clone()).unwrap_or_default(),
        architecture: first.map(|e| e.architecture.clone()).unwrap_or_default(),
        update_image: first.map(|e| e.update_image.clone()).unwrap_or_default(),
        mirror_prefixes: if releases.is_empty() {
            Vec::new()
        } else {
            prefixes
        },
        dry_run: opts.dry_run,
        plan: planned.summary.clone(),
        blobs_copied: outcome.blobs_copied,
        bytes_copied: outcome.bytes_copied,
        blobs_mounted: outcome.blobs_mounted,
        bytes_mounted: outcome.bytes_mounted,
        blobs_skipped: planned.skipped().0,
        bytes_skipped: planned.skipped().1,
        releases: entries,
        duration_seconds: start.elapsed().as_secs_f64(),
        instructions,
        default_instructions: oldest,
        additional_instructions,
        images,
    })
}

fn check_options(request: &MirrorRequest, opts: &MirrorOptions) -> Result<(), Error> {
    let froms = &request.releases;
    if froms.is_empty() && request.additional.is_empty() {
        return Err(Error::InvalidSetting {
            name: "from".into(),
            reason: "nothing to mirror: no release and no image".into(),
        });
    }
    if let Some(r) = &opts.to_release_image {
        if !matches!(r.target, Target::Tag(_)) {
            return Err(Error::InvalidSetting {
                name: "to-release-image".into(),
                reason: format!("`{r}` must name a tag, not a digest"),
            });
        }
        if froms.len() > 1 {
            return Err(Error::InvalidSetting {
                name: "to-release-image".into(),
                reason: "names one place, but several releases are mirrored".into(),
            });
        }
    }
    Ok(())
}

fn mirrors_and_prefixes(opts: &MirrorOptions) -> (Vec<String>, Vec<String>) {
    let mut mirrors = vec![opts.to.to_string()];
    let mut prefixes = vec![opts.to.to_string()];
    if let Some(r) = &opts.to_release_image {
        mirrors.push(r.repo.to_string());
        prefixes.push(r.to_string());
    }
    (mirrors, prefixes)
}

/// The copy jobs of one release: its components, then the release image after all of them.
fn jobs_for(release: &Release, opts: &MirrorOptions) -> Result<Vec<CopyJob>, Error> {
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
        jobs.push(CopyJob::new(
            c.name.clone(),
            c.image.repo.clone(),
            Target::Digest(c.digest.clone()),
            opts.to.clone(),
            Some(tag),
        ));
    }
    let (dst, tag) = match &opts.to_release_image {
        Some(r) => (r.repo.clone(), r.target.as_str().to_string()),
        None => (opts.to.clone(), prefix),
    };
    let components = 0..jobs.len();
    jobs.push(
        CopyJob::new(
            "release",
            release.image.repo.clone(),
            Target::Digest(release.digest.clone()),
            dst,
            Some(tag),
        )
        .role(Role::Release)
        .after(components),
    );
    Ok(jobs)
}
