//! The copy engine's seam: where bytes come from ([`Source`]) and where they go ([`Sink`]).
//!
//! A registry is both (through [`RegistryClient`]); a directory bundle is the other kind.
//! Reads of manifests and small blobs are retried by the endpoint itself (request level);
//! opening a blob stream and writing one are single attempts, because the engine retries a
//! streamed copy as a whole.

use std::collections::BTreeSet;
use std::future::Future;

use bytes::Bytes;
use futures_util::Stream;

use crate::digest::Digest;
use crate::error::Error;
use crate::reference::Repository;
use crate::registry::{BlobStream, MountOutcome, RawManifest, RegistryClient, UploadSession};

/// Where images are read from.
pub trait Source: Sync {
    /// A manifest by tag or digest (verified against a digest), `None` when absent.
    fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> impl Future<Output = Result<Option<RawManifest>, Error>> + Send;

    /// A small blob (an image config) read whole and verified.
    fn blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> impl Future<Output = Result<Bytes, Error>> + Send;

    /// Opens a blob for streaming: one attempt. The bytes are verified by the reader.
    fn open_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> impl Future<Output = Result<BlobStream, Error>> + Send;

    /// Whether this source is a registry: a target on the same registry can then mount from
    /// the source repository instead of copying.
    fn is_registry(&self) -> bool {
        false
    }
}

/// What a target knows of one repository, learned with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepoState {
    /// The tag list answered 404: the repository does not exist, or (distribution answers
    /// both alike) holds only untagged manifests. No tag can be there.
    Missing,
    /// It exists with these tags.
    Tags(BTreeSet<String>),
    /// The target would not say: check each thing.
    Unknown,
}

/// Where images are written.
pub trait Sink: Sync {
    /// A blob write in progress that a mount may hand over (a registry's upload session).
    type Session: Send;

    /// What the target holds of `repo`.
    fn repo_state(&self, repo: &Repository) -> impl Future<Output = RepoState> + Send;

    /// The digest of the manifest at `reference` (tag or digest), `None` when absent.
    fn manifest_digest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> impl Future<Output = Result<Option<Digest>, Error>> + Send;

    /// A manifest the target holds, by digest (to tag it again).
    fn manifest(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> impl Future<Output = Result<Option<RawManifest>, Error>> + Send;

    /// Writes manifest bytes unchanged under `reference` (a tag or their digest); returns the
    /// digest the target reports.
    fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> impl Future<Output = Result<Digest, Error>> + Send;

    /// Whether the target holds blob `digest` in `repo`.
    fn has_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Writes a blob from a stream of exactly `size` bytes hashing to `digest`: one attempt;
    /// on failure nothing of it remains (a session is cancelled, a partial file removed).
    fn put_blob<S>(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        session: Option<Self::Session>,
        body: S,
    ) -> impl Future<Output = Result<(), Error>> + Send
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static;

    /// Drops a session that will not be used.
    fn discard(&self, repo: &Repository, session: Self::Session)
    -> impl Future<Output = ()> + Send;

    /// Tries to mount `digest` into `repo` from repository path `from` of the same target.
    fn mount(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &str,
    ) -> impl Future<Output = Result<Mounted<Self::Session>, Error>> + Send;

    /// The registry client behind this sink, when it is a registry (for mount planning
    /// through its catalog).
    fn registry(&self) -> Option<&RegistryClient> {
        None
    }
}

/// What a mount did.
#[derive(Debug)]
pub enum Mounted<S> {
    /// The blob is in the repository.
    Yes,
    /// Not mounted; upload instead, into this session when the target opened one.
    No(Option<S>),
}

impl Source for RegistryClient {
    async fn manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RawManifest>, Error> {
        self.get_manifest(repo, reference).await
    }

    async fn blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> Result<Bytes, Error> {
        self.get_blob_bytes(repo, digest, max).await
    }

    async fn open_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream, Error> {
        RegistryClient::open_blob(self, repo, digest).await
    }

    fn is_registry(&self) -> bool {
        true
    }
}

impl Sink for RegistryClient {
    type Session = UploadSession;

    async fn repo_state(&self, repo: &Repository) -> RepoState {
        match self.list_tags(repo).await {
            Ok(Some(tags)) => RepoState::Tags(tags.into_iter().collect()),
            Ok(None) => RepoState::Missing,
            // Listing may be forbidden while reads are allowed: check each thing.
            Err(e) => {
                tracing::debug!(error = %e, "tag list unavailable");
                RepoState::Unknown
            }
        }
    }

    async fn manifest_digest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        self.head_manifest(repo, reference).await
    }

    async fn manifest(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<RawManifest>, Error> {
        self.get_manifest(repo, digest.as_str()).await
    }

    async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Digest, Error> {
        RegistryClient::put_manifest(self, repo, reference, bytes, media_type).await
    }

    async fn has_blob(&self, repo: &Repository, digest: &Digest) -> Result<bool, Error> {
        Ok(self.blob_exists(repo, digest).await?.is_some())
    }

    async fn put_blob<S>(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        session: Option<UploadSession>,
        body: S,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        self.put_blob_stream(repo, session, digest, size, body)
            .await
    }

    async fn discard(&self, repo: &Repository, session: UploadSession) {
        self.cancel_upload(repo, session).await
    }

    async fn mount(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &str,
    ) -> Result<Mounted<UploadSession>, Error> {
        Ok(match self.mount_blob(repo, digest, from).await? {
            MountOutcome::Mounted => Mounted::Yes,
            MountOutcome::Declined(s) => Mounted::No(Some(s)),
            _ => Mounted::No(None),
        })
    }

    fn registry(&self) -> Option<&RegistryClient> {
        Some(self)
    }
}
