//! A registry client for copying content byte for byte.
//!
//! Built on reqwest (the HTTP client oci-client itself uses) rather than on oci-client's
//! `Client`, because a mirror needs what that client does not give: the `Content-Type` of a
//! manifest, a mount answered with `202` that turns into an upload, `Retry-After`, and tokens
//! scoped to two repositories for cross-repository mounts. See `docs/dependencies.md`.

mod challenge;
mod retry;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

pub use retry::RetryPolicy;

use crate::auth::{AuthFile, FoundCredential};
use crate::digest::Digest;
use crate::error::{CertProblem, Error};
use crate::reference::Repository;
use challenge::Challenge;

/// Manifest media types.
pub mod media_type {
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker schema 1 (refused).
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1, signed (refused).
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
}

const ACCEPT_MANIFESTS: &str = "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1, application/vnd.docker.distribution.manifest.v1+json;q=0.1";

/// Largest manifest we accept (real ones are a few KiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Settings for a [`RegistryClient`].
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Credentials; `None` means anonymous.
    pub auth: Option<AuthFile>,
    /// Extra trusted CA certificates (PEM), added to the system roots.
    pub ca_pems: Vec<Vec<u8>>,
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Retries for failed requests.
    pub retry: RetryPolicy,
}

/// A manifest exactly as the registry served it.
#[derive(Clone, Debug)]
pub struct RawManifest {
    /// The bytes, never re-serialized.
    pub bytes: Bytes,
    /// The media type (from `Content-Type`, else from the JSON, else inferred from its shape).
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
}

/// What a cross-repository mount did.
#[derive(Debug)]
pub enum MountOutcome {
    /// `201`: the blob is now in the target repository.
    Mounted,
    /// `202` (or a refusal): an upload session to use instead.
    Upload(UploadSession),
}

/// An open blob upload.
#[derive(Debug)]
pub struct UploadSession {
    location: url::Url,
}

/// A streamed blob body.
pub struct BlobStream {
    /// Declared length, when the registry sent one.
    pub size: Option<u64>,
    /// The bytes.
    pub stream: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct RegistryAuthState {
    challenge: Option<Challenge>,
    /// scope key -> (token, valid until)
    tokens: HashMap<String, (String, Instant)>,
}

/// A registry client shared by many concurrent transfers (cheap to clone).
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    opts: Arc<ClientOptions>,
    state: Arc<Mutex<HashMap<String, RegistryAuthState>>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
    }
}

/// One request's description, for retries and error messages.
struct Req<'a> {
    op: &'static str,
    target: String,
    repo: &'a Repository,
    scopes: Vec<String>,
    method: Method,
    url: url::Url,
    headers: HeaderMap,
    body: Option<Bytes>,
    accept: &'a [StatusCode],
}

impl<'a> Req<'a> {
    /// A read (`GET`/`HEAD`) of `<repo>/<tail>` with a pull scope; 404 is an answer, not an
    /// error.
    fn read(
        op: &'static str,
        target: String,
        repo: &'a Repository,
        method: Method,
        url: url::Url,
        headers: HeaderMap,
    ) -> Self {
        Req {
            op,
            target,
            repo,
            scopes: vec![format!("repository:{}:pull", repo.path)],
            method,
            url,
            headers,
            body: None,
            accept: &[StatusCode::OK, StatusCode::NOT_FOUND],
        }
    }
}

impl RegistryClient {
    /// Builds a client. Fails on an unusable CA certificate.
    pub fn new(opts: ClientOptions) -> Result<Self, Error> {
        let mut certs = Vec::new();
        for pem in &opts.ca_pems {
            let bundle =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::TlsSetup {
                    reason: format!("CA bundle does not parse: {e}"),
                })?;
            if bundle.is_empty() {
                return Err(Error::TlsSetup {
                    reason: "CA file holds no PEM certificate".into(),
                });
            }
            certs.extend(bundle);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("mirrorctl/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(300))
            .tls_certs_merge(certs)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::TlsSetup {
                reason: error_chain(&e),
            })?;
        Ok(Self {
            http,
            opts: Arc::new(opts),
            state: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    fn base_url(&self, registry: &str) -> String {
        let scheme = if self.opts.insecure_registries.iter().any(|r| r == registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}")
    }

    fn url(&self, repo: &Repository, tail: &str) -> url::Url {
        let s = format!(
            "{}/v2/{}/{}",
            self.base_url(&repo.registry),
            repo.path,
            tail
        );
        url::Url::parse(&s)
            .unwrap_or_else(|_| url::Url::parse("http://invalid/").expect("static url"))
    }

    fn credential(&self, repo: &Repository) -> Option<FoundCredential> {
        self.opts.auth.as_ref()?.lookup(&repo.registry, &repo.path)
    }

    /// Runs `op` again while it fails transiently (a body cut off after its headers, corrupt
    /// bytes): requests are retried inside `send`, whole reads here.
    async fn retry_whole<T, F, Fut>(&self, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let policy = &self.opts.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op().await {
                Err(e) if e.is_transient() && attempt < policy.max_tries.max(1) => {
                    tokio::time::sleep(policy.delay(attempt, None)).await;
                }
                other => return other,
            }
        }
    }

    /// Fetches a manifest by tag or digest. `Ok(None)` when it does not exist. A manifest
    /// fetched by digest is verified against that digest.
    pub async fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RawManifest>, Error> {
        self.retry_whole(|| self.get_manifest_once(repo, reference))
            .await
    }

    /// Fetches a small blob (a config, a manifest-sized JSON) whole, verifying its digest.
    pub async fn get_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> Result<Bytes, Error> {
        self.retry_whole(|| self.get_blob_bytes_once(repo, digest, max))
            .await
    }

    /// Checks that the registry answers `/v2/` and accepts our credentials for `repo`.
    pub async fn ping(&self, repo: &Repository) -> Result<(), Error> {
        let url =
            url::Url::parse(&format!("{}/v2/", self.base_url(&repo.registry))).map_err(|e| {
                Error::InvalidReference {
                    input: repo.to_string(),
                    reason: e.to_string(),
                }
            })?;
        self.send(Req {
            op: "ping registry",
            target: repo.registry.clone(),
            repo,
            scopes: vec![format!("repository:{}:pull", repo.path)],
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
            accept: &[StatusCode::OK],
        })
        .await?;
        Ok(())
    }

    /// Lists the repositories of a registry (`/v2/_catalog`, first page up to `n`).
    pub async fn catalog(&self, repo: &Repository, n: usize) -> Result<Vec<String>, Error> {
        let url = url::Url::parse(&format!(
            "{}/v2/_catalog?n={n}",
            self.base_url(&repo.registry)
        ))
        .map_err(|e| Error::InvalidReference {
            input: repo.to_string(),
            reason: e.to_string(),
        })?;
        let resp = self
            .send(Req {
                op: "list catalog",
                target: repo.registry.clone(),
                repo,
                scopes: vec!["registry:catalog:*".into()],
                method: Method::GET,
                url,
                headers: HeaderMap::new(),
                body: None,
                accept: &[StatusCode::OK],
            })
            .await?;
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.conn_err("list catalog", repo.registry.clone(), 1, &e))?;
        let c: Catalog = serde_json::from_slice(&body).map_err(|e| Error::Manifest {
            target: repo.registry.clone(),
            reason: format!("catalog is not JSON: {e}"),
        })?;
        Ok(c.repositories.unwrap_or_default())
    }

    /// Fetches a manifest by tag or digest. `Ok(None)` when it does not exist. A manifest
    /// fetched by digest is verified against that digest.
    async fn get_manifest_once(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RawManifest>, Error> {
        let target = repo.display_ref(reference);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let resp = self
            .send(Req::read(
                "get manifest",
                target.clone(),
                repo,
                Method::GET,
                self.url(repo, &format!("manifests/{reference}")),
                headers,
            ))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        if resp
            .content_length()
            .is_some_and(|l| l as usize > MAX_MANIFEST_BYTES)
        {
            return Err(Error::Manifest {
                target,
                reason: format!("larger than {MAX_MANIFEST_BYTES} bytes"),
            });
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.conn_err("get manifest", target.clone(), 1, &e))?;
        let digest = Digest::of(&bytes);
        if let Ok(expected) = Digest::parse(reference)
            && expected != digest
        {
            return Err(Error::DigestMismatch {
                target,
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        let media_type =
            crate::manifest::media_type_of(content_type.as_deref(), &bytes).map_err(|reason| {
                Error::Manifest {
                    target: target.clone(),
                    reason,
                }
            })?;
        Ok(Some(RawManifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// `HEAD` a manifest: its digest when present.
    pub async fn head_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS));
        let resp = self
            .send(Req::read(
                "check manifest",
                repo.display_ref(reference),
                repo,
                Method::HEAD,
                self.url(repo, &format!("manifests/{reference}")),
                headers,
            ))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Digest::parse(v).ok());
        match (header_digest, Digest::parse(reference)) {
            (Some(d), _) => Ok(Some(d)),
            (None, Ok(d)) => Ok(Some(d)),
            // A tag without a digest header: fall back to a GET.
            (None, Err(_)) => Ok(self.get_manifest(repo, reference).await?.map(|m| m.digest)),
        }
    }

    /// Pushes manifest bytes unchanged under `reference` (a tag or the digest itself) and
    /// checks the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Digest, Error> {
        let target = repo.display_ref(reference);
        let expected = Digest::of(&bytes);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|_| Error::Manifest {
                target: target.clone(),
                reason: format!("media type `{media_type}` is not a valid header"),
            })?,
        );
        let resp = self
            .send(Req {
                op: "push manifest",
                target: target.clone(),
                repo,
                scopes: vec![format!("repository:{}:pull,push", repo.path)],
                method: Method::PUT,
                url: self.url(repo, &format!("manifests/{reference}")),
                headers,
                body: Some(bytes),
                accept: &[StatusCode::CREATED, StatusCode::OK, StatusCode::ACCEPTED],
            })
            .await?;
        if let Some(d) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && d != expected.as_str()
        {
            return Err(Error::DigestMismatch {
                target,
                expected: expected.to_string(),
                actual: d.to_string(),
            });
        }
        Ok(expected)
    }

    /// `HEAD` a blob: its size when present.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<u64>, Error> {
        let resp = self
            .send(Req::read(
                "check blob",
                repo.display_ref(digest.as_str()),
                repo,
                Method::HEAD,
                self.url(repo, &format!("blobs/{digest}")),
                HeaderMap::new(),
            ))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(resp.content_length().unwrap_or(0)))
    }

    /// Opens a blob for streaming (redirects to storage backends are followed).
    pub async fn get_blob(&self, repo: &Repository, digest: &Digest) -> Result<BlobStream, Error> {
        let resp = self
            .send(Req {
                op: "get blob",
                target: repo.display_ref(digest.as_str()),
                repo,
                scopes: vec![format!("repository:{}:pull", repo.path)],
                method: Method::GET,
                url: self.url(repo, &format!("blobs/{digest}")),
                headers: HeaderMap::new(),
                body: None,
                accept: &[StatusCode::OK],
            })
            .await?;
        Ok(BlobStream {
            size: resp.content_length(),
            stream: Box::pin(resp.bytes_stream()),
        })
    }

    /// Fetches a small blob (a config, a manifest-sized JSON) whole, verifying its digest.
    async fn get_blob_bytes_once(
        &self,
        repo: &Repository,
        digest: &Digest,
        max: usize,
    ) -> Result<Bytes, Error> {
        let target = repo.display_ref(digest.as_str());
        let mut blob = self.get_blob(repo, digest).await?;
        let mut buf = Vec::new();
        while let Some(chunk) = blob.stream.next().await {
            let chunk = chunk.map_err(|e| self.conn_err("get blob", target.clone(), 1, &e))?;
            if buf.len() + chunk.len() > max {
                return Err(Error::Manifest {
                    target,
                    reason: format!("blob larger than the {max} bytes expected"),
                });
            }
            buf.extend_from_slice(&chunk);
        }
        let actual = Digest::of(&buf);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                target,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(buf.into())
    }

    /// Tries to mount `digest` from repository `from` of the same registry. A `202` hands back
    /// the upload session the registry opened; any error also falls back to a fresh upload.
    pub async fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &str,
    ) -> Result<MountOutcome, Error> {
        let mut url = self.url(repo, "blobs/uploads/");
        url.query_pairs_mut()
            .append_pair("mount", digest.as_str())
            .append_pair("from", from);
        let resp = self
            .send(Req {
                op: "mount blob",
                target: repo.display_ref(digest.as_str()),
                repo,
                scopes: vec![
                    format!("repository:{}:pull,push", repo.path),
                    format!("repository:{from}:pull"),
                ],
                method: Method::POST,
                url,
                headers: HeaderMap::new(),
                body: Some(Bytes::new()),
                accept: &[StatusCode::CREATED, StatusCode::ACCEPTED],
            })
            .await;
        match resp {
            Ok(r) if r.status() == StatusCode::CREATED => {
                // Some registries answer 201 without mounting (Harbor): trust but verify.
                if self.blob_exists(repo, digest).await?.is_some() {
                    Ok(MountOutcome::Mounted)
                } else {
                    Ok(MountOutcome::Upload(self.begin_upload(repo).await?))
                }
            }
            Ok(r) => match self.location(repo, &r) {
                Some(location) => Ok(MountOutcome::Upload(UploadSession { location })),
                None => Ok(MountOutcome::Upload(self.begin_upload(repo).await?)),
            },
            Err(_) => Ok(MountOutcome::Upload(self.begin_upload(repo).await?)),
        }
    }

    /// Opens an upload session.
    pub async fn begin_upload(&self, repo: &Repository) -> Result<UploadSession, Error> {
        let resp = self
            .send(Req {
                op: "start upload",
                target: repo.to_string(),
                repo,
                scopes: vec![format!("repository:{}:pull,push", repo.path)],
                method: Method::POST,
                url: self.url(repo, "blobs/uploads/"),
                headers: HeaderMap::new(),
                body: Some(Bytes::new()),
                accept: &[StatusCode::ACCEPTED],
            })
            .await?;
        let location = self.location(repo, &resp).ok_or_else(|| Error::Registry {
            op: "start upload",
            target: repo.to_string(),
            status: resp.status().as_u16(),
            code: None,
            message: Some("no Location header in the answer".into()),
            tries: 1,
            auth_entry: None,
        })?;
        Ok(UploadSession { location })
    }

    fn location(&self, repo: &Repository, resp: &reqwest::Response) -> Option<url::Url> {
        let loc = resp.headers().get(header::LOCATION)?.to_str().ok()?;
        let base = url::Url::parse(&format!("{}/", self.base_url(&repo.registry))).ok()?;
        base.join(loc).ok()
    }

    /// Completes `session` with one streamed `PUT` of `size` bytes that must hash to `digest`.
    /// Not retried here: a stream cannot be replayed; callers retry the whole copy.
    pub async fn put_blob_stream<S>(
        &self,
        repo: &Repository,
        session: UploadSession,
        digest: &Digest,
        size: u64,
        body: S,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let mut url = session.location;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        self.send_stream(
            "upload blob",
            repo.display_ref(digest.as_str()),
            repo,
            url,
            headers,
            reqwest::Body::wrap_stream(body),
        )
        .await
    }

    /// Uploads a small blob held in memory (with retries).
    pub async fn put_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<(), Error> {
        let session = self.begin_upload(repo).await?;
        let mut url = session.location;
        url.query_pairs_mut().append_pair("digest", digest.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        self.send(Req {
            op: "upload blob",
            target: repo.display_ref(digest.as_str()),
            repo,
            scopes: vec![format!("repository:{}:pull,push", repo.path)],
            method: Method::PUT,
            url,
            headers,
            body: Some(bytes),
            accept: &[StatusCode::CREATED, StatusCode::NO_CONTENT, StatusCode::OK],
        })
        .await?;
        Ok(())
    }

    async fn send_stream(
        &self,
        op: &'static str,
        target: String,
        repo: &Repository,
        url: url::Url,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<(), Error> {
        let scopes = vec![format!("repository:{}:pull,push", repo.path)];
        let mut rb = self
            .http
            .request(Method::PUT, url)
            .headers(headers)
            .body(body);
        if let Some(a) = self.authorization(repo, &scopes).await? {
            rb = rb.header(header::AUTHORIZATION, a);
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| self.conn_err(op, target.clone(), 1, &e))?;
        if matches!(
            resp.status(),
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK
        ) {
            return Ok(());
        }
        Err(self.registry_err(op, target, repo, resp, 1).await)
    }

    async fn send(&self, req: Req<'_>) -> Result<reqwest::Response, Error> {
        let policy = &self.opts.retry;
        let mut tries = 0u32;
        let mut reauthed = false;
        loop {
            tries += 1;
            let mut rb = self
                .http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            if let Some(a) = self.authorization(req.repo, &req.scopes).await? {
                rb = rb.header(header::AUTHORIZATION, a);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    let cert = cert_problem(&e).is_some();
                    if tries < policy.max_tries.max(1) && !cert && !e.is_builder() {
                        tokio::time::sleep(policy.delay(tries, None)).await;
                        continue;
                    }
                    return Err(self.conn_err(req.op, req.target, tries, &e));
                }
            };
            let status = resp.status();
            if req.accept.contains(&status) {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && !reauthed {
                let challenge = resp
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(challenge::parse);
                if let Some(ch) = challenge {
                    let changed = self.learn_challenge(&req.repo.registry, ch);
                    let have_cred = self.credential(req.repo).is_some();
                    // Retry once when we learned how to authenticate, or when a bearer token
                    // (possibly anonymous) can now be fetched.
                    if changed || have_cred {
                        reauthed = true;
                        self.forget_tokens(&req.repo.registry);
                        tries -= 1;
                        continue;
                    }
                }
            }
            if retry::retryable_status(status.as_u16()) && tries < policy.max_tries.max(1) {
                let ra = resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                tokio::time::sleep(policy.delay(tries, ra.as_deref())).await;
                continue;
            }
            return Err(self
                .registry_err(req.op, req.target, req.repo, resp, tries)
                .await);
        }
    }

    fn learn_challenge(&self, registry: &str, ch: Challenge) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let entry = state.entry(registry.to_string()).or_default();
        let changed = entry.challenge.as_ref() != Some(&ch);
        entry.challenge = Some(ch);
        changed
    }

    fn forget_tokens(&self, registry: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = state.get_mut(registry) {
            s.tokens.clear();
        }
    }

    async fn authorization(
        &self,
        repo: &Repository,
        scopes: &[String],
    ) -> Result<Option<String>, Error> {
        let cred = self.credential(repo);
        let challenge = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.get(&repo.registry).and_then(|s| s.challenge.clone())
        };
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => {
                Ok(cred.map(|c| format!("Basic {}", c.credential.to_auth_value())))
            }
            Some(Challenge::Bearer { realm, service }) => {
                let key = scopes.join(" ");
                {
                    let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some((tok, until)) =
                        state.get(&repo.registry).and_then(|s| s.tokens.get(&key))
                        && Instant::now() < *until
                    {
                        return Ok(Some(format!("Bearer {tok}")));
                    }
                }
                let token = self
                    .fetch_token(repo, &realm, service.as_deref(), scopes, cred.as_ref())
                    .await?;
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state
                    .entry(repo.registry.clone())
                    .or_default()
                    .tokens
                    .insert(key, (token.0.clone(), token.1));
                Ok(Some(format!("Bearer {}", token.0)))
            }
        }
    }

    async fn fetch_token(
        &self,
        repo: &Repository,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        cred: Option<&FoundCredential>,
    ) -> Result<(String, Instant), Error> {
        let mut url = url::Url::parse(realm).map_err(|_| Error::Registry {
            op: "get token",
            target: repo.registry.clone(),
            status: 401,
            code: None,
            message: Some(format!("the registry's token realm `{realm}` is not a URL")),
            tries: 1,
            auth_entry: None,
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in scopes {
                q.append_pair("scope", s);
            }
        }
        let policy = &self.opts.retry;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut rb = self.http.get(url.clone());
            if let Some(c) = cred {
                rb = rb.basic_auth(&c.credential.username, Some(&c.credential.password));
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) if tries < policy.max_tries && cert_problem(&e).is_none() => {
                    tokio::time::sleep(policy.delay(tries, None)).await;
                    continue;
                }
                Err(e) => return Err(self.conn_err("get token", repo.registry.clone(), tries, &e)),
            };
            let status = resp.status();
            if status.is_success() {
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| self.conn_err("get token", repo.registry.clone(), tries, &e))?;
                let t: challenge::TokenResponse =
                    serde_json::from_slice(&body).map_err(|_| Error::Registry {
                        op: "get token",
                        target: repo.registry.clone(),
                        status: status.as_u16(),
                        code: None,
                        message: Some(
                            "token endpoint answered with something that is not a token".into(),
                        ),
                        tries,
                        auth_entry: None,
                    })?;
                let token = t.token.or(t.access_token).unwrap_or_default();
                // Renew a little early; registries default to 60 s when they say nothing.
                let ttl = Duration::from_secs(t.expires_in.unwrap_or(60).max(10));
                return Ok((token, Instant::now() + ttl - Duration::from_secs(5)));
            }
            if retry::retryable_status(status.as_u16()) && tries < policy.max_tries {
                let ra = resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                tokio::time::sleep(policy.delay(tries, ra.as_deref())).await;
                continue;
            }
            return Err(self
                .registry_err("get token", repo.registry.clone(), repo, resp, tries)
                .await);
        }
    }

    fn conn_err(&self, op: &'static str, target: String, tries: u32, e: &reqwest::Error) -> Error {
        Error::Connection {
            op,
            target,
            tries,
            detail: error_chain(e),
            cert: cert_problem(e),
        }
    }

    async fn registry_err(
        &self,
        op: &'static str,
        target: String,
        repo: &Repository,
        resp: reqwest::Response,
        tries: u32,
    ) -> Error {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let (code, message) = parse_error_body(&body);
        Error::Registry {
            op,
            target,
            status,
            code,
            message,
            tries,
            auth_entry: self.credential(repo).map(|c| c.describe()),
        }
    }
}

/// Reads the registry error envelope `{"errors":[{"code","message"}]}`, else a short text.
fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body)
        && let Some(first) = env.errors.into_iter().next()
    {
        return (first.code, first.message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        (None, None)
    } else {
        (None, Some(text.chars().take(200).collect()))
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// Why the server's certificate was refused, when that is the failure: the error's `source()`
/// chain is walked for a `rustls::Error` (classified by type, never by its text). An
/// `io::Error` hides its payload from `source()`, so its `get_ref()` is looked at too.
pub(crate) fn cert_problem(e: &(dyn std::error::Error + 'static)) -> Option<CertProblem> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return classify_rustls(r);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(p) = cert_problem(inner)
        {
            return Some(p);
        }
        next = err.source();
    }
    None
}

fn classify_rustls(e: &rustls::Error) -> Option<CertProblem> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        // A bad signature on a chain means a trusted CA has the issuer's name but did not sign
        // it: another CA of the same name (a CA generated again from the same `certificate`
        // file). The fix is the same as for an unknown issuer: the right CA.
        C::UnknownIssuer | C::BadSignature => CertProblem::UnknownIssuer,
        C::NotValidForName => CertProblem::NotValidForName {
            expected: None,
            presented: Vec::new(),
        },
        C::NotValidForNameContext {
            expected,
            presented,
        } => CertProblem::NotValidForName {
            expected: Some(server_name(expected)),
            presented: presented.iter().map(|n| plain_name(n)).collect(),
        },
        C::Expired => CertProblem::Expired { not_after: None },
        C::ExpiredContext { not_after, .. } => CertProblem::Expired {
            not_after: Some(httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + Duration::from_secs(not_after.as_secs()),
            )),
        },
        other => CertProblem::Other {
            reason: other.to_string(),
        },
    })
}

/// webpki lists presented names in their `Debug` form (`DnsName("a.example")`,
/// `IpAddress(10.0.0.1)`): keep only the name.
fn plain_name(n: &str) -> String {
    ["DnsName(", "IpAddress(", "UniformResourceIdentifier("]
        .iter()
        .find_map(|p| n.strip_prefix(p)?.strip_suffix(')'))
        .map(|inner| inner.trim_matches('"').to_string())
        .unwrap_or_else(|| n.to_string())
}

fn server_name(n: &rustls::pki_types::ServerName<'_>) -> String {
    match n {
        rustls::pki_types::ServerName::DnsName(d) => d.as_ref().to_string(),
        rustls::pki_types::ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        type Row<'a> = (&'a [u8], (Option<&'a str>, Option<&'a str>));
        let table: [Row; 3] = [
            (
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
                (Some("MANIFEST_UNKNOWN"), Some("manifest unknown")),
            ),
            (b"<html>bad gateway</html>", (None, Some("<html>bad gateway</html>"))),
            (b"", (None, None)),
        ];
        for (body, (code, msg)) in table {
            let (c, m) = parse_error_body(body);
            assert_eq!((c.as_deref(), m.as_deref()), (code, msg));
        }
    }

    /// Certificate errors are classified by type, also when wrapped in an `io::Error` (as
    /// hyper hands them over), and other failures are not certificate problems.
    #[test]
    fn certificate_errors_by_type() {
        use rustls::CertificateError as C;
        use rustls::pki_types::{ServerName, UnixTime};
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let table: Vec<(rustls::Error, Option<CertProblem>)> = vec![
            (
                rustls::Error::InvalidCertificate(C::UnknownIssuer),
                Some(CertProblem::UnknownIssuer),
            ),
            (
                rustls::Error::InvalidCertificate(C::NotValidForNameContext {
                    expected: name.to_owned(),
                    presented: vec![
                        "DnsName(\"wrong.example\")".into(),
                        "IpAddress(10.0.0.1)".into(),
                        "DirectoryName".into(),
                    ],
                }),
                Some(CertProblem::NotValidForName {
                    expected: Some("127.0.0.1".into()),
                    presented: vec![
                        "wrong.example".into(),
                        "10.0.0.1".into(),
                        "DirectoryName".into(),
                    ],
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::NotValidForName),
                Some(CertProblem::NotValidForName {
                    expected: None,
                    presented: vec![],
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::ExpiredContext {
                    time: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
                    not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_600_000_000)),
                }),
                Some(CertProblem::Expired {
                    not_after: Some("Sun, 13 Sep 2020 12:26:40 GMT".into()),
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::Expired),
                Some(CertProblem::Expired { not_after: None }),
            ),
            (
                rustls::Error::InvalidCertificate(C::Revoked),
                Some(CertProblem::Other {
                    reason: C::Revoked.to_string(),
                }),
            ),
            (
                rustls::Error::InvalidCertificate(C::BadSignature),
                Some(CertProblem::UnknownIssuer),
            ),
            (rustls::Error::DecryptError, None),
        ];
        for (err, want) in table {
            let wrapped = std::io::Error::other(err.clone());
            assert_eq!(cert_problem(&err), want, "{err:?}");
            assert_eq!(cert_problem(&wrapped), want, "wrapped {err:?}");
        }
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(cert_problem(&plain), None);
    }
}
