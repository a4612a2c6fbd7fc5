//! Reading ImageSetConfiguration files: what is read, what is refused and where.

use std::path::Path;

use super::super::imageset::{ImageSetConfig, key_line};
use super::super::select::ChannelRequest;
use crate::hint::Hint;

const HEAD: &str = "apiVersion: mirror.openshift.io/v2alpha1\nkind: ImageSetConfiguration\n";

fn parse(body: &str) -> Result<ImageSetConfig, String> {
    ImageSetConfig::parse(&format!("{HEAD}{body}"), Path::new("isc.yaml"))
        .map_err(|e| e.to_string())
}

#[test]
fn reads_what_oc_mirror_writes() {
    let isc = parse(
        "archiveSize: 4
mirror:
  platform:
    channels:
    - name: stable-4.14
      type: ocp
      minVersion: 4.14.1
      maxVersion: '4.14.10'
      shortestPath: true
    - name: stable-4.15
      full: true
    graph: false
    architectures: []
  additionalImages:
  - name: registry.access.redhat.com/ubi9/ubi:9.4
  - name: quay.io/tools/jq@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  operators: []
  helm: {}
",
    )
    .unwrap();
    assert_eq!(isc.archive_size_gib, Some(4));
    assert_eq!(
        isc.channels,
        [
            ChannelRequest {
                name: "stable-4.14".into(),
                min_version: Some(semver::Version::new(4, 14, 1)),
                max_version: Some(semver::Version::new(4, 14, 10)),
                shortest_path: true,
                full: false,
            },
            ChannelRequest {
                name: "stable-4.15".into(),
                full: true,
                ..ChannelRequest::default()
            },
        ]
    );
    let names: Vec<String> = isc
        .additional_images
        .iter()
        .map(|i| i.image.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "registry.access.redhat.com/ubi9/ubi:9.4",
            "quay.io/tools/jq@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ]
    );
    assert_eq!(
        isc.additional_images[0]
            .mirror_image("m:5000", "/ns/")
            .to_string(),
        "m:5000/ns/ubi9/ubi:9.4"
    );
    let one = parse(
        "mirror:\n  platform:\n    release: quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64\n",
    )
    .unwrap();
    assert_eq!(
        one.release.unwrap().to_string(),
        "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64"
    );
    assert!(one.channels.is_empty());
}

/// Each field oc-mirror knows and mirrorctl does not do yet: refused with its path and
/// the line of its key.
#[test]
fn unsupported_fields_are_named_with_their_path_and_line() {
    let table = [
        (
            "mirror:\n  operators:\n  - catalog: registry.redhat.io/redhat/redhat-operator-index:v4.14\n",
            4,
            "mirror.operators",
        ),
        (
            "mirror:\n  helm:\n    repositories:\n    - name: x\n      url: https://h\n",
            4,
            "mirror.helm",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: q.io/a:b\n  blockedImages:\n  - name: q.io/a\n",
            6,
            "mirror.blockedImages",
        ),
        ("mirror:\n  samples:\n  - name: s\n", 4, "mirror.samples"),
        (
            "mirror:\n  platform:\n    graph: true\n    channels:\n    - name: stable-4.14\n",
            5,
            "mirror.platform.graph",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n    architectures:\n    - arm64\n",
            7,
            "mirror.platform.architectures",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n    platforms:\n    - os: linux\n      architecture: arm64\n",
            7,
            "mirror.platform.platforms",
        ),
        (
            "mirror:\n  platform:\n    kubeVirtContainer: true\n    channels:\n    - name: stable-4.14\n",
            5,
            "mirror.platform.kubeVirtContainer",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: q.io/a:b\n  - name: q.io/c:d\n    targetRepo: x/y\n",
            7,
            "mirror.additionalImages[1].targetRepo",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: q.io/a:b\n    targetTag: v1\n",
            6,
            "mirror.additionalImages[0].targetTag",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: q.io/a:b\n    platforms:\n    - os: linux\n      architecture: amd64\n",
            6,
            "mirror.additionalImages[0].platforms",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: okd-scos-4.16\n      type: okd\n",
            7,
            "mirror.platform.channels[0].type",
        ),
    ];
    for (body, line, field) in table {
        let e = ImageSetConfig::parse(&format!("{HEAD}{body}"), Path::new("isc.yaml")).unwrap_err();
        let want = format!("imageset config `isc.yaml`: line {line}: `{field}");
        assert!(e.to_string().starts_with(&want), "{e}\nwant: {want}");
        assert!(e.to_string().contains("not supported yet"), "{e}");
        assert_eq!(
            e.hint(),
            Some(Hint::NotSupportedYet {
                field: field.into()
            })
        );
    }
}

#[test]
fn bad_files_are_refused_with_the_line() {
    let table = [
        (
            "mirror:\n  platform:\n    chanels: []\n",
            "line 5 column 5: unknown field `chanels`, expected one of channels, release, graph, architectures, platforms, kubeVirtContainer",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: q.io/a:b\n    tag: x\n",
            "line 6 column 5: unknown field `tag`, expected one of name, targetRepo, targetTag, platforms",
        ),
        (
            "storageConfig:\n  local:\n    path: /tmp\nmirror: {}\n",
            "line 3 column 1: unknown field `storageConfig`",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n    - name: fast-4.14\n    - name: stable-4.14\n",
            "line 8: `mirror.platform.channels[2]`: channel `stable-4.14` is listed twice",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - minVersion: 4.14.1\n",
            "line 6 column 7: missing field `name`",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n      minVersion: 4.14\n",
            "line 7: `mirror.platform.channels[0].minVersion`: channel `stable-4.14`: the minimum version `4.14` is not a version: unexpected end of input while parsing minor version number",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n      minVersion: 4.14.9\n      maxVersion: 4.14.2\n",
            "line 6: `mirror.platform.channels[0]`: channel `stable-4.14`: the minimum version `4.14.9` is above the maximum `4.14.2`",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: Stable-4.14\n",
            "line 6: `mirror.platform.channels[0]`: channel `Stable-4.14`: not a channel name",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n      type: ocp4\n",
            "line 7: `mirror.platform.channels[0].type: ocp4`: the type is `ocp` (or `okd`)",
        ),
        (
            "mirror:\n  platform:\n    channels:\n    - name: stable-4.14\n    release: quay.io/o/r:1\n",
            "line 7: `mirror.platform.release` and `mirror.platform.channels` together",
        ),
        (
            "mirror:\n  platform:\n    release: ocp-release:4.14.1\n",
            "line 5: `mirror.platform.release`: invalid image reference `ocp-release:4.14.1`",
        ),
        (
            "mirror:\n  additionalImages:\n  - name: ubi9/ubi:latest\n",
            "line 5: `mirror.additionalImages[0].name`: invalid image reference `ubi9/ubi:latest`: name the registry host explicitly",
        ),
        ("mirror: {}\n", "line 3: `mirror` asks for nothing"),
        (
            "archiveSize: -1\nmirror:\n  additionalImages:\n  - name: q.io/a:b\n",
            "line 3: `archiveSize` is -1: give a size in GiB, at least 1",
        ),
        (
            "archiveSize: 4\narchiveSize: 5\nmirror: {}\n",
            "line 4 column 1: duplicate mapping key: archiveSize",
        ),
        (
            "delete:\n  platform: {}\n",
            "line 4: `delete` is not allowed in an `ImageSetConfiguration`",
        ),
    ];
    for (body, want) in table {
        let e = ImageSetConfig::parse(&format!("{HEAD}{body}"), Path::new("isc.yaml")).unwrap_err();
        let want = format!("imageset config `isc.yaml`: {want}");
        assert!(e.to_string().starts_with(&want), "{e}\nwant: {want}");
        assert!(e.hint().is_some(), "{e}");
    }
    let heads = [
        (
            "kind: ImageSetConfiguration\nmirror: {}\n",
            "`apiVersion` is missing: expected `mirror.openshift.io/v2alpha1`",
        ),
        (
            "apiVersion: mirror.openshift.io/v1alpha2\nkind: ImageSetConfiguration\nmirror: {}\n",
            "line 1: `apiVersion: mirror.openshift.io/v1alpha2` is oc-mirror v1's format",
        ),
        (
            "apiVersion: mirror.openshift.io/v2alpha1\nkind: DeleteImageSetConfiguration\ndelete: {}\n",
            "line 2: `kind: DeleteImageSetConfiguration` is not supported: expected `ImageSetConfiguration`",
        ),
        (
            "apiVersion: mirror.openshift.io/v2alpha1\nkind: ImageSetConfiguration\n",
            "the `mirror` stanza is missing",
        ),
        ("- a\n- b\n", "line 1 column 1: expected mapping start"),
    ];
    for (text, want) in heads {
        let e = ImageSetConfig::parse(text, Path::new("isc.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("imageset config `isc.yaml`: {want}")),
            "{e}\nwant: {want}"
        );
    }
    let e = ImageSetConfig::load(Path::new("/nonexistent/isc.yaml")).unwrap_err();
    assert_eq!(
        crate::ErrorChain(&e).to_string(),
        "read imageset config `/nonexistent/isc.yaml`: No such file or directory (os error 2)"
    );
}

#[test]
fn key_lines() {
    let text = "a:\n  operators:\n\n  - x\n  - y\n";
    assert_eq!(key_line(text, 4, "operators"), 2);
    assert_eq!(key_line(text, 2, "operators"), 2);
    assert_eq!(key_line(text, 4, "nothing"), 4);
}
