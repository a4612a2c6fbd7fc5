//! What a mirror run reports: every release with what it added, every image with its source
//! identity, and the mirror instructions for the target.

use std::time::Duration;

use serde::Serialize;

use super::instructions::{InstructionKind, MirrorInstructions};
use super::mirror::{MirrorOptions, MirrorPlan, MirrorRequest};
use super::payload::Release;
use super::signature::SignatureReport;
use crate::copy::{CopyOutcome, Planned, Role};
use crate::digest::Digest;
use crate::upgrade::AdditionalMirrors;

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
    /// Its release signature check.
    pub signatures: SignatureReport,
}

/// The outcome of [`mirror_release`](super::mirror::mirror_release) (`--output json` prints it).
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
    /// The (first) release's signature check; each release has its own in `releases`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<SignatureReport>,
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

/// What a finished (or planned) run knows, to report.
pub(super) struct Run<'a> {
    pub(super) request: &'a MirrorRequest,
    pub(super) opts: &'a MirrorOptions,
    pub(super) releases: &'a [Release],
    pub(super) signatures: Vec<SignatureReport>,
    pub(super) groups: &'a [Vec<usize>],
    pub(super) planned: &'a Planned,
    pub(super) outcome: CopyOutcome,
    pub(super) duration: Duration,
}

/// The report of a run.
pub(super) fn build(run: Run<'_>) -> MirrorReport {
    let Run {
        request,
        opts,
        releases,
        signatures,
        groups,
        planned,
        outcome,
        duration,
    } = run;
    let entries = release_entries(releases, signatures, groups, planned);
    let (mirrors, prefixes) = mirrors_and_prefixes(opts);
    let instructions = MirrorInstructions::new(
        releases
            .iter()
            .flat_map(Release::source_repositories)
            .map(|r| r.to_string()),
        &mirrors,
    );
    let additional_instructions = (!request.additional.is_empty()).then(|| {
        crate::upgrade::additional_mirrors(&request.additional, &opts.to.registry, &opts.namespace)
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
    MirrorReport {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseMirrorReport",
        release: first.map(|e| e.release.clone()).unwrap_or_default(),
        release_digest: first.map(|e| e.digest.clone()),
        version: first.map(|e| e.version.clone()).unwrap_or_default(),
        architecture: first.map(|e| e.architecture.clone()).unwrap_or_default(),
        update_image: first.map(|e| e.update_image.clone()).unwrap_or_default(),
        signatures: first.map(|e| e.signatures.clone()),
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
        duration_seconds: duration.as_secs_f64(),
        instructions,
        default_instructions: oldest,
        additional_instructions,
        images: image_entries(planned),
    }
}

fn release_entries(
    releases: &[Release],
    signatures: Vec<SignatureReport>,
    groups: &[Vec<usize>],
    planned: &Planned,
) -> Vec<ReleaseEntry> {
    let jobs = planned.jobs();
    releases
        .iter()
        .zip(signatures)
        .zip(groups)
        .zip(planned.added_by(groups))
        .map(|(((r, signatures), g), (new_blobs, new_bytes))| {
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
                signatures,
            }
        })
        .collect()
}

fn image_entries(planned: &Planned) -> Vec<ImageEntry> {
    planned
        .jobs()
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
        .collect()
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
