//! `mirrorctl release extract --command openshift-install`, from the source and from a mirror.

use std::os::unix::fs::PermissionsExt as _;

use mirror_core::{
    ImageRef, RegistryClient, Repository, progress::NoProgress, release::MirrorOptions,
};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, FixtureSpec};
use mirror_testkit::{RegistryOptions, TestRegistry};

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn marker(name: &str, xs: usize) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(name.as_bytes());
    v.push(0);
    v.extend(std::iter::repeat_n(b'X', xs));
    v.push(0);
    v
}

/// The binary is the original with the three markers overwritten in place.
fn assert_pinned(original: &[u8], got: &[u8], pull_spec: &str) {
    assert_eq!(
        got.len(),
        original.len(),
        "extraction changed the file length"
    );
    for (name, xs, value) in [
        ("_RELEASE_IMAGE_LOCATION_", 300, pull_spec),
        ("_RELEASE_VERSION_LOCATION_", 64, "4.14.1"),
        ("_RELEASE_ARCHITECTURE_LOCATION_", 64, "linux/amd64"),
    ] {
        let at =
            find(original, &marker(name, xs)).unwrap_or_else(|| panic!("fixture lacks {name}"));
        let mut want = value.as_bytes().to_vec();
        want.push(0);
        assert_eq!(&got[at..at + want.len()], &want[..], "{name}");
        assert_eq!(
            &got[at + want.len()..at + xs + name.len() + 3],
            &original[at + want.len()..at + xs + name.len() + 3]
        );
    }
    assert!(
        find(got, b"\0_RELEASE_IMAGE_LOCATION_\0XXXX").is_none(),
        "a marker was left"
    );
}

#[test]
fn extracts_a_pinned_installer_from_the_source_and_from_a_mirror() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let source = TestRegistry::start();
    let spec = FixtureSpec::tiny();
    let f = rt.block_on(fixture::push(
        &spec,
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    let original = fixture::installer_binary(&spec);
    let dir = tempfile::tempdir().unwrap();

    // From the source registry.
    let out = mirrorctl([
        "release",
        "extract",
        "--command",
        "openshift-install",
        "--from",
        &f.release,
        "--insecure-registry",
        &source.host,
        "--to",
    ])
    .arg(dir.path().join("src"))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let path = dir.path().join("src/openshift-install");
    let got = std::fs::read(&path).unwrap();
    assert_pinned(
        &original,
        &got,
        &format!("{}@{}", f.release_repo, f.release_digest),
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // From a mirror, with the upstream gone: the installer is read from the mirror by digest.
    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let mut opts = target.client_options();
    opts.insecure_registries.push(source.host.clone());
    let client = RegistryClient::new(opts).unwrap();
    let to = Repository::parse(&format!("{}/ocp4/openshift4", target.host)).unwrap();
    rt.block_on(mirror_core::mirror_release(
        &client,
        &ImageRef::parse(&f.release).unwrap(),
        &MirrorOptions::new(to.clone()),
        std::sync::Arc::new(NoProgress),
    ))
    .unwrap();
    drop(source);
    let out = mirrorctl([
        "release",
        "extract",
        "--command",
        "openshift-install",
        "--output",
        "json",
        "--from",
        &format!("{to}:4.14.1-x86_64"),
        "--ca-file",
    ])
    .arg(target.ca_file().unwrap())
    .arg("--to")
    .arg(dir.path().join("mirror"))
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["apiVersion"], "mirrorctl.openshift.io/v1alpha1");
    assert_eq!(report["kind"], "ReleaseExtractReport");
    assert_eq!(report["releaseImage"], format!("{to}@{}", f.release_digest));
    assert_eq!(report["missingMarkers"], serde_json::json!([]));
    let got = std::fs::read(dir.path().join("mirror/openshift-install")).unwrap();
    assert_pinned(&original, &got, &format!("{to}@{}", f.release_digest));
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("mirror"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("openshift-install")]);

    // Only openshift-install is known.
    let out = mirrorctl([
        "release",
        "extract",
        "--command",
        "oc",
        "--from",
        &format!("{to}:4.14.1-x86_64"),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("command `oc` does not exist"));
}
