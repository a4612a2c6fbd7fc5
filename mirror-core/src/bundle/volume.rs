//! Tar volumes: regular files only, each whole in one volume, found again by reading the
//! headers (seeking over the contents), so a reader streams a file from its offset inside the
//! volume without unpacking anything.

use std::fs::File;
use std::io::{BufReader, Read, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::format::{safe_name, volume_name};
use crate::digest::DigestHasher;
use crate::error::Error;
use crate::hint::Hint;

/// A tar block.
const BLOCK: u64 = 512;
/// Copy buffer of the volume writer and of checksum reads.
const BUF: usize = 1 << 20;

/// Where a file's bytes are: a whole file, or a range of a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(crate) file: PathBuf,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

/// One file found in a volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

fn damaged(path: &Path, reason: String) -> Error {
    Error::Bundle {
        path: path.to_path_buf(),
        reason,
        hint: Box::new(Hint::BundleDamaged),
    }
}

/// Bytes a file takes in a volume: its header and its contents padded to a block.
pub(crate) fn entry_cost(size: u64) -> u64 {
    BLOCK + size.div_ceil(BLOCK) * BLOCK
}

/// Bytes of the end-of-archive marker.
pub(crate) const TRAILER: u64 = 2 * BLOCK;

/// Lists the files of volume `path` by reading its headers only. A volume cut short, an
/// entry that is not a regular file, or an unsafe name is an error naming the volume.
pub(crate) fn read_index(path: &Path) -> Result<Vec<Member>, Error> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("stat", path, e))?
        .len();
    let mut archive = tar::Archive::new(BufReader::new(file));
    let entries = archive
        .entries_with_seek()
        .map_err(|e| damaged(path, format!("not a tar volume: {e}")))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| damaged(path, format!("unreadable tar header: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| damaged(path, format!("unreadable name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(damaged(
                path,
                format!("`{name}` is not a regular file; bundles hold only regular files"),
            ));
        }
        if !safe_name(&name) {
            return Err(damaged(path, format!("holds the unsafe name `{name}`")));
        }
        let offset = entry.raw_file_position();
        let size = entry.size();
        if offset + size > len {
            return Err(damaged(
                path,
                format!(
                    "cut short: `{name}` ends at byte {} but the volume has {len} bytes",
                    offset + size
                ),
            ));
        }
        out.push(Member { name, offset, size });
    }
    // The tar reader takes an early end of file for the end of the archive: a whole volume
    // ends with its trailer after the last member.
    let end = out
        .last()
        .map_or(0, |m| m.offset + m.size.div_ceil(BLOCK) * BLOCK);
    if len < end + TRAILER {
        return Err(damaged(
            path,
            format!(
                "cut short: {len} bytes, its files and end marker need {}",
                end + TRAILER
            ),
        ));
    }
    Ok(out)
}

/// What the hasher thread hashes, in volume order.
enum Piece {
    /// Bytes the writer wrote itself (a header, padding, the end marker).
    Bytes(Vec<u8>),
    /// `size` bytes of a file the kernel copied into the volume: read again here, from the
    /// page cache as a rule.
    File(PathBuf, u64),
}

/// The volume's sha256 on a thread of its own: the writer copies file contents in the kernel
/// (`copy_file_range`, through `std::io::copy`) while this thread reads and hashes them, so
/// hashing overlaps the disk write instead of adding to it.
struct BackgroundHasher {
    tx: Option<std::sync::mpsc::Sender<Piece>>,
    thread: Option<std::thread::JoinHandle<Result<DigestHasher, Error>>>,
}

impl BackgroundHasher {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Piece>();
        let thread = std::thread::spawn(move || {
            let mut h = DigestHasher::new();
            let mut buf = vec![0; BUF];
            for piece in rx {
                match piece {
                    Piece::Bytes(b) => h.update(&b),
                    Piece::File(path, size) => {
                        let mut f = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
                        let mut left = size;
                        while left > 0 {
                            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                            let n = f
                                .read(&mut buf[..want])
                                .map_err(|e| Error::io("read", &path, e))?;
                            if n == 0 {
                                return Err(short(&path, left, size));
                            }
                            h.update(&buf[..n]);
                            left -= n as u64;
                        }
                    }
                }
            }
            Ok(h)
        });
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// A hasher with no thread (what a finished writer keeps).
    fn idle() -> Self {
        Self {
            tx: None,
            thread: None,
        }
    }

    fn feed(&self, p: Piece) {
        if let Some(tx) = &self.tx {
            // The thread ends early only on an error, which `finish` reports.
            let _ = tx.send(p);
        }
    }

    fn finish(mut self) -> Result<DigestHasher, Error> {
        drop(self.tx.take());
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(Error::io(
                "hash",
                "volume",
                std::io::Error::other("the hashing thread panicked"),
            )),
        }
    }
}

fn short(path: &Path, left: u64, size: u64) -> Error {
    Error::io(
        "read",
        path,
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{left} bytes short of the {size} expected"),
        ),
    )
}

/// A volume being written: a temporary file renamed into place when complete.
pub(crate) struct VolumeWriter {
    tmp: PathBuf,
    file: File,
    hasher: BackgroundHasher,
    written: u64,
    members: Vec<Member>,
    mtime: u64,
}

impl VolumeWriter {
    /// Starts volume `tmp` (its final name is chosen by [`Self::finish`]).
    pub(crate) fn create(tmp: PathBuf) -> Result<Self, Error> {
        let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Self {
            tmp,
            file,
            hasher: BackgroundHasher::new(),
            written: 0,
            members: Vec::new(),
            mtime,
        })
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// True when nothing has been added.
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Writes `b` and hands it to the hasher.
    fn put(&mut self, b: Vec<u8>) -> Result<(), Error> {
        self.file
            .write_all(&b)
            .map_err(|e| Error::io("write", &self.tmp, e))?;
        self.written += b.len() as u64;
        self.hasher.feed(Piece::Bytes(b));
        Ok(())
    }

    /// Appends file `src` as `name` (its whole contents, `size` bytes).
    pub(crate) fn add(&mut self, name: &str, src: &Path, size: u64) -> Result<(), Error> {
        let mut h = tar::Header::new_gnu();
        h.set_path(name)
            .map_err(|e| Error::io("name a tar entry", src, e))?;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(self.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        self.put(h.as_bytes().to_vec())?;
        let offset = self.written;
        let f = File::open(src).map_err(|e| Error::io("open", src, e))?;
        let copied = std::io::copy(&mut f.take(size), &mut self.file)
            .map_err(|e| Error::io("copy into", &self.tmp, e))?;
        if copied < size {
            return Err(short(src, size - copied, size));
        }
        self.written += size;
        self.hasher.feed(Piece::File(src.to_path_buf(), size));
        let pad = (BLOCK - size % BLOCK) % BLOCK;
        self.put(vec![0; pad as usize])?;
        self.members.push(Member {
            name: name.to_string(),
            offset,
            size,
        });
        Ok(())
    }

    /// Ends the volume, syncs it and renames it to `dir/<volume_name(n)>`; returns its name,
    /// size, sha256 and members.
    pub(crate) fn finish(
        mut self,
        dir: &Path,
        n: usize,
    ) -> Result<(String, u64, String, Vec<Member>), Error> {
        self.put(vec![0; TRAILER as usize])?;
        // The sync and the hashing overlap; the volume gets its name only after both.
        let hasher = std::mem::replace(&mut self.hasher, BackgroundHasher::idle());
        self.file
            .sync_all()
            .map_err(|e| Error::io("sync", &self.tmp, e))?;
        let sha = hasher.finish()?.finish().hex().to_string();
        let name = volume_name(n);
        let dest = dir.join(&name);
        std::fs::rename(&self.tmp, &dest).map_err(|e| Error::io("rename", &self.tmp, e))?;
        sync_dir(dir)?;
        Ok((name, self.written, sha, self.members))
    }
}

/// fsync a directory, so renames into it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// sha256 (hex) of a whole file, read in 1 MiB blocks.
pub(crate) fn file_sha256(path: &Path) -> Result<(u64, String), Error> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut h = DigestHasher::new();
    let mut buf = vec![0; BUF];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, h.finish().hex().to_string()))
}

/// sha256 (hex) of `size` bytes of `loc`, read in 1 MiB blocks; `None` when fewer bytes are
/// there.
pub(crate) fn range_sha256(loc: &Loc) -> Result<Option<String>, Error> {
    let mut f = File::open(&loc.file).map_err(|e| Error::io("open", &loc.file, e))?;
    f.seek(SeekFrom::Start(loc.offset))
        .map_err(|e| Error::io("seek", &loc.file, e))?;
    let mut h = DigestHasher::new();
    let mut buf = vec![0; BUF];
    let mut left = loc.size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f
            .read(&mut buf[..want])
            .map_err(|e| Error::io("read", &loc.file, e))?;
        if n == 0 {
            return Ok(None);
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(h.finish().hex().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_volumes_are_read_back_at_their_offsets_and_by_gnu_tar() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"hello").unwrap();
        std::fs::write(&b, vec![7u8; 1300]).unwrap();
        let mut w = VolumeWriter::create(dir.path().join("v.partial")).unwrap();
        w.add("blobs/sha256/aa", &a, 5).unwrap();
        w.add("refs/0001/index.json", &b, 1300).unwrap();
        assert_eq!(w.written(), entry_cost(5) + entry_cost(1300));
        let (name, size, sha, members) = w.finish(dir.path(), 1).unwrap();
        let path = dir.path().join(&name);
        assert_eq!(name, "mirrorctl-bundle-000001.tar");
        assert_eq!(
            size,
            entry_cost(5) + entry_cost(1300) + TRAILER,
            "headers, padded contents, trailer"
        );
        assert_eq!(file_sha256(&path).unwrap(), (size, sha));
        let found = read_index(&path).unwrap();
        assert_eq!(found, members);
        let loc = Loc {
            file: path.clone(),
            offset: found[0].offset,
            size: 5,
        };
        assert_eq!(
            range_sha256(&loc).unwrap().unwrap(),
            crate::Digest::of(b"hello").hex()
        );
        // GNU tar reads it (when installed: it is on every Debian and RHEL host).
        if let Ok(out) = std::process::Command::new("tar")
            .arg("tf")
            .arg(&path)
            .output()
        {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "blobs/sha256/aa\nrefs/0001/index.json\n"
            );
        }
        // Cut short: the index says so, naming the volume.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(900).unwrap();
        let e = read_index(&path).unwrap_err().to_string();
        assert!(e.contains("cut short") || e.contains("unreadable"), "{e}");
        assert!(e.contains("mirrorctl-bundle-000001.tar"), "{e}");
    }
}
