//! A registry client for copying content byte for byte.
//!
//! Built on reqwest (the HTTP client oci-client itself uses) rather than on oci-client's
//! `Client`, because a mirror needs what that client does not give: the `Content-Type` of a
//! manifest, a mount answered with `202` that turns into an upload, `Retry-After`, and tokens
//! scoped to two repositories for cross-repository mounts. See `docs/dependencies.md`.
//!
//! In parts (private modules): `transport` (the one request loop, TLS, errors), `auth`
//! (challenges, the token cache, credentials), `manifests`, `blobs` (blobs and uploads), and
//! `retry` (the one retry policy, [`RetryPolicy`]).

mod auth;
mod blobs;
mod challenge;
mod manifests;
mod retry;
mod tls;
mod transport;

use std::sync::Arc;
use std::time::Duration;

pub use blobs::{BlobStream, MountOutcome, UploadSession};
pub use manifests::RawManifest;
pub use retry::{RetryHook, RetryNotice, RetryPolicy};
pub(crate) use retry::{run as retrying, transient_status};
pub(crate) use tls::cert_problem;
pub(crate) use transport::error_chain;

use crate::auth::{AuthFile, FoundCredential};
use crate::error::Error;
use crate::reference::Repository;

pub use crate::manifest::media_type;

/// Which HTTP version to speak to registries.
///
/// The default is HTTP/1.1, by measurement (docs/performance.md): the distribution registry's
/// HTTP/2 server spends more CPU on bulk blobs than its HTTP/1.1 one, and a mirror over
/// HTTP/1.1 (several connections) took 0.71x the wall of the same mirror over HTTP/2
/// (streams on one connection) with TLS and authentication at both ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVersion {
    /// HTTP/2 where the server offers it over TLS (ALPN), else HTTP/1.1.
    Auto,
    /// HTTP/1.1 only: several connections instead of streams on one.
    #[default]
    Http1,
}

/// Settings for a [`RegistryClient`].
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Credentials; `None` means anonymous.
    pub auth: Option<AuthFile>,
    /// Extra trusted CA certificates (PEM), added to the system roots.
    pub ca_pems: Vec<Vec<u8>>,
    /// Registries (`host[:port]`) spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Told of every retry.
    pub on_retry: Option<RetryHook>,
    /// The HTTP version to speak.
    pub http_version: HttpVersion,
}

impl ClientOptions {
    /// Options with credentials from `auth` and everything else default.
    pub fn with_auth(auth: Option<AuthFile>) -> Self {
        Self {
            auth,
            ..Self::default()
        }
    }
}

/// A registry client shared by many concurrent transfers (cheap to clone).
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    opts: Arc<ClientOptions>,
    tokens: Arc<auth::TokenCache>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
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
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("mirrorctl/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(300))
            .tls_certs_merge(certs)
            .pool_idle_timeout(Duration::from_secs(60));
        if opts.http_version == HttpVersion::Http1 {
            builder = builder.http1_only();
        }
        let http = builder.build().map_err(|e| Error::TlsSetup {
            reason: transport::error_chain(&e),
        })?;
        Ok(Self {
            http,
            opts: Arc::new(opts),
            tokens: Arc::default(),
        })
    }

    /// The settings this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    fn base_url(&self, registry: &str) -> String {
        let scheme = if self.opts.insecure_registries.iter().any(|r| r == registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}")
    }

    /// `<scheme>://<registry>/v2/<repo>/<tail>`.
    fn url(&self, repo: &Repository, tail: &str) -> Result<url::Url, Error> {
        let s = format!(
            "{}/v2/{}/{}",
            self.base_url(&repo.registry),
            repo.path,
            tail
        );
        url::Url::parse(&s).map_err(|e| Error::InvalidReference {
            input: repo.to_string(),
            reason: format!("does not make a URL: {e}"),
        })
    }

    /// `<scheme>://<registry>/v2/<tail>`.
    fn registry_url(&self, repo: &Repository, tail: &str) -> Result<url::Url, Error> {
        url::Url::parse(&format!("{}/v2/{tail}", self.base_url(&repo.registry))).map_err(|e| {
            Error::InvalidReference {
                input: repo.registry.clone(),
                reason: format!("does not make a URL: {e}"),
            }
        })
    }

    fn credential(&self, repo: &Repository) -> Option<FoundCredential> {
        self.opts.auth.as_ref()?.lookup(&repo.registry, &repo.path)
    }
}
