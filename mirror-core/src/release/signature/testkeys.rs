//! Keys and signatures for the unit tests, made with rPGP (the integration tests also use
//! GnuPG's).

use std::sync::OnceLock;

use pgp::composed::{
    ArmorOptions, KeyType, MessageBuilder, SecretKeyParamsBuilder, SignedSecretKey,
    SubkeyParamsBuilder, SubpacketConfig,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Subpacket, SubpacketData};
use pgp::types::{CompressionAlgorithm, KeyDetails as _, Password, Timestamp};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;

use super::keys::Keyring;
use crate::digest::Digest;

pub(crate) struct TestKey {
    pub(crate) secret: SignedSecretKey,
    pub(crate) subkey: bool,
}

fn generate(seed: u64, subkey: bool) -> TestKey {
    let created = Timestamp::from_secs(1_704_067_200);
    let mut p = SecretKeyParamsBuilder::default();
    p.key_type(KeyType::Rsa(2048))
        .created_at(created)
        .can_certify(true)
        .can_sign(!subkey)
        .primary_user_id(format!("test key {seed} <test@example.invalid>"));
    if subkey {
        p.subkeys(vec![
            SubkeyParamsBuilder::default()
                .key_type(KeyType::Rsa(2048))
                .created_at(created)
                .can_sign(true)
                .build()
                .unwrap(),
        ]);
    }
    let secret = p
        .build()
        .unwrap()
        .generate(ChaCha8Rng::seed_from_u64(seed))
        .unwrap();
    TestKey { secret, subkey }
}

/// Key A (primary signs), key B (primary signs), key C (a signing subkey).
pub(crate) fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| [generate(1, false), generate(2, false), generate(3, true)])
}

impl TestKey {
    pub(crate) fn armored(&self) -> String {
        self.secret
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .unwrap()
    }

    pub(crate) fn ring(&self, name: &str) -> Keyring {
        Keyring::parse(name, self.armored().as_bytes()).unwrap()
    }

    pub(crate) fn fingerprint(&self) -> String {
        hex::encode_upper(self.secret.fingerprint().as_bytes())
    }

    /// Signs `content`; `created` and `lifetime` set the signature's creation time and
    /// expiry (seconds) when given.
    pub(crate) fn sign_with(
        &self,
        content: &[u8],
        compress: bool,
        times: Option<(u32, u32)>,
    ) -> Vec<u8> {
        let mut b = MessageBuilder::from_bytes("", content.to_vec());
        if compress {
            b.compression(CompressionAlgorithm::ZIP);
        }
        let key: &dyn pgp::types::SigningKey = match self.secret.secret_subkeys.first() {
            Some(s) if self.subkey => &s.key,
            _ => &self.secret.primary_key,
        };
        match times {
            None => {
                b.sign(key, Password::empty(), HashAlgorithm::Sha256);
            }
            Some((created, life)) => {
                let hashed = vec![
                    Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))
                        .unwrap(),
                    Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
                        created,
                    )))
                    .unwrap(),
                    Subpacket::regular(SubpacketData::SignatureExpirationTime(
                        pgp::types::Duration::from_secs(life),
                    ))
                    .unwrap(),
                ];
                let unhashed = vec![
                    Subpacket::regular(SubpacketData::IssuerKeyId(key.legacy_key_id())).unwrap(),
                ];
                b.sign_with_subpackets(
                    key,
                    Password::empty(),
                    HashAlgorithm::Sha256,
                    SubpacketConfig::UserDefined { hashed, unhashed },
                );
            }
        }
        b.to_vec(ChaCha8Rng::seed_from_u64(7)).unwrap()
    }

    pub(crate) fn sign(&self, content: &[u8]) -> Vec<u8> {
        self.sign_with(content, true, None)
    }
}

/// The JSON Red Hat signs, for `digest`.
pub(crate) fn payload(digest: &Digest) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"image":{{"docker-manifest-digest":"{digest}"}},"type":"atomic container signature","identity":{{"docker-reference":"quay.io/openshift-release-dev/ocp-release:4.99.0-x86_64"}}}},"optional":{{"creator":"test"}}}}"#
    )
    .into_bytes()
}
