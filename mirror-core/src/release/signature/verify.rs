//! One signature against one keyring, by the cluster version operator's rules (library-go
//! `pkg/verify/verify.go`, `verifySignatureWithKeyring`, `verifyAtomicContainerSignature`):
//! a binary OpenPGP message (compressed or not) signed by a key of the keyring, an unexpired
//! signature, then the signed JSON decoded strictly with type `atomic container signature`, a
//! non-empty identity and the release digest.

use std::io::Read as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::Message;
use serde::Deserialize;

use super::keys::Keyring;
use crate::digest::Digest;

/// The signed content must be small: a real one is ~300 bytes. Decompression is capped here
/// so a small message cannot expand without bound.
const MAX_SIGNED_CONTENT: u64 = 1 << 20;

/// The only signature type the cluster accepts.
pub(crate) const ATOMIC_TYPE: &str = "atomic container signature";

/// What a verified signature says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The key that made it (a primary key or a signing subkey), upper-case hex.
    pub(crate) key: String,
    /// Its primary key.
    pub(crate) primary: String,
    /// `critical.identity.docker-reference` (not checked against anything, as the CVO).
    pub(crate) identity: String,
    /// `optional.creator`.
    pub(crate) creator: Option<String>,
}

// The payload, decoded with unknown fields refused at every level (Go's
// `DisallowUnknownFields`); absent fields take their zero value, as in Go.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AtomicSignature {
    #[serde(default)]
    critical: Critical,
    #[serde(default)]
    optional: Optional,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    image: Image,
    #[serde(default)]
    identity: Identity,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    #[serde(default, rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    #[serde(default, rename = "docker-reference")]
    docker_reference: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Optional {
    #[serde(default)]
    creator: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    timestamp: Option<i64>,
}

/// Checks the signed JSON `content` for `digest`.
pub(crate) fn check_payload(
    content: &[u8],
    digest: &Digest,
) -> Result<(String, Option<String>), String> {
    let sig: AtomicSignature = serde_json::from_slice(content)
        .map_err(|e| format!("the signed content is not an atomic container signature: {e}"))?;
    if sig.critical.kind != ATOMIC_TYPE {
        return Err(format!(
            "signature type `{}` is not `{ATOMIC_TYPE}`",
            sig.critical.kind
        ));
    }
    if sig.critical.identity.docker_reference.is_empty() {
        return Err(
            "the signature names no identity (`critical.identity.docker-reference`)".into(),
        );
    }
    if sig.critical.image.docker_manifest_digest != digest.as_str() {
        return Err(format!(
            "the signature is for digest `{}`, not this release (`{digest}`)",
            sig.critical.image.docker_manifest_digest
        ));
    }
    Ok((sig.critical.identity.docker_reference, sig.optional.creator))
}

/// Verifies `blob` (the bytes of one `signature-N`) with `ring` for `digest`, at time `now`.
pub(crate) fn verify(
    blob: &[u8],
    ring: &Keyring,
    digest: &Digest,
    now: SystemTime,
) -> Result<Verified, String> {
    if blob.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return Err(
            "it is ASCII-armored, but the cluster reads only binary OpenPGP messages".into(),
        );
    }
    let msg = Message::from_bytes(blob).map_err(|e| format!("not an OpenPGP message: {e}"))?;
    let mut msg = if msg.is_compressed() {
        msg.decompress()
            .map_err(|e| format!("the OpenPGP message does not decompress: {e}"))?
    } else {
        msg
    };
    if !msg.is_signed() {
        return Err("the OpenPGP message is not signed".into());
    }
    // Read the content to the end first: the signature covers it.
    let mut content = Vec::new();
    (&mut msg)
        .take(MAX_SIGNED_CONTENT + 1)
        .read_to_end(&mut content)
        .map_err(|e| format!("the OpenPGP message is malformed: {e}"))?;
    if content.len() as u64 > MAX_SIGNED_CONTENT {
        return Err(format!(
            "the signed content is over {MAX_SIGNED_CONTENT} bytes"
        ));
    }
    let Message::Signed { reader, .. } = &msg else {
        return Err("the OpenPGP message is not signed".into());
    };
    let count = reader.num_signatures();
    let signers = ring.signers();
    let mut found = None;
    let mut issuers = Vec::new();
    let mut crypto_error = None;
    'outer: for i in 0..count {
        let Some(sig) = reader.signature(i) else {
            continue;
        };
        issuers.extend(
            sig.issuer_key_id()
                .into_iter()
                .map(|k| k.to_string().to_uppercase()),
        );
        for signer in &signers {
            match msg.verify_nested_explicit(i, signer.key) {
                Ok(sig) => {
                    found = Some((signer, sig.clone()));
                    break 'outer;
                }
                Err(e) => {
                    if sig.issuer_key_id().contains(&&signer.key_id) {
                        crypto_error = Some(e.to_string());
                    }
                }
            }
        }
    }
    let Some((signer, sig)) = found else {
        return Err(match crypto_error {
            Some(e) => format!(
                "the signature by a key of this keyring does not match the signed content ({e}): it was altered"
            ),
            None if issuers.is_empty() => "no key of this keyring made it".to_string(),
            None => format!(
                "it was made by key ID {}, which is not in this keyring",
                issuers.join(", ")
            ),
        });
    };
    if let (Some(created), Some(life)) = (sig.created(), sig.signature_expiration_time())
        && life.as_secs() > 0
    {
        let expiry = UNIX_EPOCH
            + Duration::from_secs(u64::from(created.as_secs()) + u64::from(life.as_secs()));
        if now > expiry {
            return Err(format!(
                "the signature expired on {}",
                httpdate::fmt_http_date(expiry)
            ));
        }
    }
    let (identity, creator) = check_payload(&content, digest)?;
    Ok(Verified {
        key: signer.fingerprint.clone(),
        primary: signer.primary.clone(),
        identity,
        creator,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkeys::{keys, payload};
    use super::*;

    fn digest() -> Digest {
        Digest::of(b"release")
    }

    #[test]
    fn good_signatures_from_a_primary_key_a_subkey_and_any_key_of_a_ring() {
        let [a, b, c] = keys();
        let now = SystemTime::now();
        let d = digest();
        let v = verify(&a.sign(&payload(&d)), &a.ring("a"), &d, now).unwrap();
        assert_eq!(
            (v.key.as_str(), v.primary.as_str()),
            (a.fingerprint().as_str(), a.fingerprint().as_str())
        );
        assert_eq!(
            v.identity,
            "quay.io/openshift-release-dev/ocp-release:4.99.0-x86_64"
        );
        assert_eq!(v.creator.as_deref(), Some("test"));
        // Not compressed works too.
        assert!(
            verify(
                &a.sign_with(&payload(&d), false, None),
                &a.ring("a"),
                &d,
                now
            )
            .is_ok()
        );
        // A signing subkey: the key is the subkey, bound to its primary.
        let v = verify(&c.sign(&payload(&d)), &c.ring("c"), &d, now).unwrap();
        assert_eq!(v.primary, c.fingerprint());
        assert_ne!(v.key, c.fingerprint());
        // A ring of two keys: the second one signed.
        let ring = Keyring::parse("ab", format!("{}{}", a.armored(), b.armored()).as_bytes());
        // Two armored blocks: the first is read (as Go's ReadArmoredKeyRing); a binary ring
        // holds both.
        assert!(ring.is_ok());
        let mut bin = Vec::new();
        for k in [a, b] {
            use pgp::ser::Serialize as _;
            bin.extend(k.secret.to_public_key().to_bytes().unwrap());
        }
        let ring = Keyring::parse("ab", &bin).unwrap();
        assert_eq!(ring.fingerprints(), vec![a.fingerprint(), b.fingerprint()]);
        let v = verify(&b.sign(&payload(&d)), &ring, &d, now).unwrap();
        assert_eq!(v.key, b.fingerprint());
    }

    #[test]
    fn bad_signatures_say_why() {
        let [a, b, _] = keys();
        let d = digest();
        let now = SystemTime::now();
        let good = a.sign_with(&payload(&d), false, None);
        // Flip one byte of the signed JSON (it sits in the clear in an uncompressed message).
        let mut tampered = good.clone();
        let at = tampered.windows(8).position(|w| w == b"identity").unwrap();
        tampered[at] = b'I';
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b.sign(&payload(&d)), "which is not in this keyring"),
            (tampered, "does not match the signed content"),
            (a.sign(&payload(&Digest::of(b"other"))), "not this release"),
            (a.sign(br#"{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"x"},"identity":{"docker-reference":"r"}}}"#), "is not `atomic container signature`"),
            (a.sign(format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":""}}}}}}"#).as_bytes()), "names no identity"),
            (a.sign(format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"r"}}}},"extra":1}}"#).as_bytes()), "unknown field `extra`"),
            (a.sign(format!(r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}","tag":"x"}},"identity":{{"docker-reference":"r"}}}}}}"#).as_bytes()), "unknown field `tag`"),
            (a.sign(b"not json"), "not an atomic container signature"),
            (b"-----BEGIN PGP MESSAGE-----\n".to_vec(), "ASCII-armored"),
            (b"\x00\x01garbage".to_vec(), "not an OpenPGP message"),
            (a.sign_with(&payload(&d), true, Some((1_577_836_800, 60))), "expired on Wed, 01 Jan 2020 00:01:00 GMT"),
        ];
        for (blob, want) in cases {
            let err = verify(&blob, &a.ring("a"), &d, now).unwrap_err();
            assert!(err.contains(want), "want `{want}` in `{err}`");
        }
        // Absent optional fields are fine (Go's zero values); a lifetime not yet over is fine.
        let minimal = format!(
            r#"{{"critical":{{"type":"atomic container signature","image":{{"docker-manifest-digest":"{d}"}},"identity":{{"docker-reference":"r"}}}}}}"#
        );
        assert!(verify(&a.sign(minimal.as_bytes()), &a.ring("a"), &d, now).is_ok());
        let then = UNIX_EPOCH + Duration::from_secs(1_577_836_830);
        assert!(
            verify(
                &a.sign_with(&payload(&d), true, Some((1_577_836_800, 60))),
                &a.ring("a"),
                &d,
                then
            )
            .is_ok()
        );
    }
}
