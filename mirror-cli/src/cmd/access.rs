//! `-a`, `--ca-file`, `--insecure-registry` into a registry client.

use mirror_core::{
    ClientOptions, RegistryClient,
    auth::AuthFile,
    registry::{HttpVersion, RetryHook, RetryPolicy},
};

use crate::cli::{Access, HttpVersionArg};

/// Builds a client from the access flags; `on_retry` is told of every retried request.
pub fn client(
    access: &Access,
    on_retry: Option<RetryHook>,
) -> Result<RegistryClient, mirror_core::Error> {
    let mut opts = client_options(access)?;
    opts.on_retry = on_retry;
    RegistryClient::new(opts)
}

/// The retry policy `--retry-times` asks for.
pub fn retry_policy(access: &Access) -> RetryPolicy {
    RetryPolicy::with_tries(access.retry_times.saturating_add(1))
}

/// Resolves the access flags into client options (auth file, CA files, plain-HTTP hosts,
/// retries).
pub fn client_options(access: &Access) -> Result<ClientOptions, mirror_core::Error> {
    let auth = AuthFile::discover(access.registry_config.as_deref())?;
    let mut ca_pems = Vec::new();
    for f in &access.ca_files {
        let pem = std::fs::read(f).map_err(|e| mirror_core::Error::Io {
            action: "read CA file",
            path: f.clone(),
            source: e,
        })?;
        ca_pems.push(pem);
    }
    Ok(ClientOptions {
        auth,
        ca_pems,
        insecure_registries: access.insecure_registries.clone(),
        retry: retry_policy(access),
        http_version: match access.http_version {
            HttpVersionArg::Auto => HttpVersion::Auto,
            HttpVersionArg::Http1 => HttpVersion::Http1,
        },
        ..Default::default()
    })
}
