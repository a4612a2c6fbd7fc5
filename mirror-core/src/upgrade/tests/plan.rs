//! Planning: channels read from a saved graph, paths across channels, update images.

use semver::Version;

use super::super::fetch::{GraphClient, GraphOptions, GraphSource};
use super::super::graph::Graph;
use super::super::select::{ChannelRequest, ChannelSelection};
use super::super::*;
use super::{graph_json, v};
use crate::hint::Hint;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn file_client() -> (tempfile::TempDir, GraphClient) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("graph.json");
    std::fs::write(&file, graph_json()).unwrap();
    let client = GraphClient::new(GraphSource::File(file), GraphOptions::default()).unwrap();
    (dir, client)
}

fn plan(channels: Vec<ChannelRequest>, incl: bool) -> Result<UpgradePlan, Error> {
    let (_dir, client) = file_client();
    let req = UpgradeRequest {
        channels,
        include_conditional: incl,
        ..UpgradeRequest::default()
    };
    rt().block_on(plan_upgrade(&req, &client))
}

fn ch(name: &str, min: &str, max: &str) -> ChannelRequest {
    ChannelRequest {
        name: name.into(),
        min_version: v(min),
        max_version: v(max),
        ..ChannelRequest::default()
    }
}

/// `version[channels]` for each planned release.
fn releases(p: &UpgradePlan) -> Vec<String> {
    p.releases
        .iter()
        .map(|r| {
            format!(
                "{}[{}]",
                r.version
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                r.channels.join(",")
            )
        })
        .collect()
}

#[test]
fn plan_of_one_channel_lists_releases_and_the_graph_read() {
    let p = plan(vec![ch("stable-4.14", "4.14.2", "4.14.4")], false).unwrap();
    assert_eq!(
        releases(&p),
        [
            "4.14.2[stable-4.14]",
            "4.14.3[stable-4.14]",
            "4.14.4[stable-4.14]"
        ]
    );
    assert_eq!(
        p.releases[0].image.to_string(),
        "quay.io/openshift-release-dev/ocp-release:4.14.2-x86_64"
    );
    assert!(p.cross_channel.is_none());
    assert_eq!(p.graphs.len(), 1);
    assert_eq!(p.graphs[0].file_name(), "amd64-stable-4.14.json");
    // The saved graph is the channel's part: read back, it holds the same six releases.
    let saved = Graph::parse(&p.graphs[0].json, "saved").unwrap();
    assert_eq!(saved.nodes.len(), 6);
    assert!(p.graph_source.ends_with("graph.json"));
}

#[test]
fn several_channels_add_the_path_across_them() {
    let p = plan(
        vec![
            ch("stable-4.14", "4.14.2", "4.14.4"),
            ch("stable-4.16", "", ""),
        ],
        false,
    )
    .unwrap();
    assert_eq!(
        releases(&p),
        [
            "4.14.2[stable-4.14]",
            "4.14.3[stable-4.14]",
            "4.14.4[stable-4.14]",
            "4.14.6[stable-4.14,stable-4.15]",
            "4.15.1[stable-4.15]",
            "4.15.2[stable-4.15,stable-4.16]",
            "4.16.1[stable-4.16]",
        ]
    );
    let cross = p.cross_channel.as_ref().unwrap();
    let steps: Vec<String> = cross
        .steps
        .iter()
        .map(|s| {
            let hops: Vec<String> = s
                .path
                .iter()
                .map(|h| format!("{}->{}", h.from, h.to))
                .collect();
            format!("{}: {}", s.channel, hops.join(" "))
        })
        .collect();
    assert_eq!(
        steps,
        [
            "stable-4.14: 4.14.2->4.14.4 4.14.4->4.14.6",
            "stable-4.15: 4.14.6->4.15.1 4.15.1->4.15.2",
            "stable-4.16: 4.15.2->4.16.1",
        ]
    );
    let read: Vec<String> = p.graphs.iter().map(|g| g.file_name()).collect();
    assert_eq!(
        read,
        [
            "amd64-stable-4.14.json",
            "amd64-stable-4.16.json",
            "amd64-stable-4.15.json"
        ]
    );
}

#[test]
fn plan_refusals_name_the_channel_and_the_block() {
    let table = [
        (
            vec![
                ch("fast-4.14", "4.14.1", "4.14.2"),
                ch("stable-4.15", "", ""),
            ],
            false,
            "channel `fast-4.14`: no upgrade path from 4.14.1 to 4.14.7 on unconditional edges: from 4.14.1 the graph reaches at most 4.14.6",
            "`stable-4.15` also lists the releases that upgrade into it",
        ),
        (
            vec![ch("candidate-4.14", "", ""), ch("fast-4.14", "", "")],
            false,
            "channel `fast-4.14`: no upgrade path across channels: 4.14.0 (the lowest minimum, from `candidate-4.14`) is not in `fast-4.14`, so no update from it into `fast-4.14` is listed",
            "pick the whole path in one channel: `fast-4.14`",
        ),
        (
            vec![ch("stable-4.14", "", ""), ch("stable-4.14", "4.14.1", "")],
            false,
            "channel `stable-4.14`: listed twice",
            "check the channel name",
        ),
        (
            vec![ch("eus-4.14", "", "")],
            false,
            "channel `eus-4.14`: no node of `",
            "this graph lists `candidate-4.14`, `fast-4.14`, `stable-4.14`, `stable-4.15`, `stable-4.16`",
        ),
        (
            vec![ch("Stable-4.14", "", "")],
            false,
            "channel `Stable-4.14`: not a channel name: channel names are lowercase letters, digits, `-` and `.`",
            "channels are named like `stable-4.14`",
        ),
    ];
    for (channels, incl, want, hint) in table {
        let e = plan(channels, incl).unwrap_err();
        assert!(e.to_string().starts_with(want), "{e}\nwant: {want}");
        let h = e.hint().unwrap().to_string();
        assert!(h.contains(hint), "{e}\nhint: {h}");
    }
    let e = plan(Vec::new(), false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid setting `channels`: nothing to mirror: give a channel, a release or an additional image"
    );
}

#[test]
fn cross_channel_refuses_what_stepping_cannot_follow() {
    let sel = |channel: &str, min: &str, max: &str| ChannelSelection {
        channel: channel.into(),
        arch: "amd64".into(),
        mode: select::SelectionMode::Range,
        min_version: Version::parse(min).unwrap(),
        max_version: Version::parse(max).unwrap(),
        releases: Vec::new(),
        path: Vec::new(),
        conditional_edges: Vec::new(),
        warnings: Vec::new(),
    };
    let table = [
        (
            vec![
                sel("stable-4.16", "4.15.1", "4.15.2"),
                sel("stable-4.15", "4.15.2", "4.15.3"),
            ],
            "channel `stable-4.15`: the lowest minimum (4.15.1) is in `stable-4.16`, a newer channel than `stable-4.15`, which holds the highest maximum (4.15.3)",
        ),
        (
            vec![
                sel("stable-4.20", "4.20.1", "4.20.1"),
                sel("stable-5.0", "5.0.1", "5.0.1"),
            ],
            "channel `stable-5.0`: a path across channels from `stable-4.20` to `stable-5.0` changes the major version, which stepping channel by channel cannot follow",
        ),
        (
            vec![
                sel("stable-4.20", "4.20.1", "4.20.1"),
                sel("candidate", "4.21.0", "4.21.0"),
            ],
            "channel `candidate`: a path across channels needs channel names ending in `-<major>.<minor>`",
        ),
    ];
    for (sels, want) in table {
        assert_eq!(cross::cross_plan(&sels).unwrap_err().to_string(), want);
    }
    let ok = cross::cross_plan(&[
        sel("stable-4.14", "4.14.1", "4.14.1"),
        sel("stable-4.17", "4.17.0", "4.17.2"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(
        ok.channels,
        ["stable-4.14", "stable-4.15", "stable-4.16", "stable-4.17"]
    );
    assert!(
        cross::cross_plan(&[sel("stable-4.14", "4.14.1", "4.14.1")])
            .unwrap()
            .is_none()
    );
}

#[test]
fn update_images_and_additional_mirrors() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let json = format!(
        r#"{{"nodes":[{{"version":"4.14.1","payload":"quay.io/openshift-release-dev/ocp-release@{digest}","metadata":{{"io.openshift.upgrades.graph.release.channels":"stable-4.14"}}}},
           {{"version":"4.14.2","payload":"quay.io/openshift-release-dev/ocp-release:4.14.2-x86_64","metadata":{{"io.openshift.upgrades.graph.release.channels":"stable-4.14"}}}}],
           "edges":[[0,1]]}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("amd64-stable-4.14.json"), json).unwrap();
    let client =
        GraphClient::new(GraphSource::Dir(dir.path().into()), GraphOptions::default()).unwrap();
    let isc = ImageSetConfig::parse(
        "apiVersion: mirror.openshift.io/v2alpha1\nkind: ImageSetConfiguration\nmirror:\n  platform:\n    channels:\n    - name: stable-4.14\n      full: true\n  additionalImages:\n  - name: registry.access.redhat.com/ubi9/ubi:9.4\n  - name: quay.io/tools/jq@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n  - name: registry.access.redhat.com/ubi9/ubi:9.4\n",
        std::path::Path::new("isc.yaml"),
    )
    .unwrap();
    let req = UpgradeRequest::from_image_set(isc);
    let p = rt().block_on(plan_upgrade(&req, &client)).unwrap();
    assert_eq!(p.releases.len(), 2);
    assert_eq!(p.additional_images.len(), 2, "duplicates are mirrored once");
    let repo = crate::Repository::parse("m.example:5000/ocp4/openshift4").unwrap();
    let updates = p.update_images(&repo);
    assert_eq!(
        updates.len(),
        1,
        "only the release pinned by digest is known before the copy"
    );
    assert_eq!(
        output::render_release_updates(&updates),
        format!(
            "To upgrade a cluster to a mirrored release (with the mirror policy applied and the release's signature in the cluster), run one of:\n\n  4.14.1  oc adm upgrade --allow-explicit-upgrade --to-image m.example:5000/ocp4/openshift4@{digest}\n"
        )
    );
    let m = output::additional_mirrors(&p.additional_images, "m.example:5000", "mirror");
    assert!(m.by_tag.itms_yaml("t").contains(
        "  - mirrors:\n    - m.example:5000/mirror/ubi9/ubi\n    source: registry.access.redhat.com/ubi9/ubi\n"
    ));
    assert!(m.by_digest.idms_yaml("d").contains(
        "  - mirrors:\n    - m.example:5000/mirror/tools/jq\n    source: quay.io/tools/jq\n"
    ));
    assert_eq!(
        p.additional_images[0]
            .mirror_image("m.example:5000", "")
            .to_string(),
        "m.example:5000/ubi9/ubi:9.4"
    );
    // A missing saved graph names the directory and what it holds.
    let e = rt()
        .block_on(client.channel("fast-4.14", "amd64"))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no saved graph for channel `fast-4.14` and architecture `amd64`"),
        "{e}"
    );
    assert!(matches!(e.hint(), Some(Hint::CheckChannel { known, .. }) if known == ["stable-4.14"]));
}
