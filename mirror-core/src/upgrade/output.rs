//! What a cluster needs to use a mirror of several releases: the update image of each release
//! for `oc adm upgrade --allow-explicit-upgrade --to-image ...`, and the mirror sets for the
//! additional images (ImageDigestMirrorSet for those by digest, ImageTagMirrorSet for those by
//! tag).

use serde::Serialize;

use super::UpgradePlan;
use super::imageset::AdditionalImage;
use crate::digest::Digest;
use crate::reference::{ImageRef, Repository, Target};
use crate::release::instructions::MirrorInstructions;

/// A mirrored release and the image a cluster upgrades to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseUpdate {
    /// The release version.
    pub version: String,
    /// The release image on the mirror, by digest (an explicit upgrade needs the digest).
    pub update_image: ImageRef,
}

impl ReleaseUpdate {
    /// The release `version` whose image is `digest` in the mirror repository `repo`.
    pub fn new(version: impl Into<String>, repo: &Repository, digest: &Digest) -> Self {
        Self {
            version: version.into(),
            update_image: repo.at_digest(digest),
        }
    }

    /// The command that upgrades a cluster to this release from the mirror.
    pub fn command(&self) -> String {
        format!(
            "oc adm upgrade --allow-explicit-upgrade --to-image {}",
            self.update_image
        )
    }
}

/// The text listing each release's upgrade command, oldest first as given.
pub fn render_release_updates(updates: &[ReleaseUpdate]) -> String {
    if updates.is_empty() {
        return String::new();
    }
    let w = updates.iter().map(|u| u.version.len()).max().unwrap_or(0);
    let mut out = String::from(
        "To upgrade a cluster to a mirrored release (with the mirror policy applied and the release's signature in the cluster), run one of:\n\n",
    );
    for u in updates {
        out.push_str(&format!("  {:w$}  {}\n", u.version, u.command()));
    }
    out
}

impl UpgradePlan {
    /// The update images of the releases whose graph payload is pinned by digest, as they
    /// will be in the mirror repository `repo` (digests are kept by a mirror). Releases named
    /// by tag learn their digest when copied: build their [`ReleaseUpdate`] then.
    pub fn update_images(&self, repo: &Repository) -> Vec<ReleaseUpdate> {
        self.releases
            .iter()
            .filter_map(|r| {
                let version = r.version.as_ref()?;
                let digest = r.image.target.digest()?;
                Some(ReleaseUpdate::new(version.to_string(), repo, digest))
            })
            .collect()
    }
}

/// The mirror sets for additional images, split by how each is mirrored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalMirrors {
    /// Images by digest: for an ImageDigestMirrorSet (`imageDigestSources`).
    pub by_digest: MirrorInstructions,
    /// Images by tag: for an ImageTagMirrorSet.
    pub by_tag: MirrorInstructions,
}

/// Where each additional image lands (`registry`, under `namespace`) as source/mirror
/// repository pairs, split into by-digest and by-tag sets.
pub fn additional_mirrors(
    images: &[AdditionalImage],
    registry: &str,
    namespace: &str,
) -> AdditionalMirrors {
    let mut digest = Vec::new();
    let mut tag = Vec::new();
    for i in images {
        let pair = (
            i.image.repo.to_string(),
            i.mirror_image(registry, namespace).repo.to_string(),
        );
        match i.image.target {
            Target::Digest(_) => digest.push(pair),
            Target::Tag(_) => tag.push(pair),
        }
    }
    AdditionalMirrors {
        by_digest: MirrorInstructions::from_pairs(digest),
        by_tag: MirrorInstructions::from_pairs(tag),
    }
}
