//! `release info`: what a release holds, with its deduplicated size.

use std::collections::BTreeMap;

use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::payload::read_release;
use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::tree::{fetch_tree, missing};
use crate::reference::ImageRef;
use crate::registry::RegistryClient;

/// One component in a [`ReleaseInfo`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentInfo {
    /// Tag name.
    pub name: String,
    /// Reference by digest.
    pub image: ImageRef,
    /// Manifest digest.
    pub digest: Digest,
    /// Manifest media type.
    pub media_type: String,
}

/// What `mirrorctl release info` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReleaseInfo {
    /// Schema of this report.
    pub api_version: &'static str,
    /// `ReleaseInfo`.
    pub kind: &'static str,
    /// The reference as given.
    pub image: ImageRef,
    /// Release manifest digest.
    pub digest: Digest,
    /// Release manifest media type.
    pub media_type: String,
    /// Version.
    pub version: String,
    /// Architecture suffix.
    pub architecture: String,
    /// Errata URL from release-metadata.
    pub metadata_url: Option<String>,
    /// Versions it updates from.
    pub previous: Vec<String>,
    /// Components.
    pub components: Vec<ComponentInfo>,
    /// Unique blobs across the release image and all components.
    pub unique_blobs: usize,
    /// Their total size.
    pub unique_bytes: u64,
}

/// Reads a release and every component manifest (`concurrency` at once).
///
/// ```no_run
/// # async fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::{ClientOptions, ImageRef, RegistryClient};
/// let client = RegistryClient::new(ClientOptions::default())?;
/// let release = ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64")?;
/// let info = mirror_core::release_info(&client, &release, 8).await?;
/// println!("{} components, {} bytes", info.components.len(), info.unique_bytes);
/// # Ok(()) }
/// ```
pub async fn release_info(
    client: &RegistryClient,
    image: &ImageRef,
    concurrency: usize,
) -> Result<ReleaseInfo, Error> {
    let release = read_release(client, image, &client.options().retry).await?;
    let mut sources: Vec<(Option<usize>, crate::reference::Repository, Digest)> = release
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| (Some(i), c.image.repo.clone(), c.digest.clone()))
        .collect();
    sources.push((None, release.image.repo.clone(), release.digest.clone()));
    let comps = &release.components;
    let nodes: Vec<_> = futures_util::stream::iter(sources)
        .map(|(i, repo, digest)| async move {
            let node = fetch_tree(client, &repo, digest.as_str())
                .await
                .and_then(|t| t.ok_or_else(|| missing(&repo, &digest)))
                .map_err(|e| match i {
                    Some(i) => Error::Image {
                        image: comps[i].name.clone(),
                        source: Box::new(e),
                    },
                    None => e,
                })?;
            Ok::<_, Error>((i, node))
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut blobs = BTreeMap::new();
    let mut components = Vec::new();
    for (i, node) in &nodes {
        for b in node.blobs() {
            blobs.insert(b.digest, b.size);
        }
        if let Some(i) = i {
            let c = &release.components[*i];
            components.push(ComponentInfo {
                name: c.name.clone(),
                image: c.image.clone(),
                digest: c.digest.clone(),
                media_type: node.media_type.clone(),
            });
        }
    }
    Ok(ReleaseInfo {
        api_version: "mirrorctl.openshift.io/v1alpha1",
        kind: "ReleaseInfo",
        image: image.clone(),
        digest: release.digest.clone(),
        media_type: release.manifest.media_type.clone(),
        version: release.version.clone(),
        architecture: release.architecture.clone(),
        metadata_url: release
            .metadata
            .as_ref()
            .and_then(|m| m.metadata.get("url"))
            .and_then(|u| u.as_str())
            .map(str::to_string),
        previous: release
            .metadata
            .as_ref()
            .map(|m| m.previous.clone())
            .unwrap_or_default(),
        components,
        unique_blobs: blobs.len(),
        unique_bytes: blobs.values().sum(),
    })
}
