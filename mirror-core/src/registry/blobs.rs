//! Blobs and uploads: `HEAD`, streamed reads, small reads verified whole, cross-repository
//! mounts, upload sessions and streamed uploads.
//!
//! A streamed copy (open the source, open a session, `PUT` the stream) is retried as a whole
//! by its caller, so the requests it is made of are single attempts here: [`Self::open_blob`],
//! [`Self::begin_upload`] and [`Self::put_blob_stream`]. A session left behind by a failed
//! attempt is cancelled (`DELETE`).

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, TryStreamExt as _};
use reqwest::header::{self, HeaderValue};
use reqwest::{Method, StatusCode};

use super::RegistryClient;
use super::retry::RetryPolicy;
use super::transport::Req;
use crate::digest::Digest;
use crate::error::Error;
use crate::reference::Repository;

/// What a cross-repository mount did.
#[derive(Debug)]
#[non_exhaustive]
pub enum MountOutcome {
    /// `201`, and the blob is now in the target repository.
    Mounted,
    /// `202`: the registry declined the mount and opened this upload session instead.
    Declined(UploadSession),
    /// The mount was refused or is not supported (or a `201` without the blob behind it):
    /// upload the blob.
    Refused,
}

/// An open blob upload.
#[derive(Debug)]
pub struct UploadSession {
    location: url::Url,
}

/// A streamed blob body.
pub struct BlobStream {
    /// Declared length, when the source sent one.
    pub size: Option<u64>,
    /// The bytes.
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// `HEAD` a blob: its size when present.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<u64>, Error> {
        let req = Req::read(
            "check blob",
            repo.display_ref(digest.as_str()),
            repo,
            Method::HEAD,
            self.url(repo, &format!("blobs/{digest}"))?,
        );
        self.request(req, 0, |a| {
            Ok((a.status != StatusCode::NOT_FOUND).then(|| {
                a.header(header::CONTENT_LENGTH.as_str())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            }))
        })
        .await
    }

    /// Opens a blob for streaming (redirects to storage backends are followed): one attempt,
    /// for a copy that is retried as a whole.
    pub async fn open_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream, Error> {
        let mut req = Req::read(
            "get blob",
            repo.display_ref(digest.as_str()),
            repo,
            Method::GET,
            self.url(repo, &format!("blobs/{digest}"))?,
        );
        req.accept = &[StatusCode::OK];
        let resp = self.attempt(&req).await?;
        Ok(BlobStream {
            size: resp.content_length(),
            stream: Box::pin(resp.bytes_stream().map_err(std::io::Error::other)),
        })
    }

    /// Fetches a small blob (a config, a manifest-sized JSON) whole, verifying its digest;
    /// retried by the client's policy.
    pub async fn get_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> Result<Bytes, Error> {
        let target = repo.display_ref(digest.as_str());
        let mut req = Req::read(
            "get blob",
            target.clone(),
            repo,
            Method::GET,
            self.url(repo, &format!("blobs/{digest}"))?,
        );
        req.accept = &[StatusCode::OK];
        self.request(req, max, |a| {
            let actual = Digest::of(&a.body);
            if &actual != digest {
                return Err(Error::DigestMismatch {
                    target: target.clone(),
                    expected: digest.to_string(),
                    actual: actual.to_string(),
                    tries: 1,
                });
            }
            Ok(a.body)
        })
        .await
    }

    /// Tries to mount `digest` into `repo` from repository `from` of the same registry. A
    /// `201` is checked with a `HEAD` (Harbor answers `201` without mounting); a `202` hands
    /// back the session the registry opened; any other answer is [`MountOutcome::Refused`].
    pub async fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &str,
    ) -> Result<MountOutcome, Error> {
        let mut url = self.url(repo, "blobs/uploads/")?;
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        let mut req = Req::write(
            "mount blob",
            repo.display_ref(digest.as_str()),
            repo,
            Method::POST,
            url,
            &[StatusCode::CREATED, StatusCode::ACCEPTED],
        )
        .body(Bytes::new());
        req.scopes.push(format!("repository:{from}:pull"));
        let answer = self
            .request(req, 64 << 10, |a| {
                Ok((a.status, a.header("location").map(str::to_string)))
            })
            .await;
        match answer {
            Ok((StatusCode::CREATED, _)) => {
                if self.blob_exists(repo, digest).await?.is_some() {
                    Ok(MountOutcome::Mounted)
                } else {
                    Ok(MountOutcome::Refused)
                }
            }
            Ok((_, Some(loc))) => match self.resolve_location(repo, &loc) {
                Some(location) => Ok(MountOutcome::Declined(UploadSession { location })),
                None => Ok(MountOutcome::Refused),
            },
            Ok((_, None)) => Ok(MountOutcome::Refused),
            // A mount is an optimization: an unsupported or forbidden one means "upload".
            Err(e) if !e.is_transient() && e.retry_after().is_none() => {
                tracing::debug!(error = %e, "mount refused");
                Ok(MountOutcome::Refused)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens an upload session: one attempt, for a copy that is retried as a whole.
    pub async fn begin_upload(&self, repo: &Repository) -> Result<UploadSession, Error> {
        self.begin_upload_with(&RetryPolicy::once(), repo).await
    }

    async fn begin_upload_with(
        &self,
        policy: &RetryPolicy,
        repo: &Repository,
    ) -> Result<UploadSession, Error> {
        let req = Req::write(
            "start upload",
            repo.to_string(),
            repo,
            Method::POST,
            self.url(repo, "blobs/uploads/")?,
            &[StatusCode::ACCEPTED],
        )
        .body(Bytes::new());
        self.request_with(policy, req, 64 << 10, |a| {
            let location = a
                .header("location")
                .and_then(|l| self.resolve_location(repo, l))
                .ok_or_else(|| Error::Registry {
                    op: "start upload",
                    target: repo.to_string(),
                    status: a.status.as_u16(),
                    code: None,
                    message: Some("no usable Location header in the answer".into()),
                    tries: 1,
                    auth_entry: None,
                    retry_after: None,
                })?;
            Ok(UploadSession { location })
        })
        .await
    }

    fn resolve_location(&self, repo: &Repository, loc: &str) -> Option<url::Url> {
        let base = url::Url::parse(&format!("{}/", self.base_url(&repo.registry))).ok()?;
        base.join(loc).ok()
    }

    /// Cancels an upload session that will not be completed (`DELETE`), so registries that
    /// keep sessions (Quay, Harbor) do not pile them up. Best effort: a failure is ignored.
    pub async fn cancel_upload(&self, repo: &Repository, session: UploadSession) {
        let mut req = Req::write(
            "cancel upload",
            repo.to_string(),
            repo,
            Method::DELETE,
            session.location,
            &[StatusCode::NO_CONTENT, StatusCode::OK, StatusCode::ACCEPTED],
        );
        req.accept = &[
            StatusCode::NO_CONTENT,
            StatusCode::OK,
            StatusCode::ACCEPTED,
            StatusCode::NOT_FOUND,
        ];
        let cancel = self.attempt(&req);
        match tokio::time::timeout(Duration::from_secs(10), cancel).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "cancelling an upload failed"),
            Err(_) => tracing::debug!("cancelling an upload timed out"),
        }
    }

    /// Uploads `size` bytes that must hash to `digest` with one streamed `PUT`, into `session`
    /// or a session opened now: one attempt (a stream cannot be replayed; the caller retries
    /// the whole copy). On failure the session is cancelled. A [`crate::verify::VerifyError`] in the body's
    /// stream (see [`crate::verify::VerifyingStream`]) comes back as a digest mismatch.
    pub async fn put_blob_stream<S>(
        &self,
        repo: &Repository,
        session: Option<UploadSession>,
        digest: &Digest,
        size: u64,
        body: S,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let target = repo.display_ref(digest.as_str());
        let session = match session {
            Some(s) => s,
            None => self.begin_upload(repo).await?,
        };
        let mut url = session.location.clone();
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let req = Req::write(
            "upload blob",
            target.clone(),
            repo,
            Method::PUT,
            url,
            &[StatusCode::CREATED, StatusCode::NO_CONTENT, StatusCode::OK],
        )
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )
        .header(header::CONTENT_LENGTH, HeaderValue::from(size));
        let mut body = Some(reqwest::Body::wrap_stream(body));
        let result = self
            .attempt_with_body(&req, || body.take().unwrap_or_default())
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                self.cancel_upload(repo, session).await;
                Err(e)
            }
        }
    }

    /// Uploads a small blob held in memory: the session and the `PUT` are one operation,
    /// retried by the client's policy.
    pub async fn put_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<(), Error> {
        let target = repo.display_ref(digest.as_str());
        super::retry::run(
            &self.opts.retry,
            self.opts.on_retry.as_ref(),
            "upload blob",
            &target,
            || async {
                let session = self.begin_upload(repo).await?;
                let mut url = session.location.clone();
                url.query_pairs_mut().append_pair("digest", digest.as_str());
                let req = Req::write(
                    "upload blob",
                    target.clone(),
                    repo,
                    Method::PUT,
                    url,
                    &[StatusCode::CREATED, StatusCode::NO_CONTENT, StatusCode::OK],
                )
                .header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                )
                .body(bytes.clone());
                match self.attempt(&req).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        self.cancel_upload(repo, session).await;
                        Err(e)
                    }
                }
            },
        )
        .await
    }
}
