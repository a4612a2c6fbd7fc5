//! The release payload: the release image, its `image-references` and `release-metadata`
//! (the layout is in docs/release-payload.md).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::copy::Source;
use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::{ManifestKind, is_list, parse_kind};
use crate::reference::{ImageRef, Repository};
use crate::registry::{RawManifest, RetryPolicy, retrying};

const IMAGE_REFERENCES: &str = "release-manifests/image-references";
const RELEASE_METADATA: &str = "release-manifests/release-metadata";
/// The payload's verification ConfigMap (keys and signature stores), as cluster-update-keys
/// ships it; read with the same cap as the other metadata files.
const VERIFICATION_CONFIG_MAP: &str =
    "release-manifests/0000_90_cluster-update-keys_configmap.yaml";
/// Largest payload metadata file we read (real image-references are ~150 KiB).
const MAX_METADATA_FILE: u64 = 16 << 20;
/// Largest image config we read.
const MAX_CONFIG: usize = 4 << 20;

/// One component of a release: an image-references tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Component {
    /// The tag name, e.g. `cli`.
    pub name: String,
    /// Where it lives, always by digest.
    pub image: ImageRef,
    /// Its digest.
    pub digest: Digest,
}

/// `release-manifests/release-metadata` (Cincinnati metadata).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseMetadata {
    /// Always `cincinnati-metadata-v0`.
    pub kind: String,
    /// The release version (semver).
    pub version: String,
    /// Versions this one can update from.
    #[serde(default)]
    pub previous: Vec<String>,
    /// Opaque metadata (`url`, `release.openshift.io/architecture`, ...).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// A release image, read and validated.
#[derive(Clone, Debug)]
pub struct Release {
    /// The reference as given.
    pub image: ImageRef,
    /// The manifest (or manifest list) digest.
    pub digest: Digest,
    /// The manifest exactly as served.
    pub manifest: RawManifest,
    /// The version (image-references `metadata.name`).
    pub version: String,
    /// Tag suffix architecture: `x86_64`, `aarch64`, `ppc64le`, `s390x`, or `multi`.
    pub architecture: String,
    /// Cincinnati metadata, when the payload has it.
    pub metadata: Option<ReleaseMetadata>,
    /// Components, in image-references order (sorted by name).
    pub components: Vec<Component>,
    /// The bytes of `release-manifests/0000_90_cluster-update-keys_configmap.yaml` (the
    /// verification ConfigMap: keys and signature stores), when the payload has it.
    pub verification_config_map: Option<Vec<u8>>,
}

impl Release {
    /// The repositories the components live in, plus the release's own repository: the
    /// sources the mirror instructions must map.
    pub fn source_repositories(&self) -> BTreeSet<Repository> {
        let mut s: BTreeSet<Repository> = self
            .components
            .iter()
            .map(|c| c.image.repo.clone())
            .collect();
        s.insert(self.image.repo.clone());
        s
    }
}

#[derive(Deserialize)]
struct ImageStream {
    kind: Option<String>,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    metadata: Option<IsMeta>,
    spec: Option<IsSpec>,
}

#[derive(Deserialize)]
struct IsMeta {
    name: Option<String>,
}

#[derive(Deserialize)]
struct IsSpec {
    #[serde(default)]
    tags: Vec<IsTag>,
}

#[derive(Deserialize)]
struct IsTag {
    name: String,
    from: Option<IsFrom>,
}

#[derive(Deserialize)]
struct IsFrom {
    kind: Option<String>,
    name: Option<String>,
}

/// Parses and validates `image-references`; returns (version, components).
///
/// JSON only, as `oc adm release mirror`; `kind: ImageStream`, `apiVersion:
/// image.openshift.io/v1`; tags without `from` or not `DockerImage` are skipped; a reference
/// that is not by digest, or a duplicate name, is an error quoting the entry.
pub fn parse_image_references(bytes: &[u8]) -> Result<(String, Vec<Component>), String> {
    let is: ImageStream = serde_json::from_slice(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(bytes);
        let t = text.trim_start();
        if t.starts_with("kind:") || t.starts_with("apiVersion:") || t.starts_with("---") {
            "image-references is YAML, but must be JSON (as `oc adm release mirror` requires)"
                .to_string()
        } else {
            format!("image-references is not valid JSON: {e}")
        }
    })?;
    if is.kind.as_deref() != Some("ImageStream") {
        return Err(format!(
            "image-references has kind `{}`, expected `ImageStream`",
            is.kind.unwrap_or_default()
        ));
    }
    if is.api_version.as_deref() != Some("image.openshift.io/v1") {
        return Err(format!(
            "image-references has apiVersion `{}`, expected `image.openshift.io/v1`",
            is.api_version.unwrap_or_default()
        ));
    }
    let version = is
        .metadata
        .and_then(|m| m.name)
        .filter(|n| !n.is_empty())
        .ok_or("image-references has no `metadata.name` (the version)")?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for tag in is.spec.map(|s| s.tags).unwrap_or_default() {
        let Some(from) = tag.from else { continue };
        if from.kind.as_deref() != Some("DockerImage") {
            continue;
        }
        let name = from.name.unwrap_or_default();
        let image = ImageRef::parse(&name)
            .map_err(|e| format!("image-references tag `{}`: {e}", tag.name))?;
        let Some(digest) = image.target.digest().cloned() else {
            return Err(format!(
                "image-references tag `{}` points at `{name}`: image-references should only contain pointers to images by digest",
                tag.name
            ));
        };
        if !seen.insert(tag.name.clone()) {
            return Err(format!("image-references has tag `{}` twice", tag.name));
        }
        out.push(Component {
            name: tag.name,
            image,
            digest,
        });
    }
    Ok((version, out))
}

/// Parses and validates `release-metadata` (`kind: cincinnati-metadata-v0`).
pub fn parse_release_metadata(bytes: &[u8]) -> Result<ReleaseMetadata, String> {
    let m: ReleaseMetadata = serde_json::from_slice(bytes)
        .map_err(|e| format!("release-metadata is not valid JSON: {e}"))?;
    if m.kind != "cincinnati-metadata-v0" {
        return Err(format!(
            "release-metadata has kind `{}`, expected `cincinnati-metadata-v0`",
            m.kind
        ));
    }
    Ok(m)
}

/// Maps a Go architecture to the tag suffix `oc` writes.
pub fn tag_arch(go_arch: &str) -> String {
    match go_arch {
        "amd64" => "x86_64".into(),
        "arm64" => "aarch64".into(),
        other => other.into(),
    }
}

#[derive(Deserialize)]
struct ImageConfig {
    architecture: Option<String>,
}

/// Reads the release image `image` from `source`: verifies the manifest against its digest,
/// reads `image-references` and `release-metadata` from the top-most layer holding them (each
/// layer read retried as a whole under `retry`), and validates both.
pub async fn read_release<S: Source>(
    source: &S,
    image: &ImageRef,
    retry: &RetryPolicy,
) -> Result<Release, Error> {
    let payload_err = |reason: String| Error::Payload {
        image: image.to_string(),
        reason,
    };
    let manifest = source
        .manifest(&image.repo, image.target.as_str())
        .await?
        .ok_or_else(|| Error::Registry {
            op: "get release",
            target: image.to_string(),
            status: 404,
            code: Some("MANIFEST_UNKNOWN".into()),
            message: Some("no such tag or digest".into()),
            tries: 1,
            auth_entry: None,
            retry_after: None,
        })?;
    let (single, multi) = pick_image(source, image, &manifest).await?;
    let ManifestKind::Image { config, layers } =
        parse_kind(&single.media_type, &single.bytes).map_err(payload_err)?
    else {
        return Err(payload_err(
            "nested manifest lists are not a release image".into(),
        ));
    };
    let cfg_bytes = source
        .blob_bytes(&image.repo, &config.digest, MAX_CONFIG)
        .await?;
    let cfg: ImageConfig = serde_json::from_slice(&cfg_bytes)
        .map_err(|e| payload_err(format!("image config is not JSON: {e}")))?;
    let architecture = if multi {
        "multi".to_string()
    } else {
        tag_arch(cfg.architecture.as_deref().unwrap_or("amd64"))
    };

    let (refs, meta, keys) = payload_files(source, &image.repo, &layers, retry).await?;
    let refs = refs.ok_or_else(|| {
        payload_err(
            "release image did not contain an image-references file (is this a release image?)"
                .into(),
        )
    })?;
    let (version, components) = parse_image_references(&refs).map_err(payload_err)?;
    let metadata = meta
        .map(|m| parse_release_metadata(&m))
        .transpose()
        .map_err(payload_err)?;
    if let Some(m) = &metadata
        && m.version != version
    {
        return Err(payload_err(format!(
            "release-metadata version `{}` differs from image-references name `{version}`",
            m.version
        )));
    }
    if components.is_empty() {
        return Err(payload_err("image-references lists no components".into()));
    }
    Ok(Release {
        image: image.clone(),
        digest: manifest.digest.clone(),
        manifest,
        version,
        architecture,
        metadata,
        components,
        verification_config_map: keys,
    })
}

/// The single image of a release: the manifest itself, or the linux/amd64 child of a list
/// (then the release is `multi`).
async fn pick_image<S: Source>(
    source: &S,
    image: &ImageRef,
    manifest: &RawManifest,
) -> Result<(RawManifest, bool), Error> {
    let payload_err = |reason: String| Error::Payload {
        image: image.to_string(),
        reason,
    };
    if !is_list(&manifest.media_type) {
        return Ok((manifest.clone(), false));
    }
    let kind = parse_kind(&manifest.media_type, &manifest.bytes).map_err(payload_err)?;
    let ManifestKind::List { children } = kind else {
        unreachable!("lists parse to lists")
    };
    let pick = children
        .iter()
        .find(|c| c.platform.as_deref() == Some("linux/amd64"))
        .or_else(|| children.first())
        .ok_or_else(|| payload_err("the release manifest list is empty".into()))?;
    let child = source
        .manifest(&image.repo, pick.digest.as_str())
        .await?
        .ok_or_else(|| payload_err(format!("manifest list child `{}` is missing", pick.digest)))?;
    Ok((child, true))
}

/// The payload's files (`image-references`, `release-metadata`, the verification ConfigMap)
/// from the top-most layer holding `image-references`.
type PayloadFiles = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// `image-references`, `release-metadata` and the verification ConfigMap from the top-most
/// layer holding `image-references`.
async fn payload_files<S: Source>(
    source: &S,
    repo: &Repository,
    layers: &[crate::manifest::BlobRef],
    retry: &RetryPolicy,
) -> Result<PayloadFiles, Error> {
    for layer in layers.iter().rev() {
        let mut found = read_files(
            source,
            repo,
            &layer.digest,
            &[IMAGE_REFERENCES, RELEASE_METADATA, VERIFICATION_CONFIG_MAP],
            retry,
        )
        .await?;
        if let Some(r) = found[0].take() {
            return Ok((Some(r), found[1].take(), found[2].take()));
        }
    }
    Ok((None, None, None))
}

/// [`read_files_once`], the whole read tried again on transient failures (a cut connection,
/// corrupt bytes) under `retry`.
pub(crate) async fn read_files<S: Source>(
    source: &S,
    repo: &Repository,
    digest: &Digest,
    paths: &[&str],
    retry: &RetryPolicy,
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let target = repo.display_ref(digest.as_str());
    retrying(retry, None, "read layer", &target, || {
        read_files_once(source, repo, digest, paths)
    })
    .await
}

/// Streams layer `digest` and returns the contents of the regular files at `paths` (first
/// occurrence wins), each capped at 16 MiB. The layer's digest is verified (it is read to
/// the end).
pub(crate) async fn read_files_once<S: Source>(
    source: &S,
    repo: &Repository,
    digest: &Digest,
    paths: &[&str],
) -> Result<Vec<Option<Vec<u8>>>, Error> {
    let wanted: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let target = repo.display_ref(digest.as_str());
    let found = vec![None; wanted.len()];
    super::layer::visit_layer(
        source,
        repo,
        digest,
        found,
        move |found: &mut Vec<Option<Vec<u8>>>, path, entry, size| {
            let Some(i) = wanted.iter().position(|w| w == path) else {
                return Ok(false);
            };
            if found[i].is_some() {
                return Ok(false);
            }
            if size > MAX_METADATA_FILE {
                return Err(Error::Payload {
                    image: target.clone(),
                    reason: format!(
                        "`{path}` is {size} bytes, over the {MAX_METADATA_FILE}-byte limit"
                    ),
                });
            }
            let mut data = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut data)
                .map_err(|e| super::layer::read_error(&target, e))?;
            found[i] = Some(data);
            Ok(found.iter().all(Option::is_some))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(tags: &str) -> String {
        format!(
            r#"{{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{{"name":"4.14.1"}},"spec":{{"tags":[{tags}]}}}}"#
        )
    }

    #[test]
    fn image_references_table() {
        let d = format!("sha256:{}", "b".repeat(64));
        let good = format!(
            r#"{{"name":"cli","from":{{"kind":"DockerImage","name":"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{d}"}}}}"#
        );
        let skipped =
            r#"{"name":"nofrom"},{"name":"ist","from":{"kind":"ImageStreamTag","name":"x:y"}}"#;
        let (v, c) = parse_image_references(refs(&format!("{good},{skipped}")).as_bytes()).unwrap();
        assert_eq!(
            (
                v.as_str(),
                c.len(),
                c[0].name.as_str(),
                c[0].digest.to_string()
            ),
            ("4.14.1", 1, "cli", d.clone())
        );

        let table = [
            (
                "kind: ImageStream\napiVersion: image.openshift.io/v1\n".to_string(),
                "image-references is YAML, but must be JSON (as `oc adm release mirror` requires)".to_string(),
            ),
            (
                refs(r#"{"name":"cli","from":{"kind":"DockerImage","name":"quay.io/a/b:latest"}}"#),
                "image-references tag `cli` points at `quay.io/a/b:latest`: image-references should only contain pointers to images by digest".to_string(),
            ),
            (refs(&format!("{good},{good}")), "image-references has tag `cli` twice".to_string()),
            (
                r#"{"kind":"List","apiVersion":"v1"}"#.to_string(),
                "image-references has kind `List`, expected `ImageStream`".to_string(),
            ),
            (
                r#"{"kind":"ImageStream","apiVersion":"v1"}"#.to_string(),
                "image-references has apiVersion `v1`, expected `image.openshift.io/v1`".to_string(),
            ),
        ];
        for (input, want) in table {
            assert_eq!(parse_image_references(input.as_bytes()).unwrap_err(), want);
        }
    }

    #[test]
    fn metadata_and_arch() {
        let m = parse_release_metadata(br#"{"kind":"cincinnati-metadata-v0","version":"4.14.1","previous":["4.14.0"],"metadata":{"url":"u"}}"#).unwrap();
        assert_eq!((m.version.as_str(), m.previous.len()), ("4.14.1", 1));
        assert_eq!(
            parse_release_metadata(br#"{"kind":"other","version":"1"}"#).unwrap_err(),
            "release-metadata has kind `other`, expected `cincinnati-metadata-v0`"
        );
        assert_eq!(
            [tag_arch("amd64"), tag_arch("arm64"), tag_arch("s390x")],
            ["x86_64", "aarch64", "s390x"]
        );
    }
}
