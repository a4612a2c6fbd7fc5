//! An ImageSetConfiguration (a channel of two releases, an additional image by tag and one by
//! digest) and `release mirror --channel` through a bundle: `mirror --config --to-dir`, the
//! source stopped, `mirror --from-dir`; the upgrade graph saved in the bundle, shown by
//! `bundle info`, read offline by `release graph`, checked by `bundle verify`.

use std::path::Path;
use std::process::Output;

use mirror_core::RegistryClient;
use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::fixture::{self, Fixture, FixtureSpec};
use mirror_testkit::graph_server::graph;
use mirror_testkit::runtime as rt;
use mirror_testkit::{TestRegistry, skopeo};

const GRAPH_FILE: &str = "graph/amd64-stable-4.14.json";

fn s(x: impl AsRef<std::ffi::OsStr>) -> String {
    x.as_ref().to_string_lossy().into_owned()
}

fn ok(out: &Output, what: &str) -> (String, String) {
    let (o, e) = text(out);
    assert!(out.status.success(), "{what} failed: {e}\n{o}");
    (o, e)
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    mirror_core::Digest::of(bytes).hex().to_string()
}

/// The source: 4.14.1 and 4.14.2, `tools/oc:4.14` (4.14.1's cli re-tagged in another
/// repository) for an additional image by tag; 4.14.1's etcd is the one by digest.
fn source(rt: &tokio::runtime::Runtime) -> (TestRegistry, Fixture, Fixture) {
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
    rt.block_on(fixture::tag_component_elsewhere(
        &client,
        &source.host,
        &a,
        "cli",
        "tools/oc",
        "4.14",
    ));
    (source, a, b)
}

fn write_graph(dir: &Path, a: &Fixture, b: &Fixture) -> String {
    let g = graph(
        &[
            ("4.14.0", "quay.io/x/unused:4.14.0", "stable-4.14"),
            ("4.14.1", &a.release, "stable-4.14"),
            ("4.14.2", &b.release, "stable-4.14"),
        ],
        &[("4.14.0", "4.14.1"), ("4.14.1", "4.14.2")],
        &[],
    );
    let file = dir.join("graph.json");
    std::fs::write(&file, serde_json::to_vec(&g).unwrap()).unwrap();
    s(file)
}

fn isc(host: &str, etcd: &mirror_core::Digest, extra: &str) -> String {
    format!(
        "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\narchiveSize: 1\nmirror:\n  platform:\n    channels:\n    - name: stable-4.14\n      minVersion: 4.14.1\n      maxVersion: 4.14.2\n  additionalImages:\n  - name: {host}/tools/oc:4.14\n  - name: {host}/openshift-release-dev/ocp-v4.0-art-dev@{etcd}\n{extra}"
    )
}

#[test]
fn an_imageset_config_through_a_bundle_with_the_source_stopped() {
    let rt = rt();
    let (mut source, a, b) = source(&rt);
    let work = tempfile::tempdir().unwrap();
    let graph_url = write_graph(work.path(), &a, &b);
    let etcd = a.components.iter().find(|c| c.name == "etcd").unwrap();
    let cli = a.components.iter().find(|c| c.name == "cli").unwrap();
    let config = work.path().join("isc.yaml");
    std::fs::write(&config, isc(&source.host, &etcd.digest, "")).unwrap();
    let dir = work.path().join("bundle");

    // The registry-to-registry mirror of the same file, to compare the far side's output with.
    let direct = TestRegistry::start();
    let direct_to = format!("{}/mirror", direct.host);
    let out = mirrorctl([
        "mirror",
        "--config",
        &s(&config),
        "--to",
        &direct_to,
        "--graph-url",
        &graph_url,
        "--insecure-registry",
        &source.host,
        "--insecure-registry",
        &direct.host,
    ])
    .output()
    .unwrap();
    let (direct_stdout, _) = ok(&out, "mirror --config --to");

    // Connected side: only the required arguments (and the graph and the plain-HTTP source).
    let out = mirrorctl([
        "mirror",
        "--config",
        &s(&config),
        "--to-dir",
        &s(&dir),
        "--graph-url",
        &graph_url,
        "--insecure-registry",
        &source.host,
    ])
    .output()
    .unwrap();
    let (stdout, _) = ok(&out, "mirror --config --to-dir");
    assert!(
        stdout.contains(&format!(
            "mirrorctl mirror --from-dir {} --to REGISTRY[/NAMESPACE]",
            dir.display()
        )),
        "{stdout}"
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("mirrorctl-bundle.json")).unwrap()).unwrap();
    // archiveSize: 1 (GiB) from the file: one volume.
    assert_eq!(meta["layout"], "volumes", "{meta}");
    assert_eq!(meta["volumes"].as_array().unwrap().len(), 1, "{meta}");
    // The graph as read, under a portable name, listed with its sha256 twice.
    let saved = std::fs::read(dir.join(GRAPH_FILE)).unwrap();
    let want = mirror_core::upgrade::Graph::parse(&std::fs::read(&graph_url).unwrap(), "g")
        .unwrap()
        .for_channel("stable-4.14");
    assert_eq!(
        mirror_core::upgrade::Graph::parse(&saved, "saved").unwrap(),
        want,
        "the saved graph is the channel's part of the graph read"
    );
    let listed = meta["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == GRAPH_FILE)
        .unwrap_or_else(|| panic!("{GRAPH_FILE} not in files: {meta}"));
    assert_eq!(listed["sha256"], sha256_hex(&saved), "{meta}");
    let up = &meta["upgrade"];
    assert_eq!(up["graphs"][0]["file"], GRAPH_FILE, "{meta}");
    assert_eq!(up["graphs"][0]["sha256"], sha256_hex(&saved), "{meta}");
    assert_eq!(up["graphs"][0]["origin"], graph_url.as_str(), "{meta}");
    assert_eq!(up["channels"][0]["name"], "stable-4.14", "{meta}");
    assert_eq!(
        up["channels"][0]["versions"],
        serde_json::json!(["4.14.1", "4.14.2"]),
        "{meta}"
    );
    assert_eq!(up["imageSet"], "imageset-config.yaml", "{meta}");
    assert_eq!(
        std::fs::read(dir.join("imageset-config.yaml")).unwrap(),
        std::fs::read(&config).unwrap()
    );

    // The far side shows the same plan from the bundle alone.
    let out = mirrorctl(["bundle", "info", &s(&dir), "--output", "json"])
        .output()
        .unwrap();
    let info = json(&ok(&out, "bundle info --output json").0);
    assert_eq!(info["bundle"]["upgrade"], *up, "{info}");
    let out = mirrorctl(["bundle", "info", &s(&dir)]).output().unwrap();
    let (info_text, _) = ok(&out, "bundle info");
    assert!(
        info_text.contains(
            "  channel stable-4.14 (every release in the range, 4.14.1 to 4.14.2): 4.14.1, 4.14.2\n"
        ),
        "{info_text}"
    );
    let offline = format!(
        "mirrorctl release graph --config {0}/imageset-config.yaml --graph-url {0}/graph",
        dir.display()
    );
    assert!(info_text.contains(&offline), "{info_text}");

    // The same command again on the complete bundle: nothing is rewritten.
    let files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (s(p.file_name().unwrap()), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = files(&dir);
    let out = mirrorctl([
        "mirror",
        "--config",
        &s(&config),
        "--to-dir",
        &s(&dir),
        "--graph-url",
        &graph_url,
        "--insecure-registry",
        &source.host,
    ])
    .output()
    .unwrap();
    ok(&out, "mirror --config --to-dir, again");
    assert!(before == files(&dir), "a rerun rewrote the bundle's files");

    source.stop();

    // The offline plan: the command bundle info prints, and the bundle directory as a graph.
    let online = mirrorctl([
        "release",
        "graph",
        "--config",
        &s(&config),
        "--graph-url",
        &graph_url,
    ])
    .output()
    .unwrap();
    let (online, _) = ok(&online, "release graph from the graph file");
    for graph_dir in [dir.join("graph"), dir.clone()] {
        let out = mirrorctl([
            "release",
            "graph",
            "--config",
            &s(dir.join("imageset-config.yaml")),
            "--graph-url",
            &s(&graph_dir),
        ])
        .output()
        .unwrap();
        let (plan, _) = ok(&out, "release graph from the bundle");
        assert_eq!(
            plan.lines().skip(1).collect::<Vec<_>>(),
            online.lines().skip(1).collect::<Vec<_>>(),
            "the same plan (the first line names the graph read)"
        );
        assert!(
            plan.contains(&a.release) && plan.contains(&b.release),
            "{plan}"
        );
    }

    // Disconnected side: only the required arguments (and the plain-HTTP target).
    let target = TestRegistry::start();
    let to = format!("{}/mirror", target.host);
    let out = mirrorctl([
        "mirror",
        "--from-dir",
        &s(&dir),
        "--to",
        &to,
        "--insecure-registry",
        &target.host,
    ])
    .output()
    .unwrap();
    let (stdout, _) = ok(&out, "mirror --from-dir");
    // Publishing again: it succeeds and copies nothing.
    let again = mirrorctl([
        "mirror",
        "--from-dir",
        &s(&dir),
        "--to",
        &to,
        "--insecure-registry",
        &target.host,
        "--output",
        "json",
    ])
    .output()
    .unwrap();
    let again = json(&ok(&again, "mirror --from-dir, again").0);
    assert_eq!(again["bytesCopied"], 0, "{again}");
    skopeo::assert_release(&target, &format!("{to}/openshift/release"), &a);
    skopeo::assert_release(&target, &format!("{to}/openshift/release"), &b);
    skopeo::assert_digest(&target, &format!("{to}/tools/oc:4.14"), &cli.digest);
    skopeo::assert_digest(
        &target,
        &format!(
            "{to}/openshift-release-dev/ocp-v4.0-art-dev@{}",
            etcd.digest
        ),
        &etcd.digest,
    );
    // The same tags, and the same output (update images, IDMS, ITMS) as the direct mirror.
    for repo in ["openshift/release", "tools/oc"] {
        let t1 = skopeo::list_tags(&target, &format!("mirror/{repo}")).unwrap();
        let t2 = skopeo::list_tags(&direct, &format!("mirror/{repo}")).unwrap();
        assert!(!t1.is_empty(), "{repo}");
        assert_eq!(t1, t2, "{repo}");
    }
    assert_eq!(stdout, direct_stdout.replace(&direct.host, &target.host));
    assert!(stdout.contains("kind: ImageTagMirrorSet"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "  - mirrors:\n    - {to}/tools/oc\n    source: {}/tools/oc",
            source.host
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "    - {to}/openshift-release-dev/ocp-v4.0-art-dev\n    source: {}/openshift-release-dev/ocp-v4.0-art-dev",
            source.host
        )),
        "{stdout}"
    );

    // --config on the far side: the same file is accepted, another one refused.
    let publish_with = |file: &Path| {
        mirrorctl([
            "mirror",
            "--config",
            &s(file),
            "--from-dir",
            &s(&dir),
            "--to",
            &to,
            "--insecure-registry",
            &target.host,
            "--dry-run",
        ])
        .output()
        .unwrap()
    };
    ok(
        &publish_with(&config),
        "mirror --config --from-dir, same file",
    );
    let other = work.path().join("other.yaml");
    std::fs::write(
        &other,
        isc(
            &source.host,
            &etcd.digest,
            "  - name: quay.io/ubi9/ubi:9.4\n",
        ),
    )
    .unwrap();
    let out = publish_with(&other);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("error: --config `{}`", other.display()))
            && stderr.contains("hint: the bundle decides what is published"),
        "{stderr}"
    );

    // An altered graph file: bundle verify names it.
    let mut bad = saved.clone();
    bad.extend_from_slice(b" ");
    std::fs::write(dir.join(GRAPH_FILE), &bad).unwrap();
    let out = mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{}: has ", dir.join(GRAPH_FILE).display())),
        "{stdout}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn release_mirror_channel_to_dir_saves_the_graph_it_picked_from() {
    let rt = rt();
    let (source, a, b) = source(&rt);
    let work = tempfile::tempdir().unwrap();
    let graph_url = write_graph(work.path(), &a, &b);
    let dir = work.path().join("bundle");
    let out = mirrorctl([
        "release",
        "mirror",
        "--channel",
        "stable-4.14",
        "--min-version",
        "4.14.1",
        "--shortest-path",
        "--graph-url",
        &graph_url,
        "--to-dir",
        &s(&dir),
        "--insecure-registry",
        &source.host,
    ])
    .output()
    .unwrap();
    ok(&out, "release mirror --channel --to-dir");
    assert!(dir.join(GRAPH_FILE).is_file());
    let out = mirrorctl(["bundle", "info", &s(&dir)]).output().unwrap();
    let (info, _) = ok(&out, "bundle info");
    assert!(info.contains("    path: 4.14.1 -> 4.14.2\n"), "{info}");
    let cmd = format!(
        "mirrorctl release graph --channel stable-4.14 --min-version 4.14.1 --max-version 4.14.2 --shortest-path --graph-url {}/graph",
        dir.display()
    );
    assert!(info.contains(&cmd), "{info}");
    // That command, run offline, picks the same releases.
    let args: Vec<&str> = cmd.split(' ').skip(1).collect();
    let out = mirrorctl(args).output().unwrap();
    let (plan, _) = ok(&out, "release graph from the bundle");
    assert!(plan.contains("  path: 4.14.1 -> 4.14.2\n"), "{plan}");
    ok(
        &mirrorctl(["bundle", "verify", &s(&dir)]).output().unwrap(),
        "bundle verify",
    );
}

#[test]
fn flags_of_the_other_side_are_refused_with_a_hint() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("isc.yaml");
    std::fs::write(
        &config,
        "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n  additionalImages:\n  - name: quay.io/ubi9/ubi:9.4\n",
    )
    .unwrap();
    let dir = work.path().join("bundle");
    for (args, says) in [
        (
            vec![
                "--config",
                config.to_str().unwrap(),
                "--to-dir",
                dir.to_str().unwrap(),
                "--to",
                "r.example/ns",
            ],
            "error: --to-dir and --to cannot be used together",
        ),
        (
            vec!["--from-dir", dir.to_str().unwrap()],
            "error: --from-dir needs --to REGISTRY[/NAMESPACE]",
        ),
        (
            vec![
                "--config",
                config.to_str().unwrap(),
                "--to-dir",
                dir.to_str().unwrap(),
                "--from-dir",
                dir.to_str().unwrap(),
            ],
            "error: --to-dir and --from-dir cannot be used together",
        ),
    ] {
        let out = mirrorctl(std::iter::once("mirror").chain(args.iter().copied()))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("\nhint: "), "{args:?}: {stderr}");
        assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
    }
}
