//! `mirrorctl release graph`: the releases a channel (or an ImageSetConfiguration) picks from
//! the upgrade graph, the paths between them and the conditional edges; reads, copies nothing.

use std::path::{Path, PathBuf};

use mirror_core::upgrade::{
    ChannelRequest, ChannelSelection, GraphClient, GraphOptions, GraphSource, ImageSetConfig,
    SelectionMode, UpgradePlan, UpgradeRequest,
};

use crate::cli::{ChannelArgs, GraphArgs, OutputFormat};
use crate::output::{EXIT_OK, EXIT_USAGE, core_error, json_report, stdout};

pub async fn run(args: GraphArgs) -> u8 {
    if args.pick.channel.is_none() && args.config.is_none() {
        eprintln!("error: nothing to show: give `--channel NAME` or `--config FILE`");
        eprintln!(
            "hint: e.g. `mirrorctl release graph --channel stable-4.14 --shortest-path --min-version 4.14.1`"
        );
        return EXIT_USAGE;
    }
    let req = match upgrade_request(&args.pick, args.config.as_deref()) {
        Ok(r) => r,
        Err(e) => return core_error(&e),
    };
    let client = match graph_client(&args.pick.graph_url, &args.ca_files) {
        Ok(c) => c,
        Err(e) => return core_error(&e),
    };
    let plan = match mirror_core::plan_upgrade(&req, &client).await {
        Ok(p) => p,
        Err(e) => return core_error(&e),
    };
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    match args.output {
        OutputFormat::Json => stdout(&json_report(
            "ReleaseGraphReport",
            serde_json::to_value(&plan).unwrap_or_default(),
        )),
        OutputFormat::Text => stdout(&render_text(&plan)),
    }
    EXIT_OK
}

/// The flags (or the ImageSetConfiguration) as an upgrade request: what `release mirror
/// --channel` and `mirror --config` resolve too.
pub fn upgrade_request(
    pick: &ChannelArgs,
    config: Option<&Path>,
) -> Result<UpgradeRequest, mirror_core::Error> {
    let mut req = match config {
        Some(path) => UpgradeRequest::from_image_set(ImageSetConfig::load(path)?),
        None => {
            let name = pick.channel.clone().unwrap_or_default();
            let version = |v: &Option<String>, what: &str| {
                v.as_deref()
                    .map(|s| mirror_core::upgrade::parse_version(&name, what, s))
                    .transpose()
            };
            let channel = ChannelRequest {
                min_version: version(&pick.min_version, "minimum version")?,
                max_version: version(&pick.max_version, "maximum version")?,
                shortest_path: pick.shortest_path,
                full: pick.full,
                name: name.clone(),
            };
            UpgradeRequest {
                channels: vec![channel],
                ..UpgradeRequest::default()
            }
        }
    };
    req.arch = mirror_core::upgrade::graph_arch(&pick.arch);
    req.include_conditional = pick.include_conditional;
    Ok(req)
}

/// A graph client for `--graph-url` (a URL or a saved graph) with the `--ca-file`s.
pub fn graph_client(
    graph_url: &str,
    ca_files: &[PathBuf],
) -> Result<GraphClient, mirror_core::Error> {
    let source = GraphSource::parse(graph_url)?;
    let mut ca_pems = Vec::new();
    for f in ca_files {
        ca_pems.push(std::fs::read(f).map_err(|e| mirror_core::Error::Io {
            action: "read CA file",
            path: f.clone(),
            source: e,
        })?);
    }
    GraphClient::new(
        source,
        GraphOptions {
            ca_pems,
            ..GraphOptions::default()
        },
    )
}

/// The plan as text: per channel what was picked and why, the path across channels, then
/// every release to mirror and the additional images.
pub fn render_text(p: &UpgradePlan) -> String {
    let mut out = format!(
        "Upgrade graph: {} (architecture {})\n",
        p.graph_source, p.arch
    );
    for s in &p.channels {
        out.push('\n');
        out.push_str(&render_channel(s));
    }
    if let Some(c) = &p.cross_channel {
        out.push_str(&format!(
            "\nAcross channels, from {} ({}) to {} ({}):\n",
            c.from_version, c.from_channel, c.to_version, c.to_channel
        ));
        for step in &c.steps {
            let versions: Vec<String> = step
                .releases
                .iter()
                .map(|r| r.version.to_string())
                .collect();
            out.push_str(&format!("  {}: {}\n", step.channel, versions.join(" -> ")));
        }
    }
    out.push_str(&format!("\nReleases to mirror ({}):\n", p.releases.len()));
    let w = p
        .releases
        .iter()
        .map(|r| r.version.as_ref().map_or(1, |v| v.to_string().len()))
        .max()
        .unwrap_or(0);
    for r in &p.releases {
        let v = r
            .version
            .as_ref()
            .map_or("-".to_string(), |v| v.to_string());
        let channels = if r.channels.is_empty() {
            String::new()
        } else {
            format!("  ({})", r.channels.join(", "))
        };
        out.push_str(&format!("  {v:w$}  {}{channels}\n", r.image));
    }
    if !p.additional_images.is_empty() {
        out.push_str(&format!(
            "\nAdditional images ({}):\n",
            p.additional_images.len()
        ));
        for i in &p.additional_images {
            out.push_str(&format!("  {}\n", i.image));
        }
    }
    out
}

fn render_channel(s: &ChannelSelection) -> String {
    let what = match s.mode {
        SelectionMode::ChannelHead => format!("the channel head, {}", s.max_version),
        SelectionMode::Range => format!(
            "every release from {} to {} ({})",
            s.min_version,
            s.max_version,
            s.releases.len()
        ),
        SelectionMode::ShortestPath => format!(
            "the shortest path from {} to {}",
            s.min_version, s.max_version
        ),
    };
    let mut out = format!("Channel {}: {what}\n", s.channel);
    if s.mode == SelectionMode::ShortestPath {
        let mut path = vec![s.min_version.to_string()];
        for h in &s.path {
            if h.risks.is_empty() {
                path.push(format!("-> {}", h.to));
            } else {
                path.push(format!("-> {} (conditional: {})", h.to, h.risks.join(", ")));
            }
        }
        out.push_str(&format!("  path: {}\n", path.join(" ")));
    }
    if !s.conditional_edges.is_empty() {
        out.push_str(match s.mode {
            SelectionMode::ShortestPath => {
                "  conditional edges (followed only with --include-conditional):\n"
            }
            _ => "  conditional edges between these releases (updates with known risks):\n",
        });
        for c in &s.conditional_edges {
            let mark = if c.on_path {
                "followed"
            } else {
                "not followed"
            };
            let risks: Vec<String> = c
                .risks
                .iter()
                .map(|r| {
                    if r.url.is_empty() {
                        r.name.clone()
                    } else {
                        format!("{} ({})", r.name, r.url)
                    }
                })
                .collect();
            let mark = if s.mode == SelectionMode::ShortestPath {
                format!(" [{mark}]")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "    {} -> {}{mark}: {}\n",
                c.from,
                c.to,
                risks.join(", ")
            ));
        }
    }
    out
}
