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
use crate::copy::{self, CopyJob, CopyOptions, CopyPlan, DEFAULT_MAX_PER_REGISTRY, Sink, Source};
use crate::digest::Digest;
use crate::error::Error;
use crate::progress::{MirrorEvent, Progress};
use crate::reference::{ImageRef, Repository, Target, valid_tag};
use crate::registry::{RegistryClient, RetryPolicy};

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
        }
    }
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
    /// Its digest.
    pub release_digest: Digest,
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
    mirror_releases(client, client, std::slice::from_ref(from), opts, progress).await
}

/// Mirrors several releases from `source` into `sink` in one plan: blobs they share are
/// copied once, and each release's tag is written as soon as that release is complete.
pub async fn mirror_releases<S: Source, K: Sink>(
    source: &S,
    sink: &K,
    froms: &[ImageRef],
    opts: &MirrorOptions,
    progress: Arc<dyn Progress>,
) -> Result<MirrorReport, Error> {
    let start = Instant::now();
    check_options(froms, opts)?;
    let mut releases = Vec::with_capacity(froms.len());
    for from in froms {
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
    let copy_opts = CopyOptions {
        max_in_flight: opts.max_per_registry,
        retry: opts.retry.clone(),
    };
    let planned = copy::plan(source, sink, &jobs, &copy_opts, &progress).await?;
    let outcome = if opts.dry_run {
        copy::CopyOutcome::default()
    } else {
        copy::execute(source, sink, &jobs, &planned, &copy_opts, &progress).await?
    };
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
    let (mirrors, prefixes) = mirrors_and_prefixes(opts);
    let instructions = MirrorInstructions::new(
        releases
            .iter()
            .flat_map(Release::source_repositories)
            .map(|r| r.to_string()),
        &mirrors,
    );
    let oldest = if releases
        .iter()
        .any(|r| InstructionKind::default_for(&r.version) == InstructionKind::Icsp)
    {
        InstructionKind::Icsp
    } else {
        InstructionKind::Idms
    };
    let first = &entries[0];
    Ok(MirrorReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseMirrorReport",
        release: first.release.clone(),
        release_digest: first.digest.clone(),
        version: first.version.clone(),
        architecture: first.architecture.clone(),
        update_image: first.update_image.clone(),
        mirror_prefixes: prefixes,
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
    })
}

fn check_options(froms: &[ImageRef], opts: &MirrorOptions) -> Result<(), Error> {
    if froms.is_empty() {
        return Err(Error::InvalidSetting {
            name: "from".into(),
            reason: "no release to mirror".into(),
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
        .after(components),
    );
    Ok(jobs)
}
