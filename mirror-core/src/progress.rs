//! Progress of long operations, as events a program renders (libraries never draw).

use std::time::Duration;

use serde::Serialize;

use crate::copy::{CopyPlan, Role};
use crate::digest::Digest;
use crate::release::signature::SignatureReport;

/// What happened to a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum BlobAction {
    /// Downloaded and uploaded (or written).
    Copied,
    /// Mounted from another repository of the target.
    Mounted,
    /// Already at the target.
    Skipped,
}

/// What happened to an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageAction {
    /// Its tag already pointed at the right digest.
    Present,
    /// The manifest was at the target; only the tag was written.
    Tagged,
    /// Copied.
    Copied,
    /// Optional and absent at the source (a signature that was never published).
    Absent,
}

/// Progress reported while mirroring. The CLI draws these; libraries never print.
#[derive(Debug)]
#[non_exhaustive]
pub enum MirrorEvent<'a> {
    /// A release was read.
    ReleaseRead {
        /// Version.
        version: &'a str,
        /// Release digest.
        digest: &'a Digest,
        /// Number of images (components + the release).
        images: usize,
    },
    /// A release's signatures were checked (before anything is copied).
    Signatures(&'a SignatureReport),
    /// The plan is known.
    Planned(&'a CopyPlan),
    /// Bytes moved (called often, per chunk).
    Bytes(u64),
    /// Bytes counted by [`MirrorEvent::Bytes`] that an attempt moved before it failed: they
    /// will be moved again.
    Rewind(u64),
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
        /// Its name (component, `release`, a signature, an additional image).
        name: &'a str,
        /// What it is.
        role: Role,
        /// What was done.
        action: ImageAction,
    },
    /// An operation failed and will be tried again.
    Retrying {
        /// What is retried (the operation and its target).
        what: &'a str,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next one.
        delay: Duration,
        /// Why.
        reason: String,
    },
    /// Something the user should know that does not stop the run (a release with no
    /// signature, a mount the registry refused).
    Warning(&'a str),
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
