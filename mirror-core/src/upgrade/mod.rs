//! A cluster's life: the releases to mirror for its upgrades, picked from the upgrade graph
//! (channels, versions, paths, conditional edges), an ImageSetConfiguration's releases and
//! additional images, and what a cluster needs to use them (update images, ImageTagMirrorSet).
//!
//! [`plan_upgrade`] is the one call a mirroring engine makes: from channel requests (flags or
//! an [`ImageSetConfig`]) and a [`GraphClient`] to an [`UpgradePlan`] listing every release
//! (version, release image, channels), the paths, the conditional edges not followed, the
//! additional images, and the graphs read (to save beside a mirror on disk). Nothing is
//! copied here, so every bad input is refused before anything is.

pub(crate) mod cross;
pub(crate) mod fetch;
pub(crate) mod graph;
pub(crate) mod imageset;
pub(crate) mod output;
pub(crate) mod select;
#[cfg(test)]
mod tests;

pub use cross::{CrossChannelPath, CrossStep};
pub use fetch::{
    ChannelGraph, DEFAULT_ARCH, DEFAULT_GRAPH_URL, GraphClient, GraphOptions, GraphSource,
    graph_arch, graph_file_name,
};
pub use graph::{
    ARCHITECTURE_KEY, CHANNELS_KEY, ConditionalEdges, EdgeVersions, Graph, MatchingRule, Node,
    PromQlRule, Risk,
};
pub use imageset::{AdditionalImage, IMAGESET_API_VERSION, IMAGESET_KIND, ImageSetConfig};
pub use output::{AdditionalMirrors, ReleaseUpdate, additional_mirrors, render_release_updates};
pub use select::{
    ChannelRequest, ChannelSelection, ConditionalHop, Hop, PickedRelease, SelectionMode,
    parse_version, select_channel,
};

use std::collections::HashMap;

use semver::Version;
use serde::Serialize;

use crate::error::Error;
use crate::hint::Hint;
use crate::reference::ImageRef;
use cross::{cross_path, cross_plan};

/// What to mirror for upgrades.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// Channels to pick releases from (each with its own min/max/shortest path).
    pub channels: Vec<ChannelRequest>,
    /// Release images given directly (`--from`, `mirror.platform.release`); their versions
    /// are read from the payloads by whoever copies them.
    pub releases: Vec<ImageRef>,
    /// Images mirrored beside the releases.
    pub additional_images: Vec<AdditionalImage>,
    /// The graph's architecture (`amd64`, `arm64`, `ppc64le`, `s390x`, `multi`). Default
    /// `amd64`.
    pub arch: String,
    /// Follow conditional edges (accepting their risks) when looking for paths.
    pub include_conditional: bool,
    /// The largest archive volume in GiB, when mirroring to disk (`archiveSize`).
    pub archive_size_gib: Option<u64>,
}

impl Default for UpgradeRequest {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            releases: Vec::new(),
            additional_images: Vec::new(),
            arch: DEFAULT_ARCH.into(),
            include_conditional: false,
            archive_size_gib: None,
        }
    }
}

impl UpgradeRequest {
    /// The request an ImageSetConfiguration makes (architecture `amd64`, conditional edges
    /// not followed: set those fields after).
    pub fn from_image_set(isc: ImageSetConfig) -> Self {
        Self {
            channels: isc.channels,
            releases: isc.release.into_iter().collect(),
            additional_images: isc.additional_images,
            archive_size_gib: isc.archive_size_gib,
            ..Self::default()
        }
    }
}

/// A release to mirror.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRelease {
    /// Its version, from the graph (`None` for a release image given directly: read it from
    /// the payload).
    pub version: Option<Version>,
    /// The release image, as the graph (or the user) names it.
    pub image: ImageRef,
    /// The channels that picked it (and the channels of a cross-channel path through it).
    pub channels: Vec<String>,
}

/// Everything to mirror, decided before anything is copied.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UpgradePlan {
    /// The graph's architecture.
    pub arch: String,
    /// Conditional edges were followed when looking for paths (as the request asked).
    pub include_conditional: bool,
    /// Where graphs were read (URL or path).
    pub graph_source: String,
    /// Every release to mirror, oldest first (releases given directly last), each once.
    pub releases: Vec<PlannedRelease>,
    /// What each channel picked, in request order.
    pub channels: Vec<ChannelSelection>,
    /// With several channels: the path from the lowest minimum to the highest maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_channel: Option<CrossChannelPath>,
    /// Images mirrored beside the releases.
    pub additional_images: Vec<AdditionalImage>,
    /// The graphs read, in the order read; save each as `graph/<file_name()>` beside a mirror
    /// on disk so the far side shows the same plan.
    pub graphs: Vec<ChannelGraph>,
    /// Advice worth showing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The largest archive volume in GiB, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_size_gib: Option<u64>,
}

/// Picks every release `req` asks for from the graphs `graphs` reads, with oc-mirror's rules
/// (see `docs/upgrades.md`). Refused before anything is copied: an unknown channel, a version
/// not in its channel, a minimum above the maximum, no path where a path is asked for (or
/// across several channels), a graph that does not parse, a request for nothing.
///
/// ```no_run
/// # async fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::semver::Version;
/// use mirror_core::{upgrade::{ChannelRequest, GraphClient, GraphOptions, GraphSource, UpgradeRequest}};
/// let graphs = GraphClient::new(GraphSource::default(), GraphOptions::default())?;
/// let req = UpgradeRequest {
///     channels: vec![ChannelRequest {
///         min_version: Some(Version::new(4, 14, 1)),
///         shortest_path: true,
///         ..ChannelRequest::new("stable-4.14")
///     }],
///     ..UpgradeRequest::default()
/// };
/// let plan = mirror_core::plan_upgrade(&req, &graphs).await?;
/// for r in &plan.releases {
///     println!("{:?} {} {:?}", r.version, r.image, r.channels);
/// }
/// for g in &plan.graphs {
///     // Beside a mirror on disk: graph/<arch>-<channel>.json
///     println!("{} ({} bytes)", g.file_name(), g.json.len());
/// }
/// # Ok(()) }
/// ```
pub async fn plan_upgrade(
    req: &UpgradeRequest,
    graphs: &GraphClient,
) -> Result<UpgradePlan, Error> {
    if req.channels.is_empty() && req.releases.is_empty() && req.additional_images.is_empty() {
        return Err(Error::InvalidSetting {
            name: "channels".into(),
            reason: "nothing to mirror: give a channel, a release or an additional image".into(),
        });
    }
    for (i, c) in req.channels.iter().enumerate() {
        c.validate()?;
        if req.channels[..i].iter().any(|o| o.name == c.name) {
            return Err(Error::Channel {
                channel: c.name.clone(),
                reason: "listed twice".into(),
                hint: Box::new(Hint::CheckChannel {
                    channel: c.name.clone(),
                    arch: req.arch.clone(),
                    known: Vec::new(),
                }),
            });
        }
    }
    let mut read: HashMap<String, ChannelGraph> = HashMap::new();
    let mut order = Vec::new();
    let mut selections = Vec::new();
    for c in &req.channels {
        let cg = graphs.channel(&c.name, &req.arch).await?;
        selections.push(select_channel(&cg, c, req.include_conditional)?);
        order.push(c.name.clone());
        read.insert(c.name.clone(), cg);
    }
    let cross_channel = match cross_plan(&selections)? {
        Some(plan) => {
            for name in &plan.channels {
                if !read.contains_key(name) {
                    let cg = graphs.channel(name, &req.arch).await?;
                    order.push(name.clone());
                    read.insert(name.clone(), cg);
                }
            }
            Some(cross_path(&plan, &read, req.include_conditional)?)
        }
        None => None,
    };
    let releases = merge_releases(&selections, cross_channel.as_ref(), &read, &req.releases)?;
    let warnings = selections
        .iter()
        .flat_map(|s| s.warnings.iter().cloned())
        .collect();
    let graphs_read = order.into_iter().filter_map(|n| read.remove(&n)).collect();
    Ok(UpgradePlan {
        arch: req.arch.clone(),
        include_conditional: req.include_conditional,
        graph_source: graphs.source().to_string(),
        releases,
        channels: selections,
        cross_channel,
        additional_images: dedup_images(&req.additional_images),
        graphs: graphs_read,
        warnings,
        archive_size_gib: req.archive_size_gib,
    })
}

/// Every picked release once, oldest first, with the channels that picked it; then the
/// releases given directly.
fn merge_releases(
    selections: &[ChannelSelection],
    cross: Option<&CrossChannelPath>,
    read: &HashMap<String, ChannelGraph>,
    direct: &[ImageRef],
) -> Result<Vec<PlannedRelease>, Error> {
    let mut picked: Vec<(&str, &select::PickedRelease)> = Vec::new();
    for s in selections {
        picked.extend(s.releases.iter().map(|r| (s.channel.as_str(), r)));
    }
    if let Some(c) = cross {
        for step in &c.steps {
            picked.extend(step.releases.iter().map(|r| (step.channel.as_str(), r)));
        }
    }
    let mut out: Vec<PlannedRelease> = Vec::new();
    for (channel, r) in picked {
        if let Some(p) = out.iter_mut().find(|p| {
            p.version
                .as_ref()
                .is_some_and(|v| v.cmp_precedence(&r.version).is_eq())
        }) {
            if !p.channels.iter().any(|c| c == channel) {
                p.channels.push(channel.to_string());
            }
            continue;
        }
        let image = ImageRef::parse(&r.payload).map_err(|e| Error::GraphInvalid {
            origin: read
                .get(channel)
                .map_or_else(String::new, |g| g.origin.clone()),
            reason: format!("release {}: payload: {e}", r.version),
        })?;
        out.push(PlannedRelease {
            version: Some(r.version.clone()),
            image,
            channels: vec![channel.to_string()],
        });
    }
    out.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => x.cmp_precedence(y),
        _ => std::cmp::Ordering::Equal,
    });
    for d in direct {
        if !out.iter().any(|p| &p.image == d) {
            out.push(PlannedRelease {
                version: None,
                image: d.clone(),
                channels: Vec::new(),
            });
        }
    }
    Ok(out)
}

fn dedup_images(images: &[AdditionalImage]) -> Vec<AdditionalImage> {
    let mut out: Vec<AdditionalImage> = Vec::new();
    for i in images {
        if !out.iter().any(|o| o.image == i.image) {
            out.push(i.clone());
        }
    }
    out
}
