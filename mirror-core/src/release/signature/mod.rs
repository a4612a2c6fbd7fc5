//! Release signatures, checked before anything is copied (docs/release-mirror.md,
//! "Release signatures").
//!
//! Keys and stores come from the payload's verification ConfigMap (or replace it); each
//! store's `sha256=<hex>/signature-N` is fetched and verified by the cluster version
//! operator's rules, and every keyring must be satisfied by at least one signature. The
//! outcome is one of: verified (the ConfigMap oc writes and the store tree can be written),
//! unsigned (nothing found: a warning, or an error when signatures are required), not
//! configured, skipped, or an error when signatures were found but do not verify.

mod config;
mod configmap;
mod keys;
mod store;
#[cfg(test)]
mod testkeys;
#[cfg(test)]
mod tests;
mod verify;

use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;

pub use config::VERIFICATION_ANNOTATION;
pub use configmap::{
    SIGNATURE_LABEL, SIGNATURE_NAMESPACE, SignatureFiles, configmap_file_name, signature_configmap,
};
pub use keys::{Keyring, KeyringInfo};
pub use store::{MAX_SIGNATURE_BYTES, MAX_SIGNATURES, StoreReport, StoreResult};

use super::payload::Release;
use crate::digest::Digest;
use crate::error::Error;
use crate::progress::{MirrorEvent, Progress};
use store::Store;

/// The tag under which cosign and containers/image keep the sigstore signature of the image
/// with `digest`, in the same repository: `sha256-<hex>.sig` (containers/image
/// `sigstoreAttachmentTag`). Copying it beside a mirrored image is the engine's job
/// ([`crate::copy::signature_tag`], which this is).
pub fn sigstore_tag(digest: &Digest) -> String {
    crate::copy::signature_tag(digest)
}

/// A signature store: an `http`, `https` or `file` URL under which
/// `sha256=<hex>/signature-N` are published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureStore(Store);

impl SignatureStore {
    /// Parses a store URL.
    pub fn parse(url: &str) -> Result<Self, Error> {
        Store::parse(url)
            .map(SignatureStore)
            .map_err(|reason| Error::InvalidSetting {
                name: "signature-store".into(),
                reason,
            })
    }

    /// The URL.
    pub fn url(&self) -> String {
        self.0.url()
    }
}

/// How release signatures are handled. The default fetches and verifies with the payload's
/// own keys and stores, and carries on (with a warning) when nothing is published.
#[derive(Clone, Debug, Default)]
pub struct SignatureOptions {
    /// Neither fetch nor verify (`--skip-signatures`).
    pub skip: bool,
    /// A release without a verified signature is an error (`--require-signatures`).
    pub require: bool,
    /// Keyrings to verify with instead of the payload's (`--signature-key`); each one must
    /// be satisfied by a signature.
    pub keyrings: Vec<Keyring>,
    /// Stores to read instead of the payload's (`--signature-store`), in order.
    pub stores: Vec<SignatureStore>,
    /// Extra trusted CA certificates (PEM) for `https` stores, on top of the system roots.
    pub ca_pems: Vec<Vec<u8>>,
    /// Where the ConfigMap and the store tree go once verified
    /// (`--release-image-signature-to-dir`); nothing is written without it.
    pub to_dir: Option<PathBuf>,
}

impl SignatureOptions {
    /// Options that neither fetch nor verify.
    pub fn skipped() -> Self {
        Self {
            skip: true,
            ..Default::default()
        }
    }
}

/// The outcome of the signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SignatureStatus {
    /// Every keyring is satisfied by a signature.
    Verified,
    /// No store had a signature (offline, or none published).
    Unsigned,
    /// No keys or no stores to check with (the payload configures none).
    NotConfigured,
    /// Not checked, as asked.
    Skipped,
}

/// A key that verified a signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyMatch {
    /// The keyring it belongs to.
    pub keyring: String,
    /// The key that made the signature (a primary key or a signing subkey).
    pub key_fingerprint: String,
    /// Its primary key.
    pub primary_fingerprint: String,
}

/// A signature that verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedSignature {
    /// Where it was read (`<store>/sha256=<hex>/signature-N`).
    pub location: String,
    /// The store.
    pub store: String,
    /// N.
    pub index: u32,
    /// The keys (one per keyring) it verified with.
    pub verified_by: Vec<KeyMatch>,
    /// The identity it names (`critical.identity.docker-reference`).
    pub identity: String,
    /// `optional.creator`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
}

/// What the signature check found (the `signatures` section of a mirror report).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SignatureReport {
    /// The outcome.
    pub status: SignatureStatus,
    /// The digest the signatures must name.
    pub digest: Digest,
    /// Where the keys came from (the payload's ConfigMap, or the key files given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_from: Option<String>,
    /// The keyrings, each of which must be satisfied.
    pub keyrings: Vec<KeyringInfo>,
    /// The stores, in the order asked.
    pub stores: Vec<StoreReport>,
    /// The signatures that verified.
    pub signatures: Vec<VerifiedSignature>,
    /// Why the release is not verified, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The ConfigMap and store files, when a directory was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<SignatureFiles>,
}

impl SignatureReport {
    fn new(status: SignatureStatus, digest: &Digest) -> Self {
        Self {
            status,
            digest: digest.clone(),
            keys_from: None,
            keyrings: Vec::new(),
            stores: Vec::new(),
            signatures: Vec::new(),
            warning: None,
            files: None,
        }
    }
}

/// Checks the signatures of `release` as `opts` say, before anything is copied. Writes the
/// ConfigMap and store tree to `opts.to_dir` when verified (only their paths in a dry run).
pub(crate) async fn check_release(
    release: &Release,
    opts: &SignatureOptions,
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<SignatureReport, Error> {
    let report = check(release, opts, dry_run).await?;
    progress.event(MirrorEvent::Signatures(&report));
    Ok(report)
}

async fn check(
    release: &Release,
    opts: &SignatureOptions,
    dry_run: bool,
) -> Result<SignatureReport, Error> {
    let digest = &release.digest;
    if opts.skip {
        if opts.require {
            return Err(Error::InvalidSetting {
                name: "signatures".into(),
                reason: "signatures cannot be both skipped and required".into(),
            });
        }
        return Ok(SignatureReport::new(SignatureStatus::Skipped, digest));
    }
    let payload = match &release.verification_config_map {
        Some(bytes) => config::parse(bytes),
        None => Ok(None),
    };
    let (keyrings, stores, keys_from) = match resolve(opts, &payload) {
        Ok(v) => v,
        Err(reason) => {
            if opts.require {
                return Err(required(release, reason));
            }
            let mut r = SignatureReport::new(SignatureStatus::NotConfigured, digest);
            r.warning = Some(format!(
                "release `{}` cannot be verified: {reason}",
                release.image
            ));
            return Ok(r);
        }
    };
    let mut report = SignatureReport::new(SignatureStatus::Unsigned, digest);
    report.keys_from = Some(keys_from);
    report.keyrings = keyrings.iter().map(Keyring::info).collect();
    let found = fetch_and_verify(opts, &keyrings, &stores, digest, &mut report).await?;
    if found.satisfied.iter().all(|s| *s) {
        report.status = SignatureStatus::Verified;
        if let Some(dir) = &opts.to_dir {
            report.files = Some(if dry_run {
                configmap::plan(dir, digest, found.blobs.len())
            } else {
                configmap::write(dir, digest, &found.blobs)?
            });
        }
        return Ok(report);
    }
    if !found.any {
        let tried: Vec<String> = report
            .stores
            .iter()
            .map(|s| match (&s.result, &s.detail) {
                (StoreResult::Unreachable, Some(d)) => format!("`{}` (unreachable: {d})", s.url),
                (_, Some(d)) => format!("`{}` (nothing published: {d})", s.url),
                _ => format!("`{}` (nothing published)", s.url),
            })
            .collect();
        let reason = format!(
            "no signature store had a signature: tried {}",
            tried.join(", ")
        );
        if opts.require {
            return Err(required(release, reason));
        }
        report.warning = Some(format!("release `{}` is unsigned: {reason}", release.image));
        return Ok(report);
    }
    let mut reasons = Vec::new();
    for (k, ring) in keyrings.iter().enumerate() {
        if found.satisfied[k] {
            continue;
        }
        reasons.push(format!(
            "no signature verifies with keyring `{}` (keys {}): {}",
            ring.name,
            ring.fingerprints().join(", "),
            found.failures[k].join("; ")
        ));
    }
    Err(Error::SignatureRejected {
        release: release.image.to_string(),
        digest: digest.to_string(),
        reason: reasons.join("; "),
        fingerprints: keyrings.iter().flat_map(Keyring::fingerprints).collect(),
    })
}

fn required(release: &Release, reason: String) -> Error {
    Error::SignatureRequired {
        release: release.image.to_string(),
        digest: release.digest.to_string(),
        reason,
    }
}

/// Keyrings and stores: the ones given, else the payload's. Err = not configured, and why.
fn resolve(
    opts: &SignatureOptions,
    payload: &Result<Option<config::VerificationConfig>, String>,
) -> Result<(Vec<Keyring>, Vec<Store>, String), String> {
    let config = || match payload {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(format!(
            "the release payload has no ConfigMap annotated `{VERIFICATION_ANNOTATION}`, so no keys or stores to verify with"
        )),
        Err(e) => Err(format!("the payload's verification ConfigMap: {e}")),
    };
    let (keyrings, keys_from) = if opts.keyrings.is_empty() {
        let c = config()?;
        let k = c.keyrings()?;
        if k.is_empty() {
            return Err(format!("{} has no `verifier-public-key-*` keys", c.source));
        }
        (k, format!("the release payload's {}", c.source))
    } else {
        (opts.keyrings.clone(), "the keys given".to_string())
    };
    let stores = if opts.stores.is_empty() {
        let c = config()?;
        let s = c.stores()?;
        if s.is_empty() {
            return Err(format!("{} has no `store-*` signature stores", c.source));
        }
        s
    } else {
        opts.stores.iter().map(|s| s.0.clone()).collect()
    };
    Ok((keyrings, stores, keys_from))
}

/// What the stores gave: the verified signatures' bytes, which keyrings they satisfy, and why
/// each keyring is not satisfied.
struct Found {
    blobs: Vec<Vec<u8>>,
    satisfied: Vec<bool>,
    failures: Vec<Vec<String>>,
    /// Any signature at all was found (verified or not).
    any: bool,
}

async fn fetch_and_verify(
    opts: &SignatureOptions,
    keyrings: &[Keyring],
    stores: &[Store],
    digest: &Digest,
    report: &mut SignatureReport,
) -> Result<Found, Error> {
    let http = store::http_client(&opts.ca_pems)?;
    let now = SystemTime::now();
    let mut found = Found {
        blobs: Vec::new(),
        satisfied: vec![false; keyrings.len()],
        failures: vec![Vec::new(); keyrings.len()],
        any: false,
    };
    for s in stores {
        if found.satisfied.iter().all(|x| *x) {
            report.stores.push(StoreReport {
                url: s.url(),
                result: StoreResult::NotTried,
                signatures: 0,
                detail: None,
            });
            continue;
        }
        let (fetched, store_report) = store::fetch(&http, s, digest).await;
        report.stores.push(store_report);
        for f in fetched {
            found.any = true;
            let bytes = match f.body {
                Ok(b) => b,
                Err(why) => {
                    for list in &mut found.failures {
                        list.push(format!("`{}`: {why}", f.location));
                    }
                    continue;
                }
            };
            let mut matched = Vec::new();
            let mut details = None;
            for (k, ring) in keyrings.iter().enumerate() {
                match verify::verify(&bytes, ring, digest, now) {
                    Ok(v) => {
                        found.satisfied[k] = true;
                        matched.push(KeyMatch {
                            keyring: ring.name.clone(),
                            key_fingerprint: v.key.clone(),
                            primary_fingerprint: v.primary.clone(),
                        });
                        details = Some(v);
                    }
                    Err(why) => found.failures[k].push(format!("`{}`: {why}", f.location)),
                }
            }
            if let Some(v) = details
                && !found.blobs.contains(&bytes)
            {
                found.blobs.push(bytes);
                report.signatures.push(VerifiedSignature {
                    location: f.location,
                    store: s.url(),
                    index: f.index,
                    verified_by: matched,
                    identity: v.identity,
                    creator: v.creator,
                });
            }
        }
    }
    Ok(found)
}
