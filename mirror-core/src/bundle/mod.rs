//! Bundles: a release mirrored to disk on a connected host, carried, and published from disk
//! on the disconnected side (docs/bundles.md).
//!
//! A bundle is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) holding
//! the original manifest bytes with their original media types, one blob store for every
//! image, one-entry indexes under `refs/` for older readers, and the metadata file
//! `mirrorctl-bundle.json`, written last; optionally packed into numbered tar volumes with a
//! checksum list. Writing and publishing are the copy engine's mirror with a [`BundleSink`]
//! or a [`BundleSource`] at the seam: the same plan, deduplication, retries and progress.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mirror_core::Error> {
//! use std::sync::Arc;
//! use mirror_core::bundle::{PublishOptions, WriteOptions, publish_bundle, write_bundle};
//! use mirror_core::{ClientOptions, ImageRef, RegistryClient, Repository, release::{MirrorRequest}, progress::{NoProgress}};
//! // Connected side.
//! let quay = RegistryClient::new(ClientOptions::default())?;
//! let request = MirrorRequest {
//!     releases: vec![ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64")?],
//!     ..Default::default()
//! };
//! write_bundle(&quay, &request, &WriteOptions::new("/mnt/media/bundle"), Arc::new(NoProgress))
//!     .await?;
//! // Disconnected side.
//! let mirror = RegistryClient::new(ClientOptions::default())?;
//! let to = Repository::parse("mirror.example.com:5000/ocp4/openshift4")?;
//! let report =
//!     publish_bundle(&mirror, &PublishOptions::new("/mnt/media/bundle", to), Arc::new(NoProgress))
//!         .await?;
//! println!("{}", report.update_image);
//! # Ok(()) }
//! ```

mod check;
mod format;
mod layout;
mod pack;
mod publish;
mod sink;
mod source;
mod store;
mod upgrade;
mod volume;
mod write;

pub use check::{
    BundleInfo, BundleProblem, FAT32_MAX_FILE, VerifyReport, bundle_info, verify_bundle,
};
pub use format::{
    BlobEntry, BlobSet, BundleImage, BundleLayout, BundleMetadata, BundleRelease, CHECKSUM_FILE,
    FileEntry, METADATA_FILE, METADATA_KIND, SCHEMA_VERSION, SIGNATURES_DIR, SinceInfo, ToolInfo,
    VolumeEntry, volume_name,
};
pub use pack::MIN_ARCHIVE_SIZE;
pub use publish::{PublishOptions, publish_bundle};
pub use sink::BundleSink;
pub use source::BundleSource;
pub use upgrade::{BundleChannel, BundleGraph, BundleUpgrade, GRAPH_DIR, IMAGESET_FILE};
pub use write::{
    BUNDLE_REGISTRY, BUNDLE_REPOSITORY, WriteOptions, WriteReport, bundle_repository, write_bundle,
};
