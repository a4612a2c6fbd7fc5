//! The bundle's files: names, the OCI layout documents (`oci-layout`, `index.json`, the
//! one-entry indexes under `refs/`) and the metadata file `mirrorctl-bundle.json`.
//!
//! Every name is `[a-z0-9._/-]`: no `:`, no symlinks or hard links, so a bundle survives
//! FAT32/exFAT media, tar, rsync and object stores.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;

/// The metadata file, written last: a bundle without it is incomplete.
pub const METADATA_FILE: &str = "mirrorctl-bundle.json";
/// The checksum list of the volumes, in `sha256sum` format.
pub const CHECKSUM_FILE: &str = "mirrorctl-bundle.sha256";
/// The schema version of [`BundleMetadata`] this mirrorctl writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The `kind` of the metadata file.
pub const METADATA_KIND: &str = "MirrorctlBundle";
/// The OCI layout marker file.
pub(crate) const OCI_LAYOUT: &str = "oci-layout";
/// The OCI layout's index.
pub(crate) const INDEX: &str = "index.json";
/// Where blobs (manifests included) live, by digest.
pub(crate) const BLOBS: &str = "blobs/sha256";
/// One-entry indexes, one per image, for readers that need them (Debian 12's skopeo).
pub(crate) const REFS: &str = "refs";
/// The release signatures (the store tree `sha256=<hex>/signature-N` and the ConfigMap), kept
/// loose beside the volumes so the far side reads them as a `file://` store.
pub const SIGNATURES_DIR: &str = "signatures";
/// Partial writes of an unfinished run; removed when the bundle is complete.
pub(crate) const TMP_DIR: &str = ".mirrorctl-tmp";
/// `oci-layout`'s content.
pub(crate) const OCI_LAYOUT_JSON: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";
/// Annotation holding a tag in an OCI index (the image-spec's name).
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the image's original source (`repo@digest`).
pub(crate) const SOURCE_ANNOTATION: &str = "io.mirrorctl.source";

/// `blobs/sha256/<hex>`.
pub(crate) fn blob_path(d: &Digest) -> String {
    format!("{BLOBS}/{}", d.hex())
}

/// The digest a `blobs/sha256/<hex>` path names.
pub(crate) fn blob_digest(rel: &str) -> Option<Digest> {
    let hex = rel.strip_prefix(BLOBS)?.strip_prefix('/')?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// `mirrorctl-bundle-000001.tar` for volume 1.
pub fn volume_name(n: usize) -> String {
    format!("mirrorctl-bundle-{n:06}.tar")
}

/// The volume number a file name gives, for names of the [`volume_name`] form.
pub(crate) fn volume_number(name: &str) -> Option<usize> {
    let n = name
        .strip_prefix("mirrorctl-bundle-")?
        .strip_suffix(".tar")?;
    (n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// `refs/0001` for the first image.
pub(crate) fn ref_dir(n: usize) -> String {
    format!("{REFS}/{n:04}")
}

/// A descriptor in an OCI index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) annotations: std::collections::BTreeMap<String, String>,
}

/// An OCI image index (`index.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OciIndex {
    pub(crate) schema_version: u32,
    pub(crate) media_type: String,
    pub(crate) manifests: Vec<Descriptor>,
}

impl OciIndex {
    pub(crate) fn new(manifests: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: crate::manifest::media_type::OCI_INDEX.into(),
            manifests,
        }
    }

    /// Pretty JSON with a final newline.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// How a bundle's files are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleLayout {
    /// An OCI image layout directory.
    Directory,
    /// The same files in numbered tar volumes.
    Volumes,
}

/// The program that wrote a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `mirrorctl`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The earlier bundle an incremental bundle builds on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinceInfo {
    /// Its id.
    pub bundle_id: String,
    /// When it was made.
    pub created_at: String,
    /// Blobs it carried or relied on (what its target holds once it is published).
    pub blobs: usize,
    /// sha256 of those digests, sorted, one per line: identifies the baseline.
    pub blob_set_sha256: String,
}

/// A release in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRelease {
    /// Version, e.g. `4.14.1`.
    pub version: String,
    /// Tag suffix architecture (`x86_64`, `multi`, ...).
    pub architecture: String,
    /// The release image as it was given, e.g.
    /// `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64`.
    pub source: String,
    /// Its digest.
    pub digest: Digest,
    /// Its manifest's media type.
    pub media_type: String,
    /// Its components.
    pub components: usize,
    /// What the signature check found on the connected side (`verified`, `unsigned`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// An image in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleImage {
    /// A short name (`cli`, `release`, `cli signature`, an additional image's name).
    pub name: String,
    /// The repository it came from, e.g. `quay.io/openshift-release-dev/ocp-v4.0-art-dev`.
    pub source: String,
    /// The tag or digest it was read by at the source.
    pub reference: String,
    /// Its manifest digest.
    pub digest: Digest,
    /// Its manifest's media type.
    pub media_type: String,
    /// Its manifest's size.
    pub size: u64,
    /// Its repository in the bundle (the OCI ref name's path).
    pub repository: String,
    /// Its tag in the bundle (what the publish writes at the target too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `release`, `component`, `additional` or `signature`.
    pub role: String,
    /// The one-entry index directory for readers that need one (`refs/0001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_ref: Option<String>,
}

/// A file under `blobs/sha256/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobEntry {
    /// Its digest (the file name is its hex).
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Its media type, as the manifest that references it says.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
}

/// A set of blobs with its totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobSet {
    /// How many.
    pub count: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Each of them, sorted by digest.
    pub list: Vec<BlobEntry>,
}

impl BlobSet {
    /// The set of `entries` (sorted, de-duplicated by digest).
    pub fn new(mut entries: Vec<BlobEntry>) -> Self {
        entries.sort_by(|a, b| a.digest.cmp(&b.digest));
        entries.dedup_by(|a, b| a.digest == b.digest);
        Self {
            count: entries.len(),
            bytes: entries.iter().map(|e| e.size).sum(),
            list: entries,
        }
    }
}

/// A file of the bundle outside the blob store and the volumes (a release signature, an
/// upgrade graph, the ImageSetConfiguration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// Its path in the bundle.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// sha256 of its bytes (hex).
    pub sha256: String,
}

/// A tar volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeEntry {
    /// Its file name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// sha256 of its bytes (hex).
    pub sha256: String,
}

/// `mirrorctl-bundle.json`: what a bundle holds and how to publish it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BundleMetadata {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`METADATA_KIND`].
    pub kind: String,
    /// A random id, named by bundles built `--since` this one.
    pub bundle_id: String,
    /// When it was completed (RFC 3339, UTC).
    pub created_at: String,
    /// The program that wrote it.
    pub tool: ToolInfo,
    /// Directory or volumes.
    pub layout: BundleLayout,
    /// The earlier bundle this one builds on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<SinceInfo>,
    /// The releases, in the order they were given.
    pub releases: Vec<BundleRelease>,
    /// Every image (releases, components, additional images, signatures).
    pub images: Vec<BundleImage>,
    /// The source repositories the mirror instructions map (ICSP / IDMS).
    pub mirror_sources: Vec<String>,
    /// Every file under `blobs/sha256/` (manifests, configs, layers).
    pub blobs: BlobSet,
    /// Blobs the images reference that this bundle does not carry: an earlier bundle did,
    /// so the target must hold them.
    pub requires: BlobSet,
    /// How the releases were picked: the channels, the versions and paths picked, the
    /// upgrade graphs saved under `graph/`, the ImageSetConfiguration's copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<super::upgrade::BundleUpgrade>,
    /// Other files, kept loose in the directory: the release signatures, the upgrade graphs,
    /// the ImageSetConfiguration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
    /// The tar volumes, for the volume layout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeEntry>,
    /// The commands to run on the disconnected side.
    #[serde(default)]
    pub instructions: Vec<String>,
}

impl BundleMetadata {
    /// Parses a metadata file's bytes; `path` names it in errors. A newer schema version, or
    /// a file that is not a bundle's metadata, is refused.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            schema_version: Option<u32>,
            kind: Option<String>,
        }
        let bad = |reason: String, hint: Hint| Error::Bundle {
            path: path.to_path_buf(),
            reason,
            hint: Box::new(hint),
        };
        let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
            bad(
                format!("not a bundle metadata file: {e}"),
                Hint::BundleDamaged,
            )
        })?;
        if probe.kind.as_deref() != Some(METADATA_KIND) {
            return Err(bad(
                format!(
                    "not a bundle metadata file: kind `{}`, expected `{METADATA_KIND}`",
                    probe.kind.unwrap_or_default()
                ),
                Hint::BundleDamaged,
            ));
        }
        match probe.schema_version {
            Some(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(bad(
                    format!(
                        "schema version {v} is unknown: this mirrorctl reads version {SCHEMA_VERSION}"
                    ),
                    Hint::BundleVersion {
                        found: v,
                        supported: SCHEMA_VERSION,
                    },
                ));
            }
            None => {
                return Err(bad("has no `schemaVersion`".into(), Hint::BundleDamaged));
            }
        }
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string(), Hint::BundleDamaged))
    }

    /// Reads a bundle's metadata: `path` is the bundle directory or its metadata file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        if !path.exists() {
            return Err(Error::Bundle {
                path: path.to_path_buf(),
                reason: format!(
                    "does not exist (a bundle is a directory holding `{METADATA_FILE}`)"
                ),
                hint: Box::new(Hint::NotABundle),
            });
        }
        let file = if path.is_dir() {
            path.join(METADATA_FILE)
        } else {
            path.to_path_buf()
        };
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_dir() => {
                let hint = if path.join(TMP_DIR).exists() {
                    Hint::BundleIncomplete
                } else {
                    Hint::NotABundle
                };
                return Err(Error::Bundle {
                    path: file,
                    reason: "missing: the bundle is incomplete or this is not a bundle".into(),
                    hint: Box::new(hint),
                });
            }
            Err(e) => return Err(Error::io("read", file, e)),
        };
        Self::parse(&file, &bytes)
    }

    /// Pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The digests a bundle built `--since` this one may leave out: what it carried and
    /// what it relied on.
    pub fn known_blobs(&self) -> std::collections::BTreeSet<Digest> {
        self.blobs
            .list
            .iter()
            .chain(&self.requires.list)
            .map(|b| b.digest.clone())
            .collect()
    }

    /// A [`SinceInfo`] naming this bundle.
    pub fn as_base(&self) -> SinceInfo {
        let known = self.known_blobs();
        let mut h = crate::digest::DigestHasher::new();
        for d in &known {
            h.update(d.as_str().as_bytes());
            h.update(b"\n");
        }
        SinceInfo {
            bundle_id: self.bundle_id.clone(),
            created_at: self.created_at.clone(),
            blobs: known.len(),
            blob_set_sha256: h.finish().hex().to_string(),
        }
    }
}

/// A new random bundle id (a version 4 UUID).
pub(crate) fn new_bundle_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Now, as RFC 3339 in UTC.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A name the bundle may hold: relative, `[A-Za-z0-9._/-]`, no empty, `.` or `..` parts.
pub(crate) fn safe_name(rel: &str) -> bool {
    !rel.is_empty()
        && rel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && rel
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = Digest::of(b"x");
        assert_eq!(blob_path(&d), format!("blobs/sha256/{}", d.hex()));
        assert_eq!(blob_digest(&blob_path(&d)), Some(d));
        assert_eq!(blob_digest("blobs/sha256/zz"), None);
        assert_eq!(volume_name(3), "mirrorctl-bundle-000003.tar");
        assert_eq!(volume_number("mirrorctl-bundle-000003.tar"), Some(3));
        assert_eq!(volume_number("mirrorctl-bundle-3.tar"), None);
        assert_eq!(ref_dir(7), "refs/0007");
        for (name, ok) in [
            ("blobs/sha256/ab", true),
            ("refs/0001/index.json", true),
            ("a:b", false),
            ("../x", false),
            ("/abs", false),
            ("a//b", false),
            ("", false),
        ] {
            assert_eq!(safe_name(name), ok, "{name}");
        }
        let id = new_bundle_id();
        assert_eq!((id.len(), &id[14..15]), (36, "4"));
    }

    #[test]
    fn metadata_versions_and_kinds_are_checked() {
        let p = Path::new("/b/mirrorctl-bundle.json");
        let table = [
            (
                r#"{"kind":"MirrorctlBundle","schemaVersion":2}"#,
                "bundle `/b/mirrorctl-bundle.json`: schema version 2 is unknown: this mirrorctl reads version 1",
            ),
            (
                r#"{"kind":"Other","schemaVersion":1}"#,
                "bundle `/b/mirrorctl-bundle.json`: not a bundle metadata file: kind `Other`, expected `MirrorctlBundle`",
            ),
            (
                r#"{"kind":"MirrorctlBundle"}"#,
                "bundle `/b/mirrorctl-bundle.json`: has no `schemaVersion`",
            ),
        ];
        for (json, want) in table {
            let e = BundleMetadata::parse(p, json.as_bytes()).unwrap_err();
            assert_eq!(e.to_string(), want);
            assert!(e.hint().is_some());
        }
        assert!(matches!(
            BundleMetadata::parse(p, br#"{"kind":"MirrorctlBundle","schemaVersion":2}"#)
                .unwrap_err()
                .hint(),
            Some(Hint::BundleVersion {
                found: 2,
                supported: 1
            })
        ));
    }
}
