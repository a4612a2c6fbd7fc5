//! The signature check as a whole, over `file://` stores: outcomes, overrides, outputs.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;

use super::testkeys::{TestKey, keys, payload};
use super::*;
use crate::reference::ImageRef;
use crate::registry::RawManifest;

/// The payload's ConfigMap with keyrings `names` of `ks` and file stores `stores`.
fn configmap(ks: &[(&str, &TestKey)], stores: &[(&str, &Path)]) -> Vec<u8> {
    let mut data = BTreeMap::new();
    for (n, k) in ks {
        data.insert(format!("verifier-public-key-{n}"), k.armored());
    }
    for (n, p) in stores {
        data.insert(format!("store-{n}"), format!("file://{}", p.display()));
    }
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "release-verification", "namespace": "openshift-config-managed",
            "annotations": { VERIFICATION_ANNOTATION: "" } },
        "data": data,
    });
    serde_saphyr::to_string(&cm).unwrap().into_bytes()
}

fn release(cm: Option<Vec<u8>>) -> Release {
    let bytes = Bytes::from_static(b"{\"schemaVersion\":2}");
    let digest = Digest::of(&bytes);
    Release {
        image: ImageRef::parse("quay.io/openshift-release-dev/ocp-release:4.99.0-x86_64").unwrap(),
        digest: digest.clone(),
        manifest: RawManifest {
            bytes,
            media_type: crate::registry::media_type::DOCKER_MANIFEST.into(),
            digest,
        },
        version: "4.99.0".into(),
        architecture: "x86_64".into(),
        metadata: None,
        components: Vec::new(),
        verification_config_map: cm,
    }
}

fn put(store: &Path, d: &Digest, n: u32, bytes: &[u8]) {
    let dir = store.join(format!("sha256={}", d.hex()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("signature-{n}")), bytes).unwrap();
}

fn run(r: &Release, opts: &SignatureOptions, dry_run: bool) -> Result<SignatureReport, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(check(r, opts, dry_run))
}

#[test]
fn verified_writes_the_configmap_and_the_tree() {
    let [a, _, _] = keys();
    let store = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let r = release(Some(configmap(&[("a", a)], &[("one", store.path())])));
    let sig = a.sign(&payload(&r.digest));
    put(store.path(), &r.digest, 1, &sig);
    // signature-3 after a gap is never read: the scan stops at the first missing one.
    put(store.path(), &r.digest, 3, b"never read");
    let opts = SignatureOptions {
        to_dir: Some(out.path().join("sigs")),
        ..Default::default()
    };
    // A dry run names the files and writes none.
    let dry = run(&r, &opts, true).unwrap();
    let files = dry.files.clone().unwrap();
    assert!(!files.written && !files.config_map.exists());
    let rep = run(&r, &opts, false).unwrap();
    assert_eq!(rep.status, SignatureStatus::Verified);
    assert_eq!(
        rep.keys_from.as_deref(),
        Some("the release payload's ConfigMap `release-verification`")
    );
    assert_eq!(rep.keyrings[0].fingerprints, vec![a.fingerprint()]);
    assert_eq!(rep.signatures.len(), 1);
    assert_eq!(rep.signatures[0].index, 1);
    assert_eq!(
        rep.signatures[0].verified_by[0].keyring,
        "verifier-public-key-a"
    );
    assert_eq!(rep.stores[0].result, StoreResult::Answered);
    let files = rep.files.unwrap();
    assert!(files.written);
    assert_eq!(std::fs::read(&files.store_files[0]).unwrap(), sig);
    assert_eq!(
        std::fs::read(&files.config_map).unwrap(),
        signature_configmap(&r.digest, &[sig])
    );
    assert_eq!(
        files,
        SignatureFiles {
            written: true,
            ..dry.files.unwrap()
        }
    );
}

#[test]
fn nothing_published_is_unsigned_or_an_error_when_required() {
    let [a, _, _] = keys();
    let store = tempfile::tempdir().unwrap();
    let r = release(Some(configmap(&[("a", a)], &[("one", store.path())])));
    let rep = run(&r, &SignatureOptions::default(), false).unwrap();
    assert_eq!(rep.status, SignatureStatus::Unsigned);
    assert_eq!(rep.stores[0].result, StoreResult::NothingPublished);
    let w = rep.warning.unwrap();
    assert!(
        w.contains(&format!("file://{}", store.path().display())),
        "{w}"
    );
    let opts = SignatureOptions {
        require: true,
        ..Default::default()
    };
    let e = run(&r, &opts, false).unwrap_err();
    assert!(matches!(e, Error::SignatureRequired { .. }), "{e}");
    assert!(
        e.to_string().contains("no signature store had a signature"),
        "{e}"
    );
    // A directory that is not there is named as such, not as "nothing published".
    let missing = store.path().join("typo");
    let opts = SignatureOptions {
        stores: vec![SignatureStore::parse(&format!("file://{}", missing.display())).unwrap()],
        ..Default::default()
    };
    let rep = run(&r, &opts, false).unwrap();
    assert_eq!(rep.stores[0].result, StoreResult::Unreachable);
    assert!(rep.warning.unwrap().contains("is not a directory"));
}

#[test]
fn no_configmap_is_not_configured() {
    let r = release(None);
    let rep = run(&r, &SignatureOptions::default(), false).unwrap();
    assert_eq!(rep.status, SignatureStatus::NotConfigured);
    assert!(rep.warning.unwrap().contains(VERIFICATION_ANNOTATION));
    let e = run(
        &r,
        &SignatureOptions {
            require: true,
            ..Default::default()
        },
        false,
    )
    .unwrap_err();
    assert!(matches!(e, Error::SignatureRequired { .. }), "{e}");
    let skipped = run(&r, &SignatureOptions::skipped(), false).unwrap();
    assert_eq!(skipped.status, SignatureStatus::Skipped);
}

#[test]
fn found_but_not_verifying_is_an_error_naming_the_keys() {
    let [a, b, _] = keys();
    let store = tempfile::tempdir().unwrap();
    // Two keyrings; only `a` signed.
    let r = release(Some(configmap(
        &[("a", a), ("b", b)],
        &[("one", store.path())],
    )));
    put(store.path(), &r.digest, 1, &a.sign(&payload(&r.digest)));
    let e = run(&r, &SignatureOptions::default(), false).unwrap_err();
    let Error::SignatureRejected {
        reason,
        fingerprints,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(fingerprints, &vec![a.fingerprint(), b.fingerprint()]);
    assert!(
        reason.contains("keyring `verifier-public-key-b`") && reason.contains(&b.fingerprint()),
        "{reason}"
    );
    assert!(
        !reason.contains("keyring `verifier-public-key-a`"),
        "{reason}"
    );
    // Once `b` signs too (signature-2), both keyrings are satisfied.
    put(store.path(), &r.digest, 2, &b.sign(&payload(&r.digest)));
    let rep = run(&r, &SignatureOptions::default(), false).unwrap();
    assert_eq!(
        (rep.status, rep.signatures.len()),
        (SignatureStatus::Verified, 2)
    );
}

#[test]
fn an_oversized_signature_is_refused_not_cut() {
    let [a, _, _] = keys();
    let store = tempfile::tempdir().unwrap();
    let r = release(Some(configmap(&[("a", a)], &[("one", store.path())])));
    let mut big = a.sign(&payload(&r.digest));
    big.resize(MAX_SIGNATURE_BYTES + 1, 0);
    put(store.path(), &r.digest, 1, &big);
    let e = run(&r, &SignatureOptions::default(), false).unwrap_err();
    assert!(e.to_string().contains("over the 51200-byte limit"), "{e}");
}

#[test]
fn keys_and_stores_given_replace_the_payloads() {
    let [a, b, c] = keys();
    let payload_store = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let r = release(Some(configmap(
        &[("a", a)],
        &[("one", payload_store.path())],
    )));
    // The payload's store holds a signature by `a`; the other store one by `c` (a subkey).
    put(
        payload_store.path(),
        &r.digest,
        1,
        &a.sign(&payload(&r.digest)),
    );
    put(other.path(), &r.digest, 1, &c.sign(&payload(&r.digest)));
    let other_store = SignatureStore::parse(&format!("file://{}", other.path().display())).unwrap();
    let with = |keyrings: Vec<Keyring>, stores: Vec<SignatureStore>| SignatureOptions {
        keyrings,
        stores,
        ..Default::default()
    };
    let rep = run(
        &r,
        &with(vec![c.ring("c.asc")], vec![other_store.clone()]),
        false,
    )
    .unwrap();
    assert_eq!(rep.status, SignatureStatus::Verified);
    assert_eq!(rep.keys_from.as_deref(), Some("the keys given"));
    assert_eq!(
        rep.signatures[0].verified_by[0].primary_fingerprint,
        c.fingerprint()
    );
    // A key given, the payload's store: `b` did not sign what is there.
    let e = run(&r, &with(vec![b.ring("b.asc")], vec![]), false).unwrap_err();
    assert!(e.to_string().contains(&b.fingerprint()), "{e}");
    // The payload's key, another store: verified there, and later stores are not asked.
    let first =
        SignatureStore::parse(&format!("file://{}", payload_store.path().display())).unwrap();
    let rep = run(&r, &with(vec![], vec![first, other_store]), false).unwrap();
    assert_eq!(rep.status, SignatureStatus::Verified);
    assert_eq!(rep.stores[1].result, StoreResult::NotTried);
}

#[test]
fn the_configmap_is_found_by_its_annotation() {
    let [a, _, _] = keys();
    let cm = configmap(&[("a", a)], &[("one", Path::new("/srv/sigs"))]);
    let two_docs = [
        b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\n".as_slice(),
        &cm,
    ]
    .concat();
    let c = config::parse(&two_docs).unwrap().unwrap();
    assert_eq!(
        c.keyrings().unwrap()[0].fingerprints(),
        vec![a.fingerprint()]
    );
    assert_eq!(c.stores().unwrap()[0].url(), "file:///srv/sigs");
    let huge = vec![b'#'; (1 << 20) + 1];
    assert!(
        config::parse(&huge)
            .unwrap_err()
            .contains("over the 1048576-byte limit")
    );
    let unannotated =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  store-a: https://x\n";
    assert!(config::parse(unannotated).unwrap().is_none());
    let bad_store = String::from_utf8(cm.clone())
        .unwrap()
        .replace("file:///srv/sigs", "ftp://x");
    let e = config::parse(bad_store.as_bytes())
        .unwrap()
        .unwrap()
        .stores()
        .unwrap_err();
    assert!(
        e.contains("entry `store-one`") && e.contains("scheme `ftp`"),
        "{e}"
    );
}

#[test]
fn the_sigstore_tag_is_named_as_containers_image_names_it() {
    let hex = "0da6316466d60a3a4535d5fed3589feb0391989982fba59d47d4c729912d6363";
    let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
    assert_eq!(sigstore_tag(&d), format!("sha256-{hex}.sig"));
}
