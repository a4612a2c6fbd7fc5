//! Which distribution release will run: the S3 driver's keys differ between 2.x (Debian's
//! `docker-registry`, the `registry:2` image: an endpoint forces path-style addressing) and
//! 3.x (`forcepathstyle: true` must be set), so the config writer asks.

use std::path::Path;

use serde::Serialize;

use super::host;

/// A distribution release, major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RegistryVersion {
    /// 2 or 3.
    pub major: u32,
    /// The minor release.
    pub minor: u32,
}

impl RegistryVersion {
    /// What is assumed when the version cannot be told: 2.8, the release Debian and RHEL
    /// package and the default image `registry:2` holds.
    pub const DEFAULT: RegistryVersion = RegistryVersion { major: 2, minor: 8 };

    /// Whether the S3 driver needs `forcepathstyle: true` beside `regionendpoint` (3.x).
    pub fn needs_forcepathstyle(self) -> bool {
        self.major >= 3
    }
}

impl std::fmt::Display for RegistryVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// `2.8.2+ds1`, `v3.0.0`, `3` -> the version; anything else `None`.
fn parse_number(word: &str) -> Option<RegistryVersion> {
    let w = word.strip_prefix('v').unwrap_or(word);
    let mut parts = w.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor = match w.as_bytes().get(major.to_string().len()) {
        Some(b'.') => parts.next().and_then(|m| m.parse().ok()).unwrap_or(0),
        None => 0,
        // `2-alpine`, `2rc`: a major alone.
        Some(_) => 0,
    };
    (1..10)
        .contains(&major)
        .then_some(RegistryVersion { major, minor })
}

/// The version in a `registry --version` line, e.g.
/// `docker-registry github.com/docker/distribution 2.8.2+ds1` or
/// `registry github.com/distribution/distribution/v3 v3.0.0`: the last word that is a number.
pub(crate) fn parse_version_output(text: &str) -> Option<RegistryVersion> {
    text.split_whitespace()
        .rev()
        .filter(|w| !w.contains('/'))
        .find_map(parse_number)
}

/// The version an image's tag names: `registry:2` -> 2.0 (2.x), `registry:2.8.3` -> 2.8,
/// `registry:3` -> 3.0. `latest`, a digest, or no tag -> `None`.
pub(crate) fn from_image_tag(image: &str) -> Option<RegistryVersion> {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.split_once(':')?.1;
    parse_number(tag)
}

/// How the version was found, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DetectedVersion {
    /// The version.
    pub version: RegistryVersion,
    /// Where it came from: `docker-registry --version`, the image tag, or the default.
    pub source: String,
}

/// The version of a host binary, from `BINARY --version`; the default when it does not say.
pub(crate) fn of_binary(binary: &Path) -> DetectedVersion {
    let cmd = format!("`{} --version`", binary.display());
    match host::run(binary, &["--version"])
        .ok()
        .as_deref()
        .and_then(parse_version_output)
    {
        Some(version) => DetectedVersion {
            version,
            source: cmd,
        },
        None => default_version(&format!("{cmd} named no version")),
    }
}

/// The version of a podman image: its tag when it names one (`registry:2`), else what
/// `podman run --rm IMAGE --version` prints (the image's entrypoint runs `registry
/// --version`), else the default.
pub(crate) fn of_image(podman: &Path, image: &str) -> DetectedVersion {
    if let Some(version) = from_image_tag(image) {
        return DetectedVersion {
            version,
            source: format!("the tag of `{image}`"),
        };
    }
    match host::run(podman, &["run", "--rm", image, "--version"])
        .ok()
        .as_deref()
        .and_then(parse_version_output)
    {
        Some(version) => DetectedVersion {
            version,
            source: format!("`podman run --rm {image} --version`"),
        },
        None => default_version(&format!("`{image}` has no version tag and did not say")),
    }
}

fn default_version(why: &str) -> DetectedVersion {
    DetectedVersion {
        version: RegistryVersion::DEFAULT,
        source: format!("the default ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> Option<RegistryVersion> {
        Some(RegistryVersion { major, minor })
    }

    #[test]
    fn versions_from_output_and_tags() {
        for (text, want) in [
            (
                "docker-registry github.com/docker/distribution 2.8.2+ds1\n",
                v(2, 8),
            ),
            (
                "registry github.com/distribution/distribution/v3 v3.0.0",
                v(3, 0),
            ),
            ("registry github.com/docker/distribution v2.7.1", v(2, 7)),
            (
                "registry github.com/distribution/distribution/v3 3.1.0-rc.1",
                v(3, 1),
            ),
            ("usage: registry", None),
            ("", None),
        ] {
            assert_eq!(parse_version_output(text), want, "{text}");
        }
        for (image, want) in [
            ("docker.io/library/registry:2", v(2, 0)),
            ("registry:2.8.3", v(2, 8)),
            ("mirror.example.com:5000/library/registry:3", v(3, 0)),
            ("quay.io/x/registry:3.0.0", v(3, 0)),
            ("mirror.example.com:5000/library/registry", None),
            ("docker.io/library/registry:latest", None),
            ("registry@sha256:0123", None),
        ] {
            assert_eq!(from_image_tag(image), want, "{image}");
        }
        assert!(RegistryVersion { major: 3, minor: 0 }.needs_forcepathstyle());
        assert!(!RegistryVersion::DEFAULT.needs_forcepathstyle());
        let d = of_binary(Path::new("/nonexistent/registry"));
        assert_eq!(d.version, RegistryVersion::DEFAULT);
        assert!(d.source.starts_with("the default ("), "{}", d.source);
    }
}
