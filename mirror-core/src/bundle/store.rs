//! Where a bundle's files are: loose in its directory, or inside its volumes. Both readers
//! (publishing) and the writer (a rerun, a resumed packing) find files through this one map.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::format::{blob_path, volume_number};
use super::volume::{Loc, read_index};
use crate::digest::Digest;
use crate::error::Error;
use crate::registry::BlobStream;

/// The files of a bundle directory and of the volumes in it.
#[derive(Debug, Default)]
pub(crate) struct Store {
    root: PathBuf,
    packed: BTreeMap<String, Loc>,
    /// Volume file names, in order.
    volumes: Vec<String>,
}

impl Store {
    /// The bundle at `root` with the files of `volumes` (names in `root`, each must exist).
    pub(crate) fn open(root: &Path, volumes: &[String]) -> Result<Self, Error> {
        let mut s = Self {
            root: root.to_path_buf(),
            ..Default::default()
        };
        for v in volumes {
            s.add_volume(v)?;
        }
        Ok(s)
    }

    /// The bundle at `root` with every volume found in it (a writer resuming its packing).
    pub(crate) fn scan(root: &Path) -> Result<Self, Error> {
        let mut names: Vec<(usize, String)> = match std::fs::read_dir(root) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    volume_number(&name).map(|n| (n, name))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("read directory", root, e)),
        };
        names.sort();
        let names: Vec<String> = names.into_iter().map(|(_, n)| n).collect();
        Self::open(root, &names)
    }

    /// Indexes volume `name` of the bundle directory.
    pub(crate) fn add_volume(&mut self, name: &str) -> Result<(), Error> {
        let path = self.root.join(name);
        for m in read_index(&path)? {
            self.packed.insert(
                m.name,
                Loc {
                    file: path.clone(),
                    offset: m.offset,
                    size: m.size,
                },
            );
        }
        self.volumes.push(name.to_string());
        Ok(())
    }

    /// Records that `name` is now in volume `volume` at `offset`.
    pub(crate) fn note_packed(&mut self, name: &str, volume: &str, offset: u64, size: u64) {
        self.packed.insert(
            name.to_string(),
            Loc {
                file: self.root.join(volume),
                offset,
                size,
            },
        );
    }

    /// Notes a volume written by this run.
    pub(crate) fn note_volume(&mut self, name: &str) {
        self.volumes.push(name.to_string());
    }

    /// The bundle directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The volumes, in order.
    pub(crate) fn volumes(&self) -> &[String] {
        &self.volumes
    }

    /// True when `rel` is in a volume.
    pub(crate) fn is_packed(&self, rel: &str) -> bool {
        self.packed.contains_key(rel)
    }

    /// Where `rel` is inside a volume.
    pub(crate) fn locate_packed(&self, rel: &str) -> Option<Loc> {
        self.packed.get(rel).cloned()
    }

    /// Where `rel` is: a loose file first, else a volume.
    pub(crate) fn locate(&self, rel: &str) -> Option<Loc> {
        let path = self.root.join(rel);
        if let Ok(m) = std::fs::metadata(&path)
            && m.is_file()
        {
            return Some(Loc {
                file: path,
                offset: 0,
                size: m.len(),
            });
        }
        self.packed.get(rel).cloned()
    }

    /// Where blob `d` is.
    pub(crate) fn locate_blob(&self, d: &Digest) -> Option<Loc> {
        self.locate(&blob_path(d))
    }

    /// The whole of `rel` (at most `max` bytes), `None` when absent.
    pub(crate) async fn read(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(loc) = self.locate(rel) else {
            return Ok(None);
        };
        if loc.size > max {
            return Err(Error::Bundle {
                path: loc.file,
                reason: format!(
                    "`{rel}` has {} bytes, more than the {max} allowed",
                    loc.size
                ),
                hint: Box::new(crate::hint::Hint::BundleDamaged),
            });
        }
        read_loc(&loc).await.map(Some)
    }

    /// [`Self::read`] without the async runtime (small files: `index.json`).
    pub(crate) fn read_sync(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>, Error> {
        let Some(loc) = self.locate(rel) else {
            return Ok(None);
        };
        if loc.size > max {
            return Err(Error::Bundle {
                path: loc.file,
                reason: format!(
                    "`{rel}` has {} bytes, more than the {max} allowed",
                    loc.size
                ),
                hint: Box::new(crate::hint::Hint::BundleDamaged),
            });
        }
        read_loc_sync(&loc).map(Some)
    }

    /// Blob `d` read whole and verified (at most `max` bytes).
    pub(crate) async fn read_blob(&self, d: &Digest, max: u64) -> Result<Option<Bytes>, Error> {
        let rel = blob_path(d);
        let Some(bytes) = self.read(&rel, max).await? else {
            return Ok(None);
        };
        let actual = Digest::of(&bytes);
        if &actual != d {
            let loc = self.locate(&rel).map(|l| l.file).unwrap_or_default();
            return Err(Error::Bundle {
                path: loc,
                reason: format!("`{rel}` holds bytes that hash to `{actual}`, not `{d}`"),
                hint: Box::new(crate::hint::Hint::BundleDamaged),
            });
        }
        Ok(Some(Bytes::from(bytes)))
    }
}

/// Reads `loc` whole, without the async runtime.
pub(crate) fn read_loc_sync(loc: &Loc) -> Result<Vec<u8>, Error> {
    use std::io::{Read as _, Seek as _};
    let mut f = std::fs::File::open(&loc.file).map_err(|e| Error::io("open", &loc.file, e))?;
    f.seek(SeekFrom::Start(loc.offset))
        .map_err(|e| Error::io("seek", &loc.file, e))?;
    let mut buf = Vec::new();
    f.take(loc.size)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("read", &loc.file, e))?;
    if (buf.len() as u64) < loc.size {
        return Err(cut_short(loc, buf.len()));
    }
    Ok(buf)
}

fn cut_short(loc: &Loc, got: usize) -> Error {
    Error::Bundle {
        path: loc.file.clone(),
        reason: format!(
            "cut short: {got} of {} bytes at offset {}",
            loc.size, loc.offset
        ),
        hint: Box::new(crate::hint::Hint::BundleDamaged),
    }
}

/// Reads `loc` whole.
pub(crate) async fn read_loc(loc: &Loc) -> Result<Vec<u8>, Error> {
    let mut f = tokio::fs::File::open(&loc.file)
        .await
        .map_err(|e| Error::io("open", &loc.file, e))?;
    f.seek(SeekFrom::Start(loc.offset))
        .await
        .map_err(|e| Error::io("seek", &loc.file, e))?;
    let mut buf = Vec::with_capacity(usize::try_from(loc.size).unwrap_or(0));
    f.take(loc.size)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| Error::io("read", &loc.file, e))?;
    if (buf.len() as u64) < loc.size {
        return Err(cut_short(loc, buf.len()));
    }
    Ok(buf)
}

/// Streams `loc`'s bytes (256 KiB reads); the reader checks length and digest.
pub(crate) async fn stream_loc(loc: &Loc) -> Result<BlobStream, Error> {
    let mut f = tokio::fs::File::open(&loc.file)
        .await
        .map_err(|e| Error::io("open", &loc.file, e))?;
    f.seek(SeekFrom::Start(loc.offset))
        .await
        .map_err(|e| Error::io("seek", &loc.file, e))?;
    let reader = tokio_util::io::ReaderStream::with_capacity(f.take(loc.size), 256 << 10);
    Ok(BlobStream {
        size: Some(loc.size),
        stream: Box::pin(reader.map(|r| r.map_err(std::io::Error::other))),
    })
}
