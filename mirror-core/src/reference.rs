//! Image references and repositories.
//!
//! Parsing follows the Docker reference grammar through oci-client's [`Reference`] (re-exported
//! so callers share one version); mirrorctl's own types add what a mirror needs to know: whether
//! a tag or digest was given at all, and the repository without either.

use std::fmt;

pub use oci_client::Reference;

use crate::digest::Digest;
use crate::error::Error;

/// A repository on a registry: `registry[:port]/path`, no tag, no digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Repository {
    /// `host[:port]`, e.g. `quay.io` or `mirror.example.com:5000`.
    pub registry: String,
    /// The path, e.g. `openshift-release-dev/ocp-release`.
    pub path: String,
}

impl Repository {
    /// Parses a repository; a tag or digest is an error (as `oc`'s `--to`).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let r = ImageRef::parse_inner(input, true)?;
        if r.explicit_tag || r.target.digest().is_some() {
            return Err(Error::InvalidReference {
                input: input.to_string(),
                reason: "must be a repository without tag or digest".into(),
            });
        }
        Ok(r.repo)
    }

    /// `registry/path:tag` or `registry/path@sha256:...` for messages.
    pub fn display_ref(&self, reference: &str) -> String {
        if reference.starts_with("sha256:") {
            format!("{self}@{reference}")
        } else {
            format!("{self}:{reference}")
        }
    }

    /// This repository at `tag`.
    pub fn at_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            repo: self.clone(),
            target: Target::Tag(tag.to_string()),
            explicit_tag: true,
        }
    }

    /// This repository at `digest`.
    pub fn at_digest(&self, digest: &Digest) -> ImageRef {
        ImageRef {
            repo: self.clone(),
            target: Target::Digest(digest.clone()),
            explicit_tag: false,
        }
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// What an [`ImageRef`] points at.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Target {
    /// A tag.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl Target {
    /// The digest, when pinned by one.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Target::Digest(d) => Some(d),
            Target::Tag(_) => None,
        }
    }

    /// The tag or digest text used in a `/manifests/<ref>` URL.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Tag(t) => t,
            Target::Digest(d) => d.as_str(),
        }
    }
}

/// An image: a repository plus a tag or digest (a digest wins when both are given).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ImageRef {
    /// The repository.
    pub repo: Repository,
    /// Tag or digest.
    pub target: Target,
    explicit_tag: bool,
}

impl ImageRef {
    /// Parses `registry/path[:tag][@sha256:...]`; a reference without either means `:latest`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        Self::parse_inner(input, false)
    }

    fn parse_inner(input: &str, repo_only: bool) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        if trimmed.contains("://") {
            return Err(bad("drop the scheme: write `host[:port]/path[:tag]`"));
        }
        let first = trimmed.split('/').next().unwrap_or_default();
        if !trimmed.contains('/')
            || !(first.contains('.') || first.contains(':') || first == "localhost")
        {
            return Err(bad(
                "name the registry host explicitly, e.g. `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64`",
            ));
        }
        let path_part = trimmed
            .split('@')
            .next()
            .unwrap_or(trimmed)
            .split_once('/')
            .map(|x| x.1)
            .unwrap_or_default();
        let path_only = path_part.rsplit_once(':').map_or(path_part, |(p, tag)| {
            if tag.contains('/') { path_part } else { p }
        });
        if path_only.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase"));
        }
        if let Some((_, d)) = trimmed.split_once('@')
            && Digest::parse(d).is_err()
        {
            return Err(bad(
                "the digest must be `sha256:` and 64 lowercase hex digits",
            ));
        }
        let parsed: Reference = trimmed
            .parse()
            .map_err(|e: oci_client::ParseError| bad(&e.to_string()))?;
        let name_part = trimmed.split('@').next().unwrap_or(trimmed);
        let last = name_part.rsplit('/').next().unwrap_or(name_part);
        let explicit_tag = last.contains(':');
        let repo = Repository {
            registry: parsed.registry().to_string(),
            path: parsed.repository().to_string(),
        };
        let target = match parsed.digest() {
            Some(d) => Target::Digest(
                Digest::parse(d).map_err(|_| bad("only `sha256:` digests are supported"))?,
            ),
            None if repo_only && !explicit_tag => Target::Tag(String::new()),
            None => Target::Tag(parsed.tag().unwrap_or("latest").to_string()),
        };
        Ok(Self {
            repo,
            target,
            explicit_tag,
        })
    }

    /// The same image pinned at `digest`.
    pub fn with_digest(&self, digest: &Digest) -> Self {
        self.repo.at_digest(digest)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repo.display_ref(self.target.as_str()))
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for Repository {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

/// Whether `tag` is a valid tag by the distribution spec: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_images() {
        let d = format!("sha256:{}", "a".repeat(64));
        let table = [
            (
                "quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64".to_string(),
                "quay.io",
                "openshift-release-dev/ocp-release",
                "4.14.1-x86_64".to_string(),
            ),
            (
                format!("quay.io/openshift-release-dev/ocp-v4.0-art-dev@{d}"),
                "quay.io",
                "openshift-release-dev/ocp-v4.0-art-dev",
                d.clone(),
            ),
            (
                "localhost:5000/ocp4/openshift4".to_string(),
                "localhost:5000",
                "ocp4/openshift4",
                "latest".to_string(),
            ),
            (
                "127.0.0.1:5000/a:t".to_string(),
                "127.0.0.1:5000",
                "a",
                "t".to_string(),
            ),
        ];
        for (input, reg, path, target) in table {
            let r = ImageRef::parse(&input).unwrap();
            assert_eq!(
                (
                    r.repo.registry.as_str(),
                    r.repo.path.as_str(),
                    r.target.as_str()
                ),
                (reg, path, target.as_str())
            );
        }
        assert_eq!(
            ImageRef::parse(&format!("q.io/a:t@{d}"))
                .unwrap()
                .to_string(),
            format!("q.io/a@{d}")
        );
    }

    #[test]
    fn rejects_bad_references() {
        let table = [
            ("", "invalid image reference ``: empty"),
            (
                "https://quay.io/a/b",
                "invalid image reference `https://quay.io/a/b`: drop the scheme: write `host[:port]/path[:tag]`",
            ),
            (
                "ocp-release:4.14",
                "invalid image reference `ocp-release:4.14`: name the registry host explicitly, e.g. `quay.io/openshift-release-dev/ocp-release:4.14.1-x86_64`",
            ),
            (
                "quay.io/UPPER/x",
                "invalid image reference `quay.io/UPPER/x`: repository name must be lowercase",
            ),
            (
                "quay.io/a@sha256:abc",
                "invalid image reference `quay.io/a@sha256:abc`: the digest must be `sha256:` and 64 lowercase hex digits",
            ),
        ];
        for (input, want) in table {
            assert_eq!(
                ImageRef::parse(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn repositories_refuse_tags() {
        assert_eq!(
            Repository::parse("m.example:5000/ocp4/openshift4")
                .unwrap()
                .to_string(),
            "m.example:5000/ocp4/openshift4"
        );
        assert_eq!(
            Repository::parse("m.example:5000/ocp4/openshift4:4.14")
                .unwrap_err()
                .to_string(),
            "invalid image reference `m.example:5000/ocp4/openshift4:4.14`: must be a repository without tag or digest"
        );
    }
}
