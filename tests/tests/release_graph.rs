//! `mirrorctl release graph`: releases picked from an upgrade graph served on loopback (and
//! read from a saved file or directory), with oc-mirror's rules; every bad input refused.

use mirror_testkit::cli::{mirrorctl, text};
use mirror_testkit::graph_server::{GraphServer, fixture_payload, graph};
use mirror_testkit::{RegistryOptions, TestRegistry};
use serde_json::Value;

const REG: &str = "127.0.0.1:5000";

/// Versions the release fixture builds, in four channels:
///
/// ```text
/// stable-4.14: 4.14.1 -> 4.14.2 -> 4.14.4 -> 4.14.5, 4.14.1 -> 4.14.3 -> 4.14.4
///              conditional 4.14.1 -> 4.14.5 (AWSOldBootImages), 4.14.4 -> 4.14.6 (OVNDrops)
/// fast-4.14:   the same plus 4.14.6 (reached only by the conditional edge)
/// stable-4.15: 4.14.5 -> 4.15.1 -> 4.15.2, 4.15.0 -> 4.15.1
/// ```
fn test_graph() -> Value {
    let p = |v: &str| fixture_payload(REG, v);
    let n = |v: &'static str, c: &'static str| (v, p(v), c);
    let nodes = [
        n("4.14.1", "fast-4.14,stable-4.14"),
        n("4.14.2", "fast-4.14,stable-4.14"),
        n("4.14.3", "fast-4.14,stable-4.14"),
        n("4.14.4", "fast-4.14,stable-4.14"),
        n("4.14.5", "fast-4.14,stable-4.14,stable-4.15"),
        n("4.14.6", "fast-4.14"),
        n("4.15.0", "stable-4.15"),
        n("4.15.1", "stable-4.15"),
        n("4.15.2", "stable-4.15"),
    ];
    let nodes: Vec<(&str, &str, &str)> =
        nodes.iter().map(|(v, p, c)| (*v, p.as_str(), *c)).collect();
    graph(
        &nodes,
        &[
            ("4.14.1", "4.14.2"),
            ("4.14.1", "4.14.3"),
            ("4.14.2", "4.14.4"),
            ("4.14.3", "4.14.4"),
            ("4.14.4", "4.14.5"),
            ("4.14.5", "4.15.1"),
            ("4.15.0", "4.15.1"),
            ("4.15.1", "4.15.2"),
        ],
        &[
            ("4.14.1", "4.14.5", "AWSOldBootImages"),
            ("4.14.4", "4.14.6", "OVNDrops"),
        ],
    )
}

fn graph_cmd(args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["release", "graph"];
    argv.extend_from_slice(args);
    let out = mirrorctl(argv).output().unwrap();
    let (o, e) = text(&out);
    (out.status.code().unwrap_or(-1), o, e)
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--output", "json"]);
    let (code, out, err) = graph_cmd(&a);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["apiVersion"], "mirrorctl.openshift.io/v1alpha1");
    assert_eq!(v["kind"], "ReleaseGraphReport");
    v
}

fn versions(report: &Value) -> Vec<String> {
    report["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap().to_string())
        .collect()
}

/// Only the required arguments (the channel and, offline, the graph URL): the channel head,
/// asked of the server as the cluster-version operator asks.
#[test]
fn channel_head_from_a_graph_server() {
    let server = GraphServer::start(test_graph());
    let (code, out, err) = graph_cmd(&["--channel", "stable-4.14", "--graph-url", &server.url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "Upgrade graph: {url} (architecture amd64)\n\nChannel stable-4.14: the channel head, 4.14.5\n\nReleases to mirror (1):\n  4.14.5  {p}  (stable-4.14)\n",
            url = server.url,
            p = fixture_payload(REG, "4.14.5")
        )
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/api/upgrades_info/v1/graph");
    assert_eq!(
        reqs[0].query,
        [
            ("channel".to_string(), "stable-4.14".to_string()),
            ("arch".to_string(), "amd64".to_string())
        ]
    );
    assert_eq!(reqs[0].accept.as_deref(), Some("application/json"));
}

#[test]
fn range_full_and_max_only() {
    let server = GraphServer::start(test_graph());
    let url = server.url.as_str();
    let r = json(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        url,
        "--min-version",
        "4.14.2",
        "--max-version",
        "4.14.4",
    ]);
    assert_eq!(versions(&r), ["4.14.2", "4.14.3", "4.14.4"]);
    assert_eq!(r["channels"][0]["mode"], "range");
    assert_eq!(r["releases"][0]["image"], fixture_payload(REG, "4.14.2"));
    assert_eq!(
        r["releases"][0]["channels"],
        serde_json::json!(["stable-4.14"])
    );
    let r = json(&["--channel", "stable-4.14", "--graph-url", url, "--full"]);
    assert_eq!(
        versions(&r),
        ["4.14.1", "4.14.2", "4.14.3", "4.14.4", "4.14.5"]
    );
    // The conditional edge inside the range is listed with its risk.
    let cond = &r["channels"][0]["conditionalEdges"];
    assert_eq!(cond.as_array().unwrap().len(), 1, "{cond}");
    assert_eq!(
        (cond[0]["from"].as_str(), cond[0]["to"].as_str()),
        (Some("4.14.1"), Some("4.14.5"))
    );
    assert_eq!(cond[0]["risks"][0]["name"], "AWSOldBootImages");
    assert_eq!(cond[0]["risks"][0]["matchingRules"][0]["type"], "PromQL");
    let r = json(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        url,
        "--max-version",
        "4.14.2",
    ]);
    assert_eq!(versions(&r), ["4.14.1", "4.14.2"]);
    assert_eq!(
        r["graphs"][0]["origin"],
        format!("{url}?channel=stable-4.14&arch=amd64")
    );
}

/// The shortest path skips the conditional edge and reports it; `--include-conditional`
/// follows it.
#[test]
fn shortest_path_and_conditional_edges() {
    let server = GraphServer::start(test_graph());
    let url = server.url.as_str();
    let (code, out, err) = graph_cmd(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        url,
        "--shortest-path",
        "--min-version",
        "4.14.1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "Channel stable-4.14: the shortest path from 4.14.1 to 4.14.5\n  path: 4.14.1 -> 4.14.3 -> 4.14.4 -> 4.14.5\n  conditional edges (followed only with --include-conditional):\n    4.14.1 -> 4.14.5 [not followed]: AWSOldBootImages (https://issues.redhat.com/browse/AWSOldBootImages)\n"
        ),
        "{out}"
    );
    let r = json(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        url,
        "--shortest-path",
        "--min-version",
        "4.14.1",
        "--include-conditional",
    ]);
    assert_eq!(versions(&r), ["4.14.1", "4.14.5"]);
    let path = &r["channels"][0]["path"];
    assert_eq!(
        path,
        &serde_json::json!([{"from": "4.14.1", "to": "4.14.5", "risks": ["AWSOldBootImages"]}])
    );
    assert_eq!(r["channels"][0]["conditionalEdges"][0]["onPath"], true);
}

/// A path that needs a conditional edge is refused, naming the edge and its risk, before
/// anything is copied; with `--include-conditional` it is followed.
#[test]
fn no_path_names_the_blocking_edge() {
    let server = GraphServer::start(test_graph());
    let url = server.url.as_str();
    let (code, _, err) = graph_cmd(&[
        "--channel",
        "fast-4.14",
        "--graph-url",
        url,
        "--shortest-path",
        "--min-version",
        "4.14.2",
        "--max-version",
        "4.14.6",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: channel `fast-4.14`: no upgrade path from 4.14.2 to 4.14.6 on unconditional edges: it needs the conditional edge 4.14.4 -> 4.14.6 (risks: `OVNDrops`)\nhint: the path needs the conditional edge 4.14.4 -> 4.14.6 (risks: `OVNDrops`): read the risks, then rerun with `--include-conditional` to follow them\n"
    );
    let r = json(&[
        "--channel",
        "fast-4.14",
        "--graph-url",
        url,
        "--shortest-path",
        "--min-version",
        "4.14.2",
        "--max-version",
        "4.14.6",
        "--include-conditional",
    ]);
    assert_eq!(versions(&r), ["4.14.2", "4.14.4", "4.14.6"]);
}

/// A saved graph: the same picks from one whole-graph file, and from a directory of
/// `<arch>-<channel>.json` files (what a bundle's `graph/` holds).
#[test]
fn saved_graph_file_and_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("graph.json");
    std::fs::write(&file, test_graph().to_string()).unwrap();
    let f = file.to_str().unwrap();
    let args = [
        "--channel",
        "stable-4.14",
        "--graph-url",
        f,
        "--shortest-path",
        "--min-version",
        "4.14.1",
    ];
    let r = json(&args);
    assert_eq!(versions(&r), ["4.14.1", "4.14.3", "4.14.4", "4.14.5"]);
    assert_eq!(r["graphSource"], f);
    let server = GraphServer::start(test_graph());
    let mut from_server = args.to_vec();
    from_server[3] = &server.url;
    assert_eq!(versions(&json(&from_server)), versions(&r));
    // A directory of saved channel graphs: the server's own answer, saved.
    let saved = dir.path().join("graph");
    std::fs::create_dir(&saved).unwrap();
    let body = server.get("stable-4.15", "amd64");
    std::fs::write(saved.join("amd64-stable-4.15.json"), body).unwrap();
    let r = json(&[
        "--channel",
        "stable-4.15",
        "--graph-url",
        saved.to_str().unwrap(),
        "--full",
    ]);
    assert_eq!(versions(&r), ["4.14.5", "4.15.0", "4.15.1", "4.15.2"]);
    let (code, _, err) = graph_cmd(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no saved graph for channel `stable-4.14` and architecture `amd64`"),
        "{err}"
    );
    assert!(err.contains("this graph lists `stable-4.15`"), "{err}");
}

/// An ImageSetConfiguration with two channels: each channel's picks plus the path across
/// them, and the additional images.
#[test]
fn imageset_config_with_channels_and_additional_images() {
    let server = GraphServer::start(test_graph());
    let dir = tempfile::tempdir().unwrap();
    let isc = dir.path().join("imageset-config.yaml");
    std::fs::write(
        &isc,
        "kind: ImageSetConfiguration
apiVersion: mirror.openshift.io/v2alpha1
archiveSize: 4
mirror:
  platform:
    channels:
    - name: stable-4.14
      minVersion: 4.14.2
      maxVersion: 4.14.3
    - name: stable-4.15
    graph: false
  additionalImages:
  - name: registry.access.redhat.com/ubi9/ubi:9.4
",
    )
    .unwrap();
    let (code, out, err) = graph_cmd(&[
        "--config",
        isc.to_str().unwrap(),
        "--graph-url",
        &server.url,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Across channels, from 4.14.2 (stable-4.14) to 4.15.2 (stable-4.15):\n  stable-4.14: 4.14.2 -> 4.14.4 -> 4.14.5\n  stable-4.15: 4.14.5 -> 4.15.1 -> 4.15.2\n"),
        "{out}"
    );
    assert!(out.contains("Releases to mirror (6):\n"), "{out}");
    assert!(
        out.contains("\nAdditional images (1):\n  registry.access.redhat.com/ubi9/ubi:9.4\n"),
        "{out}"
    );
    let r = json(&[
        "--config",
        isc.to_str().unwrap(),
        "--graph-url",
        &server.url,
    ]);
    assert_eq!(
        versions(&r),
        ["4.14.2", "4.14.3", "4.14.4", "4.14.5", "4.15.1", "4.15.2"]
    );
    assert_eq!(r["archiveSizeGib"], 4);
    let read: Vec<&str> = r["graphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["channel"].as_str().unwrap())
        .collect();
    assert_eq!(read, ["stable-4.14", "stable-4.15"]);
}

#[test]
fn imageset_config_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let isc = dir.path().join("isc.yaml");
    let head = "kind: ImageSetConfiguration\napiVersion: mirror.openshift.io/v2alpha1\nmirror:\n";
    let table = [
        (
            "  platform:\n    channels:\n    - name: stable-4.14\n  operators:\n  - catalog: registry.redhat.io/redhat/redhat-operator-index:v4.14\n",
            "error: imageset config `ISC`: line 7: `mirror.operators` is not supported yet: operator catalogs are not mirrored yet\nhint: remove `mirror.operators` from the file (or mirror that content with oc-mirror)",
        ),
        (
            "  platform:\n    channels:\n    - name: stable-4.14\n      maxVersoin: 4.14.2\n",
            "error: imageset config `ISC`: line 7 column 7: unknown field `maxVersoin`, expected one of name, type, minVersion, maxVersion, shortestPath, full\nhint: the file is an oc-mirror `ImageSetConfiguration`",
        ),
        (
            "  platform:\n    channels:\n    - name: stable-4.14\n    - name: stable-4.14\n",
            "error: imageset config `ISC`: line 7: `mirror.platform.channels[1]`: channel `stable-4.14` is listed twice",
        ),
    ];
    for (body, want) in table {
        std::fs::write(&isc, format!("{head}{body}")).unwrap();
        let (code, out, err) = graph_cmd(&[
            "--config",
            isc.to_str().unwrap(),
            "--graph-url",
            "/nonexistent-never-read",
        ]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(out, "");
        let want = want.replace("ISC", isc.to_str().unwrap());
        assert!(err.starts_with(&want), "{err}\nwant: {want}");
    }
}

/// Bad input: an unknown channel (the graph's empty answer), a version not in the channel, a
/// minimum above the maximum, bad flags; each refused with the input named and a hint.
#[test]
fn bad_input_is_refused_with_a_hint() {
    let server = GraphServer::start(test_graph());
    let url = server.url.as_str();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "<html>not a graph</html>").unwrap();
    let g = garbage.to_str().unwrap();
    let nope = format!("{url}/nope");
    let table: Vec<(Vec<&str>, i32, String)> = vec![
        (vec!["--channel", "stable-4.99", "--graph-url", url], 2, format!(
            "error: channel `stable-4.99`: the graph `{url}?channel=stable-4.99&arch=amd64` has no release in this channel for architecture `amd64`\nhint: check the channel name and the architecture"
        )),
        (vec!["--channel", "stable-4.14", "--graph-url", url, "--arch", "arm64"], 2,
            "error: channel `stable-4.14`: the graph".to_string()),
        (vec!["--channel", "Stable-4.14", "--graph-url", url], 2,
            "error: channel `Stable-4.14`: not a channel name".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", url, "--min-version", "4.14.0"], 2,
            "error: channel `stable-4.14`: the minimum version `4.14.0` is not in the channel (architecture `amd64`, graph ".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", url, "--max-version", "4.14.9"], 2,
            "hint: the channel holds 4.14.1 to 4.14.5; the nearest are 4.14.5\n".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", url, "--min-version", "4.14.4", "--max-version", "4.14.2"], 2,
            "error: channel `stable-4.14`: the minimum version `4.14.4` is above the maximum `4.14.2`\nhint: the minimum is the version to upgrade from".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", url, "--min-version", "4.14"], 2,
            "error: channel `stable-4.14`: the minimum version `4.14` is not a version: unexpected end of input while parsing minor version number\nhint: versions are written in full".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", g], 1, format!(
            "error: upgrade graph `{g}`: expected value at line 1 column 1\nhint: a graph is Cincinnati JSON"
        )),
        (vec!["--channel", "stable-4.14", "--graph-url", "ftp://g.example/graph"], 2,
            "error: invalid setting `graph`: `ftp://g.example/graph`: a graph is read over `http://` or `https://`, or from a file path".to_string()),
        (vec!["--channel", "stable-4.14", "--graph-url", &nope], 1, format!(
            "error: upgrade graph `{url}/nope?channel=stable-4.14&arch=amd64`: the server answered 404\nhint: check `--graph-url`: give a graph API endpoint"
        )),
        (vec!["--graph-url", url], 2, "error: nothing to show: give `--channel NAME` or `--config FILE`".to_string()),
    ];
    for (args, code, want) in table {
        let (got, out, err) = graph_cmd(&args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(&want), "{args:?}:\n{err}\nwant: {want}");
    }
    // Flags for one channel make no sense with an ImageSetConfiguration: clap says so.
    let (code, _, err) = graph_cmd(&["--config", "isc.yaml", "--channel", "stable-4.14"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}

/// The graph server's own error is quoted (`kind: value`); transient failures are retried.
#[test]
fn server_errors_are_quoted_and_retried() {
    let server = GraphServer::start(test_graph());
    server.fail_next(2);
    let r = json(&["--channel", "stable-4.15", "--graph-url", &server.url]);
    assert_eq!(versions(&r), ["4.15.2"]);
    assert_eq!(server.requests().len(), 3, "two failures, then the answer");
    server.fail_next(10);
    let (code, _, err) = graph_cmd(&["--channel", "stable-4.15", "--graph-url", &server.url]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: upgrade graph `{}?channel=stable-4.15&arch=amd64`: the server answered 500: failed_upstream_fetch: failed to fetch upstream graph: upstream timed out (after 4 tries)\nhint: check the URL and the proxy settings",
            server.url
        )),
        "{err}"
    );
    assert!(
        err.contains("pass it with `--graph-url graph.json`"),
        "{err}"
    );
}

/// An HTTPS graph URL whose certificate comes from a private CA: refused with the CA hint,
/// then reached with `--ca-file` (the real registry answers `/v2/`, which is no graph).
#[test]
fn https_graph_url_trusts_ca_files() {
    let reg = TestRegistry::start_with(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    let url = format!("https://{}/v2/", reg.host);
    let (code, _, err) = graph_cmd(&["--channel", "stable-4.14", "--graph-url", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the server certificate is signed by an unknown CA"),
        "{err}"
    );
    assert!(err.contains("pass that CA with `--ca-file PEM`"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, reg.ca_pem.as_ref().unwrap()).unwrap();
    let (code, _, err) = graph_cmd(&[
        "--channel",
        "stable-4.14",
        "--graph-url",
        &url,
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("missing field `nodes`"), "{err}");
}
