//! Packing a bundle directory's loose files into numbered tar volumes of at most a given
//! size: a file never spans volumes, a file bigger than the size gets a volume of its own.
//! Each volume is written under a temporary name, synced and renamed; only then are the
//! files it holds removed, so an interrupted packing loses nothing and a rerun continues
//! with the next volume number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::format::{
    BLOBS, CHECKSUM_FILE, INDEX, METADATA_FILE, OCI_LAYOUT, REFS, TMP_DIR, VolumeEntry,
    volume_number,
};
use super::store::Store;
use super::volume::{Member, TRAILER, VolumeWriter, entry_cost, file_sha256};
use crate::error::Error;

/// The smallest volume size accepted.
pub const MIN_ARCHIVE_SIZE: u64 = 1 << 20;

/// The loose files of a bundle directory that belong in volumes, in packing order: blobs
/// (by name), then `refs/`, `index.json` and `oci-layout` (so the layout's own files land in
/// the last volume); with their sizes.
pub(crate) fn loose_files(root: &Path) -> Result<Vec<(String, u64)>, Error> {
    let mut blobs = Vec::new();
    let mut refs = Vec::new();
    walk(root, root, &mut |rel, size| {
        if rel.starts_with(&format!("{BLOBS}/")) {
            blobs.push((rel, size));
        } else if rel.starts_with(&format!("{REFS}/")) {
            refs.push((rel, size));
        }
    })?;
    blobs.sort();
    refs.sort();
    let mut out = blobs;
    out.extend(refs);
    for name in [INDEX, OCI_LAYOUT] {
        if let Ok(m) = std::fs::metadata(root.join(name))
            && m.is_file()
        {
            out.push((name.to_string(), m.len()));
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(String, u64)) -> Result<(), Error> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::io("read directory", dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if dir == root
            && (name == TMP_DIR
                || name == METADATA_FILE
                || name == CHECKSUM_FILE
                || volume_number(&name).is_some())
        {
            continue;
        }
        let path = e.path();
        let ft = e.file_type().map_err(|e| Error::io("stat", &path, e))?;
        if ft.is_dir() {
            walk(root, &path, f)?;
        } else if ft.is_file() {
            let size = e.metadata().map_err(|e| Error::io("stat", &path, e))?.len();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            f(rel, size);
        }
    }
    Ok(())
}

/// Packs the loose files of `store`'s directory into volumes of at most `max` bytes, after
/// the volumes already there. Files already in a volume (an interrupted packing) are only
/// removed. Returns every volume, old and new, with size and sha256 (`known` supplies those
/// of volumes an earlier run recorded); `warn` is told of each file bigger than `max`.
pub(crate) fn pack(
    store: &mut Store,
    max: u64,
    known: &[VolumeEntry],
    warn: &mut dyn FnMut(String),
) -> Result<Vec<VolumeEntry>, Error> {
    let root = store.root().to_path_buf();
    let tmp_dir = root.join(TMP_DIR);
    mirror_tls::fsutil::create_dirs(&tmp_dir)?;
    let mut next = store
        .volumes()
        .iter()
        .filter_map(|v| volume_number(v))
        .max()
        .unwrap_or(0)
        + 1;
    let mut sums: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut todo = Vec::new();
    for (rel, size) in loose_files(&root)? {
        if store.is_packed(&rel) && same_as_packed(store, &rel)? {
            remove(&root.join(&rel))?;
        } else {
            todo.push((rel, size));
        }
    }
    // A full volume is closed on a thread of its own (synced, its hash finished, renamed, its
    // loose files removed) while the next one is written; all are joined, in order, before
    // this returns.
    let mut closing: Vec<Closing> = Vec::new();
    let mut writer: Option<(VolumeWriter, Vec<String>)> = None;
    // Temporary names are their own sequence: a volume gets its number when it is closed.
    let mut made = 0usize;
    let mut new_writer = || -> Result<(VolumeWriter, Vec<String>), Error> {
        made += 1;
        Ok((
            VolumeWriter::create(tmp_dir.join(format!("volume-{made}.partial")))?,
            Vec::new(),
        ))
    };
    for (rel, size) in todo {
        let cost = entry_cost(size);
        if cost + TRAILER > max {
            // Alone in a volume of its own; the volume being filled stays open.
            warn(format!(
                "`{rel}` ({}) is bigger than the volume size ({}): it gets a volume of its own, bigger than the others",
                crate::size::format_size(size),
                crate::size::format_size(max)
            ));
            let (mut w, mut files) = new_writer()?;
            w.add(&rel, &root.join(&rel), size)?;
            files.push(rel);
            closing.push(close(&root, w, files, next));
            next += 1;
            continue;
        }
        if let Some((w, _)) = &writer
            && w.written() + cost + TRAILER > max
        {
            let (w, files) = writer.take().expect("checked above");
            closing.push(close(&root, w, files, next));
            next += 1;
        }
        let (w, files) = match &mut writer {
            Some(w) => w,
            None => writer.insert(new_writer()?),
        };
        w.add(&rel, &root.join(&rel), size)?;
        files.push(rel);
    }
    if let Some((w, files)) = writer.take()
        && !w.is_empty()
    {
        closing.push(close(&root, w, files, next));
    }
    join_volumes(store, &root, closing, &mut sums)?;
    remove_empty_dirs(&root.join("blobs"))?;
    remove_empty_dirs(&root.join(REFS))?;
    volume_entries(store, &root, known, &sums)
}

/// Waits for every volume being closed, in order, and records what each holds; the first
/// failure is returned after all have ended.
fn join_volumes(
    store: &mut Store,
    root: &Path,
    closing: Vec<Closing>,
    sums: &mut BTreeMap<String, (u64, String)>,
) -> Result<(), Error> {
    let mut first_err = None;
    for c in closing {
        let done = c.join().unwrap_or_else(|_| {
            Err(Error::io(
                "pack",
                root,
                std::io::Error::other("a volume thread panicked"),
            ))
        });
        match done {
            Ok((name, size, sha, members)) => {
                for m in &members {
                    store.note_packed(&m.name, &name, m.offset, m.size);
                }
                store.note_volume(&name);
                sums.insert(name, (size, sha));
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(())
}

/// Every volume of the bundle with its size and sha256: those just written from `sums`,
/// earlier ones from `known` (the metadata), others hashed again.
fn volume_entries(
    store: &Store,
    root: &Path,
    known: &[VolumeEntry],
    sums: &BTreeMap<String, (u64, String)>,
) -> Result<Vec<VolumeEntry>, Error> {
    let mut out = Vec::new();
    for name in store.volumes() {
        let (size, sha256) = match sums.get(name) {
            Some(s) => s.clone(),
            None => match known.iter().find(|k| &k.name == name) {
                Some(k) => (k.size, k.sha256.clone()),
                None => file_sha256(&root.join(name))?,
            },
        };
        out.push(VolumeEntry {
            name: name.clone(),
            size,
            sha256,
        });
    }
    Ok(out)
}

/// A volume being closed: its name, size, sha256 and members once done.
type Closing = std::thread::JoinHandle<Result<(String, u64, String, Vec<Member>), Error>>;

/// Ends volume `n` on a thread: synced, hashed, renamed into place, and only then its files'
/// loose copies removed.
fn close(root: &Path, w: VolumeWriter, files: Vec<String>, n: usize) -> Closing {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let done = w.finish(&root, n)?;
        for f in &files {
            remove(&root.join(f))?;
        }
        Ok(done)
    })
}

/// A loose file already in a volume: blobs are named by their content; the layout's own
/// files are compared byte for byte.
fn same_as_packed(store: &Store, rel: &str) -> Result<bool, Error> {
    if rel.starts_with(&format!("{BLOBS}/")) {
        return Ok(true);
    }
    let loose = std::fs::read(store.root().join(rel))
        .map_err(|e| Error::io("read", store.root().join(rel), e))?;
    let Some(loc) = store.locate_packed(rel) else {
        return Ok(false);
    };
    let packed = super::store::read_loc_sync(&loc)?;
    Ok(packed == loose)
}

fn remove(p: &PathBuf) -> Result<(), Error> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", p, e)),
    }
}

/// Removes `dir` and the directories under it when they hold no file.
fn remove_empty_dirs(dir: &Path) -> Result<(), Error> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_empty_dirs(&e.path())?;
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::format::blob_path;
    use crate::digest::Digest;

    fn loose(dir: &Path, n: usize) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for i in 0..n {
            let data = vec![i as u8; 200 << 10];
            let rel = blob_path(&Digest::of(&data));
            std::fs::create_dir_all(dir.join(BLOBS)).unwrap();
            std::fs::write(dir.join(&rel), &data).unwrap();
            out.push((rel, data));
        }
        std::fs::write(dir.join(INDEX), b"{}").unwrap();
        std::fs::write(dir.join(OCI_LAYOUT), b"{}").unwrap();
        out
    }

    #[test]
    fn files_fill_volumes_whole_and_a_repack_only_removes_what_is_packed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = loose(dir.path(), 5);
        let big = vec![9u8; 700 << 10];
        let big_rel = blob_path(&Digest::of(&big));
        std::fs::write(dir.path().join(&big_rel), &big).unwrap();
        let mut store = Store::scan(dir.path()).unwrap();
        let max = 512 << 10;
        let mut warnings = Vec::new();
        let vols = pack(&mut store, max, &[], &mut |w| warnings.push(w)).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(&big_rel));
        // Two 200 KiB blobs per volume, the big one alone, the layout files with the last.
        assert_eq!(vols.len(), 4, "{vols:?}");
        for v in &vols {
            let size = std::fs::metadata(dir.path().join(&v.name)).unwrap().len();
            assert_eq!(size, v.size);
            let members = crate::bundle::volume::read_index(&dir.path().join(&v.name)).unwrap();
            assert!(size <= max || members.len() == 1, "{v:?}");
        }
        assert!(loose_files(dir.path()).unwrap().is_empty());
        assert!(!dir.path().join("blobs").exists());
        for (rel, data) in &blobs {
            let loc = store.locate(rel).unwrap();
            assert_eq!(super::super::store::read_loc_sync(&loc).unwrap(), *data);
        }
        // As if interrupted after the volumes were written but before the files went.
        let (rel, data) = &blobs[0];
        std::fs::create_dir_all(dir.path().join(BLOBS)).unwrap();
        std::fs::write(dir.path().join(rel), data).unwrap();
        std::fs::write(dir.path().join(INDEX), b"{}").unwrap();
        let mut store = Store::scan(dir.path()).unwrap();
        let again = pack(&mut store, max, &vols, &mut |_| {}).unwrap();
        assert_eq!(again, vols);
        assert!(loose_files(dir.path()).unwrap().is_empty());
    }
}
