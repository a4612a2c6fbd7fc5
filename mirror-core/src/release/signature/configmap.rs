//! What a disconnected cluster needs to accept the release: the signature ConfigMap exactly as
//! `oc adm release mirror --release-image-signature-to-dir` writes it (library-go
//! `verify.GetSignaturesAsConfigmap`, oc `createSignatureFileName`), and the signatures as a
//! store tree (`sha256=<hex>/signature-N`) a site can serve and name in the ClusterVersion's
//! `spec.signatureStores`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use crate::digest::Digest;
use crate::error::Error;
use mirror_tls::fsutil;

/// The namespace the cluster version operator reads signature ConfigMaps from.
pub const SIGNATURE_NAMESPACE: &str = "openshift-config-managed";
/// The label that marks a signature ConfigMap (its value is empty).
pub const SIGNATURE_LABEL: &str = "release.openshift.io/verification-signatures";
/// oc writes the ConfigMap file with this mode.
const CONFIGMAP_MODE: u32 = 0o640;
/// Store files are served by a web server: readable by all.
const TREE_MODE: u32 = 0o644;

// Field order as Go's encoder writes a v1 ConfigMap: kind, apiVersion, metadata (name,
// namespace, creationTimestamp: null, labels), binaryData.
#[derive(Serialize)]
struct ConfigMap {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Metadata,
    #[serde(rename = "binaryData")]
    binary_data: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    namespace: &'static str,
    #[serde(rename = "creationTimestamp")]
    creation_timestamp: Option<String>,
    labels: BTreeMap<&'static str, &'static str>,
}

/// `sha256-<hex>`: the ConfigMap name and the prefix of its keys (library-go
/// `DigestToKeyPrefix`).
fn key_prefix(digest: &Digest) -> String {
    format!("sha256-{}", digest.hex())
}

/// The file oc names it: `signature-sha256-<first 16 hex>.json`.
pub fn configmap_file_name(digest: &Digest) -> String {
    format!("signature-sha256-{}.json", &digest.hex()[..16])
}

/// The ConfigMap holding `signatures` (raw bytes, in order) for `digest`, as compact JSON with
/// the trailing newline Go's `json.Encoder` writes.
pub fn signature_configmap(digest: &Digest, signatures: &[Vec<u8>]) -> Vec<u8> {
    let prefix = key_prefix(digest);
    let b64 = base64::engine::general_purpose::STANDARD;
    let cm = ConfigMap {
        kind: "ConfigMap",
        api_version: "v1",
        metadata: Metadata {
            name: prefix.clone(),
            namespace: SIGNATURE_NAMESPACE,
            creation_timestamp: None,
            labels: BTreeMap::from([(SIGNATURE_LABEL, "")]),
        },
        binary_data: signatures
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("{prefix}-{}", i + 1), b64.encode(s)))
            .collect(),
    };
    let mut out = serde_json::to_vec(&cm).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Files written (or already there with the same bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureFiles {
    /// The directory (`--release-image-signature-to-dir`).
    pub dir: PathBuf,
    /// The ConfigMap file: `oc apply -f` it.
    pub config_map: PathBuf,
    /// The store tree's files, `<dir>/sha256=<hex>/signature-N`: serve `<dir>` as a signature
    /// store.
    pub store_files: Vec<PathBuf>,
    /// False in a dry run: these are the paths a real run writes.
    pub written: bool,
}

/// The paths for `digest` and `count` signatures under `dir`.
pub(crate) fn plan(dir: &Path, digest: &Digest, count: usize) -> SignatureFiles {
    let tree = dir.join(format!("sha256={}", digest.hex()));
    SignatureFiles {
        dir: dir.to_path_buf(),
        config_map: dir.join(configmap_file_name(digest)),
        store_files: (1..=count)
            .map(|n| tree.join(format!("signature-{n}")))
            .collect(),
        written: false,
    }
}

/// Writes the ConfigMap and the store tree for `digest` under `dir`, each file atomically;
/// a file already holding the same bytes is left alone.
pub(crate) fn write(
    dir: &Path,
    digest: &Digest,
    signatures: &[Vec<u8>],
) -> Result<SignatureFiles, Error> {
    let mut files = plan(dir, digest, signatures.len());
    if let Some(tree) = files.store_files.first().and_then(|f| f.parent()) {
        fsutil::create_dirs(tree)?;
    }
    for (path, bytes) in files.store_files.iter().zip(signatures) {
        write_if_changed(path, bytes, TREE_MODE)?;
    }
    write_if_changed(
        &files.config_map,
        &signature_configmap(digest, signatures),
        CONFIGMAP_MODE,
    )?;
    files.written = true;
    Ok(files)
}

fn write_if_changed(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    if fsutil::read_optional(path)?.as_deref() == Some(bytes) {
        return Ok(());
    }
    Ok(fsutil::write_atomic(path, bytes, mode)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes oc writes, field by field and in Go's order.
    #[test]
    fn configmap_is_what_oc_writes() {
        let hex = "0da6316466d60a3a4535d5fed3589feb0391989982fba59d47d4c729912d6363";
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        let got = signature_configmap(&d, &[b"one".to_vec(), b"two".to_vec()]);
        let want = format!(
            "{{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{{\"name\":\"sha256-{hex}\",\"namespace\":\"openshift-config-managed\",\"creationTimestamp\":null,\"labels\":{{\"release.openshift.io/verification-signatures\":\"\"}}}},\"binaryData\":{{\"sha256-{hex}-1\":\"b25l\",\"sha256-{hex}-2\":\"dHdv\"}}}}\n"
        );
        assert_eq!(String::from_utf8(got).unwrap(), want);
        assert_eq!(
            configmap_file_name(&d),
            "signature-sha256-0da6316466d60a3a.json"
        );
    }

    #[test]
    fn writes_the_configmap_and_the_tree_and_rewrites_nothing_unchanged() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let d = Digest::of(b"release");
        let files = write(dir.path(), &d, &[b"sig".to_vec()]).unwrap();
        let tree = dir.path().join(format!("sha256={}/signature-1", d.hex()));
        assert_eq!(files.store_files, vec![tree.clone()]);
        assert_eq!(std::fs::read(&tree).unwrap(), b"sig");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&files.config_map), mode(&tree)), (0o640, 0o644));
        // An atomic write is a new inode: the same inode means nothing was rewritten.
        use std::os::unix::fs::MetadataExt as _;
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let before = (ino(&files.config_map), ino(&tree));
        write(dir.path(), &d, &[b"sig".to_vec()]).unwrap();
        assert_eq!((ino(&files.config_map), ino(&tree)), before);
        write(dir.path(), &d, &[b"other".to_vec()]).unwrap();
        assert_ne!(ino(&tree), before.1);
        assert_eq!(std::fs::read(&tree).unwrap(), b"other");
    }
}
