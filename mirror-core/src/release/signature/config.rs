//! The release payload's verification ConfigMap (`release-manifests/` of the release image,
//! annotated `release.openshift.io/verification-config-map`): keyrings in
//! `verifier-public-key-*`, signature stores in `store-*` (library-go `verify.NewFromManifests`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::keys::Keyring;
use super::store::Store;

/// The annotation that marks the payload's verification ConfigMap.
pub const VERIFICATION_ANNOTATION: &str = "release.openshift.io/verification-config-map";
const KEY_PREFIX: &str = "verifier-public-key-";
const STORE_PREFIX: &str = "store-";
/// The real ConfigMap is a few KiB; this bounds the YAML parse of what the payload carries.
const MAX_CONFIG_MAP: usize = 1 << 20;

#[derive(Deserialize)]
struct ConfigMap {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Keyrings and stores, as the payload configures them (raw: each is parsed when used, so an
/// entry replaced by a flag cannot fail the run).
#[derive(Debug, Default)]
pub(crate) struct VerificationConfig {
    /// `ConfigMap `name``, for messages.
    pub(crate) source: String,
    /// `verifier-public-key-*` entries: (key, keyring text).
    pub(crate) keys: Vec<(String, String)>,
    /// `store-*` entries: (key, URL).
    pub(crate) stores: Vec<(String, String)>,
}

impl VerificationConfig {
    /// The keyrings, each parsed.
    pub(crate) fn keyrings(&self) -> Result<Vec<Keyring>, String> {
        self.keys
            .iter()
            .map(|(k, v)| {
                Keyring::parse(k, v.as_bytes())
                    .map_err(|e| format!("{} entry `{k}`: {e}", self.source))
            })
            .collect()
    }

    /// The stores, each parsed (`http`, `https` or `file` URLs).
    pub(crate) fn stores(&self) -> Result<Vec<Store>, String> {
        self.stores
            .iter()
            .map(|(k, v)| {
                Store::parse(v.trim()).map_err(|e| format!("{} entry `{k}`: {e}", self.source))
            })
            .collect()
    }
}

/// Parses the manifest file `bytes` (YAML or JSON, one or more documents) and returns the
/// first ConfigMap carrying the annotation, or `Ok(None)` when there is none. Entries are kept
/// in key order, so stores are tried in a stable order; entries that are neither keys nor
/// stores are ignored, as the cluster version operator does.
pub(crate) fn parse(bytes: &[u8]) -> Result<Option<VerificationConfig>, String> {
    if bytes.len() > MAX_CONFIG_MAP {
        return Err(format!(
            "the manifest is {} bytes, over the {MAX_CONFIG_MAP}-byte limit",
            bytes.len()
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "the manifest is not UTF-8".to_string())?;
    let docs: Vec<ConfigMap> = serde_saphyr::from_multiple(text)
        .map_err(|e| format!("the manifest does not parse: {e}"))?;
    let Some(cm) = docs.into_iter().find(|d| {
        d.kind == "ConfigMap" && d.metadata.annotations.contains_key(VERIFICATION_ANNOTATION)
    }) else {
        return Ok(None);
    };
    let mut config = VerificationConfig {
        source: format!("ConfigMap `{}`", cm.metadata.name),
        ..Default::default()
    };
    for (k, v) in cm.data {
        if k.starts_with(KEY_PREFIX) {
            config.keys.push((k, v));
        } else if k.starts_with(STORE_PREFIX) {
            config.stores.push((k, v));
        }
    }
    Ok(Some(config))
}
