//! [`BundleSink`]: the copy engine's [`Sink`] for a bundle directory.
//!
//! Images are keyed by repository path and tag, as in a registry; every manifest and blob is
//! a file `blobs/sha256/<hex>`. A blob is streamed into a temporary file under
//! `.mirrorctl-tmp/`, its length and digest checked, synced, then renamed into place: a file
//! under its final name is always whole and right, so a killed run leaves nothing corrupt
//! and a rerun skips what is there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncWriteExt as _;

use super::format::{BLOBS, INDEX, OciIndex, REF_NAME, TMP_DIR, blob_path};
use super::store::Store;
use crate::copy::{Mounted, RepoState, Sink};
use crate::digest::Digest;
use crate::error::Error;
use crate::hint::Hint;
use crate::manifest::{MAX_MANIFEST_BYTES, media_type_of};
use crate::reference::Repository;
use crate::registry::RawManifest;
use crate::verify::{VerifyError, VerifyingStream};

/// Write buffer of a blob file.
const WRITE_BUF: usize = 1 << 20;

/// Writes images into a bundle directory (see the module docs).
#[derive(Debug)]
pub struct BundleSink {
    store: Store,
    tmp: PathBuf,
    state: Mutex<State>,
    base: BTreeSet<Digest>,
    read_only: bool,
    /// Bytes the plan will write, learned when it is known (see [`Self::plan_bytes`]).
    planned: Arc<AtomicU64>,
    /// Bytes to keep free beyond the plan (the volumes being packed).
    reserve: u64,
    space: OnceLock<Result<(), (u64, u64)>>,
    _lock: Option<std::fs::File>,
}

#[derive(Debug, Default)]
struct State {
    /// Repository path -> tag -> digest.
    tags: BTreeMap<String, BTreeMap<String, Digest>>,
    /// Manifest digest -> media type.
    media: BTreeMap<Digest, String>,
}

impl BundleSink {
    /// Opens the bundle directory `dir` for writing: creates it, takes an exclusive lock on
    /// it (one writer at a time), clears what an interrupted run left half-written, and
    /// learns the tags of a bundle written before. Blobs in `base` (an earlier bundle's) are
    /// reported as present and never written.
    pub fn create(dir: &Path, base: BTreeSet<Digest>) -> Result<Self, Error> {
        let tmp = dir.join(TMP_DIR);
        mirror_tls::fsutil::create_dirs(&tmp)?;
        mirror_tls::fsutil::create_dirs(&dir.join(BLOBS))?;
        let lock = std::fs::File::open(dir).map_err(|e| Error::io("open", dir, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| Error::Bundle {
                path: dir.to_path_buf(),
                reason: "another mirrorctl is writing this bundle".into(),
                hint: Box::new(Hint::Run {
                    advice: "wait for it to finish, or stop it, then run this again".into(),
                }),
            },
        )?;
        for e in std::fs::read_dir(&tmp)
            .map_err(|e| Error::io("read directory", &tmp, e))?
            .flatten()
        {
            let p = e.path();
            std::fs::remove_file(&p).map_err(|e| Error::io("remove", &p, e))?;
        }
        let mut sink = Self::open(dir, base)?;
        sink.read_only = false;
        sink._lock = Some(lock);
        Ok(sink)
    }

    /// The bundle at `dir` as a sink that only reads (a dry run): nothing is created, and any
    /// write fails.
    pub fn open(dir: &Path, base: BTreeSet<Digest>) -> Result<Self, Error> {
        let store = Store::scan(dir)?;
        let mut state = State::default();
        if let Some(bytes) = store.read_sync(INDEX, 64 << 20)? {
            let index: OciIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Bundle {
                path: dir.join(INDEX),
                reason: format!("does not parse: {e}"),
                hint: Box::new(Hint::BundleDamaged),
            })?;
            for d in index.manifests {
                state.media.insert(d.digest.clone(), d.media_type.clone());
                if let Some((path, tag)) =
                    d.annotations.get(REF_NAME).and_then(|r| r.rsplit_once(':'))
                {
                    state
                        .tags
                        .entry(path.to_string())
                        .or_default()
                        .insert(tag.to_string(), d.digest);
                }
            }
        }
        Ok(Self {
            store,
            tmp: dir.join(TMP_DIR),
            state: Mutex::new(state),
            base,
            read_only: true,
            planned: Arc::default(),
            reserve: 0,
            space: OnceLock::new(),
            _lock: None,
        })
    }

    /// Keeps up to `bytes` free beyond the plan's own bytes when checking space (the volume
    /// being packed: at most the volume size, at most the plan's bytes again).
    pub fn reserve(mut self, bytes: u64) -> Self {
        self.reserve = bytes;
        self
    }

    /// Tells the sink how many bytes the copy will write: the first write checks that the
    /// filesystem has them free (plus the reserve), before anything is written.
    pub fn plan_bytes(&self, bytes: u64) {
        self.planned.store(bytes, Ordering::Relaxed);
    }

    /// The counter [`Self::plan_bytes`] sets, for a progress listener that learns the plan.
    pub(crate) fn planned_counter(&self) -> Arc<AtomicU64> {
        self.planned.clone()
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        self.store.root()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The store, and the lock on the directory (held until dropped).
    pub(crate) fn into_parts(self) -> (Store, Option<std::fs::File>) {
        (self.store, self._lock)
    }

    /// The media type of manifest `d`, when this sink wrote or read it.
    pub(crate) fn media_type(&self, d: &Digest) -> Option<String> {
        self.lock().media.get(d).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails before the first write when the plan does not fit in the free space.
    fn ensure_space(&self) -> Result<(), Error> {
        if self.read_only {
            return Err(Error::InvalidSetting {
                name: "dry-run".into(),
                reason: "a dry run writes nothing".into(),
            });
        }
        let root = self.store.root();
        let r = self.space.get_or_init(|| {
            let planned = self.planned.load(Ordering::Relaxed);
            let needed = planned + self.reserve.min(planned);
            match free_space(root) {
                Some(free) if free < needed => Err((needed, free)),
                _ => Ok(()),
            }
        });
        r.map_err(|(needed, free)| no_space(root, needed, free))
    }

    fn temp_name(&self, what: &str) -> PathBuf {
        let n: u64 = rand::random();
        self.tmp.join(format!("{what}.{n:016x}.partial"))
    }

    /// Writes `bytes` as `rel` atomically (temporary file, sync, rename).
    pub(crate) fn write_file(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        write_atomic_in(&self.temp_name("file"), &self.store.root().join(rel), bytes)
    }
}

/// Writes `bytes` to `tmp`, syncs it and renames it to `dest` (parents created).
pub(crate) fn write_atomic_in(tmp: &Path, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    if let Some(parent) = dest.parent() {
        mirror_tls::fsutil::create_dirs(parent)?;
    }
    let result = (|| {
        let mut f = std::fs::File::create(tmp).map_err(|e| Error::io("create", tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io("write", tmp, e))?;
        f.sync_all().map_err(|e| Error::io("sync", tmp, e))?;
        std::fs::rename(tmp, dest).map_err(|e| Error::io("rename", tmp, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Free bytes on the filesystem of `dir` (or of its nearest existing parent).
pub(crate) fn free_space(dir: &Path) -> Option<u64> {
    let mut d = dir;
    loop {
        if d.exists() {
            break;
        }
        d = d.parent()?;
    }
    let d = if d.as_os_str().is_empty() {
        Path::new(".")
    } else {
        d
    };
    rustix::fs::statvfs(d)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

pub(crate) fn no_space(dir: &Path, needed: u64, free: u64) -> Error {
    Error::Bundle {
        path: dir.to_path_buf(),
        reason: format!(
            "not enough free space: {} needed, {} free",
            crate::size::format_size(needed),
            crate::size::format_size(free)
        ),
        hint: Box::new(Hint::BundleNoSpace { needed, free }),
    }
}

fn is_no_space(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(28)
}

impl Sink for BundleSink {
    type Session = ();

    async fn repo_state(&self, repo: &Repository) -> RepoState {
        // Never `Missing`: an interrupted run leaves manifests that no tag names yet.
        RepoState::Tags(
            self.lock()
                .tags
                .get(&repo.path)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default(),
        )
    }

    async fn manifest_digest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Digest>, Error> {
        if let Ok(d) = Digest::parse(reference) {
            return Ok(self.store.locate_blob(&d).map(|_| d));
        }
        Ok(self
            .lock()
            .tags
            .get(&repo.path)
            .and_then(|t| t.get(reference))
            .cloned())
    }

    async fn manifest(
        &self,
        _repo: &Repository,
        digest: &Digest,
    ) -> Result<Option<RawManifest>, Error> {
        let Some(bytes) = self
            .store
            .read_blob(digest, MAX_MANIFEST_BYTES as u64)
            .await?
        else {
            return Ok(None);
        };
        let media_type = match self.media_type(digest) {
            Some(m) => m,
            None => media_type_of(None, &bytes).map_err(|reason| Error::Manifest {
                target: blob_path(digest),
                reason,
            })?,
        };
        Ok(Some(RawManifest {
            bytes,
            media_type,
            digest: digest.clone(),
        }))
    }

    async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Digest, Error> {
        let digest = Digest::of(&bytes);
        if let Ok(want) = Digest::parse(reference)
            && want != digest
        {
            return Err(Error::DigestMismatch {
                target: repo.display_ref(reference),
                expected: want.to_string(),
                actual: digest.to_string(),
                tries: 1,
            });
        }
        if self.store.locate_blob(&digest).is_none() {
            self.ensure_space()?;
            let dest = self.store.root().join(blob_path(&digest));
            let tmp = self.temp_name(digest.hex());
            tokio::task::spawn_blocking(move || write_atomic_in(&tmp, &dest, &bytes))
                .await
                .map_err(|e| Error::io("write", self.dir(), std::io::Error::other(e)))??;
        }
        let mut st = self.lock();
        st.media.insert(digest.clone(), media_type.to_string());
        if Digest::parse(reference).is_err() {
            st.tags
                .entry(repo.path.clone())
                .or_default()
                .insert(reference.to_string(), digest.clone());
        }
        Ok(digest)
    }

    async fn has_blob(&self, _repo: &Repository, digest: &Digest) -> Result<bool, Error> {
        Ok(self.base.contains(digest) || self.store.locate_blob(digest).is_some())
    }

    async fn put_blob<S>(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        _session: Option<()>,
        body: S,
    ) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        if self.store.locate_blob(digest).is_some() {
            return Ok(());
        }
        self.ensure_space()?;
        let target = repo.display_ref(digest.as_str());
        let tmp = self.temp_name(digest.hex());
        let dest = self.store.root().join(blob_path(digest));
        let result = write_blob(&tmp, &dest, digest, size, body, &target).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn discard(&self, _repo: &Repository, _session: ()) {}

    async fn mount(
        &self,
        _repo: &Repository,
        _digest: &Digest,
        _from: &str,
    ) -> Result<Mounted<()>, Error> {
        Ok(Mounted::No(None))
    }
}

/// Streams `body` into `tmp`, checking its length and digest, syncs and renames it to `dest`.
async fn write_blob<S>(
    tmp: &Path,
    dest: &Path,
    digest: &Digest,
    size: u64,
    body: S,
    target: &str,
) -> Result<(), Error>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let write_err = |e: std::io::Error| {
        if is_no_space(&e) {
            let free = free_space(tmp).unwrap_or(0);
            no_space(tmp.parent().unwrap_or(tmp), size, free)
        } else {
            Error::io("write", tmp, e)
        }
    };
    let file = tokio::fs::File::create(tmp).await.map_err(write_err)?;
    let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUF, file);
    let mut body = VerifyingStream::new(Box::pin(body), digest.clone(), size);
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(b) => out.write_all(&b).await.map_err(write_err)?,
            Err(e) => {
                return Err(match VerifyError::find(&e) {
                    Some(v) => v.clone().into_error(target.to_string()),
                    // The source's stream broke: worth another attempt.
                    None => Error::Connection {
                        op: "copy blob",
                        target: target.to_string(),
                        tries: 1,
                        detail: crate::registry::error_chain(&e),
                        cert: None,
                    },
                });
            }
        }
    }
    out.flush().await.map_err(write_err)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(write_err)?;
    drop(file);
    tokio::fs::rename(tmp, dest)
        .await
        .map_err(|e| Error::io("rename", tmp, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_plan_bigger_than_the_free_space_is_refused_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let sink = BundleSink::create(dir.path(), BTreeSet::new()).unwrap();
        let free = free_space(dir.path()).unwrap();
        sink.plan_bytes(free + (1 << 30));
        let repo = crate::bundle::bundle_repository();
        let e = sink
            .put_manifest(&repo, "t", Bytes::from_static(b"{}"), "x")
            .await
            .unwrap_err();
        assert!(
            matches!(e.hint(), Some(Hint::BundleNoSpace { needed, .. }) if needed == free + (1 << 30)),
            "{e}"
        );
        assert!(e.to_string().contains("not enough free space"), "{e}");
        assert!(names(&dir.path().join(BLOBS)).is_empty());
    }

    #[tokio::test]
    async fn a_blob_that_does_not_match_leaves_nothing_and_a_good_one_is_renamed_in() {
        let dir = tempfile::tempdir().unwrap();
        let sink = BundleSink::create(dir.path(), BTreeSet::new()).unwrap();
        let repo = crate::bundle::bundle_repository();
        let good = Digest::of(b"hello world");
        let body = |b: &'static [u8]| {
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from_static(b))])
        };
        let e = sink
            .put_blob(&repo, &good, 11, None, body(b"hello wurld"))
            .await
            .unwrap_err();
        assert!(e.is_transient(), "a mismatch is worth another attempt: {e}");
        assert!(names(&dir.path().join(BLOBS)).is_empty());
        assert!(names(&dir.path().join(TMP_DIR)).is_empty());
        sink.put_blob(&repo, &good, 11, None, body(b"hello world"))
            .await
            .unwrap();
        assert_eq!(names(&dir.path().join(BLOBS)), vec![good.hex().to_string()]);
        assert!(names(&dir.path().join(TMP_DIR)).is_empty());
        assert!(sink.has_blob(&repo, &good).await.unwrap());
        // A second writer is refused while this one holds the directory.
        let e = BundleSink::create(dir.path(), BTreeSet::new()).unwrap_err();
        assert!(e.to_string().contains("another mirrorctl"), "{e}");
    }
}
