//! The mirror instructions `oc adm release mirror` prints: install-config sources and the
//! ImageContentSourcePolicy / ImageDigestMirrorSet (see docs/release-mirror.md).

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceMirror {
    /// The source repository, e.g. `quay.io/openshift-release-dev/ocp-release`.
    pub source: String,
    /// Mirror repositories, in order.
    pub mirrors: Vec<String>,
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
                    source,
                    mirrors: m.clone(),
                })
                .collect(),
        }
    }

    /// The install-config list under `key` (`imageContentSources` or `imageDigestSources`).
    pub fn install_config_yaml(&self, key: &str) -> String {
        let mut out = format!("{key}:\n");
        for s in &self.sources {
            out.push_str("- mirrors:\n");
            for m in &s.mirrors {
                out.push_str(&format!("  - {m}\n"));
            }
            out.push_str(&format!("  source: {}\n", s.source));
        }
        out
    }

    /// The ImageContentSourcePolicy YAML (`metadata.name: example`, as `oc`).
    pub fn icsp_yaml(&self, name: &str) -> String {
        self.policy_yaml(
            "operator.openshift.io/v1alpha1",
            "ImageContentSourcePolicy",
            name,
            "repositoryDigestMirrors",
        )
    }

    /// The ImageDigestMirrorSet YAML.
    pub fn idms_yaml(&self, name: &str) -> String {
        self.policy_yaml(
            "config.openshift.io/v1",
            "ImageDigestMirrorSet",
            name,
            "imageDigestMirrors",
        )
    }

    fn policy_yaml(&self, api: &str, kind: &str, name: &str, key: &str) -> String {
        let mut out = format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  {key}:\n"
        );
        for s in &self.sources {
            out.push_str("  - mirrors:\n");
            for m in &s.mirrors {
                out.push_str(&format!("    - {m}\n"));
            }
            out.push_str(&format!("    source: {}\n", s.source));
        }
        out
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
