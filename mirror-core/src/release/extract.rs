//! `release extract --command openshift-install`: the installer binary from the release's
//! `installer` component, pinned to the release (the markers are in docs/release-payload.md).
//!
//! The file is taken from the component's layers, top first, regular files only, by its exact
//! path (nothing else in the layer is written anywhere), size-capped, and streamed to disk
//! while three placeholder markers are overwritten in place: the file length never changes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::payload::{Release, read_release};
use crate::digest::Digest;
use crate::error::Error;
use crate::manifest::{ManifestKind, parse_kind};
use crate::reference::{ImageRef, Repository};
use crate::registry::RegistryClient;
use crate::registry::retrying;

/// Largest `openshift-install` accepted (real ones are ~500 MiB).
const MAX_BINARY: u64 = 2 << 30;
const INSTALLER_PATH: &str = "usr/bin/openshift-install";

/// A placeholder the installer carries: `\0<name>\0` + `xs` times `X` + `\0`.
#[derive(Clone, Debug)]
struct Marker {
    name: &'static str,
    pattern: Vec<u8>,
    value: Vec<u8>,
    found: bool,
}

impl Marker {
    fn new(name: &'static str, xs: usize, value: &str) -> Result<Self, String> {
        let mut pattern = vec![0u8];
        pattern.extend_from_slice(name.as_bytes());
        pattern.push(0);
        pattern.extend(std::iter::repeat_n(b'X', xs));
        pattern.push(0);
        let max = pattern.len() - 1;
        if value.len() > max {
            return Err(format!(
                "the {} value has {} bytes, but the maximum replacement length is {max}",
                name.trim_matches('_')
                    .to_ascii_lowercase()
                    .replace('_', " "),
                value.len()
            ));
        }
        Ok(Self {
            name,
            pattern,
            value: value.as_bytes().to_vec(),
            found: false,
        })
    }
}

/// Streams bytes to `out`, replacing the first occurrence of each marker with its value
/// followed by a NUL (the rest of the marker is kept), across any chunk boundaries.
struct Patcher<W: Write> {
    out: W,
    markers: Vec<Marker>,
    carry: Vec<u8>,
    keep: usize,
}

impl<W: Write> Patcher<W> {
    fn new(out: W, markers: Vec<Marker>) -> Self {
        let keep = markers.iter().map(|m| m.pattern.len()).max().unwrap_or(1) - 1;
        Self {
            out,
            markers,
            carry: Vec::new(),
            keep,
        }
    }

    fn patch(&mut self) {
        for m in self.markers.iter_mut().filter(|m| !m.found) {
            if let Some(pos) = memchr::memmem::find(&self.carry, &m.pattern) {
                let end = pos + m.value.len();
                self.carry[pos..end].copy_from_slice(&m.value);
                self.carry[end] = 0;
                m.found = true;
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.carry.extend_from_slice(data);
        self.patch();
        if self.carry.len() > self.keep {
            let flush = self.carry.len() - self.keep;
            self.out.write_all(&self.carry[..flush])?;
            self.carry.drain(..flush);
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<(W, Vec<&'static str>)> {
        self.patch();
        self.out.write_all(&self.carry)?;
        let mut missing: Vec<&'static str> = self
            .markers
            .iter()
            .filter(|m| !m.found)
            .map(|m| m.name)
            .collect();
        missing.sort();
        Ok((self.out, missing))
    }
}

/// What [`extract_installer`] did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExtractReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// The pinned release pull spec, `<repo>@sha256:...`.
    pub release_image: String,
    /// The pinned version.
    pub version: String,
    /// The pinned architecture, `linux/<arch>`.
    pub architecture: String,
    /// The installer image it came from.
    pub source_image: String,
    /// Markers not found (older installers lack some): warn, not fail.
    pub missing_markers: Vec<String>,
}

/// Go architecture for a release tag architecture.
fn go_arch(tag_arch: &str) -> &str {
    match tag_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Extracts `openshift-install` from the release `from` into `dir`, pinned to it.
///
/// The installer image is read from the release's own repository first (where a mirror keeps
/// every component, by digest), then from where image-references points (the upstream).
///
/// ```no_run
/// # async fn demo() -> Result<(), mirror_core::Error> {
/// use mirror_core::{ClientOptions, ImageRef, RegistryClient};
/// let client = RegistryClient::new(ClientOptions::default())?;
/// let mirrored = ImageRef::parse("mirror.example.com:5000/ocp4/openshift4:4.14.1-x86_64")?;
/// let report = mirror_core::extract_installer(&client, &mirrored, "./bin".as_ref()).await?;
/// println!("{} pinned to {}", report.path.display(), report.release_image);
/// # Ok(()) }
/// ```
pub async fn extract_installer(
    client: &RegistryClient,
    from: &ImageRef,
    dir: &Path,
) -> Result<ExtractReport, Error> {
    let release = read_release(client, from, &client.options().retry).await?;
    let payload_err = |reason: String| Error::Payload {
        image: from.to_string(),
        reason,
    };
    let installer = release
        .components
        .iter()
        .find(|c| c.name == "installer")
        .ok_or_else(|| {
            payload_err(
                "the image \"installer\" containing the desired command is not available".into(),
            )
        })?;
    let arch = if release.architecture == "multi" {
        "amd64".to_string()
    } else {
        go_arch(&release.architecture).to_string()
    };
    let pinned_arch = if release.architecture == "multi" {
        format!("multi (linux/{arch})")
    } else {
        format!("linux/{arch}")
    };
    let pull_spec = format!("{}@{}", release.image.repo, release.digest);
    let markers = vec![
        Marker::new("_RELEASE_IMAGE_LOCATION_", 300, &pull_spec).map_err(payload_err)?,
        Marker::new("_RELEASE_VERSION_LOCATION_", 64, &release_version(&release))
            .map_err(payload_err)?,
        Marker::new("_RELEASE_ARCHITECTURE_LOCATION_", 64, &pinned_arch).map_err(payload_err)?,
    ];
    // Where to read the installer from: the release's repository (a mirror), then upstream.
    let mut candidates = vec![release.image.repo.clone()];
    if installer.image.repo != release.image.repo {
        candidates.push(installer.image.repo.clone());
    }
    let mut last_err = None;
    let mut layers = None;
    for repo in &candidates {
        match installer_layers(client, repo, &installer.digest, &arch).await {
            Ok(l) => {
                layers = Some((repo.clone(), l));
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let Some((repo, layers)) = layers else {
        return Err(last_err.unwrap_or_else(|| payload_err("no installer image".into())));
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let dest = dir.join("openshift-install");
    for layer in layers.iter().rev() {
        let (tmp, _, outcome) = extract_from_layer(client, &repo, layer, dir, &markers).await?;
        let Some((size, missing)) = outcome else {
            continue;
        };
        let file = tmp.as_file();
        file.sync_all().map_err(|e| Error::io("write", &dest, e))?;
        set_mode(file, 0o755).map_err(|e| Error::io("set the mode of", &dest, e))?;
        tmp.persist(&dest)
            .map_err(|e| Error::io("write", &dest, e.error))?;
        return Ok(ExtractReport {
            path: dest,
            size,
            release_image: pull_spec,
            version: release_version(&release),
            architecture: pinned_arch,
            source_image: repo.display_ref(installer.digest.as_str()),
            missing_markers: missing.into_iter().map(str::to_string).collect(),
        });
    }
    Err(payload_err(format!(
        "image did not contain {INSTALLER_PATH}"
    )))
}

/// Reads one layer of the installer image into a temporary file in `dir`, patching the
/// markers, when it holds the installer: one streamed operation, retried as a whole into a
/// fresh file.
async fn extract_from_layer(
    client: &RegistryClient,
    repo: &Repository,
    layer: &Digest,
    dir: &Path,
    markers: &[Marker],
) -> Result<ExtractState, Error> {
    let target = repo.display_ref(layer.as_str());
    retrying(
        &client.options().retry,
        client.options().on_retry.as_ref(),
        "read layer",
        &target,
        || async {
            let tmp = tempfile::Builder::new()
                .prefix(".openshift-install.")
                .tempfile_in(dir)
                .map_err(|e| Error::io("create a temporary file in", dir, e))?;
            let target = target.clone();
            let state = (tmp, markers.to_vec(), None);
            super::layer::visit_layer(
                client,
                repo,
                layer,
                state,
                move |state: &mut ExtractState, path, entry, size| {
                    if path != INSTALLER_PATH {
                        return Ok(false);
                    }
                    if size > MAX_BINARY {
                        return Err(Error::Payload {
                            image: target.clone(),
                            reason: format!(
                                "`{path}` is {size} bytes, over the {MAX_BINARY}-byte limit"
                            ),
                        });
                    }
                    let markers = std::mem::take(&mut state.1);
                    state.2 = Some(copy_patched(entry, state.0.as_file(), markers, &target)?);
                    Ok(true)
                },
            )
            .await
        },
    )
    .await
}

fn release_version(r: &Release) -> String {
    r.metadata
        .as_ref()
        .map(|m| m.version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| r.version.clone())
}

#[cfg(unix)]
fn set_mode(f: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// The layer digests of the installer image for `linux/<arch>`.
async fn installer_layers(
    client: &RegistryClient,
    repo: &Repository,
    digest: &Digest,
    arch: &str,
) -> Result<Vec<Digest>, Error> {
    let m = client
        .get_manifest(repo, digest.as_str())
        .await?
        .ok_or_else(|| Error::Registry {
            op: "get manifest",
            target: repo.display_ref(digest.as_str()),
            status: 404,
            code: Some("MANIFEST_UNKNOWN".into()),
            message: Some("the installer image is not there".into()),
            tries: 1,
            auth_entry: None,
            retry_after: None,
        })?;
    let kind = parse_kind(&m.media_type, &m.bytes).map_err(|reason| Error::Manifest {
        target: repo.display_ref(digest.as_str()),
        reason,
    })?;
    match kind {
        ManifestKind::Image { layers, .. } => Ok(layers.into_iter().map(|l| l.digest).collect()),
        ManifestKind::List { children } => {
            let want = format!("linux/{arch}");
            let child = children
                .iter()
                .find(|c| c.platform.as_deref() == Some(want.as_str()))
                .ok_or_else(|| Error::Manifest {
                    target: repo.display_ref(digest.as_str()),
                    reason: format!("the installer has no `{want}` image"),
                })?;
            Box::pin(installer_layers(client, repo, &child.digest, arch)).await
        }
    }
}

type ExtractState = (
    tempfile::NamedTempFile,
    Vec<Marker>,
    Option<(u64, Vec<&'static str>)>,
);

/// Copies the installer to `out`, patching the markers; returns its size and the markers
/// not found.
fn copy_patched(
    entry: &mut dyn Read,
    out: &std::fs::File,
    markers: Vec<Marker>,
    target: &str,
) -> Result<(u64, Vec<&'static str>), Error> {
    let mut patcher = Patcher::new(std::io::BufWriter::with_capacity(1 << 20, out), markers);
    let mut chunk = vec![0u8; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = entry
            .read(&mut chunk)
            .map_err(|e| super::layer::read_error(target, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        patcher
            .write(&chunk[..n])
            .map_err(|e| Error::io("write", target, e))?;
    }
    let (mut w, missing) = patcher
        .finish()
        .map_err(|e| Error::io("write", target, e))?;
    w.flush().map_err(|e| Error::io("write", target, e))?;
    Ok((size, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(name: &str, xs: usize) -> Vec<u8> {
        let mut v = vec![0u8];
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        v.extend(std::iter::repeat_n(b'X', xs));
        v.push(0);
        v
    }

    fn patch_in_chunks(
        input: &[u8],
        chunk: usize,
        markers: Vec<Marker>,
    ) -> (Vec<u8>, Vec<&'static str>) {
        let mut p = Patcher::new(Vec::new(), markers);
        for c in input.chunks(chunk) {
            p.write(c).unwrap();
        }
        p.finish().unwrap()
    }

    #[test]
    fn patches_across_every_chunk_boundary() {
        let mut input = b"head".to_vec();
        input.extend(marker("_RELEASE_IMAGE_LOCATION_", 300));
        input.extend_from_slice(b"middle");
        input.extend(marker("_RELEASE_VERSION_LOCATION_", 64));
        input.extend_from_slice(b"tail");
        let ms = || {
            vec![
                Marker::new(
                    "_RELEASE_IMAGE_LOCATION_",
                    300,
                    "m:5000/ocp4/openshift4@sha256:abc",
                )
                .unwrap(),
                Marker::new("_RELEASE_VERSION_LOCATION_", 64, "4.14.1").unwrap(),
                Marker::new("_RELEASE_ARCHITECTURE_LOCATION_", 64, "linux/amd64").unwrap(),
            ]
        };
        let (want, missing) = patch_in_chunks(&input, input.len(), ms());
        assert_eq!(missing, vec!["_RELEASE_ARCHITECTURE_LOCATION_"]);
        assert_eq!(want.len(), input.len(), "length never changes");
        assert_eq!(&want[4..38], b"m:5000/ocp4/openshift4@sha256:abc\0");
        assert_eq!(
            &want[38..4 + 327],
            &input[38..4 + 327],
            "the rest of the marker is kept"
        );
        let v = 4 + 327 + 6;
        assert_eq!(&want[v..v + 7], b"4.14.1\0");
        for chunk in [1, 2, 7, 64, 326, 327, 328, 1000] {
            assert_eq!(
                patch_in_chunks(&input, chunk, ms()).0,
                want,
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn only_the_first_occurrence_and_too_long_values() {
        let mut input = marker("_RELEASE_VERSION_LOCATION_", 64);
        input.extend(marker("_RELEASE_VERSION_LOCATION_", 64));
        let (out, _) = patch_in_chunks(
            &input,
            10,
            vec![Marker::new("_RELEASE_VERSION_LOCATION_", 64, "4.5.9").unwrap()],
        );
        assert_eq!(&out[..6], b"4.5.9\0");
        assert_eq!(&out[93..], &input[93..]);
        assert_eq!(
            Marker::new("_RELEASE_VERSION_LOCATION_", 64, &"9".repeat(93)).unwrap_err(),
            "the release version location value has 93 bytes, but the maximum replacement length is 92"
        );
        assert!(Marker::new("_RELEASE_VERSION_LOCATION_", 64, &"9".repeat(92)).is_ok());
    }
}
