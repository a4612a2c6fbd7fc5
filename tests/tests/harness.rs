//! The harness itself: real registries start, the fixture lands byte for byte, skopeo agrees.

use mirror_core::{Digest, RegistryClient, registry::media_type as mt};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::runtime as rt;
use mirror_testkit::{RegistryOptions, TestRegistry, skopeo};

fn check_fixture_with_skopeo(reg: &TestRegistry, f: &fixture::Fixture) {
    // The release, by tag and by digest.
    skopeo::assert_digest(reg, &f.release, &f.release_digest);
    skopeo::assert_digest(
        reg,
        &format!("{}@{}", f.release_repo, f.release_digest),
        &f.release_digest,
    );
    // Every component, and every child of every list.
    for c in &f.components {
        skopeo::assert_digest(
            reg,
            &format!("{}@{}", f.component_repo, c.digest),
            &c.digest,
        );
        for child in &c.children {
            skopeo::assert_digest(reg, &format!("{}@{}", f.component_repo, child), child);
        }
    }
}

#[test]
fn tiny_fixture_lands_byte_for_byte_over_plain_http() {
    let rt = rt();
    let reg = TestRegistry::start();
    let client = RegistryClient::new(reg.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &reg.host));

    assert_eq!(f.components.len(), 12);
    let names: Vec<&str> = f.components.iter().map(|c| c.name.as_str()).collect();
    for required in [
        "cli",
        "cluster-version-operator",
        "installer",
        "machine-os-content",
        "pod",
        "must-gather",
    ] {
        assert!(
            names.contains(&required),
            "{required} missing from {names:?}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "components are sorted by name");
    let types: std::collections::BTreeSet<&str> =
        f.components.iter().map(|c| c.media_type.as_str()).collect();
    for t in [
        mt::DOCKER_MANIFEST,
        mt::DOCKER_LIST,
        mt::OCI_INDEX,
        mt::OCI_MANIFEST,
    ] {
        assert!(types.contains(t), "no {t} among {types:?}");
    }
    // Components are pushed by digest only: the component repository has no tags.
    assert_eq!(
        skopeo::list_tags(&reg, "openshift-release-dev/ocp-v4.0-art-dev").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        skopeo::list_tags(&reg, "openshift-release-dev/ocp-release").unwrap(),
        vec!["4.14.1-x86_64"]
    );
    check_fixture_with_skopeo(&reg, &f);

    // Some manifests are not canonical JSON: re-serializing them would change the digest.
    let noncanonical = f
        .components
        .iter()
        .filter(|c| {
            let raw =
                skopeo::inspect_raw(&reg, &format!("{}@{}", f.component_repo, c.digest)).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            Digest::of(&serde_json::to_vec(&v).unwrap()) != c.digest
        })
        .count();
    assert!(
        noncanonical >= 3,
        "only {noncanonical} non-canonical manifests"
    );

    // Pushing again is idempotent and yields the same digests.
    let again = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &reg.host));
    assert_eq!(again.release_digest, f.release_digest);
}

#[test]
fn tls_and_htpasswd_registry_serves_the_fixture() {
    let rt = rt();
    let reg = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), "s3cret-pass".into())),
        ..Default::default()
    });
    let client = RegistryClient::new(reg.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &reg.host));
    check_fixture_with_skopeo(&reg, &f);

    // Without credentials the registry refuses, and says so.
    let mut anon = reg.client_options();
    anon.auth = None;
    let anon = RegistryClient::new(anon).unwrap();
    let err = rt
        .block_on(anon.get_manifest(
            &reg.repo("openshift-release-dev/ocp-release"),
            "4.14.1-x86_64",
        ))
        .unwrap_err();
    assert!(
        matches!(err, mirror_core::Error::Registry { status: 401, .. }),
        "{err}"
    );

    // Without the CA the TLS handshake fails with a hint to trust that CA.
    let mut no_ca = reg.client_options();
    no_ca.ca_pems.clear();
    let no_ca = RegistryClient::new(no_ca).unwrap();
    let err = rt.block_on(no_ca.ping(&reg.repo("x"))).unwrap_err();
    assert!(
        matches!(err.hint(), Some(mirror_core::Hint::TrustCa { .. })),
        "{err}: {:?}",
        err.hint()
    );
}

#[test]
fn a_registry_that_cannot_start_reports_its_log() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be makes the registry fail at start.
    let result = std::panic::catch_unwind(|| {
        let root = dir.path().join("reg");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("data"), b"not a directory").unwrap();
        TestRegistry::start_with(RegistryOptions {
            root: Some(root),
            ..Default::default()
        })
    });
    let msg = match result {
        Ok(_) => panic!("a registry with a file as its data dir started"),
        Err(p) => p.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        msg.contains("create data dir") || msg.contains("its log"),
        "{msg}"
    );
}
