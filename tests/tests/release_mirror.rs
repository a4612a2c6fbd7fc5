//! `mirrorctl release mirror` against real registries, checked with skopeo.

use std::io::Write as _;
use std::time::{Duration, Instant};

use mirror_core::{
    ClientOptions, Digest, ImageRef, RegistryClient, Repository, progress::NoProgress,
    registry::media_type as mt, release::MirrorOptions,
};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fault_proxy::{Fault, FaultPlan, FaultProxy};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::runtime as rt;
use mirror_testkit::{CertVariant, RegistryOptions, TestRegistry, skopeo};

const TARGET_REPO: &str = "ocp4/openshift4";

/// A TLS source (so HTTP/2, as quay.io) with the fixture, and an empty TLS + htpasswd target.
struct Setup {
    source: TestRegistry,
    target: TestRegistry,
    fixture: Fixture,
}

fn setup(rt: &tokio::runtime::Runtime) -> Setup {
    let source = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), "pw-for-tests".into())),
        ..Default::default()
    });
    let client = RegistryClient::new(source.client_options()).unwrap();
    let fixture = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    Setup {
        source,
        target,
        fixture,
    }
}

/// Client options reaching both registries.
fn both(s: &Setup) -> ClientOptions {
    let mut o = s.target.client_options();
    o.ca_pems.extend(s.source.ca_pem.iter().cloned());
    o
}

fn cli_access(s: &Setup) -> Vec<String> {
    vec![
        "-a".into(),
        s.target.auth_file().display().to_string(),
        "--ca-file".into(),
        s.target.ca_file().unwrap().display().to_string(),
        "--ca-file".into(),
        s.source.ca_file().unwrap().display().to_string(),
    ]
}

/// Every component tag and the release tag carry the source digests, read by skopeo; list
/// children are there by digest with their own media types.
fn assert_exact_mirror(target: &TestRegistry, f: &Fixture) {
    let repo = format!("{}/{TARGET_REPO}", target.host);
    for c in &f.components {
        let image = format!("{repo}:{}-x86_64-{}", f.version, c.name);
        skopeo::assert_digest(target, &image, &c.digest);
        let raw = skopeo::inspect_raw(target, &image).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        if let Some(t) = v.get("mediaType").and_then(|t| t.as_str()) {
            assert_eq!(t, c.media_type, "{image}");
        }
        for child in &c.children {
            skopeo::assert_digest(target, &format!("{repo}@{child}"), child);
        }
    }
    skopeo::assert_digest(
        target,
        &format!("{repo}:{}-x86_64", f.version),
        &f.release_digest,
    );
}

#[test]
fn full_mirror_is_digest_exact_and_a_rerun_copies_nothing() {
    let rt = rt();
    let s = setup(&rt);
    let to = format!("{}/{TARGET_REPO}", s.target.host);
    let mut args = vec![
        "release".to_string(),
        "mirror".into(),
        "--from".into(),
        s.fixture.release.clone(),
        "--to".into(),
        to.clone(),
        "--output".into(),
        "json".into(),
    ];
    args.extend(cli_access(&s));
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "mirror failed: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["apiVersion"], "mirrorctl.openshift.io/v1alpha1");
    assert_eq!(report["kind"], "ReleaseMirrorReport");
    assert_eq!(
        report["releaseDigest"],
        s.fixture.release_digest.to_string()
    );
    assert_eq!(report["plan"]["images"], s.fixture.components.len() + 1);
    assert_eq!(report["blobsCopied"], report["plan"]["blobsToCopy"]);
    assert!(
        report["bytesCopied"].as_u64().unwrap() > 2 << 20,
        "{report}"
    );
    assert_eq!(report["updateImage"], format!("{to}:4.14.1-x86_64"));
    assert_exact_mirror(&s.target, &s.fixture);
    // Both multi-arch cases survived whole.
    let types: Vec<&str> = s
        .fixture
        .components
        .iter()
        .map(|c| c.media_type.as_str())
        .collect();
    assert!(types.contains(&mt::DOCKER_LIST) && types.contains(&mt::OCI_INDEX));

    // A rerun moves no blob and writes nothing.
    let out = mirrorctl(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            again["blobsCopied"].as_u64(),
            again["bytesCopied"].as_u64(),
            again["blobsMounted"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        again["plan"]["imagesPresent"],
        s.fixture.components.len() + 1
    );

    // The text output has oc's shape, with IDMS for 4.14.
    let mut text_args = args.clone();
    text_args.truncate(6);
    text_args.extend(cli_access(&s));
    let out = mirrorctl(&text_args).output().unwrap();
    let stdout = text(&out).0;
    let src = &s.source.host;
    let want = format!(
        "Success\nUpdate image:  {to}:4.14.1-x86_64\nMirror prefix: {to}\n\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n\nimageDigestSources:\n- mirrors:\n  - {to}\n  source: {src}/openshift-release-dev/ocp-release\n- mirrors:\n  - {to}\n  source: {src}/openshift-release-dev/ocp-v4.0-art-dev\n\n\nTo use the new mirrored repository for upgrades, use the following to create an ImageDigestMirrorSet:\n\napiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: example\nspec:\n  imageDigestMirrors:\n  - mirrors:\n    - {to}\n    source: {src}/openshift-release-dev/ocp-release\n  - mirrors:\n    - {to}\n    source: {src}/openshift-release-dev/ocp-v4.0-art-dev\n"
    );
    assert_eq!(stdout, want);
}

/// Before 4.14 the installer takes `imageContentSources` and the cluster an
/// ImageContentSourcePolicy; `both` prints the two generations, each whole.
#[test]
fn a_release_before_4_14_gets_image_content_sources_and_an_icsp() {
    let rt = rt();
    let source = TestRegistry::start();
    let target = TestRegistry::start();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let spec = FixtureSpec {
        version: "4.12.30".into(),
        ..FixtureSpec::tiny()
    };
    let fixture = rt.block_on(fixture::push(&spec, &client, &source.host));
    let to = format!("{}/{TARGET_REPO}", target.host);
    let src = &source.host;
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &fixture.release,
            "--to",
            &to,
            "--insecure-registry",
            src,
            "--insecure-registry",
            &target.host,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let out = mirrorctl(args(&[])).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "mirror failed: {stderr}");
    assert_exact_mirror(&target, &fixture);
    let sources = format!(
        "- mirrors:\n  - {to}\n  source: {src}/openshift-release-dev/ocp-release\n- mirrors:\n  - {to}\n  source: {src}/openshift-release-dev/ocp-v4.0-art-dev\n"
    );
    let indented: String = sources.lines().map(|l| format!("  {l}\n")).collect();
    let icsp = format!(
        "\n\nTo use the new mirrored repository for upgrades, use the following to create an ImageContentSourcePolicy:\n\napiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: example\nspec:\n  repositoryDigestMirrors:\n{indented}"
    );
    let head = format!(
        "Success\nUpdate image:  {to}:4.12.30-x86_64\nMirror prefix: {to}\n\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n"
    );
    assert_eq!(
        stdout,
        format!("{head}imageContentSources:\n{sources}{icsp}")
    );
    assert!(!stdout.contains("imageDigestSources") && !stdout.contains("ImageDigestMirrorSet"));

    // `both`: the old and the new form, a rerun that copies nothing.
    let out = mirrorctl(args(&["--print-mirror-instructions", "both"]))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for want in [
        "imageContentSources:\n",
        "kind: ImageContentSourcePolicy\n",
        "imageDigestSources:\n",
        "kind: ImageDigestMirrorSet\n",
    ] {
        assert_eq!(stdout.matches(want).count(), 1, "{want:?} in:\n{stdout}");
    }
    assert_eq!(stdout.matches(&sources).count(), 2, "{stdout}");

    // `none`: only the Success block.
    let out = mirrorctl(args(&["--print-mirror-instructions", "none"]))
        .output()
        .unwrap();
    let stdout = text(&out).0;
    assert!(
        stdout.starts_with("Success\n") && !stdout.contains("mirrors:"),
        "{stdout}"
    );
}

#[test]
fn dry_run_writes_nothing_and_counts_what_the_target_lacks() {
    let rt = rt();
    let s = setup(&rt);
    let client = RegistryClient::new(both(&s)).unwrap();
    let from = ImageRef::parse(&s.fixture.release).unwrap();
    let to = Repository::parse(&format!("{}/{TARGET_REPO}", s.target.host)).unwrap();
    let opts = MirrorOptions {
        dry_run: true,
        ..MirrorOptions::new(to.clone())
    };
    let plan = rt
        .block_on(mirror_core::mirror_release(
            &client,
            &from,
            &opts,
            std::sync::Arc::new(NoProgress),
        ))
        .unwrap()
        .plan;
    assert_eq!(plan.images_to_copy, s.fixture.components.len() + 1);
    assert_eq!(plan.unique_blobs, s.fixture.unique_blobs);
    assert_eq!(plan.unique_bytes, s.fixture.unique_bytes);
    assert_eq!(plan.bytes_to_copy, plan.unique_bytes);
    assert_eq!(
        skopeo::list_tags(&s.target, TARGET_REPO).unwrap(),
        Vec::<String>::new(),
        "a dry run wrote tags"
    );

    // After a real mirror, the same dry run has nothing left to transfer.
    let real = MirrorOptions::new(to);
    rt.block_on(mirror_core::mirror_release(
        &client,
        &from,
        &real,
        std::sync::Arc::new(NoProgress),
    ))
    .unwrap();
    let plan = rt
        .block_on(mirror_core::mirror_release(
            &client,
            &from,
            &opts,
            std::sync::Arc::new(NoProgress),
        ))
        .unwrap()
        .plan;
    assert_eq!(
        (plan.images_present, plan.bytes_to_copy),
        (s.fixture.components.len() + 1, 0)
    );
}

#[test]
fn release_in_another_repository_mounts_shared_layers() {
    let rt = rt();
    let s = setup(&rt);
    let client = RegistryClient::new(both(&s)).unwrap();
    let from = ImageRef::parse(&s.fixture.release).unwrap();
    let to = Repository::parse(&format!("{}/{TARGET_REPO}", s.target.host)).unwrap();
    let release_to =
        ImageRef::parse(&format!("{}/ocp4/release:4.14.1-x86_64", s.target.host)).unwrap();
    let opts = MirrorOptions {
        to_release_image: Some(release_to.clone()),
        ..MirrorOptions::new(to)
    };
    let report = rt
        .block_on(mirror_core::mirror_release(
            &client,
            &from,
            &opts,
            std::sync::Arc::new(NoProgress),
        ))
        .unwrap();
    assert!(
        report.blobs_mounted >= 2,
        "the CVO layers are shared with the release image: {report:?}"
    );
    // The plan foresaw those mounts.
    assert_eq!(
        (report.plan.blobs_to_mount, report.plan.bytes_to_mount),
        (report.blobs_mounted, report.bytes_mounted)
    );
    assert_eq!(
        (report.plan.blobs_to_upload, report.plan.bytes_to_upload),
        (report.blobs_copied, report.bytes_copied)
    );
    assert_eq!(
        report.mirror_prefixes,
        vec![
            format!("{}/{TARGET_REPO}", s.target.host),
            release_to.to_string()
        ]
    );
    assert_eq!(report.instructions.sources[0].mirrors.len(), 2);
    skopeo::assert_digest(
        &s.target,
        &release_to.to_string(),
        &s.fixture.release_digest,
    );
}

#[test]
fn a_run_killed_midway_leaves_no_release_tag_and_a_rerun_completes() {
    let rt = rt();
    let source = TestRegistry::start();
    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        htpasswd: Some(("mirror".into(), "pw-for-tests".into())),
        ..Default::default()
    });
    // The source is reached through a proxy that stalls the 2 MiB machine-os-content layer.
    let proxy = rt.block_on(FaultProxy::start(
        &source.host,
        FaultPlan {
            stall_blobs_over: Some(1 << 20),
            ..Default::default()
        },
    ));
    let spec = FixtureSpec {
        reference_host: Some(proxy.host.clone()),
        ..FixtureSpec::tiny()
    };
    let f = rt.block_on(fixture::push(
        &spec,
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    let from = f.release.replace(&source.host, &proxy.host);
    let to = format!("{}/{TARGET_REPO}", target.host);
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &from,
            "--to",
            &to,
            "--output",
            "json",
            "--insecure-registry",
            &proxy.host,
            "-a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(target.auth_file().display().to_string());
        a.push("--ca-file".into());
        a.push(target.ca_file().unwrap().display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut child = mirrorctl(args(&[]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !proxy.stalled.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the mirror never reached the big layer"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the mirror ended before the stall"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let tags = skopeo::list_tags(&target, TARGET_REPO).unwrap();
    assert!(
        !tags.contains(&"4.14.1-x86_64".to_string()),
        "release tag written by an incomplete mirror: {tags:?}"
    );

    proxy.set_plan(FaultPlan::default());
    let out = mirrorctl(args(&[])).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["blobsSkipped"].as_u64().unwrap() > 0,
        "the rerun re-copied what the killed run had finished: {report}"
    );
    assert!(report["blobsCopied"].as_u64().unwrap() < f.unique_blobs as u64);
    assert_exact_mirror(&target, &f);
}

#[test]
fn faults_at_the_source_still_yield_an_exact_mirror() {
    let rt = rt();
    let source = TestRegistry::start();
    let target = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..Default::default()
    });
    let plan = FaultPlan {
        every: 4,
        cycle: vec![
            Fault::ServerError,
            Fault::DropBeforeAnswer,
            Fault::CorruptBlob,
            Fault::DropMidBody,
            Fault::TooManyRequests,
        ],
        stall_blobs_over: None,
        ..Default::default()
    };
    let proxy = rt.block_on(FaultProxy::start(&source.host, FaultPlan::default()));
    let spec = FixtureSpec {
        reference_host: Some(proxy.host.clone()),
        ..FixtureSpec::tiny()
    };
    let f = rt.block_on(fixture::push(
        &spec,
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    proxy.set_plan(plan);
    let mut opts = target.client_options();
    opts.insecure_registries.push(proxy.host.clone());
    let client = RegistryClient::new(opts).unwrap();
    let from = ImageRef::parse(&f.release.replace(&source.host, &proxy.host)).unwrap();
    let to = Repository::parse(&format!("{}/{TARGET_REPO}", target.host)).unwrap();
    let report = rt
        .block_on(mirror_core::mirror_release(
            &client,
            &from,
            &MirrorOptions::new(to),
            std::sync::Arc::new(NoProgress),
        ))
        .unwrap();
    assert!(
        proxy.faults.load(std::sync::atomic::Ordering::SeqCst) >= 10,
        "too few faults injected"
    );
    assert_eq!(report.release_digest, Some(f.release_digest.clone()));
    assert_exact_mirror(&target, &f);
}

/// Pushes a fake "release" whose only layer holds `files`; returns its reference.
fn push_fake_release(
    rt: &tokio::runtime::Runtime,
    reg: &TestRegistry,
    tag: &str,
    files: &[(&str, Vec<u8>)],
) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    {
        let mut tar = tar::Builder::new(&mut gz);
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o444);
            tar.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        tar.finish().unwrap();
    }
    gz.flush().unwrap();
    let layer = gz.finish().unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let (ld, cd) = (Digest::of(&layer), Digest::of(&config));
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": mt::DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": cd.to_string()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": ld.to_string()}]
    });
    let client = RegistryClient::new(reg.client_options()).unwrap();
    let repo = reg.repo("bad/release");
    rt.block_on(async {
        client
            .put_blob_bytes(&repo, &ld, layer.into())
            .await
            .unwrap();
        client
            .put_blob_bytes(&repo, &cd, config.into())
            .await
            .unwrap();
        client
            .put_manifest(
                &repo,
                tag,
                serde_json::to_vec(&manifest).unwrap().into(),
                mt::DOCKER_MANIFEST,
            )
            .await
            .unwrap();
    });
    format!("{}/bad/release:{tag}", reg.host)
}

#[test]
fn bad_inputs_fail_clearly_and_leave_no_release_tag() {
    let rt = rt();
    let s = setup(&rt);
    let to = format!("{}/{TARGET_REPO}", s.target.host);
    let d = format!("sha256:{}", "c".repeat(64));
    let yaml_refs = b"kind: ImageStream\napiVersion: image.openshift.io/v1\n".to_vec();
    let tag_refs = format!(
        r#"{{"kind":"ImageStream","apiVersion":"image.openshift.io/v1","metadata":{{"name":"4.14.1"}},"spec":{{"tags":[{{"name":"cli","from":{{"kind":"DockerImage","name":"{}/openshift-release-dev/ocp-v4.0-art-dev:latest"}}}}]}}}}"#,
        s.source.host
    );
    let no_refs = push_fake_release(
        &rt,
        &s.source,
        "norefs",
        &[(
            "release-manifests/release-metadata",
            br#"{"kind":"cincinnati-metadata-v0","version":"4.14.1"}"#.to_vec(),
        )],
    );
    let yaml = push_fake_release(
        &rt,
        &s.source,
        "yaml",
        &[("release-manifests/image-references", yaml_refs)],
    );
    let by_tag = push_fake_release(
        &rt,
        &s.source,
        "bytag",
        &[("release-manifests/image-references", tag_refs.into_bytes())],
    );
    let readonly = TestRegistry::start_with(RegistryOptions {
        readonly: true,
        ..Default::default()
    });
    let wrong_auth = s.target.root().join("wrong-auth.json");
    let bad_cred = mirror_core::auth::Credential {
        username: "mirror".into(),
        password: "wrong".into(),
    };
    std::fs::write(
        &wrong_auth,
        serde_json::json!({"auths": {s.target.host.clone(): {"auth": bad_cred.to_auth_value()}}})
            .to_string(),
    )
    .unwrap();

    struct Case {
        name: &'static str,
        from: String,
        to: String,
        access: Vec<String>,
        code: i32,
        error: String,
        hint: Option<String>,
    }
    let access = cli_access(&s);
    let mut no_ca = access.clone();
    no_ca.drain(2..4);
    let mut wrong = access.clone();
    wrong[1] = wrong_auth.display().to_string();
    let cases = vec![
        Case {
            name: "malformed reference",
            from: "not a ref".into(),
            to: to.clone(),
            access: access.clone(),
            code: 2,
            error: "error: --from: invalid image reference `not a ref`".into(),
            hint: None,
        },
        Case {
            name: "tag in --to",
            from: s.fixture.release.clone(),
            to: format!("{to}:x"),
            access: access.clone(),
            code: 2,
            error: "must be a repository without tag or digest".into(),
            hint: None,
        },
        Case {
            name: "unknown tag",
            from: s.fixture.release.replace("4.14.1-x86_64", "9.9.9-x86_64"),
            to: to.clone(),
            access: access.clone(),
            code: 1,
            error: "MANIFEST_UNKNOWN".into(),
            hint: Some("hint: check the repository and tag".into()),
        },
        Case {
            name: "unknown digest",
            from: format!("{}@{d}", s.fixture.release_repo),
            to: to.clone(),
            access: access.clone(),
            code: 1,
            error: "MANIFEST_UNKNOWN".into(),
            hint: None,
        },
        Case {
            name: "wrong credentials",
            from: s.fixture.release.clone(),
            to: to.clone(),
            access: wrong,
            code: 1,
            error: "registry answered 401".into(),
            hint: Some(format!(
                "hint: the credentials from entry `{}` of `{}` were refused",
                s.target.host,
                wrong_auth.display()
            )),
        },
        Case {
            name: "unknown CA",
            from: s.fixture.release.clone(),
            to: to.clone(),
            access: no_ca,
            code: 1,
            error: "the server certificate is signed by an unknown CA".into(),
            hint: Some("--ca-file PEM".into()),
        },
        Case {
            name: "no image-references",
            from: no_refs,
            to: to.clone(),
            access: access.clone(),
            code: 1,
            error: "release image did not contain an image-references file".into(),
            hint: None,
        },
        Case {
            name: "YAML image-references",
            from: yaml,
            to: to.clone(),
            access: access.clone(),
            code: 1,
            error: "image-references is YAML, but must be JSON".into(),
            hint: None,
        },
        Case {
            name: "tag-based reference",
            from: by_tag,
            to: to.clone(),
            access: access.clone(),
            code: 1,
            error: "image-references should only contain pointers to images by digest".into(),
            hint: None,
        },
        Case {
            name: "target refuses pushes",
            from: s.fixture.release.clone(),
            to: format!("{}/{TARGET_REPO}", readonly.host),
            access: vec![
                "--ca-file".into(),
                s.source.ca_file().unwrap().display().to_string(),
                "--insecure-registry".into(),
                readonly.host.clone(),
            ],
            code: 1,
            error: "registry answered 405".into(),
            hint: Some("hint: the registry refuses this method here: it may be read-only".into()),
        },
    ];
    for c in cases {
        let mut args = vec![
            "release".to_string(),
            "mirror".into(),
            "--from".into(),
            c.from.clone(),
            "--to".into(),
            c.to.clone(),
        ];
        args.extend(c.access.clone());
        let out = mirrorctl(&args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(c.code), "{}: {stderr}", c.name);
        assert!(
            stderr.contains(&c.error),
            "{}: stderr lacks `{}`:\n{stderr}",
            c.name,
            c.error
        );
        if let Some(h) = &c.hint {
            assert!(
                stderr.contains(h),
                "{}: stderr lacks hint `{h}`:\n{stderr}",
                c.name
            );
        }
        assert!(
            stdout.is_empty(),
            "{}: data on stdout after a failure: {stdout}",
            c.name
        );
        assert!(
            !stderr.contains("pw-for-tests") && !stderr.contains(&bad_cred.to_auth_value()),
            "{}: a secret leaked",
            c.name
        );
    }
    for reg in [&s.target, &readonly] {
        let tags = skopeo::list_tags(reg, TARGET_REPO).unwrap_or_default();
        assert!(
            !tags.iter().any(|t| t == "4.14.1-x86_64"),
            "release tag at a target after failures: {tags:?}"
        );
    }
}

/// A wrong host name, an expired certificate and an unknown CA are told apart (by the TLS
/// library's error type), each with its own message and hint, and none is retried.
#[test]
fn certificate_problems_each_get_their_own_message_and_hint() {
    struct Case {
        variant: CertVariant,
        error: &'static str,
        hint: &'static str,
    }
    let cases = [
        Case {
            variant: CertVariant::WrongName,
            error: "the server certificate is not valid for `127.0.0.1` (it names `wrong.example`)",
            hint: "hint: use a host name the certificate names",
        },
        Case {
            variant: CertVariant::Expired,
            error: "the server certificate has expired (not after `Wed, 01 Jan 2020 00:00:00 GMT`)",
            hint: "hint: renew the registry's certificate",
        },
        Case {
            variant: CertVariant::UnknownCa,
            error: "the server certificate is signed by an unknown CA",
            hint: "pass that CA with `--ca-file PEM`",
        },
    ];
    for c in cases {
        let reg = TestRegistry::start_with(RegistryOptions {
            tls: true,
            cert: c.variant,
            ..Default::default()
        });
        let image = format!("{}/ocp4/release:4.14.1-x86_64", reg.host);
        let ca = reg.ca_file().unwrap();
        let out = mirrorctl(["release", "info", &image, "--ca-file"])
            .arg(&ca)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        let name = format!("{:?}", c.variant);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}: {stdout}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{name}: one error and one hint:\n{stderr}");
        assert!(
            lines[0].starts_with(&format!("error: check manifest `{image}`: "))
                || lines[0].starts_with(&format!("error: get manifest `{image}`: ")),
            "{name}:\n{stderr}"
        );
        assert!(
            lines[0].contains(c.error),
            "{name}: lacks `{}`:\n{stderr}",
            c.error
        );
        assert!(
            lines[1].contains(c.hint),
            "{name}: lacks `{}`:\n{stderr}",
            c.hint
        );
        // Certificate problems are final: no retries, and only the unknown CA asks for
        // `--ca-file`.
        assert!(!lines[0].contains("tries"), "{name}:\n{stderr}");
        assert_eq!(
            lines[1].contains("`--ca-file"),
            c.variant == CertVariant::UnknownCa,
            "{name}:\n{stderr}"
        );
    }
}

/// A dry run into a second repository of a registry that already holds the release plans
/// every blob as mounted from the first (read-only: only HEADs), and the real run does just
/// that, the numbers matching.
#[test]
fn dry_run_into_a_second_repository_plans_mounts_and_the_copy_mounts_them() {
    let rt = rt();
    let s = setup(&rt);
    let first = format!("{}/{TARGET_REPO}", s.target.host);
    let second_path = "ocp4b/openshift4";
    let second = format!("{}/{second_path}", s.target.host);
    let run = |to: &str, extra: &[&str]| {
        let mut args: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &s.fixture.release,
            "--to",
            to,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(cli_access(&s));
        let out = mirrorctl(&args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stderr}");
        (stdout, stderr)
    };
    let (stdout, _) = run(&first, &["--output", "json"]);
    let first_report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(first_report["blobsMounted"], 0, "{first_report}");

    let log_before = s.target.log().len();
    let (stdout, _) = run(&second, &["--dry-run", "--output", "json"]);
    let dry: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let plan = &dry["plan"];
    let unique = s.fixture.unique_blobs as u64;
    assert_eq!(
        (
            plan["blobsToCopy"].as_u64(),
            plan["blobsToMount"].as_u64(),
            plan["bytesToMount"].as_u64(),
            plan["blobsToUpload"].as_u64(),
            plan["bytesToUpload"].as_u64(),
        ),
        (
            Some(unique),
            Some(unique),
            Some(s.fixture.unique_bytes),
            Some(0),
            Some(0)
        ),
        "{dry}"
    );
    assert_eq!(plan["mountSources"], serde_json::json!([first]));
    // Read-only at the target: no tag, no upload session, no mount.
    assert_eq!(
        skopeo::list_tags(&s.target, second_path).unwrap_or_default(),
        Vec::<String>::new()
    );
    let log = &s.target.log()[log_before..];
    assert!(log.contains("HEAD"), "the registry logs requests:\n{log}");
    assert!(
        !log.contains("POST") && !log.contains("PUT"),
        "the dry run wrote:\n{log}"
    );

    // The text plan says the same.
    let (stdout, _) = run(&second, &["--dry-run"]);
    assert!(
        stdout.contains(&format!(
            "  to mount:     {unique} ({}) from other repositories of the target registry (earlier mirror: {first})\n  to upload:    0 (0B) from the source\n",
            mirror_core::size::format_size(s.fixture.unique_bytes)
        )),
        "{stdout}"
    );

    // The real run mounts exactly what was planned and uploads nothing.
    let (stdout, _) = run(&second, &["--output", "json"]);
    let real: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            real["blobsMounted"].as_u64(),
            real["bytesMounted"].as_u64(),
            real["blobsCopied"].as_u64(),
            real["bytesCopied"].as_u64(),
        ),
        (
            plan["blobsToMount"].as_u64(),
            plan["bytesToMount"].as_u64(),
            plan["blobsToUpload"].as_u64(),
            plan["bytesToUpload"].as_u64(),
        ),
        "{real}"
    );
    skopeo::assert_digest(
        &s.target,
        &format!("{second}:{}-x86_64", s.fixture.version),
        &s.fixture.release_digest,
    );
}

/// Records the engine's events in order.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl mirror_core::progress::Progress for Recorder {
    fn event(&self, e: mirror_core::progress::MirrorEvent<'_>) {
        use mirror_core::progress::MirrorEvent as E;
        let line = match e {
            E::Blob { action, .. } => format!("blob {action:?}"),
            E::Image { name, action, .. } => format!("image {name} {action:?}"),
            _ => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

/// Each image is reported done as soon as its last blob and manifest are in, while other
/// blobs are still being copied, and the release comes last.
#[test]
fn image_done_events_arrive_while_blobs_still_flow() {
    let rt = rt();
    let s = setup(&rt);
    let client = RegistryClient::new(both(&s)).unwrap();
    let from = ImageRef::parse(&s.fixture.release).unwrap();
    let to = Repository::parse(&format!("{}/{TARGET_REPO}", s.target.host)).unwrap();
    let opts = MirrorOptions {
        max_per_registry: 2,
        ..MirrorOptions::new(to)
    };
    let rec = std::sync::Arc::new(Recorder::default());
    rt.block_on(mirror_core::mirror_release(
        &client,
        &from,
        &opts,
        rec.clone(),
    ))
    .unwrap();
    let events = rec.0.lock().unwrap().clone();
    let images: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].starts_with("image ") && !events[i].contains(" signature "))
        .collect();
    let last_blob = events.iter().rposition(|e| e.starts_with("blob ")).unwrap();
    assert_eq!(images.len(), s.fixture.components.len() + 1, "{events:#?}");
    assert!(
        images[0] < last_blob,
        "the first image was reported only after every blob: {events:#?}"
    );
    let interleaved = images.iter().filter(|&&i| i < last_blob).count();
    assert!(
        interleaved >= s.fixture.components.len() / 2,
        "most images are done before the last blob: {events:#?}"
    );
    assert_eq!(
        events[*images.last().unwrap()],
        "image release Copied",
        "{events:#?}"
    );
    assert!(images.last().unwrap() > &last_blob);
}

/// Under a pseudo-terminal (`script`) the bar is drawn with percent, bytes, rate, ETA and the
/// image count; without a terminal, progress is plain `info:` lines (one per image, a closing
/// total), no bar and no escape sequences.
#[test]
fn progress_is_plain_lines_in_logs_and_a_bar_on_a_terminal() {
    let rt = rt();
    let s = setup(&rt);
    let images = s.fixture.components.len() + 1;
    let args = |to: &str| {
        let mut v: Vec<String> = [
            "release",
            "mirror",
            "--from",
            &s.fixture.release,
            "--to",
            to,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(cli_access(&s));
        v
    };
    // Under a pseudo-terminal, into the empty registry (so bytes move: the run without a
    // terminal, after it, mounts everything from this first mirror).
    let quoted: Vec<String> =
        std::iter::once(mirror_testkit::cli::mirrorctl_path().display().to_string())
            .chain(args(&format!("{}/tty/openshift4", s.target.host)))
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
    let mut script = std::process::Command::new(mirror_testkit::require_tool("script"));
    script
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .env("HOME", std::env::temp_dir().join("mirrorctl-test-home"))
        .env("COLUMNS", "160")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR");
    let out = script.output().unwrap();
    let (tty, _) = text(&out);
    assert!(out.status.success(), "{tty}");
    let last_draw = tty
        .rsplit(['\r', '\n'])
        .find(|l| l.contains("ETA"))
        .unwrap_or_else(|| panic!("no bar drawn:\n{tty:?}"));
    assert!(
        last_draw.contains("100%") && last_draw.contains(&format!("images {images}/{images}")),
        "{last_draw:?}"
    );
    assert!(last_draw.contains("/s"), "a rate: {last_draw:?}");
    assert!(!last_draw.contains(" 0B/0B "), "bytes moved: {last_draw:?}");
    assert!(
        tty.contains(&format!(
            "images {images}/{images}\r\ninfo: Mirroring completed"
        )),
        "the bar stays, and what follows starts on a new line:\n{tty:?}"
    );
    assert!(
        !tty.contains(&format!("info: {}: copied", s.fixture.components[0].name)),
        "plain per-image lines on a terminal:\n{tty}"
    );

    // Without a terminal.
    let out = mirrorctl(args(&format!("{}/plain/openshift4", s.target.host)))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    for c in &s.fixture.components {
        assert!(
            stderr.contains(&format!("info: {}: copied\n", c.name)),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!("info: images {images}/{images}  ")),
        "{stderr}"
    );
    assert!(!stderr.contains("ETA"), "{stderr}");
}

/// HTTP/1.1 by default (measured faster against the distribution registry), HTTP/2 where the
/// registry offers it with `--http-version auto`: the registries' access logs say which.
#[test]
fn http_1_1_by_default_and_http_2_with_auto() {
    let rt = rt();
    let logged = |htpasswd: Option<(String, String)>| RegistryOptions {
        tls: true,
        htpasswd,
        access_log: true,
        ..Default::default()
    };
    let source = TestRegistry::start_with(logged(None));
    let target = TestRegistry::start_with(logged(Some(("mirror".into(), "pw-for-tests".into()))));
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let s = Setup {
        source,
        target,
        fixture: f,
    };
    let log = |r: &TestRegistry| std::fs::read_to_string(r.root().join("registry.log")).unwrap();
    let protocols = |text: &str| {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("\"PUT /v2/")).collect();
        let h1 = lines.iter().filter(|l| l.contains(" HTTP/1.1\"")).count();
        let h2 = lines.iter().filter(|l| l.contains(" HTTP/2.0\"")).count();
        (lines.len(), h1, h2)
    };
    let run = |repo: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["release", "mirror", "--from", &s.fixture.release, "--to"]
            .map(String::from)
            .to_vec();
        args.push(format!("{}/{repo}", s.target.host));
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(cli_access(&s));
        let out = mirrorctl(&args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
    };

    run(TARGET_REPO, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let first = log(&s.target);
    let (puts, h1, h2) = protocols(&first);
    assert!(puts > 0, "no PUT logged: {first}");
    assert_eq!((h1, h2), (puts, 0), "the default is HTTP/1.1");
    let src = log(&s.source);
    assert!(
        src.contains(" HTTP/1.1\"") && !src.contains(" HTTP/2.0\""),
        "{src}"
    );

    run("ocp4/auto", &["--http-version", "auto"]);
    std::thread::sleep(Duration::from_millis(300));
    let (puts, h1, h2) = protocols(&log(&s.target)[first.len()..]);
    assert!(puts > 0);
    assert_eq!(
        (h1, h2),
        (0, puts),
        "auto takes the HTTP/2 the registry offers over TLS"
    );
    assert_exact_mirror(&s.target, &s.fixture);
}
