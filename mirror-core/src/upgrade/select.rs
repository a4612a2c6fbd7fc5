//! Picking releases from one channel's graph, with oc-mirror's rules (see docs/upgrades.md):
//!
//! - min and max given: that range (oc-mirror sets `full` then);
//! - no max: the newest release of the channel; with no min either and not `full` ("heads
//!   only"), min = max, the channel head alone;
//! - still no min: the oldest release of the channel;
//! - not `shortest_path`: every release with `min <= version <= max`;
//! - `shortest_path`: a breadth-first search over the unconditional edges from min to max,
//!   each release's updates tried newest first so the result is stable.
//!
//! Conditional edges are reported with their risks and followed only when asked. Unlike
//! oc-mirror, a version that is not in the channel, or a shortest path that does not exist,
//! is refused rather than mirrored partially.

use std::collections::{BTreeMap, HashSet};

use semver::Version;
use serde::Serialize;

use super::fetch::{ChannelGraph, check_channel_name};
use super::graph::{Graph, Risk};
use crate::error::Error;
use crate::hint::Hint;

/// What to pick from one channel: an ImageSetConfiguration's `mirror.platform.channels[]`
/// entry, or command-line flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelRequest {
    /// The channel, e.g. `stable-4.14`.
    pub name: String,
    /// The oldest release to mirror (default: see the module rules).
    pub min_version: Option<Version>,
    /// The newest release to mirror (default: the channel's newest).
    pub max_version: Option<Version>,
    /// Only the releases on the shortest upgrade path from min to max.
    pub shortest_path: bool,
    /// Without min and max: the whole channel rather than its head.
    pub full: bool,
}

impl ChannelRequest {
    /// A request for the head of `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Checks what needs no graph: the channel name, and min not above max.
    pub fn validate(&self) -> Result<(), Error> {
        check_channel_name(&self.name)?;
        if let (Some(min), Some(max)) = (&self.min_version, &self.max_version)
            && min.cmp_precedence(max).is_gt()
        {
            return Err(Error::Channel {
                channel: self.name.clone(),
                reason: format!("the minimum version `{min}` is above the maximum `{max}`"),
                hint: Box::new(Hint::VersionOrder),
            });
        }
        Ok(())
    }
}

/// Parses a version given for `channel`; `what` names it in the error (`minimum version`).
pub fn parse_version(channel: &str, what: &str, input: &str) -> Result<Version, Error> {
    Version::parse(input.trim()).map_err(|e| Error::Channel {
        channel: channel.into(),
        reason: format!("the {what} `{input}` is not a version: {e}"),
        hint: Box::new(Hint::VersionFormat),
    })
}

/// How the releases of a channel were picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SelectionMode {
    /// The channel's newest release only (no min, no max, not `full`).
    ChannelHead,
    /// Every release from min to max.
    Range,
    /// The releases on the shortest upgrade path from min to max.
    ShortestPath,
}

/// A release picked from the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PickedRelease {
    /// Its version.
    pub version: Version,
    /// Its release image, as the graph names it.
    pub payload: String,
}

/// One update on a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    /// From this version.
    pub from: Version,
    /// To this version.
    pub to: Version,
    /// The risks of this update when it is a conditional edge (empty for a recommended one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<String>,
}

/// A conditional edge between releases of the range, reported so its risks are known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalHop {
    /// From this version.
    pub from: Version,
    /// To this version.
    pub to: Version,
    /// Its risks.
    pub risks: Vec<Risk>,
    /// True when the chosen path follows it.
    pub on_path: bool,
}

/// What was picked from one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSelection {
    /// The channel.
    pub channel: String,
    /// The architecture.
    pub arch: String,
    /// How the releases were picked.
    pub mode: SelectionMode,
    /// The minimum, as given or resolved.
    pub min_version: Version,
    /// The maximum, as given or resolved.
    pub max_version: Version,
    /// The releases, oldest first.
    pub releases: Vec<PickedRelease>,
    /// With [`SelectionMode::ShortestPath`]: the updates from min to max, in order.
    pub path: Vec<Hop>,
    /// Conditional edges between releases from min to max: followed only when allowed.
    pub conditional_edges: Vec<ConditionalHop>,
    /// Advice worth showing (an EUS channel spanning minors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Picks the releases of `req` from `cg` (the graph of `req.name`). Conditional edges are
/// followed only with `include_conditional`.
pub fn select_channel(
    cg: &ChannelGraph,
    req: &ChannelRequest,
    include_conditional: bool,
) -> Result<ChannelSelection, Error> {
    req.validate()?;
    let g = &cg.graph;
    let sorted = g.sorted();
    let (Some(&oldest), Some(&newest)) = (sorted.first(), sorted.last()) else {
        return Err(Error::Channel {
            channel: cg.channel.clone(),
            reason: format!("no release in `{}`", cg.origin),
            hint: Box::new(Hint::CheckChannel {
                channel: cg.channel.clone(),
                arch: cg.arch.clone(),
                known: Vec::new(),
            }),
        });
    };
    let member = |v: &Version, what: &str| {
        g.find(v)
            .ok_or_else(|| not_in_channel(cg, &sorted, v, what))
    };
    let max = match &req.max_version {
        Some(v) => member(v, "maximum version")?,
        None => newest,
    };
    let min = match &req.min_version {
        Some(v) => member(v, "minimum version")?,
        None if req.max_version.is_none() && !req.full => max,
        None => oldest,
    };
    let (min_v, max_v) = (g.nodes[min].version.clone(), g.nodes[max].version.clone());
    if min_v.cmp_precedence(&max_v).is_gt() {
        return Err(Error::Channel {
            channel: cg.channel.clone(),
            reason: format!("the minimum version `{min_v}` is above the maximum `{max_v}`"),
            hint: Box::new(Hint::VersionOrder),
        });
    }
    let heads_only = req.min_version.is_none() && req.max_version.is_none() && !req.full;
    let (mode, picked, path) = if heads_only {
        (SelectionMode::ChannelHead, vec![max], Vec::new())
    } else if req.shortest_path {
        let nodes = shortest_path(g, min, max, include_conditional)
            .ok_or_else(|| no_path(cg, min, max, include_conditional, None))?;
        let path = hops(g, &nodes);
        (SelectionMode::ShortestPath, nodes, path)
    } else {
        let in_range: Vec<usize> = sorted
            .iter()
            .copied()
            .filter(|&i| {
                let v = &g.nodes[i].version;
                v.cmp_precedence(&min_v).is_ge() && v.cmp_precedence(&max_v).is_le()
            })
            .collect();
        (SelectionMode::Range, in_range, Vec::new())
    };
    let mut releases: Vec<PickedRelease> = picked
        .iter()
        .map(|&i| PickedRelease {
            version: g.nodes[i].version.clone(),
            payload: g.nodes[i].payload.clone(),
        })
        .collect();
    releases.sort_by(|a, b| a.version.cmp_precedence(&b.version));
    let mut warnings = Vec::new();
    if let (Some(a), Some(b)) = (&req.min_version, &req.max_version)
        && cg.channel.contains("eus")
        && b.major == a.major
        && b.minor >= a.minor + 2
    {
        warnings.push(format!(
            "`{}` is an Extended Update Support channel spanning {} minor versions: check the EUS-to-EUS path with the update path tool (https://access.redhat.com/labs/ocpupgradegraph/update_path)",
            cg.channel,
            b.minor - a.minor
        ));
    }
    Ok(ChannelSelection {
        channel: cg.channel.clone(),
        arch: cg.arch.clone(),
        mode,
        conditional_edges: conditional_in_range(g, &min_v, &max_v, &path),
        min_version: min_v,
        max_version: max_v,
        releases,
        path,
        warnings,
    })
}

/// Outgoing updates per node, newest destination first; `Some(entry)` marks a conditional
/// edge (an index into `conditional_edges`).
fn adjacency(g: &Graph, include_conditional: bool) -> Vec<Vec<(usize, Option<usize>)>> {
    let mut out: Vec<Vec<(usize, Option<usize>)>> = vec![Vec::new(); g.nodes.len()];
    let mut seen = HashSet::new();
    for &[a, b] in &g.edges {
        if seen.insert((a, b)) {
            out[a].push((b, None));
        }
    }
    if include_conditional {
        for (a, b, entry) in conditional_pairs(g) {
            if seen.insert((a, b)) {
                out[a].push((b, Some(entry)));
            }
        }
    }
    for list in &mut out {
        list.sort_by(|x, y| g.nodes[y.0].version.cmp_precedence(&g.nodes[x.0].version));
    }
    out
}

/// The conditional edges whose versions are both nodes: (from, to, entry index).
fn conditional_pairs(g: &Graph) -> Vec<(usize, usize, usize)> {
    let find = |s: &str| Version::parse(s).ok().and_then(|v| g.find(&v));
    let mut out = Vec::new();
    for (entry, ce) in g.conditional_edges.iter().enumerate() {
        for e in &ce.edges {
            if let (Some(a), Some(b)) = (find(&e.from), find(&e.to)) {
                out.push((a, b, entry));
            }
        }
    }
    out
}

/// Breadth-first search from `from` to `to`; the nodes of the path, both ends included.
pub(crate) fn shortest_path(
    g: &Graph,
    from: usize,
    to: usize,
    include_conditional: bool,
) -> Option<Vec<usize>> {
    let adj = adjacency(g, include_conditional);
    let mut prev: Vec<Option<usize>> = vec![None; g.nodes.len()];
    let mut visited = vec![false; g.nodes.len()];
    let mut queue = std::collections::VecDeque::from([from]);
    visited[from] = true;
    while let Some(n) = queue.pop_front() {
        if n == to {
            break;
        }
        for &(next, _) in &adj[n] {
            if !visited[next] {
                visited[next] = true;
                prev[next] = Some(n);
                queue.push_back(next);
            }
        }
    }
    if !visited[to] {
        return None;
    }
    let mut path = vec![to];
    let mut cur = to;
    while let Some(p) = prev[cur] {
        path.push(p);
        cur = p;
    }
    path.reverse();
    Some(path)
}

/// The updates along `nodes`, with the risks of conditional ones.
pub(crate) fn hops(g: &Graph, nodes: &[usize]) -> Vec<Hop> {
    let plain: HashSet<(usize, usize)> = g.edges.iter().map(|&[a, b]| (a, b)).collect();
    let conditional = conditional_pairs(g);
    nodes
        .windows(2)
        .map(|w| {
            let risks = if plain.contains(&(w[0], w[1])) {
                Vec::new()
            } else {
                conditional
                    .iter()
                    .filter(|(a, b, _)| (*a, *b) == (w[0], w[1]))
                    .flat_map(|(_, _, entry)| g.conditional_edges[*entry].risks.iter())
                    .map(|r| r.name.clone())
                    .collect()
            };
            Hop {
                from: g.nodes[w[0]].version.clone(),
                to: g.nodes[w[1]].version.clone(),
                risks,
            }
        })
        .collect()
}

/// The conditional edges between versions from `min` to `max`, sorted; `on_path` when `path`
/// takes them.
fn conditional_in_range(
    g: &Graph,
    min: &Version,
    max: &Version,
    path: &[Hop],
) -> Vec<ConditionalHop> {
    let within = |v: &Version| v.cmp_precedence(min).is_ge() && v.cmp_precedence(max).is_le();
    let mut merged: BTreeMap<(usize, usize), Vec<Risk>> = BTreeMap::new();
    for (a, b, entry) in conditional_pairs(g) {
        if within(&g.nodes[a].version) && within(&g.nodes[b].version) {
            let risks = merged.entry((a, b)).or_default();
            for r in &g.conditional_edges[entry].risks {
                if !risks.contains(r) {
                    risks.push(r.clone());
                }
            }
        }
    }
    let mut out: Vec<ConditionalHop> = merged
        .into_iter()
        .map(|((a, b), risks)| {
            let (from, to) = (g.nodes[a].version.clone(), g.nodes[b].version.clone());
            let on_path = path.iter().any(|h| h.from == from && h.to == to);
            ConditionalHop {
                from,
                to,
                risks,
                on_path,
            }
        })
        .collect();
    out.sort_by(|x, y| {
        x.from
            .cmp_precedence(&y.from)
            .then_with(|| x.to.cmp_precedence(&y.to))
    });
    out
}

/// "`v` is not in the channel", with the versions it does hold.
fn not_in_channel(cg: &ChannelGraph, sorted: &[usize], v: &Version, what: &str) -> Error {
    let g = &cg.graph;
    let versions: Vec<&Version> = sorted.iter().map(|&i| &g.nodes[i].version).collect();
    let below = versions
        .iter()
        .rev()
        .find(|x| x.cmp_precedence(v).is_lt())
        .map(|x| x.to_string());
    let above = versions
        .iter()
        .find(|x| x.cmp_precedence(v).is_gt())
        .map(|x| x.to_string());
    Error::Channel {
        channel: cg.channel.clone(),
        reason: format!(
            "the {what} `{v}` is not in the channel (architecture `{}`, graph `{}`)",
            cg.arch, cg.origin
        ),
        hint: Box::new(Hint::VersionsInChannel {
            oldest: versions.first().map(|x| x.to_string()).unwrap_or_default(),
            newest: versions.last().map(|x| x.to_string()).unwrap_or_default(),
            nearest: below.into_iter().chain(above).collect(),
        }),
    }
}

/// "No upgrade path from `from` to `to`", naming what blocks it: the conditional edges a path
/// would need, or the newest version reachable from `from`.
pub(crate) fn no_path(
    cg: &ChannelGraph,
    from: usize,
    to: usize,
    include_conditional: bool,
    one_channel: Option<String>,
) -> Error {
    let g = &cg.graph;
    let (fv, tv) = (&g.nodes[from].version, &g.nodes[to].version);
    let on = if include_conditional {
        "on its edges"
    } else {
        "on unconditional edges"
    };
    if !include_conditional && let Some(nodes) = shortest_path(g, from, to, true) {
        let needed: Vec<String> = hops(g, &nodes)
            .into_iter()
            .filter(|h| !h.risks.is_empty())
            .map(|h| {
                let risks: Vec<String> = h.risks.iter().map(|r| format!("`{r}`")).collect();
                format!(
                    "the conditional edge {} -> {} (risks: {})",
                    h.from,
                    h.to,
                    risks.join(", ")
                )
            })
            .collect();
        return Error::Channel {
            channel: cg.channel.clone(),
            reason: format!(
                "no upgrade path from {fv} to {tv} {on}: it needs {}",
                needed.join(" and ")
            ),
            hint: Box::new(Hint::NoUpgradePath {
                conditional: needed,
                reachable: None,
                one_channel,
            }),
        };
    }
    let adj = adjacency(g, include_conditional);
    let mut seen = vec![false; g.nodes.len()];
    let mut stack = vec![from];
    seen[from] = true;
    let mut newest = from;
    while let Some(n) = stack.pop() {
        if g.nodes[n]
            .version
            .cmp_precedence(&g.nodes[newest].version)
            .is_gt()
        {
            newest = n;
        }
        for &(next, _) in &adj[n] {
            if !seen[next] {
                seen[next] = true;
                stack.push(next);
            }
        }
    }
    let blocked = if newest == from {
        format!("{fv} has no update {on} in this channel")
    } else {
        format!(
            "from {fv} the graph reaches at most {}",
            g.nodes[newest].version
        )
    };
    Error::Channel {
        channel: cg.channel.clone(),
        reason: format!("no upgrade path from {fv} to {tv} {on}: {blocked}"),
        hint: Box::new(Hint::NoUpgradePath {
            conditional: Vec::new(),
            reachable: (newest != from).then(|| g.nodes[newest].version.to_string()),
            one_channel,
        }),
    }
}
