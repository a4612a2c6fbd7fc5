//! [`BundleSource`]: the copy engine's [`Source`] for a bundle, directory or volumes.
//!
//! It answers for the images' original sources: `manifest(quay.io/.../ocp-release,
//! "4.14.1-x86_64")` is found through the metadata, anything by digest through the blob
//! store. So publishing a bundle is the same mirror as from a registry, with the same tags
//! and the same mirror instructions (naming the original repositories), and nothing ever
//! contacts the source. Blobs stream from their file, or from their offset inside a volume;
//! a blob whose bytes do not match its digest is remembered and refused from then on, naming
//! its file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt as _;

use super::format::{BundleMetadata, blob_path};
use super::store::{Store, stream_loc};
use crate::copy::Source;
use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;
use crate::manifest::{MAX_MANIFEST_BYTES, media_type_of};
use crate::reference::{ImageRef, Repository, Target};
use crate::registry::{BlobStream, RawManifest, RegistryClient};
use crate::release::mirror::MirrorRequest;
use crate::upgrade::imageset::AdditionalImage;
use crate::verify::{VerifyError, VerifyingStream};

/// Reads the images of a bundle as if from their original registries (see the module docs).
#[derive(Debug)]
pub struct BundleSource {
    store: Store,
    meta: BundleMetadata,
    tags: BTreeMap<(String, String), Digest>,
    media: BTreeMap<Digest, String>,
    fallback: Option<(RegistryClient, Repository)>,
    corrupt: Arc<Mutex<BTreeMap<Digest, PathBuf>>>,
}

impl BundleSource {
    /// Opens the complete bundle at `dir`: reads its metadata and the headers of its volumes
    /// (a missing volume is an error naming it).
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let meta = BundleMetadata::read(dir)?;
        let mut names = Vec::new();
        for v in &meta.volumes {
            let p = dir.join(&v.name);
            if !p.is_file() {
                return Err(Error::Bundle {
                    path: p,
                    reason: "missing: the bundle lists this volume".into(),
                    hint: Box::new(Hint::BundleDamaged),
                });
            }
            names.push(v.name.clone());
        }
        let store = Store::open(dir, &names)?;
        Ok(Self::new(store, meta))
    }

    pub(crate) fn new(store: Store, meta: BundleMetadata) -> Self {
        let mut tags = BTreeMap::new();
        let mut media = BTreeMap::new();
        for b in &meta.blobs.list {
            if !b.media_type.is_empty() {
                media.insert(b.digest.clone(), b.media_type.clone());
            }
        }
        for i in &meta.images {
            media.insert(i.digest.clone(), i.media_type.clone());
            if Digest::parse(&i.reference).is_err() {
                tags.insert((i.source.clone(), i.reference.clone()), i.digest.clone());
            }
        }
        for r in &meta.releases {
            if let Ok(ImageRef {
                repo,
                target: Target::Tag(t),
                ..
            }) = ImageRef::parse(&r.source)
            {
                tags.insert((repo.to_string(), t), r.digest.clone());
            }
            media.insert(r.digest.clone(), r.media_type.clone());
        }
        Self {
            store,
            meta,
            tags,
            media,
            fallback: None,
            corrupt: Arc::default(),
        }
    }

    /// Blobs the bundle does not carry (those an earlier bundle did) are read from `repo` of
    /// the target registry, where publishing the earlier bundle put them.
    pub fn with_fallback(mut self, client: RegistryClient, repo: Repository) -> Self {
        self.fallback = Some((client, repo));
        self
    }

    /// The bundle's metadata.
    pub fn metadata(&self) -> &BundleMetadata {
        &self.meta
    }

    /// What the bundle was made from (releases and additional images, with their original
    /// names): publishing mirrors exactly this from the bundle.
    pub fn request(&self) -> Result<MirrorRequest, Error> {
        request_of(&self.meta)
    }

    fn not_carried(&self, d: &Digest) -> Error {
        Error::Bundle {
            path: self.store.root().to_path_buf(),
            reason: format!("`{}` is not in the bundle", blob_path(d)),
            hint: Box::new(Hint::BundleDamaged),
        }
    }

    fn corrupt_error(d: &Digest, file: &Path) -> Error {
        let rel = blob_path(d);
        let what = if file.ends_with(&rel) {
            String::new()
        } else {
            format!("`{rel}` in it ")
        };
        Error::Bundle {
            path: file.to_path_buf(),
            reason: format!("{what}holds bytes that do not match its digest"),
            hint: Box::new(Hint::BundleDamaged),
        }
    }
}

impl Source for BundleSource {
    async fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RawManifest>, Error> {
        let digest = match Digest::parse(reference) {
            Ok(d) => d,
            Err(_) => match self.tags.get(&(repo.to_string(), reference.to_string())) {
                Some(d) => d.clone(),
                None => return Ok(None),
            },
        };
        let Some(bytes) = self
            .store
            .read_blob(&digest, MAX_MANIFEST_BYTES as u64)
            .await?
        else {
            return Ok(None);
        };
        let media_type = match self.media.get(&digest) {
            Some(m) => m.clone(),
            None => media_type_of(None, &bytes).map_err(|reason| Error::Manifest {
                target: repo.display_ref(digest.as_str()),
                reason,
            })?,
        };
        Ok(Some(RawManifest {
            bytes,
            media_type,
            digest,
        }))
    }

    async fn blob_bytes(
        &self,
        _repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> Result<Bytes, Error> {
        if let Some(b) = self.store.read_blob(digest, max as u64).await? {
            return Ok(b);
        }
        match &self.fallback {
            Some((client, repo)) => client.get_blob_bytes(repo, digest, max).await,
            None => Err(self.not_carried(digest)),
        }
    }

    async fn open_blob(&self, _repo: &Repository, digest: &Digest) -> Result<BlobStream, Error> {
        if let Some(file) = self
            .corrupt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
        {
            return Err(Self::corrupt_error(digest, file));
        }
        let Some(loc) = self.store.locate_blob(digest) else {
            return match &self.fallback {
                Some((client, repo)) => client.open_blob(repo, digest).await,
                None => Err(self.not_carried(digest)),
            };
        };
        let blob = stream_loc(&loc).await?;
        let (corrupt, d, file) = (self.corrupt.clone(), digest.clone(), loc.file.clone());
        // Checked here too, so that a damaged file is refused by name on the next attempt
        // instead of being read again and again.
        let checked =
            VerifyingStream::new(blob.stream, digest.clone(), loc.size).map(move |item| {
                if let Err(e) = &item
                    && VerifyError::find(e).is_some()
                {
                    corrupt
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(d.clone(), file.clone());
                }
                item
            });
        Ok(BlobStream {
            size: blob.size,
            stream: Box::pin(checked),
        })
    }
}

/// The request a bundle was made from, by the names its images had at their sources.
pub(crate) fn request_of(meta: &BundleMetadata) -> Result<MirrorRequest, Error> {
    let releases = meta
        .releases
        .iter()
        .map(|r| ImageRef::parse(&r.source))
        .collect::<Result<_, _>>()?;
    let additional = meta
        .images
        .iter()
        .filter(|i| i.role == "additional")
        .map(|i| {
            let sep = if i.reference.starts_with("sha256:") {
                '@'
            } else {
                ':'
            };
            Ok(AdditionalImage {
                name: i.name.clone(),
                image: ImageRef::parse(&format!("{}{sep}{}", i.source, i.reference))?,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(MirrorRequest {
        releases,
        additional,
    })
}

/// The digests of `blobs` that `client` does not find in `repo` (`HEAD`s, `n` at once).
pub(crate) async fn missing_at(
    client: &RegistryClient,
    repo: &Repository,
    blobs: impl IntoIterator<Item = Digest>,
    n: usize,
) -> Result<Vec<Digest>, Error> {
    let found: Vec<(Digest, bool)> = futures_util::stream::iter(blobs)
        .map(|d| async move {
            let there = client.blob_exists(repo, &d).await?.is_some();
            Ok::<_, Error>((d, there))
        })
        .buffer_unordered(n.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let mut missing: BTreeSet<Digest> = BTreeSet::new();
    for (d, there) in found {
        if !there {
            missing.insert(d);
        }
    }
    Ok(missing.into_iter().collect())
}
