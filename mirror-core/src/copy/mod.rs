//! The copy engine: digest-exact copies of a set of images from a [`Source`] to a [`Sink`].
//!
//! Work in two phases. [`plan`] only reads: what the target already holds (one tag list per
//! target repository, then `HEAD`s only where content may be), the source manifests still
//! needed, every blob deduplicated across all images, and where each missing blob will come
//! from (an upload, or a mount within the target registry). [`execute`] writes: blobs,
//! `--max-per-registry` at once, each streamed copy verified on the way and retried as a
//! whole; each image's manifests as soon as its last blob is in (children of lists first);
//! and an image that must come after others (a release after its components) only when
//! those are complete.

mod endpoint;
mod mount;
mod plan;
mod run;
mod sigstore;

use serde::Serialize;

pub use endpoint::{Mounted, RepoState, Sink, Source};
pub use plan::{Planned, plan};
pub use run::{CopyOutcome, execute};
pub use sigstore::signature_tag;

use crate::reference::{Repository, Target};
use crate::registry::RetryPolicy;

/// Requests in flight per registry when nothing is said. Measured: see docs/performance.md.
pub const DEFAULT_MAX_PER_REGISTRY: usize = 8;

/// One image to copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyJob {
    /// A short name for progress and errors (`cli`, `release`, a signature).
    pub name: String,
    /// The source repository.
    pub src: Repository,
    /// The image at the source: a digest, or a tag resolved when planning.
    pub reference: Target,
    /// The target repository.
    pub dst: Repository,
    /// The tag to write at the target; `None` writes the manifest by digest only.
    pub tag: Option<String>,
    /// Jobs (indices, all lower than this one's) that must be complete before this image's
    /// tag is written: a release image after its components.
    pub after: Vec<usize>,
    /// Absent at the source is not an error: the job is skipped (a signature tag).
    pub optional: bool,
    /// What the image is, for reports.
    pub role: Role,
}

/// What an image is to the run that copies it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// A release image.
    Release,
    /// A component of a release.
    #[default]
    Component,
    /// An image asked for beside the releases.
    Additional,
    /// A sigstore signature (`sha256-<hex>.sig`) of another image.
    Signature,
}

impl CopyJob {
    /// A job copying `src` at `reference` to `dst`, tagged `tag`.
    pub fn new(
        name: impl Into<String>,
        src: Repository,
        reference: Target,
        dst: Repository,
        tag: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            src,
            reference,
            dst,
            tag,
            after: Vec::new(),
            optional: false,
            role: Role::default(),
        }
    }

    /// This job, with the role `role`.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// This job, written only after `jobs` are complete.
    pub fn after(mut self, jobs: impl IntoIterator<Item = usize>) -> Self {
        self.after.extend(jobs);
        self
    }

    /// This job, skipped when the source does not have the image.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// `name (src@digest-or-tag)`, for errors.
    pub fn label(&self) -> String {
        format!(
            "{} ({})",
            self.name,
            self.src.display_ref(self.reference.as_str())
        )
    }

    /// Where the image goes: `dst:tag`, or `dst@digest` for a digest-only job.
    pub fn destination(&self) -> String {
        match &self.tag {
            Some(t) => self.dst.display_ref(t),
            None => self.dst.display_ref(self.reference.as_str()),
        }
    }
}

/// Settings for [`plan`] and [`execute`].
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Transfers in flight at once (`--max-per-registry`). Default [`DEFAULT_MAX_PER_REGISTRY`].
    pub max_in_flight: usize,
    /// How a streamed blob copy is retried as a whole.
    pub retry: RetryPolicy,
    /// Also copy each image's sigstore signature tag (`sha256-<hex>.sig`) when the source
    /// has one. Default true.
    pub sigstore: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            max_in_flight: DEFAULT_MAX_PER_REGISTRY,
            retry: RetryPolicy::default(),
            sigstore: true,
        }
    }
}

/// What a copy will do (and, in a dry run, all it does).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CopyPlan {
    /// Images (signature tags are counted apart).
    pub images: usize,
    /// Images whose tag already points at the right digest.
    pub images_present: usize,
    /// Images whose manifest is at the target but whose tag must be written.
    pub images_to_tag: usize,
    /// Images to copy.
    pub images_to_copy: usize,
    /// Sigstore signature tags (`sha256-<hex>.sig`) the source has for the images.
    pub signatures: usize,
    /// Those of them to copy (the others are at the target).
    pub signatures_to_copy: usize,
    /// Images checked for a signature tag the source does not have.
    pub signatures_absent: usize,
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
    /// an earlier mirror found in the registry's `_catalog`.
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
