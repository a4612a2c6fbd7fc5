//! The upgrade path across channels that oc-mirror adds when several channels are given
//! (`getCrossChannelDownloads` → `CalculateUpgrades`): from the lowest minimum of all
//! channels to the highest maximum, through the newest release of the first channel, then
//! channel `<prefix>-<major>.<minor+1>` after channel (the newest release of each) up to the
//! channel holding the highest maximum.
//!
//! oc-mirror only warns when a step is blocked (the start version is not in the next
//! channel) or no path exists, and mirrors the two ends; mirrorctl refuses instead, naming the
//! step, because a mirror without the path cannot upgrade the cluster.

use std::collections::HashMap;

use semver::Version;
use serde::Serialize;

use super::fetch::ChannelGraph;
use super::select::{ChannelSelection, Hop, PickedRelease, hops, no_path, shortest_path};
use crate::error::Error;
use crate::hint::Hint;

/// The path across channels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossChannelPath {
    /// The channel of the lowest minimum.
    pub from_channel: String,
    /// The lowest minimum.
    pub from_version: Version,
    /// The channel of the highest maximum.
    pub to_channel: String,
    /// The highest maximum.
    pub to_version: Version,
    /// One path per channel walked, in order.
    pub steps: Vec<CrossStep>,
}

/// The part of a cross-channel path inside one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossStep {
    /// The channel.
    pub channel: String,
    /// The releases on this part of the path, in path order.
    pub releases: Vec<PickedRelease>,
    /// Its updates.
    pub path: Vec<Hop>,
}

/// Which channels a cross-channel path walks, decided from the channel names and the
/// selections alone (before their graphs are read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CrossPlan {
    from_channel: String,
    from_version: Version,
    to_channel: String,
    to_version: Version,
    /// The channels walked, in order; the last is `to_channel`.
    pub(crate) channels: Vec<String>,
}

/// `(prefix, major, minor)` of `stable-4.14`.
fn channel_version(name: &str) -> Option<(&str, u64, u64)> {
    let (prefix, v) = name.rsplit_once('-')?;
    let (major, minor) = v.split_once('.')?;
    Some((prefix, major.parse().ok()?, minor.parse().ok()?))
}

/// The channels the path from the lowest minimum to the highest maximum walks; `None` with
/// fewer than two channels.
pub(crate) fn cross_plan(selections: &[ChannelSelection]) -> Result<Option<CrossPlan>, Error> {
    if selections.len() < 2 {
        return Ok(None);
    }
    let mut first = &selections[0];
    let mut last = &selections[0];
    for s in &selections[1..] {
        if s.min_version.cmp_precedence(&first.min_version).is_lt() {
            first = s;
        }
        if s.max_version.cmp_precedence(&last.max_version).is_gt() {
            last = s;
        }
    }
    let plan = |channels: Vec<String>| {
        Ok(Some(CrossPlan {
            from_channel: first.channel.clone(),
            from_version: first.min_version.clone(),
            to_channel: last.channel.clone(),
            to_version: last.max_version.clone(),
            channels,
        }))
    };
    if first.channel == last.channel {
        return plan(vec![last.channel.clone()]);
    }
    fn parse(s: &ChannelSelection) -> Result<(&str, u64, u64), Error> {
        channel_version(&s.channel).ok_or_else(|| Error::Channel {
            channel: s.channel.clone(),
            reason: "a path across channels needs channel names ending in `-<major>.<minor>`"
                .into(),
            hint: Box::new(Hint::CheckChannel {
                channel: s.channel.clone(),
                arch: s.arch.clone(),
                known: Vec::new(),
            }),
        })
    }
    let (prefix, s_major, s_minor) = parse(first)?;
    let (_, t_major, t_minor) = parse(last)?;
    let refuse = |reason: String| Error::Channel {
        channel: last.channel.clone(),
        reason,
        hint: Box::new(Hint::NoUpgradePath {
            conditional: Vec::new(),
            reachable: None,
            one_channel: Some(last.channel.clone()),
        }),
    };
    if s_major != t_major {
        return Err(refuse(format!(
            "a path across channels from `{}` to `{}` changes the major version, which stepping channel by channel cannot follow",
            first.channel, last.channel
        )));
    }
    if s_minor > t_minor {
        return Err(refuse(format!(
            "the lowest minimum ({}) is in `{}`, a newer channel than `{}`, which holds the highest maximum ({})",
            first.min_version, first.channel, last.channel, last.max_version
        )));
    }
    if s_minor == t_minor {
        return plan(vec![last.channel.clone()]);
    }
    let mut channels = vec![first.channel.clone()];
    channels.extend((s_minor + 1..t_minor).map(|m| format!("{prefix}-{s_major}.{m}")));
    channels.push(last.channel.clone());
    plan(channels)
}

/// Walks `plan` over the graphs of its channels (all of them in `graphs`).
pub(crate) fn cross_path(
    plan: &CrossPlan,
    graphs: &HashMap<String, ChannelGraph>,
    include_conditional: bool,
) -> Result<CrossChannelPath, Error> {
    let mut start = plan.from_version.clone();
    let mut steps = Vec::new();
    let n = plan.channels.len();
    for (i, name) in plan.channels.iter().enumerate() {
        let cg = graphs
            .get(name)
            .expect("every channel of the plan was read");
        let g = &cg.graph;
        let Some(from) = g.find(&start) else {
            let after = if i == 0 {
                format!("the lowest minimum, from `{}`", plan.from_channel)
            } else {
                format!("the newest release of `{}`", plan.channels[i - 1])
            };
            return Err(Error::Channel {
                channel: name.clone(),
                reason: format!(
                    "no upgrade path across channels: {start} ({after}) is not in `{name}`, so no update from it into `{name}` is listed"
                ),
                hint: Box::new(Hint::NoUpgradePath {
                    conditional: Vec::new(),
                    reachable: None,
                    one_channel: Some(plan.to_channel.clone()),
                }),
            });
        };
        let to = if i + 1 == n {
            g.find(&plan.to_version)
                .expect("the highest maximum is a release of its own channel")
        } else {
            *g.sorted().last().expect("a channel read has releases")
        };
        let nodes = shortest_path(g, from, to, include_conditional).ok_or_else(|| {
            no_path(
                cg,
                from,
                to,
                include_conditional,
                Some(plan.to_channel.clone()),
            )
        })?;
        steps.push(CrossStep {
            channel: name.clone(),
            releases: nodes
                .iter()
                .map(|&k| PickedRelease {
                    version: g.nodes[k].version.clone(),
                    payload: g.nodes[k].payload.clone(),
                })
                .collect(),
            path: hops(g, &nodes),
        });
        start = g.nodes[to].version.clone();
    }
    Ok(CrossChannelPath {
        from_channel: plan.from_channel.clone(),
        from_version: plan.from_version.clone(),
        to_channel: plan.to_channel.clone(),
        to_version: plan.to_version.clone(),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_give_prefix_and_minor() {
        assert_eq!(channel_version("stable-4.14"), Some(("stable", 4, 14)));
        assert_eq!(channel_version("eus-4.16"), Some(("eus", 4, 16)));
        assert_eq!(channel_version("candidate"), None);
        assert_eq!(channel_version("stable-four"), None);
    }
}
