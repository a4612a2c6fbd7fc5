//! OpenPGP keyrings: the `verifier-public-key-*` entries of the payload's verification
//! ConfigMap, or the files given instead. A keyring is satisfied when any of its keys (a
//! primary key, or a subkey bound to it for signing) made a valid signature.

use pgp::composed::{Deserializable as _, SignedPublicKey};
use pgp::packet::SignatureType;
use pgp::types::{KeyDetails as _, KeyId, VerifyingKey};
use serde::Serialize;

/// One keyring, as the cluster version operator reads a `verifier-public-key-*` entry.
#[derive(Clone, Debug)]
pub struct Keyring {
    /// The ConfigMap key (`verifier-public-key-redhat`) or the file it was read from.
    pub name: String,
    keys: Vec<SignedPublicKey>,
}

/// A key that may have made a signature: a primary key, or a signing subkey bound to it.
pub(crate) struct Signer<'a> {
    /// The fingerprint of the key itself (upper-case hex).
    pub(crate) fingerprint: String,
    /// The fingerprint of its primary key.
    pub(crate) primary: String,
    pub(crate) key_id: KeyId,
    pub(crate) key: &'a dyn VerifyingKey,
}

/// A keyring as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyringInfo {
    /// The ConfigMap key or the file.
    pub name: String,
    /// The primary key fingerprints it holds (upper-case hex).
    pub fingerprints: Vec<String>,
}

/// Upper-case hex, as `gpg --fingerprint` shows it without the spaces.
fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

impl Keyring {
    /// Reads every public key of `bytes`, ASCII-armored or binary (like library-go's
    /// `loadArmoredOrUnarmoredGPGKeyRing`). `name` says where it came from.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Keyring, String> {
        let text = bytes.trim_ascii_start();
        if text.starts_with(b"-----BEGIN PGP PRIVATE KEY BLOCK-----") {
            return Err("this is a private key: give the public key only".into());
        }
        if text.is_empty() {
            return Err("it is empty".into());
        }
        let armored = text.starts_with(b"-----BEGIN ");
        let input = if armored { text } else { bytes };
        let (iter, _) = SignedPublicKey::from_reader_many(input)
            .map_err(|e| format!("not an OpenPGP public key: {e}"))?;
        let mut keys = Vec::new();
        for key in iter {
            keys.push(key.map_err(|e| format!("not an OpenPGP public key: {e}"))?);
        }
        if keys.is_empty() {
            return Err("it holds no OpenPGP public key".into());
        }
        Ok(Keyring {
            name: name.to_string(),
            keys,
        })
    }

    /// The primary key fingerprints.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| hex_upper(k.fingerprint().as_bytes()))
            .collect()
    }

    /// Name and fingerprints, for reports.
    pub fn info(&self) -> KeyringInfo {
        KeyringInfo {
            name: self.name.clone(),
            fingerprints: self.fingerprints(),
        }
    }

    /// Every key that may verify a signature: each primary key, and each subkey whose binding
    /// signature (checked against its primary key, with the subkey's back signature) allows
    /// signing.
    pub(crate) fn signers(&self) -> Vec<Signer<'_>> {
        let mut out = Vec::new();
        for key in &self.keys {
            let primary = hex_upper(key.fingerprint().as_bytes());
            out.push(Signer {
                fingerprint: primary.clone(),
                primary: primary.clone(),
                key_id: key.legacy_key_id(),
                key: &key.primary_key,
            });
            for sub in &key.public_subkeys {
                let bound = sub.signatures.iter().any(|sig| {
                    sig.typ() == Some(SignatureType::SubkeyBinding)
                        && sig.key_flags().sign()
                        && sig
                            .verify_subkey_binding(&key.primary_key, &sub.key)
                            .is_ok()
                        && sig.embedded_signature().is_some_and(|back| {
                            back.verify_primary_key_binding(&sub.key, &key.primary_key)
                                .is_ok()
                        })
                });
                if bound {
                    out.push(Signer {
                        fingerprint: hex_upper(sub.fingerprint().as_bytes()),
                        primary: primary.clone(),
                        key_id: sub.legacy_key_id(),
                        key: &sub.key,
                    });
                }
            }
        }
        out
    }
}
