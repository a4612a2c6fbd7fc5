//! The registry image carried onto a disconnected host as an archive: `podman save`
//! (docker-archive, its default, or `--format oci-archive`) or `skopeo copy docker://...
//! docker-archive:FILE:NAME`, optionally gzip-compressed. Read here for the image ID the
//! registry then runs by, and loaded with `podman load -i`.
//!
//! The image ID is the digest of the image's config: the same on the connected side (`podman
//! inspect --format '{{.Id}}' IMAGE`, or the `config.digest` of its manifest) as after `podman
//! load`, because neither saving nor loading rewrites the config. Running `sha256:<id>` makes
//! podman use exactly the image that was carried, and never pull (libimage looks a
//! `sha256:`-prefixed name up in local storage only).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::host;
use crate::digest::Digest;
use crate::error::Error;

/// Entries larger than this are layers, never the metadata read here.
const MAX_METADATA: u64 = 4 << 20;

/// One image in an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveImage {
    /// The image ID: the digest of its config (`sha256:<hex>`).
    pub id: Digest,
    /// The names it is saved under (`docker.io/library/registry:2`); podman tags it so.
    pub names: Vec<String>,
}

impl ArchiveImage {
    /// What podman is told to run: `sha256:<hex>`, found in local storage only.
    pub fn reference(&self) -> String {
        self.id.as_str().to_string()
    }
}

/// What `registry up` did with an image archive ([`UpReport::image_archive`](crate::runtime::UpReport::image_archive)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedImage {
    /// The archive.
    pub archive: PathBuf,
    /// The image in it that runs.
    pub image: ArchiveImage,
    /// False when podman held the image already and nothing was loaded.
    pub loaded: bool,
}

/// Reads the images in a docker-archive or oci-archive tar (plain or gzip), without loading
/// anything. An archive that holds no image, or whose config does not match its name, is an
/// [`Error::ImageArchive`].
pub fn read_image_archive(path: &Path) -> Result<Vec<ArchiveImage>, Error> {
    let bad = |reason: String| Error::ImageArchive {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open it: {e}")))?;
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(|e| Error::io("read", path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let stream: Box<dyn std::io::Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let small = small_entries(stream).map_err(|e| bad(format!("not a readable tar file: {e}")))?;
    let images = if let Some(manifest) = small.get("manifest.json") {
        docker_archive(manifest, &small).map_err(bad)?
    } else if let Some(index) = small.get("index.json") {
        oci_archive(index, &small).map_err(bad)?
    } else {
        return Err(bad(
            "neither a docker-archive (manifest.json) nor an oci-archive (index.json)".into(),
        ));
    };
    if images.is_empty() {
        return Err(bad("it holds no image".into()));
    }
    Ok(images)
}

/// The content of every entry up to [`MAX_METADATA`] bytes, by normalized path.
fn small_entries(stream: impl std::io::Read) -> std::io::Result<HashMap<String, Vec<u8>>> {
    let mut out = HashMap::new();
    let mut archive = tar::Archive::new(stream);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if !entry.header().entry_type().is_file() || entry.size() > MAX_METADATA {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./").to_string();
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes)?;
        out.insert(name, bytes);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct DockerArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
}

/// docker-archive: `manifest.json` lists each image's config file and tags.
fn docker_archive(
    manifest: &[u8],
    files: &HashMap<String, Vec<u8>>,
) -> Result<Vec<ArchiveImage>, String> {
    let entries: Vec<DockerArchiveEntry> = serde_json::from_slice(manifest)
        .map_err(|e| format!("manifest.json is not a docker-archive manifest: {e}"))?;
    entries
        .into_iter()
        .map(|e| {
            let config = files
                .get(e.config.trim_start_matches("./"))
                .ok_or_else(|| format!("manifest.json names `{}`, which is missing", e.config))?;
            let id = Digest::of(config);
            // skopeo and podman name the config `<hex>.json`: it must be what it says.
            let stem = e.config.trim_end_matches(".json");
            if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && stem != id.hex() {
                return Err(format!(
                    "`{}` does not hash to its name (it is {id}): the archive is damaged",
                    e.config
                ));
            }
            Ok(ArchiveImage {
                id,
                names: e.repo_tags.unwrap_or_default(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct OciIndex {
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
}

/// oci-archive: `index.json` points at manifests, which point at configs, all under
/// `blobs/sha256/`.
fn oci_archive(
    index: &[u8],
    files: &HashMap<String, Vec<u8>>,
) -> Result<Vec<ArchiveImage>, String> {
    let blob = |digest: &str| -> Result<&Vec<u8>, String> {
        let d = Digest::parse(digest).map_err(|e| e.to_string())?;
        let bytes = files
            .get(&format!("blobs/sha256/{}", d.hex()))
            .ok_or_else(|| format!("blob `{digest}` is missing"))?;
        if Digest::of(bytes) != d {
            return Err(format!(
                "blob `{digest}` does not hash to its name: the archive is damaged"
            ));
        }
        Ok(bytes)
    };
    let index: OciIndex = serde_json::from_slice(index)
        .map_err(|e| format!("index.json is not an OCI index: {e}"))?;
    index
        .manifests
        .iter()
        .map(|m| {
            let manifest: OciManifest = serde_json::from_slice(blob(&m.digest)?).map_err(|e| {
                format!(
                    "`{}` is not an image manifest (an image index is not supported): {e}",
                    m.digest
                )
            })?;
            blob(&manifest.config.digest)?;
            Ok(ArchiveImage {
                id: Digest::parse(&manifest.config.digest).map_err(|e| e.to_string())?,
                names: m
                    .annotations
                    .get("org.opencontainers.image.ref.name")
                    .cloned()
                    .into_iter()
                    .collect(),
            })
        })
        .collect()
}

/// The archive `run` names and the image in it to run (read, not loaded); `None` without one.
/// An archive with the process runtime is an [`Error::InvalidSetting`].
pub(crate) fn carried_image(
    run: &super::RunOptions,
) -> Result<Option<(&Path, ArchiveImage)>, Error> {
    let Some(path) = run.image_archive.as_deref() else {
        return Ok(None);
    };
    if run.runtime == super::RuntimeChoice::Process {
        return Err(Error::InvalidSetting {
            name: "image-archive".into(),
            reason: "an image archive is run by podman; the process runtime runs a distribution binary of this host".into(),
        });
    }
    let images = read_image_archive(path)?;
    Ok(Some((path, pick(path, &images, &run.image)?.clone())))
}

/// The image of `images` to run: the only one, else the one saved as `name`.
pub(crate) fn pick<'a>(
    path: &Path,
    images: &'a [ArchiveImage],
    name: &str,
) -> Result<&'a ArchiveImage, Error> {
    if let [only] = images {
        return Ok(only);
    }
    images
        .iter()
        .find(|i| i.names.iter().any(|n| n == name))
        .ok_or_else(|| Error::ImageArchive {
            path: path.to_path_buf(),
            reason: format!(
                "it holds {} images and none is named `{name}` (it holds {}): name the one to run",
                images.len(),
                images
                    .iter()
                    .map(|i| match i.names.first() {
                        Some(n) => format!("`{n}`"),
                        None => format!("`{}`", i.id),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// Makes `image` (read from `archive`) present in podman's storage: nothing when it is there
/// already, else `podman load -i ARCHIVE`, after which the image ID must be present.
pub(crate) fn load_image_archive(
    podman: &Path,
    archive: &Path,
    image: &ArchiveImage,
) -> Result<LoadedImage, Error> {
    let reference = image.reference();
    let present = || host::run(podman, &["image", "exists", &reference]).is_ok();
    let done = |loaded| LoadedImage {
        archive: archive.to_path_buf(),
        image: image.clone(),
        loaded,
    };
    if present() {
        return Ok(done(false));
    }
    let path = archive.display().to_string();
    host::run(podman, &["load", "-i", &path])?;
    if !present() {
        return Err(Error::ImageArchive {
            path: archive.to_path_buf(),
            reason: format!("`podman load` did not add image {reference} to podman's storage"),
        });
    }
    Ok(done(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])], gzip: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *bytes).unwrap();
        }
        let raw = b.into_inner().unwrap();
        if !gzip {
            return raw;
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap()
    }

    fn read(bytes: &[u8]) -> Result<Vec<ArchiveImage>, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, bytes).unwrap();
        read_image_archive(&p).map_err(|e| {
            let msg = e.to_string();
            msg.split_once(": ")
                .map(|(_, r)| r.to_string())
                .unwrap_or(msg)
        })
    }

    #[test]
    fn docker_and_oci_archives_give_the_config_digest() {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let id = Digest::of(config);
        let cfg_name = format!("{}.json", id.hex());
        let manifest = format!(
            r#"[{{"Config":"{cfg_name}","RepoTags":["docker.io/library/registry:2"],"Layers":["l.tar"]}}]"#
        );
        for gzip in [false, true] {
            let t = tar_of(
                &[
                    (cfg_name.as_str(), config),
                    ("l.tar", b"layer"),
                    ("manifest.json", manifest.as_bytes()),
                ],
                gzip,
            );
            assert_eq!(
                read(&t).unwrap(),
                vec![ArchiveImage {
                    id: id.clone(),
                    names: vec!["docker.io/library/registry:2".into()]
                }],
                "gzip {gzip}"
            );
        }

        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{id}","size":{}}},"layers":[]}}"#,
            config.len()
        );
        let md = Digest::of(m.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"registry:2"}}}}]}}"#,
            m.len()
        );
        let t = tar_of(
            &[
                ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
                ("index.json", index.as_bytes()),
                (&format!("blobs/sha256/{}", md.hex()), m.as_bytes()),
                (&format!("blobs/sha256/{}", id.hex()), config),
            ],
            false,
        );
        assert_eq!(
            read(&t).unwrap(),
            vec![ArchiveImage {
                id,
                names: vec!["registry:2".into()]
            }]
        );
    }

    #[test]
    fn broken_archives_are_refused_with_the_reason() {
        let config = b"{}";
        let wrong = format!("{}.json", "0".repeat(64));
        for (files, want) in [
            (
                vec![("x", &b"y"[..])],
                "neither a docker-archive (manifest.json) nor an oci-archive (index.json)",
            ),
            (vec![("manifest.json", &b"[]"[..])], "it holds no image"),
            (
                vec![("manifest.json", &b"{"[..])],
                "manifest.json is not a docker-archive manifest: invalid type: map, expected a sequence at line 1 column 0",
            ),
            (
                vec![("manifest.json", &br#"[{"Config":"c.json"}]"#[..])],
                "manifest.json names `c.json`, which is missing",
            ),
        ] {
            let t = tar_of(&files, false);
            assert_eq!(read(&t).unwrap_err(), want);
        }
        let manifest = format!(r#"[{{"Config":"{wrong}"}}]"#);
        let t = tar_of(
            &[
                (wrong.as_str(), config),
                ("manifest.json", manifest.as_bytes()),
            ],
            false,
        );
        assert!(read(&t).unwrap_err().ends_with("the archive is damaged"));
        assert!(
            read(b"not a tar at all, just some text that is long enough")
                .unwrap_err()
                .starts_with("not a readable tar file")
        );
    }

    #[test]
    fn several_images_need_a_name() {
        let a = ArchiveImage {
            id: Digest::of(b"a"),
            names: vec!["docker.io/library/registry:2".into()],
        };
        let b = ArchiveImage {
            id: Digest::of(b"b"),
            names: vec![],
        };
        let p = Path::new("/x.tar");
        let both = [a.clone(), b.clone()];
        assert_eq!(pick(p, &both, "docker.io/library/registry:2").unwrap(), &a);
        assert_eq!(pick(p, std::slice::from_ref(&b), "anything").unwrap(), &b);
        let err = pick(p, &both, "quay.io/x:1").unwrap_err().to_string();
        assert!(
            err.contains("it holds 2 images and none is named `quay.io/x:1` (it holds `docker.io/library/registry:2`, `sha256:"),
            "{err}"
        );
    }
}
