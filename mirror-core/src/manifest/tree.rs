//! An image as a tree of manifests: a manifest list or index with its children, each child or
//! a single image with the blobs it references. Read through any [`Source`].

use bytes::Bytes;

use super::{BlobRef, ManifestKind, parse_kind};
use crate::copy::Source;
use crate::digest::Digest;
use crate::error::Error;
use crate::reference::Repository;

/// A manifest with its children (for lists) and the blobs it references (for images).
#[derive(Clone, Debug)]
pub(crate) struct ImageTree {
    pub(crate) digest: Digest,
    pub(crate) media_type: String,
    pub(crate) bytes: Bytes,
    /// Already at the target by digest (set by the planner; the root is never marked).
    pub(crate) present: bool,
    pub(crate) children: Vec<ImageTree>,
    pub(crate) blobs: Vec<BlobRef>,
}

impl ImageTree {
    /// The blobs of every manifest of the tree not already at the target (duplicates kept).
    pub(crate) fn blobs(&self) -> Vec<BlobRef> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<BlobRef>) {
        if self.present {
            return;
        }
        out.extend(self.blobs.iter().cloned());
        for c in &self.children {
            c.collect(out);
        }
    }
}

/// Reads the image at `reference` (a tag or digest) of `repo`: `None` when the source does not
/// have it. A list's children are read too (lists of lists are refused).
pub(crate) async fn fetch_tree<S: Source>(
    source: &S,
    repo: &Repository,
    reference: &str,
) -> Result<Option<ImageTree>, Error> {
    let Some(mut root) = fetch_one(source, repo, reference).await? else {
        return Ok(None);
    };
    let kind = kind_of(&root, repo)?;
    match kind {
        ManifestKind::Image { config, layers } => {
            root.blobs.push(config);
            root.blobs.extend(layers);
        }
        ManifestKind::List { children } => {
            for c in children {
                let mut child = fetch_one(source, repo, c.digest.as_str())
                    .await?
                    .ok_or_else(|| missing(repo, &c.digest))?;
                match kind_of(&child, repo)? {
                    ManifestKind::Image { config, layers } => {
                        child.blobs.push(config);
                        child.blobs.extend(layers);
                    }
                    ManifestKind::List { .. } => {
                        return Err(Error::Manifest {
                            target: repo.display_ref(c.digest.as_str()),
                            reason: "nested manifest lists are not supported".into(),
                        });
                    }
                }
                root.children.push(child);
            }
        }
    }
    Ok(Some(root))
}

/// The error for a manifest a list or release references that the source does not have.
pub(crate) fn missing(repo: &Repository, digest: &Digest) -> Error {
    Error::Registry {
        op: "get manifest",
        target: repo.display_ref(digest.as_str()),
        status: 404,
        code: Some("MANIFEST_UNKNOWN".into()),
        message: Some("referenced by digest, but the source does not have it".into()),
        tries: 1,
        auth_entry: None,
        retry_after: None,
    }
}

async fn fetch_one<S: Source>(
    source: &S,
    repo: &Repository,
    reference: &str,
) -> Result<Option<ImageTree>, Error> {
    Ok(source.manifest(repo, reference).await?.map(|m| ImageTree {
        digest: m.digest,
        media_type: m.media_type,
        bytes: m.bytes,
        present: false,
        children: Vec::new(),
        blobs: Vec::new(),
    }))
}

fn kind_of(t: &ImageTree, repo: &Repository) -> Result<ManifestKind, Error> {
    parse_kind(&t.media_type, &t.bytes).map_err(|reason| Error::Manifest {
        target: repo.display_ref(t.digest.as_str()),
        reason,
    })
}
