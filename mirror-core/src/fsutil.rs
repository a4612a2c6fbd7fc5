//! Files that hold secrets: written atomically with their final mode from the start.

use std::fs::{File, Permissions};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::error::Error;

/// Mode of files holding secrets (htpasswd, pull secrets).
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode of configuration files without secrets.
pub(crate) const CONFIG_MODE: u32 = 0o644;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory created with
/// `mode` from the start (a secret is never readable by others, even briefly), synced, renamed
/// over `path`, then the directory synced. Readers see the old file or the new one, never a
/// part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let err = |e| Error::io("write", path, e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".mirrorctl-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(err)?;
    // The umask may have cleared bits of `mode` at creation; set it exactly.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))?;
    Ok(())
}

/// Creates `dir` and its parents.
pub(crate) fn create_dirs(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
}

/// The file's contents, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

/// Narrows an existing file to `mode` when it grants more (e.g. a 0644 htpasswd to 0600).
pub(crate) fn tighten_mode(path: &Path, mode: u32) -> Result<bool, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
    let current = meta.permissions().mode() & 0o777;
    if current & !mode == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, Permissions::from_mode(current & mode))
        .map_err(|e| Error::io("chmod", path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_the_mode_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        write_atomic(&path, b"one", SECRET_MODE).unwrap();
        write_atomic(&path, b"two", SECRET_MODE).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (std::fs::read(&path).unwrap(), mode),
            (b"two".to_vec(), 0o600)
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }

    #[test]
    fn tightens_only_wider_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        assert!(tighten_mode(&path, 0o600).unwrap());
        assert!(!tighten_mode(&path, 0o600).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
