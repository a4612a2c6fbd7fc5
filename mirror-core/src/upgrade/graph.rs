//! The upgrade graph as the graph API serves it (Cincinnati JSON): nodes, edges, conditional
//! edges with their risks; parsing and the view of one channel.
//!
//! The shape is the one `openshift/cincinnati` documents (`docs/design/cincinnati.md`, "Graph
//! API") and the cluster-version operator reads: `nodes[]` (`version`, `payload`,
//! `metadata`), `edges[]` as `[from, to]` indexes into `nodes`, and `conditionalEdges[]`, each
//! a set of `{from, to}` versions sharing `risks[]`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The node metadata key listing the channels a release is in (comma-separated).
pub const CHANNELS_KEY: &str = "io.openshift.upgrades.graph.release.channels";
/// The node metadata key naming a release's architecture (`multi` for multi-arch payloads).
pub const ARCHITECTURE_KEY: &str = "release.openshift.io/architecture";

/// An upgrade graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// The releases.
    pub nodes: Vec<Node>,
    /// Recommended updates, `[from, to]` as indexes into `nodes`.
    pub edges: Vec<[usize; 2]>,
    /// Updates recommended only when their risks do not apply to a cluster.
    pub conditional_edges: Vec<ConditionalEdges>,
}

/// A release in the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Its version.
    pub version: Version,
    /// Its release image (usually by digest).
    pub payload: String,
    /// Opaque metadata; see [`CHANNELS_KEY`] and [`ARCHITECTURE_KEY`].
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl Node {
    /// The channels this release is listed in, from its metadata.
    pub fn channels(&self) -> Vec<String> {
        self.metadata
            .get(CHANNELS_KEY)
            .and_then(serde_json::Value::as_str)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The architecture the metadata names, when it names one.
    pub fn architecture(&self) -> Option<&str> {
        self.metadata
            .get(ARCHITECTURE_KEY)
            .and_then(serde_json::Value::as_str)
    }

    /// The metadata `url` (the errata), when there is one.
    pub fn url(&self) -> Option<&str> {
        self.metadata.get("url").and_then(serde_json::Value::as_str)
    }
}

/// Updates that share a set of risks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionalEdges {
    /// The updates, by version.
    pub edges: Vec<EdgeVersions>,
    /// Why they are conditional.
    #[serde(default)]
    pub risks: Vec<Risk>,
}

/// An update named by its versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeVersions {
    /// The version updated from.
    pub from: String,
    /// The version updated to.
    pub to: String,
}

/// A known risk of an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// Its short name, e.g. `AWSOldBootImages`.
    pub name: String,
    /// Where it is explained.
    #[serde(default)]
    pub url: String,
    /// What it is.
    #[serde(default)]
    pub message: String,
    /// Which clusters it applies to.
    #[serde(default)]
    pub matching_rules: Vec<MatchingRule>,
}

/// A rule saying which clusters a risk applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchingRule {
    /// `Always` or `PromQL`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The query, for `PromQL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promql: Option<PromQlRule>,
}

/// A PromQL matching rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromQlRule {
    /// The query; the risk applies when it returns 1.
    pub promql: String,
}

/// The JSON as served, before versions are checked.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGraph {
    nodes: Vec<RawNode>,
    #[serde(default)]
    edges: Vec<(usize, usize)>,
    #[serde(default)]
    conditional_edges: Vec<ConditionalEdges>,
}

#[derive(Deserialize)]
struct RawNode {
    version: String,
    payload: String,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

impl Graph {
    /// Parses Cincinnati JSON; `origin` (the URL or file) is only used in messages.
    ///
    /// Refused: JSON that does not parse or lacks `nodes`, a version that is not semantic, a
    /// version listed twice, an edge index out of range.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::GraphInvalid {
            origin: origin.to_string(),
            reason,
        };
        let raw: RawGraph = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let mut nodes = Vec::with_capacity(raw.nodes.len());
        let mut seen = HashMap::new();
        for (i, n) in raw.nodes.into_iter().enumerate() {
            let version = Version::parse(&n.version).map_err(|e| {
                bad(format!(
                    "node {i}: version `{}` is not a semantic version: {e}",
                    n.version
                ))
            })?;
            if let Some(first) = seen.insert(precedence_key(&version), i) {
                return Err(bad(format!(
                    "nodes {first} and {i} both have version `{version}`"
                )));
            }
            nodes.push(Node {
                version,
                payload: n.payload,
                metadata: n.metadata,
            });
        }
        for &(from, to) in &raw.edges {
            if from >= nodes.len() || to >= nodes.len() {
                return Err(bad(format!(
                    "edge [{from}, {to}] names a node index out of range (the graph has {} nodes)",
                    nodes.len()
                )));
            }
        }
        Ok(Self {
            nodes,
            edges: raw.edges.into_iter().map(|(a, b)| [a, b]).collect(),
            conditional_edges: raw.conditional_edges,
        })
    }

    /// This graph as JSON (the shape [`Graph::parse`] reads).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a graph always serializes")
    }

    /// The part of the graph in `channel`, as the graph API's channel filter makes it: the
    /// nodes whose metadata lists the channel, the edges between them, and the conditional
    /// edges between them (an entry left without edges is dropped).
    pub fn for_channel(&self, channel: &str) -> Graph {
        let mut index = vec![None; self.nodes.len()];
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.channels().iter().any(|c| c == channel) {
                index[i] = Some(nodes.len());
                nodes.push(n.clone());
            }
        }
        let edges = self
            .edges
            .iter()
            .filter_map(|[a, b]| Some([index[*a]?, index[*b]?]))
            .collect();
        let kept: BTreeSet<String> = nodes.iter().map(|n| n.version.to_string()).collect();
        let conditional_edges = self
            .conditional_edges
            .iter()
            .filter_map(|ce| {
                let edges: Vec<EdgeVersions> = ce
                    .edges
                    .iter()
                    .filter(|e| kept.contains(&e.from) && kept.contains(&e.to))
                    .cloned()
                    .collect();
                (!edges.is_empty()).then(|| ConditionalEdges {
                    edges,
                    risks: ce.risks.clone(),
                })
            })
            .collect();
        Graph {
            nodes,
            edges,
            conditional_edges,
        }
    }

    /// Every channel some node lists, sorted.
    pub fn channels(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.nodes.iter().flat_map(|n| n.channels()).collect();
        set.into_iter().collect()
    }

    /// The index of the node with `version` (build metadata ignored, as semver precedence
    /// does).
    pub fn find(&self, version: &Version) -> Option<usize> {
        let key = precedence_key(version);
        self.nodes
            .iter()
            .position(|n| precedence_key(&n.version) == key)
    }

    /// Node indexes sorted by version, oldest first.
    pub fn sorted(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.nodes.len()).collect();
        idx.sort_by(|a, b| {
            self.nodes[*a]
                .version
                .cmp_precedence(&self.nodes[*b].version)
        });
        idx
    }
}

/// A version without its build metadata, which semver precedence ignores.
pub(crate) fn precedence_key(v: &Version) -> Version {
    let mut k = v.clone();
    k.build = semver::BuildMetadata::EMPTY;
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"{
      "nodes": [
        {"version":"4.14.2","payload":"q.io/r@sha256:2","metadata":{"io.openshift.upgrades.graph.release.channels":"fast-4.14,stable-4.14","url":"https://errata/2"}},
        {"version":"4.14.1","payload":"q.io/r@sha256:1","metadata":{"io.openshift.upgrades.graph.release.channels":"candidate-4.14, fast-4.14"}},
        {"version":"4.14.3","payload":"q.io/r@sha256:3","metadata":{"io.openshift.upgrades.graph.release.channels":"stable-4.14","release.openshift.io/architecture":"multi"}}
      ],
      "edges": [[1,0],[0,2],[1,2]],
      "conditionalEdges": [
        {"edges":[{"from":"4.14.1","to":"4.14.3"},{"from":"4.14.2","to":"4.14.3"}],
         "risks":[{"url":"https://bug/1","name":"BugA","message":"breaks A",
                   "matchingRules":[{"type":"PromQL","promql":{"promql":"max(x)"}},{"type":"Always"}]}]}
      ]
    }"#;

    #[test]
    fn parses_nodes_edges_risks_and_metadata() {
        let g = Graph::parse(GRAPH.as_bytes(), "g.json").unwrap();
        assert_eq!(g.nodes.len(), 3);
        assert_eq!(g.nodes[1].channels(), ["candidate-4.14", "fast-4.14"]);
        assert_eq!(g.nodes[2].architecture(), Some("multi"));
        assert_eq!(g.nodes[0].url(), Some("https://errata/2"));
        assert_eq!(g.edges, [[1, 0], [0, 2], [1, 2]]);
        let risk = &g.conditional_edges[0].risks[0];
        assert_eq!(
            (risk.name.as_str(), risk.url.as_str(), risk.message.as_str()),
            ("BugA", "https://bug/1", "breaks A")
        );
        assert_eq!(
            risk.matching_rules,
            [
                MatchingRule {
                    kind: "PromQL".into(),
                    promql: Some(PromQlRule {
                        promql: "max(x)".into()
                    })
                },
                MatchingRule {
                    kind: "Always".into(),
                    promql: None
                }
            ]
        );
        assert_eq!(g.channels(), ["candidate-4.14", "fast-4.14", "stable-4.14"]);
        assert_eq!(g.sorted(), [1, 0, 2]);
        assert_eq!(g.find(&Version::parse("4.14.3+amd64").unwrap()), Some(2));
        // What is written reads back the same.
        assert_eq!(Graph::parse(&g.to_json(), "again").unwrap(), g);
    }

    #[test]
    fn channel_view_keeps_its_nodes_edges_and_conditional_edges() {
        let g = Graph::parse(GRAPH.as_bytes(), "g.json").unwrap();
        let fast = g.for_channel("fast-4.14");
        let versions: Vec<String> = fast.nodes.iter().map(|n| n.version.to_string()).collect();
        assert_eq!(versions, ["4.14.2", "4.14.1"]);
        assert_eq!(fast.edges, [[1, 0]]);
        assert!(fast.conditional_edges.is_empty());
        let stable = g.for_channel("stable-4.14");
        assert_eq!(stable.nodes.len(), 2);
        assert_eq!(stable.edges, [[0, 1]]);
        assert_eq!(
            stable.conditional_edges[0].edges,
            [EdgeVersions {
                from: "4.14.2".into(),
                to: "4.14.3".into()
            }]
        );
        assert!(g.for_channel("eus-4.14").nodes.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_graph() {
        let table = [
            (
                "{",
                "upgrade graph `f`: EOF while parsing an object at line 1 column 1",
            ),
            (
                r#"{"kind":"invalid_params","value":"bad"}"#,
                "upgrade graph `f`: missing field `nodes` at line 1 column 39",
            ),
            (
                r#"{"nodes":[{"version":"4.14","payload":"p"}]}"#,
                "upgrade graph `f`: node 0: version `4.14` is not a semantic version: unexpected end of input while parsing minor version number",
            ),
            (
                r#"{"nodes":[{"version":"4.14.1","payload":"p"},{"version":"4.14.1+x","payload":"q"}]}"#,
                "upgrade graph `f`: nodes 0 and 1 both have version `4.14.1+x`",
            ),
            (
                r#"{"nodes":[{"version":"4.14.1","payload":"p"}],"edges":[[0,1]]}"#,
                "upgrade graph `f`: edge [0, 1] names a node index out of range (the graph has 1 nodes)",
            ),
            (
                r#"{"nodes":[],"edges":[[0]]}"#,
                "upgrade graph `f`: invalid length 1, expected a tuple of size 2 at line 1 column 24",
            ),
        ];
        for (json, want) in table {
            let e = Graph::parse(json.as_bytes(), "f").unwrap_err();
            assert_eq!(e.to_string(), want, "{json}");
            assert_eq!(e.hint(), Some(crate::Hint::GraphFormat));
        }
    }
}
