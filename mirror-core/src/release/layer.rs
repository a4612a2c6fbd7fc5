//! Reading a registry layer without unpacking it: stream it (gzip or plain tar), show each
//! regular file to a visitor, read it to the end and verify its digest.

use std::io::{BufRead as _, Read};

use crate::copy::Source;
use crate::digest::{Digest, DigestHasher};
use crate::error::Error;
use crate::reference::Repository;

/// Streams layer `digest` of `repo` in a blocking task. `visit(state, path, entry, size)` sees
/// every regular file (its path without a leading `./`) and returns `true` to stop looking;
/// the rest of the layer is still read so its digest is verified. One attempt: read errors
/// are connection errors and a wrong digest is a digest mismatch, both transient, so callers
/// retry the whole read.
pub(crate) async fn visit_layer<S, T, F>(
    source: &S,
    repo: &Repository,
    digest: &Digest,
    state: T,
    visit: F,
) -> Result<T, Error>
where
    S: Source,
    T: Send + 'static,
    F: FnMut(&mut T, &str, &mut dyn Read, u64) -> Result<bool, Error> + Send + 'static,
{
    let blob = source.open_blob(repo, digest).await?;
    let reader = tokio_util::io::StreamReader::new(blob.stream);
    let sync = tokio_util::io::SyncIoBridge::new(reader);
    let target = repo.display_ref(digest.as_str());
    let expected = digest.clone();
    let t = target.clone();
    tokio::task::spawn_blocking(move || walk(sync, &expected, &t, state, visit))
        .await
        .map_err(|e| Error::Payload {
            image: target,
            reason: format!("layer reader failed: {e}"),
        })?
}

struct Hashing<R> {
    inner: R,
    hasher: DigestHasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// An I/O error while reading a layer: the bytes come from the network.
pub(crate) fn read_error(target: &str, e: std::io::Error) -> Error {
    Error::Connection {
        op: "read layer",
        target: target.to_string(),
        tries: 1,
        detail: e.to_string(),
        cert: None,
    }
}

fn walk<T, F>(
    raw: impl Read,
    expected: &Digest,
    target: &str,
    mut state: T,
    mut visit: F,
) -> Result<T, Error>
where
    F: FnMut(&mut T, &str, &mut dyn Read, u64) -> Result<bool, Error>,
{
    let io = |e| read_error(target, e);
    let mut hashing = Hashing {
        inner: raw,
        hasher: DigestHasher::new(),
    };
    {
        let mut buf = std::io::BufReader::with_capacity(256 << 10, &mut hashing);
        let gz = buf.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        {
            let reader: Box<dyn Read + '_> = if gz {
                Box::new(flate2::bufread::MultiGzDecoder::new(&mut buf))
            } else {
                Box::new(&mut buf)
            };
            let mut archive = tar::Archive::new(reader);
            for entry in archive.entries().map_err(io)? {
                let mut entry = entry.map_err(io)?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    continue;
                }
                let path = entry
                    .path()
                    .map_err(io)?
                    .to_string_lossy()
                    .trim_start_matches("./")
                    .to_string();
                let size = entry.size();
                if visit(&mut state, &path, &mut entry, size)? {
                    break;
                }
            }
        }
        // Read what the tar reader left (padding, gzip trailer) so the digest covers it all.
        std::io::copy(&mut buf, &mut std::io::sink()).map_err(io)?;
    }
    std::io::copy(&mut hashing.inner, &mut std::io::sink()).map_err(io)?;
    let actual = hashing.hasher.finish();
    if &actual != expected {
        return Err(Error::DigestMismatch {
            target: target.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
            tries: 1,
        });
    }
    Ok(state)
}
