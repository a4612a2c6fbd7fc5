//! `-a`, `--ca-file`, `--insecure-registry` into a registry client.

use mirror_core::{AuthFile, ClientOptions, RegistryClient};

use crate::cli::Access;

/// Builds a client from the access flags.
pub fn client(access: &Access) -> Result<RegistryClient, mirror_core::Error> {
    RegistryClient::new(client_options(access)?)
}

/// Resolves the access flags into client options (auth file, CA files, plain-HTTP hosts).
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
        ..Default::default()
    })
}
