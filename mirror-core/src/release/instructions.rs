//! The mirror instructions `oc adm release mirror` prints: install-config sources and the
//! ImageContentSourcePolicy / ImageDigestMirrorSet (see docs/release-mirror.md); and the
//! ImageTagMirrorSet for images mirrored by tag (see docs/upgrades.md).

use serde::Serialize;

/// Which instructions to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstructionKind {
    /// `imageContentSources` + ImageContentSourcePolicy (releases before 4.14).
    Icsp,
    /// `imageDigestSources` + ImageDigestMirrorSet (4.14 and later).
    Idms,
    /// Both forms.
    Both,
    /// Nothing.
    None,
}

impl InstructionKind {
    /// The default for a release version: IDMS from 4.14, ICSP before.
    pub fn default_for(version: &str) -> Self {
        let mut parts = version.split(['.', '-']);
        let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if (major, minor) >= (4, 14) {
            Self::Idms
        } else {
            Self::Icsp
        }
    }
}

/// One source repository and the mirrors that serve it.
///
/// Serialized `mirrors` first, then `source`, as `oc` prints them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceMirror {
    /// Mirror repositories, in order.
    pub mirrors: Vec<String>,
    /// The source repository, e.g. `quay.io/openshift-release-dev/ocp-release`.
    pub source: String,
}

/// The sources and their mirrors, sorted by source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MirrorInstructions {
    /// Sorted, de-duplicated.
    pub sources: Vec<SourceMirror>,
}

impl MirrorInstructions {
    /// Maps every source repository to `mirrors` (de-duplicated, order kept).
    pub fn new(sources: impl IntoIterator<Item = String>, mirrors: &[String]) -> Self {
        let mut m: Vec<String> = Vec::new();
        for x in mirrors {
            if !m.contains(x) {
                m.push(x.clone());
            }
        }
        let mut s: Vec<String> = sources.into_iter().collect();
        s.sort();
        s.dedup();
        Self {
            sources: s
                .into_iter()
                .map(|source| SourceMirror {
                    mirrors: m.clone(),
                    source,
                })
                .collect(),
        }
    }

    /// Maps each `(source, mirror)` pair's source repository to its mirrors (sources sorted,
    /// mirrors de-duplicated in the order given): for images that each land in their own
    /// mirror repository, such as additional images.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut by_source: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        for (source, mirror) in pairs {
            let m = by_source.entry(source).or_default();
            if !m.contains(&mirror) {
                m.push(mirror);
            }
        }
        Self {
            sources: by_source
                .into_iter()
                .map(|(source, mirrors)| SourceMirror { mirrors, source })
                .collect(),
        }
    }

    /// True when no source is mapped.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The install-config list under `key` (`imageContentSources` or `imageDigestSources`).
    pub fn install_config_yaml(&self, key: &str) -> String {
        let mut doc = std::collections::BTreeMap::new();
        doc.insert(key, &self.sources);
        to_yaml(&doc)
    }

    /// The ImageContentSourcePolicy YAML (`metadata.name: example`, as `oc`).
    pub fn icsp_yaml(&self, name: &str) -> String {
        to_yaml(&Policy {
            api_version: "operator.openshift.io/v1alpha1",
            kind: "ImageContentSourcePolicy",
            metadata: Metadata { name },
            spec: PolicySpec::Icsp {
                repository_digest_mirrors: &self.sources,
            },
        })
    }

    /// The ImageDigestMirrorSet YAML.
    pub fn idms_yaml(&self, name: &str) -> String {
        to_yaml(&Policy {
            api_version: "config.openshift.io/v1",
            kind: "ImageDigestMirrorSet",
            metadata: Metadata { name },
            spec: PolicySpec::Idms {
                image_digest_mirrors: &self.sources,
            },
        })
    }

    /// The ImageTagMirrorSet YAML (OpenShift 4.13 and later), for images mirrored by tag.
    pub fn itms_yaml(&self, name: &str) -> String {
        to_yaml(&Policy {
            api_version: "config.openshift.io/v1",
            kind: "ImageTagMirrorSet",
            metadata: Metadata { name },
            spec: PolicySpec::Itms {
                image_tag_mirrors: &self.sources,
            },
        })
    }

    /// The text `oc adm release mirror` prints after `Mirror prefix:`, for `kind`.
    pub fn render(&self, kind: InstructionKind) -> String {
        let icsp = || {
            format!(
                "\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n{}\n\nTo use the new mirrored repository for upgrades, use the following to create an ImageContentSourcePolicy:\n\n{}",
                self.install_config_yaml("imageContentSources"),
                self.icsp_yaml("example")
            )
        };
        let idms = || {
            format!(
                "\nTo use the new mirrored repository to install, add the following section to the install-config.yaml:\n\n{}\n\nTo use the new mirrored repository for upgrades, use the following to create an ImageDigestMirrorSet:\n\n{}",
                self.install_config_yaml("imageDigestSources"),
                self.idms_yaml("example")
            )
        };
        match kind {
            InstructionKind::Icsp => icsp(),
            InstructionKind::Idms => idms(),
            InstructionKind::Both => format!("{}\n{}", icsp(), idms()),
            InstructionKind::None => String::new(),
        }
    }
}

/// An ImageContentSourcePolicy, ImageDigestMirrorSet or ImageTagMirrorSet.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Policy<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    spec: PolicySpec<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum PolicySpec<'a> {
    Icsp {
        repository_digest_mirrors: &'a [SourceMirror],
    },
    Idms {
        image_digest_mirrors: &'a [SourceMirror],
    },
    Itms {
        image_tag_mirrors: &'a [SourceMirror],
    },
}

/// YAML as OpenShift's tools write it: block style, two-space steps, a sequence under a key at
/// the key's own column; strings quoted only where a YAML reader would misread them.
pub(crate) fn to_yaml<T: Serialize>(value: &T) -> String {
    let opts = serde_saphyr::ser_options! { indent_step: 2 };
    serde_saphyr::to_string_with_options(value, opts)
        .expect("plain structs of strings always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_oc_output_shape() {
        let i = MirrorInstructions::new(
            [
                "quay.io/openshift-release-dev/ocp-v4.0-art-dev".to_string(),
                "quay.io/openshift-release-dev/ocp-release".to_string(),
            ],
            &[
                "m.example:5000/ocp4/openshift4".to_string(),
                "m.example:5000/ocp4/openshift4".to_string(),
            ],
        );
        let want = "
To use the new mirrored repository to install, add the following section to the install-config.yaml:

imageContentSources:
- mirrors:
  - m.example:5000/ocp4/openshift4
  source: quay.io/openshift-release-dev/ocp-release
- mirrors:
  - m.example:5000/ocp4/openshift4
  source: quay.io/openshift-release-dev/ocp-v4.0-art-dev


To use the new mirrored repository for upgrades, use the following to create an ImageContentSourcePolicy:

apiVersion: operator.openshift.io/v1alpha1
kind: ImageContentSourcePolicy
metadata:
  name: example
spec:
  repositoryDigestMirrors:
  - mirrors:
    - m.example:5000/ocp4/openshift4
    source: quay.io/openshift-release-dev/ocp-release
  - mirrors:
    - m.example:5000/ocp4/openshift4
    source: quay.io/openshift-release-dev/ocp-v4.0-art-dev
";
        assert_eq!(i.render(InstructionKind::Icsp), want);
        let idms = i.render(InstructionKind::Idms);
        assert!(idms.contains("imageDigestSources:\n- mirrors:\n  - m.example:5000/ocp4/openshift4\n  source: quay.io/openshift-release-dev/ocp-release\n"));
        assert!(idms.contains("create an ImageDigestMirrorSet:\n\napiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: example\nspec:\n  imageDigestMirrors:\n  - mirrors:\n"));
        assert_eq!(i.render(InstructionKind::None), "");
    }

    /// What a YAML reader gets back is exactly the repositories given, whatever they hold.
    #[test]
    fn yaml_reads_back_as_written() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Entry {
            mirrors: Vec<String>,
            source: String,
        }
        let odd = [
            "m.example:5000/a # not a comment".to_string(),
            "yes".to_string(),
            "'quoted'".to_string(),
        ];
        let i = MirrorInstructions::new(odd.clone(), &["m.example:5000/x: y".to_string()]);
        let back: std::collections::BTreeMap<String, Vec<Entry>> =
            serde_saphyr::from_str(&i.install_config_yaml("imageDigestSources")).unwrap();
        let mut want: Vec<Entry> = odd
            .iter()
            .map(|s| Entry {
                mirrors: vec!["m.example:5000/x: y".into()],
                source: s.clone(),
            })
            .collect();
        want.sort_by(|a, b| a.source.cmp(&b.source));
        assert_eq!(back["imageDigestSources"], want);
        let policy: serde_json::Value = serde_saphyr::from_str(&i.idms_yaml("n")).unwrap();
        assert_eq!(policy["spec"]["imageDigestMirrors"][2]["source"], "yes");
    }

    /// Each image's source repository maps to its own mirror; the ImageTagMirrorSet has the
    /// shape of `config.openshift.io/v1` (`spec.imageTagMirrors[{source, mirrors}]`).
    #[test]
    fn tag_mirror_set_from_pairs() {
        let i = MirrorInstructions::from_pairs([
            (
                "registry.access.redhat.com/ubi9/ubi".to_string(),
                "m.example:5000/ns/ubi9/ubi".to_string(),
            ),
            (
                "quay.io/tools/jq".to_string(),
                "m.example:5000/ns/tools/jq".to_string(),
            ),
            (
                "registry.access.redhat.com/ubi9/ubi".to_string(),
                "m.example:5000/ns/ubi9/ubi".to_string(),
            ),
        ]);
        assert!(!i.is_empty());
        assert_eq!(
            i.itms_yaml("mirrorctl-tags"),
            "apiVersion: config.openshift.io/v1
kind: ImageTagMirrorSet
metadata:
  name: mirrorctl-tags
spec:
  imageTagMirrors:
  - mirrors:
    - m.example:5000/ns/tools/jq
    source: quay.io/tools/jq
  - mirrors:
    - m.example:5000/ns/ubi9/ubi
    source: registry.access.redhat.com/ubi9/ubi
"
        );
        assert!(MirrorInstructions::from_pairs([]).is_empty());
    }

    #[test]
    fn default_kind_by_version() {
        for (v, k) in [
            ("4.5.9", InstructionKind::Icsp),
            ("4.13.30", InstructionKind::Icsp),
            ("4.14.0", InstructionKind::Idms),
            ("4.16.0-rc.1", InstructionKind::Idms),
            ("5.0.0", InstructionKind::Idms),
        ] {
            assert_eq!(InstructionKind::default_for(v), k, "{v}");
        }
    }
}
