//! `bundle info` as text: what a bundle holds, how its releases were picked (the channels,
//! versions and paths, the saved upgrade graphs, and the command that shows the same plan
//! offline), whether it fits FAT32, what to run on the far side, how other tools read it.

use mirror_core::bundle::{BundleInfo, BundleMetadata, BundleUpgrade, GRAPH_DIR};

use super::bundle::far_side_commands;

/// True for a bundle written by `mirror --config` (it keeps the file's copy).
pub(crate) fn from_config(b: &BundleMetadata) -> bool {
    b.upgrade.as_ref().is_some_and(|u| u.image_set.is_some())
}

/// The `release graph` command that computes the same plan again from the saved graphs,
/// offline; none when no channel was asked for.
pub(crate) fn graph_command(dir: &str, u: &BundleUpgrade) -> Option<String> {
    if u.graphs.is_empty() {
        return None;
    }
    let graphs = format!("--graph-url {dir}/{GRAPH_DIR}");
    if let Some(isc) = &u.image_set {
        return Some(format!(
            "mirrorctl release graph --config {dir}/{isc} {graphs}"
        ));
    }
    let c = u.channels.first()?;
    let mut cmd = format!("mirrorctl release graph --channel {}", c.name);
    if c.mode != "channelHead" {
        cmd.push_str(&format!(
            " --min-version {} --max-version {}",
            c.min_version, c.max_version
        ));
    }
    if c.mode == "shortestPath" {
        cmd.push_str(" --shortest-path");
    }
    if u.arch != mirror_core::upgrade::DEFAULT_ARCH {
        cmd.push_str(&format!(" --arch {}", u.arch));
    }
    if u.include_conditional {
        cmd.push_str(" --include-conditional");
    }
    cmd.push(' ');
    cmd.push_str(&graphs);
    Some(cmd)
}

/// How the releases were picked, for a bundle made from channels or a file.
fn render_upgrade(i: &BundleInfo) -> String {
    let Some(u) = &i.bundle.upgrade else {
        return String::new();
    };
    let dir = i.dir.display().to_string();
    let mut out = String::new();
    if let Some(isc) = &u.image_set {
        out.push_str(&format!(
            "Made from:     {dir}/{isc} (an ImageSetConfiguration)\n"
        ));
    }
    if let Some(src) = &u.graph_source {
        out.push_str(&format!(
            "Upgrade graph: {src} (architecture {}{})\n",
            u.arch,
            if u.include_conditional {
                ", conditional edges followed"
            } else {
                ""
            }
        ));
    }
    for c in &u.channels {
        out.push_str(&format!(
            "  channel {} ({}, {} to {}): {}\n",
            c.name,
            match c.mode.as_str() {
                "channelHead" => "the channel head",
                "shortestPath" => "the shortest path",
                _ => "every release in the range",
            },
            c.min_version,
            c.max_version,
            c.versions.join(", ")
        ));
        if !c.path.is_empty() {
            out.push_str(&format!("    path: {}\n", c.path));
        }
        for e in &c.conditional_edges {
            out.push_str(&format!("    conditional edge: {e}\n"));
        }
    }
    if !u.cross_channel.is_empty() {
        out.push_str("  across channels:\n");
        for s in &u.cross_channel {
            out.push_str(&format!("    {s}\n"));
        }
    }
    for g in &u.graphs {
        out.push_str(&format!(
            "  saved graph: {}  sha256:{}  (read from {})\n",
            g.file, g.sha256, g.origin
        ));
    }
    if let Some(cmd) = graph_command(&dir, u) {
        out.push_str(&format!("  the same plan, offline: {cmd}\n"));
    }
    out
}

/// `bundle info` as text.
pub(crate) fn render_info(i: &BundleInfo) -> String {
    let b = &i.bundle;
    let dir = i.dir.display().to_string();
    let mut out = format!(
        "Bundle:        {dir}\nId:            {}\nCreated:       {} by {} {}\n",
        b.bundle_id, b.created_at, b.tool.name, b.tool.version
    );
    out.push_str(&format!(
        "Layout:        {}\n",
        if b.volumes.is_empty() {
            "an OCI image layout directory".to_string()
        } else {
            format!("{} tar volumes", b.volumes.len())
        }
    ));
    if let Some(s) = &b.since {
        out.push_str(&format!(
            "Builds on:     bundle {} ({}): its target must hold {} blobs ({})\n",
            s.bundle_id,
            s.created_at,
            b.requires.count,
            mirror_core::size::format_size(b.requires.bytes)
        ));
    }
    out.push_str(&render_upgrade(i));
    out.push_str("Releases:\n");
    for r in &b.releases {
        out.push_str(&format!(
            "  {} {} {} ({}, {} components)\n",
            r.version, r.architecture, r.source, r.digest, r.components
        ));
    }
    out.push_str(&format!(
        "Images:        {}\nBlobs:         {} ({}), manifests included\n",
        b.images.len(),
        b.blobs.count,
        mirror_core::size::format_size(b.blobs.bytes)
    ));
    if !b.volumes.is_empty() {
        out.push_str("Volumes:\n");
        for v in &b.volumes {
            out.push_str(&format!(
                "  {}  {}  sha256:{}\n",
                v.name,
                mirror_core::size::format_size(v.size),
                v.sha256
            ));
        }
    }
    out.push_str(&fat32_line(i));
    out.push_str("Mirror sources:\n");
    for s in &b.mirror_sources {
        out.push_str(&format!("  {s}\n"));
    }
    out.push_str("On the disconnected side:\n");
    for c in far_side_commands(&dir, from_config(b)) {
        out.push_str(&format!("  {c}\n"));
    }
    out.push_str(&other_tools(i));
    out
}

fn fat32_line(i: &BundleInfo) -> String {
    let largest = mirror_core::size::format_size(i.largest_file);
    if i.fits_fat32 {
        format!("FAT32:         fits (largest file {largest}, under 4 GiB)\n")
    } else if i.bundle.volumes.is_empty() {
        format!(
            "FAT32:         does not fit: the largest file is {largest} and FAT32 holds files under 4 GiB; write the bundle in volumes (`mirrorctl release mirror --to-dir DIR --archive-size 4000MiB`), or use exFAT\n"
        )
    } else {
        format!(
            "FAT32:         does not fit: the largest volume is {largest} (a blob bigger than the volume size); use exFAT, NTFS, ext4 or xfs\n"
        )
    }
}

/// How another tool reads an image of the bundle: skopeo's `oci:` transport on the one-entry
/// index directory, with the shared blob directory.
fn other_tools(i: &BundleInfo) -> String {
    let Some(img) = i.bundle.images.iter().find(|x| x.role == "release") else {
        return String::new();
    };
    let (Some(oci_ref), Some(tag)) = (&img.oci_ref, &img.tag) else {
        return String::new();
    };
    let dir = i.dir.display();
    let note = if i.bundle.volumes.is_empty() {
        ""
    } else {
        " (after unpacking every volume into one directory: `for v in mirrorctl-bundle-*.tar; do tar xf $v; done`)"
    };
    format!(
        "Other tools{note}: each image has a one-entry OCI index under refs/ (listed with --output json):\n  skopeo copy --preserve-digests --src-shared-blob-dir {dir}/blobs oci:{dir}/{oci_ref} docker://REGISTRY/REPOSITORY:{tag}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(json: serde_json::Value) -> BundleUpgrade {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_offline_graph_command_repeats_the_pick() {
        let graphs = serde_json::json!([{
            "channel": "stable-4.14", "arch": "amd64", "origin": "https://g",
            "file": "graph/amd64-stable-4.14.json", "sha256": "ab"
        }]);
        let channel = |mode: &str| {
            serde_json::json!([{
                "name": "stable-4.14", "mode": mode, "minVersion": "4.14.1",
                "maxVersion": "4.14.5", "versions": ["4.14.1", "4.14.5"]
            }])
        };
        let table = [
            (
                serde_json::json!({"arch": "amd64", "channels": channel("channelHead"), "graphs": graphs}),
                Some("mirrorctl release graph --channel stable-4.14 --graph-url /b/graph"),
            ),
            (
                serde_json::json!({"arch": "arm64", "includeConditional": true,
                    "channels": channel("shortestPath"), "graphs": graphs}),
                Some(
                    "mirrorctl release graph --channel stable-4.14 --min-version 4.14.1 --max-version 4.14.5 --shortest-path --arch arm64 --include-conditional --graph-url /b/graph",
                ),
            ),
            (
                serde_json::json!({"arch": "amd64", "imageSet": "imageset-config.yaml",
                    "channels": channel("range"), "graphs": graphs}),
                Some(
                    "mirrorctl release graph --config /b/imageset-config.yaml --graph-url /b/graph",
                ),
            ),
            (
                serde_json::json!({"arch": "amd64", "imageSet": "imageset-config.yaml"}),
                None,
            ),
        ];
        for (json, want) in table {
            let u = upgrade(json.clone());
            assert_eq!(graph_command("/b", &u).as_deref(), want, "{json}");
        }
    }
}
