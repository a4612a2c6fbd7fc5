//! Release signatures through `mirrorctl release mirror --to`, offline: the sample release's
//! verification ConfigMap names a generated test key and a signature store on loopback; the
//! target is checked with skopeo and by its blob store on disk (nothing copied on refusal).
//! GnuPG signs and verifies too, so what the real tools write is what we read.

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use mirror_core::{Digest, RegistryClient};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec, FixtureVerification};
use mirror_testkit::signing::{Gpg, SigningKey, atomic_payload, signature_path, write_signature};
use mirror_testkit::{SignatureServer, TestRegistry, runtime, skopeo};

const TARGET_REPO: &str = "ocp4/openshift4";
const IDENTITY: &str = "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64";

/// A plain-HTTP source holding the sample release, whose payload trusts `keyrings` and names
/// the loopback `store`; an empty plain-HTTP target.
struct Setup {
    source: TestRegistry,
    target: TestRegistry,
    store: SignatureServer,
    fixture: Fixture,
    work: tempfile::TempDir,
}

impl Setup {
    fn new(keyrings: &[(&str, &SigningKey)]) -> Self {
        let rt = runtime();
        let work = tempfile::tempdir().unwrap();
        let store_dir = work.path().join("store");
        std::fs::create_dir_all(&store_dir).unwrap();
        let store = SignatureServer::start(&store_dir);
        let mut verification = FixtureVerification::default().store("local", &store.url);
        for (name, key) in keyrings {
            verification = verification.key(name, key);
        }
        let spec = FixtureSpec {
            verification: Some(verification),
            ..FixtureSpec::tiny()
        };
        let source = TestRegistry::start();
        let target = TestRegistry::start();
        let client = RegistryClient::new(source.client_options()).unwrap();
        let fixture = rt.block_on(fixture::push(&spec, &client, &source.host));
        Setup {
            source,
            target,
            store,
            fixture,
            work,
        }
    }

    fn digest(&self) -> &Digest {
        &self.fixture.release_digest
    }

    /// Publishes `bytes` as `signature-<n>` in the payload's store.
    fn publish(&self, n: u32, bytes: &[u8]) {
        write_signature(&self.store.dir, self.digest(), n, bytes);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// `release mirror` with only the required arguments (and plain-HTTP access), plus `extra`.
    fn mirror(&self, extra: &[&str]) -> (Output, String, String) {
        let mut args: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &self.fixture.release,
            "--to",
            &format!("{}/{TARGET_REPO}", self.target.host),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(self.source.cli_flags());
        args.extend(self.target.cli_flags());
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = mirrorctl(&args).output().unwrap();
        let (o, e) = text(&out);
        (out, o, e)
    }

    fn json(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = extra.to_vec();
        args.extend(["--output", "json"]);
        let (out, stdout, stderr) = self.mirror(&args);
        assert!(out.status.success(), "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    }

    /// The release tag is at the target with the source digest.
    fn assert_mirrored(&self) {
        skopeo::assert_digest(
            &self.target,
            &format!("{}/{TARGET_REPO}:4.14.1-x86_64", self.target.host),
            self.digest(),
        );
    }

    /// A refused release copied nothing: no blob in the target's storage, no tag.
    fn assert_nothing_copied(&self) {
        let blobs = self.target.root().join("data/docker/registry/v2/blobs");
        assert_eq!(count_files(&blobs), 0, "blobs were copied into the target");
        assert_eq!(
            skopeo::list_tags(&self.target, TARGET_REPO).unwrap(),
            Vec::<String>::new()
        );
    }
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { count_files(&p) } else { 1 }
        })
        .sum()
}

fn key(seed: u64) -> SigningKey {
    SigningKey::generate(&format!("test release key {seed}"), seed)
}

#[test]
fn a_good_signature_gives_the_configmap_oc_writes_and_a_store_tree() {
    let k = key(11);
    let s = Setup::new(&[("test", &k)]);
    let sig = k.sign_release(s.digest(), IDENTITY);
    s.publish(1, &sig);
    let out_dir = s.path("signatures");
    let dir = out_dir.display().to_string();
    let (out, stdout, stderr) = s.mirror(&["--release-image-signature-to-dir", &dir]);
    assert!(out.status.success(), "{stderr}");
    s.assert_mirrored();
    let hex = s.digest().hex().to_string();
    let file = out_dir.join(format!("signature-sha256-{}.json", &hex[..16]));
    assert!(
        stderr.contains("info: Release signature verified"),
        "{stderr}"
    );
    assert!(stderr.contains(&k.fingerprint()), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "To apply signature configmaps use 'oc apply' on files found in {dir}\n\nConfigmap signature file {} created\n",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("oc apply -f {}", file.display())),
        "{stdout}"
    );
    assert!(stdout.contains("spec.signatureStores"), "{stdout}");

    // The ConfigMap, field by field and in oc's order.
    let bytes = std::fs::read(&file).unwrap();
    let cm: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let keys: Vec<&String> = cm.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["kind", "apiVersion", "metadata", "binaryData"]);
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["apiVersion"], "v1");
    let meta: Vec<&String> = cm["metadata"].as_object().unwrap().keys().collect();
    assert_eq!(meta, ["name", "namespace", "creationTimestamp", "labels"]);
    assert_eq!(cm["metadata"]["name"], format!("sha256-{hex}"));
    assert_eq!(cm["metadata"]["namespace"], "openshift-config-managed");
    assert!(cm["metadata"]["creationTimestamp"].is_null());
    assert_eq!(
        cm["metadata"]["labels"],
        serde_json::json!({ "release.openshift.io/verification-signatures": "" })
    );
    let data = cm["binaryData"].as_object().unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        [&format!("sha256-{hex}-1")]
    );
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data[&format!("sha256-{hex}-1")].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, sig);
    assert!(bytes.ends_with(b"}\n") && !bytes.contains(&b' '));

    // The store tree, servable as is: a mirror that reads it as its only store verifies.
    let tree = signature_path(&out_dir, s.digest(), 1);
    assert_eq!(std::fs::read(&tree).unwrap(), sig);
    let from_tree = format!("file://{dir}");
    let v = s.json(&["--signature-store", &from_tree, "--dry-run"]);
    assert_eq!(v["signatures"]["status"], "verified");
    assert_eq!(v["signatures"]["stores"][0]["url"], from_tree);

    // A rerun leaves the same bytes.
    let (out, _, stderr) = s.mirror(&["--release-image-signature-to-dir", &dir]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}

#[test]
fn default_flags_verify_with_the_payloads_key_and_store_and_say_so() {
    let k = key(12);
    let s = Setup::new(&[("test", &k)]);
    s.publish(1, &k.sign_release(s.digest(), IDENTITY));
    let v = s.json(&[]);
    let sig = &v["signatures"];
    assert_eq!(sig["status"], "verified");
    assert_eq!(sig["digest"], s.digest().to_string());
    assert_eq!(
        sig["keysFrom"],
        "the release payload's ConfigMap `release-verification`"
    );
    assert_eq!(sig["keyrings"][0]["name"], "verifier-public-key-test");
    assert_eq!(sig["keyrings"][0]["fingerprints"][0], k.fingerprint());
    assert_eq!(sig["stores"][0]["url"], format!("{}/", s.store.url));
    assert_eq!(sig["stores"][0]["result"], "answered");
    assert_eq!(
        sig["signatures"][0]["location"],
        format!("{}/sha256={}/signature-1", s.store.url, s.digest().hex())
    );
    assert_eq!(sig["signatures"][0]["identity"], IDENTITY);
    assert_eq!(
        sig["signatures"][0]["verifiedBy"][0]["keyFingerprint"],
        k.fingerprint()
    );
    assert!(sig.get("files").is_none());
    // signature-1 was read, then signature-2 answered 404 and ended the scan.
    let hex = s.digest().hex();
    assert_eq!(
        s.store.requests(),
        [
            format!("/sha256={hex}/signature-1"),
            format!("/sha256={hex}/signature-2")
        ]
    );
    s.assert_mirrored();
}

#[test]
fn a_missing_signature_warns_and_mirrors_unsigned_unless_required() {
    let k = key(13);
    let s = Setup::new(&[("test", &k)]);
    let (out, stdout, stderr) = s.mirror(&["--require-signatures"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: release `{}` (`{}`) has no verified signature: no signature store had a signature: tried `{}/` (nothing published)",
            s.fixture.release,
            s.digest(),
            s.store.url
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("--signature-store file://DIR"),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    s.assert_nothing_copied();

    let (out, stdout, stderr) = s.mirror(&[]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: release `{}` is unsigned",
            s.fixture.release
        )) && stderr.contains(&s.store.url),
        "{stderr}"
    );
    // stdout keeps oc's shape; the advice is on stderr.
    assert!(
        stdout.starts_with("Success\n") && !stdout.contains("ignature"),
        "{stdout}"
    );
    assert!(stderr.contains("--signature-store file://DIR"), "{stderr}");
    s.assert_mirrored();
    let v = s.json(&[]);
    assert_eq!(v["signatures"]["status"], "unsigned");
    assert_eq!(v["signatures"]["stores"][0]["result"], "nothingPublished");
}

#[test]
fn an_unreachable_store_is_named_in_the_warning() {
    let k = key(14);
    let s = Setup::new(&[("test", &k)]);
    // Nothing listens there.
    let dead = format!("http://127.0.0.1:{}", mirror_testkit::free_port());
    let v = s.json(&["--signature-store", &dead]);
    assert_eq!(v["signatures"]["status"], "unsigned");
    assert_eq!(v["signatures"]["stores"][0]["result"], "unreachable");
    let w = v["signatures"]["warning"].as_str().unwrap();
    assert!(w.contains(&format!("`{dead}/` (unreachable: ")), "{w}");
    // One attempt, not nine.
    assert_eq!(w.matches("signature-").count(), 1, "{w}");
}

#[test]
fn a_tampered_signature_is_refused_before_any_blob_is_copied() {
    let k = key(15);
    let s = Setup::new(&[("test", &k)]);
    // Uncompressed, so the signed JSON is in the clear: change one letter of it.
    let mut sig = k.sign_with(&atomic_payload(s.digest(), IDENTITY), false);
    let at = sig.windows(8).position(|w| w == b"identity").unwrap();
    sig[at] = b'I';
    s.publish(1, &sig);
    let (out, _, stderr) = s.mirror(&[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: release `{}` (`{}`): its signatures do not verify: no signature verifies with keyring `verifier-public-key-test` (keys {})",
            s.fixture.release,
            s.digest(),
            k.fingerprint()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("does not match the signed content"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: nothing was copied"), "{stderr}");
    s.assert_nothing_copied();
}

#[test]
fn a_signature_by_another_key_or_for_another_release_is_refused() {
    let k = key(16);
    let other = key(17);
    let s = Setup::new(&[("test", &k)]);
    s.publish(1, &other.sign_release(s.digest(), IDENTITY));
    let (out, _, stderr) = s.mirror(&[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The keyring's fingerprint, and the key ID that signed.
    assert!(stderr.contains(&k.fingerprint()), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "it was made by key ID {}, which is not in this keyring",
            &other.fingerprint()[24..]
        )),
        "{stderr}"
    );
    s.assert_nothing_copied();

    // The right key, but another release's digest.
    s.publish(
        1,
        &k.sign_release(&Digest::of(b"another release"), IDENTITY),
    );
    let (out, _, stderr) = s.mirror(&[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not this release"), "{stderr}");
    s.assert_nothing_copied();
}

#[test]
fn a_release_signed_by_only_one_of_two_required_keyrings_is_refused() {
    let (a, b) = (key(18), key(19));
    let s = Setup::new(&[("first", &a), ("second", &b)]);
    s.publish(1, &a.sign_release(s.digest(), IDENTITY));
    let (out, _, stderr) = s.mirror(&[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no signature verifies with keyring `verifier-public-key-second` (keys {})",
            b.fingerprint()
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("keyring `verifier-public-key-first`"),
        "{stderr}"
    );
    s.assert_nothing_copied();
    // With the second keyring's signature published too, both are satisfied.
    s.publish(2, &b.sign_release(s.digest(), IDENTITY));
    let v = s.json(&[]);
    assert_eq!(v["signatures"]["status"], "verified");
    assert_eq!(v["signatures"]["signatures"].as_array().unwrap().len(), 2);
}

#[test]
fn an_oversized_signature_is_refused_not_cut() {
    let k = key(20);
    let s = Setup::new(&[("test", &k)]);
    let mut sig = k.sign_release(s.digest(), IDENTITY);
    sig.resize(60 << 10, 0);
    s.publish(1, &sig);
    let (out, _, stderr) = s.mirror(&[]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("it is over the 51200-byte limit for a signature; refused, not cut"),
        "{stderr}"
    );
    s.assert_nothing_copied();
}

#[test]
fn keys_and_stores_given_replace_the_payloads() {
    let payload_key = key(21);
    let s = Setup::new(&[("test", &payload_key)]);
    // Another key (a certify-only primary with a signing subkey), given as a binary file, and
    // its signature in a directory given as a file:// store.
    let ours = SigningKey::generate_with_subkey("site key", 22);
    let key_file = s.path("site-key.gpg");
    std::fs::write(&key_file, ours.public_binary()).unwrap();
    let dir = s.path("site-store");
    write_signature(
        &dir,
        s.digest(),
        1,
        &ours.sign_release(s.digest(), IDENTITY),
    );
    let store = format!("file://{}", dir.display());
    let v = s.json(&[
        "--signature-key",
        key_file.to_str().unwrap(),
        "--signature-store",
        &store,
    ]);
    let sig = &v["signatures"];
    assert_eq!(sig["status"], "verified");
    assert_eq!(sig["keysFrom"], "the keys given");
    assert_eq!(sig["keyrings"][0]["name"], key_file.display().to_string());
    assert_eq!(sig["stores"].as_array().unwrap().len(), 1);
    assert_eq!(sig["stores"][0]["url"], store);
    let by = &sig["signatures"][0]["verifiedBy"][0];
    assert_eq!(by["primaryFingerprint"], ours.fingerprint());
    assert_eq!(by["keyFingerprint"], ours.signing_fingerprint());
    assert_ne!(ours.signing_fingerprint(), ours.fingerprint());
    // The payload's store was not asked.
    assert_eq!(s.store.requests(), Vec::<String>::new());
    s.assert_mirrored();

    // The payload's key with the given store: that key did not sign what is there.
    let (out, _, stderr) = s.mirror(&["--signature-store", &store]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&payload_key.fingerprint()), "{stderr}");
}

#[test]
fn an_https_store_is_reached_with_the_ca_files_given() {
    let k = key(23);
    let s = Setup::new(&[("test", &k)]);
    let dir = s.path("https-store");
    write_signature(&dir, s.digest(), 1, &k.sign_release(s.digest(), IDENTITY));
    let https = SignatureServer::start_tls(&dir);
    let ca = s.path("store-ca.pem");
    std::fs::write(&ca, https.ca_pem.as_ref().unwrap()).unwrap();
    // Without the CA: the store cannot be trusted, so nothing is found.
    let v = s.json(&["--signature-store", &https.url]);
    assert_eq!(v["signatures"]["status"], "unsigned");
    let w = v["signatures"]["warning"].as_str().unwrap();
    assert!(
        w.contains("unreachable") && w.contains("certificate"),
        "{w}"
    );
    // With it (the same --ca-file the registries use).
    let v = s.json(&[
        "--signature-store",
        &https.url,
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(v["signatures"]["status"], "verified");
    assert_eq!(https.requests().len(), 2);
}

#[test]
fn skip_signatures_fetches_nothing() {
    let k = key(24);
    let s = Setup::new(&[("test", &k)]);
    let v = s.json(&["--skip-signatures"]);
    assert_eq!(v["signatures"]["status"], "skipped");
    assert_eq!(s.store.requests(), Vec::<String>::new());
    s.assert_mirrored();
    let (out, _, stderr) = s.mirror(&["--skip-signatures", "--require-signatures"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn a_dry_run_verifies_and_writes_nothing() {
    let k = key(25);
    let s = Setup::new(&[("test", &k)]);
    s.publish(1, &k.sign_release(s.digest(), IDENTITY));
    let dir = s.path("dry");
    let v = s.json(&[
        "--dry-run",
        "--release-image-signature-to-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(v["signatures"]["status"], "verified");
    assert_eq!(v["signatures"]["files"]["written"], false);
    assert!(!dir.exists());
    s.assert_nothing_copied();
    // A dry run refuses a bad signature too.
    s.publish(1, &key(26).sign_release(s.digest(), IDENTITY));
    let (out, _, stderr) = s.mirror(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}

#[test]
fn bad_signature_flags_are_usage_errors() {
    let k = key(27);
    let s = Setup::new(&[("test", &k)]);
    let missing = s.path("no-such-key.asc");
    let garbage = s.path("garbage.asc");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let secret = s.path("secret.asc");
    std::fs::write(&secret, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n").unwrap();
    let cases: [(&[&str], String); 4] = [
        (
            &["--signature-key", missing.to_str().unwrap()],
            format!("error: --signature-key: read signature key `{}`", missing.display()),
        ),
        (
            &["--signature-key", garbage.to_str().unwrap()],
            format!("error: --signature-key: signature key `{}`: not an OpenPGP public key", garbage.display()),
        ),
        (
            &["--signature-key", secret.to_str().unwrap()],
            format!("error: --signature-key: signature key `{}`: this is a private key: give the public key only", secret.display()),
        ),
        (
            &["--signature-store", "ftp://mirror.example/sigs"],
            "error: --signature-store: invalid setting `signature-store`: `ftp://mirror.example/sigs` has scheme `ftp`".to_string(),
        ),
    ];
    for (args, want) in cases {
        let (out, _, stderr) = s.mirror(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&want), "want `{want}` in {stderr}");
    }
    assert_eq!(s.store.requests(), Vec::<String>::new());
    s.assert_nothing_copied();
}

#[test]
fn signatures_made_by_gnupg_verify_and_gnupg_verifies_ours() {
    let gpg = Gpg::new();
    let params = gpg.home().join("params");
    std::fs::write(
        &params,
        "%no-protection\nKey-Type: RSA\nKey-Length: 3072\nKey-Usage: sign,cert\nName-Real: mirrorctl gpg test key\nName-Email: gpg@example.invalid\nExpire-Date: 0\n%commit\n",
    )
    .unwrap();
    // Dated 2019, so a signature can be made in 2020 and be expired now.
    gpg.run(&[
        "--faked-system-time",
        "20190101T000000!",
        "--gen-key",
        params.to_str().unwrap(),
    ]);
    let armored = gpg
        .run(&["--armor", "--export", "gpg@example.invalid"])
        .stdout;

    let ours = key(28);
    let s = Setup::new(&[("test", &ours)]);
    let key_file = s.path("gpg-key.asc");
    std::fs::write(&key_file, &armored).unwrap();
    let payload = s.path("payload.json");
    std::fs::write(&payload, atomic_payload(s.digest(), IDENTITY)).unwrap();
    let dir = s.path("gpg-store");
    let sig = signature_path(&dir, s.digest(), 1);
    std::fs::create_dir_all(sig.parent().unwrap()).unwrap();
    let store = format!("file://{}", dir.display());
    let flags = [
        "--signature-key",
        key_file.to_str().unwrap(),
        "--signature-store",
        &store,
    ];

    // gpg --sign (compressed, as Red Hat's): verified.
    let sig_arg = sig.to_str().unwrap();
    let payload_arg = payload.to_str().unwrap();
    gpg.run(&[
        "--yes",
        "--compress-algo",
        "zip",
        "-o",
        sig_arg,
        "--sign",
        payload_arg,
    ]);
    let v = s.json(&flags);
    assert_eq!(v["signatures"]["status"], "verified", "{v}");
    let fpr = String::from_utf8(gpg.run(&["--with-colons", "--fingerprint"]).stdout).unwrap();
    let fpr_line = fpr.lines().find(|l| l.starts_with("fpr:")).unwrap();
    assert_eq!(
        v["signatures"]["signatures"][0]["verifiedBy"][0]["keyFingerprint"],
        fpr_line.split(':').nth(9).unwrap()
    );
    // Uncompressed and bzip2 too.
    for algo in ["none", "bzip2"] {
        gpg.run(&[
            "--yes",
            "--compress-algo",
            algo,
            "-o",
            sig_arg,
            "--sign",
            payload_arg,
        ]);
        assert_eq!(s.json(&flags)["signatures"]["status"], "verified", "{algo}");
    }
    // A signature that expired (made in 2020, valid one day) is refused.
    gpg.run(&[
        "--yes",
        "--faked-system-time",
        "20200101T000000!",
        "--default-sig-expire",
        "1d",
        "-o",
        sig_arg,
        "--sign",
        payload_arg,
    ]);
    let mut args = flags.to_vec();
    args.push("--dry-run");
    let (out, _, stderr) = s.mirror(&args);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the signature expired on Thu, 02 Jan 2020 00:00:00 GMT"),
        "{stderr}"
    );

    // The other way: gpg verifies the signature rPGP made for the fixture.
    let ours_file = s.path("ours.asc");
    std::fs::write(&ours_file, ours.public_armored()).unwrap();
    gpg.run(&["--import", ours_file.to_str().unwrap()]);
    let ours_sig = s.path("ours-signature-1");
    std::fs::write(&ours_sig, ours.sign_release(s.digest(), IDENTITY)).unwrap();
    let out = gpg.run(&["--status-fd", "1", "--decrypt", ours_sig.to_str().unwrap()]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains(&format!("[GNUPG:] VALIDSIG {}", ours.fingerprint())),
        "{status}"
    );
    assert!(status.contains(&String::from_utf8(atomic_payload(s.digest(), IDENTITY)).unwrap()));
}
