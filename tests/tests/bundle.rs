//! Bundles: `release mirror --to-dir` on the connected side, `bundle verify` / `bundle info`,
//! and `release mirror --from-dir` into an empty registry with the source registry stopped,
//! checked with skopeo digest by digest.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use mirror_core::{Digest, RegistryClient};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fault_proxy::{FaultPlan, FaultProxy};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::runtime as rt;
use mirror_testkit::{RegistryOptions, TestRegistry, require_tool, skopeo};

const TARGET_REPO: &str = "ocp4/openshift4";

/// A TLS source with the fixture, and an empty TLS + htpasswd target.
struct Setup {
    source: TestRegistry,
    target: TestRegistry,
    fixture: Fixture,
    work: tempfile::TempDir,
}

fn setup_with(rt: &tokio::runtime::Runtime, spec: &FixtureSpec) -> Setup {
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
    let fixture = rt.block_on(fixture::push(spec, &client, &source.host));
    Setup {
        source,
        target,
        fixture,
        work: tempfile::tempdir().unwrap(),
    }
}

fn setup(rt: &tokio::runtime::Runtime) -> Setup {
    setup_with(rt, &FixtureSpec::tiny())
}

fn s(x: impl AsRef<std::ffi::OsStr>) -> String {
    x.as_ref().to_string_lossy().into_owned()
}

/// `release mirror --from <release> --to-dir <dir>` with the source's CA, plus `extra`.
fn to_dir(st: &Setup, from: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "release".to_string(),
        "mirror".into(),
        "--from".into(),
        from.to_string(),
        "--to-dir".into(),
        s(dir),
        "--ca-file".into(),
        s(st.source.ca_file().unwrap()),
    ];
    a.extend(extra.iter().map(|x| x.to_string()));
    mirrorctl(a).output().unwrap()
}

/// `release mirror --from-dir <dir> --to <target>/<repo>` with the target's credentials.
fn from_dir(st: &Setup, dir: &Path, repo: &str, extra: &[&str]) -> Output {
    let mut a = vec![
        "release".to_string(),
        "mirror".into(),
        "--from-dir".into(),
        s(dir),
        "--to".into(),
        format!("{}/{repo}", st.target.host),
        "-a".into(),
        s(st.target.auth_file()),
        "--ca-file".into(),
        s(st.target.ca_file().unwrap()),
    ];
    a.extend(extra.iter().map(|x| x.to_string()));
    mirrorctl(a).output().unwrap()
}

fn ok(out: &Output, what: &str) -> (String, String) {
    let (o, e) = text(out);
    assert!(out.status.success(), "{what} failed: {e}\n{o}");
    (o, e)
}

/// Every component tag and the release tag at `repo` carry the source digests, read by
/// skopeo, list children included.
fn assert_exact(target: &TestRegistry, repo: &str, f: &Fixture) {
    let repo = format!("{}/{repo}", target.host);
    for c in &f.components {
        skopeo::assert_digest(
            target,
            &format!("{repo}:{}-x86_64-{}", f.version, c.name),
            &c.digest,
        );
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

/// No `:` in any name, no symlink, no hard link, anywhere under `dir`: FAT32/exFAT, tar,
/// rsync and object stores keep such a tree.
fn assert_portable_names(dir: &Path) -> usize {
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let p = e.path();
            assert!(!name.contains(':'), "`{}` has a `:`", p.display());
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b)),
                "`{}` has a character FAT32 or Windows may refuse",
                p.display()
            );
            let m = std::fs::symlink_metadata(&p).unwrap();
            assert!(
                !m.file_type().is_symlink(),
                "`{}` is a symlink",
                p.display()
            );
            if m.is_dir() {
                stack.push(p);
            } else {
                assert_eq!(m.nlink(), 1, "`{}` is hard-linked", p.display());
                files += 1;
            }
        }
    }
    files
}

fn metadata(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("mirrorctl-bundle.json")).unwrap()).unwrap()
}

fn release_tag_at(target: &TestRegistry, repo: &str, f: &Fixture) -> bool {
    skopeo::list_tags(target, repo)
        .unwrap_or_default()
        .contains(&format!("{}-x86_64", f.version))
}

#[test]
fn round_trip_through_a_directory_with_the_source_stopped() {
    let rt = rt();
    let mut st = setup(&rt);
    let dir = st.work.path().join("bundle");
    let f = st.fixture.clone();
    // The release is signed (a sigstore `.sig` tag beside it): the signature travels too.
    let client = RegistryClient::new(st.source.client_options()).unwrap();
    let release_repo = mirror_core::ImageRef::parse(&f.release).unwrap().repo;
    let sig = rt.block_on(fixture::push_sigstore_signature(
        &client,
        &release_repo,
        &f.release_digest,
        &f.release,
    ));
    let sig_tag = format!("sha256-{}.sig", f.release_digest.hex());

    // Only the required arguments (and the source's CA).
    let (stdout, _) = ok(&to_dir(&st, &f.release, &dir, &[]), "--to-dir");
    assert!(stdout.starts_with("Success\n"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "mirrorctl release mirror --from-dir {} --to REGISTRY/REPOSITORY",
            dir.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("ImageDigestMirrorSet\n"), "{stdout}");
    let meta = metadata(&dir);
    assert_eq!(
        (&meta["kind"], &meta["schemaVersion"], &meta["layout"]),
        (
            &serde_json::json!("MirrorctlBundle"),
            &serde_json::json!(1),
            &serde_json::json!("directory")
        )
    );
    assert_eq!(meta["releases"][0]["source"], f.release);
    assert_eq!(meta["releases"][0]["digest"], f.release_digest.to_string());
    let images = meta["images"].as_array().unwrap();
    assert_eq!(
        images.len(),
        f.components.len() + 2,
        "components, release, signature"
    );
    let signature = images.iter().find(|i| i["role"] == "signature").unwrap();
    assert_eq!(
        (
            &signature["reference"],
            &signature["digest"],
            &signature["source"]
        ),
        (
            &serde_json::json!(sig_tag),
            &serde_json::json!(sig.to_string()),
            &serde_json::json!(f.release_repo)
        )
    );
    // Every manifest and blob of the release, deduplicated, plus the signature's manifest,
    // config and payload.
    assert_eq!(
        meta["blobs"]["count"].as_u64().unwrap() as usize,
        f.unique_blobs + f.manifests + 3
    );
    let sources: Vec<&str> = meta["mirrorSources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [f.release_repo.as_str(), f.component_repo.as_str()]
    );
    // The layout: oci-layout, an index with Docker media types kept and ref names.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let release = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["digest"] == f.release_digest.to_string())
        .unwrap();
    assert_eq!(
        release["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        release["annotations"]["org.opencontainers.image.ref.name"],
        "openshift/release:4.14.1-x86_64"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let files = assert_portable_names(&dir);
    assert!(files > f.unique_blobs, "{files}");

    // A rerun of a complete bundle writes nothing, metadata included (the engine does not
    // look at the signatures of complete images again; the bundle keeps them).
    let before = std::fs::read(dir.join("mirrorctl-bundle.json")).unwrap();
    let out = to_dir(&st, &f.release, &dir, &["--output", "json"]);
    let (stdout, _) = ok(&out, "rerun");
    let again: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            &again["kind"],
            &again["blobsWritten"],
            &again["plan"]["imagesPresent"]
        ),
        (
            &serde_json::json!("ReleaseBundleReport"),
            &serde_json::json!(0),
            &serde_json::json!(f.components.len() + 1)
        )
    );
    assert_eq!(
        std::fs::read(dir.join("mirrorctl-bundle.json")).unwrap(),
        before
    );

    // Checked, described.
    let (stdout, _) = ok(
        &mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap(),
        "verify",
    );
    assert!(stdout.contains(": OK\n"), "{stdout}");
    let (stdout, _) = ok(
        &mirrorctl(["bundle", "info", &s(&dir)]).output().unwrap(),
        "info",
    );
    assert!(stdout.contains("FAT32:         fits"), "{stdout}");
    assert!(stdout.contains(&f.release), "{stdout}");

    // Another tool reads it: Debian 12's skopeo through the one-entry index and the shared
    // blob directory, digests kept (the release, a Docker manifest list, an OCI index).
    let _ = skopeo::list_tags(&st.target, "by-skopeo/release"); // puts the CA in skopeo-certs
    for tag in [
        "4.14.1-x86_64",
        "4.14.1-x86_64-pod",
        "4.14.1-x86_64-must-gather",
    ] {
        let img = meta["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["tag"] == tag)
            .unwrap();
        let dest = format!("{}/by-skopeo/release:{tag}", st.target.host);
        let oci = dir.join(img["ociRef"].as_str().unwrap());
        let out = std::process::Command::new(require_tool("skopeo"))
            .args([
                "copy",
                "--all",
                "--preserve-digests",
                "--src-shared-blob-dir",
            ])
            .arg(dir.join("blobs"))
            .arg(format!("oci:{}", oci.display()))
            .arg(format!("docker://{dest}"))
            .arg("--dest-authfile")
            .arg(st.target.auth_file())
            .arg("--dest-cert-dir")
            .arg(st.target.root().join("skopeo-certs"))
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo: {}", text(&out).1);
        let want = Digest::parse(img["digest"].as_str().unwrap()).unwrap();
        skopeo::assert_digest(&st.target, &dest, &want);
    }

    // The far side: the source is gone.
    st.source.stop();
    let (stdout, _) = ok(&from_dir(&st, &dir, TARGET_REPO, &[]), "--from-dir");
    assert_exact(&st.target, TARGET_REPO, &f);
    skopeo::assert_digest(
        &st.target,
        &format!("{}/{TARGET_REPO}:{sig_tag}", st.target.host),
        &sig,
    );
    let to = format!("{}/{TARGET_REPO}", st.target.host);
    assert!(
        stdout.starts_with(&format!(
            "Success\nUpdate image:  {to}:4.14.1-x86_64\nMirror prefix: {to}\n"
        )),
        "{stdout}"
    );
    // The mirror instructions name the original sources, never the directory.
    assert!(
        stdout.contains(&format!("source: {}\n", f.release_repo)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("source: {}\n", f.component_repo)),
        "{stdout}"
    );
    assert!(!stdout.contains(&s(&dir)) && !stdout.contains("bundle.mirrorctl"));
    // Publishing again moves nothing.
    let out = from_dir(&st, &dir, TARGET_REPO, &["--output", "json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&ok(&out, "again").0.into_bytes()).unwrap();
    assert_eq!(report["blobsCopied"], 0);
}

/// A fixture with bigger component layers, so 1 MiB volumes make several.
fn roomy() -> FixtureSpec {
    FixtureSpec {
        unique_layer_size: 300 << 10,
        ..FixtureSpec::tiny()
    }
}

fn volumes_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("mirrorctl-bundle-") && n.ends_with(".tar"))
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip_through_small_volumes_read_in_place() {
    let rt = rt();
    let mut st = setup_with(&rt, &roomy());
    let dir = st.work.path().join("media");
    let f = st.fixture.clone();
    let (stdout, stderr) = ok(
        &to_dir(&st, &f.release, &dir, &["--archive-size", "1MiB"]),
        "--to-dir in volumes",
    );
    assert!(stdout.contains("Volumes:"), "{stdout}");
    // The 2 MiB machine-os-content layer gets a volume of its own, with a warning.
    assert!(
        stderr.contains("is bigger than the volume size (1MiB): it gets a volume of its own"),
        "{stderr}"
    );
    let volumes = volumes_of(&dir);
    assert!(volumes.len() >= 3, "{volumes:?}");
    // Only volumes, their checksum list and the metadata: nothing loose.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = volumes.clone();
    want.extend([
        "mirrorctl-bundle.json".into(),
        "mirrorctl-bundle.sha256".into(),
    ]);
    want.sort();
    assert_eq!(names, want);
    assert_portable_names(&dir);
    // Each volume within the size but the one holding the big layer, a file never split.
    let meta = metadata(&dir);
    let mut whole: Vec<String> = Vec::new();
    for v in &volumes {
        let size = std::fs::metadata(dir.join(v)).unwrap().len();
        let out = std::process::Command::new("tar")
            .arg("tvf")
            .arg(dir.join(v))
            .output()
            .unwrap();
        assert!(out.status.success(), "GNU tar cannot read {v}");
        let listing = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            !listing.contains(':')
                || listing
                    .lines()
                    .all(|l| !l.rsplit(' ').next().unwrap().contains(':'))
        );
        let members: Vec<String> = listing
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect();
        if size > 1 << 20 {
            assert_eq!(members.len(), 1, "{v}: {members:?}");
        }
        whole.extend(members);
    }
    let n_blobs = meta["blobs"]["count"].as_u64().unwrap() as usize;
    assert_eq!(
        whole
            .iter()
            .filter(|m| m.starts_with("blobs/sha256/"))
            .count(),
        n_blobs,
        "every blob in exactly one volume"
    );
    // sha256sum agrees with the checksum list.
    let out = std::process::Command::new("sha256sum")
        .args(["-c", "mirrorctl-bundle.sha256"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).0);
    let (stdout, _) = ok(
        &mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap(),
        "verify",
    );
    assert!(
        stdout.contains(&format!("volumes checked: {}", volumes.len())),
        "{stdout}"
    );
    // A rerun of the complete bundle changes nothing.
    let before: Vec<Vec<u8>> = volumes
        .iter()
        .map(|v| std::fs::read(dir.join(v)).unwrap())
        .collect();
    ok(
        &to_dir(&st, &f.release, &dir, &["--archive-size", "1MiB"]),
        "rerun",
    );
    assert_eq!(volumes_of(&dir), volumes);
    let after: Vec<Vec<u8>> = volumes
        .iter()
        .map(|v| std::fs::read(dir.join(v)).unwrap())
        .collect();
    assert!(before == after, "a rerun rewrote volumes");

    // Published from the volumes as they are (nothing unpacked), the source stopped.
    st.source.stop();
    let (stdout, _) = ok(
        &from_dir(&st, &dir, TARGET_REPO, &["--output", "json"]),
        "--from-dir volumes",
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["blobsCopied"].as_u64().unwrap() as usize,
        f.unique_blobs
    );
    assert_exact(&st.target, TARGET_REPO, &f);
    assert_eq!(volumes_of(&dir), volumes, "publishing changed the bundle");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        volumes.len() + 2,
        "publishing unpacked something"
    );
}

#[test]
fn a_killed_bundle_run_leaves_no_corrupt_file_and_a_rerun_completes() {
    let rt = rt();
    let source = TestRegistry::start();
    let target = TestRegistry::start();
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
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    let from = f.release.replace(&source.host, &proxy.host);
    let args = vec![
        "release".to_string(),
        "mirror".into(),
        "--from".into(),
        from,
        "--to-dir".into(),
        s(&dir),
        "--insecure-registry".into(),
        proxy.host.clone(),
        "--output".into(),
        "json".into(),
    ];
    let mut child = mirrorctl(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !proxy.stalled.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run never reached the big layer"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the stall"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    // Incomplete: no metadata; every file under its final name is whole and right.
    assert!(!dir.join("mirrorctl-bundle.json").exists());
    let blobs: Vec<PathBuf> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!blobs.is_empty(), "the killed run wrote no blob");
    for b in &blobs {
        let name = b.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(
            Digest::of(&std::fs::read(b).unwrap()).hex(),
            name,
            "`{}` is not what its name says",
            b.display()
        );
    }
    let out = mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("mirrorctl-bundle.json") && stderr.contains("did not finish"),
        "{stderr}"
    );

    proxy.set_plan(FaultPlan::default());
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, _) = ok(&out, "rerun");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["blobsSkipped"].as_u64().unwrap() > 0,
        "the rerun rewrote what the killed run had finished: {report}"
    );
    assert!((report["blobsWritten"].as_u64().unwrap() as usize) < f.unique_blobs);
    assert!(!dir.join(".mirrorctl-tmp").exists(), "temporary files left");
    ok(
        &mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap(),
        "verify",
    );
    drop(proxy);
    let mut source = source;
    source.stop();
    let out = mirrorctl([
        "release",
        "mirror",
        "--from-dir",
        &s(&dir),
        "--to",
        &format!("{}/{TARGET_REPO}", target.host),
        "--insecure-registry",
        &target.host,
    ])
    .output()
    .unwrap();
    ok(&out, "--from-dir");
    assert_exact(&target, TARGET_REPO, &f);
}

/// The biggest blob of a bundle (machine-os-content's layer: no release reads it).
fn biggest_blob(dir: &Path) -> (String, u64) {
    let meta = metadata(dir);
    let b = meta["blobs"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|b| b["size"].as_u64().unwrap())
        .unwrap()
        .clone();
    let hex = b["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    (hex, b["size"].as_u64().unwrap())
}

/// Refused with exit 1, naming `names` on stderr, with a hint.
fn refused(out: &Output, names: &[&str]) -> String {
    let (_, stderr) = text(out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for n in names {
        assert!(stderr.contains(n), "`{n}` not named: {stderr}");
    }
    assert!(stderr.contains("\nhint: "), "no hint: {stderr}");
    stderr
}

#[test]
fn damaged_bundles_are_refused_by_verify_and_by_publishing_with_no_release_tag() {
    let rt = rt();
    let st = setup_with(&rt, &roomy());
    let f = st.fixture.clone();
    let dir = st.work.path().join("dir");
    let vols = st.work.path().join("vols");
    ok(&to_dir(&st, &f.release, &dir, &[]), "--to-dir");
    ok(
        &to_dir(&st, &f.release, &vols, &["--archive-size", "1MiB"]),
        "--to-dir volumes",
    );

    // A blob altered in place (same size): verify names it; publishing stops on it while it
    // streams, and the release tag is never written.
    let (hex, _) = biggest_blob(&dir);
    let blob = dir.join("blobs/sha256").join(&hex);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let out = mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .0
            .contains(&format!("blobs/sha256/{hex}` holds bytes that hash to"))
    );
    refused(&out, &["has 1 problem"]);
    let out = from_dir(&st, &dir, "altered/openshift4", &[]);
    refused(
        &out,
        &[&s(&blob), "holds bytes that do not match its digest"],
    );
    assert!(!release_tag_at(&st.target, "altered/openshift4", &f));

    // A blob cut short: refused before anything is written.
    std::fs::write(&blob, &bytes[..mid]).unwrap();
    let out = from_dir(&st, &dir, "short/openshift4", &[]);
    refused(&out, &[&s(&blob), "nothing was published"]);
    assert_eq!(
        skopeo::list_tags(&st.target, "short/openshift4").unwrap(),
        Vec::<String>::new()
    );

    // A missing volume, then a volume cut short: both named, nothing written.
    let volumes = volumes_of(&vols);
    let second = vols.join(&volumes[1]);
    let kept = std::fs::read(&second).unwrap();
    std::fs::remove_file(&second).unwrap();
    let out = mirrorctl(["bundle", "verify", &s(&vols)]).output().unwrap();
    assert!(
        text(&out)
            .0
            .contains(&format!("{}: missing", second.display())),
        "{}",
        text(&out).0
    );
    refused(&out, &["problem"]);
    let out = from_dir(&st, &vols, "novolume/openshift4", &[]);
    refused(&out, &[&s(&second), "missing"]);
    assert_eq!(
        skopeo::list_tags(&st.target, "novolume/openshift4").unwrap(),
        Vec::<String>::new()
    );
    std::fs::write(&second, &kept[..kept.len() / 2]).unwrap();
    let out = mirrorctl(["bundle", "verify", &s(&vols)]).output().unwrap();
    assert!(text(&out).0.contains("(cut short)"), "{}", text(&out).0);
    refused(&out, &["problem"]);
    let out = from_dir(&st, &vols, "cut/openshift4", &[]);
    refused(&out, &[&s(&second), "cut short", "nothing was published"]);
    assert_eq!(
        skopeo::list_tags(&st.target, "cut/openshift4").unwrap(),
        Vec::<String>::new()
    );
    // The same bytes in place again: sound.
    std::fs::write(&second, &kept).unwrap();
    ok(
        &mirrorctl(["bundle", "verify", &s(&vols)]).output().unwrap(),
        "verify",
    );

    // A metadata file of an unknown version: every command names it.
    let meta_file = vols.join("mirrorctl-bundle.json");
    let mut meta = metadata(&vols);
    meta["schemaVersion"] = serde_json::json!(99);
    std::fs::write(&meta_file, serde_json::to_vec(&meta).unwrap()).unwrap();
    for out in [
        mirrorctl(["bundle", "verify", &s(&vols)]).output().unwrap(),
        mirrorctl(["bundle", "info", &s(&vols)]).output().unwrap(),
        from_dir(&st, &vols, "version/openshift4", &[]),
    ] {
        let e = refused(&out, &[&s(&meta_file), "schema version 99 is unknown"]);
        assert!(e.contains("newer"), "{e}");
    }
}

#[test]
fn an_incremental_bundle_is_published_on_top_of_the_first() {
    let rt = rt();
    let mut st = setup(&rt);
    let first = st.fixture.clone();
    // 4.14.2: a z-stream (same seed): a third of the components and the release image new.
    let spec2 = FixtureSpec {
        version: "4.14.2".into(),
        revision: 1,
        ..FixtureSpec::tiny()
    };
    let client = RegistryClient::new(st.source.client_options()).unwrap();
    let second = rt.block_on(fixture::push(&spec2, &client, &st.source.host));
    let a = st.work.path().join("a");
    let b = st.work.path().join("b");
    ok(&to_dir(&st, &first.release, &a, &[]), "bundle a");
    ok(&from_dir(&st, &a, TARGET_REPO, &[]), "publish a");
    // Only the metadata file of the first bundle travels back to the connected side.
    let a_meta = st.work.path().join("a-mirrorctl-bundle.json");
    std::fs::copy(a.join("mirrorctl-bundle.json"), &a_meta).unwrap();
    let out = to_dir(
        &st,
        &second.release,
        &b,
        &["--since", &s(&a_meta), "--output", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&ok(&out, "bundle b").0).unwrap();
    let meta_a = metadata(&a);
    let meta_b = metadata(&b);
    assert_eq!(meta_b["since"]["bundleId"], meta_a["bundleId"]);
    let carried = meta_b["blobs"]["count"].as_u64().unwrap();
    let required = meta_b["requires"]["count"].as_u64().unwrap();
    assert!(required > 0 && carried < meta_a["blobs"]["count"].as_u64().unwrap());
    assert_eq!(report["blobsInBase"].as_u64().unwrap(), required);
    // No config or layer file of the first bundle is carried again.
    let in_a: std::collections::BTreeSet<String> = meta_a["blobs"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            let t = x["mediaType"].as_str().unwrap();
            !t.contains("manifest") && !t.contains("index")
        })
        .map(|x| x["digest"].as_str().unwrap().to_string())
        .collect();
    let repeated: Vec<&serde_json::Value> = meta_b["blobs"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| in_a.contains(x["digest"].as_str().unwrap()))
        .collect();
    assert!(repeated.is_empty(), "carried again: {repeated:?}");

    st.source.stop();
    // Into a repository the first bundle was never published to: refused, naming what is
    // missing and the bundle to publish first; nothing written.
    let out = from_dir(&st, &b, "elsewhere/openshift4", &[]);
    let e = refused(
        &out,
        &[
            "blobs this bundle leaves to an earlier bundle are not at",
            "sha256:",
        ],
    );
    assert!(e.contains(meta_a["bundleId"].as_str().unwrap()), "{e}");
    assert_eq!(
        skopeo::list_tags(&st.target, "elsewhere/openshift4").unwrap(),
        Vec::<String>::new()
    );
    // On top of the first: complete, both releases there.
    ok(&from_dir(&st, &b, TARGET_REPO, &[]), "publish b");
    assert_exact(&st.target, TARGET_REPO, &second);
    assert_exact(&st.target, TARGET_REPO, &first);
}

#[test]
fn bad_inputs_are_named_with_a_hint_and_dry_runs_write_nothing() {
    let rt = rt();
    let st = setup(&rt);
    let f = st.fixture.clone();
    let work = st.work.path();

    // --to-dir at a directory holding other files: refused, untouched.
    let busy = work.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let out = to_dir(&st, &f.release, &busy, &[]);
    refused(
        &out,
        &[&s(&busy), "is not empty and holds no bundle", "`notes.txt`"],
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // A dry run writes nothing (not even the directory) and tells the bytes to write.
    let dir = work.join("bundle");
    let out = to_dir(&st, &f.release, &dir, &["--dry-run"]);
    let (stdout, _) = ok(&out, "dry run");
    assert!(!dir.exists(), "a dry run created the bundle directory");
    assert!(
        stdout.starts_with("Plan (dry run: nothing was written)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  to write:     {} blobs (", f.unique_blobs)),
        "{stdout}"
    );
    let out = to_dir(&st, &f.release, &dir, &["--dry-run", "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&ok(&out, "dry run json").0).unwrap();
    assert_eq!(plan["dryRun"], true);
    assert_eq!(
        plan["plan"]["bytesToCopy"].as_u64().unwrap(),
        f.unique_bytes
    );
    assert!(plan["bytesFree"].as_u64().unwrap() > 0);

    ok(&to_dir(&st, &f.release, &dir, &[]), "--to-dir");
    // The publish dry run: bytes to upload after what the target holds; nothing written.
    let out = from_dir(&st, &dir, TARGET_REPO, &["--dry-run", "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&ok(&out, "publish dry run").0).unwrap();
    assert_eq!(
        plan["plan"]["bytesToUpload"].as_u64().unwrap(),
        f.unique_bytes
    );
    assert_eq!(
        skopeo::list_tags(&st.target, TARGET_REPO).unwrap(),
        Vec::<String>::new()
    );
    let out = from_dir(&st, &dir, TARGET_REPO, &["--dry-run"]);
    assert!(
        ok(&out, "publish dry run text")
            .0
            .contains("  to upload:    ")
    );

    // A complete bundle of another release is not written into.
    let other = f.release.replace("4.14.1-x86_64", "4.14.9-x86_64");
    let out = to_dir(&st, &other, &dir, &[]);
    refused(
        &out,
        &[
            &s(dir.join("mirrorctl-bundle.json")),
            "other releases",
            &f.release,
        ],
    );

    // Not a bundle at all.
    let empty = work.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = from_dir(&st, &empty, TARGET_REPO, &[]);
    refused(&out, &[&s(empty.join("mirrorctl-bundle.json")), "missing"]);
    let out = mirrorctl(["bundle", "info", &s(&empty)]).output().unwrap();
    refused(&out, &["mirrorctl-bundle.json"]);
    let out = to_dir(
        &st,
        &f.release,
        &work.join("b2"),
        &["--since", &s(busy.join("notes.txt"))],
    );
    refused(
        &out,
        &[&s(busy.join("notes.txt")), "not a bundle metadata file"],
    );

    // Sizes: usage errors (exit 2).
    for (size, says) in [
        ("lots", "invalid size `lots`"),
        ("10KiB", "smallest volume size"),
    ] {
        let out = to_dir(&st, &f.release, &work.join("b3"), &["--archive-size", size]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("archive-size") && stderr.contains(says),
            "{stderr}"
        );
        assert!(!work.join("b3").join("mirrorctl-bundle.json").exists());
    }
    // Flags of one side only.
    let out = mirrorctl([
        "release",
        "mirror",
        "--from-dir",
        &s(&dir),
        "--to",
        "r.example/a/b",
        "--archive-size",
        "1GiB",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    let out = mirrorctl([
        "release",
        "mirror",
        "--from",
        &f.release,
        "--to",
        "r.example/a/b",
        "--to-dir",
        &s(work.join("b4")),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(!work.join("b4").exists());
}

/// Stops the registry `install` started, however the test ends.
struct Installed(PathBuf);

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = mirrorctl(["registry", "down", "--root"])
            .arg(self.0.join("registry"))
            .output();
        if let Ok(pid) = std::fs::read_to_string(self.0.join("registry/registry.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

#[test]
fn install_from_a_bundle_end_to_end_with_the_source_stopped() {
    let rt = rt();
    let mut st = setup(&rt);
    let f = st.fixture.clone();
    let bundle = st.work.path().join("media");
    ok(
        &to_dir(&st, &f.release, &bundle, &["--archive-size", "1MiB"]),
        "--to-dir",
    );
    st.source.stop();

    // The disconnected host: its own registry, certificates, trust, pull secret, from disk.
    let home = tempfile::tempdir().unwrap();
    let p = |rel: &str| home.path().join(rel);
    let _stop = Installed(home.path().to_path_buf());
    std::fs::write(
        p("certificate"),
        "countrycode=US\nstate=NC\nlocality=Raleigh\norganization=Example\nunit=IT\n",
    )
    .unwrap();
    std::fs::write(p("password"), "s3cret-Mirror-pw\n").unwrap();
    std::fs::write(
        p("pull-secret"),
        r#"{"auths":{"quay.io":{"auth":"cmgtdXNlcjpyaC10b2tlbg==","email":"me@example.com"}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(p("trust/etc")).unwrap();
    std::fs::copy("/etc/os-release", p("trust/etc/os-release")).unwrap();
    let port = mirror_testkit::free_port();
    let mut args: Vec<String> = [
        "install",
        "--email",
        "admin@example.com",
        "--username",
        "mirror",
        "--from-dir",
        &s(&bundle),
        "--hostname",
        "localhost",
        "--port",
        &port.to_string(),
        "--runtime",
        "process",
        "--min-free",
        "1MiB",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    for (flag, rel) in [
        ("--password-file", "password"),
        ("--pull-secret", "pull-secret"),
        ("--root", "registry"),
        ("--certificate-file", "certificate"),
        ("--output-dir", "out"),
        ("--trust-root", "trust"),
    ] {
        args.push(flag.into());
        args.push(s(p(rel)));
    }
    // A dry run before anything exists plans the mirror step from the bundle alone.
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    let out = mirrorctl(&dry).output().unwrap();
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "dry run failed:\n{stderr}");
    assert!(
        stderr.contains(&format!("from bundle {}", bundle.display())),
        "{stderr}"
    );
    assert!(!p("registry").exists() && !p("out").exists());
    let out = mirrorctl(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "install --from-dir failed:\n{stderr}");
    for step in ["registry", "mirror", "extract", "outputs"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("[        done]") && l.contains(&format!(" {step} "))),
            "step {step} not done:\n{stderr}"
        );
    }
    let mirror = format!("localhost:{port}/ocp4/openshift4");
    assert!(
        stdout.contains(&format!("{mirror}:4.14.1-x86_64")),
        "{stdout}"
    );
    // The installer is pinned to the mirror; the snippet maps the original sources.
    let installer = std::fs::read(p("out/openshift-install")).unwrap();
    let pin = format!("{mirror}@{}\0", f.release_digest);
    assert!(
        installer.windows(pin.len()).any(|w| w == pin.as_bytes()),
        "installer not pinned to {pin}"
    );
    let snippet = std::fs::read_to_string(p("out/install-config-snippet.yaml")).unwrap();
    for src in [&f.release_repo, &f.component_repo] {
        assert!(snippet.contains(&format!("source: {src}\n")), "{snippet}");
    }
    assert!(!snippet.contains(&s(&bundle)), "{snippet}");
    // skopeo reads every image at its source digest.
    let certs = p("skopeo-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(p("registry/certs/ca.crt"), certs.join("ca.crt")).unwrap();
    let digest_of = |image: String| {
        let sk = std::process::Command::new(require_tool("skopeo"))
            .args(["inspect", "--raw", "--authfile"])
            .arg(p("out/pull-secret.json"))
            .arg("--cert-dir")
            .arg(&certs)
            .arg(format!("docker://{image}"))
            .output()
            .unwrap();
        assert!(sk.status.success(), "{image}: {}", text(&sk).1);
        Digest::of(&sk.stdout)
    };
    assert_eq!(
        digest_of(format!("{mirror}:4.14.1-x86_64")),
        f.release_digest
    );
    for c in &f.components {
        assert_eq!(
            digest_of(format!("{mirror}:4.14.1-x86_64-{}", c.name)),
            c.digest,
            "{}",
            c.name
        );
    }
    // A rerun: every step already done.
    let out = mirrorctl(&args).output().unwrap();
    let stderr = text(&out).1;
    assert!(out.status.success(), "rerun failed:\n{stderr}");
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        assert!(
            line.starts_with("[already done]"),
            "rerun did something: {line}\n{stderr}"
        );
    }
}

#[test]
fn release_signatures_travel_in_the_bundle_and_verify_offline() {
    use mirror_testkit::fixture::FixtureVerification;
    use mirror_testkit::signing::{SigningKey, write_signature};
    let rt = rt();
    let work = tempfile::tempdir().unwrap();
    let store_dir = work.path().join("store");
    std::fs::create_dir_all(&store_dir).unwrap();
    let store = mirror_testkit::SignatureServer::start(&store_dir);
    let key = SigningKey::generate("test release key 31", 31);
    let spec = FixtureSpec {
        verification: Some(
            FixtureVerification::default()
                .store("local", &store.url)
                .key("test", &key),
        ),
        ..FixtureSpec::tiny()
    };
    let mut source = TestRegistry::start();
    let target = TestRegistry::start();
    let f = rt.block_on(fixture::push(
        &spec,
        &RegistryClient::new(source.client_options()).unwrap(),
        &source.host,
    ));
    let identity = "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64";
    write_signature(
        &store_dir,
        &f.release_digest,
        1,
        &key.sign_release(&f.release_digest, identity),
    );
    let dir = work.path().join("bundle");
    let out = mirrorctl([
        "release",
        "mirror",
        "--from",
        &f.release,
        "--to-dir",
        &s(&dir),
        "--insecure-registry",
        &source.host,
        "--require-signatures",
    ])
    .output()
    .unwrap();
    let (_, stderr) = ok(&out, "--to-dir, signed");
    assert!(
        stderr.contains("info: Release signature verified"),
        "{stderr}"
    );
    let hex = f.release_digest.hex();
    let tree = format!("signatures/sha256={hex}/signature-1");
    let configmap = format!("signatures/signature-sha256-{}.json", &hex[..16]);
    let meta = metadata(&dir);
    assert_eq!(meta["releases"][0]["signature"], "verified");
    let listed: Vec<&str> = meta["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [tree.as_str(), configmap.as_str()]);
    assert_portable_names(&dir);

    // The far side: no source, no signature server. The bundle's signatures verify, and the
    // ConfigMap for the cluster is written there.
    source.stop();
    drop(store);
    let out_dir = work.path().join("cluster-config");
    let publish = |extra: &[&str]| {
        let mut a = vec![
            "release".to_string(),
            "mirror".into(),
            "--from-dir".into(),
            s(&dir),
            "--to".into(),
            format!("{}/{TARGET_REPO}", target.host),
            "--insecure-registry".into(),
            target.host.clone(),
            "--require-signatures".into(),
            "--output".into(),
            "json".into(),
        ];
        a.extend(extra.iter().map(|x| x.to_string()));
        mirrorctl(a).output().unwrap()
    };
    // An altered signature (same size): refused before anything is copied.
    let sig_file = dir.join(&tree);
    let good = std::fs::read(&sig_file).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    std::fs::write(&sig_file, &bad).unwrap();
    let out = mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap();
    assert!(text(&out).0.contains(&tree), "{}", text(&out).0);
    assert_eq!(out.status.code(), Some(1));
    let out = publish(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert_eq!(
        skopeo::list_tags(&target, TARGET_REPO).unwrap(),
        Vec::<String>::new()
    );
    std::fs::write(&sig_file, &good).unwrap();

    let out = publish(&["--release-image-signature-to-dir", &s(&out_dir)]);
    let (stdout, _) = ok(&out, "--from-dir, signed");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let sig = &report["releases"][0]["signatures"];
    assert_eq!(sig["status"], "verified", "{sig}");
    let store_url = sig["stores"][0]["url"].as_str().unwrap();
    assert!(
        store_url.starts_with("file://") && store_url.ends_with("/signatures/"),
        "{store_url}"
    );
    assert!(
        out_dir
            .join(format!("signature-sha256-{}.json", &hex[..16]))
            .is_file()
    );
    assert_exact(&target, TARGET_REPO, &f);
}
