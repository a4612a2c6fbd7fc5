//! Release signatures for tests, made the way Red Hat publishes them: OpenPGP keys generated
//! with rPGP (the `pgp` crate) from a seed, and the atomic container signature JSON as a
//! ZIP-compressed, one-pass signed binary OpenPGP message (`gpg --sign` writes the same shape).
//! Store files go to `<dir>/sha256=<hex>/signature-N`, which [`crate::SignatureServer`] serves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mirror_core::Digest;
use pgp::composed::{
    ArmorOptions, KeyType, MessageBuilder, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::{CompressionAlgorithm, KeyDetails as _, Password, Timestamp};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng as _;

/// Keys are dated 2024-01-01, so a seed always gives the same key.
const KEY_CREATED: u32 = 1_704_067_200;

/// An OpenPGP key pair for signing test releases.
#[derive(Clone, Debug)]
pub struct SigningKey {
    secret: SignedSecretKey,
    /// Sign with the first subkey instead of the primary key.
    subkey: bool,
}

impl SigningKey {
    /// An RSA-2048 key whose primary key signs (Red Hat's release key is an RSA primary key,
    /// 4096 bits), from `seed`, with user ID `<name> <test@example.invalid>`.
    pub fn generate(name: &str, seed: u64) -> Self {
        Self::build(name, seed, false)
    }

    /// A certify-only RSA primary key with an RSA signing subkey that makes the signatures.
    pub fn generate_with_subkey(name: &str, seed: u64) -> Self {
        Self::build(name, seed, true)
    }

    fn build(name: &str, seed: u64, subkey: bool) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let created = Timestamp::from_secs(KEY_CREATED);
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Rsa(2048))
            .created_at(created)
            .can_certify(true)
            .can_sign(!subkey)
            .primary_user_id(format!("{name} <test@example.invalid>"));
        if subkey {
            params.subkeys(vec![
                SubkeyParamsBuilder::default()
                    .key_type(KeyType::Rsa(2048))
                    .created_at(created)
                    .can_sign(true)
                    .build()
                    .expect("subkey parameters"),
            ]);
        }
        let secret = params
            .build()
            .expect("key parameters")
            .generate(&mut rng)
            .expect("generate an OpenPGP key");
        Self { secret, subkey }
    }

    fn public(&self) -> SignedPublicKey {
        self.secret.to_public_key()
    }

    /// The public key, ASCII-armored (what a `verifier-public-key-*` entry holds).
    pub fn public_armored(&self) -> String {
        self.public()
            .to_armored_string(ArmorOptions::default())
            .expect("armor the public key")
    }

    /// The public key, binary.
    pub fn public_binary(&self) -> Vec<u8> {
        self.public().to_bytes().expect("serialize the public key")
    }

    /// The primary key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.secret.fingerprint().as_bytes())
    }

    /// The fingerprint of the key that signs (the subkey for [`Self::generate_with_subkey`]).
    pub fn signing_fingerprint(&self) -> String {
        match self.secret.secret_subkeys.first() {
            Some(s) if self.subkey => hex::encode_upper(s.key.fingerprint().as_bytes()),
            _ => self.fingerprint(),
        }
    }

    /// `content` as a ZIP-compressed, one-pass signed binary OpenPGP message.
    pub fn sign(&self, content: &[u8]) -> Vec<u8> {
        self.sign_with(content, true)
    }

    /// `content` as a one-pass signed binary OpenPGP message, ZIP-compressed or not (not:
    /// the signed JSON sits in the clear, so a test can alter it).
    pub fn sign_with(&self, content: &[u8], compress: bool) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(content.len() as u64);
        let mut builder = MessageBuilder::from_bytes("", content.to_vec());
        if compress {
            builder.compression(CompressionAlgorithm::ZIP);
        }
        match self.secret.secret_subkeys.first() {
            Some(s) if self.subkey => {
                builder.sign(&s.key, Password::empty(), HashAlgorithm::Sha256);
            }
            _ => {
                builder.sign(
                    &self.secret.primary_key,
                    Password::empty(),
                    HashAlgorithm::Sha256,
                );
            }
        }
        builder.to_vec(&mut rng).expect("sign")
    }

    /// The signature of release `digest` with identity `reference`.
    pub fn sign_release(&self, digest: &Digest, reference: &str) -> Vec<u8> {
        self.sign(&atomic_payload(digest, reference))
    }
}

/// The signed JSON of a release signature, as Red Hat's (type, image digest, identity,
/// creator).
pub fn atomic_payload(digest: &Digest, reference: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "image": { "docker-manifest-digest": digest.to_string() },
            "type": "atomic container signature",
            "identity": { "docker-reference": reference },
        },
        "optional": { "creator": "mirrorctl test signing" },
    }))
    .expect("json")
}

/// `<dir>/sha256=<hex>/signature-<n>`, the store layout.
pub fn signature_path(dir: &Path, digest: &Digest, n: u32) -> PathBuf {
    dir.join(format!("sha256={}", digest.hex()))
        .join(format!("signature-{n}"))
}

/// Writes `bytes` as `signature-<n>` of `digest` in the store directory `dir`.
pub fn write_signature(dir: &Path, digest: &Digest, n: u32, bytes: &[u8]) -> PathBuf {
    let path = signature_path(dir, digest, n);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create store dir");
    std::fs::write(&path, bytes).expect("write signature");
    path
}

/// GnuPG in a throwaway home (under /tmp: its socket paths must be short); its agent is
/// stopped on drop. Fails with the install command when `gpg` is missing.
#[derive(Debug)]
pub struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    /// A fresh, empty GnuPG home.
    pub fn new() -> Self {
        crate::require_tool("gpg");
        crate::require_tool("gpgconf");
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .expect("gnupg home");
        Gpg { home }
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `gpg --batch ARGS` in this home and asserts it succeeds.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .arg("--batch")
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Default for Gpg {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "all"])
            .status();
    }
}
