//! oc-mirror's `ImageSetConfiguration` (`mirror.openshift.io/v2alpha1`), the part mirrorctl
//! implements: `mirror.platform.channels[]`, `mirror.platform.release`,
//! `mirror.additionalImages[]` (`name`) and `archiveSize`.
//!
//! Every other field oc-mirror knows is refused with its path in the file and its line when
//! it asks for something (a `false`, empty list or empty map asks for nothing and passes); a
//! field oc-mirror does not know either is an error with its line, as oc-mirror's strict
//! decoding makes it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::select::{ChannelRequest, parse_version};
use crate::error::Error;
use crate::hint::Hint;
use crate::reference::ImageRef;

/// The `apiVersion` read.
pub const IMAGESET_API_VERSION: &str = "mirror.openshift.io/v2alpha1";
/// The `kind` read.
pub const IMAGESET_KIND: &str = "ImageSetConfiguration";

/// What an ImageSetConfiguration asks mirrorctl to mirror.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSetConfig {
    /// `mirror.platform.channels[]`, in file order.
    pub channels: Vec<ChannelRequest>,
    /// `mirror.platform.release`: one release image by tag or digest (oc-mirror mirrors only
    /// it then, so it cannot be combined with channels).
    pub release: Option<ImageRef>,
    /// `mirror.additionalImages[]`, in file order.
    pub additional_images: Vec<AdditionalImage>,
    /// `archiveSize`: the largest archive volume in GiB, for mirroring to disk.
    pub archive_size_gib: Option<u64>,
}

/// An image mirrored beside the releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalImage {
    /// The name as written in the file.
    pub name: String,
    /// The image, by tag or by digest.
    pub image: ImageRef,
}

impl AdditionalImage {
    /// Where the image lands on a mirror: its repository path under `namespace` (empty for
    /// none) on `registry`, with the same tag or digest, as oc-mirror places additional
    /// images (`quay.io/ubi9/ubi:9.4` → `<registry>/<namespace>/ubi9/ubi:9.4`).
    pub fn mirror_image(&self, registry: &str, namespace: &str) -> ImageRef {
        let ns = namespace.trim_matches('/');
        let path = if ns.is_empty() {
            self.image.repo.path.clone()
        } else {
            format!("{ns}/{}", self.image.repo.path)
        };
        let repo = crate::reference::Repository {
            registry: registry.to_string(),
            path,
        };
        match &self.image.target {
            crate::reference::Target::Digest(d) => repo.at_digest(d),
            crate::reference::Target::Tag(t) => repo.at_tag(t),
        }
    }
}

type Field = Option<Spanned<serde_json::Value>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    api_version: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    archive_size: Option<Spanned<i64>>,
    mirror: Option<Spanned<RawMirror>>,
    delete: Field,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawMirror {
    platform: Option<RawPlatform>,
    #[serde(default)]
    additional_images: Vec<RawImage>,
    operators: Field,
    helm: Field,
    blocked_images: Field,
    samples: Field,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPlatform {
    #[serde(default)]
    channels: Vec<RawChannel>,
    release: Option<Spanned<String>>,
    graph: Field,
    architectures: Field,
    platforms: Field,
    kube_virt_container: Field,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    min_version: Option<Spanned<String>>,
    max_version: Option<Spanned<String>>,
    #[serde(default)]
    shortest_path: bool,
    #[serde(default)]
    full: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawImage {
    name: Spanned<String>,
    target_repo: Field,
    target_tag: Field,
    platforms: Field,
}

/// Why each unimplemented field is refused, after its path.
const NOT_YET: &[(&str, &str)] = &[
    ("operators", "operator catalogs are not mirrored yet"),
    ("helm", "Helm charts are not mirrored yet"),
    ("blockedImages", "blocking images is not supported yet"),
    ("samples", "samples are not supported yet"),
    (
        "graph",
        "building the graph-data image for an OpenShift Update Service is not supported yet",
    ),
    (
        "architectures",
        "choosing architectures in the file is not supported yet (the graph architecture is a flag)",
    ),
    ("platforms", "filtering platforms is not supported yet"),
    (
        "kubeVirtContainer",
        "mirroring the KubeVirt container image is not supported yet",
    ),
    (
        "targetRepo",
        "renaming additional images is not supported yet",
    ),
    (
        "targetTag",
        "renaming additional images is not supported yet",
    ),
];

impl ImageSetConfig {
    /// Reads and parses an ImageSetConfiguration file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io("read imageset config", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses YAML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default();
            let first = first
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(first);
            bad(path, first.trim_start_matches("error: ").to_string())
        })?;
        Reader { path, text }.config(raw)
    }
}

fn bad(path: &Path, reason: String) -> Error {
    Error::ImageSetConfig {
        path: path.to_path_buf(),
        reason,
        hint: Box::new(Hint::ImageSetConfigFormat),
    }
}

/// Turns the raw file into an [`ImageSetConfig`], refusing what is not implemented.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Reader<'_> {
    fn at<T>(&self, s: &Spanned<T>, reason: String) -> Error {
        bad(self.path, format!("line {}: {reason}", s.referenced.line()))
    }

    /// Refuses `field` (a path in the file) when it asks for something.
    fn not_yet(&self, field: &Field, path: &str) -> Result<(), Error> {
        let Some(v) = field else { return Ok(()) };
        if asks_nothing(&v.value) {
            return Ok(());
        }
        let last = path.rsplit('.').next().unwrap_or(path);
        let line = key_line(self.text, v.referenced.line() as usize, last);
        let why = NOT_YET
            .iter()
            .find(|(k, _)| *k == last)
            .map_or("it is not supported yet", |(_, w)| w);
        Err(Error::ImageSetConfig {
            path: self.path.to_path_buf(),
            reason: format!("line {line}: `{path}` is not supported yet: {why}"),
            hint: Box::new(Hint::NotSupportedYet {
                field: path.to_string(),
            }),
        })
    }

    fn config(&self, raw: RawConfig) -> Result<ImageSetConfig, Error> {
        match &raw.api_version {
            None => {
                return Err(bad(
                    self.path,
                    format!("`apiVersion` is missing: expected `{IMAGESET_API_VERSION}`"),
                ));
            }
            Some(v) if v.value == "mirror.openshift.io/v1alpha2" => {
                return Err(self.at(v, format!("`apiVersion: {}` is oc-mirror v1's format; mirrorctl reads `{IMAGESET_API_VERSION}` (oc-mirror v2): drop `storageConfig` and set the apiVersion", v.value)));
            }
            Some(v) if v.value != IMAGESET_API_VERSION => {
                return Err(self.at(
                    v,
                    format!(
                        "`apiVersion: {}` is not supported: expected `{IMAGESET_API_VERSION}`",
                        v.value
                    ),
                ));
            }
            Some(_) => {}
        }
        match &raw.kind {
            None => {
                return Err(bad(
                    self.path,
                    format!("`kind` is missing: expected `{IMAGESET_KIND}`"),
                ));
            }
            Some(k) if k.value != IMAGESET_KIND => {
                return Err(self.at(
                    k,
                    format!(
                        "`kind: {}` is not supported: expected `{IMAGESET_KIND}`",
                        k.value
                    ),
                ));
            }
            Some(_) => {}
        }
        if let Some(d) = &raw.delete {
            return Err(self.at(
                d,
                format!("`delete` is not allowed in an `{IMAGESET_KIND}`"),
            ));
        }
        let archive_size_gib = match &raw.archive_size {
            Some(s) if s.value < 0 => {
                return Err(self.at(
                    s,
                    format!(
                        "`archiveSize` is {}: give a size in GiB, at least 1",
                        s.value
                    ),
                ));
            }
            Some(s) if s.value == 0 => None,
            Some(s) => Some(s.value as u64),
            None => None,
        };
        let Some(mirror) = raw.mirror else {
            return Err(bad(self.path, "the `mirror` stanza is missing".into()));
        };
        let mirror_line = mirror.referenced;
        let m = mirror.value;
        self.not_yet(&m.operators, "mirror.operators")?;
        self.not_yet(&m.helm, "mirror.helm")?;
        self.not_yet(&m.blocked_images, "mirror.blockedImages")?;
        self.not_yet(&m.samples, "mirror.samples")?;
        let mut out = ImageSetConfig {
            archive_size_gib,
            ..ImageSetConfig::default()
        };
        if let Some(p) = m.platform {
            self.platform(p, &mut out)?;
        }
        for (i, img) in m.additional_images.into_iter().enumerate() {
            out.additional_images.push(self.image(img, i)?);
        }
        if out.channels.is_empty() && out.release.is_none() && out.additional_images.is_empty() {
            return Err(bad(
                self.path,
                format!(
                    "line {}: `mirror` asks for nothing: give `platform.channels`, `platform.release` or `additionalImages`",
                    mirror_line.line()
                ),
            ));
        }
        Ok(out)
    }

    fn platform(&self, p: RawPlatform, out: &mut ImageSetConfig) -> Result<(), Error> {
        self.not_yet(&p.graph, "mirror.platform.graph")?;
        self.not_yet(&p.architectures, "mirror.platform.architectures")?;
        self.not_yet(&p.platforms, "mirror.platform.platforms")?;
        self.not_yet(&p.kube_virt_container, "mirror.platform.kubeVirtContainer")?;
        for (i, ch) in p.channels.into_iter().enumerate() {
            let req = self.channel(&ch, i)?;
            if out.channels.iter().any(|c| c.name == req.name) {
                return Err(self.at(
                    &ch.name,
                    format!(
                        "`mirror.platform.channels[{i}]`: channel `{}` is listed twice",
                        req.name
                    ),
                ));
            }
            out.channels.push(req);
        }
        if let Some(r) = p.release {
            if !out.channels.is_empty() {
                return Err(self.at(&r, "`mirror.platform.release` and `mirror.platform.channels` together: oc-mirror mirrors only the release then and ignores the channels; keep one".into()));
            }
            let image = ImageRef::parse(&r.value)
                .map_err(|e| self.at(&r, format!("`mirror.platform.release`: {e}")))?;
            out.release = Some(image);
        }
        Ok(())
    }

    fn channel(&self, ch: &RawChannel, i: usize) -> Result<ChannelRequest, Error> {
        let field = format!("mirror.platform.channels[{i}]");
        if let Some(t) = &ch.kind {
            match t.value.as_str() {
                "ocp" => {}
                "okd" => {
                    return Err(Error::ImageSetConfig {
                        path: self.path.to_path_buf(),
                        reason: format!(
                            "line {}: `{field}.type: okd` is not supported yet: OKD channels are read from another graph and are not mirrored yet",
                            t.referenced.line()
                        ),
                        hint: Box::new(Hint::NotSupportedYet {
                            field: format!("{field}.type"),
                        }),
                    });
                }
                other => {
                    return Err(self.at(
                        t,
                        format!("`{field}.type: {other}`: the type is `ocp` (or `okd`)"),
                    ));
                }
            }
        }
        let name = ch.name.value.trim().to_string();
        let version = |v: &Option<Spanned<String>>, key: &str, what: &str| {
            v.as_ref()
                .map(|s| {
                    parse_version(&name, what, &s.value)
                        .map_err(|e| self.at(s, format!("`{field}.{key}`: {e}")))
                })
                .transpose()
        };
        let req = ChannelRequest {
            min_version: version(&ch.min_version, "minVersion", "minimum version")?,
            max_version: version(&ch.max_version, "maxVersion", "maximum version")?,
            shortest_path: ch.shortest_path,
            full: ch.full,
            name,
        };
        req.validate()
            .map_err(|e| self.at(&ch.name, format!("`{field}`: {e}")))?;
        Ok(req)
    }

    fn image(&self, img: RawImage, i: usize) -> Result<AdditionalImage, Error> {
        let field = format!("mirror.additionalImages[{i}]");
        self.not_yet(&img.target_repo, &format!("{field}.targetRepo"))?;
        self.not_yet(&img.target_tag, &format!("{field}.targetTag"))?;
        self.not_yet(&img.platforms, &format!("{field}.platforms"))?;
        let image = ImageRef::parse(&img.name.value)
            .map_err(|e| self.at(&img.name, format!("`{field}.name`: {e}")))?;
        Ok(AdditionalImage {
            name: img.name.value,
            image,
        })
    }
}

/// `null`, `false`, `""`, `[]`, `{}` (or a map of such) ask for nothing.
fn asks_nothing(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(asks_nothing),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

/// The line of `key:` holding a value that starts on `value_line` (a block value starts on a
/// later line than its key): the nearest line at or above it that opens with the key.
pub(super) fn key_line(text: &str, value_line: usize, key: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let opens = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    };
    (1..=value_line.min(lines.len()))
        .rev()
        .find(|&n| opens(lines[n - 1]))
        .unwrap_or(value_line)
}
