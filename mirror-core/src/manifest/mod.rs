//! Reading manifests without changing them: media types, referenced blobs and children.

pub(crate) mod tree;

use oci_client::manifest::{OciImageIndex, OciImageManifest};

use crate::digest::Digest;
use media_type as mt;

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

/// The `Accept` header for manifests: every type we copy, schema 1 last (to refuse it by name).
pub(crate) const ACCEPT_MANIFESTS: &str = "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1, application/vnd.docker.distribution.manifest.v1+json;q=0.1";

/// Largest manifest we accept (real ones are a few KiB).
pub(crate) const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// A blob a manifest references (config or layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes, as the manifest declares.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// A manifest list / index entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildRef {
    /// The child manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// `os/architecture[/variant]`, when given.
    pub platform: Option<String>,
}

/// What a manifest is, as far as copying is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestKind {
    /// An image: its config and layers.
    Image {
        /// The config blob.
        config: BlobRef,
        /// The layers, bottom first.
        layers: Vec<BlobRef>,
    },
    /// A manifest list or OCI index: its children.
    List {
        /// The children.
        children: Vec<ChildRef>,
    },
}

/// Decides a manifest's media type: the `Content-Type` when it is a manifest type, else the
/// JSON's `mediaType`, else the shape (`manifests` = OCI index, `layers` = OCI manifest).
/// Schema 1 is refused: converting it would change every digest.
pub fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> Result<String, String> {
    let known = [
        mt::DOCKER_MANIFEST,
        mt::DOCKER_LIST,
        mt::OCI_MANIFEST,
        mt::OCI_INDEX,
    ];
    let schema1 = [mt::DOCKER_SCHEMA1, mt::DOCKER_SCHEMA1_SIGNED];
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<i64>,
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        layers: Option<serde_json::Value>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON manifest: {e}"))?;
    if probe.schema_version == Some(1) || content_type.is_some_and(|c| schema1.contains(&c)) {
        return Err(
            "schema 1 manifests are refused: converting them would change their digest".into(),
        );
    }
    if let Some(ct) = content_type
        && known.contains(&ct)
    {
        return Ok(ct.to_string());
    }
    if let Some(m) = probe.media_type {
        if known.contains(&m.as_str()) {
            return Ok(m);
        }
        return Err(format!("unsupported media type `{m}`"));
    }
    match (probe.manifests.is_some(), probe.layers.is_some()) {
        (true, _) => Ok(mt::OCI_INDEX.to_string()),
        (false, true) => Ok(mt::OCI_MANIFEST.to_string()),
        _ => Err("neither an image manifest nor an index".into()),
    }
}

/// True for manifest lists and OCI indexes.
pub fn is_list(media_type: &str) -> bool {
    media_type == mt::DOCKER_LIST || media_type == mt::OCI_INDEX
}

/// Reads the blobs or children a manifest references.
pub fn parse_kind(media_type: &str, bytes: &[u8]) -> Result<ManifestKind, String> {
    if is_list(media_type) {
        let index: OciImageIndex = serde_json::from_slice(bytes)
            .map_err(|e| format!("manifest list does not parse: {e}"))?;
        let children = index
            .manifests
            .into_iter()
            .map(|m| {
                Ok(ChildRef {
                    digest: Digest::parse(&m.digest).map_err(|e| e.to_string())?,
                    media_type: m.media_type,
                    platform: m.platform.map(|p| match p.variant {
                        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                        None => format!("{}/{}", p.os, p.architecture),
                    }),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        return Ok(ManifestKind::List { children });
    }
    let m: OciImageManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("image manifest does not parse: {e}"))?;
    let blob = |d: &oci_client::manifest::OciDescriptor| -> Result<BlobRef, String> {
        if let Some(urls) = &d.urls
            && !urls.is_empty()
        {
            return Err(format!(
                "layer `{}` is a foreign layer (urls); those are not mirrored",
                d.digest
            ));
        }
        Ok(BlobRef {
            digest: Digest::parse(&d.digest).map_err(|e| e.to_string())?,
            size: u64::try_from(d.size)
                .map_err(|_| format!("blob `{}` has a negative size", d.digest))?,
            media_type: d.media_type.clone(),
        })
    };
    Ok(ManifestKind::Image {
        config: blob(&m.config)?,
        layers: m.layers.iter().map(blob).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let table: [(Option<&str>, &str, Result<&str, &str>); 6] = [
            (
                Some(mt::DOCKER_MANIFEST),
                r#"{"schemaVersion":2}"#,
                Ok(mt::DOCKER_MANIFEST),
            ),
            (
                Some("application/json"),
                r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}"#,
                Ok(mt::DOCKER_LIST),
            ),
            (
                None,
                r#"{"schemaVersion":2,"manifests":[]}"#,
                Ok(mt::OCI_INDEX),
            ),
            (
                None,
                r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
                Ok(mt::OCI_MANIFEST),
            ),
            (
                Some(mt::DOCKER_SCHEMA1_SIGNED),
                r#"{"schemaVersion":1}"#,
                Err("schema 1 manifests are refused: converting them would change their digest"),
            ),
            (
                None,
                r#"{"schemaVersion":2,"mediaType":"text/plain"}"#,
                Err("unsupported media type `text/plain`"),
            ),
        ];
        for (ct, body, want) in table {
            assert_eq!(
                media_type_of(ct, body.as_bytes()).as_deref(),
                want.map_err(str::to_string).as_deref(),
                "{body}"
            );
        }
    }
}
