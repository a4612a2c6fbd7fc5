//! Several releases in one run (blobs shared once), releases picked from the upgrade graph,
//! an ImageSetConfiguration with additional images, and sigstore signature tags copied.

use mirror_core::{Digest, RegistryClient, Repository};
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::graph_server::graph;
use mirror_testkit::runtime as rt;
use mirror_testkit::{TestRegistry, skopeo};

/// A source holding 4.14.1 and 4.14.2 (a third of the components changed, the rest and the
/// base layers shared).
fn two_releases(rt: &tokio::runtime::Runtime) -> (TestRegistry, Fixture, Fixture) {
    let source = TestRegistry::start();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let a = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let b = rt.block_on(fixture::push(
        &FixtureSpec {
            version: "4.14.2".into(),
            revision: 1,
            ..FixtureSpec::tiny()
        },
        &client,
        &source.host,
    ));
    (source, a, b)
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn two_releases_in_one_run_copy_shared_blobs_once() {
    let rt = rt();
    let (source, a, b) = two_releases(&rt);
    let target = TestRegistry::start();
    let to = format!("{}/ocp4/openshift4", target.host);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "release",
            "mirror",
            "--from",
            &a.release,
            "--from",
            &b.release,
            "--to",
            &to,
            "--insecure-registry",
            &source.host,
            "--insecure-registry",
            &target.host,
        ];
        args.extend_from_slice(extra);
        mirrorctl(&args).output().unwrap()
    };
    // The dry run tells what each release adds.
    let out = run(&["--dry-run"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("per release (what each adds"), "{stdout}");
    assert!(stdout.contains("    4.14.1  "), "{stdout}");

    let out = run(&["--output", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let r = json(&stdout);
    let releases = r["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2, "{r}");
    assert_eq!(releases[0]["version"], "4.14.1");
    assert_eq!(releases[1]["version"], "4.14.2");
    assert_eq!(
        releases[1]["updateImage"],
        format!("{to}:4.14.2-x86_64"),
        "{r}"
    );
    let (new_a, new_b) = (
        releases[0]["newBlobs"].as_u64().unwrap(),
        releases[1]["newBlobs"].as_u64().unwrap(),
    );
    // Every blob was copied once: the run's copies are what each release added.
    assert_eq!(r["blobsCopied"].as_u64().unwrap(), new_a + new_b, "{r}");
    assert!(new_b < new_a, "4.14.2 adds only what changed: {r}");
    skopeo::assert_release(&target, &to, &a);
    skopeo::assert_release(&target, &to, &b);

    // 4.14.2 alone into an empty registry copies more than it added on top of 4.14.1.
    let alone = TestRegistry::start();
    let to2 = format!("{}/ocp4/openshift4", alone.host);
    let out = mirrorctl([
        "release",
        "mirror",
        "--from",
        &b.release,
        "--to",
        &to2,
        "--insecure-registry",
        &source.host,
        "--insecure-registry",
        &alone.host,
        "--output",
        "json",
    ])
    .output()
    .unwrap();
    let r2 = json(&text(&out).0);
    assert!(
        r2["blobsCopied"].as_u64().unwrap() > new_b,
        "shared blobs were counted once: {r2}"
    );

    // A rerun of both is a handful of requests and copies nothing.
    let out = run(&["--output", "json"]);
    let r3 = json(&text(&out).0);
    assert_eq!(r3["blobsCopied"], 0, "{r3}");
    assert_eq!(r3["plan"]["imagesPresent"], r3["plan"]["images"], "{r3}");
}

#[test]
fn releases_picked_from_a_channel_are_mirrored_with_upgrade_commands() {
    let rt = rt();
    let (source, a, b) = two_releases(&rt);
    let target = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let g = graph(
        &[
            ("4.14.0", "quay.io/x/unused:4.14.0", "stable-4.14"),
            ("4.14.1", &a.release, "stable-4.14"),
            ("4.14.2", &b.release, "stable-4.14"),
        ],
        &[("4.14.0", "4.14.1"), ("4.14.1", "4.14.2")],
        &[],
    );
    let file = dir.path().join("graph.json");
    std::fs::write(&file, serde_json::to_vec(&g).unwrap()).unwrap();
    let to = format!("{}/ocp4/openshift4", target.host);
    let out = mirrorctl([
        "release",
        "mirror",
        "--channel",
        "stable-4.14",
        "--min-version",
        "4.14.1",
        "--graph-url",
        file.to_str().unwrap(),
        "--to",
        &to,
        "--insecure-registry",
        &source.host,
        "--insecure-registry",
        &target.host,
    ])
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("Update image:  {to}:4.14.1-x86_64\n"))
            && stdout.contains(&format!("Update image:  {to}:4.14.2-x86_64\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "oc adm upgrade --allow-explicit-upgrade --to-image {to}@{}",
            b.release_digest
        )),
        "{stdout}"
    );
    skopeo::assert_release(&target, &to, &a);
    skopeo::assert_release(&target, &to, &b);

    // A version the channel does not have is refused before anything is copied.
    let empty = TestRegistry::start();
    let out = mirrorctl([
        "release",
        "mirror",
        "--channel",
        "stable-4.14",
        "--min-version",
        "4.14.7",
        "--graph-url",
        file.to_str().unwrap(),
        "--to",
        &format!("{}/ocp4/openshift4", empty.host),
        "--insecure-registry",
        &empty.host,
    ])
    .output()
    .unwrap();
    let (_, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("4.14.7"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    // Nothing was copied: the repository does not exist (skopeo's 404 reads as no tags).
    assert_eq!(
        skopeo::list_tags(&empty, "ocp4/openshift4"),
        Ok(Vec::new()),
        "refused before anything is copied"
    );
}

#[test]
fn an_imageset_config_mirrors_releases_and_additional_images_with_their_mirror_sets() {
    let rt = rt();
    let (source, a, _) = two_releases(&rt);
    let target = TestRegistry::start();
    // Two additional images: one by tag, one by digest (existing fixture images re-tagged in
    // another repository of the source).
    let client = RegistryClient::new(source.client_options()).unwrap();
    let cli = &a.components.iter().find(|c| c.name == "cli").unwrap();
    rt.block_on(fixture::tag_component_elsewhere(
        &client,
        &source.host,
        &a,
        "cli",
        "tools/oc",
        "4.14",
    ));
    let etcd = &a.components.iter().find(|c| c.name == "etcd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let isc = dir.path().join("isc.yaml");
    std::fs::write(
        &isc,
        format!(
            "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  platform:\n    release: {}\n  additionalImages:\n  - name: {}/tools/oc:4.14\n  - name: {}/openshift-release-dev/ocp-v4.0-art-dev@{}\n",
            a.release, source.host, source.host, etcd.digest
        ),
    )
    .unwrap();
    let to = format!("{}/mirror", target.host);
    let out = mirrorctl([
        "mirror",
        "--config",
        isc.to_str().unwrap(),
        "--to",
        &to,
        "--insecure-registry",
        &source.host,
        "--insecure-registry",
        &target.host,
    ])
    .output()
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    skopeo::assert_release(&target, &format!("{to}/openshift/release"), &a);
    skopeo::assert_digest(&target, &format!("{to}/tools/oc:4.14"), &cli.digest);
    skopeo::assert_digest(
        &target,
        &format!(
            "{to}/openshift-release-dev/ocp-v4.0-art-dev@{}",
            etcd.digest
        ),
        &etcd.digest,
    );
    assert!(stdout.contains("kind: ImageTagMirrorSet"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "  - mirrors:\n    - {to}/tools/oc\n    source: {}/tools/oc",
            source.host
        )),
        "{stdout}"
    );

    // A field this version does not implement is refused, naming its path, before any copy.
    std::fs::write(
        &isc,
        "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  operators:\n  - catalog: registry.redhat.io/redhat/redhat-operator-index:v4.14\n",
    )
    .unwrap();
    let out = mirrorctl([
        "mirror",
        "--config",
        isc.to_str().unwrap(),
        "--to",
        &format!("{}/other", target.host),
        "--insecure-registry",
        &target.host,
    ])
    .output()
    .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mirror.operators"), "{stderr}");
}

#[test]
fn sigstore_signature_tags_are_copied_beside_their_images() {
    let rt = rt();
    let source = TestRegistry::start();
    let client = RegistryClient::new(source.client_options()).unwrap();
    let f = rt.block_on(fixture::push(&FixtureSpec::tiny(), &client, &source.host));
    let rel_repo = Repository::parse(&format!(
        "{}/openshift-release-dev/ocp-release",
        source.host
    ))
    .unwrap();
    let art = Repository::parse(&format!(
        "{}/openshift-release-dev/ocp-v4.0-art-dev",
        source.host
    ))
    .unwrap();
    let cli = f.components.iter().find(|c| c.name == "cli").unwrap();
    let list = f
        .components
        .iter()
        .find(|c| !c.children.is_empty())
        .unwrap();
    let child: &Digest = &list.children[0];
    let signed: Vec<(Repository, Digest, Digest)> = [
        (&rel_repo, &f.release_digest),
        (&art, &cli.digest),
        (&art, child),
    ]
    .into_iter()
    .map(|(repo, d)| {
        let sig = rt.block_on(fixture::push_sigstore_signature(
            &client, repo, d, &f.release,
        ));
        (repo.clone(), d.clone(), sig)
    })
    .collect();
    let target = TestRegistry::start();
    let to = format!("{}/ocp4/openshift4", target.host);
    let args = |dry: bool| {
        let mut a = vec![
            "release".to_string(),
            "mirror".into(),
            "--from".into(),
            f.release.clone(),
            "--to".into(),
            to.clone(),
            "--insecure-registry".into(),
            source.host.clone(),
            "--insecure-registry".into(),
            target.host.clone(),
            "--output".into(),
            "json".into(),
        ];
        if dry {
            a.push("--dry-run".into());
        }
        a
    };
    let out = mirrorctl(args(true)).output().unwrap();
    let plan = json(&text(&out).0);
    assert_eq!(plan["plan"]["signatures"], 3, "{plan}");
    assert_eq!(plan["plan"]["signaturesToCopy"], 3, "{plan}");
    let out = mirrorctl(args(false)).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let r = json(&stdout);
    assert_eq!(r["plan"]["signatures"], 3, "{r}");
    for (_, d, sig) in &signed {
        skopeo::assert_digest(&target, &format!("{to}:sha256-{}.sig", d.hex()), sig);
    }
    let sig_images: Vec<&serde_json::Value> = r["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["role"] == "signature" && i["present"] == true)
        .collect();
    assert_eq!(sig_images.len(), 3, "{r}");
}
