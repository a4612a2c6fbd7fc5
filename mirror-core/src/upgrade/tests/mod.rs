//! Picking releases from a graph: every rule and every refusal, on one graph of five
//! channels; planning several channels; reading ImageSetConfiguration files.

mod imageset;
mod plan;

use semver::Version;

use super::fetch::ChannelGraph;
use super::graph::Graph;
use super::select::{ChannelRequest, ChannelSelection, select_channel};

/// ```text
/// candidate-4.14: 4.14.0
/// fast-4.14:      4.14.1 .. 4.14.7      stable-4.14: 4.14.1 .. 4.14.6
///   4.14.1 -> 4.14.2, 4.14.3;  4.14.2, 4.14.3 -> 4.14.4;  4.14.4, 4.14.5 -> 4.14.6
///   conditional: 4.14.1 -> 4.14.6 (BugA), 4.14.4 -> 4.14.5 (BugB); 4.14.7 has no way in
/// stable-4.15: 4.14.6, 4.15.0 .. 4.15.2   4.14.6, 4.15.0 -> 4.15.1 -> 4.15.2
/// stable-4.16: 4.15.2, 4.16.0, 4.16.1     4.15.2, 4.16.0 -> 4.16.1
/// ```
pub(super) fn graph_json() -> String {
    let nodes = [
        ("4.14.1", "fast-4.14,stable-4.14"),
        ("4.14.2", "fast-4.14,stable-4.14"),
        ("4.14.3", "fast-4.14,stable-4.14"),
        ("4.14.4", "fast-4.14,stable-4.14"),
        ("4.14.5", "fast-4.14,stable-4.14"),
        ("4.14.6", "fast-4.14,stable-4.14,stable-4.15"),
        ("4.14.7", "fast-4.14"),
        ("4.15.0", "stable-4.15"),
        ("4.15.1", "stable-4.15"),
        ("4.15.2", "stable-4.15,stable-4.16"),
        ("4.16.0", "stable-4.16"),
        ("4.16.1", "stable-4.16"),
        ("4.14.0", "candidate-4.14"),
    ];
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|(v, c)| {
            serde_json::json!({
                "version": v,
                "payload": format!("quay.io/openshift-release-dev/ocp-release:{v}-x86_64"),
                "metadata": { "io.openshift.upgrades.graph.release.channels": c },
            })
        })
        .collect();
    serde_json::json!({
        "nodes": nodes,
        "edges": [[0,1],[0,2],[1,3],[2,3],[3,5],[4,5],[5,8],[7,8],[8,9],[9,11],[10,11],[12,0]],
        "conditionalEdges": [
            {"edges":[{"from":"4.14.1","to":"4.14.6"}],
             "risks":[{"url":"https://bug/a","name":"BugA","message":"A breaks","matchingRules":[{"type":"Always"}]}]},
            {"edges":[{"from":"4.14.4","to":"4.14.5"}],
             "risks":[{"url":"https://bug/b","name":"BugB","message":"B breaks","matchingRules":[{"type":"PromQL","promql":{"promql":"max(b)"}}]}]}
        ]
    })
    .to_string()
}

fn channel(name: &str) -> ChannelGraph {
    let g = Graph::parse(graph_json().as_bytes(), "g.json").unwrap();
    let graph = g.for_channel(name);
    ChannelGraph {
        channel: name.into(),
        arch: "amd64".into(),
        origin: "g.json".into(),
        json: graph.to_json(),
        graph,
    }
}

pub(super) fn v(s: &str) -> Option<Version> {
    (!s.is_empty()).then(|| Version::parse(s).unwrap())
}

/// A selection in one line: `mode min..max: releases | path | conditional edges (* on path)`.
fn summary(s: &ChannelSelection) -> String {
    let rel: Vec<String> = s.releases.iter().map(|r| r.version.to_string()).collect();
    let path: Vec<String> = s
        .path
        .iter()
        .map(|h| {
            if h.risks.is_empty() {
                format!("{}->{}", h.from, h.to)
            } else {
                format!("{}->{}[{}]", h.from, h.to, h.risks.join(","))
            }
        })
        .collect();
    let cond: Vec<String> = s
        .conditional_edges
        .iter()
        .map(|c| {
            let names: Vec<&str> = c.risks.iter().map(|r| r.name.as_str()).collect();
            format!(
                "{}->{}[{}]{}",
                c.from,
                c.to,
                names.join(","),
                if c.on_path { "*" } else { "" }
            )
        })
        .collect();
    format!(
        "{:?} {}..{}: {} | {} | {}",
        s.mode,
        s.min_version,
        s.max_version,
        rel.join(" "),
        path.join(" "),
        cond.join(" ")
    )
}

#[test]
fn picks_as_oc_mirror_does() {
    // (channel, min, max, shortest path, full, include conditional, summary)
    let table = [
        (
            "stable-4.14",
            "",
            "",
            false,
            false,
            false,
            "ChannelHead 4.14.6..4.14.6: 4.14.6 |  | ",
        ),
        (
            "stable-4.14",
            "",
            "",
            true,
            false,
            false,
            "ChannelHead 4.14.6..4.14.6: 4.14.6 |  | ",
        ),
        (
            "stable-4.14",
            "",
            "",
            false,
            true,
            false,
            "Range 4.14.1..4.14.6: 4.14.1 4.14.2 4.14.3 4.14.4 4.14.5 4.14.6 |  | 4.14.1->4.14.6[BugA] 4.14.4->4.14.5[BugB]",
        ),
        (
            "stable-4.14",
            "4.14.2",
            "4.14.5",
            false,
            false,
            false,
            "Range 4.14.2..4.14.5: 4.14.2 4.14.3 4.14.4 4.14.5 |  | 4.14.4->4.14.5[BugB]",
        ),
        // max only: min is the oldest of the channel.
        (
            "stable-4.14",
            "",
            "4.14.4",
            false,
            false,
            false,
            "Range 4.14.1..4.14.4: 4.14.1 4.14.2 4.14.3 4.14.4 |  | ",
        ),
        // min only: max is the newest.
        (
            "fast-4.14",
            "4.14.5",
            "",
            false,
            false,
            false,
            "Range 4.14.5..4.14.7: 4.14.5 4.14.6 4.14.7 |  | ",
        ),
        // Newest destination first: 4.14.3 before 4.14.2.
        (
            "stable-4.14",
            "4.14.1",
            "4.14.6",
            true,
            false,
            false,
            "ShortestPath 4.14.1..4.14.6: 4.14.1 4.14.3 4.14.4 4.14.6 | 4.14.1->4.14.3 4.14.3->4.14.4 4.14.4->4.14.6 | 4.14.1->4.14.6[BugA] 4.14.4->4.14.5[BugB]",
        ),
        (
            "stable-4.14",
            "4.14.1",
            "4.14.6",
            true,
            false,
            true,
            "ShortestPath 4.14.1..4.14.6: 4.14.1 4.14.6 | 4.14.1->4.14.6[BugA] | 4.14.1->4.14.6[BugA]* 4.14.4->4.14.5[BugB]",
        ),
        (
            "stable-4.14",
            "4.14.1",
            "4.14.5",
            true,
            false,
            true,
            "ShortestPath 4.14.1..4.14.5: 4.14.1 4.14.3 4.14.4 4.14.5 | 4.14.1->4.14.3 4.14.3->4.14.4 4.14.4->4.14.5[BugB] | 4.14.4->4.14.5[BugB]*",
        ),
        (
            "stable-4.14",
            "4.14.3",
            "4.14.3",
            true,
            false,
            false,
            "ShortestPath 4.14.3..4.14.3: 4.14.3 |  | ",
        ),
        // Build metadata is ignored when matching versions.
        (
            "stable-4.15",
            "4.14.6+amd64",
            "4.15.2",
            true,
            false,
            false,
            "ShortestPath 4.14.6..4.15.2: 4.14.6 4.15.1 4.15.2 | 4.14.6->4.15.1 4.15.1->4.15.2 | ",
        ),
    ];
    for (ch, min, max, sp, full, incl, want) in table {
        let req = ChannelRequest {
            name: ch.into(),
            min_version: v(min),
            max_version: v(max),
            shortest_path: sp,
            full,
        };
        let s = select_channel(&channel(ch), &req, incl)
            .unwrap_or_else(|e| panic!("{ch} {min}..{max}: {e}"));
        assert_eq!(
            summary(&s),
            want,
            "{ch} {min}..{max} sp={sp} full={full} incl={incl}"
        );
        assert!(s.warnings.is_empty());
    }
}

#[test]
fn refuses_bad_versions_and_missing_paths() {
    // (channel, min, max, shortest path, include conditional, error, hint)
    let table = [
        (
            "stable-4.14",
            "4.14.5",
            "4.14.2",
            false,
            false,
            "channel `stable-4.14`: the minimum version `4.14.5` is above the maximum `4.14.2`",
            "swap them",
        ),
        (
            "stable-4.14",
            "4.14.0",
            "",
            false,
            false,
            "channel `stable-4.14`: the minimum version `4.14.0` is not in the channel (architecture `amd64`, graph `g.json`)",
            "the channel holds 4.14.1 to 4.14.6; the nearest are 4.14.1",
        ),
        (
            "stable-4.14",
            "",
            "4.14.99",
            false,
            false,
            "channel `stable-4.14`: the maximum version `4.14.99` is not in the channel (architecture `amd64`, graph `g.json`)",
            "the channel holds 4.14.1 to 4.14.6; the nearest are 4.14.6",
        ),
        (
            "fast-4.14",
            "4.14.2",
            "4.14.99",
            true,
            false,
            "channel `fast-4.14`: the maximum version `4.14.99` is not in the channel (architecture `amd64`, graph `g.json`)",
            "the nearest are 4.14.7",
        ),
        (
            "stable-4.15",
            "",
            "4.14.7",
            false,
            false,
            "channel `stable-4.15`: the maximum version `4.14.7` is not in the channel (architecture `amd64`, graph `g.json`)",
            "the nearest are 4.14.6, 4.15.0",
        ),
        (
            "stable-4.14",
            "4.14.1",
            "4.14.5",
            true,
            false,
            "channel `stable-4.14`: no upgrade path from 4.14.1 to 4.14.5 on unconditional edges: it needs the conditional edge 4.14.4 -> 4.14.5 (risks: `BugB`)",
            "the path needs the conditional edge 4.14.4 -> 4.14.5 (risks: `BugB`): read the risks, then allow conditional edges",
        ),
        (
            "fast-4.14",
            "4.14.1",
            "4.14.7",
            true,
            false,
            "channel `fast-4.14`: no upgrade path from 4.14.1 to 4.14.7 on unconditional edges: from 4.14.1 the graph reaches at most 4.14.6",
            "the newest version reachable from the start is 4.14.6",
        ),
        (
            "fast-4.14",
            "4.14.6",
            "4.14.7",
            true,
            true,
            "channel `fast-4.14`: no upgrade path from 4.14.6 to 4.14.7 on its edges: 4.14.6 has no update on its edges in this channel",
            "pick versions the graph joins",
        ),
    ];
    for (ch, min, max, sp, incl, want, hint) in table {
        let req = ChannelRequest {
            name: ch.into(),
            min_version: v(min),
            max_version: v(max),
            shortest_path: sp,
            full: false,
        };
        let e = select_channel(&channel(ch), &req, incl).unwrap_err();
        assert_eq!(e.to_string(), want);
        let h = e.hint().expect("a hint").to_string();
        assert!(h.contains(hint), "{want}\nhint: {h}");
    }
}

#[test]
fn eus_channels_spanning_minors_get_a_warning() {
    let json = r#"{"nodes":[
        {"version":"4.14.9","payload":"q.io/r:a","metadata":{"io.openshift.upgrades.graph.release.channels":"eus-4.16"}},
        {"version":"4.15.3","payload":"q.io/r:b","metadata":{"io.openshift.upgrades.graph.release.channels":"eus-4.16"}},
        {"version":"4.16.1","payload":"q.io/r:c","metadata":{"io.openshift.upgrades.graph.release.channels":"eus-4.16"}}],
        "edges":[[0,1],[1,2]]}"#;
    let graph = Graph::parse(json.as_bytes(), "eus.json").unwrap();
    let cg = ChannelGraph {
        channel: "eus-4.16".into(),
        arch: "amd64".into(),
        origin: "eus.json".into(),
        json: Vec::new(),
        graph,
    };
    let mut req = ChannelRequest {
        name: "eus-4.16".into(),
        min_version: v("4.14.9"),
        max_version: v("4.16.1"),
        shortest_path: true,
        full: false,
    };
    let s = select_channel(&cg, &req, false).unwrap();
    assert_eq!(s.releases.len(), 3);
    assert_eq!(
        s.warnings,
        [
            "`eus-4.16` is an Extended Update Support channel spanning 2 minor versions: check the EUS-to-EUS path with the update path tool (https://access.redhat.com/labs/ocpupgradegraph/update_path)"
        ]
    );
    req.min_version = v("4.15.3");
    assert!(
        select_channel(&cg, &req, false)
            .unwrap()
            .warnings
            .is_empty()
    );
}
