//! What a bundle keeps of how its releases were picked: the upgrade graph of every channel
//! read (`graph/<arch>-<channel>.json`, the JSON as fetched), the ImageSetConfiguration it
//! was made from (`imageset-config.yaml`), and a summary of the plan in the metadata, so the
//! disconnected side shows the same plan (`bundle info`) and can compute it again offline
//! (the `graph/` directory is a graph source of its own).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::upgrade::UpgradePlan;
use crate::upgrade::select::{ChannelSelection, SelectionMode};

/// Where a bundle keeps the upgrade graphs its releases were picked from, one file per
/// channel and architecture, named `<arch>-<channel>.json` (a directory
/// [`GraphSource::Dir`](crate::upgrade::GraphSource::Dir) reads).
pub const GRAPH_DIR: &str = "graph";
/// The copy of the ImageSetConfiguration a bundle was made from.
pub const IMAGESET_FILE: &str = "imageset-config.yaml";

/// How a bundle's releases were picked (in `mirrorctl-bundle.json`, `upgrade`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BundleUpgrade {
    /// The graph's architecture (`amd64`, ...).
    pub arch: String,
    /// Where the graphs were read on the connected side (a URL or a path); none when no
    /// channel was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_source: Option<String>,
    /// Conditional edges were followed (accepting their risks).
    #[serde(default)]
    pub include_conditional: bool,
    /// The ImageSetConfiguration's copy in the bundle ([`IMAGESET_FILE`]), when the bundle
    /// was made from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_set: Option<String>,
    /// What each channel picked, in request order.
    #[serde(default)]
    pub channels: Vec<BundleChannel>,
    /// With several channels: the path across them, one line per channel walked
    /// (`stable-4.14: 4.14.1 -> 4.14.2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_channel: Vec<String>,
    /// The graphs saved, in the order read.
    #[serde(default)]
    pub graphs: Vec<BundleGraph>,
}

/// What one channel picked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BundleChannel {
    /// The channel, e.g. `stable-4.14`.
    pub name: String,
    /// `channelHead`, `range` or `shortestPath`.
    pub mode: String,
    /// The minimum, as given or resolved.
    pub min_version: String,
    /// The maximum, as given or resolved.
    pub max_version: String,
    /// The releases picked, oldest first.
    pub versions: Vec<String>,
    /// The upgrade path from the minimum to the maximum, for a shortest path
    /// (`4.14.1 -> 4.14.2`, conditional hops with their risks in brackets).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Conditional edges between the releases (`4.14.1 -> 4.14.2: RiskName`), reported so
    /// their risks are known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditional_edges: Vec<String>,
}

/// A saved graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BundleGraph {
    /// The channel.
    pub channel: String,
    /// The architecture.
    pub arch: String,
    /// Where it was read on the connected side (the URL with its query, or the file).
    pub origin: String,
    /// Its path in the bundle (`graph/amd64-stable-4.14.json`); listed with its sha256 in
    /// the metadata's `files` too.
    pub file: String,
    /// sha256 of its bytes (hex).
    pub sha256: String,
}

impl BundleUpgrade {
    /// The record of `plan` (when channels were asked for) and of an ImageSetConfiguration
    /// (`image_set`, its copy's name in the bundle). `include_conditional` is as asked.
    pub(crate) fn new(plan: Option<&UpgradePlan>, image_set: Option<String>) -> Self {
        let Some(p) = plan else {
            return Self {
                arch: crate::upgrade::fetch::DEFAULT_ARCH.into(),
                graph_source: None,
                include_conditional: false,
                image_set,
                channels: Vec::new(),
                cross_channel: Vec::new(),
                graphs: Vec::new(),
            };
        };
        let cross_channel = p
            .cross_channel
            .iter()
            .flat_map(|c| &c.steps)
            .map(|s| {
                let v: Vec<String> = s.releases.iter().map(|r| r.version.to_string()).collect();
                format!("{}: {}", s.channel, v.join(" -> "))
            })
            .collect();
        Self {
            arch: p.arch.clone(),
            graph_source: (!p.graphs.is_empty()).then(|| p.graph_source.clone()),
            include_conditional: p.include_conditional,
            image_set,
            channels: p.channels.iter().map(channel).collect(),
            cross_channel,
            graphs: p
                .graphs
                .iter()
                .map(|g| BundleGraph {
                    channel: g.channel.clone(),
                    arch: g.arch.clone(),
                    origin: g.origin.clone(),
                    file: format!("{GRAPH_DIR}/{}", g.file_name()),
                    sha256: crate::digest::Digest::of(&g.json).hex().to_string(),
                })
                .collect(),
        }
    }
}

fn channel(s: &ChannelSelection) -> BundleChannel {
    let mode = match s.mode {
        SelectionMode::ChannelHead => "channelHead",
        SelectionMode::Range => "range",
        SelectionMode::ShortestPath => "shortestPath",
    };
    let path = if s.mode == SelectionMode::ShortestPath {
        let mut parts = vec![s.min_version.to_string()];
        for h in &s.path {
            if h.risks.is_empty() {
                parts.push(h.to.to_string());
            } else {
                parts.push(format!("{} [conditional: {}]", h.to, h.risks.join(", ")));
            }
        }
        parts.join(" -> ")
    } else {
        String::new()
    };
    BundleChannel {
        name: s.channel.clone(),
        mode: mode.into(),
        min_version: s.min_version.to_string(),
        max_version: s.max_version.to_string(),
        versions: s.releases.iter().map(|r| r.version.to_string()).collect(),
        path,
        conditional_edges: s
            .conditional_edges
            .iter()
            .map(|c| {
                let risks: Vec<&str> = c.risks.iter().map(|r| r.name.as_str()).collect();
                if risks.is_empty() {
                    format!("{} -> {}", c.from, c.to)
                } else {
                    format!("{} -> {}: {}", c.from, c.to, risks.join(", "))
                }
            })
            .collect(),
    }
}

/// The files to write into the bundle for `plan` and `image_set` (relative name, bytes):
/// each graph as read, and the ImageSetConfiguration's bytes as given.
pub(crate) fn upgrade_files(
    plan: Option<&UpgradePlan>,
    image_set: Option<&Path>,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for g in plan.map(|p| p.graphs.as_slice()).unwrap_or_default() {
        out.push((format!("{GRAPH_DIR}/{}", g.file_name()), g.json.clone()));
    }
    if let Some(p) = image_set {
        let bytes = std::fs::read(p).map_err(|e| Error::io("read imageset config", p, e))?;
        out.push((IMAGESET_FILE.to_string(), bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use semver::Version;

    use super::*;
    use crate::upgrade::select::{ConditionalHop, Hop, PickedRelease};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn a_selection_is_recorded_with_its_path_and_conditional_edges() {
        let picked = |s: &str| PickedRelease {
            version: v(s),
            payload: format!("quay.io/x/r:{s}"),
        };
        let sel = ChannelSelection {
            channel: "stable-4.14".into(),
            arch: "amd64".into(),
            mode: SelectionMode::ShortestPath,
            min_version: v("4.14.1"),
            max_version: v("4.14.5"),
            releases: vec![picked("4.14.1"), picked("4.14.3"), picked("4.14.5")],
            path: vec![
                Hop {
                    from: v("4.14.1"),
                    to: v("4.14.3"),
                    risks: Vec::new(),
                },
                Hop {
                    from: v("4.14.3"),
                    to: v("4.14.5"),
                    risks: vec!["AWSOldBootImages".into()],
                },
            ],
            conditional_edges: vec![ConditionalHop {
                from: v("4.14.3"),
                to: v("4.14.5"),
                risks: Vec::new(),
                on_path: true,
            }],
            warnings: Vec::new(),
        };
        assert_eq!(
            channel(&sel),
            BundleChannel {
                name: "stable-4.14".into(),
                mode: "shortestPath".into(),
                min_version: "4.14.1".into(),
                max_version: "4.14.5".into(),
                versions: vec!["4.14.1".into(), "4.14.3".into(), "4.14.5".into()],
                path: "4.14.1 -> 4.14.3 -> 4.14.5 [conditional: AWSOldBootImages]".into(),
                conditional_edges: vec!["4.14.3 -> 4.14.5".into()],
            }
        );
        let range = ChannelSelection {
            mode: SelectionMode::Range,
            path: Vec::new(),
            conditional_edges: Vec::new(),
            ..sel
        };
        let c = channel(&range);
        assert_eq!((c.mode.as_str(), c.path.as_str()), ("range", ""));
    }

    #[test]
    fn without_channels_only_the_image_set_is_recorded() {
        let u = BundleUpgrade::new(None, Some(IMAGESET_FILE.into()));
        assert_eq!(u.graph_source, None);
        assert!(u.graphs.is_empty() && u.channels.is_empty());
        assert_eq!(u.image_set.as_deref(), Some("imageset-config.yaml"));
        let dir = tempfile::tempdir().unwrap();
        let isc = dir.path().join("isc.yaml");
        std::fs::write(&isc, b"kind: ImageSetConfiguration\n").unwrap();
        assert_eq!(
            upgrade_files(None, Some(&isc)).unwrap(),
            vec![(
                IMAGESET_FILE.to_string(),
                b"kind: ImageSetConfiguration\n".to_vec()
            )]
        );
        let missing = dir.path().join("nope.yaml");
        assert!(
            upgrade_files(None, Some(&missing))
                .unwrap_err()
                .to_string()
                .contains("nope.yaml")
        );
    }
}
