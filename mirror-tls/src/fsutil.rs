//! Files written atomically, with their final mode from the start.
//!
//! The one implementation in the workspace: `mirror-core` writes its secrets and configuration
//! through these functions too (it depends on this crate; this crate never depends on it).
//! Failures are a [`FileError`] naming the operation and the path, the OS error in its
//! `source()`; each crate turns it into its own error with `?`.

use std::fs::{File, Permissions};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Mode of files holding secrets: private keys, htpasswd, pull secrets.
pub const SECRET_MODE: u32 = 0o600;
/// Mode of files anyone may read: certificates, configuration.
pub const PUBLIC_MODE: u32 = 0o644;

/// A file operation that failed: the operation, the path, and the OS error as `source()`.
#[derive(Debug, thiserror::Error)]
#[error("{action} `{}`", path.display())]
pub struct FileError {
    /// What was being done: `read`, `write`, `create directory`, `sync directory`, `stat`,
    /// `chmod`.
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// A closure turning an OS error on `path` into a [`FileError`].
    pub fn on<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| FileError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, created with
/// `mode` from the start (so a key or a password is never readable by others, even briefly),
/// synced, renamed over `path`, then the directory synced. Readers see the old file or the
/// new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let err = |e| FileError::on("write", path)(e);
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
        .map_err(FileError::on("sync directory", dir))
}

/// Creates `dir` and its parents (mode 0755 before the umask).
pub fn create_dirs(dir: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(dir).map_err(FileError::on("create directory", dir))
}

/// The file's contents, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::on("read", path)(e)),
    }
}

/// Narrows an existing file to `mode` when it grants more (a 0644 key or htpasswd to 0600);
/// true when it changed.
pub fn tighten_mode(path: &Path, mode: u32) -> Result<bool, FileError> {
    let meta = std::fs::metadata(path).map_err(FileError::on("stat", path))?;
    let current = meta.permissions().mode() & 0o777;
    if current & !mode == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, Permissions::from_mode(current & mode))
        .map_err(FileError::on("chmod", path))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_with_the_mode_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_atomic(&path, b"one", SECRET_MODE).unwrap();
        write_atomic(&path, b"two", SECRET_MODE).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (
                std::fs::read(&path).unwrap(),
                meta.permissions().mode() & 0o777
            ),
            (b"two".to_vec(), 0o600)
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("k.pem")]);
    }

    #[test]
    fn tightens_only_wider_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        assert!(tighten_mode(&path, SECRET_MODE).unwrap());
        assert!(!tighten_mode(&path, SECRET_MODE).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn failures_name_the_operation_and_path_and_keep_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/f");
        let e = write_atomic(&missing, b"x", PUBLIC_MODE).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("write `{}`", missing.display()),
            "the cause is in source(), not in the message"
        );
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert!(cause.contains("No such file or directory"), "{cause}");
    }
}
